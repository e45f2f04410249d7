//! The sweep: every lead on its way to an owner and to its emails is watched, so a lead whose
//! message was lost (a queue that refused it, a function that died, a dead-letter queue, a
//! platform API that was down) is found and sent on again, and a lead that cannot move is
//! parked where the operator sees it: never left behind in silence (invariant 9 in
//! docs/architecture.md).
//!
//! Pure rules over the lead: which step it waits for, when the sweep looks at it, the backoff
//! between retries, parking. The escalation schedule runs the sweep over the `sla-open` index,
//! where [`Lead::sweep_at`] puts every waiting lead.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::clock::Clock;
use crate::config::SweepConfig;
use crate::email_context::distance;
use crate::lead::{EventKind, Lead, LeadEvent, Stage};
use crate::timeline;

/// The stage a lead waits for, named by the function that does it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Details fetched, enriched, scored.
    Enrich,
    /// Given an owner (or left unassigned).
    Route,
    /// The acknowledgement and the assignment emails (or the unassigned alert) sent.
    Notify,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Enrich => "enrich",
            Step::Route => "route",
            Step::Notify => "notify",
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How often a lead has been sent on again for one step, and when the sweep looks next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retries {
    /// The step these retries are for; a lead that moves on starts afresh.
    pub step: Step,
    pub count: u32,
    pub next_at: DateTime<Utc>,
    /// The latest failure, in words with no personal data ("platform answered 503").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// A lead that cannot move until someone changes something (a permanent error): it stays out of
/// the sweep, is listed by `leadrelay stuck`, and `leadrelay stuck --retry` sends it on again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parked {
    pub at: DateTime<Utc>,
    pub step: Step,
    pub reason: String,
    /// The queue message that failed, when one did, to be sent again as it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Why the sweep gives up on a lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    /// Try again at this time.
    At(DateTime<Utc>),
    /// Retrying cannot help any more: parked.
    Parked,
}

use crate::clock::span as chrono;

/// The pause before retry number `count` (1 for the first): the grace, doubled each time, up to
/// the configured maximum.
pub fn backoff(count: u32, config: &SweepConfig) -> Duration {
    let grace = chrono(config.grace);
    let max = chrono(config.max_backoff);
    let factor = 1i32 << count.saturating_sub(1).min(20);
    grace.checked_mul(factor).unwrap_or(max).min(max)
}

impl Lead {
    /// The step the lead waits for: `None` once it has its owner and its emails went out, and
    /// for leads that never move (spam, test, closed).
    pub fn waiting_for(&self) -> Option<Step> {
        if self.is_quarantined() || !self.status.is_open() {
            return None;
        }
        match self.stage {
            Stage::PendingFetch | Stage::Captured => Some(Step::Enrich),
            Stage::Scored => Some(Step::Route),
            Stage::Routed | Stage::Unassigned if !self.notified => Some(Step::Notify),
            Stage::Routed | Stage::Unassigned => None,
        }
    }

    /// When the lead reached the step it waits for.
    pub fn waiting_since(&self) -> DateTime<Utc> {
        match (self.waiting_for(), &self.assignment) {
            (Some(Step::Notify), Some(a)) => a.assigned_at.max(self.clock_starts_at()),
            _ => self.clock_starts_at(),
        }
    }

    /// When the sweep looks at the lead next if it has not moved on by itself: `grace` after it
    /// reached its step, or the next retry after a failure. `None` for a lead not waiting, and a
    /// parked one.
    pub fn sweep_at(&self, grace: std::time::Duration) -> Option<DateTime<Utc>> {
        let step = self.waiting_for()?;
        if self.parked.is_some() {
            return None;
        }
        Some(match &self.retries {
            Some(r) if r.step == step => r.next_at,
            _ => self.waiting_since() + chrono(grace),
        })
    }

    /// The sweep sends the lead on again: counted, and looked at again after a longer pause.
    /// `None` when it is not due (it moved on, or another pass did it).
    pub fn resend(
        &mut self,
        now: DateTime<Utc>,
        config: &SweepConfig,
        clock: &dyn Clock,
    ) -> Option<(Step, Option<LeadEvent>)> {
        if self.sweep_at(config.grace)? > now {
            return None;
        }
        let step = self.waiting_for()?;
        let count = self.count_retry(step, now, None, config);
        // The first retries go on the timeline; after that only every doubling, so a lead
        // retried hourly for days keeps a readable history.
        let event = count.is_power_of_two().then(|| {
            timeline::event(
                clock,
                &self.lead_id,
                EventKind::Resent,
                "sweep",
                format!(
                    "not moved on after {}: sent to {step} again (retry {count})",
                    distance((now - self.waiting_since()).num_minutes())
                ),
            )
        });
        Some((step, event))
    }

    /// Counts a retry of `step` and schedules the next look. Returns the count.
    fn count_retry(
        &mut self,
        step: Step,
        now: DateTime<Utc>,
        error: Option<String>,
        config: &SweepConfig,
    ) -> u32 {
        let count = match &self.retries {
            Some(r) if r.step == step => r.count + 1,
            _ => 1,
        };
        let last_error = error.or_else(|| {
            self.retries
                .as_ref()
                .filter(|r| r.step == step)
                .and_then(|r| r.last_error.clone())
        });
        self.retries = Some(Retries {
            step,
            count,
            next_at: now + backoff(count, config),
            last_error,
        });
        count
    }

    /// A read of the platform's API failed in a way that may pass: retried with backoff for as
    /// long as the platform keeps the lead readable, then parked.
    pub fn fetch_failed(
        &mut self,
        error: &str,
        readable_for: std::time::Duration,
        now: DateTime<Utc>,
        config: &SweepConfig,
        clock: &dyn Clock,
    ) -> (Retry, LeadEvent) {
        if now - self.received_at >= chrono(readable_for) {
            let reason = format!(
                "details not fetched for {}, longer than the platform keeps them: {error}",
                distance((now - self.received_at).num_minutes())
            );
            return (
                Retry::Parked,
                self.park(Step::Enrich, reason, None, now, clock),
            );
        }
        match self.retries.as_mut().filter(|r| r.step == Step::Enrich) {
            // The sweep sent it: that retry is counted and the next one scheduled.
            Some(r) => r.last_error = Some(error.to_owned()),
            None => {
                self.count_retry(Step::Enrich, now, Some(error.to_owned()), config);
            }
        }
        let next = self.retries.as_ref().map_or(now, |r| r.next_at);
        let event = timeline::event(
            clock,
            &self.lead_id,
            EventKind::FetchFailed,
            "enrich",
            format!(
                "details not fetched: {error}; retried in {}",
                distance((next - now).num_minutes())
            ),
        );
        (Retry::At(next), event)
    }

    /// Stops the lead where it is, with the reason on its timeline.
    pub fn park(
        &mut self,
        step: Step,
        reason: String,
        message: Option<String>,
        now: DateTime<Utc>,
        clock: &dyn Clock,
    ) -> LeadEvent {
        let event = timeline::event(
            clock,
            &self.lead_id,
            EventKind::Parked,
            step.as_str(),
            format!(
                "parked at {step}: {reason}; `leadrelay stuck --retry` sends it on after the fix"
            ),
        );
        self.parked = Some(Parked {
            at: now,
            step,
            reason,
            message,
        });
        event
    }

    /// The operator sends a parked lead on again: the sweep watches it afresh. `None` when it
    /// was not parked.
    pub fn unpark(&mut self, actor: &str, clock: &dyn Clock) -> Option<(Parked, LeadEvent)> {
        let parked = self.parked.take()?;
        self.retries = None;
        let event = timeline::event(
            clock,
            &self.lead_id,
            EventKind::Resent,
            actor,
            format!("sent to {} again after being parked", parked.step),
        );
        Some((parked, event))
    }

    /// The acknowledgement went out at `at`. The first time stays: a resend after a lapsed
    /// claim does not move the speed-to-lead figure. `false` when there was nothing to change.
    pub fn mark_acknowledged(&mut self, at: DateTime<Utc>) -> bool {
        if self.acknowledged_at.is_some() {
            return false;
        }
        self.acknowledged_at = Some(at);
        true
    }

    /// Notify sent this round's emails (or found them sent): the lead leaves the sweep.
    /// `false` when there was nothing to change.
    pub fn mark_notified(&mut self, round: u32) -> bool {
        if self.notified || self.round != round {
            return false;
        }
        self.notified = true;
        self.retries = None;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::lead::LeadStatus;
    use crate::test_support::lead;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn config() -> SweepConfig {
        SweepConfig::default()
    }

    const GRACE: std::time::Duration = std::time::Duration::from_secs(120);

    #[test]
    fn a_captured_lead_is_looked_at_a_grace_after_it_arrived() {
        let l = lead();
        assert_eq!(l.waiting_for(), Some(Step::Enrich));
        assert_eq!(l.sweep_at(GRACE), Some(at("2026-03-02T10:02:00Z")));
    }

    #[test]
    fn every_stage_before_the_emails_waits_for_its_function() {
        let mut l = lead();
        l.stage = Stage::PendingFetch;
        assert_eq!(l.waiting_for(), Some(Step::Enrich));
        l.stage = Stage::Scored;
        assert_eq!(l.waiting_for(), Some(Step::Route));
        l.stage = Stage::Routed;
        assert_eq!(l.waiting_for(), Some(Step::Notify));
        l.stage = Stage::Unassigned;
        assert_eq!(l.waiting_for(), Some(Step::Notify));
        l.notified = true;
        assert_eq!(l.waiting_for(), None);
        assert_eq!(l.sweep_at(GRACE), None);
    }

    #[test]
    fn spam_test_and_closed_leads_are_never_swept() {
        let mut spam = lead();
        spam.is_spam = true;
        let mut test = lead();
        test.is_test = true;
        let mut closed = lead();
        closed.status = LeadStatus::Disqualified;
        for l in [spam, test, closed] {
            assert_eq!(l.sweep_at(GRACE), None);
        }
    }

    #[test]
    fn a_resend_backs_off_doubling_up_to_the_maximum() {
        let c = config();
        assert_eq!(backoff(1, &c), Duration::minutes(2));
        assert_eq!(backoff(2, &c), Duration::minutes(4));
        assert_eq!(backoff(5, &c), Duration::minutes(32));
        assert_eq!(backoff(6, &c), Duration::hours(1));
        assert_eq!(backoff(500, &c), Duration::hours(1));
    }

    #[test]
    fn an_absurd_configuration_backs_off_at_most_its_maximum_and_never_overflows() {
        let c = SweepConfig {
            grace: std::time::Duration::from_secs(u64::MAX / 4),
            max_backoff: std::time::Duration::from_secs(u64::MAX / 2),
        };
        let century = Duration::days(36_500);
        assert_eq!(backoff(1, &c), century);
        assert_eq!(backoff(30, &c), century);
        let mut l = lead();
        let clock = ManualClock::new(l.received_at);
        assert!(
            l.resend(l.received_at, &c, &clock).is_none(),
            "not due for a century"
        );
    }

    #[test]
    fn the_sweep_resends_a_due_lead_once_and_looks_again_later() {
        let clock = ManualClock::new(at("2026-03-02T10:02:00Z"));
        let mut l = lead();
        let now = at("2026-03-02T10:01:59Z");
        assert!(l.resend(now, &config(), &clock).is_none(), "not due yet");
        let now = at("2026-03-02T10:02:00Z");
        let (step, event) = l.resend(now, &config(), &clock).unwrap();
        assert_eq!(step, Step::Enrich);
        let event = event.expect("the first retry is on the timeline");
        assert_eq!(event.kind, EventKind::Resent);
        assert!(
            event.summary.contains("sent to enrich again (retry 1)"),
            "{}",
            event.summary
        );
        assert!(
            l.resend(now, &config(), &clock).is_none(),
            "done for this pass"
        );
        assert_eq!(l.sweep_at(GRACE), Some(at("2026-03-02T10:04:00Z")));
        let (_, event) = l
            .resend(at("2026-03-02T10:04:00Z"), &config(), &clock)
            .unwrap();
        assert!(event.is_some(), "retry 2 is a power of two");
        let (_, event) = l
            .resend(at("2026-03-02T10:08:00Z"), &config(), &clock)
            .unwrap();
        assert!(event.is_none(), "retry 3 is not written down");
    }

    #[test]
    fn a_lead_that_moves_on_is_watched_afresh_for_its_next_step() {
        let clock = ManualClock::new(at("2026-03-02T10:02:00Z"));
        let mut l = lead();
        l.resend(at("2026-03-02T10:30:00Z"), &config(), &clock)
            .unwrap();
        l.stage = Stage::Scored;
        // The enrich retries say nothing of route: a grace after the arrival again.
        assert_eq!(l.sweep_at(GRACE), Some(at("2026-03-02T10:02:00Z")));
    }

    #[test]
    fn notify_is_awaited_from_the_assignment_and_ends_with_this_rounds_emails() {
        let mut l = lead();
        l.stage = Stage::Routed;
        l.assignment = Some(crate::test_support::assignment_for(&l));
        l.assignment.as_mut().unwrap().assigned_at = at("2026-03-02T10:10:00Z");
        assert_eq!(l.sweep_at(GRACE), Some(at("2026-03-02T10:12:00Z")));
        assert!(!l.mark_notified(1), "another round's emails");
        assert!(l.mark_notified(0));
        assert!(!l.mark_notified(0), "already");
        assert_eq!(l.sweep_at(GRACE), None);
    }

    #[test]
    fn the_first_acknowledgement_time_stays_when_the_email_goes_again() {
        let mut l = lead();
        assert!(l.mark_acknowledged(at("2026-03-02T10:00:05Z")));
        assert!(!l.mark_acknowledged(at("2026-03-02T10:04:00Z")));
        assert_eq!(l.acknowledged_at, Some(at("2026-03-02T10:00:05Z")));
    }

    #[test]
    fn a_fetch_that_keeps_failing_is_retried_while_the_platform_keeps_the_lead_then_parked() {
        let clock = ManualClock::new(at("2026-03-02T10:00:00Z"));
        let mut l = lead();
        l.stage = Stage::PendingFetch;
        let days = std::time::Duration::from_secs(90 * 86_400);
        let now = at("2026-03-02T10:00:05Z");
        let (retry, event) = l.fetch_failed("platform answered 503", days, now, &config(), &clock);
        assert_eq!(retry, Retry::At(at("2026-03-02T10:02:05Z")));
        assert_eq!(event.kind, EventKind::FetchFailed);
        assert_eq!(l.sweep_at(GRACE), Some(at("2026-03-02T10:02:05Z")));
        assert_eq!(
            l.retries.as_ref().unwrap().last_error.as_deref(),
            Some("platform answered 503")
        );
        let later = at("2026-05-31T10:00:00Z");
        let (retry, event) =
            l.fetch_failed("platform answered 503", days, later, &config(), &clock);
        assert_eq!(retry, Retry::Parked);
        assert_eq!(event.kind, EventKind::Parked);
        assert_eq!(l.sweep_at(GRACE), None, "parked leads are not swept");
        assert_eq!(l.parked.as_ref().unwrap().step, Step::Enrich);
    }

    #[test]
    fn an_unparked_lead_is_swept_again_from_scratch() {
        let clock = ManualClock::new(at("2026-03-02T11:00:00Z"));
        let mut l = lead();
        l.park(
            Step::Enrich,
            "no access token for source meta".into(),
            Some("{\"lead_id\":\"x\"}".into()),
            at("2026-03-02T10:00:00Z"),
            &clock,
        );
        assert_eq!(l.sweep_at(GRACE), None);
        let (parked, event) = l.unpark("operator", &clock).unwrap();
        assert_eq!(parked.message.as_deref(), Some("{\"lead_id\":\"x\"}"));
        assert_eq!(event.actor, "operator");
        assert!(l.sweep_at(GRACE).is_some());
        assert!(l.unpark("operator", &clock).is_none());
    }
}
