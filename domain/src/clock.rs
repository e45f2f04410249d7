//! Time and identity are injected (invariant 8 in docs/architecture.md), so SLA and escalation logic is
//! testable without sleeping and ids sort by creation time.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use ulid::Ulid;

/// The source of "now" for every handler.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;

    /// A new ULID stamped with this clock's time, so ids of things made "at" an injected time
    /// sort where they belong.
    fn new_id(&self) -> Ulid {
        next_id(self.now())
    }
}

/// Monotonic within a millisecond: ids made in the same millisecond sort in the order they were
/// made, so a lead's timeline reads in order even under a frozen test clock. An id made at
/// another millisecond carries exactly that time, even one earlier than the last id made (two
/// tests' clocks, or a clock set back), instead of borrowing the later one.
fn next_id(at: DateTime<Utc>) -> Ulid {
    // The latest id of each of the last few milliseconds ids were made in: several clocks
    // (tests side by side) may take turns.
    static LATEST: Mutex<Vec<Ulid>> = Mutex::new(Vec::new());
    const KEPT: usize = 32;
    let mut latest = LATEST.lock().unwrap_or_else(|e| e.into_inner());
    let when: std::time::SystemTime = at.into();
    let fresh = Ulid::from_datetime(when);
    let same_ms = latest
        .iter()
        .position(|u| u.timestamp_ms() == fresh.timestamp_ms());
    let id = match same_ms {
        // Overflow takes 2^80 ids in one millisecond; a fresh random id regardless.
        Some(i) => latest.remove(i).increment().unwrap_or(fresh),
        None => fresh,
    };
    if latest.len() >= KEPT {
        latest.remove(0);
    }
    latest.push(id);
    id
}

/// A configured period as a time span, capped at a century: any date plus it, or it doubled a
/// few times, stays far from chrono's limits, so no arithmetic on it can overflow (and panic).
pub fn span(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d)
        .unwrap_or(chrono::Duration::MAX)
        .min(chrono::Duration::days(36_500))
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to: for tests and for `leadrelay escalate --now`.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(at)))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The wall clock moved by an offset: real time passing, plus jumps ahead on demand (the demo
/// shows an SLA breach without waiting for it).
#[derive(Debug, Clone, Default)]
pub struct ShiftedClock(Arc<Mutex<chrono::Duration>>);

impl ShiftedClock {
    pub fn shift(&self, by: chrono::Duration) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) += by;
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub type SharedClock = Arc<dyn Clock>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_a_manual_clock_carry_its_time() {
        let at: DateTime<Utc> = "2026-03-01T10:00:00Z".parse().unwrap();
        let clock = ManualClock::new(at);
        let id = clock.new_id();
        assert_eq!(id.timestamp_ms() as i64, at.timestamp_millis());
        clock.advance(chrono::Duration::seconds(1));
        assert!(clock.new_id() > id);
    }

    #[test]
    fn ids_made_at_the_same_instant_sort_in_order() {
        let clock = ManualClock::new("2026-03-01T10:00:00Z".parse().unwrap());
        let ids: Vec<Ulid> = (0..100).map(|_| clock.new_id()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }
}
