//! Speed-to-lead arithmetic: when the clock started, when it is due, and which escalation step
//! falls due when.

use chrono::{DateTime, Duration, Utc};

use crate::config::{EscalationAction, EscalationStep};

use super::lead::{EscalationRecord, SlaState};

/// Starts the clock at the lead's arrival.
pub fn start(
    received_at: DateTime<Utc>,
    target: std::time::Duration,
    ladder: &[EscalationStep],
) -> SlaState {
    let target = to_chrono(target);
    SlaState {
        started_at: received_at,
        due_at: received_at + target,
        next_step: (!ladder.is_empty()).then_some(0),
        next_at: ladder.first().map(|s| step_at(received_at, target, s)),
        contacted_at: None,
        escalations: Vec::new(),
    }
}

fn to_chrono(d: std::time::Duration) -> Duration {
    Duration::from_std(d).unwrap_or(Duration::MAX)
}

fn step_at(started: DateTime<Utc>, target: Duration, step: &EscalationStep) -> DateTime<Utc> {
    let ms = target
        .num_milliseconds()
        .saturating_mul(step.at_percent as i64)
        / 100;
    started + Duration::milliseconds(ms)
}

/// The step to take now, if any: the latest step whose time has come. Earlier steps that are
/// also overdue are passed over (reminding an owner after the manager was told helps no one).
pub fn due_step(
    state: &SlaState,
    ladder: &[EscalationStep],
    now: DateTime<Utc>,
) -> Option<(usize, EscalationAction)> {
    if !state.is_open() {
        return None;
    }
    let first = state.next_step?;
    let target = state.due_at - state.started_at;
    (first..ladder.len())
        .take_while(|&i| step_at(state.started_at, target, &ladder[i]) <= now)
        .last()
        .map(|i| (i, ladder[i].action))
}

/// Records that `step` was taken at `now` and schedules the next one.
pub fn record_step(
    state: &mut SlaState,
    ladder: &[EscalationStep],
    step: usize,
    now: DateTime<Utc>,
) {
    state.escalations.push(EscalationRecord {
        step,
        action: ladder[step].action,
        at: now,
    });
    let target = state.due_at - state.started_at;
    let next = step + 1;
    state.next_step = (next < ladder.len()).then_some(next);
    state.next_at = ladder
        .get(next)
        .map(|s| step_at(state.started_at, target, s));
}

/// First contact stops the clock at every level.
pub fn stop(state: &mut SlaState, at: DateTime<Utc>) {
    state.contacted_at = Some(at);
    state.next_step = None;
    state.next_at = None;
}

#[cfg(test)]
mod tests {
    use super::*;
    use EscalationAction::*;

    fn ladder() -> Vec<EscalationStep> {
        vec![
            EscalationStep {
                at_percent: 50,
                action: RemindOwner,
            },
            EscalationStep {
                at_percent: 100,
                action: NotifyManager,
            },
        ]
    }

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_clock_starts_at_arrival_and_is_due_after_the_target() {
        let s = start(
            t("2026-03-02T10:00:00Z"),
            std::time::Duration::from_secs(3600),
            &ladder(),
        );
        assert_eq!(s.due_at, t("2026-03-02T11:00:00Z"));
        assert_eq!(s.next_at, Some(t("2026-03-02T10:30:00Z")));
    }

    #[test]
    fn steps_fall_due_in_order_and_each_only_once() {
        let l = ladder();
        let mut s = start(
            t("2026-03-02T10:00:00Z"),
            std::time::Duration::from_secs(3600),
            &l,
        );
        assert_eq!(due_step(&s, &l, t("2026-03-02T10:29:59Z")), None);
        assert_eq!(
            due_step(&s, &l, t("2026-03-02T10:30:00Z")),
            Some((0, RemindOwner))
        );
        record_step(&mut s, &l, 0, t("2026-03-02T10:30:00Z"));
        assert_eq!(due_step(&s, &l, t("2026-03-02T10:45:00Z")), None);
        assert_eq!(
            due_step(&s, &l, t("2026-03-02T11:00:00Z")),
            Some((1, NotifyManager))
        );
        record_step(&mut s, &l, 1, t("2026-03-02T11:00:00Z"));
        assert_eq!(due_step(&s, &l, t("2026-03-09T11:00:00Z")), None);
        assert_eq!(s.next_at, None);
        assert_eq!(s.escalations.len(), 2);
    }

    #[test]
    fn a_late_pass_takes_only_the_latest_due_step() {
        let l = ladder();
        let s = start(
            t("2026-03-02T10:00:00Z"),
            std::time::Duration::from_secs(3600),
            &l,
        );
        assert_eq!(
            due_step(&s, &l, t("2026-03-02T12:00:00Z")),
            Some((1, NotifyManager))
        );
    }

    #[test]
    fn first_contact_stops_every_level() {
        let l = ladder();
        let mut s = start(
            t("2026-03-02T10:00:00Z"),
            std::time::Duration::from_secs(3600),
            &l,
        );
        stop(&mut s, t("2026-03-02T10:10:00Z"));
        assert_eq!(due_step(&s, &l, t("2026-03-03T10:00:00Z")), None);
        assert_eq!(s.next_at, None);
    }
}
