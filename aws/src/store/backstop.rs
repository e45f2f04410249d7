//! The backstop's watermarks: per (source, form or account), the end of the last poll window
//! whose leads were all admitted ([`leadrelay_domain::backstop`]). No personal data.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use leadrelay_domain::backstop::Watermark;

use super::{aws, items, Store, StoreError};

const WATERMARK_SK: &str = "WATERMARK";

fn pk(source: &str, target: &str) -> String {
    format!("BACKSTOP#{source}#{target}")
}

fn key(source: &str, target: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(pk(source, target))),
        ("sk".to_owned(), AttributeValue::S(WATERMARK_SK.to_owned())),
    ])
}

impl Store {
    /// The watermark of a source's form or account; none before its first complete poll.
    pub async fn backstop_watermark(
        &self,
        source: &str,
        target: &str,
    ) -> Result<Option<Watermark>, StoreError> {
        self.get_raw(key(source, target), true)
            .await?
            .map(|i| items::decode(&pk(source, target), i))
            .transpose()
    }

    /// Records a poll. The backstop runs one pass at a time (the function's reserved
    /// concurrency is 1), so the last write wins; two passes at once could at worst move a
    /// watermark back a little, which asks again for leads already admitted (found as
    /// duplicates), never skips one.
    pub async fn put_backstop_watermark(
        &self,
        source: &str,
        target: &str,
        mark: &Watermark,
    ) -> Result<(), StoreError> {
        let mut item: HashMap<String, AttributeValue> =
            serde_dynamo::to_item(mark).map_err(|e| StoreError::Encode {
                key: pk(source, target),
                message: e.to_string(),
            })?;
        item.extend(key(source, target));
        item.insert("entity".into(), AttributeValue::S("backstop".into()));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(aws("PutItem (backstop watermark)"))?;
        Ok(())
    }
}
