//! The backstop's decisions, as plain values: whether a form or account is due, which window
//! of creation times to ask the platform for, and where its watermark moves after the answer.
//!
//! The watermark of a (source, form or account) is the end of the last window whose leads were
//! all durably admitted. The next poll asks from the watermark less the overlap (leads a
//! platform makes visible late), never further back than the platform serves leads; the first
//! poll asks `first_lookback` back. A poll that failed anywhere leaves the watermark where it
//! was, so the next poll asks again from there: a lead is never skipped.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::clock::span;

/// What is stored per (source, form or account).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Watermark {
    /// Every lead created before this was admitted.
    pub through: DateTime<Utc>,
    /// When the last poll ran, whatever became of it.
    pub polled_at: DateTime<Utc>,
    /// Why the last poll failed, when it did (no personal data: a status, a parser's words).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The creation times one poll asks for: `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// How one form or account is polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub every: Duration,
    pub first_lookback: Duration,
    pub overlap: Duration,
    /// The oldest lead the platform still serves.
    pub retrievable_for: Duration,
}

/// Whether a poll is due: never polled, or `every` has passed since the last one.
pub fn is_due(last: Option<&Watermark>, schedule: &Schedule, now: DateTime<Utc>) -> bool {
    match last {
        None => true,
        Some(w) => now >= w.polled_at + span(schedule.every),
    }
}

/// The window the next poll asks for at `now`.
pub fn window(last: Option<&Watermark>, schedule: &Schedule, now: DateTime<Utc>) -> Window {
    let oldest = now - span(schedule.retrievable_for);
    let from = match last {
        Some(w) => w.through - span(schedule.overlap),
        None => now - span(schedule.first_lookback),
    };
    Window {
        from: from.max(oldest).min(now),
        to: now,
    }
}

/// The watermark after a poll of `window` at `now`: moved to the window's end when every lead
/// in it was admitted, else left where it was (only the time of the poll and the error move).
pub fn after_poll(
    last: Option<&Watermark>,
    window: &Window,
    now: DateTime<Utc>,
    outcome: Result<(), String>,
) -> Option<Watermark> {
    match outcome {
        Ok(()) => Some(Watermark {
            // Never backwards, should a clock step back.
            through: last.map_or(window.to, |w| w.through.max(window.to)),
            polled_at: now,
            last_error: None,
        }),
        Err(error) => last.map(|w| Watermark {
            through: w.through,
            polled_at: now,
            last_error: Some(error),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const SCHEDULE: Schedule = Schedule {
        every: Duration::from_secs(900),
        first_lookback: Duration::from_secs(7 * 86_400),
        overlap: Duration::from_secs(3600),
        retrievable_for: Duration::from_secs(60 * 86_400),
    };

    fn mark(through: &str, polled_at: &str) -> Watermark {
        Watermark {
            through: t(through),
            polled_at: t(polled_at),
            last_error: None,
        }
    }

    #[test]
    fn the_first_poll_asks_first_lookback_back() {
        let now = t("2026-03-20T12:00:00Z");
        assert_eq!(
            window(None, &SCHEDULE, now),
            Window {
                from: t("2026-03-13T12:00:00Z"),
                to: now
            }
        );
    }

    #[test]
    fn the_next_poll_asks_from_the_watermark_less_the_overlap() {
        let last = mark("2026-03-20T12:00:00Z", "2026-03-20T12:00:00Z");
        let w = window(Some(&last), &SCHEDULE, t("2026-03-20T12:15:00Z"));
        assert_eq!(w.from, t("2026-03-20T11:00:00Z"));
        assert_eq!(w.to, t("2026-03-20T12:15:00Z"));
    }

    #[test]
    fn a_poll_never_asks_further_back_than_the_platform_serves_leads() {
        let last = mark("2026-01-01T00:00:00Z", "2026-03-20T12:00:00Z");
        let now = t("2026-03-20T12:15:00Z");
        assert_eq!(
            window(Some(&last), &SCHEDULE, now).from,
            now - chrono::Duration::days(60)
        );
    }

    #[test]
    fn a_form_is_due_every_interval_and_at_once_when_never_polled() {
        let last = mark("2026-03-20T12:00:00Z", "2026-03-20T12:00:00Z");
        assert!(is_due(None, &SCHEDULE, t("2026-03-20T12:00:00Z")));
        assert!(!is_due(Some(&last), &SCHEDULE, t("2026-03-20T12:14:59Z")));
        assert!(is_due(Some(&last), &SCHEDULE, t("2026-03-20T12:15:00Z")));
    }

    #[test]
    fn the_watermark_moves_only_after_a_complete_poll() {
        let last = mark("2026-03-20T12:00:00Z", "2026-03-20T12:00:00Z");
        let now = t("2026-03-20T12:15:00Z");
        let w = window(Some(&last), &SCHEDULE, now);
        let ok = after_poll(Some(&last), &w, now, Ok(())).unwrap();
        assert_eq!(ok.through, now);
        assert_eq!(ok.last_error, None);
        let failed = after_poll(Some(&last), &w, now, Err("Meta API answered 503".into())).unwrap();
        assert_eq!(failed.through, last.through, "unchanged");
        assert_eq!(failed.polled_at, now, "the next poll waits its interval");
        assert_eq!(failed.last_error.as_deref(), Some("Meta API answered 503"));
        assert_eq!(
            after_poll(None, &w, now, Err("down".into())),
            None,
            "a first poll that fails leaves no watermark: the next asks first_lookback back again"
        );
    }

    #[test]
    fn a_watermark_never_moves_backwards() {
        let last = mark("2026-03-20T13:00:00Z", "2026-03-20T12:00:00Z");
        let w = Window {
            from: t("2026-03-20T11:00:00Z"),
            to: t("2026-03-20T12:30:00Z"),
        };
        let next = after_poll(Some(&last), &w, t("2026-03-20T12:30:00Z"), Ok(())).unwrap();
        assert_eq!(next.through, t("2026-03-20T13:00:00Z"));
    }
}
