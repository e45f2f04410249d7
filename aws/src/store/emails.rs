//! Emails sent once per lead and kind: a claim (a lease) before sending, a record after.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use aws_sdk_dynamodb::types::{ConditionCheck, Put, TransactWriteItem, Update};

use super::{aws, items, keys, Store, StoreError, TransactFailure};
use leadrelay_domain::emails::Email;
use leadrelay_domain::lead::{Lead, LeadEvent};

/// What the record of an email writes to its lead.
enum LeadWrite<'a> {
    /// Checks it is still there; sets the acknowledgement's time on it, when given.
    Check { acknowledged: Option<DateTime<Utc>> },
    /// Saves it as the caller changed it, if nobody saved it since it was read.
    Save(&'a mut Lead),
}

/// What recording an email's outcome found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Written, and the lead saved as the caller changed it (when it gave one).
    Recorded,
    /// Written, but the lead the caller changed was saved by someone else since it was read,
    /// so its change was not made: the caller makes it again on the lead as stored.
    LeadMoved,
    /// The lead was erased on request meanwhile: nothing was written.
    LeadErased,
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
/// dead and another may send. Longer than notify's timeout (60 s in infra/template.yaml), so a
/// sender still alive never loses its claim.
const EMAIL_CLAIM_LEASE_SECS: i64 = 120;

/// The email record key of the acknowledgement (`EmailKind::Acknowledgement`'s key).
const ACKNOWLEDGEMENT_KEY: &str = "acknowledgement";

impl Store {
    /// The emails recorded for a lead.
    pub async fn emails(&self, lead_id: &str) -> Result<Vec<EmailRecord>, StoreError> {
        self.query_prefix(lead_id, keys::EMAIL_SK_PREFIX).await
    }

    /// Claims the right to send one email of a lead. The claim is a lease: if its holder dies
    /// before confirming, another may take it over once the lease ran out.
    pub async fn claim_email(
        &self,
        lead_id: &str,
        kind: &str,
        now: DateTime<Utc>,
    ) -> Result<EmailClaim, StoreError> {
        let claim = self.claim(lead_id, kind, now)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(claim.item))
            .set_condition_expression(claim.condition_expression)
            .set_expression_attribute_names(claim.expression_attribute_names)
            .set_expression_attribute_values(claim.expression_attribute_values)
            .send()
            .await;
        match result {
            Ok(_) => Ok(EmailClaim::Claimed),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                let existing = self.get_raw(items::email_key(lead_id, kind), true).await?;
                // Skipped (an acknowledgement over its caps) is as final as sent.
                let sent = existing
                    .as_ref()
                    .and_then(|i| i.get("state"))
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|s| s == "sent" || s == "skipped");
                Ok(if sent {
                    EmailClaim::AlreadySent
                } else {
                    EmailClaim::InFlight
                })
            }
            Err(e) => Err(aws("PutItem (email claim)")(e)),
        }
    }

    /// Claims several emails of a lead at once and, when given, the acknowledgement window of
    /// an address for it (see [`Store::claim_acknowledgement`]): one request where one per
    /// email would do. `true` when all were free and are now the caller's; `false` when any
    /// was not (sent already, in flight, the address acknowledged for another lead), and then
    /// nothing was claimed: the caller claims one by one to learn which. A first delivery
    /// finds them all free; only a retry pays for both ways.
    pub async fn claim_emails(
        &self,
        lead_id: &str,
        kinds: &[&str],
        window: Option<(&str, DateTime<Utc>)>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut writes = Vec::new();
        for kind in kinds {
            writes.push(
                TransactWriteItem::builder()
                    .put(self.claim(lead_id, kind, now)?)
                    .build(),
            );
        }
        if let Some((address, until)) = window {
            writes.push(
                TransactWriteItem::builder()
                    .put(self.acknowledgement_window(address, lead_id, now, until))
                    .build(),
            );
        }
        match self
            .transact(writes, "TransactWriteItems (email claims)")
            .await
        {
            Ok(()) => Ok(true),
            Err(TransactFailure::ConditionFailed(_) | TransactFailure::Conflict) => Ok(false),
            Err(TransactFailure::Store(e)) => Err(e),
        }
    }

    /// The claim of one email: written when nobody holds it, or when its holder's lease ran out.
    fn claim(&self, lead_id: &str, kind: &str, now: DateTime<Utc>) -> Result<Put, StoreError> {
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
        Ok(self
            .put(items::email(&record, now)?)
            .condition_expression(
                "attribute_not_exists(pk) OR (#s = :pending AND claimed_epoch < :lease)",
            )
            .expression_attribute_names("#s", "state")
            .expression_attribute_values(":pending", AttributeValue::S("pending".into()))
            .expression_attribute_values(":lease", AttributeValue::N(lease_over.to_string()))
            .build()
            .expect("table, item set"))
    }

    /// Confirms a claimed email went out, with its timeline event, in one write. Only while
    /// the lead and the claim are still there: a person erased while their email was being
    /// sent gets no record back ([`Recorded::LeadErased`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn email_sent(
        &self,
        lead_id: &str,
        kind: &str,
        email: &Email,
        message_id: &str,
        event: &LeadEvent,
        now: DateTime<Utc>,
        changed: Option<&mut Lead>,
    ) -> Result<Recorded, StoreError> {
        let reply_to = if email.reply_to.is_some() {
            ", reply_to = :rt"
        } else {
            ""
        };
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(items::email_key(lead_id, kind)))
            .update_expression(format!(
                "SET #s = :sent, sent_at = :at, message_id = :mid, #to = :to, subject = :subj{reply_to} REMOVE claimed_epoch"
            ))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#s", "state")
            .expression_attribute_names("#to", "to")
            .expression_attribute_values(":sent", AttributeValue::S("sent".into()))
            .expression_attribute_values(":at", AttributeValue::S(keys::time(now)))
            .expression_attribute_values(":mid", AttributeValue::S(message_id.to_owned()))
            .expression_attribute_values(":to", AttributeValue::S(email.to.clone()))
            .expression_attribute_values(":subj", AttributeValue::S(email.subject.clone()));
        if let Some(r) = &email.reply_to {
            update = update.expression_attribute_values(":rt", AttributeValue::S(r.clone()));
        }
        // The acknowledgement's time goes on the lead too (the export reads it there).
        let acknowledged = (kind == ACKNOWLEDGEMENT_KEY).then_some(now);
        let Some(lead) = changed else {
            return self
                .record(lead_id, update, event, LeadWrite::Check { acknowledged })
                .await;
        };
        match self
            .record(lead_id, update.clone(), event, LeadWrite::Save(lead))
            .await?
        {
            // Saved by someone else since it was read: the record alone, as without a change.
            Recorded::LeadMoved => {
                match self
                    .record(lead_id, update, event, LeadWrite::Check { acknowledged })
                    .await?
                {
                    Recorded::Recorded => Ok(Recorded::LeadMoved),
                    other => Ok(other),
                }
            }
            other => Ok(other),
        }
    }

    /// Records that a claimed email will not go, and why (said without personal data), with
    /// its timeline event: as final as sent, so no retry sends it.
    pub async fn email_skipped(
        &self,
        lead_id: &str,
        kind: &str,
        reason: &str,
        event: &LeadEvent,
        now: DateTime<Utc>,
    ) -> Result<Recorded, StoreError> {
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(items::email_key(lead_id, kind)))
            .update_expression(
                "SET #s = :skipped, skipped_at = :at, reason = :why REMOVE claimed_epoch",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#s", "state")
            .expression_attribute_values(":skipped", AttributeValue::S("skipped".into()))
            .expression_attribute_values(":at", AttributeValue::S(keys::time(now)))
            .expression_attribute_values(":why", AttributeValue::S(reason.to_owned()));
        self.record(
            lead_id,
            update,
            event,
            LeadWrite::Check { acknowledged: None },
        )
        .await
    }

    /// The record of an email and its event, written together and only while the lead exists:
    /// an erasure deletes the lead first, so nothing written after it can bring the person's
    /// address back (docs/operating.md, erasure on request).
    ///
    /// The lead is checked, or updated with the acknowledgement's time (the first one stays;
    /// its version moves on, so a save from a copy read before this write fails its version
    /// check and reads again, keeping it), or saved whole as the caller changed it if nobody
    /// saved it since it was read ([`Recorded::LeadMoved`] if someone did: nothing written).
    async fn record(
        &self,
        lead_id: &str,
        update: aws_sdk_dynamodb::types::builders::UpdateBuilder,
        event: &LeadEvent,
        lead: LeadWrite<'_>,
    ) -> Result<Recorded, StoreError> {
        let mut saved = None;
        let (lead_write, op) = match lead {
            LeadWrite::Check { acknowledged: None } => (
                TransactWriteItem::builder()
                    .condition_check(
                        ConditionCheck::builder()
                            .table_name(&self.table)
                            .set_key(Some(items::lead_key(lead_id)))
                            .condition_expression("attribute_exists(pk)")
                            .build()
                            .expect("table, key and condition set"),
                    )
                    .build(),
                "TransactWriteItems (email recorded)",
            ),
            LeadWrite::Check {
                acknowledged: Some(at),
            } => (
                TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name(&self.table)
                            .set_key(Some(items::lead_key(lead_id)))
                            .update_expression(
                                "SET acknowledged_at = if_not_exists(acknowledged_at, :at), #v = #v + :one",
                            )
                            .condition_expression("attribute_exists(pk)")
                            .expression_attribute_names("#v", "version")
                            .expression_attribute_values(":at", AttributeValue::S(keys::time(at)))
                            .expression_attribute_values(":one", AttributeValue::N("1".into()))
                            .build()
                            .expect("table, key and expression set"),
                    )
                    .build(),
                "TransactWriteItems (email recorded)",
            ),
            LeadWrite::Save(lead) => {
                let (next, put) = self.lead_update(lead)?;
                saved = Some((lead, next.version));
                (
                    TransactWriteItem::builder().put(put).build(),
                    "TransactWriteItems (email recorded, lead saved)",
                )
            }
        };
        let writes = vec![
            lead_write,
            TransactWriteItem::builder()
                .update(update.build().expect("table, key and expression set"))
                .build(),
            TransactWriteItem::builder()
                .put(
                    self.put(items::event(event)?)
                        .build()
                        .expect("table, item set"),
                )
                .build(),
        ];
        match self.transact(writes, op).await {
            Ok(()) => {
                if let Some((lead, version)) = saved {
                    lead.version = version;
                }
                Ok(Recorded::Recorded)
            }
            // The claim is gone: erased while the email was on its way.
            Err(TransactFailure::ConditionFailed(failed)) if failed.at(1) => {
                Ok(Recorded::LeadErased)
            }
            // The lead changed since it was read, or it is gone: the caller's check tells.
            Err(TransactFailure::ConditionFailed(_)) if saved.is_some() => Ok(Recorded::LeadMoved),
            Err(TransactFailure::ConditionFailed(_)) => Ok(Recorded::LeadErased),
            Err(f) => Err(f.into()),
        }
    }

    /// Takes the right to acknowledge `address` until `until` for `lead_id`: `false` when
    /// another lead's acknowledgement to the same address holds it. The item is keyed by a
    /// hash of the address and expires by itself (TTL).
    pub async fn claim_acknowledgement(
        &self,
        address: &str,
        lead_id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let window = self.acknowledgement_window(address, lead_id, now, until);
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(window.item))
            .set_condition_expression(window.condition_expression)
            .set_expression_attribute_values(window.expression_attribute_values)
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(aws("PutItem (acknowledgement window)")(e)),
        }
    }

    /// The acknowledgement window of an address for a lead: written when nobody holds it, it
    /// lapsed, or this lead holds it already (a retry of its own acknowledgement).
    fn acknowledgement_window(
        &self,
        address: &str,
        lead_id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Put {
        self.put(items::acknowledged(address, lead_id, until))
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now OR lead_id = :me")
            .expression_attribute_values(":now", AttributeValue::N(now.timestamp().to_string()))
            .expression_attribute_values(":me", AttributeValue::S(lead_id.to_owned()))
            .build()
            .expect("table, item set")
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
}
