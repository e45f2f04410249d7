//! Who gets the lead, and why. In order: the account's owner (configured, or learned from the
//! domain's earlier leads) when available; the first matching rule's owner or team; the
//! fallback team. Within a team, a weighted fair rotation over the owners available now
//! (active, at work by their calendar, not away, under their daily and weekly caps); when
//! nobody is, the team's policy. Every step is written into the trace.
//!
//! Fairness is virtual-time scheduling (WF²Q+): each owner carries a `load` that grows by
//! `1/weight` per lead; of the owners whose turn has come, the one whose next load is lowest
//! gets the lead. An owner who joins or comes back is lifted to the team's virtual time, so
//! their return is neither a burst (catching up on missed leads) nor a drought for the others.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{Config, NoneAvailable, OwnerConfig};

use super::condition;
use super::lead::Lead;

/// A team's rotation as stored: one item, saved with each assignment in the same transaction
/// as the lead, so concurrent routers serialise on it and weights and caps hold exactly.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TeamState {
    /// The start of the latest pick's turn: where joining or returning owners start.
    #[serde(default)]
    pub vtime: f64,
    #[serde(default)]
    pub owners: BTreeMap<String, OwnerState>,
    /// Assignments counted so far: orders "who waited longest" exactly, even within a second.
    #[serde(default)]
    pub seq: u64,
    /// Optimistic-concurrency version (0: never saved).
    #[serde(default)]
    pub version: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OwnerState {
    #[serde(default)]
    pub load: f64,
    #[serde(default)]
    pub assigned: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_assigned_at: Option<DateTime<Utc>>,
    /// The team's `seq` at this owner's latest assignment (0: never).
    #[serde(default)]
    pub last_seq: u64,
    /// The day (in the owner's time zone) `day_count` counts, e.g. "2026-03-02".
    #[serde(default)]
    pub day: String,
    #[serde(default)]
    pub day_count: u32,
    /// The ISO week `week_count` counts, e.g. "2026-W10".
    #[serde(default)]
    pub week: String,
    #[serde(default)]
    pub week_count: u32,
    /// Was not available at the latest assignment (away, off shift, at capacity, inactive):
    /// their next turn starts no earlier than the team's virtual time.
    #[serde(default)]
    pub sitting_out: bool,
    /// Out of office until then (`leadrelay owner away`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub away_until: Option<DateTime<Utc>>,
}

/// Why an owner cannot take a lead now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    Inactive,
    /// Held the lead before and let it lapse (reassignment never goes back).
    HadIt,
    Away {
        until: DateTime<Utc>,
    },
    OffShift {
        opens: DateTime<Utc>,
    },
    AtCapacity {
        period: &'static str,
        count: u32,
        max: u32,
    },
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = |t: &DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
        match self {
            Unavailable::Inactive => write!(f, "inactive"),
            Unavailable::HadIt => write!(f, "already let this lead lapse"),
            Unavailable::Away { until } => write!(f, "away until {}", t(until)),
            Unavailable::OffShift { opens } => write!(f, "off shift until {}", t(opens)),
            Unavailable::AtCapacity { period, count, max } => {
                write!(f, "at capacity ({count}/{max} this {period})")
            }
        }
    }
}

/// An account owner found for the lead's company domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountOwner {
    pub owner_id: String,
    /// "configured account northwind.com" or "learned: ana took a northwind.com lead on …".
    pub why: String,
}

/// What routing needs besides the lead and the configuration.
#[derive(Debug, Clone)]
pub struct Situation<'a> {
    pub now: DateTime<Utc>,
    /// Every team's rotation as stored (missing: a fresh rotation).
    pub states: &'a BTreeMap<String, TeamState>,
    pub account: Option<AccountOwner>,
}

/// The routing decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision<'c> {
    pub team: String,
    pub owner: &'c OwnerConfig,
    /// Every step, in order: the rule, the candidates, who was skipped and why, who was picked.
    pub trace: Vec<String>,
    /// The team's rotation with this assignment counted.
    pub state: TeamState,
    /// Which path gave the owner: the account, a rule, or the fallback team.
    pub via: Via,
}

/// Which path of the routing order gave the lead its owner (the `Via` dimension of the
/// `LeadsRouted` metric).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The owner of the lead's company account (configured or learned).
    Account,
    /// The first matching rule, its owner or its team.
    Rule,
    /// No rule matched, or the rule's team could not take it: the fallback team.
    Fallback,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Account => "account",
            Via::Rule => "rule",
            Via::Fallback => "fallback",
        }
    }
}

impl Decision<'_> {
    /// The whole decision on one line.
    pub fn reason(&self) -> String {
        self.trace.join("; ")
    }
}

/// Nobody could take the lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unroutable {
    pub team: String,
    pub why: String,
}

/// Decides who gets `lead`.
pub fn decide<'c>(
    lead: &Lead,
    config: &'c Config,
    at: &Situation<'_>,
) -> Result<Decision<'c>, Unroutable> {
    let mut trace = Vec::new();
    if !lead.previous_owners.is_empty() {
        trace.push(format!(
            "reassigning; never back to {}",
            lead.previous_owners.join(", ")
        ));
    }
    if let Some(account) = &at.account {
        if let Some(d) = direct(
            lead,
            config,
            at,
            &account.owner_id,
            &account.why,
            Via::Account,
            &mut trace,
        ) {
            return Ok(d);
        }
    }
    let matched = config
        .routing
        .rules
        .iter()
        .find(|r| condition::all(&r.when, lead));
    let fallback = config.routing.fallback_team.as_str();
    let mut via = if matched.is_some() {
        Via::Rule
    } else {
        Via::Fallback
    };
    let mut team = match matched {
        Some(rule) => {
            if let Some(owner) = &rule.owner {
                let why = format!("rule {} matched → owner {owner}", rule.name);
                if let Some(d) = direct(lead, config, at, owner, &why, Via::Rule, &mut trace) {
                    return Ok(d);
                }
                config.team_of(owner).unwrap_or(fallback).to_owned()
            } else {
                let team = rule.team.clone().unwrap_or_else(|| fallback.to_owned());
                trace.push(format!("rule {} matched → team {team}", rule.name));
                team
            }
        }
        None => {
            trace.push(format!("no rule matched → fallback team {fallback}"));
            fallback.to_owned()
        }
    };
    loop {
        match rotate(lead, config, at, &team, via, &mut trace) {
            Some(d) => return Ok(d),
            None if team != fallback => {
                via = Via::Fallback;
                trace.push(format!(
                    "team {team} could not take it → fallback team {fallback}"
                ));
                team = fallback.to_owned();
            }
            None => {
                return Err(Unroutable {
                    team,
                    why: trace.join("; "),
                })
            }
        }
    }
}

/// Straight to one owner (an account's, a rule's), if they are available now.
fn direct<'c>(
    lead: &Lead,
    config: &'c Config,
    at: &Situation<'_>,
    owner_id: &str,
    why: &str,
    via: Via,
    trace: &mut Vec<String>,
) -> Option<Decision<'c>> {
    let team = config.team_of(owner_id)?;
    let owner = config.owner(owner_id)?;
    let state = at.states.get(team).cloned().unwrap_or_default();
    match availability(lead, config, team, owner, &state, at.now, false) {
        Ok(()) => {
            trace.push(format!("{why} → {owner_id}"));
            let mut state = state;
            record(&mut state, config, team, owner, &[], at.now);
            Some(Decision {
                team: team.to_owned(),
                owner,
                trace: std::mem::take(trace),
                state,
                via,
            })
        }
        Err(u) => {
            trace.push(format!("{why}, but {owner_id} is {u} → team {team}"));
            None
        }
    }
}

/// The team's rotation; `None` when the team has nobody who could take it, even later.
fn rotate<'c>(
    lead: &Lead,
    config: &'c Config,
    at: &Situation<'_>,
    team: &str,
    via: Via,
    trace: &mut Vec<String>,
) -> Option<Decision<'c>> {
    let t = config.teams.get(team)?;
    let state = at.states.get(team).cloned().unwrap_or_default();
    let mut available: Vec<&'c OwnerConfig> = Vec::new();
    let mut skipped: Vec<(&'c OwnerConfig, Unavailable)> = Vec::new();
    for o in &t.owners {
        match availability(lead, config, team, o, &state, at.now, true) {
            Ok(()) => available.push(o),
            Err(u) => skipped.push((o, u)),
        }
    }
    if !available.is_empty() || !skipped.is_empty() {
        let names: Vec<String> = available
            .iter()
            .map(|o| {
                let load = state.owners.get(&o.id).map_or(0.0, |s| s.load);
                format!(
                    "{} (weight {}, load {:.2})",
                    o.id,
                    o.weight,
                    load.max(state.vtime)
                )
            })
            .collect();
        trace.push(format!(
            "team {team} candidates: {}",
            if names.is_empty() {
                "none available".to_owned()
            } else {
                names.join(", ")
            }
        ));
    }
    for (o, u) in &skipped {
        trace.push(format!("{} skipped: {u}", o.id));
    }
    let mut in_rotation: &[&OwnerConfig] = &available;
    let picked = if let Some(o) = fairest(lead, &state, &available) {
        trace.push(format!("picked {} (lowest load after this lead)", o.id));
        o
    } else {
        // Nobody available now: the team's policy.
        match t.when_none_available {
            NoneAvailable::FallbackOwner => {
                let o = t
                    .fallback_owner
                    .as_deref()
                    .and_then(|id| config.owner(id))?;
                trace.push(format!(
                    "nobody available now → team's fallback owner {}",
                    o.id
                ));
                o
            }
            NoneAvailable::NextAvailable => {
                let (o, when) = skipped
                    .iter()
                    .filter_map(|(o, u)| match u {
                        Unavailable::Away { until } => {
                            Some((*o, next_open(config, team, o, *until)))
                        }
                        Unavailable::OffShift { opens } => Some((*o, *opens)),
                        _ => None,
                    })
                    .min_by_key(|(o, when)| (*when, o.id.clone()))?;
                trace.push(format!(
                    "nobody available now → {} is available first, at {}",
                    o.id,
                    when.format("%Y-%m-%d %H:%M UTC")
                ));
                o
            }
        }
    };
    if !available.contains(&picked) {
        in_rotation = &[];
    }
    let mut state = state;
    record(&mut state, config, team, picked, in_rotation, at.now);
    Some(Decision {
        team: team.to_owned(),
        owner: picked,
        trace: std::mem::take(trace),
        state,
        via,
    })
}

/// Whether an owner can take a lead now. `rotation`: counted against their caps (an account's
/// or a rule's own owner gets their leads regardless of caps).
fn availability(
    lead: &Lead,
    config: &Config,
    team: &str,
    o: &OwnerConfig,
    state: &TeamState,
    now: DateTime<Utc>,
    rotation: bool,
) -> Result<(), Unavailable> {
    if !o.active {
        return Err(Unavailable::Inactive);
    }
    if lead.previous_owners.contains(&o.id) {
        return Err(Unavailable::HadIt);
    }
    let s = state.owners.get(&o.id);
    if let Some(until) = s.and_then(|s| s.away_until).filter(|u| *u > now) {
        return Err(Unavailable::Away { until });
    }
    if let Some(cal) = config.calendar_for(team, &o.id) {
        let opens = cal.next_open(now);
        if opens > now {
            return Err(Unavailable::OffShift { opens });
        }
    }
    if rotation {
        let (day, week) = periods(config, team, o, now);
        if let (Some(max), Some(s)) = (o.max_per_day, s) {
            if s.day == day && s.day_count >= max {
                return Err(Unavailable::AtCapacity {
                    period: "day",
                    count: s.day_count,
                    max,
                });
            }
        }
        if let (Some(max), Some(s)) = (o.max_per_week, s) {
            if s.week == week && s.week_count >= max {
                return Err(Unavailable::AtCapacity {
                    period: "week",
                    count: s.week_count,
                    max,
                });
            }
        }
    }
    Ok(())
}

/// When an owner back from leave at `t` is next at work.
fn next_open(config: &Config, team: &str, o: &OwnerConfig, t: DateTime<Utc>) -> DateTime<Utc> {
    config
        .calendar_for(team, &o.id)
        .map_or(t, |c| c.next_open(t))
}

/// The next owner by worst-case fair weighted queueing (WF²Q+): among the owners whose turn has
/// started (load at most the team's virtual time), the one whose load after this lead is
/// lowest. Over any run of leads each owner's count stays within one lead of its weighted
/// share. Ties go to whoever waited longest, then to a draw seeded by the lead id, so nobody
/// is favoured by their place in the list.
fn fairest<'c>(
    lead: &Lead,
    state: &TeamState,
    available: &[&'c OwnerConfig],
) -> Option<&'c OwnerConfig> {
    let start = |o: &OwnerConfig| turn_starts(state, &o.id);
    let eligible: Vec<&'c OwnerConfig> = available
        .iter()
        .copied()
        .filter(|o| start(o) <= state.vtime + EPSILON)
        .collect();
    // The virtual time never runs ahead of every start, so someone is eligible; the fallback
    // only guards against rounding.
    let pool = if eligible.is_empty() {
        available
    } else {
        &eligible[..]
    };
    pool.iter()
        .min_by(|a, b| {
            let key = |o: &OwnerConfig| {
                (
                    start(o) + 1.0 / f64::from(o.weight),
                    state.owners.get(&o.id).map_or(0, |s| s.last_seq),
                    draw(&lead.lead_id, &o.id),
                )
            };
            let (ka, kb) = (key(a), key(b));
            ka.0.total_cmp(&kb.0)
                .then(ka.1.cmp(&kb.1))
                .then(ka.2.cmp(&kb.2))
        })
        .copied()
}

/// Where an owner's next turn starts: their load, lifted to the team's virtual time when they
/// are new or come back from sitting out.
fn turn_starts(state: &TeamState, owner_id: &str) -> f64 {
    match state.owners.get(owner_id) {
        None => state.vtime,
        Some(s) if s.sitting_out => s.load.max(state.vtime),
        Some(s) => s.load,
    }
}

/// Rounding slack for comparing virtual times.
const EPSILON: f64 = 1e-9;

/// A stable pseudo-random number for a lead and an owner (FNV-1a).
fn draw(lead_id: &str, owner_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in lead_id.bytes().chain([0]).chain(owner_id.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The day and ISO week an owner's caps count in, in their own time zone.
fn periods(config: &Config, team: &str, o: &OwnerConfig, now: DateTime<Utc>) -> (String, String) {
    let local = match config.calendar_for(team, &o.id) {
        Some(c) => c.time_zone().local(now).date_naive(),
        None => now.date_naive(),
    };
    let w = local.iso_week();
    (
        local.format("%Y-%m-%d").to_string(),
        format!("{}-W{:02}", w.year(), w.week()),
    )
}

/// Counts an assignment to `o` in the team's rotation. `candidates` are the owners who were
/// available for it: the team's virtual time advances over them alone, so owners who were
/// away do not hold it back and, back, start from it (no burst, no drought).
pub fn record(
    state: &mut TeamState,
    config: &Config,
    team: &str,
    o: &OwnerConfig,
    candidates: &[&OwnerConfig],
    now: DateTime<Utc>,
) {
    let (day, week) = periods(config, team, o, now);
    let vtime = state.vtime;
    // Owners coming back start from the virtual time; those who could not take this lead sit
    // out until they can.
    let starts: Vec<(String, f64)> = candidates
        .iter()
        .chain(std::iter::once(&o))
        .map(|c| (c.id.clone(), turn_starts(state, &c.id)))
        .collect();
    for (id, start) in &starts {
        let s = state.owners.entry(id.clone()).or_default();
        s.load = *start;
        s.sitting_out = false;
    }
    if !candidates.is_empty() {
        for (id, s) in state.owners.iter_mut() {
            if !candidates.iter().any(|c| &c.id == id) {
                s.sitting_out = true;
            }
        }
    }
    state.seq += 1;
    let seq = state.seq;
    let s = state.owners.entry(o.id.clone()).or_default();
    s.load += 1.0 / f64::from(o.weight.max(1));
    s.assigned += 1;
    s.last_assigned_at = Some(now);
    s.last_seq = seq;
    if s.day != day {
        s.day = day;
        s.day_count = 0;
    }
    s.day_count += 1;
    if s.week != week {
        s.week = week;
        s.week_count = 0;
    }
    s.week_count += 1;
    // The virtual time moves on by one lead's worth of the candidates' total weight, and never
    // lags behind every candidate's start.
    let total: u32 = candidates.iter().map(|c| c.weight.max(1)).sum();
    if total > 0 {
        let min_start = candidates
            .iter()
            .map(|c| state.owners.get(&c.id).map_or(vtime, |s| s.load))
            .min_by(f64::total_cmp)
            .unwrap_or(vtime);
        state.vtime = (vtime + 1.0 / f64::from(total)).max(min_start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lead::Score;
    use crate::test_support::{config, lead};
    use proptest::prelude::*;

    /// A lead with its own id, so draws differ between leads.
    fn numbered_lead(i: usize) -> Lead {
        let mut l = lead();
        l.lead_id = format!("01JLEAD{i:019}");
        l
    }

    fn decide_at<'c>(
        lead: &Lead,
        config: &'c Config,
        states: &BTreeMap<String, TeamState>,
        now: DateTime<Utc>,
        account: Option<AccountOwner>,
    ) -> Result<Decision<'c>, Unroutable> {
        decide(
            lead,
            config,
            &Situation {
                now,
                states,
                account,
            },
        )
    }

    fn hot(mut l: Lead) -> Lead {
        l.score = Some(Score {
            points: 90,
            fit: 40,
            intent: 50,
            tier: "hot".into(),
            grade: None,
            qualification: None,
            scored_at: None,
            reasons: vec![],
        });
        l
    }

    fn now() -> DateTime<Utc> {
        "2026-03-02T10:00:00Z".parse().unwrap()
    }

    /// Routes `n` leads in a row, keeping the rotation; the owner ids in order.
    fn route_many(
        config: &Config,
        n: usize,
        at: DateTime<Utc>,
    ) -> (Vec<String>, BTreeMap<String, TeamState>) {
        let mut states = BTreeMap::new();
        let mut picks = Vec::new();
        for i in 0..n {
            let l = numbered_lead(i);
            let d = decide(
                &l,
                config,
                &Situation {
                    now: at,
                    states: &states,
                    account: None,
                },
            )
            .unwrap();
            picks.push(d.owner.id.clone());
            states.insert(d.team.clone(), d.state);
        }
        (picks, states)
    }

    #[test]
    fn the_first_matching_rule_names_the_team_and_the_trace_says_so() {
        let c = config();
        let states = BTreeMap::new();
        let d = decide_at(&hot(lead()), &c, &states, now(), None).unwrap();
        assert_eq!(d.team, "sales");
        assert!(
            d.reason()
                .starts_with("rule hot-leads matched → team sales"),
            "{}",
            d.reason()
        );
        assert!(d.reason().contains("picked "), "{}", d.reason());
    }

    #[test]
    fn the_decision_says_whether_the_account_a_rule_or_the_fallback_gave_the_owner() {
        let c = config();
        let states = BTreeMap::new();
        let monday = "2026-03-02T10:00:00Z".parse().unwrap();
        let account = Some(AccountOwner {
            owner_id: "emil".into(),
            why: "configured account acme.io".into(),
        });
        let by_account = decide_at(&hot(lead()), &c, &states, monday, account).unwrap();
        assert_eq!(by_account.via, Via::Account);
        let by_rule = decide_at(&hot(lead()), &c, &states, monday, None).unwrap();
        assert_eq!(by_rule.via, Via::Rule);
        let by_fallback = decide_at(&lead(), &c, &states, monday, None).unwrap();
        assert!(
            by_fallback.reason().contains("fallback team"),
            "{}",
            by_fallback.reason()
        );
        assert_eq!(by_fallback.via, Via::Fallback);
    }

    #[test]
    fn equal_weights_take_turns() {
        let c = config();
        let (picks, _) = route_many(&c, 6, now());
        let mut first: Vec<&String> = picks[..3].iter().collect();
        first.sort();
        assert_eq!(first, vec!["ana", "ben", "chen"], "{picks:?}");
        assert_eq!(picks[..3], picks[3..], "the same order again");
    }

    #[test]
    fn weights_share_leads_two_to_one() {
        let mut c = config();
        c.teams.get_mut("sales").unwrap().owners[0].weight = 2;
        let (picks, _) = route_many(&c, 40, now());
        let count = |id: &str| picks.iter().filter(|p| *p == id).count();
        assert_eq!((count("ana"), count("ben"), count("chen")), (20, 10, 10));
    }

    #[test]
    fn an_away_owner_is_skipped_with_the_date_and_comes_back_without_a_burst() {
        let c = config();
        let mut states = BTreeMap::new();
        let mut sales = TeamState::default();
        sales.owners.insert(
            "ana".into(),
            OwnerState {
                away_until: Some(now() + chrono::Duration::days(7)),
                ..Default::default()
            },
        );
        states.insert("sales".to_string(), sales);
        let mut picks = Vec::new();
        for i in 0..30 {
            let l = numbered_lead(i);
            let d = decide_at(&l, &c, &states, now(), None).unwrap();
            if i == 0 {
                assert!(
                    d.reason()
                        .contains("ana skipped: away until 2026-03-09 10:00 UTC"),
                    "{}",
                    d.reason()
                );
            }
            picks.push(d.owner.id.clone());
            states.insert(d.team.clone(), d.state);
        }
        assert!(!picks.contains(&"ana".to_string()));
        // Back: ana takes her share from now on, not the 10 she missed.
        let later = now() + chrono::Duration::days(8);
        let mut after = Vec::new();
        for i in 30..39 {
            let l = numbered_lead(i);
            let d = decide_at(&l, &c, &states, later, None).unwrap();
            after.push(d.owner.id.clone());
            states.insert(d.team.clone(), d.state);
        }
        let anas = after.iter().filter(|p| *p == "ana").count();
        assert_eq!(anas, 3, "{after:?}");
    }

    #[test]
    fn caps_hold_per_day_and_a_new_day_opens_them_again() {
        let mut c = config();
        for o in &mut c.teams.get_mut("sales").unwrap().owners {
            o.max_per_day = Some(2);
        }
        c.teams.get_mut("sales").unwrap().when_none_available = NoneAvailable::FallbackOwner;
        c.teams.get_mut("sales").unwrap().fallback_owner = Some("dana".into());
        let (picks, states) = route_many(&c, 8, now());
        for id in ["ana", "ben", "chen"] {
            assert_eq!(picks.iter().filter(|p| *p == id).count(), 2, "{picks:?}");
        }
        assert_eq!(picks[6..], ["dana", "dana"]);
        let mut l = lead();
        l.lead_id = "01JLEADNEXTDAY".into();
        let tomorrow = now() + chrono::Duration::days(1);
        let d = decide_at(&l, &c, &states, tomorrow, None).unwrap();
        assert_ne!(d.owner.id, "dana");
    }

    #[test]
    fn at_capacity_is_in_the_trace() {
        let mut c = config();
        c.teams.get_mut("sales").unwrap().owners[0].max_per_day = Some(1);
        let (_, states) = route_many(&c, 3, now());
        let mut l = lead();
        l.lead_id = "01JLEADX".into();
        let d = decide_at(&l, &c, &states, now(), None).unwrap();
        assert!(
            d.reason()
                .contains("ana skipped: at capacity (1/1 this day)"),
            "{}",
            d.reason()
        );
    }

    #[test]
    fn off_shift_owners_wait_and_the_next_available_takes_it_when_nobody_is_at_work() {
        let c = config();
        // Enterprise works Berlin hours; Saturday noon nobody is in.
        let mut l = lead();
        l.attributes.insert("employees".into(), "5000".into());
        let saturday: DateTime<Utc> = "2026-03-07T12:00:00Z".parse().unwrap();
        let states = BTreeMap::new();
        let d = decide_at(&l, &c, &states, saturday, None).unwrap();
        assert_eq!(d.team, "enterprise");
        let r = d.reason();
        assert!(
            r.contains("skipped: off shift until 2026-03-09 08:00 UTC"),
            "{r}"
        );
        assert!(
            r.contains("is available first, at 2026-03-09 08:00 UTC"),
            "{r}"
        );
    }

    #[test]
    fn the_account_owner_comes_first_and_only_when_available() {
        let c = config();
        let states = BTreeMap::new();
        let account = Some(AccountOwner {
            owner_id: "emil".into(),
            why: "configured account acme.io".into(),
        });
        let monday = "2026-03-02T10:00:00Z".parse().unwrap();
        let d = decide_at(&hot(lead()), &c, &states, monday, account.clone()).unwrap();
        assert_eq!(d.owner.id, "emil");
        assert_eq!(d.reason(), "configured account acme.io → emil");
        let sunday = "2026-03-08T10:00:00Z".parse().unwrap();
        let d = decide(
            &hot(lead()),
            &c,
            &Situation {
                now: sunday,
                states: &states,
                account,
            },
        )
        .unwrap();
        assert!(
            d.reason().contains("but emil is off shift"),
            "{}",
            d.reason()
        );
    }

    #[test]
    fn reassignment_never_goes_back_to_an_owner_who_had_it() {
        let c = config();
        let states = BTreeMap::new();
        let mut l = lead();
        l.previous_owners = vec!["ana".into(), "ben".into()];
        let d = decide_at(&l, &c, &states, now(), None).unwrap();
        assert_eq!(d.owner.id, "chen");
        assert!(
            d.reason()
                .contains("ana skipped: already let this lead lapse"),
            "{}",
            d.reason()
        );
    }

    #[test]
    fn a_team_without_active_owners_sends_leads_to_the_fallback_then_nowhere() {
        let mut c = config();
        for t in c.teams.values_mut() {
            for o in &mut t.owners {
                o.active = false;
            }
        }
        let states = BTreeMap::new();
        let err = decide_at(&hot(lead()), &c, &states, now(), None).unwrap_err();
        assert_eq!(err.team, c.routing.fallback_team);
        assert!(err.why.contains("skipped: inactive"), "{}", err.why);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Over many leads each owner's share is within one lead of its weight's share.
        #[test]
        fn shares_follow_weights_within_one(weights in proptest::collection::vec(1u32..5, 2..6), n in 1usize..300) {
            let mut c = config();
            let team = c.teams.get_mut("sales").unwrap();
            let template = team.owners[0].clone();
            team.owners = weights.iter().enumerate().map(|(i, w)| OwnerConfig {
                id: format!("o{i}"),
                weight: *w,
                ..template.clone()
            }).collect();
            let (picks, _) = route_many(&c, n, now());
            let total: u32 = weights.iter().sum();
            for (i, w) in weights.iter().enumerate() {
                let got = picks.iter().filter(|p| **p == format!("o{i}")).count() as f64;
                let fair = n as f64 * f64::from(*w) / f64::from(total);
                prop_assert!((got - fair).abs() <= 1.0, "owner o{} weight {} got {} of {}, fair {:.2}", i, w, got, n, fair);
            }
        }
    }
}
