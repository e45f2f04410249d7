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

/// The most shards `SlaShards` allows: a table indexed before any record was kept may have leads
/// on any of them.
pub const MAX_SHARDS: u32 = 64;

/// What the pass records of the shards the index has been written with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// The widest shard count leads may still be indexed under.
    pub widest: u32,
    /// When a pass first ran with the count it narrowed to: none while they agree. A second
    /// narrowing starts the grace again, since writers with the count between may still run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub narrowed_at: Option<DateTime<Utc>>,
    /// The count the shards were narrowed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub narrowed_to: Option<u32>,
    /// When a pass last looked at the shards beyond `widest` for leads ([`look_due`]): none
    /// before the first look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub looked_beyond_at: Option<DateTime<Utc>>,
}

impl ShardRecord {
    /// The record of an index written with `shards` alone.
    pub fn written_with(shards: u32) -> Self {
        Self {
            widest: shards.max(1),
            narrowed_at: None,
            narrowed_to: None,
            looked_beyond_at: None,
        }
    }

    /// The record of a table made at `now` for `shards`: no lead is anywhere yet, so there is
    /// nothing beyond to look at before [`LOOK_EVERY`] has passed.
    pub fn new_table(shards: u32, now: DateTime<Utc>) -> Self {
        Self {
            looked_beyond_at: Some(now),
            ..Self::written_with(shards)
        }
    }

    /// The count escalate last ran with: the one the deployment's functions write with.
    pub fn current(&self) -> u32 {
        self.narrowed_to.unwrap_or(self.widest)
    }

    fn narrowed(widest: u32, to: u32, at: DateTime<Utc>) -> Self {
        Self {
            widest,
            narrowed_at: Some(at),
            narrowed_to: Some(to),
            looked_beyond_at: None,
        }
    }

    /// This record, with the time of the last look taken from `earlier`.
    fn looked_as(self, earlier: &ShardRecord) -> Self {
        Self {
            looked_beyond_at: earlier.looked_beyond_at,
            ..self
        }
    }
}

/// How often the shards beyond the record are looked at, by whichever pass finds the last look
/// that old: a lead indexed there (with a count no pass ran with) waits at most this long more.
pub const LOOK_EVERY: Duration = Duration::minutes(15);

/// Whether a pass at `now` looks at the shards beyond `recorded`. A look recorded ahead of
/// `now` (a pass run by hand with a later time, a clock ahead) is due too: it must not put the
/// next look off.
pub fn look_due(recorded: &ShardRecord, now: DateTime<Utc>) -> bool {
    recorded
        .looked_beyond_at
        .is_none_or(|at| at > now || now - at >= LOOK_EVERY)
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

/// Plans a pass with `configured` shards, given what earlier passes recorded and, when this
/// pass looked at the shards beyond both `configured` and the recorded widest ([`look_due`]),
/// what it found: `Some(highest)`, the highest of them holding a lead, if any. Such a lead was
/// indexed by a writer with a count no pass has run with (a count raised and rolled back
/// before escalate ran with it, a CLI told a wider one): its shards are read from now on, as
/// after a narrowing.
pub fn plan(
    configured: u32,
    recorded: &ShardRecord,
    looked: Option<Option<u32>>,
    now: DateTime<Utc>,
) -> ShardPass {
    let mut pass = plan_counts(configured, recorded, looked.flatten(), now);
    if looked.is_some() {
        let base = pass.record.take().unwrap_or_else(|| recorded.clone());
        pass.record = Some(ShardRecord {
            looked_beyond_at: Some(now),
            ..base
        });
    }
    pass
}

fn plan_counts(
    configured: u32,
    recorded: &ShardRecord,
    occupied_beyond: Option<u32>,
    now: DateTime<Utc>,
) -> ShardPass {
    let configured = configured.max(1);
    if let Some(h) = occupied_beyond.filter(|&h| h >= configured.max(recorded.widest)) {
        // Writers with that count may still run: the grace starts now.
        return ShardPass {
            read: h + 1,
            retired: configured..h + 1,
            record: Some(ShardRecord::narrowed(h + 1, configured, now).looked_as(recorded)),
        };
    }
    if recorded.widest <= configured {
        // Widening strands nothing: every old shard is still read.
        let current = ShardRecord::written_with(configured).looked_as(recorded);
        return ShardPass {
            record: (*recorded != current).then_some(current),
            ..configured_only(configured)
        };
    }
    let noted = recorded.narrowed_at.is_some() && recorded.narrowed_to == Some(configured);
    ShardPass {
        read: recorded.widest,
        retired: configured..recorded.widest,
        record: (!noted)
            .then(|| ShardRecord::narrowed(recorded.widest, configured, now).looked_as(recorded)),
    }
}

/// The first record of a table that has none: a table indexed before records were kept, or a
/// new deployment's. The counts leads were indexed with are unknown, and writers with the old
/// count may still run in the very deploy that brought the record in, so every shard up to
/// [`MAX_SHARDS`] is read through the grace, as after a narrowing, and then forgotten as it
/// is found empty ([`retire`]).
pub fn first_record(configured: u32, now: DateTime<Utc>) -> ShardRecord {
    let configured = configured.max(1);
    if configured >= MAX_SHARDS {
        ShardRecord::written_with(configured)
    } else {
        ShardRecord::narrowed(MAX_SHARDS, configured, now)
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

/// A pass over every shard there can be, recording nothing: when the record is unreadable as
/// stored, so nothing is known of the counts written.
pub fn every_shard(configured: u32) -> ShardPass {
    ShardPass {
        read: MAX_SHARDS.max(configured),
        retired: 0..0,
        record: None,
    }
}

/// The record once the narrowing to `configured` is older than [`RETIRE_AFTER`], given
/// `highest_occupied`, the highest retired shard found holding a lead: the shards above it are
/// forgotten (all of them when none holds one). None while they must still be read whatever
/// they hold, or when nothing changes.
pub fn retire(
    configured: u32,
    recorded: &ShardRecord,
    highest_occupied: Option<u32>,
    now: DateTime<Utc>,
) -> Option<ShardRecord> {
    let configured = configured.max(1);
    let since = recorded.narrowed_at?;
    if recorded.narrowed_to != Some(configured) || now - since < RETIRE_AFTER {
        return None;
    }
    let record = match highest_occupied.filter(|&h| h >= configured) {
        None => ShardRecord::written_with(configured),
        // The grace is over: nothing writes beyond the count any more, so the empty shards
        // above stay empty.
        Some(h) if h + 1 < recorded.widest => ShardRecord::narrowed(h + 1, configured, since),
        Some(_) => return None,
    };
    Some(record.looked_as(recorded))
}

/// Whether a record read from the table can be trusted with the number of queries a pass
/// makes: a count within [`MAX_SHARDS`], narrowed to fewer. One that cannot is treated as
/// unreadable (every shard read). A narrowing missing its time or its count is only replaced
/// by the next plan.
pub fn is_sound(record: &ShardRecord) -> bool {
    (1..=MAX_SHARDS).contains(&record.widest)
        && record
            .narrowed_to
            .is_none_or(|to| to >= 1 && to < record.widest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 5, 9, minute, 0).unwrap()
    }

    fn written(widest: u32) -> ShardRecord {
        ShardRecord::written_with(widest)
    }

    fn narrowed(widest: u32, to: u32, minute: u32) -> ShardRecord {
        ShardRecord::narrowed(widest, to, at(minute))
    }

    #[test]
    fn an_unchanged_count_records_nothing() {
        let p = plan(8, &written(8), None, at(0));
        assert_eq!((p.read, p.retired, p.record), (8, 8..8, None));
    }

    #[test]
    fn widening_records_the_new_count_and_retires_nothing() {
        let p = plan(16, &written(8), None, at(0));
        assert_eq!((p.read, p.retired), (16, 16..16));
        assert_eq!(p.record, Some(written(16)));
    }

    #[test]
    fn narrowing_keeps_reading_the_old_shards_and_notes_when_it_began() {
        let p = plan(2, &written(8), None, at(0));
        assert_eq!((p.read, p.retired), (8, 2..8));
        assert_eq!(p.record, Some(narrowed(8, 2, 0)));

        let later = plan(2, &narrowed(8, 2, 0), None, at(5));
        assert_eq!((later.read, later.retired, later.record), (8, 2..8, None));
    }

    #[test]
    fn retired_shards_may_be_forgotten_only_once_the_grace_is_over() {
        let r = narrowed(8, 2, 0);
        assert_eq!(retire(2, &r, None, at(59)), None, "within the grace");
        assert_eq!(retire(2, &r, None, at(0) + RETIRE_AFTER), Some(written(2)));
    }

    #[test]
    fn nothing_is_retired_while_no_narrowing_is_recorded() {
        assert_eq!(retire(8, &written(8), None, at(30)), None);
    }

    #[test]
    fn a_second_narrowing_starts_the_grace_again() {
        // 8 → 4 at :00, 4 → 2 at :58: writers with 4 may still run at :60.
        let second = plan(2, &narrowed(8, 4, 0), None, at(58));
        assert_eq!((second.read, second.retired), (8, 2..8));
        assert_eq!(second.record, Some(narrowed(8, 2, 58)));
        assert_eq!(
            retire(2, &narrowed(8, 4, 0), None, at(0) + RETIRE_AFTER),
            None
        );
        assert_eq!(retire(2, &narrowed(8, 2, 58), None, at(59)), None);
    }

    #[test]
    fn widening_back_during_a_narrowing_ends_it() {
        let p = plan(8, &narrowed(8, 2, 0), None, at(10));
        assert_eq!((p.read, p.retired), (8, 8..8));
        assert_eq!(p.record, Some(written(8)));
    }

    #[test]
    fn a_table_without_a_record_reads_every_shard_through_the_grace() {
        // The count it was indexed with is unknown, and its writers may still be running.
        let first = first_record(8, at(0));
        assert_eq!(first, narrowed(MAX_SHARDS, 8, 0));
        let p = plan(8, &first, None, at(1));
        assert_eq!(
            (p.read, p.retired, p.record),
            (MAX_SHARDS, 8..MAX_SHARDS, None)
        );
        assert_eq!(first_record(MAX_SHARDS, at(0)), written(MAX_SHARDS));
    }

    #[test]
    fn after_the_grace_only_the_shards_above_the_highest_occupied_are_forgotten() {
        let r = narrowed(MAX_SHARDS, 8, 0);
        let over = at(0) + RETIRE_AFTER;
        assert_eq!(retire(8, &r, Some(12), over), Some(narrowed(13, 8, 0)));
        assert_eq!(
            retire(8, &narrowed(13, 8, 0), Some(12), over),
            None,
            "no change"
        );
        assert_eq!(retire(8, &narrowed(13, 8, 0), None, over), Some(written(8)));
        assert_eq!(retire(8, &r, Some(12), at(59)), None, "within the grace");
    }

    fn looked(record: ShardRecord, minute: u32) -> ShardRecord {
        ShardRecord {
            looked_beyond_at: Some(at(minute)),
            ..record
        }
    }

    #[test]
    fn a_lead_found_beyond_every_recorded_shard_has_its_shards_read_again() {
        // Indexed with 16 by a writer whose count was rolled back to 8 before any pass ran
        // with 16.
        let p = plan(8, &written(8), Some(Some(12)), at(0));
        assert_eq!((p.read, p.retired), (13, 8..13));
        assert_eq!(p.record, Some(looked(narrowed(13, 8, 0), 0)));
        // One within what is read already changes nothing but the time of the look.
        let q = plan(8, &narrowed(16, 8, 0), Some(Some(12)), at(5));
        assert_eq!((q.read, q.retired), (16, 8..16));
        assert_eq!(q.record, Some(looked(narrowed(16, 8, 0), 5)));
        // Nothing found: only the time is recorded.
        let r = plan(8, &written(8), Some(None), at(7));
        assert_eq!((r.read, r.record), (8, Some(looked(written(8), 7))));
    }

    #[test]
    fn the_shards_beyond_are_looked_at_every_quarter_hour_and_a_new_table_waits_for_the_first() {
        assert!(look_due(&written(8), at(0)), "never looked");
        assert!(!look_due(&looked(written(8), 0), at(14)));
        assert!(look_due(&looked(written(8), 0), at(15)));
        let new = ShardRecord::new_table(8, at(0));
        assert_eq!(new, looked(written(8), 0));
        assert!(!look_due(&new, at(14)));
        assert!(
            look_due(&looked(written(8), 30), at(10)),
            "a look ahead of now"
        );
    }

    #[test]
    fn a_change_without_a_look_keeps_the_last_looks_time() {
        let p = plan(2, &looked(written(8), 3), None, at(10));
        assert_eq!(p.record, Some(looked(narrowed(8, 2, 10), 3)));
        let r = retire(2, &looked(narrowed(8, 2, 0), 3), None, at(0) + RETIRE_AFTER);
        assert_eq!(r, Some(looked(written(2), 3)));
    }

    #[test]
    fn a_record_beyond_the_limits_is_not_sound() {
        assert!(is_sound(&written(8)));
        assert!(is_sound(&narrowed(MAX_SHARDS, 2, 0)));
        assert!(!is_sound(&written(MAX_SHARDS + 1)));
        assert!(!is_sound(&ShardRecord::written_with(100_000)));
        assert!(!is_sound(&narrowed(8, 8, 0)), "narrowed to as many");
        assert!(!is_sound(&narrowed(8, 0, 0)));
    }

    #[test]
    fn an_unreadable_record_reads_every_shard_and_retires_none() {
        let p = every_shard(8);
        assert_eq!((p.read, p.retired, p.record), (MAX_SHARDS, 0..0, None));
    }

    #[test]
    fn the_current_count_is_the_one_narrowed_to_while_narrowing() {
        assert_eq!(written(8).current(), 8);
        assert_eq!(narrowed(8, 2, 0).current(), 2);
    }

    #[test]
    fn a_zero_count_is_read_as_one_shard() {
        let p = plan(0, &written(4), None, at(0));
        assert_eq!(p.retired, 1..4);
    }
}
