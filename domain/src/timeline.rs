//! Building timeline events.

use chrono::{DateTime, Utc};

use super::lead::{EventKind, LeadEvent};
use crate::clock::Clock;

pub fn event(
    clock: &dyn Clock,
    lead_id: &str,
    kind: EventKind,
    actor: &str,
    summary: impl Into<String>,
) -> LeadEvent {
    event_at(clock, clock.now(), lead_id, kind, actor, summary)
}

pub fn event_at(
    clock: &dyn Clock,
    at: DateTime<Utc>,
    lead_id: &str,
    kind: EventKind,
    actor: &str,
    summary: impl Into<String>,
) -> LeadEvent {
    LeadEvent {
        lead_id: lead_id.to_owned(),
        event_id: clock.new_id().to_string(),
        at,
        kind,
        actor: actor.to_owned(),
        summary: summary.into(),
        before: None,
        after: None,
        expires_at: None,
    }
}
