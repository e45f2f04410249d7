//! Who a lead is. Two submissions come from the same person when they share a normalised email
//! (plus-tags aside) or a valid E.164 phone. A person submitting again while their lead is open
//! and recent joins that lead instead of starting a second one.

use chrono::{DateTime, Utc};

use super::bounds;
use super::lead::{Lead, LeadFields};
use super::normalize;

/// The identity keys of a submission: `email:<address without +tag>` and `phone:<E.164>`.
/// `default_country` reads national phone numbers when the lead names no country.
pub fn keys(fields: &LeadFields, default_country: Option<&str>) -> Vec<String> {
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
    if let Some(p) = fields
        .phone
        .as_deref()
        .and_then(|p| normalize::phone(p, region))
        .filter(|p| p.valid)
    {
        keys.push(format!("phone:{}", p.e164));
    }
    keys
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
}
