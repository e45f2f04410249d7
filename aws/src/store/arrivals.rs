//! Leads by arrival time: the `leads-by-day` index the export (`leadrelay leads`) and the
//! report read, instead of scanning the table.
//!
//! Every lead item carries `received_day` (the UTC day it arrived, `YYYY-MM-DD`: the index's
//! partition) and `received_key` (`<received_at, fixed width>#<lead id>`: its sort key). A
//! period is read one day's partition at a time, the first and last day cut to the period by
//! the sort key, and the leads themselves are then read from the table a hundred at a time.
//!
//! Keys only, on purpose: both keys derive from the arrival, which never changes, so the index
//! is written once when a lead is created and never again, however often the lead is saved
//! (enrich, route, notify, escalation: five to ten saves of an item of 2 to 96 KiB). An index
//! projecting the lead would be written on each of those saves, the whole lead each time, to
//! save the reader a `BatchGetItem` that costs what the index query would have. Readers are
//! an operator's export and report, occasionally; writers are every lead, always.
//!
//! Not sharded: a day's partition takes one tiny write per new lead, and a partition takes
//! 1,000 writes a second; leads arrive from people filling in forms, far below that even in a
//! platform's bulk delivery (admitted ten to a queue message).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use chrono::{DateTime, Duration, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};

use super::items::{RECEIVED_DAY_ATTRIBUTE, RECEIVED_KEY_ATTRIBUTE};
use super::keys::{received_day, time};
use super::{aws, items, Store, StoreError};
use leadrelay_domain::lead::Lead;

/// Name of the index of leads by the day they arrived.
pub const LEADS_BY_DAY_INDEX: &str = "leads-by-day";

/// `BatchGetItem` reads at most this many items a request.
const BATCH_GET_MAX: usize = 100;
/// How many days' partitions are queried at once.
const PARALLEL_DAYS: usize = 8;
/// Rounds of re-asking for the keys a `BatchGetItem` left unprocessed (throttled) before
/// giving up with an error a retry can help.
const UNPROCESSED_ROUNDS: u32 = 8;

type Key = HashMap<String, AttributeValue>;

/// The UTC days `[since, until)` touches, oldest first.
pub fn days_between(since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<String> {
    let mut days = Vec::new();
    if until <= since {
        return days;
    }
    let last = (until - Duration::nanoseconds(1)).date_naive();
    let mut day = since.date_naive();
    while day <= last {
        days.push(received_day(
            day.and_hms_opt(0, 0, 0).expect("midnight").and_utc(),
        ));
        day = day.succ_opt().expect("a day after");
    }
    days
}

impl Store {
    /// Every lead that arrived in `[since, until)`, oldest first (by arrival, then id), read
    /// through the `leads-by-day` index: one query per day of the period, then the leads in
    /// batches of a hundred. Leads written before the index existed carry no `received_day`
    /// and are not found here ([`Store::scan_leads`] finds them).
    pub async fn leads_received(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<Lead>, StoreError> {
        // The keys' times are bare bounds, to the millisecond: a lead at exactly `since` sorts
        // after it ("T#id" > "T"). The upper bound is a millisecond on, so a lead of `until`'s
        // millisecond but before it is read; the exact window is kept below.
        let (low, high) = (time(since), time(until + Duration::milliseconds(1)));
        let keys: Vec<Vec<Key>> = stream::iter(days_between(since, until))
            .map(|day| self.day_keys(day, low.clone(), high.clone()))
            .buffered(PARALLEL_DAYS)
            .try_collect()
            .await?;
        let keys: Vec<Key> = keys.into_iter().flatten().collect();
        let mut leads: Vec<Lead> = stream::iter(keys.chunks(BATCH_GET_MAX).map(<[Key]>::to_vec))
            .map(|chunk| self.batch_get_leads(chunk))
            .buffered(PARALLEL_DAYS)
            .try_collect::<Vec<Vec<Lead>>>()
            .await?
            .into_iter()
            .flatten()
            .collect();
        leads.retain(|l| l.received_at >= since && l.received_at < until);
        leads.sort_by(|a, b| (a.received_at, &a.lead_id).cmp(&(b.received_at, &b.lead_id)));
        Ok(leads)
    }

    /// The table keys of one day's leads within `[low, high]`.
    async fn day_keys(
        &self,
        day: String,
        low: String,
        high: String,
    ) -> Result<Vec<Key>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(LEADS_BY_DAY_INDEX)
            .key_condition_expression("#d = :d AND #k BETWEEN :lo AND :hi")
            .expression_attribute_names("#d", RECEIVED_DAY_ATTRIBUTE)
            .expression_attribute_names("#k", RECEIVED_KEY_ATTRIBUTE)
            .expression_attribute_values(":d", AttributeValue::S(day))
            .expression_attribute_values(":lo", AttributeValue::S(low))
            .expression_attribute_values(":hi", AttributeValue::S(high))
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            out.push(items::key_of(
                &item.map_err(aws("Query (leads-by-day index)"))?,
            ));
        }
        Ok(out)
    }

    /// Up to a hundred leads by their keys; a lead erased since the index was read is left out.
    async fn batch_get_leads(&self, keys: Vec<Key>) -> Result<Vec<Lead>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        let mut pending = keys;
        let mut round = 0;
        while !pending.is_empty() {
            if round > 0 {
                tokio::time::sleep(crate::retry::pause(round - 1)).await;
            }
            let request = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .build()
                .expect("keys set");
            let answer = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(aws("BatchGetItem (leads)"))?;
            for item in answer
                .responses
                .and_then(|mut r| r.remove(&self.table))
                .unwrap_or_default()
            {
                out.push(items::decode(&items::key_str(&item), item)?);
            }
            pending = answer
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
            round += 1;
            if !pending.is_empty() && round > UNPROCESSED_ROUNDS {
                return Err(StoreError::Aws {
                    op: "BatchGetItem (leads)",
                    message: format!("{} keys still unprocessed (throttled)", pending.len()),
                    transient: true,
                    source: "unprocessed keys".into(),
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn a_period_reads_every_day_it_touches_and_no_other() {
        assert_eq!(
            days_between(t("2026-03-01T23:00:00Z"), t("2026-03-03T00:00:00Z")),
            ["2026-03-01", "2026-03-02"]
        );
        assert_eq!(
            days_between(t("2026-03-01T23:00:00Z"), t("2026-03-03T00:00:00.001Z")),
            ["2026-03-01", "2026-03-02", "2026-03-03"]
        );
        assert_eq!(
            days_between(t("2026-03-02T10:00:00Z"), t("2026-03-02T11:00:00Z")),
            ["2026-03-02"]
        );
        // Arrival times carry nanoseconds: a bound just past midnight reads that day too.
        assert_eq!(
            days_between(t("2026-03-02T10:00:00Z"), t("2026-03-03T00:00:00.0005Z")),
            ["2026-03-02", "2026-03-03"]
        );
        assert!(days_between(t("2026-03-02T10:00:00Z"), t("2026-03-02T10:00:00Z")).is_empty());
    }
}
