//! Erasure on request: everything the table holds of one person — their leads with timelines
//! and email records, the raw deliveries that carried them, their redelivery keys and identity
//! keys. An operator's command, so it reads the whole table (handlers never scan).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, WriteRequest};

use super::{aws, items, keys, Store, StoreError};
use leadrelay_domain::identity;
use leadrelay_domain::lead::Lead;

type Item = HashMap<String, AttributeValue>;

/// Who is to be erased: their identity keys (`email:…`, `phone:…`) and the strings that give
/// them away in a raw delivery (the address as stored, typed or URL-encoded; the phone).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erasure {
    pub identity_keys: Vec<String>,
    pub needles: Vec<String>,
}

impl Erasure {
    /// The person behind an email address and/or an E.164 phone number.
    pub fn of(email: Option<&str>, phone: Option<&str>) -> Erasure {
        let fields = leadrelay_domain::lead::LeadFields {
            email: email.map(str::to_owned),
            phone: phone.map(str::to_owned),
            ..Default::default()
        };
        let identity_keys = identity::keys(&fields, None);
        let mut needles = BTreeSet::new();
        for key in &identity_keys {
            if let Some(addr) = key.strip_prefix("email:") {
                needles.insert(addr.to_owned());
                needles.insert(form_urlencoded::byte_serialize(addr.as_bytes()).collect());
            }
            if let Some(e164) = key.strip_prefix("phone:") {
                needles.insert(e164.trim_start_matches('+').to_owned());
                needles.extend(leadrelay_domain::normalize::national_number(e164));
            }
        }
        if let Some(e) = email.and_then(leadrelay_domain::normalize::email) {
            needles.insert(form_urlencoded::byte_serialize(e.as_bytes()).collect());
            needles.insert(e);
        }
        Erasure {
            identity_keys,
            needles: needles.into_iter().filter(|n| n.len() >= 5).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.identity_keys.is_empty()
    }

    /// Whether a lead is this person's.
    fn owns(&self, lead: &Lead, default_country: Option<&str>) -> bool {
        // The same region capture read the number in.
        let country = lead.phone_region_or(default_country);
        identity::keys(&lead.fields, country.as_deref())
            .iter()
            .any(|k| self.identity_keys.contains(k))
    }

    /// Whether a stored text (a raw delivery's body) mentions the person.
    fn mentioned_in(&self, text: &str) -> bool {
        let lower = text.to_lowercase();
        let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
        self.needles.iter().any(|n| {
            if n.chars().all(|c| c.is_ascii_digit()) {
                digits.contains(n.as_str())
            } else {
                lower.contains(n.as_str())
            }
        })
    }
}

/// What an erasure removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ErasureReport {
    pub leads: Vec<String>,
    /// Items deleted, by kind (lead, event, email, delivery, idempotency, person).
    pub items: BTreeMap<String, usize>,
    /// Lead items that would not decode (their keys): skipped, so one never stops the erasure;
    /// whether they were this person's is for the operator to check.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
}

impl Store {
    /// Deletes everything of one person. `default_country` is a source's, to read national
    /// phone numbers of their leads as `identity` does at capture.
    pub async fn erase(
        &self,
        who: &Erasure,
        default_country: impl Fn(&str) -> Option<String>,
    ) -> Result<ErasureReport, StoreError> {
        let all = self.scan_all().await?;
        let mut leads = BTreeSet::new();
        // The deliveries that carried their leads (a platform's delivery names no lead).
        let mut deliveries = BTreeSet::new();
        let mut unreadable = Vec::new();
        for item in &all {
            if item_str(item, "entity") == Some("lead") {
                let key = items::key_str(item);
                let lead: Lead = match items::decode(&key, item.clone()) {
                    Ok(lead) => lead,
                    Err(_) => {
                        unreadable.push(key);
                        continue;
                    }
                };
                if who.owns(&lead, default_country(&lead.source).as_deref()) {
                    deliveries.insert(keys::delivery_pk(&lead.delivery_id));
                    deliveries.extend(lead.joined_deliveries.iter().map(|d| keys::delivery_pk(d)));
                    leads.insert(lead.lead_id);
                }
            }
        }
        let person_pks: BTreeSet<String> = who
            .identity_keys
            .iter()
            .map(|k| keys::person_pk(k))
            .collect();
        let mut report = ErasureReport {
            leads: leads.iter().cloned().collect(),
            unreadable,
            ..Default::default()
        };
        let mut doomed = Vec::new();
        for item in all {
            let pk = item_str(&item, "pk").unwrap_or_default();
            let of_lead = keys::lead_id_of(pk).is_some_and(|id| leads.contains(id))
                || item_str(&item, "lead_id").is_some_and(|id| leads.contains(id));
            let mentions = item_str(&item, "entity") == Some("delivery")
                && ["body", "body_base64"]
                    .iter()
                    .filter_map(|k| item_str(&item, k))
                    .any(|b| who.mentioned_in(b));
            if of_lead || mentions || person_pks.contains(pk) || deliveries.contains(pk) {
                let kind = item_str(&item, "entity").unwrap_or("other").to_owned();
                *report.items.entry(kind).or_default() += 1;
                doomed.push(items::key_of(&item));
            }
        }
        self.delete_all(doomed).await?;
        Ok(report)
    }

    async fn scan_all(&self) -> Result<Vec<Item>, StoreError> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            out.push(item.map_err(aws("Scan (erasure)"))?);
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

fn item_str<'i>(item: &'i Item, key: &str) -> Option<&'i str> {
    item.get(key)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_is_found_by_any_form_of_their_address_or_number() {
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
        assert!(who.mentioned_in(r#"{"email":"ANA.FERREIRA@northwind-logistics.com"}"#));
        assert!(who.mentioned_in("email=ana.ferreira%40northwind-logistics.com&x=1"));
        assert!(who.mentioned_in(r#"{"phone":"(415) 555-2671"}"#));
        assert!(!who.mentioned_in(r#"{"email":"hannah@schmidt-lager.de","phone":"030 1234"}"#));
    }

    #[test]
    fn nothing_to_look_for_is_an_empty_erasure() {
        assert!(Erasure::of(Some("not an address"), None).is_empty());
    }
}
