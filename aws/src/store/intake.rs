//! Capture and join: the transactions that take a submission in (lead, event, delivery,
//! redelivery key, identity keys), the raw deliveries, and the persons behind the keys.

use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{aws, items, keys, Store, StoreError, TransactFailure};
use leadrelay_domain::intake::IntakeError;
use leadrelay_domain::lead::{Lead, LeadEvent};

const ALL_OLD: ReturnValuesOnConditionCheckFailure = ReturnValuesOnConditionCheckFailure::AllOld;

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
    /// What reading the delivery depends on besides its body, kept so a replay reads it as it
    /// was first read: the sender's `Idempotency-Key` (the dedupe key of our own formats) and
    /// the browser's `Referer` (an HTML form's landing page). Signatures and tokens are never
    /// kept: a replay does not authenticate again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referer: Option<String>,
    /// The HTTP method, when it was not POST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    pub outcome: DeliveryOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<String>,
    /// Seconds since the epoch after which DynamoDB may delete it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Whose delivery it is, as read from it (its one lead's fields, or the addresses in a
    /// body that could not be read): put in the person indexes for erasure, not stored as such.
    #[serde(skip)]
    pub identity_keys: Vec<String>,
}

/// What became of a delivery. Stored under these snake_case names, which tables already hold:
/// a variant may be added, never renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// Nothing decided yet: what a delivery starts as; capture replaces it before keeping it.
    Received,
    /// Taken: a lead was made from it, or (a platform's delivery) its leads are taken next.
    Accepted,
    /// A platform's delivery that carried no lead, kept all the same.
    Ignored,
    /// Its lead was captured as spam: kept, never routed.
    Spam,
    /// A repeat submission, added to the person's open lead instead of starting one.
    Joined,
    /// A redelivery of a submission already taken: points at the earlier lead and expires.
    Duplicate,
    /// Refused (400): the body could not be read in its declared format.
    MalformedBody,
    /// Refused (422): readable, but no email or phone to reach anyone by.
    NotALead,
}

impl DeliveryOutcome {
    /// The name as stored (and as logged).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Received => "received",
            DeliveryOutcome::Accepted => "accepted",
            DeliveryOutcome::Ignored => "ignored",
            DeliveryOutcome::Spam => "spam",
            DeliveryOutcome::Joined => "joined",
            DeliveryOutcome::Duplicate => "duplicate",
            DeliveryOutcome::MalformedBody => "malformed_body",
            DeliveryOutcome::NotALead => "not_a_lead",
        }
    }
}

/// A refused delivery's outcome is the refusal's code, the one the response body carries.
impl From<&IntakeError> for DeliveryOutcome {
    fn from(e: &IntakeError) -> Self {
        match e {
            IntakeError::Malformed(_) => DeliveryOutcome::MalformedBody,
            IntakeError::NotALead(_) => DeliveryOutcome::NotALead,
        }
    }
}

/// A stored outcome compares with its name, as readers of the table see it.
impl PartialEq<&str> for DeliveryOutcome {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// What a capture write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Captured {
    Created,
    /// The delivery was seen before: here is the lead it made.
    Duplicate {
        lead_id: String,
    },
    /// Nothing was written: these identity keys (by position in the write's `persons`) no
    /// longer point where the write expected, and this is what each holds now, from the failed
    /// write's own answer. The caller decides again on it without reading.
    KeysMoved(Vec<(usize, Option<Person>)>),
}

/// A person's identity key pointing at their latest lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonLink {
    /// `email:<address>` or `phone:<E.164>` (stored hashed).
    pub identity_key: String,
    pub person_id: String,
    pub lead_id: String,
    /// The lead the key is believed to point at (`None`: no such key yet), as read, as assumed
    /// for a person's first submission, or as a refused write answered. The write only succeeds
    /// if that is so, so two first submissions of one person cannot both start a lead.
    pub expected_lead_id: Option<String>,
}

/// What the table knows of an identity key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Person {
    pub person_id: String,
    pub lead_id: String,
}

impl Store {
    /// Writes a new lead with its first event, redelivery key and (when given) its delivery,
    /// atomically. When
    /// the redelivery key exists already, nothing is written and the earlier lead is returned.
    ///
    /// The person's identity keys are pointed at the new lead in the same transaction, each only
    /// if it points where the caller believes ([`PersonLink::expected_lead_id`]). When one does
    /// not, nothing is written and [`Captured::KeysMoved`] says what the keys hold instead (or,
    /// when the answer cannot tell, [`StoreError::Conflict`]: read them again); the caller
    /// decides again.
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
            .put(items::lead(lead, self.layout())?)
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
    /// submission finds its key and gets [`Captured::Duplicate`]; a person's key that moved on,
    /// [`Captured::KeysMoved`]; the lead saved by someone else meanwhile, `Conflict`.
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
        let mut idem =
            items::idempotency(&lead.source, idempotency_key, &lead.lead_id, key_expires_at);
        items::index_person(&mut idem, &leadrelay_domain::identity::erasure_keys(lead));
        let idem_key = items::key_of(&idem);
        let put = |p: Put| TransactWriteItem::builder().put(p).build();
        // A write whose condition fails answers with the item it found (`ALL_OLD`): the
        // redelivery key's lead, a person key's person, without another read.
        let mut writes = vec![
            put(self
                .put(idem)
                .condition_expression("attribute_not_exists(pk)")
                .return_values_on_condition_check_failure(ALL_OLD)
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
        let first_person = writes.len();
        for link in persons {
            let p = self
                .put(items::person(link, event.at))
                .return_values_on_condition_check_failure(ALL_OLD);
            let p = match &link.expected_lead_id {
                None => p.condition_expression("attribute_not_exists(pk)"),
                Some(id) => p
                    .condition_expression("lead_id = :expected")
                    .expression_attribute_values(":expected", AttributeValue::S(id.clone())),
            };
            writes.push(put(p.build().expect("table, item set")));
        }
        let mut failed = match self.transact(writes, op).await {
            Ok(()) => return Ok(Captured::Created),
            Err(TransactFailure::ConditionFailed(failed)) => failed,
            // A concurrent transaction on the same items: read again and decide again.
            Err(TransactFailure::Conflict) => return Err(StoreError::Conflict),
            Err(TransactFailure::Store(e)) => return Err(e),
        };
        // The redelivery key (item 0) exists: this submission was taken before.
        if failed.at(0) {
            let existing = match failed.take(0) {
                Some(item) => Some(item),
                None => self.get_raw(idem_key, true).await?,
            };
            let lead_id = existing
                .as_ref()
                .and_then(|i| i.get("lead_id"))
                .and_then(|v| v.as_s().ok())
                .cloned();
            return match lead_id {
                Some(lead_id) => Ok(Captured::Duplicate { lead_id }),
                // The key expired between the failed write and the read: vanishingly rare;
                // the caller retries and the next attempt creates the lead.
                None => Err(StoreError::Conflict),
            };
        }
        // The lead moved on since it was read: read again and decide again.
        if (1..first_person).any(|i| failed.at(i)) {
            return Err(StoreError::Conflict);
        }
        let mut moved = Vec::new();
        for (position, item) in failed.since(first_person) {
            let link = position - first_person;
            // An answer naming a write that was not sent says nothing: read again.
            let Some(person) = persons.get(link) else {
                return Err(StoreError::Conflict);
            };
            let key = &person.identity_key;
            let now = match (item, &person.expected_lead_id) {
                (Some(item), _) => Some(items::decode(&keys::person_pk(key), item)?),
                // Expected to point at a lead, and gone: erased meanwhile.
                (None, Some(_)) => None,
                // Expected free, taken, and no item in the answer: only a read tells.
                (None, None) => return Err(StoreError::Conflict),
            };
            moved.push((link, now));
        }
        Ok(Captured::KeysMoved(moved))
    }

    /// The person an identity key belongs to, and their latest lead.
    pub async fn person(&self, identity_key: &str) -> Result<Option<Person>, StoreError> {
        self.get_raw(items::person_key(identity_key), true)
            .await?
            .map(|i| items::decode(&keys::person_pk(identity_key), i))
            .transpose()
    }

    /// The persons of several identity keys (a lead's email and phone), in one request, in
    /// the order of `identity_keys`.
    pub async fn persons(
        &self,
        identity_keys: &[String],
    ) -> Result<Vec<Option<Person>>, StoreError> {
        if identity_keys.is_empty() {
            return Ok(Vec::new());
        }
        let keys = identity_keys.iter().map(|k| items::person_key(k)).collect();
        self.get_many(keys, true)
            .await?
            .into_iter()
            .zip(identity_keys)
            .map(|(item, key)| {
                item.map(|i| items::decode(&keys::person_pk(key), i))
                    .transpose()
            })
            .collect()
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
            .map(|i| items::decode(&keys::delivery_pk(delivery_id), i))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [DeliveryOutcome; 8] = [
        DeliveryOutcome::Received,
        DeliveryOutcome::Accepted,
        DeliveryOutcome::Ignored,
        DeliveryOutcome::Spam,
        DeliveryOutcome::Joined,
        DeliveryOutcome::Duplicate,
        DeliveryOutcome::MalformedBody,
        DeliveryOutcome::NotALead,
    ];

    fn delivery(outcome: DeliveryOutcome) -> RawDelivery {
        RawDelivery {
            delivery_id: "d1".into(),
            source: "web".into(),
            received_at: "2026-03-02T10:00:00Z".parse().unwrap(),
            content_type: None,
            body: Some("{}".into()),
            body_base64: None,
            idempotency_key: None,
            referer: None,
            method: None,
            outcome,
            error: None,
            lead_id: None,
            expires_at: None,
            identity_keys: Vec::new(),
        }
    }

    /// The names are what tables hold already: items kept before the enum must still read.
    #[test]
    fn outcomes_are_stored_under_the_names_tables_already_hold() {
        let names = [
            "received",
            "accepted",
            "ignored",
            "spam",
            "joined",
            "duplicate",
            "malformed_body",
            "not_a_lead",
        ];
        for (outcome, name) in ALL.into_iter().zip(names) {
            assert_eq!(outcome.as_str(), name);
            let item = items::delivery(&delivery(outcome)).unwrap();
            assert_eq!(item["outcome"].as_s().unwrap(), name);
            let back: RawDelivery = items::decode(&keys::delivery_pk("d1"), item).unwrap();
            assert_eq!(back.outcome, outcome);
        }
    }

    #[test]
    fn a_refusal_is_kept_under_its_code() {
        for e in [
            IntakeError::Malformed("x".into()),
            IntakeError::NotALead("x".into()),
        ] {
            assert_eq!(DeliveryOutcome::from(&e), e.code());
        }
    }
}
