//! The sparse, write-sharded `sla-open` index the escalation pass queries.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};

use super::keys::{shard_name, sla_time_key};
use super::{aws, items, Store, StoreError};
use leadrelay_domain::lead::Lead;

/// Name of the sparse index of leads whose SLA clock runs.
pub const SLA_INDEX: &str = "sla-open";

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
