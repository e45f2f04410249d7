//! A synthetic but realistic history, for `leadrelay report --seed` (the local stack) and the
//! report's benchmark: weeks of leads over the configured sources and teams, routed by the
//! real router (weights, calendars, one owner away for a week, so the rotation's answer to an
//! absence shows), SLA clocks started and escalated by the real ladder, owners who answer at
//! their own pace within their hours, and a funnel where faster contact converts more.
//!
//! Deterministic for a given seed (lead and event ids aside: they are ULIDs stamped with the
//! simulated time). No real person's data: names and addresses are made up, on `.example`.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};

use crate::clock::{Clock, ManualClock};
use crate::config::Config;
use crate::lead::{EscalationAction, EventKind, Lead, LeadEvent, LeadStatus, Score, Stage};
use crate::lifecycle::{self, StatusChange};
use crate::routing::{self, Situation, TeamState};
use crate::sla;
use crate::sweep::{Parked, Step};
use crate::timeline;
use crate::transitions::Reassigned;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The history ends here ("now" for the simulation: nothing happens after it).
    pub end: DateTime<Utc>,
    pub weeks: u32,
    pub leads: usize,
    pub seed: u64,
    /// An owner out of office for a while: `(owner, from, until)`.
    pub away: Option<(String, DateTime<Utc>, DateTime<Utc>)>,
}

impl Spec {
    /// `leads` leads over the `weeks` weeks before `end`, the first owner of the largest team
    /// away for the third week.
    pub fn realistic(config: &Config, end: DateTime<Utc>, weeks: u32, leads: usize) -> Spec {
        let start = end - Duration::weeks(i64::from(weeks));
        // The third week, Monday to Monday (UTC), so it is one whole ISO week.
        let third = start + Duration::weeks(2);
        let monday = (third - Duration::days(i64::from(third.weekday().num_days_from_monday())))
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .map_or(third, |d| d.and_utc());
        let away = config
            .teams
            .values()
            .max_by_key(|t| t.owners.len())
            .and_then(|t| t.owners.first())
            .filter(|_| weeks >= 3)
            .map(|o| {
                (
                    o.id.clone(),
                    monday.max(start),
                    monday.max(start) + Duration::weeks(1),
                )
            });
        Spec {
            end,
            weeks,
            leads,
            seed: 13,
            away,
        }
    }
}

/// splitmix64: small, fast, good enough for made-up data, and no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn f(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.f() < p
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    /// Roughly standard normal (Irwin–Hall of 12).
    fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.f()).sum::<f64>() - 6.0
    }
    fn secs(&mut self, lo: i64, hi: i64) -> Duration {
        Duration::seconds(lo + self.below((hi - lo).max(1) as u64) as i64)
    }
}

/// Where leads come from, how many, and what they are like: (source, weight, campaigns, spam
/// rate, points bonus).
const SOURCES: [(&str, u64, &[&str], f64, i32); 7] = [
    (
        "json",
        28,
        &["brand-search", "competitor-terms", "spring-2026"],
        0.02,
        8,
    ),
    ("meta", 20, &["lookalike-q1", "retargeting"], 0.03, -8),
    ("google", 16, &["brand-search", "performance-max"], 0.02, 5),
    (
        "linkedin",
        10,
        &["abm-enterprise", "webinar-march"],
        0.01,
        18,
    ),
    ("form", 14, &[], 0.08, 0),
    ("typeform", 6, &["newsletter"], 0.04, -3),
    ("html-form", 6, &[], 0.10, 0),
];

/// How an owner answers: median minutes to first contact after assignment, and how often they
/// never do.
fn pace(owner: &str) -> (f64, f64) {
    let h = owner
        .bytes()
        .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    [
        (3.5, 0.02),
        (9.0, 0.03),
        (22.0, 0.05),
        (45.0, 0.08),
        (6.0, 0.02),
        (80.0, 0.10),
    ][(h % 6) as usize]
}

/// When a person acts `delay` after `from`: within their calendar's hours when they have one;
/// otherwise mostly within 08:00–18:00 UTC on weekdays (and now and then after hours).
fn acts_at(
    config: &Config,
    team: &str,
    owner: &str,
    from: DateTime<Utc>,
    delay: Duration,
    rng: &mut Rng,
) -> DateTime<Utc> {
    if let Some(c) = config.calendar_for(team, owner) {
        return c.add(from, delay.to_std().unwrap_or_default());
    }
    let open =
        |t: DateTime<Utc>| t.weekday().num_days_from_monday() < 5 && (8..18).contains(&t.hour());
    if open(from) || rng.chance(0.25) {
        return from + delay;
    }
    let mut t = from;
    while !open(t) {
        t = (t + Duration::hours(1)).with_minute(0).unwrap_or(t);
    }
    t + delay
}

struct Sim<'c> {
    config: &'c Config,
    clock: ManualClock,
    states: BTreeMap<String, TeamState>,
    rng: Rng,
}

impl Sim<'_> {
    fn at(&self, t: DateTime<Utc>) -> &ManualClock {
        self.clock.set(t);
        &self.clock
    }

    /// Routes the lead at `t` with the real router; false when nobody could take it.
    fn route(&mut self, lead: &mut Lead, t: DateTime<Utc>, events: &mut Vec<LeadEvent>) -> bool {
        let decided = routing::decide(
            lead,
            self.config,
            &Situation {
                now: t,
                states: &self.states,
                account: None,
            },
        );
        match decided {
            Ok(d) => {
                self.states.insert(d.team.clone(), d.state.clone());
                self.clock.set(t);
                events.push(lead.assign(&d, self.config, t, &self.clock));
                lead.notified = true;
                true
            }
            Err(why) => {
                self.clock.set(t);
                events.push(lead.leave_unassigned(&why, &self.clock));
                false
            }
        }
    }

    /// When the lead's owner makes first contact, if ever.
    fn contact_time(&mut self, lead: &Lead) -> Option<DateTime<Utc>> {
        let a = lead.assignment.as_ref()?;
        let (median, never) = pace(&a.owner_id);
        if self.rng.chance(never) {
            return None;
        }
        let minutes = median * (0.9 * self.rng.normal()).exp();
        let delay = Duration::seconds((minutes * 60.0).max(20.0) as i64);
        let (team, owner) = (a.team.clone(), a.owner_id.clone());
        Some(acts_at(
            self.config,
            &team,
            &owner,
            a.assigned_at,
            delay,
            &mut self.rng,
        ))
    }

    fn status(
        &mut self,
        lead: &mut Lead,
        to: LeadStatus,
        reason: Option<String>,
        at: DateTime<Utc>,
        events: &mut Vec<LeadEvent>,
    ) {
        let change = StatusChange {
            to,
            reason,
            recycle_at: (to == LeadStatus::Nurture).then(|| at + Duration::days(90)),
        };
        if lifecycle::check(lead, &change, &self.config.lifecycle.disqualify_reasons, at).is_err() {
            return;
        }
        let before = lead.status;
        lifecycle::apply(lead, &change, at);
        let mut summary = format!("status {before} → {to}");
        if let Some(r) = &change.reason {
            summary.push_str(&format!(" (reason: {r})"));
        }
        let e = timeline::event(
            self.at(at),
            &lead.lead_id,
            EventKind::StatusChanged,
            "crm:hubspot",
            summary,
        )
        .changing(before.as_str(), to.as_str());
        events.push(e);
    }

    fn one(
        &mut self,
        i: usize,
        arrived: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> (Lead, Vec<LeadEvent>) {
        let config = self.config;
        let weights: Vec<(&str, u64, &[&str], f64, i32)> = SOURCES
            .iter()
            .copied()
            .filter(|s| config.sources.contains_key(s.0))
            .collect();
        let total: u64 = weights.iter().map(|s| s.1).sum();
        let (source, campaigns, spam_rate, bonus) = if weights.is_empty() {
            let s = config
                .sources
                .keys()
                .next()
                .map(String::as_str)
                .unwrap_or("json");
            (s.to_owned(), &[][..], 0.03, 0)
        } else {
            let mut roll = self.rng.below(total);
            let s = weights
                .iter()
                .find(|s| {
                    if roll < s.1 {
                        true
                    } else {
                        roll -= s.1;
                        false
                    }
                })
                .unwrap_or(&weights[0]);
            (s.0.to_owned(), s.2, s.3, s.4)
        };
        let id = self.at(arrived).new_id().to_string();
        let mut lead = Lead::new(&id, &source, &format!("seed-{id}"), arrived);
        let company = self.rng.below(400);
        if self.rng.chance(0.92) {
            lead.fields.email = Some(format!("lead{i}@company{company}.example"));
        }
        lead.fields.full_name = Some(format!("Sample Lead {i}"));
        lead.fields.company = Some(format!("Company {company}"));
        let employees = if self.rng.chance(0.12) {
            1000 + self.rng.below(20_000)
        } else {
            5 + self.rng.below(900)
        };
        lead.attributes
            .insert("employees".into(), employees.to_string());
        if !campaigns.is_empty() {
            lead.utm.insert("utm_source".into(), source.clone());
            lead.utm.insert("utm_medium".into(), "paid".into());
            lead.utm.insert(
                "utm_campaign".into(),
                (*self.rng.pick(campaigns)).to_owned(),
            );
        }
        let mut events = vec![timeline::event(
            self.at(arrived),
            &id,
            EventKind::Captured,
            "capture",
            format!("captured from {source} (seeded history)"),
        )];
        if self.rng.chance(spam_rate) || self.rng.chance(0.01) {
            if self.rng.chance(0.8) {
                lead.is_spam = true;
            } else {
                lead.is_test = true;
            }
            lead.expires_at = Some(arrived + crate::clock::span(config.retention.spam_and_test));
            return (lead, events);
        }
        // Scored.
        let points = bonus + self.rng.below(75) as i32 - 5;
        let tier = config
            .scoring
            .tiers
            .iter()
            .find(|t| points >= t.min_points)
            .or(config.scoring.tiers.last())
            .map(|t| t.name.clone())
            .unwrap_or_default();
        let scored = arrived + self.rng.secs(1, 3);
        lead.score = Some(Score {
            points,
            fit: points / 2,
            intent: points - points / 2,
            tier: tier.clone(),
            grade: None,
            qualification: None,
            scored_at: Some(scored),
            reasons: Vec::new(),
        });
        lead.stage = Stage::Scored;
        events.push(timeline::event(
            self.at(scored),
            &id,
            EventKind::Scored,
            "enrich",
            format!("scored {points} ({tier})"),
        ));
        let routed = scored + self.rng.secs(1, 4);
        if !self.route(&mut lead, routed, &mut events) {
            return (lead, events);
        }
        if lead.email().is_some() {
            // Now and then a lost message: the sweep sends the acknowledgement minutes later.
            let delay = if self.rng.chance(0.03) {
                self.rng.secs(150, 400)
            } else {
                self.rng.secs(1, 9)
            };
            // Notify writes the acknowledgement's time on the lead too (the export reads it).
            lead.acknowledged_at = Some(routed + delay);
            events.push(timeline::event(
                self.at(routed + delay),
                &id,
                EventKind::EmailSent,
                "notify",
                "acknowledgement email sent to the lead",
            ));
        }
        let mut contact = self.contact_time(&lead);
        // The ladder, taken step by step until contact (or the end of the history).
        let ladder = config.sla.escalation.clone();
        for _ in 0..12 {
            let Some(next) = lead.sla.as_ref().and_then(|s| s.next_at) else {
                break;
            };
            if next > end || contact.is_some_and(|c| c <= next) {
                break;
            }
            let Some((step, action)) = lead
                .sla
                .as_ref()
                .and_then(|s| sla::due_step(s, &ladder, next))
            else {
                break;
            };
            if action == EscalationAction::Reassign {
                self.clock.set(next);
                match lead.reassign(step, config, next, &self.clock) {
                    Some((Reassigned::ToNextOwner, e)) => {
                        events.push(e);
                        if !self.route(&mut lead, next + Duration::seconds(3), &mut events) {
                            break;
                        }
                        contact = self.contact_time(&lead);
                    }
                    Some((Reassigned::LimitReached, e)) => events.push(e),
                    None => break,
                }
            } else {
                self.clock.set(next);
                match lead.take_escalation_step(step, action, config, next, &self.clock) {
                    Some(e) => events.push(e),
                    None => break,
                }
            }
        }
        let Some(contacted) = contact.filter(|c| *c <= end) else {
            return (lead, events);
        };
        self.clock.set(contacted);
        if let Some(e) = lead.record_first_contact(contacted, &self.clock) {
            events.push(e);
        }
        // What came of it: hotter and faster-answered leads qualify more often.
        let minutes = (contacted - arrived).num_minutes();
        let speed = match minutes {
            m if m < 5 => 1.7,
            m if m < 15 => 1.3,
            m if m < 60 => 1.0,
            m if m < 24 * 60 => 0.7,
            _ => 0.4,
        };
        let base = match config.scoring.tiers.iter().position(|t| t.name == tier) {
            Some(0) => 0.42,
            Some(1) => 0.24,
            _ => 0.10,
        };
        let qualified = contacted + self.rng.secs(3600, 3 * 86_400);
        if self.rng.chance(base * speed) && qualified <= end {
            self.status(
                &mut lead,
                LeadStatus::Qualified,
                None,
                qualified,
                &mut events,
            );
            let converted = qualified + self.rng.secs(2 * 86_400, 14 * 86_400);
            if self.rng.chance(0.45) && converted <= end {
                self.status(
                    &mut lead,
                    LeadStatus::Converted,
                    None,
                    converted,
                    &mut events,
                );
            }
            return (lead, events);
        }
        let later = contacted + self.rng.secs(600, 2 * 86_400);
        if later > end {
            return (lead, events);
        }
        let roll = self.rng.f();
        if roll < 0.45 {
            let reason = self.rng.pick(&config.lifecycle.disqualify_reasons).clone();
            self.status(
                &mut lead,
                LeadStatus::Disqualified,
                Some(reason),
                later,
                &mut events,
            );
        } else if roll < 0.55 {
            self.status(&mut lead, LeadStatus::Nurture, None, later, &mut events);
        }
        (lead, events)
    }
}

/// Generates the history, oldest lead first.
pub fn generate(config: &Config, spec: &Spec) -> Vec<(Lead, Vec<LeadEvent>)> {
    let start = spec.end - Duration::weeks(i64::from(spec.weeks.max(1)));
    let mut rng = Rng(spec.seed);
    let span_days = i64::from(spec.weeks.max(1)) * 7;
    let mut arrivals: Vec<DateTime<Utc>> = (0..spec.leads)
        .map(|_| {
            let mut t = start;
            for _ in 0..3 {
                let day = start + Duration::days(rng.below(span_days as u64) as i64);
                let secs = if rng.chance(0.78) {
                    8 * 3600 + rng.below(10 * 3600) as i64
                } else {
                    rng.below(86_400) as i64
                };
                t = day
                    .with_hour(0)
                    .and_then(|d| d.with_minute(0))
                    .and_then(|d| d.with_second(0))
                    .unwrap_or(day)
                    + Duration::seconds(secs);
                if t.weekday().num_days_from_monday() < 5 || rng.chance(0.3) {
                    break;
                }
            }
            t.min(spec.end - Duration::minutes(1)).max(start)
        })
        .collect();
    arrivals.sort();
    let mut sim = Sim {
        config,
        clock: ManualClock::new(start),
        states: BTreeMap::new(),
        rng,
    };
    let mut away_set = false;
    let mut back_set = false;
    let mut out = Vec::with_capacity(arrivals.len());
    let parked_from = arrivals.len().saturating_sub(2);
    for (i, arrived) in arrivals.into_iter().enumerate() {
        if let Some((owner, from, until)) = &spec.away {
            if let Some(team) = config.team_of(owner) {
                if !away_set && arrived >= *from {
                    away_set = true;
                    sim.states
                        .entry(team.to_owned())
                        .or_default()
                        .owners
                        .entry(owner.clone())
                        .or_default()
                        .away_until = Some(*until);
                }
                if !back_set && arrived >= *until {
                    back_set = true;
                    if let Some(o) = sim
                        .states
                        .get_mut(team)
                        .and_then(|s| s.owners.get_mut(owner))
                    {
                        o.away_until = None;
                    }
                }
            }
        }
        if i >= parked_from {
            // The newest two: a platform read that cannot succeed, parked for the operator.
            let id = sim.at(arrived).new_id().to_string();
            let mut lead = Lead::new(&id, "meta", &format!("seed-{id}"), arrived);
            lead.stage = Stage::PendingFetch;
            let at = arrived + Duration::minutes(2);
            lead.parked = Some(Parked {
                at,
                step: Step::Enrich,
                reason: "Meta answered 400: the page access token has expired".into(),
                message: None,
            });
            let events = vec![
                timeline::event(
                    sim.at(arrived),
                    &id,
                    EventKind::Captured,
                    "capture",
                    "captured from meta (ids only)",
                ),
                timeline::event(
                    sim.at(at),
                    &id,
                    EventKind::Parked,
                    "enrich",
                    "parked: Meta answered 400: the page access token has expired",
                ),
            ];
            out.push((lead, events));
            continue;
        }
        let end = spec.end;
        out.push(sim.one(i, arrived, end));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{build, Params};
    use crate::test_support::config;

    #[test]
    fn the_sample_history_has_breaches_conversions_an_absence_and_parked_leads() {
        let cfg = config();
        let end: DateTime<Utc> = "2026-03-30T12:00:00Z".parse().unwrap();
        let spec = Spec::realistic(&cfg, end, 6, 1500);
        let (away, from, until) = spec.away.clone().unwrap();
        let h = generate(&cfg, &spec);
        assert_eq!(h.len(), 1500);
        let r = build(
            &h,
            &cfg,
            &Params {
                since: end - Duration::weeks(6),
                until: end,
                now: end,
                team: None,
                owner: None,
                source: None,
            },
            None,
        );
        assert!(r.sla.overall.breached > 0 && r.sla.overall.met > r.sla.overall.breached);
        assert!(r.sla.overall.reminders > 0 && r.sla.overall.escalations > 0);
        assert!(r.funnel.overall.steps[2].reached > 0, "some conversions");
        assert!(r.leads > r.real_leads, "some spam and test");
        assert_eq!(r.now.stuck.len(), 2);
        // The absent owner gets nothing in their week away, and is routed again after.
        let week = crate::report::facts::iso_week(from + Duration::days(3));
        let during = r
            .fairness
            .weekly
            .iter()
            .find(|w| w.owner == away && w.week == week)
            .unwrap();
        assert_eq!(during.assigned, 0);
        let after = crate::report::facts::iso_week(until + Duration::days(3));
        assert!(r
            .fairness
            .weekly
            .iter()
            .any(|w| w.owner == away && w.week == after && w.assigned > 0));
        let skipped = r.fairness.owners.iter().find(|o| o.owner == away).unwrap();
        assert!(skipped.skipped.get("away").copied().unwrap_or(0) > 0);
    }
}
