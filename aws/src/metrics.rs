//! The pipeline's metrics, one plain function per thing measured. The handlers call these
//! with the outcome the domain decided; in a Lambda they become CloudWatch Embedded Metric
//! Format lines on stdout (namespace [`NAMESPACE`]), written once per invocation by
//! [`crate::lambda`] before the answer goes back (a Lambda may be frozen right after it).
//! Anywhere else (the local runner, the tests calling handlers in-process) no recorder is
//! installed and they cost nothing.
//!
//! Dimensions never carry a person's data: only a configured source's name, a refusal's code,
//! a team's name, a route's path, an email's kind, a step and a function's name. The table of
//! metrics is in docs/operating.md.

use std::time::Duration;

use ::metrics::{counter, histogram};

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "Leadrelay";

/// A delivery or item became a new lead.
pub fn lead_captured(source: &str) {
    counter!("LeadsCaptured", "Source" => source.to_owned()).increment(1);
}

/// A delivery refused, with its reason as the answer's error code (`unauthorized`,
/// `malformed_body`, `rate_limited`, ...). `source` must be a configured source's name: an
/// unknown one is counted as `unknown`, so a caller cannot mint dimension values.
pub fn lead_refused(source: &str, reason: &'static str) {
    counter!("LeadsRefused", "Source" => source.to_owned(), "Reason" => reason).increment(1);
}

/// The source name for a refusal of a source that is not configured.
pub const UNKNOWN_SOURCE: &str = "unknown";

/// The acknowledgement email left, this long after the lead arrived (speed to lead).
pub fn arrival_to_acknowledged(elapsed: Duration) {
    histogram!("ArrivalToAcknowledgedMs").record(millis(elapsed));
}

/// The lead got its owner, this long after it arrived.
pub fn arrival_to_assigned(elapsed: Duration) {
    histogram!("ArrivalToAssignedMs").record(millis(elapsed));
}

/// A lead routed to `team` by `via` (`account`, `rule`, `fallback`, or `unassigned` when
/// nobody could take it).
pub fn lead_routed(team: &str, via: &'static str) {
    counter!("LeadsRouted", "Team" => team.to_owned(), "Via" => via).increment(1);
}

/// An escalation step taken (`reminder`, `escalation`, `reassign`).
pub fn sla_step(step: &'static str) {
    counter!("SlaSteps", "Step" => step).increment(1);
}

/// An email sent, by kind (`acknowledgement`, `assignment`, `reminder`, `escalation`,
/// `unassigned`).
pub fn email_sent(kind: &'static str) {
    counter!("EmailsSent", "Kind" => kind).increment(1);
}

/// An email SES would not take, by kind.
pub fn email_failed(kind: &'static str) {
    counter!("EmailsFailed", "Kind" => kind).increment(1);
}

/// Leads an escalation pass could not handle (they stay due for the next pass), and index
/// items it could not read.
pub fn escalation_failures(count: usize) {
    if count > 0 {
        counter!("EscalationFailures").increment(count as u64);
    }
}

/// The sweep sent a stalled lead on again to `step` (`enrich`, `route`, `notify`).
pub fn sweep_resent(step: &'static str) {
    counter!("SweepResent", "Step" => step).increment(1);
}

/// A message failed for good and its lead was parked at `step` instead of going round into
/// a dead-letter queue.
pub fn lead_parked(step: &'static str) {
    counter!("LeadsParked", "Step" => step).increment(1);
}

/// A queue message failed and goes back to its queue (after its receives, to the dead-letter
/// queue), by queue.
pub fn message_failed(queue: &'static str) {
    counter!("MessagesFailed", "Queue" => queue).increment(1);
}

/// The first invocation of a new execution environment.
pub fn cold_start(function: &'static str) {
    counter!("ColdStart", "Function" => function).increment(1);
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The units CloudWatch shows, declared once (by the Lambda glue, which installs the recorder).
#[cfg(feature = "lambda")]
pub(crate) fn describe() {
    use ::metrics::Unit;
    for name in [
        "LeadsCaptured",
        "LeadsRefused",
        "LeadsRouted",
        "SlaSteps",
        "EmailsSent",
        "EmailsFailed",
        "SweepResent",
        "LeadsParked",
        "MessagesFailed",
        "EscalationFailures",
        "ColdStart",
    ] {
        ::metrics::describe_counter!(name, Unit::Count, "");
    }
    for name in ["ArrivalToAcknowledgedMs", "ArrivalToAssignedMs"] {
        ::metrics::describe_histogram!(name, Unit::Milliseconds, "");
    }
}
