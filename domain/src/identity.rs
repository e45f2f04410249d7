//! Who a lead is. Two submissions come from the same person when they share a normalised email
//! (plus-tags aside) or a valid E.164 phone. A person submitting again while their lead is open
//! and recent joins that lead instead of starting a second one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::bounds;
use super::lead::{Lead, LeadFields};
use super::normalize;

/// A phone number as the identity keys read it: what was typed, the region it was read in, and
/// its E.164 form when libphonenumber knows it as valid. Kept on the lead, because every save
/// writes the lead's erasure keys and reading a phone needs libphonenumber's metadata, which
/// takes 12-17 ms of CPU (release) and about 5 MB to build in a new process: route, notify and
/// escalate, which never change a lead's phone, reuse the reading and never build it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneReading {
    pub raw: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e164: Option<String>,
}

/// Reads a typed phone number in a region: its E.164 form when libphonenumber knows it as
/// valid.
pub type PhoneReader = fn(&str, Option<normalize::Region>) -> Option<String>;

/// Reads phones with libphonenumber's metadata. A function pointer, so that code which only
/// re-saves leads can leave it out ([`erasure_keys_reusing`]) and libphonenumber is not linked
/// into it.
pub const READ_PHONES: PhoneReader = read_phone;

fn read_phone(raw: &str, region: Option<normalize::Region>) -> Option<String> {
    normalize::phone(raw, region)
        .filter(|p| p.valid)
        .map(|p| p.e164)
}

/// The identity keys of a submission: `email:<address without +tag>` and `phone:<E.164>`.
/// `default_country` reads national phone numbers when the lead names no country.
pub fn keys(fields: &LeadFields, default_country: Option<&str>) -> Vec<String> {
    keys_reusing(fields, default_country, None, Some(READ_PHONES)).0
}

/// [`keys`] of a lead, reusing the reading of its phone kept on it ([`Lead::phone_reading`])
/// when the phone is read in the same region: capture reads a new lead's phone once.
pub fn lead_keys(lead: &Lead, default_country: Option<&str>) -> Vec<String> {
    keys_reusing(
        &lead.fields,
        default_country,
        lead.phone_reading.as_ref(),
        Some(READ_PHONES),
    )
    .0
}

/// [`keys`], reusing an earlier reading of the same phone in the same region; with the
/// reading the keys were made from (`None` when there is no phone). Without a reader, the
/// earlier reading is kept whatever it was read from (see [`erasure_keys_reusing`]).
fn keys_reusing(
    fields: &LeadFields,
    default_country: Option<&str>,
    earlier: Option<&PhoneReading>,
    read: Option<PhoneReader>,
) -> (Vec<String>, Option<PhoneReading>) {
    let mut keys = Vec::with_capacity(2);
    if let Some(base) = fields
        .email
        .as_deref()
        .and_then(normalize::email)
        .and_then(|e| normalize::email_base(&e))
    {
        keys.push(format!("email:{base}"));
    }
    let region = fields
        .country
        .as_deref()
        .and_then(normalize::region)
        .or_else(|| default_country.and_then(normalize::region));
    let reading = fields.phone.as_deref().and_then(|raw| {
        let code = region.map(normalize::region_code);
        let same = earlier.filter(|r| r.raw == raw && r.region == code);
        match (same, read) {
            (Some(same), _) => Some(same.clone()),
            (None, Some(read)) => Some(PhoneReading {
                e164: read(raw, region),
                raw: raw.to_owned(),
                region: code,
            }),
            (None, None) => earlier.cloned(),
        }
    });
    if let Some(e164) = reading.as_ref().and_then(|r| r.e164.as_deref()) {
        keys.push(format!("phone:{e164}"));
    }
    (keys, reading)
}

/// Every identity key a lead can be found by when its person asks to be erased, spam and test
/// leads included: those of its fields (a national number read in the lead's own region),
/// and its number as enrich normalised it (read in the source's default country).
pub fn erasure_keys(lead: &Lead) -> Vec<String> {
    erasure_keys_reusing(lead, Some(READ_PHONES)).0
}

/// [`erasure_keys`], reusing the lead's [`PhoneReading`] when its phone and region are the
/// ones read before; with the reading to keep on the lead. Without a reader (route, notify and
/// escalate, which never change what a person typed, and so never link libphonenumber) the
/// lead's reading is kept as it is.
pub fn erasure_keys_reusing(
    lead: &Lead,
    read: Option<PhoneReader>,
) -> (Vec<String>, Option<PhoneReading>) {
    let (mut found, reading) = keys_reusing(
        &lead.fields,
        lead.phone_region_or(None).as_deref(),
        lead.phone_reading.as_ref(),
        read,
    );
    let enriched = lead
        .enrichment
        .as_ref()
        .filter(|e| !e.phone_invalid)
        .and_then(|e| e.phone.as_deref());
    if let Some(e164) = enriched {
        let key = format!("phone:{e164}");
        if !found.contains(&key) {
            found.push(key);
        }
    }
    (found, reading)
}

/// The email identity keys of the addresses written in a text that could not be read as a
/// lead (a refused delivery): whole tokens that are addresses, compared exactly, so
/// `diana@example.com` never stands for `ana@example.com`.
pub fn email_keys_in_text(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let separators = |c: char| c.is_whitespace() || "\"'<>(),;:[]{}=&|/?#!`".contains(c);
    for token in text.split(separators) {
        // URL-encoded forms carry `%40` for `@`.
        let token = token
            .replace("%40", "@")
            .replace("%2B", "+")
            .replace("%2b", "+");
        let token = token.trim_matches(|c: char| c == '.' || c == '-' || c == '+');
        if !token.contains('@') {
            continue;
        }
        let key = normalize::email(token)
            .and_then(|e| normalize::email_base(&e))
            .map(|base| format!("email:{base}"));
        if let Some(key) = key.filter(|k| !found.contains(k)) {
            found.push(key);
        }
    }
    found
}

/// A lead takes part in identity only when it is a real person's (not spam, not a test).
pub fn has_identity(lead: &Lead) -> bool {
    !lead.is_quarantined()
}

/// Whether a new submission at `now` joins `existing`: it is still open (new or working), real,
/// and the person's latest submission to it is no older than `window`.
pub fn can_join(existing: &Lead, now: DateTime<Utc>, window: std::time::Duration) -> bool {
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    existing.status.is_open()
        && has_identity(existing)
        && now.signed_duration_since(existing.last_activity()) <= window
}

/// Folds a repeat submission into the open lead it joins: one more submission, the latest
/// activity now, fields the lead lacked filled in, a new message appended, and a fresh score
/// due. Its touch becomes the lead's last touch; the owner, the SLA clock and the first
/// submission's attribution stay as they are. The joined lead stays within the caps of
/// [`crate::bounds`]: the newest message text, attributes while they fit, the latest
/// deliveries.
pub fn join(existing: &mut Lead, repeat: &Lead) {
    existing.submissions = existing.submissions.saturating_add(1);
    if repeat.attribution.is_some() {
        existing.last_touch.clone_from(&repeat.attribution);
    }
    existing.last_submitted_at = Some(repeat.received_at);
    if repeat.delivery_id != existing.delivery_id
        && !existing.joined_deliveries.contains(&repeat.delivery_id)
    {
        existing.joined_deliveries.push(repeat.delivery_id.clone());
    }
    let (have, new) = (&mut existing.fields, &repeat.fields);
    for (slot, value) in [
        (&mut have.email, &new.email),
        (&mut have.full_name, &new.full_name),
        (&mut have.first_name, &new.first_name),
        (&mut have.last_name, &new.last_name),
        (&mut have.phone, &new.phone),
        (&mut have.company, &new.company),
        (&mut have.job_title, &new.job_title),
        (&mut have.country, &new.country),
    ] {
        if slot.is_none() {
            slot.clone_from(value);
        }
    }
    match (&mut have.message, &new.message) {
        (Some(old), Some(m)) if !old.contains(m.as_str()) => bounds::append_message(old, m),
        (slot @ None, Some(m)) => *slot = Some(m.clone()),
        _ => {}
    }
    // New attributes while they fit the lead's budget; the rest stay in the raw delivery.
    let mut left_out = 0usize;
    for (k, v) in &repeat.attributes {
        if existing.attributes.contains_key(k) || k == bounds::ATTRIBUTES_LEFT_OUT {
            continue;
        }
        if bounds::attribute_fits(&existing.attributes, k, v) {
            existing.attributes.insert(k.clone(), v.clone());
        } else {
            left_out += 1;
        }
    }
    if left_out > 0 {
        let count = existing
            .attributes
            .entry(bounds::ATTRIBUTES_LEFT_OUT.into())
            .or_default();
        *count = (count.parse::<usize>().unwrap_or(0) + left_out).to_string();
    }
    existing.needs_rescore = true;
    // However often the person comes back, the lead stays within its caps.
    existing.bound();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lead::LeadStatus;
    use crate::test_support::lead;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const DAY: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

    #[test]
    fn the_same_person_has_the_same_keys_however_they_type_it() {
        let a = LeadFields {
            email: Some(" Ana.Costa+Webinar@ACME.io ".into()),
            phone: Some("030 1234567".into()),
            country: Some("DE".into()),
            ..Default::default()
        };
        let b = LeadFields {
            email: Some("ana.costa@acme.io".into()),
            phone: Some("+49 30 1234567".into()),
            ..Default::default()
        };
        assert_eq!(keys(&a, None), keys(&b, None));
        assert_eq!(
            keys(&b, None),
            vec!["email:ana.costa@acme.io", "phone:+49301234567"]
        );
    }

    #[test]
    fn national_numbers_need_a_country_and_bad_ones_make_no_key() {
        let f = LeadFields {
            phone: Some("030 1234567".into()),
            ..Default::default()
        };
        assert!(keys(&f, None).is_empty());
        assert_eq!(keys(&f, Some("DE")), vec!["phone:+49301234567"]);
        let junk = LeadFields {
            email: Some("not an email".into()),
            phone: Some("12".into()),
            ..Default::default()
        };
        assert!(keys(&junk, Some("DE")).is_empty());
    }

    #[test]
    fn an_open_recent_lead_is_joined_and_a_closed_or_old_one_is_not() {
        let l = lead();
        let now = l.received_at + chrono::Duration::days(3);
        assert!(can_join(&l, now, 7 * DAY));
        assert!(!can_join(&l, now, 2 * DAY), "outside the window");
        let mut working = l.clone();
        working.status = LeadStatus::Working;
        assert!(can_join(&working, now, 7 * DAY));
        for closed in [
            LeadStatus::Qualified,
            LeadStatus::Nurture,
            LeadStatus::Disqualified,
            LeadStatus::Converted,
        ] {
            let mut c = l.clone();
            c.status = closed;
            assert!(!can_join(&c, now, 7 * DAY), "{closed}");
        }
        let mut spam = l.clone();
        spam.is_spam = true;
        assert!(!can_join(&spam, now, 7 * DAY));
    }

    #[test]
    fn the_window_runs_from_the_latest_submission() {
        let mut l = lead();
        l.last_submitted_at = Some(l.received_at + chrono::Duration::days(6));
        assert!(can_join(&l, t("2026-03-12T10:00:00Z"), 7 * DAY));
    }

    #[test]
    fn a_repeat_submission_fills_gaps_appends_its_message_and_asks_for_a_new_score() {
        let mut l = lead();
        l.fields.message = Some("Send me the e-book".into());
        l.assignment = Some(crate::test_support::assignment_for(&l));
        let mut again = lead();
        again.delivery_id = "01JDELIVERY2".into();
        again.received_at = t("2026-03-04T09:00:00Z");
        again.fields.first_name = Some("Anabela".into());
        again.fields.phone = Some("+49 30 1234567".into());
        again.fields.message = Some("Can we book a demo?".into());
        join(&mut l, &again);
        assert_eq!(l.submissions, 2);
        assert_eq!(l.last_submitted_at, Some(again.received_at));
        assert_eq!(l.joined_deliveries, vec!["01JDELIVERY2".to_string()]);
        assert_eq!(l.fields.first_name.as_deref(), Some("Ana"), "kept");
        assert_eq!(l.fields.phone.as_deref(), Some("+49 30 1234567"), "filled");
        assert_eq!(
            l.fields.message.as_deref(),
            Some("Send me the e-book\n\nCan we book a demo?")
        );
        assert!(l.needs_rescore);
        assert_eq!(l.assignment.as_ref().unwrap().owner_id, "rui", "owner kept");
        // The same delivery twice (a platform retry racing a join) counts once.
        let before = l.joined_deliveries.len();
        join(&mut l, &again);
        assert_eq!(l.joined_deliveries.len(), before);
    }

    #[test]
    fn a_lead_is_found_for_erasure_by_its_address_and_by_its_enriched_number() {
        let mut l = lead();
        l.fields.email = Some("Ana.Ferreira+demo@Northwind-Logistics.com".into());
        l.fields.phone = Some("030 1234567".into());
        l.is_spam = true;
        let keys = erasure_keys(&l);
        assert_eq!(keys, vec!["email:ana.ferreira@northwind-logistics.com"]);
        l.enrichment = Some(crate::lead::Enrichment {
            phone: Some("+49301234567".into()),
            ..Default::default()
        });
        assert_eq!(
            erasure_keys(&l),
            vec![
                "email:ana.ferreira@northwind-logistics.com",
                "phone:+49301234567"
            ]
        );
    }

    #[test]
    fn a_phone_read_before_is_reused_until_the_phone_or_its_region_changes() {
        let mut l = lead();
        l.fields.email = None;
        l.fields.phone = Some("+1 415 555 2671".into());
        let (keys, reading) = erasure_keys_reusing(&l, Some(READ_PHONES));
        assert_eq!(keys, vec!["phone:+14155552671"]);
        let reading = reading.expect("a phone makes a reading");
        assert_eq!(reading.e164.as_deref(), Some("+14155552671"));

        // A reading kept on the lead answers for the same phone in the same region, whatever
        // it says (here a different number, to show it is not read again).
        l.phone_reading = Some(PhoneReading {
            e164: Some("+14155550000".into()),
            ..reading.clone()
        });
        assert_eq!(
            erasure_keys_reusing(&l, Some(READ_PHONES)).0,
            vec!["phone:+14155550000"]
        );

        // Another phone, or the same digits in another region, is read afresh.
        l.fields.phone = Some("+1 415 555 2672".into());
        assert_eq!(
            erasure_keys_reusing(&l, Some(READ_PHONES)).0,
            vec!["phone:+14155552672"]
        );
        l.fields.phone = Some("030 1234567".into());
        l.phone_reading = erasure_keys_reusing(&l, Some(READ_PHONES)).1;
        l.fields.country = Some("DE".into());
        let (keys, reading) = erasure_keys_reusing(&l, Some(READ_PHONES));
        assert_eq!(keys, vec!["phone:+49301234567"]);
        assert_eq!(reading.and_then(|r| r.region).as_deref(), Some("DE"));
    }

    #[test]
    fn a_leads_keys_reuse_its_phones_reading_in_the_same_region_only() {
        let mut l = lead();
        l.fields.email = None;
        l.fields.phone = Some("+1 415 555 2671".into());
        l.phone_reading = erasure_keys_reusing(&l, Some(READ_PHONES)).1;
        // Marked, to show it is not read again.
        if let Some(r) = l.phone_reading.as_mut() {
            r.e164 = Some("+14155550000".into());
        }
        let region = l.phone_reading.as_ref().and_then(|r| r.region.clone());
        assert_eq!(lead_keys(&l, region.as_deref()), vec!["phone:+14155550000"]);
        assert_ne!(region.as_deref(), Some("GB"));
        assert_eq!(
            lead_keys(&l, Some("GB")),
            vec!["phone:+14155552671"],
            "another region reads it afresh"
        );
    }

    #[test]
    fn without_a_reader_the_phone_read_before_is_kept_and_nothing_is_read() {
        let mut l = lead();
        l.fields.email = None;
        l.fields.phone = Some("+1 415 555 2671".into());
        l.phone_reading = erasure_keys_reusing(&l, Some(READ_PHONES)).1;
        let (keys, reading) = erasure_keys_reusing(&l, None);
        assert_eq!(keys, vec!["phone:+14155552671"]);
        assert_eq!(reading, l.phone_reading);

        // Code without a reader never changes a phone; if it did, the keys would still be the
        // person's as read before, not none.
        l.fields.phone = Some("+1 415 555 2672".into());
        assert_eq!(erasure_keys_reusing(&l, None).0, vec!["phone:+14155552671"]);
        assert_eq!(
            erasure_keys_reusing(&l, Some(READ_PHONES)).0,
            vec!["phone:+14155552672"]
        );
    }

    #[test]
    fn addresses_in_an_unreadable_text_are_whole_tokens_compared_exactly() {
        let text = r#"{"email": "Ana.Ferreira@northwind-logistics.com", "cc": "diana@northwind-logistics.com"#;
        assert_eq!(
            email_keys_in_text(text),
            vec![
                "email:ana.ferreira@northwind-logistics.com",
                "email:diana@northwind-logistics.com"
            ]
        );
        assert_eq!(
            email_keys_in_text("email=ana%2Bx%40example.com&name=Ana"),
            vec!["email:ana@example.com"]
        );
        assert!(email_keys_in_text("no address here, only @handles and a@b").is_empty());
    }
}
