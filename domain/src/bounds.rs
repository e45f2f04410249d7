//! How big a lead can get. Every source's items, the details read from a platform's API and
//! every repeat submission joined to an open lead pass through [`Lead::bound`], so a lead item
//! stays under [`MAX_LEAD_ITEM_BYTES`] however it was fed (docs/architecture.md, "Lead item
//! size").
//!
//! Our own formats (`json`, `form`) refuse a field over the limits in [`crate::intake`]
//! (`422`); a platform has already taken its lead and retries a refusal for hours, so its
//! values are cut here instead. The raw delivery keeps every value whole (invariant 2), so a
//! cut loses nothing for good. Caps are in UTF-8 bytes, what DynamoDB counts; a cut value ends
//! with `…` at a character boundary.

use std::collections::BTreeMap;

use crate::attribution::Touch;
use crate::lead::{Lead, LeadFields};

/// The largest a stored lead profile gets, in bytes: the caps below add up to under it (the
/// sum is pinned by a test), far under DynamoDB's 400 KB item limit.
pub const MAX_LEAD_ITEM_BYTES: usize = 96 * 1024;

/// A single-line field: name, email, phone, company, job title, country.
pub const FIELD_BYTES: usize = 1_000;
/// The message, however many repeat submissions added to it (the newest text is kept).
pub const MESSAGE_BYTES: usize = 10_000;
/// The landing page and the referrer, after their UTM parameters and click ids were read.
pub const URL_BYTES: usize = 2_048;
/// An attribute's name.
pub const ATTRIBUTE_KEY_BYTES: usize = 100;
/// An attribute's value.
pub const ATTRIBUTE_VALUE_BYTES: usize = 1_000;
/// All attributes together (names and values); ones beyond it stay in the raw delivery only.
pub const ATTRIBUTES_BYTES: usize = 16 * 1024;
/// Entries of each attribution map (UTMs, click ids, campaign ids).
pub const PARAMS: usize = 10;
/// A UTM parameter's, click id's or campaign id's name.
pub const PARAM_KEY_BYTES: usize = 40;
/// A UTM parameter's, click id's or campaign id's value.
pub const PARAM_VALUE_BYTES: usize = 250;
/// The platform's id of the lead, and other short ids.
pub const ID_BYTES: usize = 256;
/// Deliveries listed as joined to a lead: the latest are kept (the count of submissions
/// goes on; each joined delivery names its lead, so erasure finds them all).
pub const JOINED_DELIVERIES: usize = 50;

/// The attribute that says how many attributes were left out of the lead.
pub const ATTRIBUTES_LEFT_OUT: &str = "attributes_left_out";

/// The text's first `max` bytes, ending with `…` when cut.
pub fn cut(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    const MARK: &str = "…";
    let mut end = max.saturating_sub(MARK.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s.push_str(MARK);
}

/// The text's last `max` bytes, starting with `…` when cut: the newest of a joined message.
pub fn keep_tail(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    const MARK: &str = "…";
    let mut start = s.len() - max.saturating_sub(MARK.len());
    while !s.is_char_boundary(start) {
        start += 1;
    }
    *s = format!("{MARK}{}", &s[start..]);
}

fn cut_opt(s: &mut Option<String>, max: usize) {
    if let Some(s) = s {
        cut(s, max);
    }
}

/// At most [`PARAMS`] entries (the first by name), names within [`PARAM_KEY_BYTES`] (longer
/// ones dropped: a cut name would be another parameter), values cut.
fn bound_params(map: &mut BTreeMap<String, String>) {
    map.retain(|k, _| k.len() <= PARAM_KEY_BYTES);
    while map.len() > PARAMS {
        map.pop_last();
    }
    for v in map.values_mut() {
        cut(v, PARAM_VALUE_BYTES);
    }
}

fn bound_touch(t: &mut Touch) {
    cut(&mut t.source, ID_BYTES);
    bound_params(&mut t.utm);
    bound_params(&mut t.click_ids);
    cut_opt(&mut t.landing_page, URL_BYTES);
    cut_opt(&mut t.referrer, URL_BYTES);
}

fn bound_fields(f: &mut LeadFields) {
    for slot in [
        &mut f.email,
        &mut f.full_name,
        &mut f.first_name,
        &mut f.last_name,
        &mut f.phone,
        &mut f.company,
        &mut f.job_title,
        &mut f.country,
    ] {
        cut_opt(slot, FIELD_BYTES);
    }
    cut_opt(&mut f.message, MESSAGE_BYTES);
}

/// The bytes an attribute takes against [`ATTRIBUTES_BYTES`].
fn attribute_bytes(k: &str, v: &str) -> usize {
    k.len() + v.len()
}

/// Whether one more attribute fits the lead's attribute budget.
pub fn attribute_fits(attributes: &BTreeMap<String, String>, key: &str, value: &str) -> bool {
    let used: usize = attributes.iter().map(|(k, v)| attribute_bytes(k, v)).sum();
    let room = ATTRIBUTES_BYTES - ATTRIBUTES_LEFT_OUT.len() - 20;
    key.len() <= ATTRIBUTE_KEY_BYTES
        && used + attribute_bytes(key, value).min(key.len() + ATTRIBUTE_VALUE_BYTES) <= room
}

/// Names within [`ATTRIBUTE_KEY_BYTES`] (longer ones dropped), values cut, and no more than
/// [`ATTRIBUTES_BYTES`] in all: attributes beyond it (by name) are left out, and
/// [`ATTRIBUTES_LEFT_OUT`] says how many.
fn bound_attributes(attributes: &mut BTreeMap<String, String>) {
    // An earlier count is carried on and the ones left out now are added to it.
    let earlier: usize = attributes
        .remove(ATTRIBUTES_LEFT_OUT)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let before = attributes.len();
    // A name is what a person can read: control characters (a CR LF, a NUL) go, and a name left
    // empty is no name (DynamoDB takes no empty attribute name in a map, either).
    let named: BTreeMap<String, String> = std::mem::take(attributes)
        .into_iter()
        .filter_map(|(k, v)| {
            let k: String = k.chars().filter(|c| !c.is_control()).collect();
            let k = k.trim().to_owned();
            (!k.is_empty() && k.len() <= ATTRIBUTE_KEY_BYTES).then_some((k, v))
        })
        .collect();
    *attributes = named;
    let mut left_out = earlier + before - attributes.len();
    // Room for the count itself.
    let budget = ATTRIBUTES_BYTES - ATTRIBUTES_LEFT_OUT.len() - 20;
    let mut used = 0usize;
    let mut kept = BTreeMap::new();
    for (k, mut v) in std::mem::take(attributes) {
        cut(&mut v, ATTRIBUTE_VALUE_BYTES);
        let n = attribute_bytes(&k, &v);
        if used + n <= budget {
            used += n;
            kept.insert(k, v);
        } else {
            left_out += 1;
        }
    }
    if left_out > 0 {
        kept.insert(ATTRIBUTES_LEFT_OUT.to_owned(), left_out.to_string());
    }
    *attributes = kept;
}

/// Adds a repeat submission's message to the lead's: the newest whole (up to
/// [`MESSAGE_BYTES`]), then as much of the earlier text as still fits, its newest part.
pub fn append_message(old: &mut String, new: &str) {
    const SEPARATOR: &str = "\n\n";
    let mut new = new.to_owned();
    cut(&mut new, MESSAGE_BYTES);
    // Room for the earlier text: anything shorter than a few characters is not worth keeping.
    let room = MESSAGE_BYTES.saturating_sub(new.len() + SEPARATOR.len());
    if room < 16 {
        *old = new;
        return;
    }
    keep_tail(old, room);
    old.push_str(SEPARATOR);
    old.push_str(&new);
}

impl Lead {
    /// Cuts what the person and the platform gave to the caps above, so the lead item stays
    /// under [`MAX_LEAD_ITEM_BYTES`]. Idempotent: a bounded lead is left as it is.
    pub fn bound(&mut self) {
        bound_fields(&mut self.fields);
        bound_attributes(&mut self.attributes);
        bound_params(&mut self.utm);
        bound_params(&mut self.click_ids);
        bound_params(&mut self.campaign);
        for touch in [
            &mut self.attribution,
            &mut self.first_touch,
            &mut self.last_touch,
        ]
        .into_iter()
        .flatten()
        {
            bound_touch(touch);
        }
        cut_opt(&mut self.external_id, ID_BYTES);
        if self
            .phone_country_hint
            .as_ref()
            .is_some_and(|c| c.len() > 3)
        {
            self.phone_country_hint = None;
        }
        cut_opt(&mut self.status_reason, ID_BYTES);
        let extra = self
            .joined_deliveries
            .len()
            .saturating_sub(JOINED_DELIVERIES);
        self.joined_deliveries.drain(..extra);
    }
}

#[cfg(test)]
mod names {
    use crate::test_support::lead;

    #[test]
    fn attribute_names_lose_control_characters_and_empty_ones_are_dropped() {
        let mut l = lead();
        for (k, v) in [("", "a"), ("\u{1}", "b"), ("a\r\nb", "c"), (" note ", "d")] {
            l.attributes.insert(k.into(), v.into());
        }
        l.bound();
        let names: Vec<&str> = l.attributes.keys().map(String::as_str).collect();
        assert_eq!(names, vec!["ab", "attributes_left_out", "note"]);
        assert_eq!(l.attributes["attributes_left_out"], "2", "the nameless two");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::PlatformLead;

    #[test]
    fn a_cut_keeps_whole_characters_and_says_it_was_cut() {
        let mut s = "ab😀cd".to_owned();
        cut(&mut s, 6);
        assert_eq!(s, "ab…");
        let mut short = "abc".to_owned();
        cut(&mut short, 3);
        assert_eq!(short, "abc");
        let mut tail = "😀😀abc".to_owned();
        keep_tail(&mut tail, 7);
        assert_eq!(tail, "…abc");
        assert!(tail.len() <= 7);
    }

    fn huge(n: usize) -> String {
        // Multi-byte characters: the caps are bytes, not characters.
        "Größe 漢字 😀 ".chars().cycle().take(n).collect()
    }

    #[test]
    fn a_platform_item_is_cut_to_the_caps_and_the_rest_left_to_the_raw_delivery() {
        let mut p = PlatformLead {
            dedupe_key: "tally:f:r".into(),
            external_id: Some(huge(1_000)),
            landing_page: Some(format!("https://acme.io/?utm_source=ads&x={}", huge(5_000))),
            ..Default::default()
        };
        p.fields.email = Some("ana@acme.io".into());
        p.fields.company = Some(huge(5_000));
        p.fields.message = Some(huge(50_000));
        for i in 0..300 {
            p.custom.insert(format!("question {i:03}"), huge(2_000));
        }
        p.custom.insert("x".repeat(500), "dropped".into());
        let lead = Lead::from_delivery_item("L", "tally", "D", chrono::Utc::now(), p);
        assert_eq!(lead.fields.email.as_deref(), Some("ana@acme.io"));
        assert!(lead.fields.company.as_ref().unwrap().len() <= FIELD_BYTES);
        assert!(lead.fields.company.as_ref().unwrap().ends_with('…'));
        assert!(lead.fields.message.as_ref().unwrap().len() <= MESSAGE_BYTES);
        assert!(lead.external_id.as_ref().unwrap().len() <= ID_BYTES);
        let touch = lead.attribution.as_ref().unwrap();
        assert!(touch.landing_page.as_ref().unwrap().len() <= URL_BYTES);
        assert_eq!(
            lead.utm.get("source").map(String::as_str),
            Some("ads"),
            "read from the landing page before it was cut"
        );
        let attribute_bytes: usize = lead.attributes.iter().map(|(k, v)| k.len() + v.len()).sum();
        assert!(attribute_bytes <= ATTRIBUTES_BYTES, "{attribute_bytes}");
        assert!(lead
            .attributes
            .values()
            .all(|v| v.len() <= ATTRIBUTE_VALUE_BYTES));
        let left_out: usize = lead.attributes[ATTRIBUTES_LEFT_OUT].parse().unwrap();
        assert_eq!(left_out + lead.attributes.len() - 1, 301);
        let mut again = lead.clone();
        again.bound();
        assert_eq!(again, lead, "bounding twice changes nothing");
    }

    /// A lead fed the largest inputs every cap allows, then joined by 50 equally large repeat
    /// submissions, is still under the documented item size.
    #[test]
    fn a_maximal_lead_joined_fifty_times_stays_under_the_documented_item_size() {
        use crate::clock::{Clock, ManualClock};
        let config = crate::test_support::config();
        // Before every other test's clock: ids are monotonic across the process.
        let clock = ManualClock::new("2026-01-05T10:00:00Z".parse().unwrap());
        let maximal = |n: usize| {
            let mut p = PlatformLead {
                dedupe_key: format!("tally:f:{n}"),
                external_id: Some(huge(ID_BYTES * 2)),
                landing_page: Some(format!("https://acme.io/{}", huge(URL_BYTES * 2))),
                referrer: Some(format!("https://ref.example/{}", huge(URL_BYTES * 2))),
                phone_country_hint: Some("DE".into()),
                ..Default::default()
            };
            let f = &mut p.fields;
            f.email = Some(format!("ana{}@acme.io", "x".repeat(FIELD_BYTES)));
            f.phone = Some(format!("+49 30 1234567 {}", huge(FIELD_BYTES)));
            for slot in [
                &mut f.full_name,
                &mut f.first_name,
                &mut f.last_name,
                &mut f.company,
                &mut f.job_title,
                &mut f.country,
            ] {
                *slot = Some(huge(FIELD_BYTES * 2));
            }
            f.message = Some(format!("submission {n}: {}", huge(MESSAGE_BYTES * 2)));
            for i in 0..PARAMS * 2 {
                p.utm
                    .insert(format!("p{i:02}"), huge(PARAM_VALUE_BYTES * 2));
                p.click_ids
                    .insert(format!("c{i:02}"), huge(PARAM_VALUE_BYTES * 2));
                p.campaign
                    .insert(format!("k{i:02}"), huge(PARAM_VALUE_BYTES * 2));
            }
            for i in 0..400 {
                p.custom.insert(
                    format!("submission {n} question {i:03} {}", "q".repeat(60)),
                    huge(ATTRIBUTE_VALUE_BYTES * 2),
                );
            }
            p
        };
        let at = |n: i64| clock.now() + chrono::Duration::minutes(n);
        let mut lead = Lead::from_delivery_item("01JLEAD", "tally", "01JD0", at(0), maximal(0));
        lead.first_touch = lead.attribution.clone();
        lead.score(None, &config, at(0), &clock).expect("scored");
        lead.assignment = Some(crate::test_support::assignment_for(&lead));
        for n in 1..=50 {
            let repeat = Lead::from_delivery_item(
                &format!("01JLEAD{n}"),
                "tally",
                &format!("01JDELIVERY{n:020}"),
                at(n),
                maximal(n as usize),
            );
            crate::identity::join(&mut lead, &repeat);
            lead.score(None, &config, at(n), &clock)
                .expect("scored again");
        }
        assert_eq!(lead.submissions, 51, "every submission counted");
        assert_eq!(lead.joined_deliveries.len(), JOINED_DELIVERIES);
        assert!(lead
            .fields
            .message
            .as_deref()
            .unwrap()
            .contains("submission 50:"));
        let size = serde_json::to_vec(&lead).unwrap().len();
        assert!(
            size < MAX_LEAD_ITEM_BYTES,
            "{size} bytes, more than {MAX_LEAD_ITEM_BYTES}"
        );
    }
}
