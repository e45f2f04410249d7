//! Which write shards of the `sla-open` index the escalation pass reads.
//!
//! A lead is written to shard `hash(lead id) % SlaShards`. When an operator lowers `SlaShards`,
//! leads already indexed on the shards beyond the new count would never be read again: their
//! SLA steps, sweeps and recycle dates would stall for good. So the pass remembers the widest
//! count the index has been written with, keeps reading the retired shards until they are empty
//! (each lead it handles there is saved onto the new shards), and only then forgets them.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How long after a narrowing is first seen the retired shards are still read, even when empty:
/// a function still running with the old count (an invocation in flight during the deploy) may
/// write one more lead there. Far longer than any Lambda invocation (15 minutes at most).
pub const RETIRE_AFTER: Duration = Duration::hours(1);

/// What the pass records of the shards the index has been written with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// The widest shard count leads may still be indexed under.
    pub widest: u32,
    /// When a pass first ran with fewer shards than `widest`: none while they agree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub narrowed_at: Option<DateTime<Utc>>,
}

/// What one pass reads, and what it records before reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardPass {
    /// Shards `0..read` are queried for due leads.
    pub read: u32,
    /// Shards no longer written: `configured..read`, empty when nothing was narrowed.
    pub retired: std::ops::Range<u32>,
    /// The record to save before the pass, when it changes.
    pub record: Option<ShardRecord>,
}

/// Plans a pass with `configured` shards, given what earlier passes recorded (none on a table
/// no pass has run on: nothing was written with another count that this record would know).
pub fn plan(configured: u32, recorded: Option<&ShardRecord>, now: DateTime<Utc>) -> ShardPass {
    let configured = configured.max(1);
    let current = ShardRecord {
        widest: configured,
        narrowed_at: None,
    };
    match recorded {
        Some(r) if r.widest > configured => ShardPass {
            read: r.widest,
            retired: configured..r.widest,
            record: r.narrowed_at.is_none().then_some(ShardRecord {
                widest: r.widest,
                narrowed_at: Some(now),
            }),
        },
        // Widening strands nothing: every old shard is still read.
        _ => ShardPass {
            record: (recorded != Some(&current)).then_some(current),
            ..configured_only(configured)
        },
    }
}

/// A pass over the configured shards alone, recording nothing: when the record cannot be read.
pub fn configured_only(configured: u32) -> ShardPass {
    let configured = configured.max(1);
    ShardPass {
        read: configured,
        retired: configured..configured,
        record: None,
    }
}

/// The record that forgets the retired shards, once the narrowing is older than
/// [`RETIRE_AFTER`]: to be saved only when they are found empty. None while they must still be
/// read whatever they hold.
pub fn retire(configured: u32, recorded: &ShardRecord, now: DateTime<Utc>) -> Option<ShardRecord> {
    let since = recorded.narrowed_at?;
    (now - since >= RETIRE_AFTER).then(|| ShardRecord {
        widest: configured.max(1),
        narrowed_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, 9, minute, 0).unwrap()
    }

    fn record(widest: u32, narrowed_at: Option<DateTime<Utc>>) -> ShardRecord {
        ShardRecord {
            widest,
            narrowed_at,
        }
    }

    #[test]
    fn a_first_pass_records_the_configured_count_and_reads_it() {
        let p = plan(8, None, at(0));
        assert_eq!((p.read, p.retired), (8, 8..8));
        assert_eq!(p.record, Some(record(8, None)));
    }

    #[test]
    fn an_unchanged_count_records_nothing() {
        let p = plan(8, Some(&record(8, None)), at(0));
        assert_eq!((p.read, p.retired, p.record), (8, 8..8, None));
    }

    #[test]
    fn widening_records_the_new_count_and_retires_nothing() {
        let p = plan(16, Some(&record(8, None)), at(0));
        assert_eq!((p.read, p.retired), (16, 16..16));
        assert_eq!(p.record, Some(record(16, None)));
    }

    #[test]
    fn narrowing_keeps_reading_the_old_shards_and_notes_when_it_began() {
        let p = plan(2, Some(&record(8, None)), at(0));
        assert_eq!((p.read, p.retired), (8, 2..8));
        assert_eq!(p.record, Some(record(8, Some(at(0)))));

        let later = plan(2, Some(&record(8, Some(at(0)))), at(5));
        assert_eq!((later.read, later.retired, later.record), (8, 2..8, None));
    }

    #[test]
    fn retired_shards_may_be_forgotten_only_once_the_grace_is_over() {
        let r = record(8, Some(at(0)));
        assert_eq!(retire(2, &r, at(59)), None, "within the grace");
        assert_eq!(retire(2, &r, at(0) + RETIRE_AFTER), Some(record(2, None)));
    }

    #[test]
    fn nothing_is_retired_while_no_narrowing_is_recorded() {
        assert_eq!(retire(8, &record(8, None), at(30)), None);
    }

    #[test]
    fn widening_back_during_a_narrowing_ends_it() {
        let p = plan(8, Some(&record(8, Some(at(0)))), at(10));
        assert_eq!((p.read, p.retired), (8, 8..8));
        assert_eq!(p.record, Some(record(8, None)));
    }

    #[test]
    fn a_zero_count_is_read_as_one_shard() {
        let p = plan(0, Some(&record(4, None)), at(0));
        assert_eq!(p.retired, 1..4);
    }
}
