//! What the report needs of one lead, read once from the record and its timeline.

use chrono::{DateTime, Datelike, Utc};

use crate::calendar::BusinessCalendar;
use crate::config::Config;
use crate::lead::{EventKind, Lead, LeadEvent, LeadStatus};

use super::stats::Elapsed;

/// One routing round: who got the lead, when, and who was passed over and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    pub owner: String,
    pub team: Option<String>,
    pub at: DateTime<Utc>,
    /// `(owner, reason)`: "away", "off shift", "at capacity", "inactive", "had it".
    pub skipped: Vec<(String, String)>,
}

/// An SLA step taken, with the owner who held the lead then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub at: DateTime<Utc>,
    pub owner: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub lead: &'a Lead,
    pub arrived: DateTime<Utc>,
    /// The owner and team now (none: never assigned).
    pub owner: Option<&'a str>,
    pub team: Option<&'a str>,
    /// ISO week of the arrival (UTC), "2026-W10".
    pub week: String,
    /// The UTM campaign, else the ad platform's campaign name or id; "(none)".
    pub campaign: String,
    /// Whether an acknowledgement is expected: the lead gave an address and the email was not
    /// skipped on purpose (sent to the same address recently).
    pub ack_expected: bool,
    pub acknowledged: Option<DateTime<Utc>>,
    /// The first assignment.
    pub assigned: Option<DateTime<Utc>>,
    /// First contact: the owner's contacted link, or the first status change off `new`.
    pub contacted: Option<DateTime<Utc>>,
    pub rounds: Vec<Round>,
    pub reminders: Vec<Step>,
    pub escalations: Vec<Step>,
    /// The owner who let the lead lapse, per reassignment.
    pub reassignments: Vec<Step>,
    /// When the lead first entered working, qualified and converted.
    pub entered_working: Option<DateTime<Utc>>,
    pub entered_qualified: Option<DateTime<Utc>>,
    pub entered_converted: Option<DateTime<Utc>>,
    pub reached_working: bool,
    pub reached_qualified: bool,
    pub reached_converted: bool,
    /// The speed-to-lead times, wall clock and business hours, computed once.
    pub times: Times,
}

/// A lead's times to each step: `(wall clock, business hours)`; `None` where the lead is not
/// measured for that step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Times {
    pub acknowledged: Option<(Elapsed, Elapsed)>,
    pub assigned: Option<(Elapsed, Elapsed)>,
    pub contacted: Option<(Elapsed, Elapsed)>,
    pub human: Option<(Elapsed, Elapsed)>,
}

/// The owner a `Routed` event names: route writes "assigned to <owner>: <why>; SLA due …"
/// (`Lead::assign`).
pub fn routed_owner(summary: &str) -> Option<&str> {
    let rest = summary.strip_prefix("assigned to ")?;
    let (owner, _) = rest.split_once(':')?;
    Some(owner.trim())
}

/// Who routing passed over and why, from its trace ("ben skipped: away until …").
pub fn skipped_owners(trace: &str) -> Vec<(String, String)> {
    trace
        .split("; ")
        .filter_map(|step| {
            let (who, why) = step.split_once(" skipped: ")?;
            let who = who.rsplit(' ').next()?.trim();
            let why = if why.starts_with("away") {
                "away"
            } else if why.starts_with("off shift") {
                "off shift"
            } else if why.starts_with("at capacity") {
                "at capacity"
            } else if why.starts_with("inactive") {
                "inactive"
            } else if why.starts_with("already let") {
                "had it"
            } else {
                "other"
            };
            Some((who.to_owned(), why.to_owned()))
        })
        .collect()
}

pub fn iso_week(t: DateTime<Utc>) -> String {
    let w = t.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

pub fn campaign(lead: &Lead) -> String {
    lead.utm
        .get("utm_campaign")
        .or_else(|| lead.campaign.get("campaign_name"))
        .or_else(|| lead.campaign.get("campaign_id"))
        .filter(|c| !c.trim().is_empty())
        .cloned()
        .unwrap_or_else(|| "(none)".to_owned())
}

impl<'a> Facts<'a> {
    pub fn read(lead: &'a Lead, events: &[LeadEvent], config: &Config) -> Facts<'a> {
        let mut f = Facts {
            lead,
            arrived: lead.received_at,
            owner: lead.assignment.as_ref().map(|a| a.owner_id.as_str()),
            team: lead.assignment.as_ref().map(|a| a.team.as_str()),
            week: iso_week(lead.received_at),
            campaign: campaign(lead),
            ack_expected: lead.email().is_some(),
            acknowledged: None,
            assigned: None,
            contacted: None,
            rounds: Vec::new(),
            reminders: Vec::new(),
            escalations: Vec::new(),
            reassignments: Vec::new(),
            entered_working: None,
            entered_qualified: None,
            entered_converted: None,
            reached_working: false,
            reached_qualified: false,
            reached_converted: false,
            times: Times::default(),
        };
        let mut ordered: Vec<&LeadEvent> = events.iter().collect();
        ordered.sort_by(|a, b| (a.at, &a.event_id).cmp(&(b.at, &b.event_id)));
        let mut holder: Option<String> = None;
        let enter = |slot: &mut Option<DateTime<Utc>>, at| {
            if slot.is_none() {
                *slot = Some(at);
            }
        };
        for e in ordered {
            match e.kind {
                EventKind::EmailSent if e.summary.starts_with("acknowledgement email sent") => {
                    enter(&mut f.acknowledged, e.at)
                }
                EventKind::EmailSent
                    if e.summary.starts_with("acknowledgement not sent")
                        && f.acknowledged.is_none() =>
                {
                    f.ack_expected = false;
                }
                EventKind::Routed => {
                    if let Some(owner) = routed_owner(&e.summary) {
                        f.rounds.push(Round {
                            owner: owner.to_owned(),
                            team: config.team_of(owner).map(str::to_owned),
                            at: e.at,
                            skipped: skipped_owners(&e.summary),
                        });
                        holder = Some(owner.to_owned());
                    }
                    enter(&mut f.assigned, e.at);
                }
                EventKind::Reminded => f.reminders.push(Step {
                    at: e.at,
                    owner: holder.clone(),
                }),
                EventKind::Escalated => f.escalations.push(Step {
                    at: e.at,
                    owner: holder.clone(),
                }),
                EventKind::Reassigned => {
                    let from = e.before.clone().filter(|b| !b.is_empty()).or(holder.take());
                    f.reassignments.push(Step {
                        at: e.at,
                        owner: from,
                    });
                }
                EventKind::Contacted => {
                    enter(&mut f.contacted, e.at);
                    if e.after.as_deref() == Some("working") {
                        enter(&mut f.entered_working, e.at);
                    }
                }
                EventKind::StatusChanged => {
                    if e.before.as_deref() == Some("new") {
                        enter(&mut f.contacted, e.at);
                    }
                    match e.after.as_deref() {
                        Some("working") => enter(&mut f.entered_working, e.at),
                        Some("qualified") => enter(&mut f.entered_qualified, e.at),
                        Some("converted") => enter(&mut f.entered_converted, e.at),
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        // A record read without its timeline (or stored before these events): what the lead
        // itself says.
        if f.rounds.is_empty() {
            if let Some(a) = &lead.assignment {
                f.rounds.push(Round {
                    owner: a.owner_id.clone(),
                    team: Some(a.team.clone()),
                    at: a.assigned_at,
                    skipped: skipped_owners(&a.reason),
                });
                if lead.round == 0 {
                    enter(&mut f.assigned, a.assigned_at);
                }
            }
        }
        if let Some(at) = lead.sla.as_ref().and_then(|s| s.contacted_at) {
            enter(&mut f.contacted, at);
        }
        use LeadStatus::*;
        let now = lead.status;
        f.reached_converted = f.entered_converted.is_some() || now == Converted;
        f.reached_qualified =
            f.reached_converted || f.entered_qualified.is_some() || now == Qualified;
        f.reached_working =
            f.reached_qualified || f.entered_working.is_some() || matches!(now, Working | Nurture);
        let cal = f.calendar(config);
        let both = |from, to| {
            Some((
                Facts::elapsed(from, to, None),
                Facts::elapsed(from, to, cal),
            ))
        };
        f.times = Times {
            acknowledged: if f.ack_expected {
                both(f.arrived, f.acknowledged)
            } else {
                None
            },
            assigned: both(f.arrived, f.assigned),
            contacted: both(f.arrived, f.contacted),
            human: f
                .assigned
                .and_then(|a| both(a, f.contacted.map(|c| c.max(a)))),
        };
        f
    }

    /// The calendar the lead's owner works on, else none (every hour counts).
    pub fn calendar<'c>(&self, config: &'c Config) -> Option<&'c BusinessCalendar> {
        config.calendar_for(self.team?, self.owner?)
    }

    /// Time from `from` to `to`, on the wall clock or in the owner's business hours.
    pub fn elapsed(
        from: DateTime<Utc>,
        to: Option<DateTime<Utc>>,
        calendar: Option<&BusinessCalendar>,
    ) -> Elapsed {
        match (to, calendar) {
            (None, _) => Elapsed::Never,
            (Some(to), None) => Elapsed::Secs((to - from).num_seconds().max(0)),
            (Some(to), Some(c)) => {
                Elapsed::Secs(c.business_time_between(from, to).as_secs() as i64)
            }
        }
    }
}
