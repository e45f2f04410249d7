//! Form and ad platforms, each taken as it is: how it authenticates a delivery, what a
//! delivery looks like, and how it maps onto a lead. One module per platform, each a
//! [`Platform`]; pure functions over the raw request, no AWS and no I/O.
//!
//! The capture handler chooses the platform from the source's `kind` ([`platform`], the one
//! table of kinds), authenticates, then parses into [`Intake`]: either a handshake to answer
//! (Meta's `hub.challenge`, LinkedIn's `challengeCode`) or one [`PlatformLead`] per lead in the
//! delivery, each with the dedupe key the platform's retries share. Platforms that deliver ids
//! only also describe how their API is read ([`Platform::details_request`],
//! [`Platform::parse_details`]); the adapter just does the HTTP.
//!
//! Our own `json` and `form` formats are platforms too ([`Json`], [`Form`]): their rules are
//! ours rather than a vendor's, but they go through the same intake.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::auth::AuthError;
use super::intake::IntakeError;
use super::lead::LeadFields;
use crate::secret::Secret;

pub mod calendly;
pub mod form;
pub mod google;
pub mod gravity_forms;
pub mod html_form;
pub mod hubspot;
pub mod jotform;
pub mod json;
pub mod linkedin;
pub mod meta;
pub mod tally;
pub mod typeform;
pub mod unbounce;
pub mod webflow;

pub use calendly::Calendly;
pub use form::Form;
pub use google::Google;
pub use gravity_forms::GravityForms;
pub use html_form::HtmlForm;
pub use hubspot::HubSpot;
pub use jotform::Jotform;
pub use json::Json;
pub use linkedin::LinkedIn;
pub use meta::Meta;
pub use tally::Tally;
pub use typeform::Typeform;
pub use unbounce::Unbounce;
pub use webflow::Webflow;

#[cfg(test)]
pub(crate) mod fixtures;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A JSON object with the lead's fields.
    Json,
    /// `application/x-www-form-urlencoded`, as a plain HTML form posts it.
    Form,
    /// Tally `FORM_RESPONSE` webhooks (`Tally-Signature`).
    Tally,
    /// Meta (Facebook / Instagram) Lead Ads `leadgen` webhooks; details fetched from the Graph API.
    Meta,
    /// Google Ads lead form webhooks (key in the body).
    Google,
    /// LinkedIn Lead Gen Forms notifications (`X-LI-Signature`); details fetched.
    // snake_case would read `linked_in`; configuration files say `kind = "linkedin"`.
    #[serde(rename = "linkedin")]
    LinkedIn,
    /// HubSpot webhooks, signature v3; details fetched.
    // snake_case would read `hub_spot`; configuration files say `kind = "hubspot"`.
    #[serde(rename = "hubspot")]
    HubSpot,
    /// Typeform `form_response` webhooks (`Typeform-Signature`).
    Typeform,
    /// Unbounce form submit webhooks (no signature: a URL token).
    Unbounce,
    /// Webflow `form_submission` webhooks (timestamped HMAC).
    Webflow,
    /// Calendly `invitee.created` webhooks (`Calendly-Webhook-Signature`).
    Calendly,
    /// Jotform webhooks (a URL token).
    Jotform,
    /// Gravity Forms Webhooks Add-On (bearer token).
    GravityForms,
    /// A plain HTML form on your own website: honeypot, time trap, optional token.
    HtmlForm,
}

impl SourceKind {
    /// The public API's base URL, for platforms whose details are read from it. Not a method
    /// of [`Platform`]: reading the configuration asks for it, and building a `dyn Platform`
    /// there linked every platform's parser into the functions that never take a delivery
    /// (route, notify, escalate).
    pub fn api_base(self) -> Option<&'static str> {
        match self {
            SourceKind::Meta => Some(meta::API_BASE),
            SourceKind::LinkedIn => Some(linkedin::API_BASE),
            SourceKind::HubSpot => Some(hubspot::API_BASE),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthScheme {
    /// `X-Leadrelay-Signature: v1=<hex>` over the timestamp, the `Idempotency-Key` and the
    /// body ([`crate::auth`]).
    Hmac,
    /// A per-source token in the `token` query parameter, for forms that cannot sign.
    Token,
}

/// How our own `json` and `form` formats authenticate a source's deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnAuth {
    pub scheme: AuthScheme,
    /// `hmac` only: a delivery without `X-Leadrelay-Timestamp` is refused, so a captured
    /// delivery cannot be replayed after the tolerance.
    pub require_timestamp: bool,
}

impl From<AuthScheme> for OwnAuth {
    fn from(scheme: AuthScheme) -> Self {
        OwnAuth {
            scheme,
            require_timestamp: false,
        }
    }
}

/// What a platform is built from besides its kind: the source's own settings.
#[derive(Debug, Clone, Copy)]
pub struct Settings<'a> {
    /// For `json` and `form`: how our own scheme authenticates.
    pub auth: OwnAuth,
    /// For `form`: the field humans never fill.
    pub honeypot: Option<&'a str>,
    /// The source's secret (LinkedIn answers its handshake with an HMAC of it).
    pub secret: Option<&'a Secret>,
}

impl Default for Settings<'_> {
    fn default() -> Self {
        Settings {
            auth: AuthScheme::Hmac.into(),
            honeypot: None,
            secret: None,
        }
    }
}

/// The platform behind a source kind: the one place a kind is registered.
pub fn platform<'a>(kind: SourceKind, settings: Settings<'a>) -> Box<dyn Platform + Send + 'a> {
    match kind {
        SourceKind::Json => Box::new(Json::new(settings.auth)),
        SourceKind::Form => Box::new(Form::new(settings.auth, settings.honeypot)),
        SourceKind::Tally => Box::new(Tally),
        SourceKind::Meta => Box::new(Meta),
        SourceKind::Google => Box::new(Google),
        SourceKind::LinkedIn => Box::new(LinkedIn::new(settings.secret)),
        SourceKind::HubSpot => Box::new(HubSpot),
        SourceKind::Typeform => Box::new(Typeform),
        SourceKind::Unbounce => Box::new(Unbounce),
        SourceKind::Webflow => Box::new(Webflow),
        SourceKind::Calendly => Box::new(Calendly),
        SourceKind::Jotform => Box::new(Jotform),
        SourceKind::GravityForms => Box::new(GravityForms),
        SourceKind::HtmlForm => Box::new(HtmlForm),
    }
}

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

/// A request refused before anything is kept (400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

/// How an accepted delivery is kept and answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// Our own formats: one lead per delivery, the delivery kept in the lead's own
    /// transaction (pointing at its lead), answered `201 {"lead_id"}` for a new lead and `200`
    /// with `joined` or `duplicate` otherwise.
    OneLead,
    /// A vendor's delivery of any number of leads: kept first, then its leads; answered
    /// `{"lead_ids", "duplicates"}` with this status (or the source's `success_redirect`).
    Batch { status: u16 },
}

/// A read of a platform's API, described; the adapter adds the bearer token and sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiRequest {
    pub url: String,
    pub headers: Vec<(&'static str, &'static str)>,
}

/// One page of a platform's answer to the backstop's poll ([`crate::backstop`]): the leads in
/// it, each keyed as its webhook is, and where the next page starts (a cursor, a page token or
/// an offset, as the platform pages), if there is one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeadPage {
    pub leads: Vec<PlatformLead>,
    pub next: Option<String>,
}

/// A poll of a platform's API, described; the adapter adds the access token (and Google's
/// developer token) and sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollRequest {
    /// `GET`, or `POST` with `body` as JSON.
    pub post: bool,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<String>,
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
/// Serialisable: the items of a large delivery travel on the captured queue to be admitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
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
    /// Our own form's configured honeypot was filled: a bot. (Vendor parsers that flag bots
    /// keep the reason in `custom["spam_reason"]` instead, where the lead keeps it.)
    pub honeypot_filled: bool,
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

    /// How an accepted delivery is kept and answered.
    fn receipt(&self) -> Receipt {
        Receipt::Batch { status: 200 }
    }

    /// Whether the platform subscribes with a GET handshake; for the others a GET (a crawler,
    /// a person opening the URL) must not make a lead.
    fn takes_handshake(&self) -> bool {
        false
    }

    /// Checks the media type (lower-cased, without parameters); `Err` names the one wanted
    /// (415). Vendors send what they send and their parsers refuse what they cannot read.
    fn check_content_type(&self, _content_type: &str) -> Result<(), &'static str> {
        Ok(())
    }

    /// Checks made after authentication and before the delivery is kept.
    fn check_request(&self, _req: &Incoming) -> Result<(), Refusal> {
        Ok(())
    }

    /// The largest body taken when the source does not say.
    fn default_body_limit(&self) -> usize {
        crate::intake::MAX_BODY_BYTES
    }

    /// How long the platform's API keeps serving a lead's details after its delivery: reads
    /// that fail are retried for this long, then the lead is parked.
    fn details_readable_for(&self) -> std::time::Duration {
        std::time::Duration::from_secs(30 * 86_400)
    }

    /// The read of one lead's details behind the id a delivery carried; `None` when the
    /// platform delivers complete leads.
    fn details_request(
        &self,
        _api_base: &str,
        _external_id: &str,
    ) -> Option<Result<ApiRequest, IntakeError>> {
        None
    }

    /// Reads the API's answer to [`Platform::details_request`].
    fn parse_details(
        &self,
        _body: &[u8],
        _mapping: &FieldMapping,
    ) -> Result<PlatformLead, IntakeError> {
        Err(IntakeError::Malformed(format!(
            "{} has no lead details to read",
            self.name()
        )))
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
        _ if is_phone_label(key_or_label) => "phone",
        _ => return None,
    })
}

/// Whether a question's label asks for a phone number in other words: "Mobile", "Mobile
/// number", "Your mobile phone number:", "Cell phone", "Telephone no." Every word must be one
/// of a phone label's, so "Which mobile platforms do you use?" is not.
pub fn is_phone_label(label: &str) -> bool {
    const PHONE: &[&str] = &[
        "mobile",
        "cell",
        "cellphone",
        "phone",
        "telephone",
        "tel",
        "handy",
    ];
    const FILLER: &[&str] = &["your", "number", "no", "nr", "num", "nummer", "optional"];
    let lower = label.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    !words.is_empty()
        && words.iter().any(|w| PHONE.contains(w))
        && words
            .iter()
            .all(|w| PHONE.contains(w) || FILLER.contains(w))
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

impl crate::lead::Lead {
    /// A new lead from one item of a delivery, as it arrived (enrich normalises it).
    pub fn from_delivery_item(
        lead_id: &str,
        source: &str,
        delivery_id: &str,
        received_at: DateTime<Utc>,
        mut p: PlatformLead,
    ) -> crate::lead::Lead {
        use crate::lead::{Lead, Stage};
        // Explicit parameters win; the landing page's query string fills in the rest.
        if let Some(page) = &p.landing_page {
            crate::attribution::params_in_url(page).fill_missing(&mut p.utm, &mut p.click_ids);
        }
        let attribution = crate::attribution::Touch {
            at: p.submitted_at.unwrap_or(received_at),
            source: source.to_owned(),
            utm: p.utm.clone(),
            click_ids: p.click_ids.clone(),
            landing_page: p.landing_page.take(),
            referrer: p.referrer.take(),
        };
        let mut attributes = p.custom;
        // Platform parsers flag bots (honeypot, time trap) under this key.
        let is_spam = p.honeypot_filled || attributes.contains_key("spam_reason");
        if let Some(consent) = p.consent {
            attributes.insert("consent".into(), consent.to_string());
        }
        let mut lead = Lead {
            stage: if p.requires_fetch {
                Stage::PendingFetch
            } else {
                Stage::Captured
            },
            is_spam,
            is_test: p.is_test,
            fields: p.fields,
            utm: p.utm,
            attributes,
            external_id: p.external_id,
            submitted_at: p.submitted_at,
            click_ids: p.click_ids,
            attribution: Some(attribution),
            campaign: p.campaign,
            phone_country_hint: p.phone_country_hint,
            ..Lead::new(lead_id, source, delivery_id, received_at)
        };
        // Every source's items pass here: each is cut to the caps (`crate::bounds`).
        lead.bound();
        lead
    }
}

/// Longest `Idempotency-Key` taken.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The dedupe key of a delivery in our own formats: the sender's `Idempotency-Key` when it
/// gives one, else a hash of the body, so a retry of the same bytes is recognised. Under
/// `hmac` the key is part of what is signed ([`crate::auth`]), so a replayed body with a
/// fresh key is refused before it gets here; under `token` the token authorises the key
/// exactly as much as the body.
pub fn idempotency_key(req: &Incoming) -> Result<String, Refusal> {
    match req.header("idempotency-key").map(str::trim) {
        Some(k) if k.is_empty() || k.len() > MAX_IDEMPOTENCY_KEY => Err(Refusal {
            code: "bad_idempotency_key",
            message: format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters"),
        }),
        Some(k) => Ok(format!("key:{k}")),
        None => {
            use sha2::Digest;
            Ok(format!(
                "sha256:{}",
                hex::encode(sha2::Sha256::digest(req.body))
            ))
        }
    }
}

/// Our own scheme's check: the HMAC headers or the `?token=` the source's `auth` names.
fn verify_own_auth(auth: OwnAuth, req: &Incoming, creds: &Credentials) -> Result<(), AuthError> {
    // Secrets are resolved for every source at start-up; a missing one cannot happen, but if
    // it did, refusing is the safe answer.
    let secret = creds.secret.ok_or(AuthError::BadSignature)?;
    match auth.scheme {
        AuthScheme::Hmac => crate::auth::verify_hmac(
            secret,
            &crate::auth::Signed {
                signature: req.header("x-leadrelay-signature"),
                timestamp: req.header("x-leadrelay-timestamp"),
                idempotency_key: req.header("idempotency-key"),
                body: req.body,
            },
            auth.require_timestamp,
            req.now,
        ),
        AuthScheme::Token => crate::auth::verify_token(secret, req.query_param("token").as_deref()),
    }
}

impl PlatformLead {
    /// One lead in our own format, as an item of its delivery.
    pub fn from_submission(s: crate::intake::Submission, dedupe_key: String) -> PlatformLead {
        PlatformLead {
            dedupe_key,
            fields: s.fields,
            utm: s.utm,
            click_ids: s.click_ids,
            landing_page: s.landing_page,
            referrer: s.referrer,
            custom: s.attributes,
            honeypot_filled: s.is_spam,
            ..Default::default()
        }
    }
}

/// Our own formats' parse: the body into one item keyed by [`idempotency_key`].
fn own_intake(
    req: &Incoming,
    parsed: Result<crate::intake::Submission, IntakeError>,
) -> Result<Intake, IntakeError> {
    let submission = parsed?;
    // `check_request` refused a bad key before the delivery was kept.
    let key = idempotency_key(req).map_err(|r| IntakeError::Malformed(r.message))?;
    Ok(Intake::Leads(vec![PlatformLead::from_submission(
        submission, key,
    )]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_platform_reads_lead_details_exactly_when_it_has_a_public_api() {
        use SourceKind::*;
        let kinds = [
            Json,
            Form,
            Tally,
            Meta,
            Google,
            LinkedIn,
            HubSpot,
            Typeform,
            Unbounce,
            Webflow,
            Calendly,
            Jotform,
            GravityForms,
            HtmlForm,
        ];
        for kind in kinds {
            let reads_details = platform(kind, Settings::default())
                .details_request("https://api.example.test", "12345")
                .is_some();
            assert_eq!(kind.api_base().is_some(), reads_details, "{kind:?}");
        }
    }
}
