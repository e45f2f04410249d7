//! The lead's lifecycle: which status moves are allowed, and what a move does to the lead.
//!
//! ```text
//! new ──► working ──► qualified ──► converted
//!  │         │  │         │
//!  │         │  └──► nurture ──(recycle date)──► new (routed again)
//!  │         └─────► disqualified ◄──┘
//!  └──► disqualified (junk needs no call first)
//! ```

use chrono::{DateTime, Utc};

use super::lead::{Lead, LeadStatus};
use super::sla;

/// A requested status change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub to: LeadStatus,
    /// The disqualification reason code (required for `disqualified`, refused otherwise).
    pub reason: Option<String>,
    /// When a nurtured lead comes back (required for `nurture`, refused otherwise).
    pub recycle_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("a lead cannot go from {from} to {to}")]
    NotAllowed { from: LeadStatus, to: LeadStatus },
    #[error("disqualifying needs a reason code; use one of {0}")]
    ReasonMissing(String),
    #[error("unknown reason code {given:?}; use one of {allowed}")]
    UnknownReason { given: String, allowed: String },
    #[error("only disqualifying takes a reason code")]
    ReasonNotTaken,
    #[error("nurture needs a recycle date in the future")]
    RecycleDateMissing,
    #[error("only nurture takes a recycle date")]
    RecycleDateNotTaken,
    #[error("the lead is already {0}")]
    Unchanged(LeadStatus),
}

/// Whether the lifecycle allows `from` → `to`.
pub fn allowed(from: LeadStatus, to: LeadStatus) -> bool {
    use LeadStatus::*;
    matches!(
        (from, to),
        (New, Working)
            | (New, Disqualified)
            | (Working, Qualified | Nurture | Disqualified | Converted)
            | (Qualified, Converted | Nurture | Disqualified)
            | (Nurture, Working | Disqualified)
    )
}

/// Checks a change against the lifecycle and the configured reason codes.
pub fn check(
    lead: &Lead,
    change: &StatusChange,
    reason_codes: &[String],
    now: DateTime<Utc>,
) -> Result<(), TransitionError> {
    let from = lead.status;
    if from == change.to {
        return Err(TransitionError::Unchanged(from));
    }
    if !allowed(from, change.to) {
        return Err(TransitionError::NotAllowed {
            from,
            to: change.to,
        });
    }
    let allowed_codes = || reason_codes.join(", ");
    match (change.to, change.reason.as_deref()) {
        (LeadStatus::Disqualified, None) => {
            return Err(TransitionError::ReasonMissing(allowed_codes()))
        }
        (LeadStatus::Disqualified, Some(r)) if !reason_codes.iter().any(|c| c == r) => {
            return Err(TransitionError::UnknownReason {
                given: r.to_owned(),
                allowed: allowed_codes(),
            })
        }
        (LeadStatus::Disqualified, Some(_)) | (_, None) => {}
        (_, Some(_)) => return Err(TransitionError::ReasonNotTaken),
    }
    match (change.to, change.recycle_at) {
        (LeadStatus::Nurture, Some(at)) if at > now => {}
        (LeadStatus::Nurture, _) => return Err(TransitionError::RecycleDateMissing),
        (_, Some(_)) => return Err(TransitionError::RecycleDateNotTaken),
        (_, None) => {}
    }
    Ok(())
}

/// Applies a checked change. Any move off `new` is contact (or a decision without one), so
/// the SLA clock stops at every level.
pub fn apply(lead: &mut Lead, change: &StatusChange, now: DateTime<Utc>) {
    lead.status = change.to;
    lead.status_reason = change.reason.clone();
    lead.recycle_at = change.recycle_at;
    if let Some(clock) = lead.sla.as_mut().filter(|c| c.is_open()) {
        sla::stop(clock, now);
    }
}

/// A nurtured lead whose recycle date has come.
pub fn recycle_due(lead: &Lead, now: DateTime<Utc>) -> bool {
    lead.status == LeadStatus::Nurture && lead.recycle_at.is_some_and(|at| at <= now)
}

/// Brings a nurtured lead back: new again, a new routing round starting `now`, its owner and
/// clock cleared so it is scored (intent decayed) and routed afresh. Its history stays.
/// Returns the owner it had.
pub fn recycle(lead: &mut Lead, now: DateTime<Utc>) -> Option<String> {
    let previous = lead.assignment.take().map(|a| a.owner_id);
    lead.status = LeadStatus::New;
    lead.status_reason = None;
    lead.recycle_at = None;
    lead.stage = super::lead::Stage::Captured;
    lead.sla = None;
    lead.round += 1;
    lead.round_started_at = Some(now);
    previous
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::lead;
    use LeadStatus::*;

    fn change(to: LeadStatus) -> StatusChange {
        StatusChange {
            to,
            reason: None,
            recycle_at: None,
        }
    }

    fn codes() -> Vec<String> {
        vec!["no_budget".into(), "competitor".into()]
    }

    #[test]
    fn the_allowed_moves_are_exactly_the_lifecycle() {
        let allowed_moves: Vec<(LeadStatus, LeadStatus)> = LeadStatus::ALL
            .into_iter()
            .flat_map(|a| LeadStatus::ALL.into_iter().map(move |b| (a, b)))
            .filter(|(a, b)| allowed(*a, *b))
            .collect();
        assert_eq!(
            allowed_moves,
            vec![
                (New, Working),
                (New, Disqualified),
                (Working, Qualified),
                (Working, Nurture),
                (Working, Disqualified),
                (Working, Converted),
                (Qualified, Nurture),
                (Qualified, Disqualified),
                (Qualified, Converted),
                (Nurture, Working),
                (Nurture, Disqualified),
            ]
        );
    }

    #[test]
    fn illegal_moves_are_refused_with_both_ends_named() {
        let l = lead();
        let now = l.received_at;
        let e = check(&l, &change(Converted), &codes(), now).unwrap_err();
        assert_eq!(e.to_string(), "a lead cannot go from new to converted");
        let mut done = lead();
        done.status = Converted;
        assert!(matches!(
            check(&done, &change(Working), &codes(), now),
            Err(TransitionError::NotAllowed { .. })
        ));
        assert_eq!(
            check(&l, &change(New), &codes(), now),
            Err(TransitionError::Unchanged(New))
        );
    }

    #[test]
    fn disqualifying_takes_a_configured_reason_code_and_only_it_does() {
        let mut l = lead();
        l.status = Working;
        let now = l.received_at;
        assert!(matches!(
            check(&l, &change(Disqualified), &codes(), now),
            Err(TransitionError::ReasonMissing(_))
        ));
        let mut d = change(Disqualified);
        d.reason = Some("too_small".into());
        assert_eq!(
            check(&l, &d, &codes(), now).unwrap_err().to_string(),
            "unknown reason code \"too_small\"; use one of no_budget, competitor"
        );
        d.reason = Some("competitor".into());
        assert_eq!(check(&l, &d, &codes(), now), Ok(()));
        let mut q = change(Qualified);
        q.reason = Some("competitor".into());
        assert_eq!(
            check(&l, &q, &codes(), now),
            Err(TransitionError::ReasonNotTaken)
        );
    }

    #[test]
    fn nurture_needs_a_future_recycle_date() {
        let mut l = lead();
        l.status = Working;
        let now = l.received_at;
        let mut n = change(Nurture);
        assert_eq!(
            check(&l, &n, &codes(), now),
            Err(TransitionError::RecycleDateMissing)
        );
        n.recycle_at = Some(now - chrono::Duration::days(1));
        assert_eq!(
            check(&l, &n, &codes(), now),
            Err(TransitionError::RecycleDateMissing)
        );
        n.recycle_at = Some(now + chrono::Duration::days(90));
        assert_eq!(check(&l, &n, &codes(), now), Ok(()));
        apply(&mut l, &n, now);
        assert!(!recycle_due(&l, now + chrono::Duration::days(89)));
        assert!(recycle_due(&l, now + chrono::Duration::days(90)));
    }

    #[test]
    fn leaving_new_stops_the_sla_clock() {
        let mut l = lead();
        let now = l.received_at;
        l.sla = Some(sla::start(
            now,
            std::time::Duration::from_secs(3600),
            &[],
            &sla::WallClock,
        ));
        let mut d = change(Disqualified);
        d.reason = Some("no_budget".into());
        apply(&mut l, &d, now + chrono::Duration::minutes(5));
        let clock = l.sla.as_ref().unwrap();
        assert!(!clock.is_open());
        assert_eq!(l.status_reason.as_deref(), Some("no_budget"));
    }

    #[test]
    fn a_recycled_lead_starts_a_new_round_with_no_owner_and_keeps_its_history() {
        let mut l = lead();
        l.status = Nurture;
        l.stage = crate::lead::Stage::Routed;
        l.assignment = Some(crate::test_support::assignment_for(&l));
        l.submissions = 3;
        let now = l.received_at + chrono::Duration::days(90);
        assert_eq!(recycle(&mut l, now), Some("rui".to_string()));
        assert_eq!((l.status, l.round), (New, 1));
        assert_eq!(l.clock_starts_at(), now);
        assert!(l.assignment.is_none() && l.sla.is_none());
        assert_eq!(l.submissions, 3, "history kept");
        // On its way to an owner again: the sweep watches it from the new round's start.
        assert_eq!(
            l.sweep_at(std::time::Duration::from_secs(120)),
            Some(now + chrono::Duration::minutes(2))
        );
    }
}
