//! The one policy for deciding again after a lost race: a conditional write or transaction
//! that someone else's write beat (`StoreError::Conflict`, and DynamoDB's
//! `TransactionConflict`). Every read → decide → conditional save in the handlers and the store
//! goes through [`on_conflict`], so they all back off the same way and all stop in time.
//!
//! Exponential backoff with full jitter (a random pause up to `BASE × 2^attempt`, capped), so a
//! crowd of writers on one item — 50 routers over one team's rotation — thins out instead of
//! colliding again in lockstep. The whole loop is bounded by time, not by a count, so it always
//! ends inside the function's timeout: [`BUDGET`] by default (half of capture's 10 s, the
//! shortest), or a longer budget a caller with a longer timeout and heavy contention chooses
//! with [`on_conflict_within`] (route: 50 routers over one team's rotation). Other errors are returned at once: a retry here cannot help them (the
//! caller's own retry, an SQS redelivery, is the place for transient service faults).

use std::future::Future;
use std::time::{Duration, Instant};

/// The first pause is at most this long.
const BASE: Duration = Duration::from_millis(10);
/// No single pause is longer.
const CAP: Duration = Duration::from_millis(500);
/// Time spent in one [`on_conflict`] call (attempts and pauses) after which the conflict is
/// handed back to the caller.
pub const BUDGET: Duration = Duration::from_secs(5);

/// An error that may say "someone else wrote first: read again and decide again".
pub trait Conflict {
    fn is_conflict(&self) -> bool;
}

/// Runs `attempt` (which must read afresh each time) until it succeeds, fails with anything
/// but a conflict, or the [`BUDGET`] is spent; then the last result is returned.
pub async fn on_conflict<T, E, F, Fut>(attempt: F) -> Result<T, E>
where
    E: Conflict,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    on_conflict_within(BUDGET, attempt).await
}

/// [`on_conflict`] with a budget of the caller's: it must leave room inside the function's
/// timeout for the rest of the work.
pub async fn on_conflict_within<T, E, F, Fut>(budget: Duration, mut attempt: F) -> Result<T, E>
where
    E: Conflict,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let started = Instant::now();
    let mut losses = 0u32;
    loop {
        match attempt().await {
            Err(e) if e.is_conflict() => {
                let pause = pause(losses);
                if started.elapsed() + pause >= budget {
                    return Err(e);
                }
                tokio::time::sleep(pause).await;
                losses += 1;
            }
            other => return other,
        }
    }
}

/// A random pause in `1 ms ..= min(CAP, BASE × 2^losses)`: the policy's backoff, also for a
/// loop that cannot be written as one closure (notify's sends, the arrivals' reads).
pub fn pause(losses: u32) -> Duration {
    use std::hash::BuildHasher;
    let ceiling = (BASE.as_millis() as u64)
        .saturating_mul(1 << losses.min(16))
        .min(CAP.as_millis() as u64);
    // RandomState is seeded per instance from the OS: enough randomness for jitter without a
    // random-number crate.
    let random = std::collections::hash_map::RandomState::new().hash_one(losses);
    Duration::from_millis(1 + random % ceiling)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[derive(Debug, PartialEq)]
    enum E {
        Conflict,
        Other,
    }

    impl Conflict for E {
        fn is_conflict(&self) -> bool {
            *self == E::Conflict
        }
    }

    #[tokio::test]
    async fn a_conflict_is_decided_again_until_the_write_wins() {
        let tries = Cell::new(0);
        let r: Result<u32, E> = on_conflict(|| {
            tries.set(tries.get() + 1);
            let n = tries.get();
            async move {
                if n < 3 {
                    Err(E::Conflict)
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(r, Ok(3));
    }

    #[tokio::test]
    async fn other_errors_are_not_retried() {
        let tries = Cell::new(0);
        let r: Result<(), E> = on_conflict(|| {
            tries.set(tries.get() + 1);
            async { Err(E::Other) }
        })
        .await;
        assert_eq!(r, Err(E::Other));
        assert_eq!(tries.get(), 1);
    }

    #[test]
    fn pauses_grow_but_never_pass_the_cap() {
        for losses in 0..40 {
            let p = pause(losses);
            assert!(p >= Duration::from_millis(1) && p <= CAP, "{losses}: {p:?}");
        }
        // The first pause is short: a single lost race costs little.
        assert!((0..100).all(|_| pause(0) <= BASE));
    }
}
