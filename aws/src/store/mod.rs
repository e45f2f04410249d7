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
//!
//! Lead profiles whose SLA clock runs carry `sla_shard` and `sla_next_at`, the keys of the
//! sparse, write-sharded `sla-open` index the escalation pass queries.

mod erase;
mod items;

pub use erase::{Erasure, ErasureReport};

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use leadrelay_domain::company::CachedCompany;
use leadrelay_domain::emails::Email;
use leadrelay_domain::lead::{Lead, LeadEvent};
use leadrelay_domain::routing::TeamState;

pub use items::{sla_shard_of, sla_time_key};

/// Name of the sparse index of leads whose SLA clock runs.
pub const SLA_INDEX: &str = "sla-open";

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
    move |e| StoreError::Aws {
        op,
        message: DisplayErrorContext(&e).to_string(),
        transient: crate::sdk_error::is_transient(&e),
        source: Box::new(e),
    }
}

/// A delivery as it arrived, kept so it can be replayed (invariant 2 in docs/architecture.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawDelivery {
    pub delivery_id: String,
    pub source: String,
    pub received_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The body as received (UTF-8 lossless where it was text; otherwise base64 in `body_base64`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// accepted, duplicate, spam, malformed_body, not_a_lead.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<String>,
    /// Seconds since the epoch after which DynamoDB may delete it (duplicates only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// What a capture write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Captured {
    Created,
    /// The delivery was seen before: here is the lead it made.
    Duplicate {
        lead_id: String,
    },
}

/// A person's identity key pointing at their latest lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonLink {
    /// `email:<address>` or `phone:<E.164>` (stored hashed).
    pub identity_key: String,
    pub person_id: String,
    pub lead_id: String,
    /// The lead the key pointed at when it was read (`None`: no such key yet). The write only
    /// succeeds if that is still so, so two first submissions of one person cannot both start
    /// a lead.
    pub expected_lead_id: Option<String>,
}

/// What the table knows of an identity key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Person {
    pub person_id: String,
    pub lead_id: String,
}

/// What claiming an email found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailClaim {
    /// Ours to send.
    Claimed,
    /// Already sent: do nothing.
    AlreadySent,
    /// Another worker claimed it moments ago and may be sending it now: try again later.
    InFlight,
}

/// A record of one email, for the lead's timeline and the once-only guarantee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailRecord {
    pub lead_id: String,
    pub kind: String,
    pub state: String,
    pub claimed_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

/// How long a claimed-but-unconfirmed email blocks others: past this, the sender is presumed
/// dead and another may send.
const EMAIL_CLAIM_LEASE_SECS: i64 = 120;

#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
    sla_shards: u32,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>, sla_shards: u32) -> Self {
        Self {
            client,
            table: table.into(),
            sla_shards: sla_shards.max(1),
        }
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

    /// The lead's next version, and the write that saves it only if the stored lead is still
    /// at the version it was read at (optimistic concurrency).
    fn lead_update(&self, lead: &Lead) -> Result<(Lead, Put), StoreError> {
        let mut next = lead.clone();
        next.version = lead.version + 1;
        let put = at_version(self.put(items::lead(&next, self.sla_shards)?), lead.version)
            .build()
            .expect("table, item set");
        Ok((next, put))
    }

    /// Writes a new lead with its first event, redelivery key and (when given) its delivery,
    /// atomically. When
    /// the redelivery key exists already, nothing is written and the earlier lead is returned.
    ///
    /// The person's identity keys are pointed at the new lead in the same transaction, each only
    /// if it still points where it did when read; otherwise [`StoreError::Conflict`], and the
    /// caller decides again.
    pub async fn capture(
        &self,
        lead: &Lead,
        delivery: Option<&RawDelivery>,
        event: &LeadEvent,
        idempotency_key: &str,
        key_expires_at: DateTime<Utc>,
        persons: &[PersonLink],
    ) -> Result<Captured, StoreError> {
        let lead_put = self
            .put(items::lead(lead, self.sla_shards)?)
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .expect("table, item set");
        self.write_submission(
            lead,
            lead_put,
            delivery,
            event,
            idempotency_key,
            key_expires_at,
            persons,
            "TransactWriteItems (capture)",
        )
        .await
    }

    /// Joins a repeat submission to the person's open lead: saves the lead (if nobody changed
    /// it since it was read), its new timeline event, the delivery, the delivery's redelivery
    /// key (pointing at this lead) and the person's keys, atomically. A redelivery of the same
    /// submission finds its key and gets [`Captured::Duplicate`]; a lost race, `Conflict`.
    #[allow(clippy::too_many_arguments)]
    pub async fn join(
        &self,
        lead: &mut Lead,
        delivery: Option<&RawDelivery>,
        event: &LeadEvent,
        idempotency_key: &str,
        key_expires_at: DateTime<Utc>,
        persons: &[PersonLink],
        source: &str,
    ) -> Result<Captured, StoreError> {
        let (next, lead_put) = self.lead_update(lead)?;
        // The key belongs to the source the submission came from, not the lead's first source.
        let mut keyed = next.clone();
        keyed.source = source.to_owned();
        let outcome = self
            .write_submission(
                &keyed,
                lead_put,
                delivery,
                event,
                idempotency_key,
                key_expires_at,
                persons,
                "TransactWriteItems (join)",
            )
            .await?;
        if outcome == Captured::Created {
            lead.version = next.version;
        }
        Ok(outcome)
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_submission(
        &self,
        lead: &Lead,
        lead_put: Put,
        delivery: Option<&RawDelivery>,
        event: &LeadEvent,
        idempotency_key: &str,
        key_expires_at: DateTime<Utc>,
        persons: &[PersonLink],
        op: &'static str,
    ) -> Result<Captured, StoreError> {
        let idem = items::idempotency(&lead.source, idempotency_key, &lead.lead_id, key_expires_at);
        let idem_key = items::key_of(&idem);
        let put = |p: Put| TransactWriteItem::builder().put(p).build();
        let mut writes = vec![
            put(self
                .put(idem)
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .expect("table, item set")),
            put(lead_put),
            put(self
                .put(items::event(event)?)
                .build()
                .expect("table, item set")),
        ];
        if let Some(delivery) = delivery {
            writes.push(put(self
                .put(items::delivery(delivery)?)
                .build()
                .expect("table, item set")));
        }
        for link in persons {
            let p = self.put(items::person(link, event.at));
            let p = match &link.expected_lead_id {
                None => p.condition_expression("attribute_not_exists(pk)"),
                Some(id) => p
                    .condition_expression("lead_id = :expected")
                    .expression_attribute_values(":expected", AttributeValue::S(id.clone())),
            };
            writes.push(put(p.build().expect("table, item set")));
        }
        match self.transact(writes, op).await {
            Ok(()) => Ok(Captured::Created),
            // The redelivery key (item 0) exists: this submission was taken before.
            Err(TransactFailure::ConditionFailed(failed)) if failed.contains(&0) => {
                let existing = self.get_raw(idem_key, true).await?;
                let lead_id = existing
                    .as_ref()
                    .and_then(|i| i.get("lead_id"))
                    .and_then(|v| v.as_s().ok())
                    .cloned();
                match lead_id {
                    Some(lead_id) => Ok(Captured::Duplicate { lead_id }),
                    // The key expired between the failed write and the read: vanishingly rare;
                    // the caller retries and the next attempt creates the lead.
                    None => Err(StoreError::Conflict),
                }
            }
            // The lead or a person key moved on since they were read.
            Err(TransactFailure::ConditionFailed(_) | TransactFailure::Conflict) => {
                Err(StoreError::Conflict)
            }
            Err(TransactFailure::Store(e)) => Err(e),
        }
    }

    /// The person an identity key belongs to, and their latest lead.
    pub async fn person(&self, identity_key: &str) -> Result<Option<Person>, StoreError> {
        self.get_raw(items::person_key(identity_key), true)
            .await?
            .map(|i| items::decode(&items::person_pk(identity_key), i))
            .transpose()
    }

    /// Keeps a delivery that made no new lead (rejected or redelivered).
    pub async fn put_delivery(&self, delivery: &RawDelivery) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(items::delivery(delivery)?))
            .send()
            .await
            .map_err(aws("PutItem (delivery)"))?;
        Ok(())
    }

    pub async fn get_delivery(&self, delivery_id: &str) -> Result<Option<RawDelivery>, StoreError> {
        let key = items::delivery_key(delivery_id);
        self.get_raw(key, false)
            .await?
            .map(|i| items::decode(&format!("DELIVERY#{delivery_id}"), i))
            .transpose()
    }

    pub async fn get_lead(&self, lead_id: &str) -> Result<Option<Lead>, StoreError> {
        // Strongly consistent: stages run right after each other.
        self.get_raw(items::lead_key(lead_id), true)
            .await?
            .map(|i| items::decode(&items::lead_pk(lead_id), i))
            .transpose()
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

    /// Saves a changed lead with its new timeline events, if nobody else saved it since it was
    /// read (its `version`). On success the lead's version moves on.
    pub async fn save_lead(&self, lead: &mut Lead, events: &[LeadEvent]) -> Result<(), StoreError> {
        let (next, lead_put) = self.lead_update(lead)?;
        let mut writes = vec![TransactWriteItem::builder().put(lead_put).build()];
        for e in events {
            writes.push(
                TransactWriteItem::builder()
                    .put(self.put(items::event(e)?).build().expect("table, item set"))
                    .build(),
            );
        }
        match self
            .transact(writes, "TransactWriteItems (save lead)")
            .await
        {
            Ok(()) => {
                lead.version = next.version;
                Ok(())
            }
            Err(TransactFailure::ConditionFailed(_) | TransactFailure::Conflict) => {
                Err(StoreError::Conflict)
            }
            Err(TransactFailure::Store(e)) => Err(e),
        }
    }

    /// Reads a lead, lets `change` decide what to do with it, and saves it when asked to. When
    /// someone else saved the lead in between, reads it again and asks `change` again, so the
    /// decision is always made on the lead as stored. `None` when there is no such lead.
    pub async fn modify_lead<T>(
        &self,
        lead_id: &str,
        change: impl FnMut(&mut Lead) -> Change<T>,
    ) -> Result<Option<(Lead, T)>, StoreError> {
        // Each attempt borrows the decision for a moment (never across an await).
        let change = std::sync::Mutex::new(change);
        crate::retry::on_conflict(|| async {
            {
                let Some(mut lead) = self.get_lead(lead_id).await? else {
                    return Ok(None);
                };
                let decided = (change.lock().unwrap_or_else(|e| e.into_inner()))(&mut lead);
                match decided {
                    Change::Keep(value) => Ok(Some((lead, value))),
                    Change::Save(events, value) => {
                        self.save_lead(&mut lead, &events).await?;
                        Ok(Some((lead, value)))
                    }
                }
            }
        })
        .await
    }

    /// Appends events to a lead's timeline without touching the lead.
    pub async fn append_events(&self, events: &[LeadEvent]) -> Result<(), StoreError> {
        for e in events {
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(items::event(e)?))
                .send()
                .await
                .map_err(aws("PutItem (event)"))?;
        }
        Ok(())
    }

    async fn transact(
        &self,
        writes: Vec<TransactWriteItem>,
        op: &'static str,
    ) -> Result<(), TransactFailure> {
        {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(writes.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(e) => e,
            };
            // One reason per item, in order ("None" for the items that were fine).
            let reasons: Vec<String> = err
                .as_service_error()
                .and_then(|s| match s {
                    TransactWriteItemsError::TransactionCanceledException(c) => {
                        c.cancellation_reasons.clone()
                    }
                    _ => None,
                })
                .unwrap_or_default()
                .into_iter()
                .map(|r| r.code.unwrap_or_default())
                .collect();
            let failed: Vec<usize> = reasons
                .iter()
                .enumerate()
                .filter(|(_, c)| *c == "ConditionalCheckFailed")
                .map(|(i, _)| i)
                .collect();
            if !failed.is_empty() {
                return Err(TransactFailure::ConditionFailed(failed));
            }
            // A concurrent transaction on the same items: as good as a lost condition, so
            // the caller reads again and decides again under the one retry policy.
            if reasons.iter().any(|c| c == "TransactionConflict") {
                return Err(TransactFailure::Conflict);
            }
            Err(TransactFailure::Store(aws(op)(err)))
        }
    }

    /// A lead's timeline, oldest first.
    pub async fn timeline(&self, lead_id: &str) -> Result<Vec<LeadEvent>, StoreError> {
        self.query_prefix(lead_id, "EVENT#").await
    }

    /// The emails recorded for a lead.
    pub async fn emails(&self, lead_id: &str) -> Result<Vec<EmailRecord>, StoreError> {
        self.query_prefix(lead_id, "EMAIL#").await
    }

    async fn query_prefix<T: for<'de> Deserialize<'de>>(
        &self,
        lead_id: &str,
        prefix: &str,
    ) -> Result<Vec<T>, StoreError> {
        let pk = items::lead_pk(lead_id);
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .expression_attribute_values(":p", AttributeValue::S(prefix.to_owned()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(aws("Query (lead items)"))?;
            out.push(items::decode(&items::key_str(&item), item)?);
        }
        Ok(out)
    }

    /// A team's rotation as stored (a fresh one when never saved).
    pub async fn rotation(&self, team: &str) -> Result<TeamState, StoreError> {
        Ok(self
            .get_raw(items::rotation_key(team), true)
            .await?
            .map(|i| items::decode(&format!("TEAM#{team}"), i))
            .transpose()?
            .unwrap_or_default())
    }

    /// Every team's rotation.
    pub async fn rotations(
        &self,
        teams: impl IntoIterator<Item = &str>,
    ) -> Result<BTreeMap<String, TeamState>, StoreError> {
        let mut out = BTreeMap::new();
        for team in teams {
            out.insert(team.to_owned(), self.rotation(team).await?);
        }
        Ok(out)
    }

    /// The owner who last took a lead of a company domain, and when.
    pub async fn account(
        &self,
        domain: &str,
    ) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
        let Some(item) = self.get_raw(items::account_key(domain), false).await? else {
            return Ok(None);
        };
        let owner = item.get("owner_id").and_then(|v| v.as_s().ok()).cloned();
        let at = item
            .get("at")
            .and_then(|v| v.as_s().ok())
            .and_then(|s| s.parse().ok());
        Ok(owner.zip(at))
    }

    /// Saves a routing decision: the lead (if unchanged since read), its events, the team's
    /// rotation with the assignment counted (if unchanged since read) and, when learning
    /// accounts, the domain's owner — all or nothing. `Conflict` when another router or writer
    /// came first: read both again and decide again.
    pub async fn save_routing(
        &self,
        lead: &mut Lead,
        events: &[LeadEvent],
        team: &str,
        state: &TeamState,
        account: Option<(&str, &str)>,
    ) -> Result<(), StoreError> {
        let (next, lead_put) = self.lead_update(lead)?;
        let mut new_state = state.clone();
        new_state.version = state.version + 1;
        let put = |p: Put| TransactWriteItem::builder().put(p).build();
        let rotation = self.put(items::rotation(team, &new_state)?);
        let rotation = if state.version == 0 {
            rotation.condition_expression("attribute_not_exists(pk)")
        } else {
            at_version(rotation, state.version)
        };
        let mut writes = vec![
            put(lead_put),
            put(rotation.build().expect("table, item set")),
        ];
        for e in events {
            writes.push(put(self
                .put(items::event(e)?)
                .build()
                .expect("table, item set")));
        }
        if let Some((domain, owner)) = account {
            let at = events.first().map_or_else(Utc::now, |e| e.at);
            writes.push(put(self
                .put(items::account(domain, owner, at))
                .build()
                .expect("table, item set")));
        }
        match self.transact(writes, "TransactWriteItems (routing)").await {
            Ok(()) => {
                lead.version = next.version;
                Ok(())
            }
            Err(TransactFailure::ConditionFailed(_) | TransactFailure::Conflict) => {
                Err(StoreError::Conflict)
            }
            Err(TransactFailure::Store(e)) => Err(e),
        }
    }

    /// Changes a team's rotation outside routing (an owner away or back), retrying on
    /// concurrent routing.
    pub async fn modify_rotation(
        &self,
        team: &str,
        change: impl FnMut(&mut TeamState),
    ) -> Result<TeamState, StoreError> {
        let change = std::sync::Mutex::new(change);
        crate::retry::on_conflict(|| async {
            {
                let mut state = self.rotation(team).await?;
                let expected = state.version;
                (change.lock().unwrap_or_else(|e| e.into_inner()))(&mut state);
                state.version = expected + 1;
                let put = self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(items::rotation(team, &state)?));
                let put = if expected == 0 {
                    put.condition_expression("attribute_not_exists(pk)")
                } else {
                    put.condition_expression("#v = :v")
                        .expression_attribute_names("#v", "version")
                        .expression_attribute_values(":v", AttributeValue::N(expected.to_string()))
                };
                match put.send().await {
                    Ok(_) => Ok(state),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                    {
                        Err(StoreError::Conflict)
                    }
                    Err(e) => Err(aws("PutItem (rotation)")(e)),
                }
            }
        })
        .await
    }

    /// The cached provider answer for a company domain, fresh or not (the caller checks
    /// [`CachedCompany::is_fresh`]: DynamoDB's TTL deletes expired items only eventually).
    pub async fn get_company(&self, domain: &str) -> Result<Option<CachedCompany>, StoreError> {
        self.get_raw(items::company_key(domain), false)
            .await?
            .map(|i| items::decode(&items::company_pk(domain), i))
            .transpose()
    }

    /// Caches a provider's answer for a domain until its `expires_at` (the table's TTL
    /// attribute). The last answer wins.
    pub async fn put_company(&self, entry: &CachedCompany) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(items::company(entry)?))
            .send()
            .await
            .map_err(aws("PutItem (company cache)"))?;
        Ok(())
    }

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

    /// Claims the right to send one email of a lead. The claim is a lease: if its holder dies
    /// before confirming, another may take it over once the lease ran out.
    pub async fn claim_email(
        &self,
        lead_id: &str,
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<EmailClaim, StoreError> {
        let record = EmailRecord {
            lead_id: lead_id.to_owned(),
            kind: kind.to_owned(),
            state: "pending".into(),
            claimed_at: now,
            sent_at: None,
            message_id: None,
            to: None,
            reply_to: None,
            subject: None,
        };
        let lease_over = (now - chrono::Duration::seconds(EMAIL_CLAIM_LEASE_SECS)).timestamp();
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(items::email(&record, now)?))
            .condition_expression(
                "attribute_not_exists(pk) OR (#s = :pending AND claimed_epoch < :lease)",
            )
            .expression_attribute_names("#s", "state")
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .expression_attribute_values(":lease", AttributeValue::N(lease_over.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(EmailClaim::Claimed),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                let existing = self.get_raw(items::email_key(lead_id, kind), true).await?;
                let sent = existing
                    .as_ref()
                    .and_then(|i| i.get("state"))
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|s| s == "sent");
                Ok(if sent {
                    EmailClaim::AlreadySent
                } else {
                    EmailClaim::InFlight
                })
            }
            Err(e) => Err(aws("PutItem (email claim)")(e)),
        }
    }

    /// Confirms a claimed email went out.
    pub async fn email_sent(
        &self,
        lead_id: &str,
        kind: &str,
        email: &Email,
        message_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let reply_to = if email.reply_to.is_some() {
            ", reply_to = :rt"
        } else {
            ""
        };
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(items::email_key(lead_id, kind)))
            .update_expression(format!(
                "SET #s = :sent, sent_at = :at, message_id = :mid, #to = :to, subject = :subj{reply_to} REMOVE claimed_epoch"
            ))
            .expression_attribute_names("#s", "state")
            .expression_attribute_names("#to", "to")
            .expression_attribute_values(":sent", AttributeValue::S("sent".into()))
            .expression_attribute_values(":at", AttributeValue::S(items::time(now)))
            .expression_attribute_values(":mid", AttributeValue::S(message_id.to_owned()))
            .expression_attribute_values(":to", AttributeValue::S(email.to.clone()))
            .expression_attribute_values(":subj", AttributeValue::S(email.subject.clone()));
        if let Some(r) = &email.reply_to {
            update = update.expression_attribute_values(":rt", AttributeValue::S(r.clone()));
        }
        update
            .send()
            .await
            .map_err(aws("UpdateItem (email sent)"))?;
        Ok(())
    }

    /// Gives a claim back after a failed send, so a retry may send.
    pub async fn release_email(&self, lead_id: &str, kind: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(items::email_key(lead_id, kind)))
            .condition_expression("#s = :pending")
            .expression_attribute_names("#s", "state")
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .send()
            .await
            .map_err(aws("DeleteItem (email claim)"))?;
        Ok(())
    }

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
            .expression_attribute_values(":s", AttributeValue::S(items::shard_name(shard)))
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

    /// Every lead, newest first, reading the table (for operators' listings, not for handlers).
    pub async fn scan_leads(&self) -> Result<Vec<Lead>, StoreError> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("sk = :lead")
            .expression_attribute_values(":lead", AttributeValue::S("LEAD".into()))
            .into_paginator()
            .items()
            .send();
        let mut out: Vec<Lead> = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(aws("Scan (leads)"))?;
            out.push(items::decode(&items::key_str(&item), item)?);
        }
        out.sort_by(|a, b| b.lead_id.cmp(&a.lead_id));
        Ok(out)
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

/// What [`Store::modify_lead`]'s closure decided.
pub enum Change<T> {
    /// Save the changed lead with these timeline events.
    Save(Vec<LeadEvent>, T),
    /// Leave the lead as stored.
    Keep(T),
}

enum TransactFailure {
    /// The items (by position) whose condition failed.
    ConditionFailed(Vec<usize>),
    /// Cancelled for a concurrent transaction on the same items.
    Conflict,
    Store(StoreError),
}
