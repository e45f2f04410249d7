//! Time and identity are injected (DESIGN invariant 8), so SLA and escalation logic is
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
        let ms = self.now().timestamp_millis().max(0) as u64;
        Ulid::from_parts(ms, rand_bits())
    }
}

fn rand_bits() -> u128 {
    // ULID's own generator is seeded from the OS; take its random part only.
    Ulid::new().random()
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
}
