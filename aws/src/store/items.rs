//! Translating domain values to DynamoDB items and back.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::keys::{
    account_pk, company_pk, delivery_pk, email_sk, event_sk, idempotency_pk, lead_pk, person_pk,
    rate_pk, team_pk, ACCOUNT_SK, COMPANY_SK, DELIVERY_SK, IDEMPOTENCY_SK, LEAD_SK, PERSON_SK,
    RATE_SK, ROTATION_SK, SLA_SHARDS_PK, SLA_SHARDS_SK,
};
use super::keys::{received_day, received_key, shard_name, sla_shard_of, sla_time_key, time};
use super::{EmailRecord, PersonLink, RawDelivery, StoreError};
use leadrelay_domain::company::CachedCompany;
use leadrelay_domain::lead::{Lead, LeadEvent, LeadStatus};
use leadrelay_domain::routing::TeamState;
use leadrelay_domain::sla_shards::ShardRecord;

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn keyed(pk: String, sk: &str, entity: &str, mut item: Item) -> Item {
    item.insert("pk".into(), s(pk));
    item.insert("sk".into(), s(sk));
    item.insert("entity".into(), s(entity));
    item
}

fn encode<T: Serialize>(key: &str, value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Encode {
        key: key.to_owned(),
        message: e.to_string(),
    })
}

pub(super) fn decode<T: for<'de> Deserialize<'de>>(
    key: &str,
    mut item: Item,
) -> Result<T, StoreError> {
    for k in ["pk", "sk", "entity"] {
        item.remove(k);
    }
    serde_dynamo::from_item(item).map_err(|e| StoreError::Decode {
        key: key.to_owned(),
        message: e.to_string(),
    })
}

pub(super) fn key_str(item: &Item) -> String {
    let get = |k: &str| {
        item.get(k)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    };
    format!("{}/{}", get("pk"), get("sk"))
}

pub(super) fn key_of(item: &Item) -> Item {
    ["pk", "sk"]
        .into_iter()
        .filter_map(|k| item.get(k).map(|v| (k.to_owned(), v.clone())))
        .collect()
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), s(pk)), ("sk".to_owned(), s(sk))])
}

pub(super) fn lead_key(lead_id: &str) -> Item {
    key(lead_pk(lead_id), LEAD_SK)
}

/// How lead items are placed in the sparse indexes.
#[derive(Debug, Clone, Copy)]
pub(super) struct IndexLayout {
    pub shards: u32,
    pub sweep_grace: std::time::Duration,
    /// Reads a phone that changed since the last save; none in functions that never change one.
    pub read_phones: Option<leadrelay_domain::identity::PhoneReader>,
}

pub(super) fn lead(lead: &Lead, layout: IndexLayout) -> Result<Item, StoreError> {
    let pk = lead_pk(&lead.lead_id);
    let mut item = keyed(pk.clone(), LEAD_SK, "lead", encode(&pk, lead)?);
    // Every lead is in the `leads-by-day` index (the export and the report read by arrival).
    // Both keys derive from the arrival, which never changes: a keys-only index is written once
    // per lead, never again on the lead's later saves.
    item.insert(
        RECEIVED_DAY_ATTRIBUTE.into(),
        s(received_day(lead.received_at)),
    );
    item.insert(
        RECEIVED_KEY_ATTRIBUTE.into(),
        s(received_key(lead.received_at, &lead.lead_id)),
    );
    // Only leads with something timed ahead appear in the sparse index: a lead still on its
    // way to an owner and its emails (the sweep), an SLA step while the clock runs, or the
    // recycle date of a nurtured lead.
    if let Some(next_at) = next_timed(lead, layout.sweep_grace) {
        item.insert(
            "sla_shard".into(),
            s(shard_name(sla_shard_of(&lead.lead_id, layout.shards))),
        );
        item.insert("sla_next_at".into(), s(sla_time_key(next_at)));
    }
    // Erasure finds a person's leads, spam and tests included, through these. The phone is
    // read again only when it changed since the last save (`identity::PhoneReading`).
    let (erasure, reading) =
        leadrelay_domain::identity::erasure_keys_reusing(lead, layout.read_phones);
    index_person(&mut item, &erasure);
    match reading {
        Some(r) => {
            let value = serde_dynamo::to_attribute_value(&r).map_err(|e| StoreError::Encode {
                key: pk.clone(),
                message: e.to_string(),
            })?;
            item.insert("phone_reading".into(), value);
        }
        None => {
            item.remove("phone_reading");
        }
    }
    // Parked leads have an index of their own, for the operator (`leadrelay stuck`).
    if let Some(parked) = &lead.parked {
        item.insert(PARKED_KEY_ATTRIBUTE.into(), s(PARKED_KEY));
        item.insert("parked_at".into(), s(time(parked.at)));
    }
    Ok(item)
}

pub(super) const RECEIVED_DAY_ATTRIBUTE: &str = "received_day";
pub(super) const RECEIVED_KEY_ATTRIBUTE: &str = "received_key";

/// The partition of the `parked` index: parked leads are few, one partition holds them.
pub(super) const PARKED_KEY: &str = "parked";
pub(super) const PARKED_KEY_ATTRIBUTE: &str = "parked_key";

/// When the escalation pass next has something to do with a lead: the earliest of its sweep
/// and its timed step.
fn next_timed(lead: &Lead, sweep_grace: std::time::Duration) -> Option<DateTime<Utc>> {
    let timed = if lead.status == LeadStatus::Nurture {
        lead.recycle_at
    } else {
        lead.sla
            .as_ref()
            .filter(|s| s.is_open())
            .and_then(|s| s.next_at)
    };
    match (lead.sweep_at(sweep_grace), timed) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

pub(super) fn event(event: &LeadEvent) -> Result<Item, StoreError> {
    let pk = lead_pk(&event.lead_id);
    let sk = event_sk(&event.event_id);
    Ok(keyed(pk.clone(), &sk, "event", encode(&pk, event)?))
}

pub(super) fn delivery_key(delivery_id: &str) -> Item {
    key(delivery_pk(delivery_id), DELIVERY_SK)
}

pub(super) fn delivery(d: &RawDelivery) -> Result<Item, StoreError> {
    let pk = delivery_pk(&d.delivery_id);
    let mut item = keyed(pk.clone(), DELIVERY_SK, "delivery", encode(&pk, d)?);
    index_person(&mut item, &d.identity_keys);
    Ok(item)
}

/// The indexes erasure reads (`person-by-email`, `person-by-phone`: sparse, keys only): the
/// hash of the person's email key and of their phone key, as their person item is keyed.
pub(super) fn index_person(item: &mut Item, identity_keys: &[String]) {
    for (prefix, attribute) in [
        ("email:", PERSON_BY_EMAIL_ATTRIBUTE),
        ("phone:", PERSON_BY_PHONE_ATTRIBUTE),
    ] {
        if let Some(k) = identity_keys.iter().find(|k| k.starts_with(prefix)) {
            item.insert(attribute.into(), s(person_pk(k)));
        }
    }
}

pub(super) const PERSON_BY_EMAIL_ATTRIBUTE: &str = "person_by_email";
pub(super) const PERSON_BY_PHONE_ATTRIBUTE: &str = "person_by_phone";

pub(super) fn idempotency(
    source: &str,
    idem_key: &str,
    lead_id: &str,
    expires_at: DateTime<Utc>,
) -> Item {
    let mut item = key(idempotency_pk(source, idem_key), IDEMPOTENCY_SK);
    item.insert("entity".into(), s("idempotency"));
    item.insert("lead_id".into(), s(lead_id));
    item.insert(
        "expires_at".into(),
        AttributeValue::N(expires_at.timestamp().to_string()),
    );
    item
}

pub(super) fn person_key(identity_key: &str) -> Item {
    key(person_pk(identity_key), PERSON_SK)
}

pub(super) fn person(link: &PersonLink, now: DateTime<Utc>) -> Item {
    let mut item = person_key(&link.identity_key);
    item.insert("entity".into(), s("person"));
    item.insert("person_id".into(), s(&link.person_id));
    item.insert("lead_id".into(), s(&link.lead_id));
    item.insert("updated_at".into(), s(time(now)));
    item
}

pub(super) fn sla_shards_key() -> Item {
    key(SLA_SHARDS_PK.into(), SLA_SHARDS_SK)
}

pub(super) fn sla_shards(record: &ShardRecord) -> Result<Item, StoreError> {
    Ok(keyed(
        SLA_SHARDS_PK.into(),
        SLA_SHARDS_SK,
        "sla-shards",
        encode(SLA_SHARDS_PK, record)?,
    ))
}

pub(super) fn rotation_key(team: &str) -> Item {
    key(team_pk(team), ROTATION_SK)
}

pub(super) fn rotation(team: &str, state: &TeamState) -> Result<Item, StoreError> {
    let pk = team_pk(team);
    Ok(keyed(
        pk.clone(),
        ROTATION_SK,
        "rotation",
        encode(&pk, state)?,
    ))
}

pub(super) fn account_key(domain: &str) -> Item {
    key(account_pk(domain), ACCOUNT_SK)
}

pub(super) fn account(domain: &str, owner_id: &str, at: DateTime<Utc>) -> Item {
    let mut item = account_key(domain);
    item.insert("entity".into(), s("account"));
    item.insert("owner_id".into(), s(owner_id));
    item.insert("at".into(), s(time(at)));
    item
}

pub(super) fn company_key(domain: &str) -> Item {
    key(company_pk(domain), COMPANY_SK)
}

/// `expires_at` (epoch seconds, a number) is the table's TTL attribute.
pub(super) fn company(entry: &CachedCompany) -> Result<Item, StoreError> {
    let pk = company_pk(&entry.domain);
    Ok(keyed(
        pk.clone(),
        COMPANY_SK,
        "company",
        encode(&pk, entry)?,
    ))
}

pub(super) fn rate_key(key: &str) -> Item {
    self::key(rate_pk(key), RATE_SK)
}

pub(super) fn acknowledged_key(address: &str) -> Item {
    key(
        super::keys::acknowledged_pk(address),
        super::keys::ACKNOWLEDGED_SK,
    )
}

pub(super) fn acknowledged(address: &str, lead_id: &str, until: DateTime<Utc>) -> Item {
    keyed(
        super::keys::acknowledged_pk(address),
        super::keys::ACKNOWLEDGED_SK,
        "acknowledged",
        HashMap::from([
            ("lead_id".to_owned(), s(lead_id)),
            (
                "expires_at".to_owned(),
                AttributeValue::N(until.timestamp().to_string()),
            ),
        ]),
    )
}

pub(super) fn email_key(lead_id: &str, kind: &str) -> Item {
    key(lead_pk(lead_id), &email_sk(kind))
}

pub(super) fn email(record: &EmailRecord, now: DateTime<Utc>) -> Result<Item, StoreError> {
    let pk = lead_pk(&record.lead_id);
    let mut item = keyed(
        pk.clone(),
        &email_sk(&record.kind),
        "email",
        encode(&pk, record)?,
    );
    // The lease check compares numbers; keeping the claim time as epoch seconds makes it one.
    item.insert(
        "claimed_epoch".into(),
        AttributeValue::N(now.timestamp().to_string()),
    );
    Ok(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn company_cache_items_carry_the_ttl_attribute_as_a_number() {
        let entry = CachedCompany {
            domain: "acme.io".into(),
            company: None,
            looked_up_at: "2026-03-02T10:00:00Z".parse().unwrap(),
            expires_at: 1_772_532_000,
        };
        let item = company(&entry).unwrap();
        assert_eq!(item["pk"].as_s().unwrap(), "COMPANY#acme.io");
        assert_eq!(item["sk"].as_s().unwrap(), "COMPANY");
        assert_eq!(item["expires_at"].as_n().unwrap(), "1772532000");
        let back: CachedCompany = decode("COMPANY#acme.io", item).unwrap();
        assert_eq!(back, entry);
    }
}
