//! The sparse, write-sharded `sla-open` index the escalation pass queries (every lead with
//! something timed ahead: a sweep, an SLA step, a recycle date), and the `parked` index of leads
//! a permanent error stopped.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::items::{PARKED_KEY, PARKED_KEY_ATTRIBUTE};
use super::keys::{shard_name, sla_time_key};
use super::{aws, items, Store, StoreError};
use leadrelay_domain::lead::Lead;

/// Name of the sparse index of leads with something timed ahead.
pub const SLA_INDEX: &str = "sla-open";
/// Name of the sparse index of parked leads.
pub const PARKED_INDEX: &str = "parked";

type Key = HashMap<String, AttributeValue>;

/// One page of an index query.
#[derive(Debug, Default)]
pub struct IndexPage {
    pub leads: Vec<Lead>,
    /// Items that would not decode, by key, skipped so one bad item never blocks the others.
    pub unreadable: Vec<(String, StoreError)>,
    /// Where the next page starts; none after the last.
    pub next: Option<Key>,
}

impl Store {
    /// Leads of one index shard whose next timed step is due at `now`, a page at a time.
    pub async fn sla_due(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        start: Option<Key>,
        page_size: i32,
    ) -> Result<IndexPage, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(SLA_INDEX)
            .key_condition_expression("sla_shard = :s AND sla_next_at <= :now")
            .expression_attribute_values(":s", AttributeValue::S(shard_name(shard)))
            .expression_attribute_values(":now", AttributeValue::S(sla_time_key(now)))
            .set_exclusive_start_key(start)
            .limit(page_size)
            .send()
            .await
            .map_err(aws("Query (sla-open index)"))?;
        Ok(page(out.items.unwrap_or_default(), out.last_evaluated_key))
    }

    /// Every lead in the `sla-open` index (whatever is timed, however far ahead), for the
    /// operator's view of what is waiting.
    pub async fn timed_leads(&self) -> Result<IndexPage, StoreError> {
        let mut all = IndexPage::default();
        for shard in 0..self.sla_shards {
            let p = self
                .whole_partition(SLA_INDEX, "sla_shard", shard_name(shard))
                .await?;
            all.leads.extend(p.leads);
            all.unreadable.extend(p.unreadable);
        }
        Ok(all)
    }

    /// Every parked lead, oldest first.
    pub async fn parked_leads(&self) -> Result<IndexPage, StoreError> {
        self.whole_partition(PARKED_INDEX, PARKED_KEY_ATTRIBUTE, PARKED_KEY.into())
            .await
    }

    /// Every item of one partition of an index, page after page.
    async fn whole_partition(
        &self,
        index: &'static str,
        key: &str,
        value: String,
    ) -> Result<IndexPage, StoreError> {
        let mut all = IndexPage::default();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression("#k = :k")
                .expression_attribute_names("#k", key)
                .expression_attribute_values(":k", AttributeValue::S(value.clone()))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(aws("Query (index)"))?;
            let p = page(out.items.unwrap_or_default(), out.last_evaluated_key);
            all.leads.extend(p.leads);
            all.unreadable.extend(p.unreadable);
            match p.next {
                Some(k) => start = Some(k),
                None => return Ok(all),
            }
        }
    }
}

fn page(raw: Vec<Key>, next: Option<Key>) -> IndexPage {
    let mut page = IndexPage {
        next,
        ..IndexPage::default()
    };
    for item in raw {
        let key = items::key_str(&item);
        match items::decode(&key, item) {
            Ok(lead) => page.leads.push(lead),
            Err(e) => page.unreadable.push((key, e)),
        }
    }
    page
}
