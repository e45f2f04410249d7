//! Every way a lead moves on: one pure function each, over the lead and plain inputs, returning
//! the timeline events the move leaves. Handlers load a lead, call one of these, save the lead
//! with a conditional write, and only then send; a lost write means reading again and calling
//! again, so each transition decides on the lead as stored.
//!
//! | transition                     | who calls it            | stage / status                |
//! |--------------------------------|-------------------------|-------------------------------|
//! | [`Lead::apply_fetched`]        | enrich                  | pending_fetch → captured      |
//! | [`Lead::score`]                | enrich                  | captured → scored (or rescore)|
//! | [`Lead::assign`]               | route                   | scored → routed, SLA started  |
//! | [`Lead::leave_unassigned`]     | route                   | scored → unassigned           |
//! | [`Lead::record_first_contact`] | the contacted link      | new → working, SLA stopped    |
//! | [`Lead::take_escalation_step`] | escalate                | a ladder step recorded        |
//! | [`Lead::reassign`]             | escalate                | routed → scored, next round   |
//!
//! Joining a repeat submission is [`crate::identity::join`]; status changes from a CRM or the
//! operator are [`crate::lifecycle`]; recycling a nurtured lead is [`crate::lifecycle::recycle`].

use chrono::{DateTime, SecondsFormat, Utc};

use crate::attribution;
use crate::clock::Clock;
use crate::company::{self, LookupResult};
use crate::config::Config;
use crate::email_context::distance;
use crate::enrichment;
use crate::lead::{Assignment, EscalationAction, EventKind, Lead, LeadEvent, LeadStatus, Stage};
use crate::lifecycle;
use crate::platforms::PlatformLead;
use crate::routing::{Decision, Unroutable};
use crate::scoring;
use crate::sla;
use crate::timeline;

/// A company lookup made for this lead before the transition (lookups are I/O; the
/// transition is not).
#[derive(Debug, Clone)]
pub struct CompanyAnswer {
    pub domain: String,
    pub result: LookupResult,
    /// Served from the cache rather than the provider.
    pub cached: bool,
}

/// What [`Lead::reassign`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reassigned {
    /// Taken from its owner: to be routed again in a new round.
    ToNextOwner,
    /// Passed on as often as allowed: the step is recorded as skipped, the ladder goes on.
    LimitReached,
}

impl Lead {
    /// The country a national phone number of this lead belongs to when the lead's own
    /// `country` names none (that one is read first, by enrich and identity): see
    /// [`Lead::phone_region_or`], with the source's `default_country` last.
    pub fn phone_country(&self, config: &Config) -> Option<String> {
        let default = config
            .source(&self.source)
            .and_then(|s| s.default_country.as_deref());
        self.phone_region_or(default)
    }

    /// Where the form ran, most specific first (docs/platforms.md, "Phone numbers"): the
    /// country the platform gives for this lead, then the region of a locale the submission
    /// carries ([`Lead::locale_region`]), then `default` (the source's `default_country`).
    pub fn phone_region_or(&self, default: Option<&str>) -> Option<String> {
        self.phone_country_hint
            .clone()
            .or_else(|| self.locale_region())
            .or_else(|| default.map(str::to_owned))
    }

    /// A lead the platform delivered as ids only, completed with the details read from the
    /// platform's API. `None` when it is not waiting for them (already fetched).
    pub fn apply_fetched(&mut self, details: PlatformLead, clock: &dyn Clock) -> Option<LeadEvent> {
        if self.stage != Stage::PendingFetch {
            return None;
        }
        let mut d = details;
        if let Some(page) = &d.landing_page {
            attribution::params_in_url(page).fill_missing(&mut d.utm, &mut d.click_ids);
        }
        self.fields = d.fields;
        self.attributes.extend(d.custom);
        if let Some(consent) = d.consent {
            self.attributes
                .insert("consent".into(), consent.to_string());
        }
        self.utm.extend(d.utm);
        self.click_ids.extend(d.click_ids);
        if let Some(touch) = self.attribution.as_mut() {
            touch.utm = self.utm.clone();
            touch.click_ids = self.click_ids.clone();
            touch.landing_page = touch.landing_page.take().or(d.landing_page);
            touch.referrer = touch.referrer.take().or(d.referrer);
            touch.at = d.submitted_at.unwrap_or(touch.at);
        }
        for (k, v) in d.campaign {
            self.campaign.entry(k).or_insert(v);
        }
        self.phone_country_hint = d.phone_country_hint.or(self.phone_country_hint.take());
        self.submitted_at = self.submitted_at.or(d.submitted_at);
        self.is_test |= d.is_test;
        self.stage = Stage::Captured;
        self.bound();
        Some(timeline::event(
            clock,
            &self.lead_id,
            EventKind::Fetched,
            "enrich",
            format!("details fetched from {}", self.source),
        ))
    }

    /// Whether a stored lead goes on to enrich: captured ones, pending ones (enrich reads their
    /// details first) and ones a repeat submission joined (for a new score); never spam or
    /// test leads.
    pub fn moves_on_to_enrich(&self) -> bool {
        !self.is_quarantined()
            && (matches!(self.stage, Stage::Captured | Stage::PendingFetch) || self.needs_rescore)
    }

    /// Whether [`Lead::score`] has work to do: a captured lead, or one a repeat submission
    /// asked to be scored again. Test, spam and pending leads are never scored.
    pub fn wants_score(&self) -> bool {
        !self.is_quarantined()
            && (self.stage == Stage::Captured
                || (self.stage >= Stage::Scored && self.needs_rescore))
    }

    /// Normalises the lead, applies the company answer, and scores it. Returns the events and
    /// whether the lead moves on to routing (a lead already routed keeps its owner); `None`
    /// when there is nothing to score ([`Lead::wants_score`]).
    pub fn score(
        &mut self,
        company: Option<&CompanyAnswer>,
        config: &Config,
        now: DateTime<Utc>,
        clock: &dyn Clock,
    ) -> Option<(Vec<LeadEvent>, bool)> {
        if !self.wants_score() {
            return None;
        }
        let rescoring = self.stage >= Stage::Scored;
        let default_country = self.phone_country(config);
        let mut e = enrichment::enrich(
            &self.fields,
            default_country.as_deref(),
            &config.enrichment.free_email_domains,
        );
        let mut events = Vec::new();
        if let Some(c) = company.filter(|c| e.company_domain.as_deref() == Some(c.domain.as_str()))
        {
            company::apply(&mut e, &self.fields, &c.result);
            let kind = if c.result.is_ok() {
                EventKind::Enriched
            } else {
                EventKind::EnrichmentFailed
            };
            events.push(timeline::event(
                clock,
                &self.lead_id,
                kind,
                "enrich",
                company::summary(&c.result, c.cached),
            ));
        }
        self.enrichment = Some(e);
        let score = scoring::score(self, &config.scoring, now);
        let reasons: Vec<String> = score.reasons.iter().map(|r| r.to_string()).collect();
        let summary = format!(
            "{} {} ({}; fit {}, intent {}){}{}",
            if rescoring {
                "scored again after a repeat submission:"
            } else {
                "scored"
            },
            score.points,
            score.tier,
            score.fit,
            score.intent,
            if reasons.is_empty() { "" } else { ": " },
            reasons.join(", ")
        );
        self.score = Some(score);
        self.needs_rescore = false;
        let forward = self.stage <= Stage::Scored;
        self.stage = self.stage.max(Stage::Scored);
        events.push(timeline::event(
            clock,
            &self.lead_id,
            EventKind::Scored,
            "enrich",
            summary,
        ));
        Some((events, forward))
    }

    /// Gives the lead the owner routing chose and starts its SLA clock, at the lead's arrival
    /// (invariant 5 in docs/architecture.md) or, in a later round, when that round began;
    /// counted on the owner's or team's business hours when they have a calendar.
    pub fn assign(
        &mut self,
        decision: &Decision<'_>,
        config: &Config,
        now: DateTime<Utc>,
        clock: &dyn Clock,
    ) -> LeadEvent {
        let reason = decision.reason();
        let owner = decision.owner;
        let assignment = Assignment {
            owner_id: owner.id.clone(),
            owner_name: owner.name.clone(),
            owner_email: owner.email.clone(),
            manager_email: owner.manager_email.clone(),
            team: decision.team.clone(),
            reason: reason.clone(),
            assigned_at: now,
        };
        let score = self.score.as_ref();
        let tier = score.map(|s| s.tier.as_str()).unwrap_or_default();
        let grade = score.and_then(|s| s.grade.as_deref());
        // Validation guarantees a target per tier; the shortest is the safe default regardless.
        let target = config
            .sla_target(&assignment.team, grade, tier)
            .or_else(|| config.sla.targets.values().min().copied())
            .unwrap_or_default();
        let calendar = config.calendar_for(&assignment.team, &assignment.owner_id);
        let time: &dyn sla::WorkingTime = match calendar {
            Some(c) => c,
            None => &sla::WallClock,
        };
        let clock_state = sla::start(self.clock_starts_at(), target, &config.sla.escalation, time);
        let due = clock_state
            .due_at
            .to_rfc3339_opts(SecondsFormat::Secs, true);
        self.sla = Some(clock_state);
        self.assignment = Some(assignment);
        self.stage = Stage::Routed;
        // This round's emails are still to go: the sweep watches for them afresh.
        self.notified = false;
        self.retries = None;
        timeline::event(
            clock,
            &self.lead_id,
            EventKind::Routed,
            "route",
            format!("assigned to {}: {reason}; SLA due {due}", owner.id),
        )
    }

    /// Nobody could take the lead: it waits, unassigned, and the team's manager is told.
    pub fn leave_unassigned(&mut self, why: &Unroutable, clock: &dyn Clock) -> LeadEvent {
        self.stage = Stage::Unassigned;
        self.notified = false;
        self.retries = None;
        timeline::event(
            clock,
            &self.lead_id,
            EventKind::Unassigned,
            "route",
            format!("no owner: {}; manager of team {} told", why.why, why.team),
        )
    }

    /// The owner says they have contacted the lead: the SLA clock stops at every level and a
    /// `new` lead becomes `working` (the lifecycle's own move). `None` when contact was
    /// already recorded, or the lead has no running clock.
    pub fn record_first_contact(
        &mut self,
        now: DateTime<Utc>,
        clock: &dyn Clock,
    ) -> Option<LeadEvent> {
        let sla_clock = self.sla.as_mut().filter(|c| c.is_open())?;
        sla::stop(sla_clock, now);
        let before = self.status;
        // Only a `new` lead moves: contact with a lead already further along (working again
        // after nurture, say) changes nothing but the clock.
        if before == LeadStatus::New {
            let to_working = lifecycle::StatusChange {
                to: LeadStatus::Working,
                reason: None,
                recycle_at: None,
            };
            if lifecycle::check(self, &to_working, &[], now).is_ok() {
                lifecycle::apply(self, &to_working, now);
            }
        }
        let owner = self
            .assignment
            .as_ref()
            .map(|a| a.owner_id.as_str())
            .unwrap_or("owner");
        let minutes = (now - self.received_at).num_minutes();
        Some(
            timeline::event(
                clock,
                &self.lead_id,
                EventKind::Contacted,
                &format!("owner:{owner}"),
                format!("first contact recorded {minutes} min after arrival; SLA clock stopped"),
            )
            .changing(before.as_str(), self.status.as_str()),
        )
    }

    /// Records the ladder step `step` (a reminder or a manager alert) as taken, if it is still
    /// the one due: contact may have come in since the pass read the lead. Reassignment is
    /// [`Lead::reassign`].
    pub fn take_escalation_step(
        &mut self,
        step: usize,
        action: EscalationAction,
        config: &Config,
        now: DateTime<Utc>,
        clock: &dyn Clock,
    ) -> Option<LeadEvent> {
        let ladder = &config.sla.escalation;
        let sla_clock = self.sla.as_mut()?;
        if action == EscalationAction::Reassign
            || sla::due_step(sla_clock, ladder, now) != Some((step, action))
        {
            return None;
        }
        sla::record_step(sla_clock, ladder, step, now);
        let late = late(sla_clock, now);
        let owner = self
            .assignment
            .as_ref()
            .map(|a| a.owner_id.as_str())
            .unwrap_or("-");
        let team = self
            .assignment
            .as_ref()
            .map(|a| a.team.as_str())
            .unwrap_or("-");
        let (kind, summary) = match action {
            EscalationAction::RemindOwner => (
                EventKind::Reminded,
                format!("owner {owner} reminded; not contacted yet"),
            ),
            EscalationAction::NotifyManager => (
                EventKind::Escalated,
                format!("escalated to the manager of {owner}: {late} past the SLA without contact"),
            ),
            EscalationAction::NotifyTeamManager => (
                EventKind::Escalated,
                format!(
                    "escalated to the manager of team {team}: {late} past the SLA without contact"
                ),
            ),
            EscalationAction::Reassign => return None,
        };
        Some(timeline::event(
            clock,
            &self.lead_id,
            kind,
            "escalate",
            summary,
        ))
    }

    /// The owner let the lead lapse: it goes back to be routed to the next available owner of
    /// the team (never back to anyone who had it) with a fresh clock in a new round — unless
    /// it has been passed on `max_reassignments` times, when the step is recorded as skipped.
    /// `None` when the step `step` is no longer the one due.
    pub fn reassign(
        &mut self,
        step: usize,
        config: &Config,
        now: DateTime<Utc>,
        clock: &dyn Clock,
    ) -> Option<(Reassigned, LeadEvent)> {
        let ladder = &config.sla.escalation;
        let max = config.sla.max_reassignments as usize;
        let sla_clock = self.sla.as_mut()?;
        if sla::due_step(sla_clock, ladder, now) != Some((step, EscalationAction::Reassign)) {
            return None;
        }
        let late = late(sla_clock, now);
        let hops = self.previous_owners.len();
        if hops >= max {
            sla::record_step(sla_clock, ladder, step, now);
            let e = timeline::event(
                clock,
                &self.lead_id,
                EventKind::Escalated,
                "escalate",
                format!("not reassigned: already passed on {hops} time(s), the most allowed"),
            );
            return Some((Reassigned::LimitReached, e));
        }
        let owner = self.assignment.take()?;
        self.previous_owners.push(owner.owner_id.clone());
        self.stage = Stage::Scored;
        self.sla = None;
        self.round += 1;
        self.round_started_at = Some(now);
        let e = timeline::event(
            clock,
            &self.lead_id,
            EventKind::Reassigned,
            "escalate",
            format!(
                "{} let it lapse ({late} past the SLA without contact): reassigning in team {}, hop {} of {max}",
                owner.owner_id,
                owner.team,
                hops + 1
            ),
        )
        .changing(owner.owner_id.as_str(), "");
        Some((Reassigned::ToNextOwner, e))
    }
}

/// How late a lead is, in the words the emails use ("12 minutes", "3 hours 5 minutes").
fn late(clock: &crate::lead::SlaState, now: DateTime<Utc>) -> String {
    distance((now - clock.due_at).num_minutes().max(0))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::clock::ManualClock;
    use crate::routing::{self, Situation};
    use crate::test_support::{config, lead};

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    /// A scored lead, routed by the local configuration's rules at `now`.
    fn routed(config: &Config, now: DateTime<Utc>, clock: &ManualClock) -> Lead {
        let mut l = lead();
        assert!(l.score(None, config, now, clock).is_some());
        let states = BTreeMap::new();
        let situation = Situation {
            now,
            states: &states,
            account: None,
        };
        let decision = routing::decide(&l, config, &situation).expect("the local config routes");
        l.assign(&decision, config, now, clock);
        l
    }

    #[test]
    fn assigning_starts_the_sla_clock_at_arrival_not_at_routing() {
        let config = config();
        let now = at("2026-03-02T10:05:00Z");
        let clock = ManualClock::new(now);
        let l = routed(&config, now, &clock);
        assert_eq!(l.stage, Stage::Routed);
        let sla = l.sla.as_ref().expect("clock started");
        assert_eq!(sla.started_at, l.received_at);
        assert!(sla.due_at > l.received_at);
        assert_eq!(l.assignment.as_ref().unwrap().assigned_at, now);
    }

    #[test]
    fn first_contact_moves_a_new_lead_to_working_once() {
        let config = config();
        let now = at("2026-03-02T10:05:00Z");
        let clock = ManualClock::new(now);
        let mut l = routed(&config, now, &clock);
        let later = now + chrono::Duration::minutes(3);
        let e = l
            .record_first_contact(later, &clock)
            .expect("the clock was running");
        assert_eq!(e.kind, EventKind::Contacted);
        assert_eq!(
            (e.before.as_deref(), e.after.as_deref()),
            (Some("new"), Some("working"))
        );
        assert_eq!(l.status, LeadStatus::Working);
        assert!(!l.sla.as_ref().unwrap().is_open());
        assert_eq!(l.record_first_contact(later, &clock), None);
    }

    #[test]
    fn captured_pending_and_joined_leads_move_on_to_enrich_but_spam_never_does() {
        let mut l = lead();
        assert!(l.moves_on_to_enrich());
        l.stage = Stage::PendingFetch;
        assert!(l.moves_on_to_enrich());
        l.stage = Stage::Routed;
        assert!(!l.moves_on_to_enrich());
        l.needs_rescore = true;
        assert!(l.moves_on_to_enrich());
        l.is_spam = true;
        assert!(!l.moves_on_to_enrich());
    }

    #[test]
    fn test_and_spam_leads_are_never_scored() {
        let config = config();
        let clock = ManualClock::new(at("2026-03-02T10:00:00Z"));
        let mut l = lead();
        l.is_spam = true;
        assert_eq!(l.score(None, &config, clock.now(), &clock), None);
        assert_eq!(l.stage, Stage::Captured);
    }

    #[test]
    fn details_are_applied_only_to_a_lead_waiting_for_them() {
        let clock = ManualClock::new(at("2026-03-02T10:00:00Z"));
        let mut l = lead();
        l.stage = Stage::PendingFetch;
        let details = PlatformLead {
            fields: crate::lead::LeadFields {
                email: Some("sofia@example.com".into()),
                ..Default::default()
            },
            consent: Some(true),
            ..Default::default()
        };
        let e = l.apply_fetched(details.clone(), &clock).expect("pending");
        assert_eq!(e.kind, EventKind::Fetched);
        assert_eq!(l.stage, Stage::Captured);
        assert_eq!(l.fields.email.as_deref(), Some("sofia@example.com"));
        assert_eq!(
            l.attributes.get("consent").map(String::as_str),
            Some("true")
        );
        assert_eq!(l.apply_fetched(details, &clock), None);
    }

    /// A national number, and everything that may say where it was written, one layer at a
    /// time from the most general: the source's default, a locale, the platform's country, the
    /// lead's own country.
    #[test]
    fn a_national_phone_takes_its_region_from_the_most_specific_word_on_where_the_form_ran() {
        let config = config();
        let e164 = |l: &Lead| {
            let region = l.phone_country(&config);
            crate::enrichment::enrich(&l.fields, region.as_deref(), &[]).phone
        };
        let mut l = lead();
        l.source = "tally".into();
        l.fields.phone = Some("0664 1234567".into());
        assert_eq!(
            l.phone_country(&config),
            None,
            "tally has no default_country"
        );
        l.source = "form".into();
        assert_eq!(
            l.phone_country(&config).as_deref(),
            Some("DE"),
            "the source's default"
        );
        l.attributes.insert("locale".into(), "de-AT".into());
        assert_eq!(
            l.phone_country(&config).as_deref(),
            Some("AT"),
            "the locale beats it"
        );
        assert_eq!(e164(&l).as_deref(), Some("+436641234567"));
        l.phone_country_hint = Some("CH".into());
        assert_eq!(
            l.phone_country(&config).as_deref(),
            Some("CH"),
            "the platform's word"
        );
        l.fields.country = Some("Austria".into());
        assert_eq!(
            e164(&l).as_deref(),
            Some("+436641234567"),
            "the lead's own country beats them all"
        );
        // A bare language says nothing about the country.
        let mut bare = lead();
        bare.source = "form".into();
        bare.attributes.insert("language".into(), "en".into());
        assert_eq!(bare.phone_country(&config).as_deref(), Some("DE"));
        assert_eq!(bare.phone_region_or(None), None);
    }

    #[test]
    fn the_platforms_country_beats_the_sources_default_for_phones() {
        let config = config();
        let mut l = lead();
        l.source = "form".into();
        assert_eq!(l.phone_country(&config).as_deref(), Some("DE"));
        l.phone_country_hint = Some("PT".into());
        assert_eq!(l.phone_country(&config).as_deref(), Some("PT"));
    }
}
