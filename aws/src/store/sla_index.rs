//! The sparse, write-sharded `sla-open` index the escalation pass queries.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::{aws, items, Store, StoreError};
use leadrelay_domain::lead::Lead;

/// Name of the sparse index of leads whose SLA clock runs.
pub const SLA_INDEX: &str = "sla-open";

/// The index sort key for a time: fixed width, so strings sort as times do.
pub fn sla_time_key(t: DateTime<Utc>) -> String {
    items::time(t)
}

/// The write shard of a lead in the SLA index: stable, spread evenly by the lead id's random
/// tail so no partition runs hot.
pub fn sla_shard_of(lead_id: &str, shards: u32) -> u32 {
    // FNV-1a: tiny, stable across releases (unlike std's hasher).
    let mut h: u32 = 0x811c_9dc5;
    for b in lead_id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % shards.max(1)
}

pub(super) fn shard_name(shard: u32) -> String {
    format!("shard-{shard}")
}

impl Store {
    /// Leads of one index shard whose next SLA step is due at `now`, a page at a time.
    pub async fn sla_due(
        &self,
        shard: u32,
        now: DateTime<Utc>,
        start: Option<HashMap<String, AttributeValue>>,
        page_size: i32,
    ) -> Result<(Vec<Lead>, Option<HashMap<String, AttributeValue>>), StoreError> {
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
        let leads = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|i| items::decode(&items::key_str(&i), i))
            .collect::<Result<Vec<Lead>, _>>()?;
        Ok((leads, out.last_evaluated_key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(sla_shard_of("01JABCDEF", 8), sla_shard_of("01JABCDEF", 8));
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..200 {
            seen.insert(sla_shard_of(&format!("01J{i:023}"), 8));
        }
        assert_eq!(seen.len(), 8);
    }

    #[test]
    fn time_keys_sort_as_times() {
        let a: DateTime<Utc> = "2026-03-02T09:59:59.999Z".parse().unwrap();
        let b: DateTime<Utc> = "2026-03-02T10:00:00Z".parse().unwrap();
        assert!(sla_time_key(a) < sla_time_key(b));
        assert_eq!(sla_time_key(b), "2026-03-02T10:00:00.000Z");
    }
}
