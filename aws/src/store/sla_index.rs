//! The sparse, write-sharded `sla-open` index the escalation pass queries (every lead with
//! something timed ahead: a sweep, an SLA step, a recycle date), and the `parked` index of leads
//! a permanent error stopped.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::items::{PARKED_KEY, PARKED_KEY_ATTRIBUTE};
use super::keys::{shard_name, sla_time_key};
use super::{aws, items, Store, StoreError, TransactFailure};
use aws_sdk_dynamodb::types::TransactWriteItem;
use leadrelay_domain::lead::Lead;
use leadrelay_domain::sla_shards::{self, ShardRecord};

/// Name of the sparse index of leads with something timed ahead.
pub const SLA_INDEX: &str = "sla-open";
/// A time as serde writes it into an item (RFC 3339, `Z`), which a condition must match.
fn time_as_stored(t: DateTime<Utc>) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// How long an environment trusts its copy of the shards record.
const SHARD_RECORD_TTL: std::time::Duration = std::time::Duration::from_secs(15 * 60);
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

    /// Whether a shard of the index holds no lead at all, due or not.
    pub async fn sla_shard_is_empty(&self, shard: u32) -> Result<bool, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(SLA_INDEX)
            .key_condition_expression("sla_shard = :s")
            .expression_attribute_values(":s", AttributeValue::S(shard_name(shard)))
            .limit(1)
            .send()
            .await
            .map_err(aws("Query (sla-open index)"))?;
        Ok(out.items.unwrap_or_default().is_empty())
    }

    /// What the escalation passes recorded of the shard counts leads were indexed with; none
    /// before the first pass. Read again when this environment's copy is older than
    /// [`SHARD_RECORD_TTL`], so a record another environment changed (a pass during a deploy)
    /// is seen within it.
    pub async fn sla_shard_record(&self) -> Result<Option<ShardRecord>, StoreError> {
        if let Some((r, at)) = self.shard_record_cache().clone() {
            if at.elapsed() < SHARD_RECORD_TTL {
                return Ok(Some(r));
            }
        }
        let read: Option<ShardRecord> = self
            .get_raw(items::sla_shards_key(), true)
            .await?
            .map(|i| items::decode(&items::key_str(&i), i))
            .transpose()?;
        self.remember_shard_record(read.clone());
        Ok(read)
    }

    fn remember_shard_record(&self, record: Option<ShardRecord>) {
        *self.shard_record_cache() = record.map(|r| (r, std::time::Instant::now()));
    }

    fn shard_record_cache(
        &self,
    ) -> std::sync::MutexGuard<'_, Option<(ShardRecord, std::time::Instant)>> {
        // Poisoned only if a panic interrupted the assignment of a plain value: still whole.
        self.sla_shard_record
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Saves `record` in place of `expected` (none: no record yet). `false` when another pass
    /// changed it first: the caller reads it again.
    ///
    /// A one-item transaction rather than a `PutItem`: escalate sends transactions anyway, and
    /// a second write operation would link its own request and response code (43 KB of
    /// the binary) for a write made a few times in a deployment's life.
    pub async fn put_sla_shard_record(
        &self,
        record: &ShardRecord,
        expected: Option<&ShardRecord>,
    ) -> Result<bool, StoreError> {
        let put = self.put(items::sla_shards(record)?);
        // The stored record must still be `expected`, field by field (each spelled as the item
        // spells it, by serde).
        let put = match expected {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(e) => {
                let mut conditions = Vec::new();
                let mut put = put;
                for (name, value) in [
                    ("widest", Some(AttributeValue::N(e.widest.to_string()))),
                    (
                        "narrowed_at",
                        e.narrowed_at.map(|t| AttributeValue::S(time_as_stored(t))),
                    ),
                    (
                        "narrowed_to",
                        e.narrowed_to.map(|n| AttributeValue::N(n.to_string())),
                    ),
                    (
                        "looked_beyond_at",
                        e.looked_beyond_at
                            .map(|t| AttributeValue::S(time_as_stored(t))),
                    ),
                ] {
                    match value {
                        Some(v) => {
                            conditions.push(format!("{name} = :{name}"));
                            put = put.expression_attribute_values(format!(":{name}"), v);
                        }
                        None => conditions.push(format!("attribute_not_exists({name})")),
                    }
                }
                put.condition_expression(conditions.join(" AND "))
            }
        };
        let write = TransactWriteItem::builder()
            .put(put.build().map_err(|e| StoreError::Encode {
                key: "sla-open shards".into(),
                message: e.to_string(),
            })?)
            .build();
        match self
            .transact(vec![write], "TransactWriteItems (sla-open shards)")
            .await
        {
            Ok(()) => {
                self.remember_shard_record(Some(record.clone()));
                Ok(true)
            }
            Err(TransactFailure::ConditionFailed(_) | TransactFailure::Conflict) => {
                self.remember_shard_record(None);
                Ok(false)
            }
            Err(TransactFailure::Store(e)) => Err(e),
        }
    }

    /// The highest of `shards` that holds a lead, due or not; none when all are empty. One
    /// one-item query each, eight at a time.
    pub async fn highest_occupied_sla_shard(
        &self,
        shards: std::ops::Range<u32>,
    ) -> Result<Option<u32>, StoreError> {
        use futures::stream::{self, StreamExt, TryStreamExt};
        let occupied: Vec<u32> = stream::iter(shards)
            .map(|shard| async move {
                Ok::<_, StoreError>((shard, self.sla_shard_is_empty(shard).await?))
            })
            .buffer_unordered(8)
            .try_filter_map(|(shard, empty)| async move { Ok((!empty).then_some(shard)) })
            .try_collect()
            .await?;
        Ok(occupied.into_iter().max())
    }

    /// The shards leads may be indexed on: the configured count, or the widest recorded while
    /// narrower shards take over.
    /// A record out of bounds is taken as every shard there can be, as escalate takes it.
    async fn sla_shards_written(&self) -> Result<u32, StoreError> {
        let recorded = match self.sla_shard_record().await? {
            None => 0,
            Some(r) if sla_shards::is_sound(&r) => r.widest,
            Some(_) => sla_shards::MAX_SHARDS,
        };
        Ok(self.sla_shards.max(recorded))
    }

    /// Every lead in the `sla-open` index (whatever is timed, however far ahead), for the
    /// operator's view of what is waiting.
    pub async fn timed_leads(&self) -> Result<IndexPage, StoreError> {
        let mut all = IndexPage::default();
        for shard in 0..self.sla_shards_written().await? {
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
