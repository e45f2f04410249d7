//! Per-window request counters for capture's rate limit.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use chrono::{DateTime, Utc};

use super::{aws, items, Store, StoreError};

impl Store {
    /// Counts one request against a rate-limit window and returns the count so far. The
    /// counter expires by itself (TTL) after the window.
    pub async fn count_hit(
        &self,
        key: &str,
        window_ends: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(items::rate_key(key)))
            .update_expression(
                "ADD hits :one SET expires_at = if_not_exists(expires_at, :exp), entity = :e",
            )
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(
                ":exp",
                AttributeValue::N((window_ends.timestamp() + 60).to_string()),
            )
            .expression_attribute_values(":e", AttributeValue::S("rate".into()))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(aws("UpdateItem (rate limit)"))?;
        Ok(out
            .attributes
            .as_ref()
            .and_then(|a| a.get("hits"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse().ok())
            .unwrap_or(1))
    }
}
