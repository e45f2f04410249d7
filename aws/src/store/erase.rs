//! Erasure on request: everything the table holds of one person — their leads with timelines
//! and email records, the raw deliveries that carried them or name them, their redelivery
//! keys, identity keys and acknowledgement window.
//!
//! Found through the person indexes (`person-by-email`, `person-by-phone`: the hash of the
//! person's key on each lead, delivery and redelivery key that is theirs, set as they are
//! written), never by reading the whole table; `--scan` reads it whole for items written
//! before the indexes existed. Either way a delivery is the person's by what was read from it
//! (its lead's fields; the whole addresses in one that could not be read), never by a
//! substring of its body.
//!
//! The lead item goes first: the email records notify writes are conditional on it
//! ([`Store::email_sent`]), so a send in flight cannot bring the person's address back once
//! the erasure has begun.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, ReturnValue, WriteRequest};

use super::{aws, items, keys, RawDelivery, Store, StoreError};
use leadrelay_domain::identity;
use leadrelay_domain::lead::Lead;

type Item = HashMap<String, AttributeValue>;

/// The index erasure reads for each kind of identity key.
pub const PERSON_BY_EMAIL_INDEX: &str = "person-by-email";
pub const PERSON_BY_PHONE_INDEX: &str = "person-by-phone";

/// Who is to be erased: their identity keys (`email:…`, `phone:…`) and the addresses as given
/// (the acknowledgement window is keyed by the address itself).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erasure {
    pub identity_keys: Vec<String>,
    pub addresses: Vec<String>,
}

impl Erasure {
    /// The person behind an email address and/or an E.164 phone number.
    pub fn of(email: Option<&str>, phone: Option<&str>) -> Erasure {
        let fields = leadrelay_domain::lead::LeadFields {
            email: email.map(str::to_owned),
            phone: phone.map(str::to_owned),
            ..Default::default()
        };
        Erasure {
            identity_keys: identity::keys(&fields, None),
            addresses: email
                .and_then(leadrelay_domain::normalize::email)
                .into_iter()
                .collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.identity_keys.is_empty()
    }

    fn names_any(&self, keys: &[String]) -> bool {
        keys.iter().any(|k| self.identity_keys.contains(k))
    }

    /// Whether a lead is this person's (reading the whole table).
    fn owns(&self, lead: &Lead, default_country: Option<&str>) -> bool {
        // The same region capture read the number in.
        let country = lead.phone_region_or(default_country);
        self.names_any(&identity::keys(&lead.fields, country.as_deref()))
            || self.names_any(&identity::erasure_keys(lead))
    }
}

/// What an erasure removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ErasureReport {
    pub leads: Vec<String>,
    /// Items deleted, by kind (lead, event, email, delivery, idempotency, person,
    /// acknowledged).
    pub items: BTreeMap<String, usize>,
    /// Items that would not decode (their keys): skipped when nothing says whose they are, so
    /// one never stops the erasure; erased when the index says they are the person's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
}

/// What the person's items are, before anything is deleted.
#[derive(Default)]
struct Found {
    leads: BTreeSet<String>,
    deliveries: BTreeSet<String>,
    /// Other items of theirs outside a lead's partition (redelivery keys), by key.
    others: Vec<Item>,
    unreadable: Vec<String>,
}

impl Store {
    /// Deletes everything of one person, found through the person indexes.
    pub async fn erase(&self, who: &Erasure) -> Result<ErasureReport, StoreError> {
        let mut found = Found::default();
        for key in &who.identity_keys {
            self.indexed(key, &mut found).await?;
        }
        self.erase_found(who, found).await
    }

    /// The items the person index names for one identity key (keys only).
    async fn indexed(&self, key: &str, found: &mut Found) -> Result<(), StoreError> {
        let (index, attribute) = if key.starts_with("email:") {
            (PERSON_BY_EMAIL_INDEX, items::PERSON_BY_EMAIL_ATTRIBUTE)
        } else {
            (PERSON_BY_PHONE_INDEX, items::PERSON_BY_PHONE_ATTRIBUTE)
        };
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#p = :p")
            .expression_attribute_names("#p", attribute)
            .expression_attribute_values(":p", AttributeValue::S(keys::person_pk(key)))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            found.add(item.map_err(aws("Query (person index)"))?);
        }
        Ok(())
    }

    /// Deletes everything of one person, reading the whole table: for items written before the
    /// person indexes. `default_country` is a source's, to read national phone numbers of
    /// their leads as capture did; `delivery_keys` reads a kept delivery as capture would and
    /// gives the identity keys of what it carries.
    pub async fn erase_scanning(
        &self,
        who: &Erasure,
        default_country: impl Fn(&str) -> Option<String>,
        delivery_keys: impl Fn(&RawDelivery) -> Vec<String>,
    ) -> Result<ErasureReport, StoreError> {
        let mut found = Found::default();
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(aws("Scan (erasure)"))?;
            let key = items::key_str(&item);
            match item_str(&item, "entity") {
                Some("lead") => match items::decode::<Lead>(&key, item) {
                    Ok(lead) if who.owns(&lead, default_country(&lead.source).as_deref()) => {
                        found.leads.insert(lead.lead_id);
                    }
                    Ok(_) => {}
                    Err(_) => found.unreadable.push(key),
                },
                Some("delivery") => match items::decode::<RawDelivery>(&key, item) {
                    Ok(d) if who.names_any(&delivery_keys(&d)) => {
                        found.deliveries.insert(d.delivery_id);
                    }
                    Ok(_) => {}
                    Err(_) => found.unreadable.push(key),
                },
                // Redelivery keys point at a lead: theirs go with their leads (below).
                Some("idempotency") => found.others.push(item),
                _ => {}
            }
        }
        let leads = found.leads.clone();
        found
            .others
            .retain(|i| item_str(i, "lead_id").is_some_and(|id| leads.contains(id)));
        self.erase_found(who, found).await
    }

    async fn erase_found(
        &self,
        who: &Erasure,
        mut found: Found,
    ) -> Result<ErasureReport, StoreError> {
        let mut report = ErasureReport {
            leads: found.leads.iter().cloned().collect(),
            ..Default::default()
        };
        let mut count = |item: &Item| {
            let kind = item_str(item, "entity").unwrap_or("other").to_owned();
            *report.items.entry(kind).or_default() += 1;
        };
        // Other keys their leads carry (a phone beside the address asked for): only their
        // person items pointing at these leads go, as a number may be shared (a switchboard).
        let mut lead_keys: BTreeSet<String> = BTreeSet::new();
        let mut addresses: BTreeSet<String> = who.addresses.iter().cloned().collect();
        for lead_id in &found.leads {
            // The lead first (its old image names its deliveries), so that nothing written
            // from here on can recreate a record of the person (the module's comment).
            if let Some(old) = self.delete_returning(items::lead_key(lead_id)).await? {
                count(&old);
                let key = items::key_str(&old);
                match items::decode::<Lead>(&key, old) {
                    Ok(lead) => {
                        lead_keys.extend(identity::erasure_keys(&lead));
                        addresses.extend(
                            lead.fields
                                .email
                                .as_deref()
                                .and_then(leadrelay_domain::normalize::email),
                        );
                        found.deliveries.insert(lead.delivery_id);
                        found.deliveries.extend(lead.joined_deliveries);
                    }
                    Err(_) => found.unreadable.push(key),
                }
            }
            let rest = self.partition(&keys::lead_pk(lead_id)).await?;
            rest.iter().for_each(&mut count);
            self.delete_all(rest.iter().map(items::key_of).collect())
                .await?;
        }
        for delivery_id in &found.deliveries {
            if let Some(old) = self
                .delete_returning(items::delivery_key(delivery_id))
                .await?
            {
                count(&old);
            }
        }
        for item in &found.others {
            if let Some(old) = self.delete_returning(items::key_of(item)).await? {
                count(&old);
            }
        }
        for key in &who.identity_keys {
            if let Some(old) = self.delete_returning(items::person_key(key)).await? {
                count(&old);
            }
        }
        for key in lead_keys.difference(&who.identity_keys.iter().cloned().collect()) {
            let theirs = self
                .delete_if_lead_in(items::person_key(key), &found.leads)
                .await?;
            if let Some(old) = theirs {
                count(&old);
            }
        }
        for address in &addresses {
            if let Some(old) = self
                .delete_returning(items::acknowledged_key(address))
                .await?
            {
                count(&old);
            }
        }
        report.unreadable = found.unreadable;
        Ok(report)
    }

    /// Deletes an item that points at one of `leads` (`lead_id`), giving back what it held.
    async fn delete_if_lead_in(
        &self,
        key: Item,
        leads: &BTreeSet<String>,
    ) -> Result<Option<Item>, StoreError> {
        let Some(item) = self.get_raw(key.clone(), true).await? else {
            return Ok(None);
        };
        let Some(lead_id) = item_str(&item, "lead_id").filter(|id| leads.contains(*id)) else {
            return Ok(None);
        };
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .condition_expression("lead_id = :id")
            .expression_attribute_values(":id", AttributeValue::S(lead_id.to_owned()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        match out {
            Ok(out) => Ok(out.attributes.filter(|a| !a.is_empty())),
            // Another lead took the key meanwhile: it is not theirs to erase.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws("DeleteItem (erasure)")(e)),
        }
    }

    /// Deletes one item, giving back what it held (`None`: there was none).
    async fn delete_returning(&self, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(aws("DeleteItem (erasure)"))?;
        Ok(out.attributes.filter(|a| !a.is_empty()))
    }

    /// Every item of one partition (a lead's timeline and email records).
    async fn partition(&self, pk: &str) -> Result<Vec<Item>, StoreError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            out.push(item.map_err(aws("Query (erasure)"))?);
        }
        Ok(out)
    }

    async fn delete_all(&self, keys: Vec<Item>) -> Result<(), StoreError> {
        for chunk in keys.chunks(25) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|k| {
                    WriteRequest::builder()
                        .delete_request(
                            DeleteRequest::builder()
                                .set_key(Some(k.clone()))
                                .build()
                                .expect("key set"),
                        )
                        .build()
                })
                .collect();
            // DynamoDB may leave some undone under load: send those again, backing off.
            for attempt in 0..8u32 {
                if requests.is_empty() {
                    break;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(aws("BatchWriteItem (erasure)"))?;
                requests = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
                if !requests.is_empty() {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
            }
            if !requests.is_empty() {
                let message = format!("{} deletions left unprocessed; run again", requests.len());
                return Err(StoreError::Aws {
                    op: "BatchWriteItem (erasure)",
                    message: message.clone(),
                    transient: true,
                    source: message.into(),
                });
            }
        }
        Ok(())
    }
}

impl Found {
    /// An item the person index names (keys only).
    fn add(&mut self, item: Item) {
        let pk = item_str(&item, "pk").unwrap_or_default();
        if let Some(id) = keys::lead_id_of(pk) {
            self.leads.insert(id.to_owned());
        } else if let Some(id) = keys::delivery_id_of(pk) {
            self.deliveries.insert(id.to_owned());
        } else {
            self.others.push(items::key_of(&item));
        }
    }
}

fn item_str<'i>(item: &'i Item, key: &str) -> Option<&'i str> {
    item.get(key)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_is_named_by_any_form_of_their_address_or_number() {
        let who = Erasure::of(
            Some("Ana.Ferreira@Northwind-Logistics.com"),
            Some("+1 415 555 2671"),
        );
        assert_eq!(
            who.identity_keys,
            vec![
                "email:ana.ferreira@northwind-logistics.com",
                "phone:+14155552671"
            ]
        );
        assert_eq!(who.addresses, vec!["ana.ferreira@northwind-logistics.com"]);
        assert!(who.names_any(&identity::email_keys_in_text(
            r#"{"email":"ANA.FERREIRA+x@northwind-logistics.com"}"#
        )));
        assert!(!who.names_any(&identity::email_keys_in_text(
            r#"{"email":"diana.ferreira@northwind-logistics.com"}"#
        )));
    }

    #[test]
    fn nothing_to_look_for_is_an_empty_erasure() {
        assert!(Erasure::of(Some("not an address"), None).is_empty());
    }
}
