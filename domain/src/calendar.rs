//! Business-hours calendars: the clock the speed-to-lead SLA counts on.
//!
//! A calendar is a time zone, weekly opening hours and a list of holidays. [`BusinessCalendar::add`]
//! answers "when is this due" ("a lead arriving Friday at 16:55 with a 1-business-hour SLA in
//! Berlin is due Monday at 09:55") and [`BusinessCalendar::business_time_between`] answers "how
//! late is it, in business time".
//!
//! # Rules
//!
//! - **Hours are local.** Each weekday has a list of `"HH:MM-HH:MM"` ranges read on the calendar's
//!   wall clock. A range whose end is before its start runs past midnight (`"22:00-06:00"`, a
//!   night desk); `"24:00"` as an end means midnight at the end of the day (`"00:00-24:00"` is the
//!   whole day). The ranges of one weekday may not overlap each other; a night range may run into
//!   the next day's hours, and the overlap is counted once.
//! - **A holiday cancels the ranges that start on it.** A night shift that starts the evening
//!   before a holiday still runs to its end.
//! - **Business time is real elapsed time inside open intervals.** Opening and closing times are
//!   turned into instants one by one, so a 09:00–17:00 day is 8 real hours even on a DST-change
//!   day, unless the change falls inside the open hours: a 22:00–06:00 night desk in Berlin is
//!   open 7 hours on the night the clocks go forward and 9 on the night they go back.
//! - **Local times that don't exist or happen twice.** An opening or closing at a local time
//!   skipped by a spring-forward gap happens at the first instant after the gap (02:30 on the
//!   morning Berlin skips 02:00–03:00 is 03:00 CEST). One at a local time that happens twice
//!   (fall back) happens at the earlier of the two instants. Applying the same rule to openings
//!   and closings keeps back-to-back ranges back to back.
//! - **The clock starts at the next opening.** Adding business time to an instant outside hours
//!   first moves to the next opening; adding zero gives that opening. When the business time
//!   runs out exactly at a closing, the closing is the answer (due Friday 17:00, not Monday 09:00).
//! - **Degenerate calendars.** [`CalendarConfig::build`] rejects a week without any open hours.
//!   A calendar can still be closed for a long time (holidays covering months, a range that only
//!   exists inside a DST gap), so every walk is bounded: the hours apply for [`HORIZON_DAYS`] days
//!   of local dates from where the walk starts, and past that horizon every hour counts (wall-clock
//!   time). Answers stay finite, monotonic and consistent between `add` and
//!   `business_time_between`.
//! - [`BusinessCalendar::always_open`] is 24/7 in UTC: exactly the wall-clock arithmetic used when
//!   no calendar is configured.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::time_zone::TimeZone;

/// How many local dates past the start a walk looks at before it counts every hour: about three
/// years, far beyond any SLA, and small enough that a calendar that never opens costs little.
pub const HORIZON_DAYS: u32 = 1100;

const MINUTES_PER_DAY: u32 = 24 * 60;

/// A calendar as written in configuration.
///
/// ```toml
/// time_zone = "Europe/Berlin"
/// hours = { mon = ["09:00-12:30", "13:30-17:00"], tue = ["09:00-17:00"], sat = [] }
/// holidays = [2026-12-25, "2026-12-26"]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    /// An IANA time zone name, e.g. `"Europe/Berlin"`, `"America/New_York"`, `"UTC"`.
    pub time_zone: String,
    /// Opening hours per weekday; Monday to Friday 09:00–17:00 when left out.
    #[serde(default = "WeeklyHours::office")]
    pub hours: WeeklyHours,
    /// Dates (local to the calendar) on which the hours that start that day are closed: TOML
    /// dates (`2026-12-25`) or strings (`"2026-12-25"`).
    #[serde(default, deserialize_with = "dates")]
    pub holidays: Vec<NaiveDate>,
}

/// Opening hours per weekday, each a list of `"HH:MM-HH:MM"` ranges. A weekday left out of a
/// written `hours` table is closed.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WeeklyHours {
    pub mon: Vec<String>,
    pub tue: Vec<String>,
    pub wed: Vec<String>,
    pub thu: Vec<String>,
    pub fri: Vec<String>,
    pub sat: Vec<String>,
    pub sun: Vec<String>,
}

impl WeeklyHours {
    /// Monday to Friday, 09:00–17:00.
    pub fn office() -> Self {
        let day = || vec!["09:00-17:00".to_owned()];
        WeeklyHours {
            mon: day(),
            tue: day(),
            wed: day(),
            thu: day(),
            fri: day(),
            sat: Vec::new(),
            sun: Vec::new(),
        }
    }

    fn days(&self) -> [(&'static str, &[String]); 7] {
        [
            ("mon", &self.mon),
            ("tue", &self.tue),
            ("wed", &self.wed),
            ("thu", &self.thu),
            ("fri", &self.fri),
            ("sat", &self.sat),
            ("sun", &self.sun),
        ]
    }
}

impl CalendarConfig {
    /// Checks the configuration and builds the calendar. Errors read `key: problem`, with the key
    /// relative to this calendar's table (`time_zone`, `hours.mon[1]`, `holidays`), for the caller
    /// to prefix with the file and the table's own key.
    pub fn build(&self) -> Result<BusinessCalendar, String> {
        let tz = TimeZone::named(&self.time_zone).ok_or_else(|| {
            format!(
                "time_zone: unknown time zone {:?} (use an IANA name such as \"Europe/Berlin\")",
                self.time_zone
            )
        })?;
        let mut week: [Vec<Range>; 7] = Default::default();
        for (i, (day, ranges)) in self.hours.days().into_iter().enumerate() {
            for (j, text) in ranges.iter().enumerate() {
                let range = parse_range(text).map_err(|m| format!("hours.{day}[{j}]: {m}"))?;
                if let Some((k, _)) = week[i]
                    .iter()
                    .enumerate()
                    .find(|(_, r)| r.start < range.end && range.start < r.end)
                {
                    return Err(format!(
                        "hours.{day}[{j}]: {text:?} overlaps {:?} (hours.{day}[{k}])",
                        ranges[k]
                    ));
                }
                week[i].push(range);
            }
            week[i].sort_by_key(|r| r.start);
        }
        if week.iter().all(Vec::is_empty) {
            return Err(
                "hours: no open hours in the whole week; a calendar must open at some time"
                    .to_owned(),
            );
        }
        Ok(BusinessCalendar {
            tz,
            week,
            holidays: self.holidays.iter().copied().collect(),
            always_open: false,
        })
    }
}

/// An open range of one weekday, in minutes from that day's local midnight. `end` is after
/// `start` and at most a day later, so it can run past midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Range {
    start: u32,
    end: u32,
}

fn parse_range(text: &str) -> Result<Range, String> {
    let bad = || format!("{text:?} is not a range like \"09:00-17:00\"");
    let (a, b) = text.split_once('-').ok_or_else(bad)?;
    let start = parse_time(a.trim()).ok_or_else(bad)?;
    let end = parse_time(b.trim()).ok_or_else(bad)?;
    if start == MINUTES_PER_DAY {
        return Err(format!("{text:?} starts at 24:00; start at 00:00 instead"));
    }
    let end = match end.cmp(&start) {
        std::cmp::Ordering::Greater => end,
        // Ends before it starts: runs past midnight into the next day.
        std::cmp::Ordering::Less => end + MINUTES_PER_DAY,
        std::cmp::Ordering::Equal => {
            return Err(format!(
                "{text:?} is empty; for the whole day write \"00:00-24:00\""
            ))
        }
    };
    if end > start + MINUTES_PER_DAY {
        return Err(format!("{text:?} is longer than a day"));
    }
    Ok(Range { start, end })
}

/// `"HH:MM"` (or `"H:MM"`) in minutes; `"24:00"` is allowed and means the end of the day.
fn parse_time(s: &str) -> Option<u32> {
    let (h, m) = s.split_once(':')?;
    let digits = |x: &str, n: std::ops::RangeInclusive<usize>| {
        n.contains(&x.len()) && x.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 1..=2) || !digits(m, 2..=2) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) => Some(MINUTES_PER_DAY),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

/// Holidays: TOML local dates or `"YYYY-MM-DD"` strings.
fn dates<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<NaiveDate>, D::Error> {
    struct One(NaiveDate);
    impl<'de> Deserialize<'de> for One {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(DateVisitor).map(One)
        }
    }
    struct DateVisitor;
    impl<'de> Visitor<'de> for DateVisitor {
        type Value = NaiveDate;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a date like 2026-12-25")
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<NaiveDate, E> {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map_err(|_| E::custom(format!("{s:?} is not a date like 2026-12-25")))
        }
        // The toml crate hands its own date values over as a one-entry map.
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NaiveDate, A::Error> {
            let Some((_, value)) = map.next_entry::<String, String>()? else {
                return Err(de::Error::custom("expected a date like 2026-12-25"));
            };
            self.visit_str(&value)
        }
    }
    struct Dates;
    impl<'de> Visitor<'de> for Dates {
        type Value = Vec<NaiveDate>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of dates like 2026-12-25")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(One(date)) = seq.next_element()? {
                out.push(date);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(Dates)
}

/// A time zone, weekly hours and holidays; see the module docs for the rules.
#[derive(Debug, Clone)]
pub struct BusinessCalendar {
    tz: TimeZone,
    /// Indexed by days from Monday; each day's ranges sorted by start, not overlapping.
    week: [Vec<Range>; 7],
    holidays: BTreeSet<NaiveDate>,
    /// 24/7: every instant is open, no walk needed.
    always_open: bool,
}

impl BusinessCalendar {
    /// Open around the clock, in UTC: business time is wall-clock time.
    pub fn always_open() -> Self {
        let all_day = || {
            vec![Range {
                start: 0,
                end: MINUTES_PER_DAY,
            }]
        };
        BusinessCalendar {
            tz: TimeZone::UTC,
            week: std::array::from_fn(|_| all_day()),
            holidays: BTreeSet::new(),
            always_open: true,
        }
    }

    /// The calendar's time zone.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The instant at which `business_time` of open time has passed since `start`. The clock
    /// starts at the next opening when `start` is outside hours; a zero duration gives that
    /// opening.
    pub fn add(&self, start: DateTime<Utc>, business_time: std::time::Duration) -> DateTime<Utc> {
        let mut left = TimeDelta::from_std(business_time).unwrap_or(TimeDelta::MAX);
        if self.always_open {
            return plus(start, left);
        }
        for (from, to) in self.walk(start) {
            let open = to - from;
            if left <= open {
                return plus(from, left);
            }
            left -= open;
        }
        // The walk ends with an interval that never closes, so this is not reached.
        DateTime::<Utc>::MAX_UTC
    }

    /// The open time between `from` and `to` (zero when `to` is not after `from`).
    pub fn business_time_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> std::time::Duration {
        if to <= from {
            return std::time::Duration::ZERO;
        }
        if self.always_open {
            return (to - from).to_std().unwrap_or_default();
        }
        let mut total = TimeDelta::zero();
        for (a, b) in self.walk(from) {
            if a >= to {
                break;
            }
            total += b.min(to) - a;
        }
        total.to_std().unwrap_or_default()
    }

    /// Whether `t` is inside open hours (an interval includes its opening, not its closing).
    pub fn is_open(&self, t: DateTime<Utc>) -> bool {
        self.next_open(t) == t
    }

    /// `t` itself when open, else the next opening.
    pub fn next_open(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        if self.always_open {
            return t;
        }
        self.walk(t).next().map_or(t, |(from, _)| from)
    }

    /// The open intervals from `start` on, in order, not overlapping, clipped to start at or after
    /// `start`; past the horizon, one interval that never closes.
    fn walk(&self, start: DateTime<Utc>) -> Walk<'_> {
        // A range of the day before can run into today.
        let first = self.tz.local(start).date_naive();
        let last = first
            .checked_add_days(chrono::Days::new(HORIZON_DAYS.into()))
            .unwrap_or(NaiveDate::MAX);
        Walk {
            cal: self,
            cursor: start,
            day: first.pred_opt().unwrap_or(first),
            last,
            horizon: self.midnight(last),
            pending: Vec::new(),
            done: false,
        }
    }

    /// The instant of local midnight starting `day`.
    fn midnight(&self, day: NaiveDate) -> DateTime<Utc> {
        self.tz.resolve(day.and_time(chrono::NaiveTime::MIN))
    }

    /// The open intervals of the ranges that start on `day`, in order.
    fn intervals_on(&self, day: NaiveDate, out: &mut Vec<(DateTime<Utc>, DateTime<Utc>)>) {
        if self.holidays.contains(&day) {
            return;
        }
        let midnight = day.and_time(chrono::NaiveTime::MIN);
        let at = |minutes: u32| {
            let local = midnight + TimeDelta::minutes(minutes.into());
            self.tz.resolve(local)
        };
        for r in &self.week[day.weekday().num_days_from_monday() as usize] {
            let (from, to) = (at(r.start), at(r.end));
            // A range that lies wholly inside a DST gap is empty.
            if to > from {
                out.push((from, to));
            }
        }
    }
}

/// `t + d`, or the last representable instant.
fn plus(t: DateTime<Utc>, d: TimeDelta) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

struct Walk<'a> {
    cal: &'a BusinessCalendar,
    /// Everything before this has been handed out (or lies before the start).
    cursor: DateTime<Utc>,
    /// The next local date whose ranges to load.
    day: NaiveDate,
    /// The first date not loaded: the horizon.
    last: NaiveDate,
    /// Local midnight of `last`: from here on every instant is open.
    horizon: DateTime<Utc>,
    /// Loaded intervals not handed out yet, sorted by start.
    pending: Vec<(DateTime<Utc>, DateTime<Utc>)>,
    done: bool,
}

impl Iterator for Walk<'_> {
    type Item = (DateTime<Utc>, DateTime<Utc>);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            // Ranges of a day open no earlier than its midnight, so once the earliest pending
            // interval opens before the next day's midnight, no later day can open before it.
            while self.day < self.last
                && self
                    .pending
                    .first()
                    .is_none_or(|&(from, _)| from >= self.cal.midnight(self.day))
            {
                self.cal.intervals_on(self.day, &mut self.pending);
                self.pending.sort_by_key(|&(from, _)| from);
                self.day = self.day.succ_opt().unwrap_or(self.last);
            }
            if self.pending.is_empty() {
                // Past the horizon: every hour counts.
                if self.done {
                    return None;
                }
                self.done = true;
                let from = self.cursor.max(self.horizon);
                return Some((from, DateTime::<Utc>::MAX_UTC));
            }
            let (from, to) = self.pending.remove(0);
            let from = from.max(self.cursor);
            if to > from {
                self.cursor = to;
                return Some((from, to));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Duration;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn dur(s: &str) -> Duration {
        humantime::parse_duration(s).unwrap()
    }

    fn config(toml_text: &str) -> CalendarConfig {
        toml::from_str(toml_text).unwrap()
    }

    /// The calendars the tables use, by name.
    fn calendar(name: &str) -> BusinessCalendar {
        let text = match name {
            "always" => return BusinessCalendar::always_open(),
            // Office hours (the default), Christmas off; written as a TOML date and a string.
            "berlin" => {
                r#"time_zone = "Europe/Berlin"
                   holidays = [2026-12-25, "2026-12-26"]"#
            }
            "lunch" => {
                r#"time_zone = "Europe/Berlin"
                   [hours]
                   mon = ["09:00-12:30", "13:30-17:00"]
                   tue = ["09:00-12:30", "13:30-17:00"]
                   wed = ["09:00-12:30", "13:30-17:00"]
                   thu = ["09:00-12:30", "13:30-17:00"]
                   fri = ["09:00-12:30", "13:30-17:00"]"#
            }
            // A support desk open every night, 22:00 to 06:00; closed the night starting 24 Dec.
            "desk" => {
                r#"time_zone = "Europe/Berlin"
                   holidays = [2026-12-24]
                   [hours]
                   mon = ["22:00-06:00"]
                   tue = ["22:00-06:00"]
                   wed = ["22:00-06:00"]
                   thu = ["22:00-06:00"]
                   fri = ["22:00-06:00"]
                   sat = ["22:00-06:00"]
                   sun = ["22:00-06:00"]"#
            }
            // Open only early on Sundays, across Berlin's DST switch.
            "gap" => {
                r#"time_zone = "Europe/Berlin"
                   hours = { sun = ["02:30-05:00"] }"#
            }
            "ny" => r#"time_zone = "America/New_York""#,
            "berlin_24_7" => {
                r#"time_zone = "Europe/Berlin"
                   [hours]
                   mon = ["00:00-24:00"]
                   tue = ["00:00-24:00"]
                   wed = ["00:00-24:00"]
                   thu = ["00:00-24:00"]
                   fri = ["00:00-24:00"]
                   sat = ["00:00-24:00"]
                   sun = ["00:00-24:00"]"#
            }
            other => panic!("no calendar {other}"),
        };
        config(text).build().unwrap()
    }

    /// (calendar, start, business time, due, why). Berlin is UTC+1 (CET) until 29 March 2026 and
    /// from 25 October 2026, UTC+2 (CEST) between; New York is UTC-5 (EST) until 8 March and from
    /// 1 November 2026, UTC-4 (EDT) between.
    const ADD: &[(&str, &str, &str, &str, &str)] = &[
        (
            "berlin",
            "2026-03-13T15:55:00Z",
            "1h",
            "2026-03-16T08:55:00Z",
            "the issue's example: Fri 16:55 + 1h = Mon 09:55",
        ),
        (
            "berlin",
            "2026-03-10T09:00:00Z",
            "2h",
            "2026-03-10T11:00:00Z",
            "within one day: Tue 10:00 + 2h = 12:00",
        ),
        (
            "berlin",
            "2026-03-10T06:00:00Z",
            "1h",
            "2026-03-10T09:00:00Z",
            "before opening: the clock starts at 09:00",
        ),
        (
            "berlin",
            "2026-03-10T17:30:00Z",
            "1h",
            "2026-03-11T09:00:00Z",
            "after closing (18:30): overnight, due Wed 10:00",
        ),
        (
            "berlin",
            "2026-03-10T15:00:00Z",
            "1h",
            "2026-03-10T16:00:00Z",
            "runs out at closing: due 17:00, not next morning",
        ),
        (
            "berlin",
            "2026-03-10T16:00:00Z",
            "30m",
            "2026-03-11T08:30:00Z",
            "starts at closing: next morning 09:30",
        ),
        (
            "berlin",
            "2026-03-14T10:00:00Z",
            "1h",
            "2026-03-16T09:00:00Z",
            "weekend: Sat 11:00 waits for Mon 09:00",
        ),
        (
            "berlin",
            "2026-03-09T08:00:00Z",
            "20h",
            "2026-03-11T12:00:00Z",
            "multi-day: Mon 8h + Tue 8h + Wed 4h = Wed 13:00",
        ),
        (
            "berlin",
            "2026-03-09T08:00:00Z",
            "40h",
            "2026-03-13T16:00:00Z",
            "a whole week: Fri 17:00",
        ),
        (
            "berlin",
            "2026-12-24T15:30:00Z",
            "1h",
            "2026-12-28T08:30:00Z",
            "holiday: Thu 16:30, Fri 25 Dec off, due Mon 09:30",
        ),
        (
            "berlin",
            "2026-03-10T09:00:00Z",
            "0s",
            "2026-03-10T09:00:00Z",
            "zero while open: now",
        ),
        (
            "berlin",
            "2026-03-14T10:00:00Z",
            "0s",
            "2026-03-16T08:00:00Z",
            "zero while closed: the next opening",
        ),
        (
            "berlin",
            "2026-03-27T15:00:00Z",
            "2h",
            "2026-03-30T08:00:00Z",
            "DST forward over the weekend: Fri 16:00 CET + 2h = Mon 10:00 CEST",
        ),
        (
            "berlin",
            "2026-10-23T14:00:00Z",
            "2h",
            "2026-10-26T09:00:00Z",
            "DST back over the weekend: Fri 16:00 CEST + 2h = Mon 10:00 CET",
        ),
        (
            "berlin",
            "2026-03-29T10:00:00Z",
            "1h",
            "2026-03-30T08:00:00Z",
            "Sunday of the switch: Mon 09:00 CEST + 1h",
        ),
        (
            "lunch",
            "2026-03-10T11:00:00Z",
            "1h",
            "2026-03-10T13:00:00Z",
            "lunch break: 12:00 + 30m, pause, 13:30 + 30m = 14:00",
        ),
        (
            "lunch",
            "2026-03-10T11:45:00Z",
            "15m",
            "2026-03-10T12:45:00Z",
            "starting at lunch: 13:30 + 15m",
        ),
        (
            "lunch",
            "2026-03-10T08:00:00Z",
            "7h",
            "2026-03-10T16:00:00Z",
            "a full split day is 7h: due at 17:00",
        ),
        (
            "desk",
            "2026-03-10T20:30:00Z",
            "1h",
            "2026-03-10T22:00:00Z",
            "night desk: 21:30 waits for 22:00, due 23:00",
        ),
        (
            "desk",
            "2026-03-10T22:30:00Z",
            "2h",
            "2026-03-11T00:30:00Z",
            "across midnight: 23:30 + 2h = 01:30",
        ),
        (
            "desk",
            "2026-03-11T10:00:00Z",
            "9h",
            "2026-03-12T22:00:00Z",
            "a whole night (8h) then 1h of the next: 23:00",
        ),
        (
            "desk",
            "2026-03-28T21:00:00Z",
            "7h",
            "2026-03-29T04:00:00Z",
            "DST forward inside hours: that night is 7h, 22:00 CET to 06:00 CEST",
        ),
        (
            "desk",
            "2026-03-28T21:00:00Z",
            "8h",
            "2026-03-29T21:00:00Z",
            "the 8th hour falls on the next night: 23:00 CEST",
        ),
        (
            "desk",
            "2026-10-24T20:00:00Z",
            "9h",
            "2026-10-25T05:00:00Z",
            "DST back inside hours: that night is 9h, 22:00 CEST to 06:00 CET",
        ),
        (
            "desk",
            "2026-12-24T20:00:00Z",
            "1h",
            "2026-12-25T22:00:00Z",
            "holiday cancels the night starting 24 Dec (21:00): 25 Dec 23:00",
        ),
        (
            "desk",
            "2026-12-24T03:00:00Z",
            "1h",
            "2026-12-24T04:00:00Z",
            "the night that started 23 Dec still runs into the holiday",
        ),
        (
            "gap",
            "2026-03-28T12:00:00Z",
            "1h",
            "2026-03-29T02:00:00Z",
            "opening at 02:30, skipped by DST: opens 03:00 CEST (01:00Z)",
        ),
        (
            "gap",
            "2026-03-28T12:00:00Z",
            "2h30m",
            "2026-04-05T01:00:00Z",
            "that Sunday is 2h (03:00-05:00); 30m more the next Sunday",
        ),
        (
            "gap",
            "2026-10-24T12:00:00Z",
            "3h",
            "2026-10-25T03:30:00Z",
            "opening at 02:30, which happens twice: the earlier (00:30Z)",
        ),
        (
            "gap",
            "2026-10-24T12:00:00Z",
            "3h30m",
            "2026-10-25T04:00:00Z",
            "that Sunday is 3h30 (02:30 CEST to 05:00 CET)",
        ),
        (
            "ny",
            "2026-03-06T21:30:00Z",
            "1h",
            "2026-03-09T13:30:00Z",
            "New York DST forward: Fri 16:30 EST + 1h = Mon 09:30 EDT",
        ),
        (
            "ny",
            "2026-10-30T20:30:00Z",
            "1h",
            "2026-11-02T14:30:00Z",
            "New York DST back: Fri 16:30 EDT + 1h = Mon 09:30 EST",
        ),
        (
            "ny",
            "2026-03-13T15:55:00Z",
            "1h",
            "2026-03-13T16:55:00Z",
            "New York is open when Berlin's day ends",
        ),
        (
            "berlin_24_7",
            "2026-03-28T23:00:00Z",
            "5h",
            "2026-03-29T04:00:00Z",
            "24/7 across the forward switch: real hours",
        ),
        (
            "berlin_24_7",
            "2026-10-24T23:00:00Z",
            "5h",
            "2026-10-25T04:00:00Z",
            "24/7 across the back switch: real hours",
        ),
        (
            "berlin_24_7",
            "2026-03-13T15:55:00Z",
            "72h",
            "2026-03-16T15:55:00Z",
            "24/7: days in a row",
        ),
        (
            "always",
            "2026-03-13T15:55:00Z",
            "1h",
            "2026-03-13T16:55:00Z",
            "always open: wall clock",
        ),
        (
            "always",
            "2026-03-14T10:00:00Z",
            "0s",
            "2026-03-14T10:00:00Z",
            "always open: zero is now",
        ),
        (
            "always",
            "2026-03-14T10:00:00Z",
            "1000days",
            "2028-12-08T10:00:00Z",
            "always open: long durations are plain arithmetic",
        ),
    ];

    #[test]
    fn add_counts_business_time() {
        for &(cal, start, d, due, why) in ADD {
            let got = calendar(cal).add(t(start), dur(d));
            assert_eq!(got, t(due), "{cal}: {start} + {d}: {why}");
        }
    }

    /// (calendar, from, to, business time between, why).
    const BETWEEN: &[(&str, &str, &str, &str, &str)] = &[
        (
            "berlin",
            "2026-03-16T08:55:00Z",
            "2026-03-16T10:00:00Z",
            "1h 5m",
            "how late: due 09:55, contacted 11:00",
        ),
        (
            "berlin",
            "2026-03-13T15:55:00Z",
            "2026-03-16T08:55:00Z",
            "1h",
            "over a weekend",
        ),
        (
            "berlin",
            "2026-03-13T17:00:00Z",
            "2026-03-16T07:00:00Z",
            "0s",
            "all closed",
        ),
        (
            "berlin",
            "2026-03-16T10:00:00Z",
            "2026-03-16T08:55:00Z",
            "0s",
            "backwards is zero",
        ),
        (
            "berlin",
            "2026-12-24T00:00:00Z",
            "2026-12-29T00:00:00Z",
            "16h",
            "Christmas week: Thu and Mon only",
        ),
        (
            "lunch",
            "2026-03-10T08:00:00Z",
            "2026-03-10T16:00:00Z",
            "7h",
            "lunch is not counted",
        ),
        (
            "desk",
            "2026-03-28T12:00:00Z",
            "2026-03-29T12:00:00Z",
            "7h",
            "the short night",
        ),
        (
            "desk",
            "2026-10-24T12:00:00Z",
            "2026-10-25T12:00:00Z",
            "9h",
            "the long night",
        ),
        (
            "gap",
            "2026-03-29T00:00:00Z",
            "2026-03-30T00:00:00Z",
            "2h",
            "02:30 doesn't exist: 03:00-05:00",
        ),
        (
            "gap",
            "2026-10-25T00:00:00Z",
            "2026-10-26T00:00:00Z",
            "3h 30m",
            "02:30 happens twice: the earlier",
        ),
        (
            "berlin_24_7",
            "2026-03-29T00:00:00Z",
            "2026-03-30T00:00:00Z",
            "24h",
            "24/7 counts real time (the local day is 23h)",
        ),
        (
            "always",
            "2026-03-13T15:55:00Z",
            "2026-03-16T08:55:00Z",
            "65h",
            "wall clock",
        ),
    ];

    #[test]
    fn business_time_between_counts_only_open_time() {
        for &(cal, from, to, expected, why) in BETWEEN {
            let got = calendar(cal).business_time_between(t(from), t(to));
            assert_eq!(got, dur(expected), "{cal}: {from}..{to}: {why}");
        }
    }

    /// (calendar, instant, open?, next opening, why).
    const OPEN: &[(&str, &str, bool, &str, &str)] = &[
        (
            "berlin",
            "2026-03-10T08:00:00Z",
            true,
            "2026-03-10T08:00:00Z",
            "opening instant is open",
        ),
        (
            "berlin",
            "2026-03-10T16:00:00Z",
            false,
            "2026-03-11T08:00:00Z",
            "closing instant is closed",
        ),
        (
            "berlin",
            "2026-03-10T15:59:59Z",
            true,
            "2026-03-10T15:59:59Z",
            "just before closing",
        ),
        (
            "berlin",
            "2026-03-13T20:00:00Z",
            false,
            "2026-03-16T08:00:00Z",
            "Friday night",
        ),
        (
            "berlin",
            "2026-12-25T10:00:00Z",
            false,
            "2026-12-28T08:00:00Z",
            "holiday then weekend",
        ),
        (
            "lunch",
            "2026-03-10T11:30:00Z",
            false,
            "2026-03-10T12:30:00Z",
            "at lunch",
        ),
        (
            "desk",
            "2026-03-11T04:59:00Z",
            true,
            "2026-03-11T04:59:00Z",
            "05:59, the night before's range",
        ),
        (
            "desk",
            "2026-03-11T05:00:00Z",
            false,
            "2026-03-11T21:00:00Z",
            "06:00: closed till 22:00",
        ),
        (
            "desk",
            "2026-03-29T01:30:00Z",
            true,
            "2026-03-29T01:30:00Z",
            "03:30 CEST, after the jump",
        ),
        (
            "gap",
            "2026-03-29T00:59:59Z",
            false,
            "2026-03-29T01:00:00Z",
            "01:59:59 CET: opens at the jump",
        ),
        (
            "gap",
            "2026-10-25T00:30:00Z",
            true,
            "2026-10-25T00:30:00Z",
            "the first 02:30",
        ),
        (
            "always",
            "2026-03-14T10:00:00Z",
            true,
            "2026-03-14T10:00:00Z",
            "always",
        ),
    ];

    #[test]
    fn is_open_and_next_open() {
        for &(cal, at, open, next, why) in OPEN {
            let c = calendar(cal);
            assert_eq!(c.is_open(t(at)), open, "{cal}: is_open({at}): {why}");
            assert_eq!(c.next_open(t(at)), t(next), "{cal}: next_open({at}): {why}");
        }
    }

    /// (config, error, why).
    const INVALID: &[(&str, &str, &str)] = &[
        (
            r#"time_zone = "Europe/Berln""#,
            "time_zone: unknown time zone \"Europe/Berln\"",
            "typo in zone",
        ),
        (
            "time_zone = \"UTC\"\nhours = { mon = [\"9-17\"] }",
            "hours.mon[0]: \"9-17\" is not a range like \"09:00-17:00\"",
            "no minutes",
        ),
        (
            "time_zone = \"UTC\"\nhours = { tue = [\"09:00-17:00\", \"25:00-26:00\"] }",
            "hours.tue[1]: \"25:00-26:00\" is not a range",
            "no such hour",
        ),
        (
            "time_zone = \"UTC\"\nhours = { wed = [\"09:00-09:00\"] }",
            "hours.wed[0]: \"09:00-09:00\" is empty",
            "empty range",
        ),
        (
            "time_zone = \"UTC\"\nhours = { thu = [\"24:00-06:00\"] }",
            "hours.thu[0]: \"24:00-06:00\" starts at 24:00",
            "start at 24:00",
        ),
        (
            "time_zone = \"UTC\"\nhours = { fri = [\"09:00-13:00\", \"12:00-17:00\"] }",
            "hours.fri[1]: \"12:00-17:00\" overlaps \"09:00-13:00\" (hours.fri[0])",
            "overlap",
        ),
        (
            "time_zone = \"UTC\"\nhours = { sat = [\"22:00-06:00\", \"23:00-23:30\"] }",
            "hours.sat[1]: \"23:00-23:30\" overlaps",
            "overlap with a night range",
        ),
        (
            "time_zone = \"UTC\"\nhours = { sun = [] }",
            "hours: no open hours in the whole week",
            "never open",
        ),
    ];

    #[test]
    fn a_zone_name_is_matched_whatever_its_case_and_kept_as_the_database_spells_it() {
        // The tz database's names are unique ignoring case, and jiff looks them up that way.
        let cal = config(r#"time_zone = "europe/berlin""#).build().unwrap();
        assert_eq!(cal.time_zone().name(), "Europe/Berlin");
    }

    #[test]
    fn invalid_configs_are_rejected_with_the_key() {
        for &(text, expected, why) in INVALID {
            let err = config(text).build().unwrap_err();
            assert!(
                err.starts_with(expected),
                "{why}: {err:?} should start with {expected:?}"
            );
        }
    }

    #[test]
    fn config_shape() {
        let c = config(
            r#"time_zone = "Europe/Berlin"
               hours = { mon = ["9:00 - 12:30", "13:30-17:00"], sat = ["00:00-24:00"], sun = ["22:00-24:00"] }
               holidays = [2026-12-25, "2026-12-26"]"#,
        );
        assert_eq!(c.hours.mon, ["9:00 - 12:30", "13:30-17:00"]);
        assert!(
            c.hours.tue.is_empty(),
            "a day left out of `hours` is closed"
        );
        assert_eq!(
            c.holidays,
            [
                NaiveDate::from_ymd_opt(2026, 12, 25).unwrap(),
                NaiveDate::from_ymd_opt(2026, 12, 26).unwrap()
            ]
        );
        let cal = c.build().unwrap();
        assert_eq!(cal.time_zone().name(), "Europe/Berlin");
        assert!(cal.is_open(t("2026-03-09T08:00:00Z")), "Mon 09:00");
        assert!(!cal.is_open(t("2026-03-10T08:00:00Z")), "Tue is closed");
        // Sat 00:00 to Mon 00:00 (CET): all Saturday and Sunday 22:00-24:00.
        assert_eq!(
            cal.business_time_between(t("2026-03-13T23:00:00Z"), t("2026-03-15T23:00:00Z")),
            dur("26h")
        );

        let default = config(r#"time_zone = "UTC""#);
        assert_eq!(default.hours, WeeklyHours::office());
        assert!(default.holidays.is_empty());

        let json: CalendarConfig =
            serde_json::from_str(r#"{"time_zone": "UTC", "holidays": ["2026-12-25"]}"#).unwrap();
        assert_eq!(json.holidays.len(), 1);

        for bad in [
            "time_zone = \"UTC\"\nzone = \"UTC\"",
            "time_zone = \"UTC\"\nhours = { monday = [] }",
            "time_zone = \"UTC\"\nholidays = [\"25.12.2026\"]",
            "time_zone = \"UTC\"\nholidays = [2026-12-25T10:00:00]",
        ] {
            assert!(toml::from_str::<CalendarConfig>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_calendar_closed_beyond_the_horizon_counts_wall_time_from_there() {
        // Open on Mondays only, with every Monday for four years a holiday.
        let mut c = config("time_zone = \"UTC\"\nhours = { mon = [\"09:00-17:00\"] }");
        let first = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        c.holidays = (0..210).map(|w| first + chrono::Days::new(7 * w)).collect();
        let cal = c.build().unwrap();
        let start = t("2026-03-01T00:00:00Z");
        let horizon = t("2029-03-05T00:00:00Z"); // 1100 days after 2026-03-01
        assert_eq!(cal.next_open(start), horizon);
        assert_eq!(cal.add(start, dur("1h")), t("2029-03-05T01:00:00Z"));
        assert_eq!(
            cal.business_time_between(start, t("2029-03-05T01:00:00Z")),
            dur("1h")
        );
        // Huge durations saturate instead of overflowing.
        assert_eq!(cal.add(start, Duration::MAX), DateTime::<Utc>::MAX_UTC);
        assert_eq!(
            BusinessCalendar::always_open().add(start, Duration::MAX),
            DateTime::<Utc>::MAX_UTC
        );
    }

    #[test]
    fn always_open_matches_a_configured_24_7_utc_calendar() {
        let configured = config(
            r#"time_zone = "UTC"
               hours = { mon = ["00:00-24:00"], tue = ["00:00-24:00"], wed = ["00:00-24:00"], thu = ["00:00-24:00"], fri = ["00:00-24:00"], sat = ["00:00-24:00"], sun = ["00:00-24:00"] }"#,
        )
        .build()
        .unwrap();
        let always = BusinessCalendar::always_open();
        let start = t("2026-03-13T15:55:00Z");
        for d in ["0s", "1s", "1h", "23h 59m", "3days", "400days"] {
            assert_eq!(
                configured.add(start, dur(d)),
                always.add(start, dur(d)),
                "{d}"
            );
            assert_eq!(
                always.add(start, dur(d)) - start,
                TimeDelta::from_std(dur(d)).unwrap()
            );
        }
    }

    const PROP_CALENDARS: &[&str] = &[
        "berlin",
        "lunch",
        "desk",
        "gap",
        "ny",
        "berlin_24_7",
        "always",
    ];
    /// 2026-01-01 to 2028-01-01, so both years' DST switches are crossed.
    const FROM: i64 = 1_767_225_600;
    const TO: i64 = 1_830_297_600;

    /// Up to 200 business hours: even the "gap" calendar (2.5h a week) stays within the horizon,
    /// past which an instant's open-ness depends on where the walk started.
    const MAX_D: u64 = 200 * 3600;

    fn instant(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    proptest! {
        #[test]
        fn add_is_monotonic_in_the_duration(
            cal in 0..PROP_CALENDARS.len(),
            start in FROM..TO,
            a in 0u64..MAX_D,
            b in 0u64..MAX_D,
        ) {
            let c = calendar(PROP_CALENDARS[cal]);
            let (a, b) = (a.min(b), a.max(b));
            let s = instant(start);
            let (ra, rb) = (c.add(s, Duration::from_secs(a)), c.add(s, Duration::from_secs(b)));
            prop_assert!(ra <= rb, "{a}s -> {ra}, {b}s -> {rb}");
            prop_assert!(ra >= s + TimeDelta::seconds(a as i64), "business time is at most wall time");
        }

        #[test]
        fn business_time_between_undoes_add(
            cal in 0..PROP_CALENDARS.len(),
            start in FROM..TO,
            d in 0u64..MAX_D,
        ) {
            let c = calendar(PROP_CALENDARS[cal]);
            let s = instant(start);
            let due = c.add(s, Duration::from_secs(d));
            prop_assert_eq!(c.business_time_between(s, due), Duration::from_secs(d));
        }

        #[test]
        fn add_never_ends_in_closed_time(
            cal in 0..PROP_CALENDARS.len(),
            start in FROM..TO,
            d in 0u64..MAX_D,
        ) {
            let c = calendar(PROP_CALENDARS[cal]);
            let s = instant(start);
            let due = c.add(s, Duration::from_secs(d));
            if d == 0 {
                prop_assert_eq!(due, c.next_open(s));
            } else {
                // Inside hours, or exactly at a closing (the last open second just before it).
                prop_assert!(c.is_open(due) || c.is_open(due - TimeDelta::seconds(1)), "{due}");
            }
            prop_assert!(c.is_open(c.next_open(s)));
        }
    }
}
