//! Speed-to-lead arithmetic: when the clock started, when it is due, and which escalation step
//! falls due when.

use chrono::{DateTime, Duration, Utc};

use crate::config::EscalationStep;
use crate::lead::EscalationAction;

use super::lead::{EscalationRecord, SlaState};

/// How working time is counted: a business-hours calendar, or the plain wall clock.
pub trait WorkingTime {
    /// The instant `working` time after `start`.
    fn add(&self, start: DateTime<Utc>, working: std::time::Duration) -> DateTime<Utc>;
}

/// Every hour counts.
#[derive(Debug, Clone, Copy, Default)]
pub struct WallClock;

impl WorkingTime for WallClock {
    fn add(&self, start: DateTime<Utc>, working: std::time::Duration) -> DateTime<Utc> {
        start + Duration::from_std(working).unwrap_or(Duration::MAX)
    }
}

impl WorkingTime for super::calendar::BusinessCalendar {
    fn add(&self, start: DateTime<Utc>, working: std::time::Duration) -> DateTime<Utc> {
        super::calendar::BusinessCalendar::add(self, start, working)
    }
}

/// Starts the clock at the lead's arrival. The deadline and every escalation step's time are
/// fixed now, in working time, so a later pass only compares instants.
pub fn start(
    received_at: DateTime<Utc>,
    target: std::time::Duration,
    ladder: &[EscalationStep],
    time: &dyn WorkingTime,
) -> SlaState {
    let steps_at: Vec<DateTime<Utc>> = ladder
        .iter()
        .map(|s| time.add(received_at, target.mul_f64(f64::from(s.at_percent) / 100.0)))
        .collect();
    SlaState {
        started_at: received_at,
        due_at: time.add(received_at, target),
        next_step: (!ladder.is_empty()).then_some(0),
        next_at: steps_at.first().copied(),
        contacted_at: None,
        escalations: Vec::new(),
        steps_at,
    }
}

/// When step `i` falls due. Records made before step times were stored fall back to wall-clock
/// arithmetic.
fn step_at(state: &SlaState, ladder: &[EscalationStep], i: usize) -> Option<DateTime<Utc>> {
    if let Some(t) = state.steps_at.get(i) {
        return Some(*t);
    }
    let target = state.due_at - state.started_at;
    let ms = target
        .num_milliseconds()
        .saturating_mul(i64::from(ladder.get(i)?.at_percent))
        / 100;
    Some(state.started_at + Duration::milliseconds(ms))
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
    (first..ladder.len())
        .take_while(|&i| step_at(state, ladder, i).is_some_and(|t| t <= now))
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
    let next = step + 1;
    state.next_step = (next < ladder.len()).then_some(next);
    state.next_at = state.next_step.and_then(|i| step_at(state, ladder, i));
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
            &WallClock,
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
            &WallClock,
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
            &WallClock,
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
            &WallClock,
        );
        stop(&mut s, t("2026-03-02T10:10:00Z"));
        assert_eq!(due_step(&s, &l, t("2026-03-03T10:00:00Z")), None);
        assert_eq!(s.next_at, None);
    }
}

#[cfg(test)]
mod working_time_tests {
    use super::*;
    use crate::lead::EscalationAction::*;

    /// Working time that only counts from 09:00 UTC: enough to see the steps follow it.
    struct FromNine;
    impl WorkingTime for FromNine {
        fn add(&self, start: DateTime<Utc>, working: std::time::Duration) -> DateTime<Utc> {
            let nine = start.date_naive().and_hms_opt(9, 0, 0).unwrap().and_utc();
            start.max(nine) + Duration::from_std(working).unwrap()
        }
    }

    #[test]
    fn the_deadline_and_every_step_are_counted_in_working_time() {
        let ladder = vec![
            EscalationStep {
                at_percent: 50,
                action: RemindOwner,
            },
            EscalationStep {
                at_percent: 100,
                action: NotifyManager,
            },
        ];
        let arrived: DateTime<Utc> = "2026-03-02T07:00:00Z".parse().unwrap();
        let s = start(
            arrived,
            std::time::Duration::from_secs(3600),
            &ladder,
            &FromNine,
        );
        assert_eq!(s.started_at, arrived, "the clock starts at arrival");
        assert_eq!(
            s.due_at,
            "2026-03-02T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            s.steps_at[0],
            "2026-03-02T09:30:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(
            due_step(&s, &ladder, "2026-03-02T09:00:00Z".parse().unwrap()),
            None
        );
    }
}
