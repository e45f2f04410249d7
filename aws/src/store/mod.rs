//! The DynamoDB adapter: one table, items keyed by `pk`/`sk` (single-table design).
//!
//! | item                 | pk                              | sk              |
//! |----------------------|---------------------------------|-----------------|
//! | lead profile         | `LEAD#<lead id>`                | `LEAD`          |
//! | timeline event       | `LEAD#<lead id>`                | `EVENT#<ulid>`  |
//! | email sent (once)    | `LEAD#<lead id>`                | `EMAIL#<kind>`  |
//! | raw delivery         | `DELIVERY#<delivery id>`        | `DELIVERY`      |
//! | redelivery key (TTL) | `IDEMPOTENCY#<source>#<key>`    | `IDEMPOTENCY`   |
//! | team rotation        | `TEAM#<team>`                   | `ROTATION`      |
//! | account owner        | `ACCOUNT#<domain>`              | `ACCOUNT`       |
//! | rate-limit window    | `RATE#<source>#<addr hash>#<minute>` | `RATE`     |
//! | person (identity)    | `PERSON#<sha256 of email:… / phone:…>` | `PERSON` |
//! | company cache (TTL)  | `COMPANY#<domain>`              | `COMPANY`       |
//! | SLA index shards     | `INDEX#sla-open`                | `SHARDS`        |
//!
//! Every lead profile carries `received_day` and `received_key`, the keys of the keys-only
//! `leads-by-day` index the export and the report read by arrival (`arrivals`).
//!
//! Lead profiles whose SLA clock runs carry `sla_shard` and `sla_next_at`, the keys of the
//! sparse, write-sharded `sla-open` index the escalation pass queries. The pass records the
//! widest shard count leads were written with (`sla_index`), so lowering the count strands
//! none.

mod arrivals;
mod backstop;
mod company_cache;
mod emails;
mod erase;
mod intake;
mod items;
mod keys;
mod leads;
mod rate_limits;
mod routing;
mod sla_index;

pub use arrivals::{days_between, LEADS_BY_DAY_INDEX};
pub use emails::{EmailClaim, EmailRecord, Recorded};
pub use erase::{Erasure, ErasureReport, PERSON_BY_EMAIL_INDEX, PERSON_BY_PHONE_INDEX};
pub use intake::{Captured, DeliveryOutcome, Person, PersonLink, RawDelivery};
pub use keys::{sla_shard_of, sla_time_key};
pub use leads::Change;
pub use sla_index::{IndexPage, PARKED_INDEX, SLA_INDEX};

use std::collections::HashMap;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use leadrelay_domain::identity::PhoneReader;
use leadrelay_domain::sla_shards::ShardRecord;
use std::sync::{Arc, Mutex};

/// An item as the SDK holds it.
type Item = HashMap<String, AttributeValue>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// DynamoDB refused or did not answer. The SDK's error is kept as the source, so
    /// throttling and timeouts can be told apart from a bad request ([`StoreError::is_transient`]).
    #[error("DynamoDB {op} failed: {message}")]
    Aws {
        op: &'static str,
        /// The SDK error with its context, for the logs.
        message: String,
        /// Throttled, timed out, a 5xx, or no answer at all: the same call may succeed later.
        transient: bool,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// Someone else wrote first (a condition failed, or DynamoDB cancelled the transaction for a
    /// concurrent one): read again and decide again ([`crate::retry::on_conflict`]).
    #[error("the lead changed while we worked on it (version conflict)")]
    Conflict,
    #[error("stored item {key} cannot be read: {message}")]
    Decode { key: String, message: String },
    #[error("stored item {key} cannot be written: {message}")]
    Encode { key: String, message: String },
}

impl StoreError {
    /// Whether the same call may succeed later: a lost race, throttling, a timeout, a 5xx. A bad
    /// item or a request DynamoDB refuses as wrong will fail the same way every time.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Conflict => true,
            StoreError::Aws { transient, .. } => *transient,
            StoreError::Decode { .. } | StoreError::Encode { .. } => false,
        }
    }
}

impl crate::retry::Conflict for StoreError {
    fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict)
    }
}

fn aws<E>(op: &'static str) -> impl FnOnce(SdkError<E, HttpResponse>) -> StoreError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
{
    move |e| {
        let message = crate::sdk_error::describe(&e);
        StoreError::Aws {
            op,
            transient: crate::sdk_error::is_transient(&e),
            // The message, not the SDK's error: its display carries the raw response, items
            // and all.
            source: message.clone().into(),
            message,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
    sla_shards: u32,
    /// Where a waiting lead goes in the `sla-open` index: the sweep's grace (from the
    /// configuration, which every function loads).
    sweep_grace: std::time::Duration,
    read_phones: Option<PhoneReader>,
    /// The `sla-open` shards record as this environment last read or wrote it, and when: the
    /// escalation pass reads it again only once it is older than a quarter of an hour.
    sla_shard_record: Arc<Mutex<Option<(ShardRecord, std::time::Instant)>>>,
}

impl Store {
    /// `read_phones` reads a lead's phone when it changed since the lead was last saved; none
    /// only in functions that never change what a person typed (route, notify, escalate), which
    /// then keep the reading saved with the lead and do not link libphonenumber.
    pub fn new(
        client: Client,
        table: impl Into<String>,
        sla_shards: u32,
        sweep_grace: std::time::Duration,
        read_phones: Option<PhoneReader>,
    ) -> Self {
        Self {
            client,
            table: table.into(),
            sla_shards: sla_shards.max(1),
            sweep_grace,
            read_phones,
            sla_shard_record: Arc::default(),
        }
    }

    /// How a lead's item is indexed.
    fn layout(&self) -> items::IndexLayout {
        items::IndexLayout {
            shards: self.sla_shards,
            sweep_grace: self.sweep_grace,
            read_phones: self.read_phones,
        }
    }

    pub fn sweep_grace(&self) -> std::time::Duration {
        self.sweep_grace
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn sla_shards(&self) -> u32 {
        self.sla_shards
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn put(
        &self,
        item: HashMap<String, AttributeValue>,
    ) -> aws_sdk_dynamodb::types::builders::PutBuilder {
        Put::builder().table_name(&self.table).set_item(Some(item))
    }

    /// Opens the connection to DynamoDB and resolves the credentials, so the first request
    /// after a cold start does not pay for them: one eventually consistent read of a key
    /// nothing is ever stored under (half a read unit, once per execution environment).
    pub async fn prime(&self) -> Result<(), StoreError> {
        let key = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("PRIME".into())),
            ("sk".to_owned(), AttributeValue::S("PRIME".into())),
        ]);
        self.get_raw(key, false).await.map(|_| ())
    }

    async fn get_raw(
        &self,
        key: HashMap<String, AttributeValue>,
        consistent: bool,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(aws("GetItem"))?;
        Ok(out.item)
    }

    /// Reads several items in one `BatchGetItem` (up to 100 keys; the keys DynamoDB leaves
    /// unprocessed under load are asked again, a few times, before it counts as throttled).
    /// The answer is in the order of `keys`, `None` for an item that does not exist. One
    /// request instead of one per item: each item still costs its read units.
    async fn get_many(
        &self,
        keys: Vec<HashMap<String, AttributeValue>>,
        consistent: bool,
    ) -> Result<Vec<Option<HashMap<String, AttributeValue>>>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let id = |k: &HashMap<String, AttributeValue>| {
            let part = |n: &str| k.get(n).and_then(|v| v.as_s().ok()).cloned();
            (part("pk"), part("sk"))
        };
        let mut found = HashMap::new();
        let mut pending = keys.clone();
        for attempt in 0..5u32 {
            if pending.is_empty() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(25 << attempt)).await;
            }
            let ask = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(consistent)
                .build()
                .expect("keys set");
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.table, ask)
                .send()
                .await
                .map_err(aws("BatchGetItem"))?;
            for item in out
                .responses
                .unwrap_or_default()
                .remove(&self.table)
                .unwrap_or_default()
            {
                found.insert(id(&item), item);
            }
            pending = out
                .unprocessed_keys
                .unwrap_or_default()
                .remove(&self.table)
                .map(|k| k.keys)
                .unwrap_or_default();
        }
        if !pending.is_empty() {
            return Err(StoreError::Aws {
                op: "BatchGetItem",
                message: "keys left unprocessed after retries (throttled)".into(),
                transient: true,
                source: "unprocessed keys".into(),
            });
        }
        Ok(keys.iter().map(|k| found.remove(&id(k))).collect())
    }

    async fn transact(
        &self,
        writes: Vec<TransactWriteItem>,
        op: &'static str,
    ) -> Result<(), TransactFailure> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(()),
            Err(e) => e,
        };
        // One reason per item, in order ("None" for the items that were fine), with the stored
        // item where the write asked for it (`ReturnValuesOnConditionCheckFailure`).
        let reasons = match err.as_service_error() {
            Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                c.cancellation_reasons.as_deref().unwrap_or_default()
            }
            _ => &[],
        };
        let failed: Vec<(usize, Option<Item>)> = reasons
            .iter()
            .enumerate()
            .filter(|(_, r)| r.code.as_deref() == Some("ConditionalCheckFailed"))
            .map(|(i, r)| (i, r.item.clone()))
            .collect();
        if !failed.is_empty() {
            return Err(TransactFailure::ConditionFailed(Failed(failed)));
        }
        // A concurrent transaction on the same items: as good as a lost condition, so
        // the caller reads again and decides again under the one retry policy.
        if reasons
            .iter()
            .any(|r| r.code.as_deref() == Some("TransactionConflict"))
        {
            return Err(TransactFailure::Conflict);
        }
        Err(TransactFailure::Store(aws(op)(err)))
    }
}

/// A put that succeeds only while the stored item's `version` is `version`.
fn at_version(
    put: aws_sdk_dynamodb::types::builders::PutBuilder,
    version: u64,
) -> aws_sdk_dynamodb::types::builders::PutBuilder {
    put.condition_expression("#v = :v")
        .expression_attribute_names("#v", "version")
        .expression_attribute_values(":v", AttributeValue::N(version.to_string()))
}

enum TransactFailure {
    ConditionFailed(Failed),
    /// Cancelled for a concurrent transaction on the same items.
    Conflict,
    Store(StoreError),
}

/// The items (by position) of a cancelled transaction whose condition failed, each with what
/// was stored when its write asked for it and there was an item.
struct Failed(Vec<(usize, Option<Item>)>);

impl Failed {
    /// Whether the item at `position` failed its condition.
    fn at(&self, position: usize) -> bool {
        self.0.iter().any(|(i, _)| *i == position)
    }

    /// The stored item of the failed position `position`, taken out.
    fn take(&mut self, position: usize) -> Option<Item> {
        self.0
            .iter_mut()
            .find(|(i, _)| *i == position)
            .and_then(|(_, item)| item.take())
    }

    /// The failed positions from `first` on, each with the item stored there.
    fn since(self, first: usize) -> impl Iterator<Item = (usize, Option<Item>)> {
        self.0.into_iter().filter(move |(i, _)| *i >= first)
    }
}

/// A lost condition or a concurrent transaction: either way someone else wrote first.
impl From<TransactFailure> for StoreError {
    fn from(f: TransactFailure) -> Self {
        match f {
            TransactFailure::ConditionFailed(_) | TransactFailure::Conflict => StoreError::Conflict,
            TransactFailure::Store(e) => e,
        }
    }
}
