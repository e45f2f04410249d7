//! Every `pk` and `sk` the table uses (the layout in the module's doc comment), spelled here
//! and nowhere else: items written under one spelling are only found again under the same
//! one, so a second spelling that drifts would strand them.

use chrono::{DateTime, SecondsFormat, Utc};

const LEAD_PREFIX: &str = "LEAD#";
const DELIVERY_PREFIX: &str = "DELIVERY#";
const IDEMPOTENCY_PREFIX: &str = "IDEMPOTENCY#";
const TEAM_PREFIX: &str = "TEAM#";
const ACCOUNT_PREFIX: &str = "ACCOUNT#";
const RATE_PREFIX: &str = "RATE#";
const PERSON_PREFIX: &str = "PERSON#";
const COMPANY_PREFIX: &str = "COMPANY#";
const ACKNOWLEDGED_PREFIX: &str = "ACKNOWLEDGED#";

/// Sort-key prefix of a lead's timeline events (queried with `begins_with`).
pub(super) const EVENT_SK_PREFIX: &str = "EVENT#";
/// Sort-key prefix of a lead's email records (queried with `begins_with`).
pub(super) const EMAIL_SK_PREFIX: &str = "EMAIL#";

pub(super) const LEAD_SK: &str = "LEAD";
pub(super) const DELIVERY_SK: &str = "DELIVERY";
pub(super) const IDEMPOTENCY_SK: &str = "IDEMPOTENCY";
pub(super) const ROTATION_SK: &str = "ROTATION";
pub(super) const ACCOUNT_SK: &str = "ACCOUNT";
pub(super) const RATE_SK: &str = "RATE";
pub(super) const PERSON_SK: &str = "PERSON";
pub(super) const COMPANY_SK: &str = "COMPANY";
pub(super) const ACKNOWLEDGED_SK: &str = "ACKNOWLEDGED";
/// The one item recording which shards of the `sla-open` index leads may be written on.
pub(super) const SLA_SHARDS_PK: &str = "INDEX#sla-open";
pub(super) const SLA_SHARDS_SK: &str = "SHARDS";

pub(super) fn lead_pk(lead_id: &str) -> String {
    format!("{LEAD_PREFIX}{lead_id}")
}

/// The lead id of an item under a lead's partition (profile, event, email); `None` for others.
pub(super) fn lead_id_of(pk: &str) -> Option<&str> {
    pk.strip_prefix(LEAD_PREFIX)
}

pub(super) fn event_sk(event_id: &str) -> String {
    format!("{EVENT_SK_PREFIX}{event_id}")
}

pub(super) fn email_sk(kind: &str) -> String {
    format!("{EMAIL_SK_PREFIX}{kind}")
}

/// The delivery id of a delivery's item; `None` for others.
pub(super) fn delivery_id_of(pk: &str) -> Option<&str> {
    pk.strip_prefix(DELIVERY_PREFIX)
}

pub(super) fn delivery_pk(delivery_id: &str) -> String {
    format!("{DELIVERY_PREFIX}{delivery_id}")
}

pub(super) fn idempotency_pk(source: &str, idem_key: &str) -> String {
    format!("{IDEMPOTENCY_PREFIX}{source}#{idem_key}")
}

/// A person's item is keyed by a hash of their identity key, so the table's keys carry no
/// email address or phone number.
pub(super) fn person_pk(identity_key: &str) -> String {
    use sha2::{Digest, Sha256};
    format!(
        "{PERSON_PREFIX}{}",
        hex::encode(Sha256::digest(identity_key.as_bytes()))
    )
}

/// An address acknowledged lately, keyed by a hash of it (no address in the table's keys).
pub(super) fn acknowledged_pk(address: &str) -> String {
    use sha2::{Digest, Sha256};
    format!(
        "{ACKNOWLEDGED_PREFIX}{}",
        hex::encode(Sha256::digest(address.to_lowercase().as_bytes()))
    )
}

pub(super) fn team_pk(team: &str) -> String {
    format!("{TEAM_PREFIX}{team}")
}

pub(super) fn account_pk(domain: &str) -> String {
    format!("{ACCOUNT_PREFIX}{domain}")
}

pub(super) fn company_pk(domain: &str) -> String {
    format!("{COMPANY_PREFIX}{domain}")
}

pub(super) fn rate_pk(key: &str) -> String {
    format!("{RATE_PREFIX}{key}")
}

/// A time as the table holds it: RFC 3339 in UTC, fixed width (milliseconds), so strings sort as
/// times do.
pub(super) fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The index sort key for a time: fixed width, so strings sort as times do.
pub fn sla_time_key(t: DateTime<Utc>) -> String {
    time(t)
}

/// The write shard of a lead in the SLA index: stable, spread evenly by the lead id's random
/// tail so no partition runs hot.
pub fn sla_shard_of(lead_id: &str, shards: u32) -> u32 {
    // FNV-1a: tiny, stable across releases (unlike std's hasher).
    let mut h: u32 = 0x811c_9dc5;
    for b in lead_id.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h % shards.max(1)
}

/// The partition of the `leads-by-day` index a lead falls in: the UTC day it arrived.
pub(super) fn received_day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// The sort key of a lead in the `leads-by-day` index: its arrival time (fixed width), then its
/// id, so two leads of the same millisecond both have a place and keys sort by arrival.
pub(super) fn received_key(t: DateTime<Utc>, lead_id: &str) -> String {
    format!("{}#{lead_id}", time(t))
}

pub(super) fn shard_name(shard: u32) -> String {
    format!("shard-{shard}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys are the stored format: items already in tables must still be found.
    #[test]
    fn keys_are_spelled_as_the_table_has_them() {
        assert_eq!(lead_pk("01J"), "LEAD#01J");
        assert_eq!(lead_id_of("LEAD#01J"), Some("01J"));
        assert_eq!(lead_id_of("DELIVERY#01J"), None);
        assert_eq!(event_sk("01K"), "EVENT#01K");
        assert_eq!(email_sk("ack"), "EMAIL#ack");
        assert_eq!(delivery_pk("d1"), "DELIVERY#d1");
        assert_eq!(idempotency_pk("web", "k1"), "IDEMPOTENCY#web#k1");
        assert_eq!(
            person_pk("email:ana@example.com"),
            "PERSON#f8c3c203b618ed9eaf039e298b665216b3a0d3bd974458615de998e9a14f7c62"
        );
        assert_eq!(team_pk("sales"), "TEAM#sales");
        assert_eq!(account_pk("acme.io"), "ACCOUNT#acme.io");
        assert_eq!(company_pk("acme.io"), "COMPANY#acme.io");
        assert_eq!(rate_pk("web#ab#123"), "RATE#web#ab#123");
        assert_eq!(
            [
                LEAD_SK,
                DELIVERY_SK,
                IDEMPOTENCY_SK,
                ROTATION_SK,
                ACCOUNT_SK,
                RATE_SK,
                PERSON_SK,
                COMPANY_SK
            ],
            [
                "LEAD",
                "DELIVERY",
                "IDEMPOTENCY",
                "ROTATION",
                "ACCOUNT",
                "RATE",
                "PERSON",
                "COMPANY"
            ]
        );
    }

    #[test]
    fn arrival_keys_are_the_day_and_the_time_then_the_id() {
        let t: DateTime<Utc> = "2026-03-02T23:59:59.5Z".parse().unwrap();
        assert_eq!(received_day(t), "2026-03-02");
        assert_eq!(received_key(t, "01J"), "2026-03-02T23:59:59.500Z#01J");
        // A window's bounds are bare times: the key of a lead at exactly `since` sorts after
        // `since` (in), one at exactly `until` after `until` (out of a BETWEEN).
        assert!(received_key(t, "01J") > time(t));
    }

    #[test]
    fn shards_are_stable_and_spread() {
        assert_eq!(sla_shard_of("01JABCDEF", 8), sla_shard_of("01JABCDEF", 8));
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..200 {
            seen.insert(sla_shard_of(&format!("01J{i:023}"), 8));
        }
        assert_eq!(seen.len(), 8);
    }

    #[test]
    fn time_keys_sort_as_times() {
        let a: DateTime<Utc> = "2026-03-02T09:59:59.999Z".parse().unwrap();
        let b: DateTime<Utc> = "2026-03-02T10:00:00Z".parse().unwrap();
        assert!(sla_time_key(a) < sla_time_key(b));
        assert_eq!(sla_time_key(b), "2026-03-02T10:00:00.000Z");
    }
}
