//! The speed-to-lead report: how fast leads are answered, who lets them go cold, how fair the
//! rotation is, which sources bring leads that convert, and what is waiting now.
//!
//! Pure: it takes the leads with their timelines, the configuration (owners' weights and
//! calendars) and the period, and computes numbers; reading the table and rendering belong to
//! the command (`leadrelay report`). The definitions of every number are in docs/report.md.
//!
//! - Percentiles are **nearest-rank** ([`stats::nearest_rank`]): the value at rank
//!   ⌈p/100 × n⌉ of the sorted values, never interpolated; a lead that never got there counts
//!   as slower than any time, so a P90 of "never" means more than 10% never did.
//! - Speed bands include their lower bound: under 5 min, 5–15, 15–60, 1–24 h, a day or more,
//!   never.

pub mod facts;
pub mod sample;
pub mod spend;
pub mod stats;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::Config;
use crate::lead::{Lead, LeadEvent, LeadStatus};

pub use facts::Facts;
pub use spend::{Spend, SpendError};
pub use stats::{Distribution, Elapsed, BANDS};

/// What the report covers: leads that arrived in `[since, until)`, optionally of one team,
/// owner (the lead's owner now) or source. `now` is when "open" and "late" are judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Params {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub now: DateTime<Utc>,
    pub team: Option<String>,
    pub owner: Option<String>,
    pub source: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub params: Params,
    /// Leads that arrived in the period and pass the filters, spam and test included.
    pub leads: usize,
    /// Of those, real leads (neither spam nor test): the ones the speed and SLA numbers count.
    pub real_leads: usize,
    pub speed: Speed,
    pub sla: Sla,
    pub fairness: Fairness,
    pub funnel: Funnel,
    /// Only when a spend file was given.
    pub spend: Option<Vec<SpendRow>>,
    pub now: Now,
}

/// One clock's view of a step: wall-clock and business hours.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Measure {
    pub wall: Distribution,
    pub business: Distribution,
}

/// Speed to lead for one group of leads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SpeedRow {
    pub key: String,
    pub leads: usize,
    /// Arrival → acknowledgement email sent (leads with an address whose acknowledgement was
    /// not skipped on purpose). The system's part.
    pub acknowledged: Measure,
    /// Arrival → first assignment. The system's part.
    pub assigned: Measure,
    /// Arrival → first contact.
    pub contacted: Measure,
    /// First assignment → first contact (assigned leads): the human part.
    pub human: Measure,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Speed {
    pub overall: SpeedRow,
    pub by_owner: Vec<SpeedRow>,
    pub by_team: Vec<SpeedRow>,
    pub by_source: Vec<SpeedRow>,
    pub by_week: Vec<SpeedRow>,
}

/// SLA outcomes for one group of leads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SlaRow {
    pub key: String,
    /// Leads with an SLA clock.
    pub leads: usize,
    pub met: usize,
    pub breached: usize,
    /// Still open and not yet due.
    pub pending: usize,
    /// Over breached leads with a measurable lateness: mean and worst, seconds.
    pub mean_over: Option<i64>,
    pub worst_over: Option<i64>,
    pub reminders: usize,
    pub escalations: usize,
    pub reassignments: usize,
}

impl SlaRow {
    /// Met over decided (met + breached); 0 when none is decided.
    pub fn share_met(&self) -> f64 {
        stats::ratio(self.met, self.met + self.breached)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Sla {
    pub overall: SlaRow,
    pub by_owner: Vec<SlaRow>,
    pub by_team: Vec<SlaRow>,
    pub by_week: Vec<SlaRow>,
}

/// An owner's share of their team's assignments against their configured weight.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShareRow {
    pub team: String,
    pub owner: String,
    /// Empty for the whole period, else the ISO week.
    pub week: String,
    pub weight: u32,
    /// weight ÷ the sum of the active owners' weights in the team.
    pub expected: f64,
    pub assigned: usize,
    /// assigned ÷ the team's assignments in the same period or week.
    pub share: f64,
    /// How often routing passed the owner over, by reason.
    pub skipped: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Fairness {
    pub owners: Vec<ShareRow>,
    pub weekly: Vec<ShareRow>,
}

/// Leads and outcomes per source (and campaign).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SourceRow {
    pub source: String,
    /// None: every campaign of the source.
    pub campaign: Option<String>,
    pub leads: usize,
    pub spam: usize,
    pub test: usize,
    /// Real leads contacted (reached working).
    pub worked: usize,
    pub qualified: usize,
    pub converted: usize,
    pub disqualified: BTreeMap<String, usize>,
}

impl SourceRow {
    pub fn real(&self) -> usize {
        self.leads - self.spam - self.test
    }
}

/// One step of the lifecycle: of the leads that reached `from`, how many reached `to`, and how
/// long it took (nearest-rank median).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub from: String,
    pub to: String,
    pub entered: usize,
    pub reached: usize,
    pub median: Option<i64>,
}

impl Transition {
    pub fn rate(&self) -> f64 {
        stats::ratio(self.reached, self.entered)
    }
}

/// The lifecycle steps for one group (a source, an owner, everyone).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Velocity {
    pub key: String,
    pub steps: Vec<Transition>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BandConversion {
    pub band: String,
    pub leads: usize,
    pub qualified: usize,
    pub converted: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Funnel {
    pub by_source: Vec<SourceRow>,
    pub by_campaign: Vec<SourceRow>,
    pub overall: Velocity,
    pub by_source_velocity: Vec<Velocity>,
    pub by_owner_velocity: Vec<Velocity>,
    /// By the wall-clock band of arrival → first contact.
    pub by_speed_band: Vec<BandConversion>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SpendRow {
    pub source: String,
    /// "2026-03", or "total" over the period's months.
    pub month: String,
    pub amount: f64,
    pub leads: usize,
    pub qualified: usize,
}

impl SpendRow {
    pub fn per_lead(&self) -> Option<f64> {
        (self.leads > 0).then(|| self.amount / self.leads as f64)
    }
    pub fn per_qualified(&self) -> Option<f64> {
        (self.qualified > 0).then(|| self.amount / self.qualified as f64)
    }
}

/// Open leads by age, per owner.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AgeRow {
    pub owner: String,
    /// Under 1 h, 1–24 h, 1–7 days, over 7 days.
    pub ages: [usize; 4],
    pub uncontacted: usize,
}

pub const AGES: [&str; 4] = ["<1h", "1-24h", "1-7d", ">7d"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitingLead {
    pub lead_id: String,
    pub source: String,
    pub owner: String,
    pub age: i64,
    /// What it waits for: "first contact", or the pipeline step (parked or stuck).
    pub state: String,
    /// Why it was parked (an error message of ours, never the lead's data).
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Now {
    pub open_by_owner: Vec<AgeRow>,
    /// The 10 oldest leads still without first contact.
    pub oldest_uncontacted: Vec<WaitingLead>,
    /// Parked by a permanent error, or waiting on a pipeline step past the sweep's grace.
    pub stuck: Vec<WaitingLead>,
}

/// Whether a lead counts in the report.
fn selected(l: &Lead, f: &Facts<'_>, p: &Params) -> bool {
    l.received_at >= p.since
        && l.received_at < p.until
        && l.expires_at.is_none_or(|e| e > p.now)
        && p.source.as_deref().is_none_or(|s| l.source == s)
        && p.team.as_deref().is_none_or(|t| f.team == Some(t))
        && p.owner.as_deref().is_none_or(|o| f.owner == Some(o))
}

/// Computes the report. `history` holds each lead with its timeline (the timeline may be empty:
/// then what the lead record carries is used).
pub fn build(
    history: &[(Lead, Vec<LeadEvent>)],
    config: &Config,
    params: &Params,
    spend: Option<&Spend>,
) -> Report {
    let facts: Vec<Facts<'_>> = history
        .iter()
        .map(|(l, e)| Facts::read(l, e, config))
        .filter(|f| selected(f.lead, f, params))
        .collect();
    let real: Vec<&Facts<'_>> = facts.iter().filter(|f| !f.lead.is_quarantined()).collect();
    Report {
        params: params.clone(),
        leads: facts.len(),
        real_leads: real.len(),
        speed: speed(&real),
        sla: sla(&real, params.now),
        fairness: fairness(&real, config),
        funnel: funnel(&facts, &real),
        spend: spend.map(|s| spend_rows(s, &real, params)),
        now: now(&real, config, params.now),
    }
}

/// Groups facts by a key, in key order.
fn group<'f, 'a>(
    facts: &[&'f Facts<'a>],
    key: impl Fn(&Facts<'a>) -> Option<String>,
) -> BTreeMap<String, Vec<&'f Facts<'a>>> {
    let mut out: BTreeMap<String, Vec<&Facts<'_>>> = BTreeMap::new();
    for f in facts {
        if let Some(k) = key(f) {
            out.entry(k).or_default().push(f);
        }
    }
    out
}

fn owner_key(f: &Facts<'_>) -> Option<String> {
    Some(f.owner.unwrap_or("(unassigned)").to_owned())
}

fn team_key(f: &Facts<'_>) -> Option<String> {
    Some(f.team.unwrap_or("(unassigned)").to_owned())
}

fn speed_row(key: &str, facts: &[&Facts<'_>]) -> SpeedRow {
    let mut ack = (Vec::new(), Vec::new());
    let mut assigned = (Vec::new(), Vec::new());
    let mut contacted = (Vec::new(), Vec::new());
    let mut human = (Vec::new(), Vec::new());
    for f in facts {
        let t = &f.times;
        for (into, value) in [
            (&mut ack, t.acknowledged),
            (&mut assigned, t.assigned),
            (&mut contacted, t.contacted),
            (&mut human, t.human),
        ] {
            if let Some((wall, business)) = value {
                into.0.push(wall);
                into.1.push(business);
            }
        }
    }
    let m = |(w, b): (Vec<Elapsed>, Vec<Elapsed>)| Measure {
        wall: Distribution::of(w),
        business: Distribution::of(b),
    };
    SpeedRow {
        key: key.to_owned(),
        leads: facts.len(),
        acknowledged: m(ack),
        assigned: m(assigned),
        contacted: m(contacted),
        human: m(human),
    }
}

fn speed(real: &[&Facts<'_>]) -> Speed {
    let rows = |groups: BTreeMap<String, Vec<&Facts<'_>>>| {
        groups.iter().map(|(k, fs)| speed_row(k, fs)).collect()
    };
    Speed {
        overall: speed_row("all", real),
        by_owner: rows(group(real, owner_key)),
        by_team: rows(group(real, team_key)),
        by_source: rows(group(real, |f| Some(f.lead.source.clone()))),
        by_week: rows(group(real, |f| Some(f.week.clone()))),
    }
}

/// The SLA outcome of one lead: met, breached with how late (when measurable), or pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Met,
    Breached(Option<i64>),
    Pending,
}

/// A lead's SLA outcome on its clock: met when first contact came by the due time and no owner
/// let it lapse before (a reassignment); breached when contact came late, is still missing
/// past the due time, or an earlier owner let it lapse; pending while open and not yet due.
/// Lateness is measured on the current clock (contact or now, minus due).
pub fn outcome(f: &Facts<'_>, now: DateTime<Utc>) -> Option<Outcome> {
    let clock = f.lead.sla.as_ref();
    let lapsed = !f.reassignments.is_empty() || !f.lead.previous_owners.is_empty();
    let Some(c) = clock else {
        return lapsed.then_some(Outcome::Breached(None));
    };
    let over = |t: DateTime<Utc>| (t > c.due_at).then(|| (t - c.due_at).num_seconds());
    Some(match c.contacted_at {
        Some(t) => match over(t) {
            Some(s) => Outcome::Breached(Some(s)),
            None if lapsed => Outcome::Breached(None),
            None => Outcome::Met,
        },
        None => match over(now) {
            Some(s) => Outcome::Breached(Some(s)),
            None if lapsed => Outcome::Breached(None),
            None => Outcome::Pending,
        },
    })
}

fn sla_row(key: &str, facts: &[&Facts<'_>], now: DateTime<Utc>) -> SlaRow {
    let mut r = SlaRow {
        key: key.to_owned(),
        ..Default::default()
    };
    let mut over = Vec::new();
    for f in facts {
        match outcome(f, now) {
            None => {}
            Some(o) => {
                r.leads += 1;
                match o {
                    Outcome::Met => r.met += 1,
                    Outcome::Pending => r.pending += 1,
                    Outcome::Breached(s) => {
                        r.breached += 1;
                        over.extend(s);
                    }
                }
            }
        }
    }
    r.mean_over = (!over.is_empty()).then(|| over.iter().sum::<i64>() / over.len() as i64);
    r.worst_over = over.iter().copied().max();
    r
}

/// Reminders, escalations and reassignments go to the owner who held the lead when the step
/// was taken (and that owner's team), not to the owner it has now.
fn steps_by(
    facts: &[&Facts<'_>],
    team_of: impl Fn(&str) -> Option<String>,
    by_team: bool,
) -> BTreeMap<String, [usize; 3]> {
    let mut out: BTreeMap<String, [usize; 3]> = BTreeMap::new();
    for f in facts {
        for (i, steps) in [&f.reminders, &f.escalations, &f.reassignments]
            .into_iter()
            .enumerate()
        {
            for s in steps {
                let owner = s.owner.as_deref().or(f.owner);
                let key = match (by_team, owner) {
                    (false, Some(o)) => o.to_owned(),
                    (true, Some(o)) => team_of(o)
                        .or(f.team.map(str::to_owned))
                        .unwrap_or_else(|| "(unassigned)".into()),
                    (_, None) => "(unassigned)".into(),
                };
                out.entry(key).or_default()[i] += 1;
            }
        }
    }
    out
}

fn sla(real: &[&Facts<'_>], now: DateTime<Utc>) -> Sla {
    // The team an owner was in: taken from the leads themselves (the configuration may have
    // moved them since).
    let mut teams: BTreeMap<String, String> = BTreeMap::new();
    for f in real {
        for r in &f.rounds {
            if let Some(t) = &r.team {
                teams.insert(r.owner.clone(), t.clone());
            }
        }
    }
    let team_of = |o: &str| teams.get(o).cloned();
    let with_steps = |mut rows: Vec<SlaRow>, steps: BTreeMap<String, [usize; 3]>| {
        for (k, [rem, esc, re]) in steps {
            let i = match rows.iter().position(|r| r.key == k) {
                Some(i) => i,
                None => {
                    rows.push(SlaRow {
                        key: k,
                        ..Default::default()
                    });
                    rows.len() - 1
                }
            };
            rows[i].reminders += rem;
            rows[i].escalations += esc;
            rows[i].reassignments += re;
        }
        rows.sort_by(|a, b| a.key.cmp(&b.key));
        rows
    };
    let rows = |g: BTreeMap<String, Vec<&Facts<'_>>>| -> Vec<SlaRow> {
        g.iter().map(|(k, fs)| sla_row(k, fs, now)).collect()
    };
    let mut overall = sla_row("all", real, now);
    for f in real {
        overall.reminders += f.reminders.len();
        overall.escalations += f.escalations.len();
        overall.reassignments += f.reassignments.len();
    }
    let mut by_week = rows(group(real, |f| Some(f.week.clone())));
    for (r, fs) in by_week
        .iter_mut()
        .zip(group(real, |f| Some(f.week.clone())).values())
    {
        for f in fs {
            r.reminders += f.reminders.len();
            r.escalations += f.escalations.len();
            r.reassignments += f.reassignments.len();
        }
    }
    Sla {
        overall,
        by_owner: with_steps(rows(group(real, owner_key)), steps_by(real, team_of, false)),
        by_team: with_steps(rows(group(real, team_key)), steps_by(real, team_of, true)),
        by_week,
    }
}

fn fairness(real: &[&Facts<'_>], config: &Config) -> Fairness {
    // Every assignment of every round counts (a reassigned lead counts for both owners), in
    // the week it was made.
    let mut count: BTreeMap<(String, String), usize> = BTreeMap::new(); // (week, owner)
    let mut skipped: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for f in real {
        for r in &f.rounds {
            *count
                .entry((facts::iso_week(r.at), r.owner.clone()))
                .or_default() += 1;
            for (who, why) in &r.skipped {
                *skipped
                    .entry(who.clone())
                    .or_default()
                    .entry(why.clone())
                    .or_default() += 1;
            }
        }
    }
    let weeks: BTreeSet<String> = count.keys().map(|(w, _)| w.clone()).collect();
    let mut owners = Vec::new();
    let mut weekly = Vec::new();
    for (team, t) in &config.teams {
        let active: Vec<_> = t.owners.iter().filter(|o| o.active).collect();
        let total_weight: u32 = active.iter().map(|o| o.weight).sum();
        let assigned_in = |week: Option<&str>, owner: &str| -> usize {
            count
                .iter()
                .filter(|((w, o), _)| o == owner && week.is_none_or(|x| x == w))
                .map(|(_, n)| n)
                .sum()
        };
        let team_total = |week: Option<&str>| -> usize {
            t.owners.iter().map(|o| assigned_in(week, &o.id)).sum()
        };
        let row = |week: Option<&str>, o: &crate::config::OwnerConfig| {
            let assigned = assigned_in(week, &o.id);
            ShareRow {
                team: team.clone(),
                owner: o.id.clone(),
                week: week.unwrap_or_default().to_owned(),
                weight: o.weight,
                expected: if o.active {
                    stats::ratio(o.weight as usize, total_weight as usize)
                } else {
                    0.0
                },
                assigned,
                share: stats::ratio(assigned, team_total(week)),
                skipped: if week.is_none() {
                    skipped.get(&o.id).cloned().unwrap_or_default()
                } else {
                    BTreeMap::new()
                },
            }
        };
        if team_total(None) == 0 {
            continue;
        }
        for o in &t.owners {
            owners.push(row(None, o));
        }
        for w in &weeks {
            if team_total(Some(w)) == 0 {
                continue;
            }
            for o in &t.owners {
                weekly.push(row(Some(w), o));
            }
        }
    }
    Fairness { owners, weekly }
}

fn source_row(source: &str, campaign: Option<&str>, fs: &[&Facts<'_>]) -> SourceRow {
    let mut r = SourceRow {
        source: source.to_owned(),
        campaign: campaign.map(str::to_owned),
        ..Default::default()
    };
    for f in fs {
        let l = f.lead;
        r.leads += 1;
        if l.is_spam {
            r.spam += 1;
            continue;
        }
        if l.is_test {
            r.test += 1;
            continue;
        }
        r.worked += usize::from(f.reached_working);
        r.qualified += usize::from(f.reached_qualified);
        r.converted += usize::from(f.reached_converted);
        if l.status == LeadStatus::Disqualified {
            let reason = l.status_reason.clone().unwrap_or_else(|| "(none)".into());
            *r.disqualified.entry(reason).or_default() += 1;
        }
    }
    r
}

fn velocity(key: &str, fs: &[&Facts<'_>]) -> Velocity {
    let step = |from: &str,
                to: &str,
                entered: &dyn Fn(&Facts<'_>) -> bool,
                reached: &dyn Fn(&Facts<'_>) -> bool,
                times: &dyn Fn(&Facts<'_>) -> Option<i64>| {
        let inn: Vec<&&Facts<'_>> = fs.iter().filter(|f| entered(f)).collect();
        let got: Vec<&&Facts<'_>> = inn.iter().copied().filter(|f| reached(f)).collect();
        Transition {
            from: from.into(),
            to: to.into(),
            entered: inn.len(),
            reached: got.len(),
            median: stats::median(got.iter().filter_map(|f| times(f)).collect()),
        }
    };
    let between =
        |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| Some((b? - a?).num_seconds().max(0));
    Velocity {
        key: key.to_owned(),
        steps: vec![
            step("new", "working", &|_| true, &|f| f.reached_working, &|f| {
                between(Some(f.arrived), f.entered_working)
            }),
            step(
                "working",
                "qualified",
                &|f| f.reached_working,
                &|f| f.reached_qualified,
                &|f| between(f.entered_working, f.entered_qualified),
            ),
            step(
                "qualified",
                "converted",
                &|f| f.reached_qualified,
                &|f| f.reached_converted,
                &|f| {
                    between(
                        f.entered_qualified.or(f.entered_working),
                        f.entered_converted,
                    )
                },
            ),
        ],
    }
}

fn funnel(all: &[Facts<'_>], real: &[&Facts<'_>]) -> Funnel {
    let all: Vec<&Facts<'_>> = all.iter().collect();
    let by_source = group(&all, |f| Some(f.lead.source.clone()))
        .iter()
        .map(|(s, fs)| source_row(s, None, fs))
        .collect();
    let mut by_campaign = Vec::new();
    for ((s, c), fs) in {
        let mut g: BTreeMap<(String, String), Vec<&Facts<'_>>> = BTreeMap::new();
        for f in &all {
            g.entry((f.lead.source.clone(), f.campaign.clone()))
                .or_default()
                .push(f);
        }
        g
    } {
        by_campaign.push(source_row(&s, Some(&c), &fs));
    }
    let mut bands: Vec<BandConversion> = BANDS
        .iter()
        .map(|b| BandConversion {
            band: (*b).to_owned(),
            ..Default::default()
        })
        .collect();
    for f in real {
        let wall = f.times.contacted.map_or(Elapsed::Never, |(w, _)| w);
        let b = &mut bands[stats::band(wall)];
        b.leads += 1;
        b.qualified += usize::from(f.reached_qualified);
        b.converted += usize::from(f.reached_converted);
    }
    Funnel {
        by_source,
        by_campaign,
        overall: velocity("all", real),
        by_source_velocity: group(real, |f| Some(f.lead.source.clone()))
            .iter()
            .map(|(k, fs)| velocity(k, fs))
            .collect(),
        by_owner_velocity: group(real, owner_key)
            .iter()
            .map(|(k, fs)| velocity(k, fs))
            .collect(),
        by_speed_band: bands,
    }
}

fn spend_rows(spend: &Spend, real: &[&Facts<'_>], p: &Params) -> Vec<SpendRow> {
    let month = |t: DateTime<Utc>| t.format("%Y-%m").to_string();
    let first = month(p.since);
    let last = month(p.until - chrono::Duration::seconds(1));
    let mut rows: BTreeMap<(String, String), SpendRow> = BTreeMap::new();
    for ((source, m), amount) in &spend.amounts {
        if *m < first || *m > last {
            continue;
        }
        rows.entry((source.clone(), m.clone()))
            .or_insert_with(|| SpendRow {
                source: source.clone(),
                month: m.clone(),
                ..Default::default()
            })
            .amount += amount;
    }
    for f in real {
        if let Some(r) = rows.get_mut(&(f.lead.source.clone(), month(f.arrived))) {
            r.leads += 1;
            r.qualified += usize::from(f.reached_qualified);
        }
    }
    let mut totals: BTreeMap<String, SpendRow> = BTreeMap::new();
    for r in rows.values() {
        let t = totals.entry(r.source.clone()).or_insert_with(|| SpendRow {
            source: r.source.clone(),
            month: "total".into(),
            ..Default::default()
        });
        t.amount += r.amount;
        t.leads += r.leads;
        t.qualified += r.qualified;
    }
    let mut out: Vec<SpendRow> = Vec::new();
    for (source, total) in totals {
        out.extend(rows.values().filter(|r| r.source == source).cloned());
        out.push(total);
    }
    out
}

fn now(real: &[&Facts<'_>], config: &Config, now: DateTime<Utc>) -> Now {
    let mut by_owner: BTreeMap<String, AgeRow> = BTreeMap::new();
    let mut uncontacted = Vec::new();
    let mut stuck = Vec::new();
    let grace = crate::clock::span(config.sweep.grace);
    for f in real {
        let l = f.lead;
        let age = (now - f.arrived).num_seconds().max(0);
        let owner = f.owner.unwrap_or("(unassigned)").to_owned();
        if let Some(p) = &l.parked {
            stuck.push(WaitingLead {
                lead_id: l.lead_id.clone(),
                source: l.source.clone(),
                owner: owner.clone(),
                age,
                state: format!("parked at {}", p.step.as_str()),
                reason: Some(p.reason.clone()),
            });
        } else if let Some(step) = l.waiting_for() {
            if now - l.waiting_since() > grace {
                stuck.push(WaitingLead {
                    lead_id: l.lead_id.clone(),
                    source: l.source.clone(),
                    owner: owner.clone(),
                    age,
                    state: format!("waiting for {}", step.as_str()),
                    reason: None,
                });
            }
        }
        if !l.status.is_open() {
            continue;
        }
        let row = by_owner.entry(owner.clone()).or_insert_with(|| AgeRow {
            owner: owner.clone(),
            ..Default::default()
        });
        let i = match age {
            a if a < 3600 => 0,
            a if a < 86_400 => 1,
            a if a < 7 * 86_400 => 2,
            _ => 3,
        };
        row.ages[i] += 1;
        if f.contacted.is_none() {
            row.uncontacted += 1;
            uncontacted.push(WaitingLead {
                lead_id: l.lead_id.clone(),
                source: l.source.clone(),
                owner,
                age,
                state: "first contact".into(),
                reason: None,
            });
        }
    }
    uncontacted.sort_by(|a, b| b.age.cmp(&a.age).then(a.lead_id.cmp(&b.lead_id)));
    uncontacted.truncate(10);
    stuck.sort_by(|a, b| b.age.cmp(&a.age).then(a.lead_id.cmp(&b.lead_id)));
    Now {
        open_by_owner: by_owner.into_values().collect(),
        oldest_uncontacted: uncontacted,
        stuck,
    }
}

#[cfg(test)]
mod tests;
