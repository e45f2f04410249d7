//! Time zones by IANA name (`Europe/Berlin`): what a business calendar and an email's times are
//! read in.
//!
//! The rules come from the tz database bundled into the binary by `jiff` (one 200 KB blob, read
//! one zone at a time when first asked for), never from the machine's `/usr/share/zoneinfo`:
//! a Lambda's image need not carry one, and the same configuration must mean the same hours on
//! every machine. `chrono-tz`, used before, compiled every zone's history into static tables of
//! pointers: in the functions that read times in a zone (route, notify), about 3 MB of the
//! binary and 28,000 relocations applied at every start.
//! The rest of the code keeps `chrono`'s types; this module converts at its edge.

use chrono::{DateTime, FixedOffset, NaiveDateTime, Offset as _, Utc};
use jiff::tz::AmbiguousOffset;

/// A time zone: UTC or one of the IANA database's.
#[derive(Clone, PartialEq, Eq)]
pub struct TimeZone(jiff::tz::TimeZone);

impl TimeZone {
    pub const UTC: TimeZone = TimeZone(jiff::tz::TimeZone::UTC);

    /// The zone of an IANA name, or `None` when the database has no such zone.
    pub fn named(name: &str) -> Option<Self> {
        jiff::tz::TimeZone::get(name).ok().map(Self)
    }

    /// The IANA name (`UTC` for UTC).
    pub fn name(&self) -> &str {
        self.0.iana_name().unwrap_or("UTC")
    }

    /// `t` on this zone's clock.
    pub fn local(&self, t: DateTime<Utc>) -> DateTime<FixedOffset> {
        t.with_timezone(&self.offset_at(t))
    }

    /// The zone's abbreviation at `t` (`CET`, `CEST`, or `+03` where the database has none).
    pub fn abbreviation(&self, t: DateTime<Utc>) -> String {
        self.0
            .to_offset_info(timestamp(t))
            .abbreviation()
            .to_owned()
    }

    /// The instant of a local time: the earlier one when it happens twice (the clocks went
    /// back), the first instant after the gap when it doesn't happen at all (they went forward).
    pub fn resolve(&self, local: NaiveDateTime) -> DateTime<Utc> {
        let at = |offset: jiff::tz::Offset| {
            let secs = local.and_utc().timestamp() - i64::from(offset.seconds());
            DateTime::from_timestamp(secs, local.and_utc().timestamp_subsec_nanos())
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        };
        let Some(civil) = civil(local) else {
            // Outside jiff's years (±9999): no rules to apply there; read it as UTC.
            return local.and_utc();
        };
        match self.0.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => at(offset),
            AmbiguousOffset::Fold { before, after } => at(before).min(at(after)),
            AmbiguousOffset::Gap { after, .. } => self.after_gap(local, after),
        }
    }

    fn offset_at(&self, t: DateTime<Utc>) -> FixedOffset {
        let seconds = self.0.to_offset(timestamp(t)).seconds();
        // jiff's offsets are within ±25:59:59, which FixedOffset always takes.
        FixedOffset::east_opt(seconds).unwrap_or(Utc.fix())
    }

    /// The first instant after the gap `local` lies in: the transition that made it, the
    /// first one after `local` read at the offset after the gap (an instant before the
    /// transition, since that offset is the larger).
    fn after_gap(&self, local: NaiveDateTime, after: jiff::tz::Offset) -> DateTime<Utc> {
        let before_transition = local.and_utc().timestamp() - i64::from(after.seconds());
        let from = timestamp(
            DateTime::from_timestamp(before_transition, 0).unwrap_or(DateTime::<Utc>::MIN_UTC),
        );
        self.0
            .following(from)
            .next()
            .and_then(|t| DateTime::from_timestamp(t.timestamp().as_second(), 0))
            .unwrap_or_else(|| local.and_utc())
    }
}

impl std::fmt::Debug for TimeZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TimeZone({})", self.name())
    }
}

/// jiff's instant for chrono's, clamped to jiff's range (years -9999 to 9999).
fn timestamp(t: DateTime<Utc>) -> jiff::Timestamp {
    let secs = t.timestamp().clamp(
        jiff::Timestamp::MIN.as_second(),
        jiff::Timestamp::MAX.as_second(),
    );
    jiff::Timestamp::from_second(secs).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

/// jiff's civil time for chrono's naive one; `None` outside jiff's years.
fn civil(t: NaiveDateTime) -> Option<jiff::civil::DateTime> {
    use chrono::{Datelike, Timelike};
    jiff::civil::DateTime::new(
        i16::try_from(t.year()).ok()?,
        t.month() as i8,
        t.day() as i8,
        t.hour() as i8,
        t.minute() as i8,
        t.second() as i8,
        t.nanosecond().min(999_999_999) as i32,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn naive(d: (i32, u32, u32), h: u32, m: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(d.0, d.1, d.2)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    #[test]
    fn a_zone_is_found_by_its_iana_name_and_an_unknown_name_is_none() {
        assert_eq!(
            TimeZone::named("Europe/Berlin").unwrap().name(),
            "Europe/Berlin"
        );
        assert_eq!(TimeZone::named("UTC").unwrap().name(), "UTC");
        assert!(TimeZone::named("Mars/Olympus_Mons").is_none());
        assert!(TimeZone::named("").is_none());
    }

    #[test]
    fn berlin_reads_winter_and_summer_time_with_their_abbreviations() {
        let berlin = TimeZone::named("Europe/Berlin").unwrap();
        let winter = utc("2026-01-15T10:00:00Z");
        let summer = utc("2026-07-15T10:00:00Z");
        assert_eq!(
            berlin.local(winter).to_rfc3339(),
            "2026-01-15T11:00:00+01:00"
        );
        assert_eq!(
            berlin.local(summer).to_rfc3339(),
            "2026-07-15T12:00:00+02:00"
        );
        assert_eq!(berlin.abbreviation(winter), "CET");
        assert_eq!(berlin.abbreviation(summer), "CEST");
        assert_eq!(TimeZone::UTC.abbreviation(winter), "UTC");
    }

    #[test]
    fn a_local_time_in_the_spring_gap_resolves_to_the_end_of_the_gap() {
        // Berlin, 29 March 2026: 02:00 CET became 03:00 CEST at 01:00 UTC.
        let berlin = TimeZone::named("Europe/Berlin").unwrap();
        assert_eq!(
            berlin.resolve(naive((2026, 3, 29), 2, 30)),
            utc("2026-03-29T01:00:00Z")
        );
        assert_eq!(
            berlin.resolve(naive((2026, 3, 29), 3, 0)),
            utc("2026-03-29T01:00:00Z")
        );
    }

    #[test]
    fn a_local_time_that_happens_twice_resolves_to_the_earlier_instant() {
        // Berlin, 25 October 2026: 03:00 CEST became 02:00 CET at 01:00 UTC.
        let berlin = TimeZone::named("Europe/Berlin").unwrap();
        assert_eq!(
            berlin.resolve(naive((2026, 10, 25), 2, 30)),
            utc("2026-10-25T00:30:00Z")
        );
        assert_eq!(
            berlin.resolve(naive((2026, 10, 25), 12, 0)),
            utc("2026-10-25T11:00:00Z")
        );
    }

    #[test]
    fn instants_far_outside_the_databases_years_keep_their_instant_and_do_not_panic() {
        let berlin = TimeZone::named("Europe/Berlin").unwrap();
        for t in [DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC] {
            assert_eq!(berlin.local(t).to_utc(), t);
            assert!(!berlin.abbreviation(t).is_empty());
        }
        for t in [NaiveDateTime::MAX, NaiveDateTime::MIN] {
            assert_eq!(berlin.resolve(t), t.and_utc());
        }
    }
}
