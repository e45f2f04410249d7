//! Form and ad platforms, each taken as it is: how it authenticates a delivery, what a
//! delivery looks like, and how it maps onto a lead. One module per platform, each a
//! [`Platform`]; pure functions over the raw request, no AWS and no I/O.
//!
//! The capture handler chooses the platform from the source's `kind`, authenticates, then
//! parses into [`Intake`]: either a handshake to answer (Meta's `hub.challenge`, LinkedIn's
//! `challengeCode`) or one [`PlatformLead`] per lead in the delivery, each with the dedupe key
//! the platform's retries share.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::auth::AuthError;
use super::intake::IntakeError;
use super::lead::LeadFields;
use crate::secret::Secret;

pub mod calendly;
pub mod google;
pub mod gravity_forms;
pub mod html_form;
pub mod hubspot;
pub mod jotform;
pub mod linkedin;
pub mod meta;
pub mod tally;
pub mod typeform;
pub mod unbounce;
pub mod webflow;

pub use calendly::Calendly;
pub use google::Google;
pub use gravity_forms::GravityForms;
pub use html_form::HtmlForm;
pub use hubspot::HubSpot;
pub use jotform::Jotform;
pub use linkedin::LinkedIn;
pub use meta::Meta;
pub use tally::Tally;
pub use typeform::Typeform;
pub use unbounce::Unbounce;
pub use webflow::Webflow;

#[cfg(test)]
pub(crate) mod fixtures;

/// A request as it arrived, in plain types.
#[derive(Debug, Clone)]
pub struct Incoming<'a> {
    pub method: &'a str,
    /// The full URL the platform called (`https://host/path?query`), for schemes that sign it.
    pub url: &'a str,
    /// Header names lower-cased.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
    /// Our clock, for timestamp tolerances.
    pub now: DateTime<Utc>,
}

impl Incoming<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A decoded query parameter.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let q = self.url.split_once('?')?.1;
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// What a source knows to check a delivery with.
#[derive(Debug, Clone, Copy, Default)]
pub struct Credentials<'a> {
    /// The signing secret, URL token, bearer token or Google key.
    pub secret: Option<&'a Secret>,
    /// Meta's verify token for the subscription handshake.
    pub verify_token: Option<&'a Secret>,
}

/// Per-source mapping of a platform's custom questions onto lead fields: the platform's
/// stable question key (Typeform ref, LinkedIn question id, Gravity Forms field id, Jotform
/// name, Tally label) → a lead field name (`email`, `company`, `job_title`, …). Unmapped
/// answers land in `custom`.
pub type FieldMapping = BTreeMap<String, String>;

/// One lead of a delivery, as the platform gave it (not yet normalised: enrich does that).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlatformLead {
    /// The platform's id of the lead or submission.
    pub external_id: Option<String>,
    /// `<platform>:<stable key>`: every retry of this lead carries the same one.
    pub dedupe_key: String,
    pub is_test: bool,
    /// The delivery holds only ids: the details must be fetched from the platform's API.
    pub requires_fetch: bool,
    pub submitted_at: Option<DateTime<Utc>>,
    pub fields: LeadFields,
    /// ISO 3166 country the platform says a national phone number belongs to.
    pub phone_country_hint: Option<String>,
    /// `source`, `medium`, `campaign`, `term`, `content`.
    pub utm: BTreeMap<String, String>,
    /// `gclid`, `fbclid`, `msclkid`, `li_fat_id`, `ttclid`.
    pub click_ids: BTreeMap<String, String>,
    /// The page the form was on or the person landed on, as given.
    pub landing_page: Option<String>,
    /// The page that sent the person, as given.
    pub referrer: Option<String>,
    /// `form_id`, `campaign_id`, `adset_id`, `ad_id`, `page_id`.
    pub campaign: BTreeMap<String, String>,
    /// Every other answer, keyed by its stable key or label.
    pub custom: BTreeMap<String, String>,
    pub consent: Option<bool>,
}

/// What a delivery amounts to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intake {
    /// Answer this, store nothing (a subscription handshake).
    Handshake {
        status: u16,
        content_type: &'static str,
        body: String,
    },
    /// The leads in the delivery; possibly none (an event we do not act on).
    Leads(Vec<PlatformLead>),
}

/// A platform's rules.
pub trait Platform: Sync {
    /// The platform's name in dedupe keys and logs (`tally`, `meta`, …).
    fn name(&self) -> &'static str;

    /// Checks the delivery is authentic, exactly as the platform specifies. Runs before any
    /// parsing; a failure is answered 401 and nothing is stored.
    fn authenticate(&self, req: &Incoming, creds: &Credentials) -> Result<(), AuthError>;

    /// Reads the delivery.
    fn parse(&self, req: &Incoming, mapping: &FieldMapping) -> Result<Intake, IntakeError>;

    /// The status the platform expects for an accepted delivery.
    fn success_status(&self) -> u16 {
        200
    }
}

/// Checks `tag` is HMAC-SHA256 keyed with the secret over the parts, in constant time.
pub fn verify_hmac_sha256(secret: &Secret, parts: &[&[u8]], tag: &[u8]) -> Result<(), AuthError> {
    use hmac::{Hmac, Mac};
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret.expose().as_bytes())
        .map_err(|_| AuthError::BadSignature)?;
    for part in parts {
        m.update(part);
    }
    m.verify_slice(tag).map_err(|_| AuthError::BadSignature)
}

/// Single-line text as the normalisation policy wants it: CR/LF/TAB runs collapsed to one
/// space, trimmed; empty means absent. Not HTML-stripped: stored literally, escaped on output.
pub fn line(s: &str) -> Option<String> {
    let cleaned: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let collapsed = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    (!collapsed.is_empty()).then_some(collapsed)
}

/// Multi-line text kept verbatim; empty means absent.
pub fn text(s: &str) -> Option<String> {
    (!s.trim().is_empty()).then(|| s.to_owned())
}

/// Puts a value in the lead field a key names (after mapping), or in `custom`.
pub fn assign(lead: &mut PlatformLead, field: &str, key: &str, value: String) {
    let f = &mut lead.fields;
    let slot = match field {
        "email" => &mut f.email,
        "full_name" | "name" => &mut f.full_name,
        "first_name" => &mut f.first_name,
        "last_name" => &mut f.last_name,
        "phone" => &mut f.phone,
        "company" => &mut f.company,
        "job_title" => &mut f.job_title,
        "country" => &mut f.country,
        "message" => {
            if f.message.is_none() {
                f.message = text(&value);
            }
            return;
        }
        "landing_page" => &mut lead.landing_page,
        "referrer" => &mut lead.referrer,
        other => {
            if let Some(u) = other.strip_prefix("utm_") {
                if let Some(v) = line(&value) {
                    lead.utm.insert(u.to_owned(), v);
                }
            } else if super::attribution::CLICK_IDS.contains(&other) {
                if let Some(v) = line(&value) {
                    lead.click_ids.insert(other.to_owned(), v);
                }
            } else if let Some(v) = text(&value) {
                // A mapping may name an attribute of our own ("employees"); else the
                // platform's key is kept.
                let name = if other == "custom" { key } else { other };
                lead.custom.insert(name.to_owned(), v);
            }
            return;
        }
    };
    if slot.is_none() {
        *slot = line(&value);
    }
}

/// The lead field a question's key or label most likely means, when the source's mapping does
/// not say: common names in English.
pub fn guess_field(key_or_label: &str) -> Option<&'static str> {
    let k = key_or_label.trim().to_lowercase().replace(['-', ' '], "_");
    Some(match k.as_str() {
        "email" | "e_mail" | "email_address" | "work_email" | "your_email" => "email",
        "name" | "full_name" | "fullname" | "your_name" => "full_name",
        "first_name" | "firstname" | "given_name" => "first_name",
        "last_name" | "lastname" | "surname" | "family_name" => "last_name",
        "phone" | "phone_number" | "telephone" | "mobile" | "tel" => "phone",
        "company" | "company_name" | "organization" | "organisation" => "company",
        "job_title" | "jobtitle" | "title" | "position" | "role" => "job_title",
        "country" | "country_code" => "country",
        "message" | "comments" | "comment" | "notes" | "enquiry" | "inquiry" => "message",
        "utm_source" => "utm_source",
        "utm_medium" => "utm_medium",
        "utm_campaign" => "utm_campaign",
        "utm_term" => "utm_term",
        "utm_content" => "utm_content",
        "gclid" => "gclid",
        "fbclid" => "fbclid",
        "msclkid" => "msclkid",
        "li_fat_id" => "li_fat_id",
        "ttclid" => "ttclid",
        "landing_page" | "page_url" => "landing_page",
        "referrer" | "referer" => "referrer",
        _ => return None,
    })
}

/// Where a question's answer goes: the source's mapping first, then a guess, else `custom`.
pub fn field_for<'m>(mapping: &'m FieldMapping, keys: &[&str]) -> Option<&'m str> {
    keys.iter()
        .find_map(|k| mapping.get(*k).map(String::as_str))
}

/// Parses RFC 3339 (or ISO 8601 with offset) into UTC.
pub fn timestamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}
