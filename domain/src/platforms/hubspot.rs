//! HubSpot Webhooks API: a JSON array of up to 100 events, ids only. Each `contact.creation`
//! (or `object.creation` of a contact, `objectTypeId` `0-1`) is a lead to fetch with the
//! portal's token: [`contact_url`]
//! (`GET https://api.hubapi.com/crm/v3/objects/contacts/{objectId}?properties=email,firstname,…`),
//! read by [`parse_contact`].
//!
//! A workflow's "Send a webhook" action posts something else: one JSON object, the enrolled
//! contact's properties, either flat as the action's chosen properties
//! (`{"email": "...", "firstname": "...", "hs_object_id": "..."}`) or, with "include all
//! properties", as the contacts API reads it (`{"vid": ..., "properties": {"email": {"value":
//! "..."}}}` or `{"id": ..., "properties": {"email": "..."}}`). That is a complete lead, read by
//! [`parse_workflow`] with the same property mapping as the CRM read, deduplicated on the
//! contact id and the conversion time: a retry is the same lead, the contact converting again
//! (re-enrolled) is a new submission, which joins their open lead. The shape tells the two
//! apart: an array is the Webhooks API, an object a workflow.
//!
//! Signed with v3: `X-HubSpot-Signature-v3 = base64(HMAC-SHA256(client secret, method + full
//! URL + raw body + timestamp))`, `X-HubSpot-Request-Timestamp` in epoch milliseconds, at most
//! 5 minutes from now either way.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::TimeZone;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

use super::*;
use crate::auth::TIMESTAMP_TOLERANCE_SECS;

/// HubSpot's public API, where a lead's details are read (a source's `api_url` overrides it).
pub(crate) const API_BASE: &str = "https://api.hubapi.com";

pub struct HubSpot;

/// HubSpot's object type id of contacts.
const CONTACT_OBJECT_TYPE: &str = "0-1";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    #[serde(default)]
    subscription_type: String,
    #[serde(default)]
    object_type_id: Option<String>,
    #[serde(default)]
    portal_id: Value,
    #[serde(default)]
    object_id: Value,
    #[serde(default)]
    occurred_at: Value,
}

/// The URL as HubSpot signs it: only these escapes are decoded (`?` that starts the query is
/// literal already).
fn signed_uri(url: &str) -> String {
    const DECODED: &[(&str, char)] = &[
        ("3A", ':'),
        ("2F", '/'),
        ("3F", '?'),
        ("40", '@'),
        ("21", '!'),
        ("24", '$'),
        ("27", '\''),
        ("28", '('),
        ("29", ')'),
        ("2A", '*'),
        ("2C", ','),
        ("3B", ';'),
    ];
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let code = after.get(..2);
        match code.and_then(|c| {
            DECODED
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(c))
                .map(|(_, ch)| *ch)
        }) {
            Some(ch) => {
                out.push(ch);
                rest = &after[2..];
            }
            None => {
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// An id: a JSON integer or a string of it.
fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => line(s),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

fn epoch_millis(v: &Value) -> Option<DateTime<Utc>> {
    let ms = match v {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    Utc.timestamp_millis_opt(ms).single()
}

impl Platform for HubSpot {
    fn name(&self) -> &'static str {
        "hubspot"
    }

    fn details_request(
        &self,
        api_base: &str,
        external_id: &str,
    ) -> Option<Result<ApiRequest, IntakeError>> {
        Some(contact_url(api_base, external_id).map(|url| ApiRequest {
            url,
            headers: Vec::new(),
        }))
    }

    fn parse_details(
        &self,
        body: &[u8],
        mapping: &FieldMapping,
    ) -> Result<PlatformLead, IntakeError> {
        parse_contact(body, mapping)
    }

    fn authenticate(&self, req: &Incoming, creds: &Credentials) -> Result<(), AuthError> {
        let secret = creds.secret.ok_or(AuthError::BadSignature)?;
        let sig = req
            .header("x-hubspot-signature-v3")
            .ok_or(AuthError::Missing("X-HubSpot-Signature-v3 header"))?;
        let ts = req
            .header("x-hubspot-request-timestamp")
            .ok_or(AuthError::Missing("X-HubSpot-Request-Timestamp header"))?
            .trim();
        let tag = STANDARD
            .decode(sig.trim())
            .map_err(|_| AuthError::Malformed("X-HubSpot-Signature-v3 header (want base64)"))?;
        let mut m = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
            .map_err(|_| AuthError::BadSignature)?;
        m.update(req.method.to_ascii_uppercase().as_bytes());
        m.update(signed_uri(req.url).as_bytes());
        m.update(req.body);
        m.update(ts.as_bytes());
        // The signature covers the timestamp: check it first, as `auth::verify_hmac` does.
        m.verify_slice(&tag).map_err(|_| AuthError::BadSignature)?;
        let ms: i64 = ts.parse().map_err(|_| {
            AuthError::Malformed("X-HubSpot-Request-Timestamp header (want epoch milliseconds)")
        })?;
        let skew = req
            .now
            .timestamp_millis()
            .saturating_sub(ms)
            .saturating_abs();
        if skew > TIMESTAMP_TOLERANCE_SECS * 1000 {
            return Err(AuthError::StaleTimestamp);
        }
        Ok(())
    }

    fn parse(&self, req: &Incoming, mapping: &FieldMapping) -> Result<Intake, IntakeError> {
        let body: Value = serde_json::from_slice(req.body).map_err(|e| {
            IntakeError::Malformed(format!(
                "not a HubSpot webhook (a JSON array of events, or a workflow's JSON object): {e}"
            ))
        })?;
        match body {
            Value::Array(_) => subscription_events(body),
            Value::Object(_) => Ok(Intake::Leads(vec![parse_workflow(
                &body, req.body, mapping,
            )?])),
            _ => Err(IntakeError::Malformed(
                "not a HubSpot webhook: want a JSON array of events or a workflow's JSON object"
                    .into(),
            )),
        }
    }
}

/// The Webhooks API's batch: one lead to fetch per contact creation.
fn subscription_events(body: Value) -> Result<Intake, IntakeError> {
    let events: Vec<Event> = serde_json::from_value(body).map_err(|e| {
        IntakeError::Malformed(format!("not a HubSpot webhook batch (JSON array): {e}"))
    })?;
    let mut leads = Vec::new();
    for e in &events {
        let is_contact_creation = e.subscription_type == "contact.creation"
            || (e.subscription_type == "object.creation"
                && e.object_type_id.as_deref() == Some(CONTACT_OBJECT_TYPE));
        if !is_contact_creation {
            continue;
        }
        let (Some(portal), Some(object)) = (id_string(&e.portal_id), id_string(&e.object_id))
        else {
            return Err(IntakeError::Malformed(
                "HubSpot contact event without portalId or objectId".into(),
            ));
        };
        leads.push(PlatformLead {
            dedupe_key: format!("hubspot:{portal}:contact:{object}"),
            external_id: Some(format!("{portal}:{object}")),
            requires_fetch: true,
            submitted_at: epoch_millis(&e.occurred_at),
            ..Default::default()
        });
    }
    Ok(Intake::Leads(leads))
}

/// The contact id a workflow payload carries, in the order HubSpot's shapes name it.
const WORKFLOW_ID_KEYS: [&str; 5] = ["hs_object_id", "vid", "canonical-vid", "objectId", "id"];
/// When the contact converted (the form submission that enrolled it), else when it last
/// changed, else when it was created: what tells a re-enrolment from a retry.
const CONVERSION_TIME_KEYS: [&str; 5] = [
    "recent_conversion_date",
    "hs_lastmodifieddate",
    "lastmodifieddate",
    "createdate",
    "hs_createdate",
];

/// A property's value as text: a string, a number or boolean, or the contacts API's
/// `{"value": ...}`; empty means absent.
fn property_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => (!s.trim().is_empty()).then(|| s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Object(o) => o.get("value").and_then(property_text),
        _ => None,
    }
}

/// A HubSpot time: epoch milliseconds (a number or digits) or RFC 3339.
fn hubspot_time(s: &str) -> Option<DateTime<Utc>> {
    let t = s.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse()
            .ok()
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single());
    }
    timestamp(t)
}

/// A workflow's "Send a webhook" body: the enrolled contact, complete, as one lead.
pub fn parse_workflow(
    body: &Value,
    raw: &[u8],
    mapping: &FieldMapping,
) -> Result<PlatformLead, IntakeError> {
    let Value::Object(object) = body else {
        return Err(IntakeError::Malformed(
            "a HubSpot workflow webhook is a JSON object".into(),
        ));
    };
    // "Include all properties" nests them under `properties`; chosen properties are flat.
    let properties = match object.get("properties") {
        Some(Value::Object(p)) => p,
        _ => object,
    };
    let text = |key: &str| {
        properties
            .get(key)
            .or_else(|| object.get(key))
            .and_then(property_text)
            .and_then(|s| line(&s))
    };
    let contact = WORKFLOW_ID_KEYS.iter().find_map(|k| text(k));
    let converted = CONVERSION_TIME_KEYS.iter().find_map(|k| text(k));
    let converted_at = converted.as_deref().and_then(hubspot_time);
    let portal = ["portal-id", "portalId", "portal_id"]
        .iter()
        .find_map(|k| object.get(*k).and_then(id_string));
    let dedupe_key = match (&contact, &converted) {
        (Some(id), Some(at)) => {
            // The same instant however HubSpot wrote it.
            let at = converted_at.map_or_else(|| at.clone(), |t| t.timestamp_millis().to_string());
            format!("hubspot:workflow:contact:{id}:{at}")
        }
        (Some(id), None) => format!("hubspot:workflow:contact:{id}"),
        // Nothing stable to go by: a retry carries the same bytes.
        (None, _) => {
            use sha2::Digest;
            format!(
                "hubspot:workflow:sha256:{}",
                hex::encode(Sha256::digest(raw))
            )
        }
    };
    let mut lead = PlatformLead {
        dedupe_key,
        external_id: contact.map(|id| match &portal {
            Some(p) => format!("{p}:{id}"),
            None => id,
        }),
        submitted_at: converted_at,
        ..Default::default()
    };
    map_properties(
        &mut lead,
        properties
            .iter()
            .filter_map(|(k, v)| Some((k.as_str(), property_text(v)?))),
        mapping,
    );
    // Where the contact converted, by HubSpot's IP lookup: the region for a national phone
    // number when the contact gave no country (docs/platforms.md, "Phone numbers").
    lead.phone_country_hint = lead
        .fields
        .country
        .as_deref()
        .and_then(crate::normalize::region)
        .or_else(|| {
            text("ip_country_code")
                .as_deref()
                .and_then(crate::normalize::region)
        })
        .map(crate::normalize::region_code);
    Ok(lead)
}

/// HubSpot's own bookkeeping properties, never answers: skipped unless the mapping names them.
fn is_bookkeeping(key: &str) -> bool {
    key.starts_with("hs_")
        || matches!(
            key,
            "createdate"
                | "lastmodifieddate"
                | "recent_conversion_date"
                | "first_conversion_date"
                | "vid"
                | "canonical-vid"
                | "objectId"
                | "id"
                | "portal-id"
                | "portalId"
                | "ip_country_code"
                | "ip_country"
                | "ip_state"
                | "ip_city"
                | "ip_state_code"
                | "is-contact"
                | "merged-vids"
                | "identity-profiles"
                | "form-submissions"
                | "list-memberships"
                | "profile-url"
                | "profile-token"
        )
}

/// Contact properties onto the lead: the source's mapping first, then HubSpot's names, then
/// a guess; everything else an attribute. Shared by the CRM read and workflow webhooks.
fn map_properties<'a>(
    lead: &mut PlatformLead,
    properties: impl Iterator<Item = (&'a str, String)>,
    mapping: &FieldMapping,
) {
    for (key, value) in properties {
        let target = mapping.get(key).map(String::as_str).or(match key {
            "firstname" => Some("first_name"),
            "lastname" => Some("last_name"),
            "jobtitle" => Some("job_title"),
            "mobilephone" => Some("phone"),
            k if is_bookkeeping(k) => Some("skip"),
            other => guess_field(other),
        });
        match target {
            Some("skip") => {}
            Some(field) => assign(lead, field, key, value),
            None => assign(lead, "custom", key, value),
        }
    }
}

const HUBSPOT_PROPERTIES: &str = "email,firstname,lastname,phone,mobilephone,company,jobtitle,country,message,hs_analytics_source";

/// The CRM v3 read of one contact with the properties [`parse_contact`] maps.
pub fn contact_url(api_url: &str, external_id: &str) -> Result<String, IntakeError> {
    // `hubspot:<portal>:contact:<id>` or the bare id.
    let id = external_id.rsplit(':').next().unwrap_or(external_id);
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IntakeError::Malformed(
            "HubSpot contact id must be digits".into(),
        ));
    }
    Ok(format!(
        "{}/crm/v3/objects/contacts/{id}?properties={HUBSPOT_PROPERTIES}",
        api_url.trim_end_matches('/')
    ))
}

/// A CRM v3 contact: `{"id": "...", "properties": {"email": ..., "firstname": ..., ...}}`.
pub fn parse_contact(body: &[u8], mapping: &FieldMapping) -> Result<PlatformLead, IntakeError> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| IntakeError::Malformed(format!("not a HubSpot contact: {e}")))?;
    let id = v["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| IntakeError::NotALead("HubSpot contact without id".into()))?;
    let mut lead = PlatformLead {
        external_id: Some(id.clone()),
        dedupe_key: format!("hubspot:contact:{id}"),
        ..Default::default()
    };
    map_properties(
        &mut lead,
        v["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| {
                Some((k.as_str(), v.as_str().filter(|s| !s.is_empty())?.to_owned()))
            }),
        mapping,
    );
    Ok(lead)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::fixtures::{check, Fixture};
    use proptest::prelude::*;

    const SECRET: &str = "3b2f5e8a-91c4-4d7e-b0a6-7c1d9e2f4a85";

    fn sign(method: &str, url: &str, body: &[u8], ts: &str) -> String {
        let mut m = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        m.update(method.as_bytes());
        m.update(url.as_bytes());
        m.update(body);
        m.update(ts.as_bytes());
        STANDARD.encode(m.finalize().into_bytes())
    }

    fn creds(secret: &Secret) -> Credentials<'_> {
        Credentials {
            secret: Some(secret),
            verify_token: None,
        }
    }

    #[test]
    fn the_sample_passes_the_generic_checker() {
        check(
            &HubSpot,
            "hubspot-webhooks-contact-creation",
            &FieldMapping::new(),
        );
    }

    fn sample_request(f: &Fixture) -> (String, Vec<(String, String)>, Vec<u8>) {
        (f.url(), f.headers(), f.body())
    }

    #[test]
    fn a_stale_or_future_timestamp_is_refused() {
        let f = Fixture::load("hubspot-webhooks-contact-creation");
        let (url, headers, body) = sample_request(&f);
        let secret = f.secret();
        for offset in [301, -301] {
            let r = Incoming {
                method: "POST",
                url: &url,
                headers: &headers,
                body: &body,
                now: f.now() + chrono::Duration::seconds(offset),
            };
            assert_eq!(
                HubSpot.authenticate(&r, &creds(&secret)),
                Err(AuthError::StaleTimestamp)
            );
        }
    }

    #[test]
    fn a_changed_body_url_or_timestamp_is_refused() {
        let f = Fixture::load("hubspot-webhooks-contact-creation");
        let (url, headers, body) = sample_request(&f);
        let secret = f.secret();
        let mut changed = body.clone();
        changed[40] ^= 1;
        let base = Incoming {
            method: "POST",
            url: &url,
            headers: &headers,
            body: &changed,
            now: f.now(),
        };
        assert_eq!(
            HubSpot.authenticate(&base, &creds(&secret)),
            Err(AuthError::BadSignature)
        );
        let other_url = "http://hooks.acme-robotics.io/webhooks/hubspot";
        let r = Incoming {
            url: other_url,
            body: &body,
            ..base.clone()
        };
        assert_eq!(
            HubSpot.authenticate(&r, &creds(&secret)),
            Err(AuthError::BadSignature)
        );
        let mut h = headers.clone();
        for (k, v) in &mut h {
            if k == "x-hubspot-request-timestamp" {
                *v = "1773670952908".into();
            }
        }
        let r = Incoming {
            headers: &h,
            body: &body,
            ..base
        };
        assert_eq!(
            HubSpot.authenticate(&r, &creds(&secret)),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn the_url_is_signed_with_selected_escapes_decoded() {
        assert_eq!(
            signed_uri("https://h/p?a=x%3Ay%2fz%20w%25%zz%"),
            "https://h/p?a=x:y/z%20w%25%zz%"
        );
        let url = "https://h/webhooks/hubspot?x=a%40b";
        let body = b"[]";
        let ts = "1773670952907";
        let headers = vec![
            (
                "x-hubspot-signature-v3".to_owned(),
                sign("POST", "https://h/webhooks/hubspot?x=a@b", body, ts),
            ),
            ("x-hubspot-request-timestamp".to_owned(), ts.to_owned()),
        ];
        let r = Incoming {
            method: "POST",
            url,
            headers: &headers,
            body,
            now: Utc.timestamp_millis_opt(1773670952907).unwrap(),
        };
        assert_eq!(
            HubSpot.authenticate(&r, &creds(&Secret::new(SECRET))),
            Ok(())
        );
    }

    #[test]
    fn a_batch_gives_one_lead_per_contact_creation() {
        let body = br#"[{"portalId":1,"objectId":98123004511,"subscriptionType":"contact.creation","occurredAt":1773670951223},
            {"portalId":1,"objectId":7,"subscriptionType":"contact.propertyChange","propertyName":"email"},
            {"portalId":"1","objectId":"8","subscriptionType":"object.creation","objectTypeId":"0-1"},
            {"portalId":1,"objectId":9,"subscriptionType":"object.creation","objectTypeId":"0-2"}]"#;
        let r = Incoming {
            method: "POST",
            url: "https://h/",
            headers: &[],
            body,
            now: Utc::now(),
        };
        let Intake::Leads(leads) = HubSpot.parse(&r, &FieldMapping::new()).unwrap() else {
            panic!("leads")
        };
        let keys: Vec<&str> = leads.iter().map(|l| l.dedupe_key.as_str()).collect();
        assert_eq!(
            keys,
            ["hubspot:1:contact:98123004511", "hubspot:1:contact:8"]
        );
        let r = Incoming {
            body: br#"[{"portalId":1,"subscriptionType":"contact.creation"}]"#,
            ..r
        };
        assert!(matches!(
            HubSpot.parse(&r, &FieldMapping::new()),
            Err(IntakeError::Malformed(_))
        ));
        for not_hubspot in [&b"42"[..], b"\"x\"", b"null", b"{"] {
            let r = Incoming {
                body: not_hubspot,
                ..r.clone()
            };
            assert!(
                matches!(
                    HubSpot.parse(&r, &FieldMapping::new()),
                    Err(IntakeError::Malformed(_))
                ),
                "{not_hubspot:?}"
            );
        }
    }

    fn workflow(body: &[u8]) -> PlatformLead {
        let r = Incoming {
            method: "POST",
            url: "https://h/",
            headers: &[],
            body,
            now: Utc::now(),
        };
        let Intake::Leads(mut leads) = HubSpot.parse(&r, &FieldMapping::new()).unwrap() else {
            panic!("leads")
        };
        assert_eq!(leads.len(), 1, "a workflow webhook is one contact");
        leads.remove(0)
    }

    /// A workflow's "Send a webhook" with chosen properties: one flat object.
    const FLAT: &[u8] = br#"{"hs_object_id":"98123004511","email":"Ana@Acme.io","firstname":"Ana","lastname":"Costa",
        "jobtitle":"CTO","company":"Acme","phone":"030 1234567","favourite_robot":"R2","hs_analytics_source":"ORGANIC_SEARCH",
        "recent_conversion_event_name":"Demo request","recent_conversion_date":"1773670951223","lastmodifieddate":"2026-03-16T14:22:40Z"}"#;

    #[test]
    fn a_workflow_webhook_is_a_complete_lead_mapped_like_the_crm_read() {
        let lead = workflow(FLAT);
        assert!(!lead.requires_fetch, "every property is in the body");
        assert_eq!(lead.fields.email.as_deref(), Some("Ana@Acme.io"));
        assert_eq!(lead.fields.first_name.as_deref(), Some("Ana"));
        assert_eq!(lead.fields.job_title.as_deref(), Some("CTO"));
        assert_eq!(lead.fields.phone.as_deref(), Some("030 1234567"));
        assert_eq!(lead.external_id.as_deref(), Some("98123004511"));
        assert_eq!(
            lead.dedupe_key,
            "hubspot:workflow:contact:98123004511:1773670951223"
        );
        assert_eq!(
            lead.submitted_at,
            Some(Utc.timestamp_millis_opt(1773670951223).unwrap())
        );
        assert_eq!(lead.custom["favourite_robot"], "R2");
        assert_eq!(lead.custom["recent_conversion_event_name"], "Demo request");
        assert!(
            !lead
                .custom
                .keys()
                .any(|k| k.starts_with("hs_") || k.ends_with("date")),
            "HubSpot's bookkeeping is not an answer: {:?}",
            lead.custom
        );
    }

    #[test]
    fn a_workflow_webhook_with_all_properties_nested_is_the_same_lead() {
        let nested = workflow(
            br#"{"vid":98123004511,"portal-id":146283519,"properties":{
                "email":{"value":"Ana@Acme.io","versions":[{"value":"Ana@Acme.io"}]},
                "firstname":{"value":"Ana"},"lastname":{"value":"Costa"},"jobtitle":{"value":"CTO"},
                "recent_conversion_date":{"value":"2026-03-16T14:22:31.223Z"},"hs_object_id":{"value":"98123004511"}}}"#,
        );
        let flat = workflow(FLAT);
        assert_eq!(nested.dedupe_key, flat.dedupe_key, "the same conversion");
        assert_eq!(nested.fields.email, flat.fields.email);
        assert_eq!(nested.fields.last_name.as_deref(), Some("Costa"));
        assert_eq!(nested.external_id.as_deref(), Some("146283519:98123004511"));
        let v3 = workflow(
            br#"{"id":"98123004511","properties":{"email":"ana@acme.io","recent_conversion_date":"1773670951223"}}"#,
        );
        assert_eq!(v3.dedupe_key, flat.dedupe_key);
    }

    #[test]
    fn a_workflow_retry_is_the_same_lead_and_a_new_conversion_is_not() {
        assert_eq!(workflow(FLAT).dedupe_key, workflow(FLAT).dedupe_key);
        let again = String::from_utf8(FLAT.to_vec())
            .unwrap()
            .replace("1773670951223", "1773757351223");
        assert_ne!(
            workflow(again.as_bytes()).dedupe_key,
            workflow(FLAT).dedupe_key,
            "re-enrolled after converting again: a new submission (it joins the open lead)"
        );
        let by_change =
            workflow(br#"{"vid":"7","email":"a@b.io","lastmodifieddate":"1773670951223"}"#);
        assert_eq!(
            by_change.dedupe_key,
            "hubspot:workflow:contact:7:1773670951223"
        );
        let no_id = workflow(br#"{"email":"a@b.io"}"#);
        assert!(
            no_id.dedupe_key.starts_with("hubspot:workflow:sha256:"),
            "{}",
            no_id.dedupe_key
        );
        assert_eq!(
            no_id.dedupe_key,
            workflow(br#"{"email":"a@b.io"}"#).dedupe_key
        );
    }

    #[test]
    fn a_workflow_contact_without_a_country_gets_its_phone_region_from_hubspots_ip_lookup() {
        let lead = workflow(
            br#"{"vid":"7","email":"a@b.io","phone":"030 1234567","ip_country_code":"de"}"#,
        );
        assert_eq!(lead.phone_country_hint.as_deref(), Some("DE"));
        assert!(!lead.custom.contains_key("ip_country_code"));
        let given = workflow(
            br#"{"vid":"7","email":"a@b.io","phone":"030 1234567","country":"Austria","ip_country_code":"de"}"#,
        );
        assert_eq!(
            given.phone_country_hint.as_deref(),
            Some("AT"),
            "the contact's own country wins"
        );
    }

    proptest! {
        #[test]
        fn nothing_panics(body in proptest::collection::vec(any::<u8>(), 0..512), url in ".{0,64}", ts in "-?[0-9]{0,20}") {
            let secret = Secret::new(SECRET);
            let headers = vec![
                ("x-hubspot-signature-v3".to_owned(), sign("POST", &url, &body, &ts)),
                ("x-hubspot-request-timestamp".to_owned(), ts.clone()),
            ];
            let r = Incoming { method: "POST", url: &url, headers: &headers, body: &body, now: Utc::now() };
            let _ = HubSpot.authenticate(&r, &creds(&secret));
            let _ = HubSpot.parse(&r, &FieldMapping::new());
        }
    }

    #[test]
    fn hubspot_contacts_map_their_properties() {
        let body = br#"{"id":"98123004511","properties":{"email":"Ana@Acme.io","firstname":"Ana","lastname":"Costa","jobtitle":"CTO","phone":"","favourite_robot":"R2"}}"#;
        let lead = parse_contact(body, &FieldMapping::new()).unwrap();
        assert_eq!(lead.fields.email.as_deref(), Some("Ana@Acme.io"));
        assert_eq!(lead.fields.job_title.as_deref(), Some("CTO"));
        assert_eq!(lead.fields.phone, None);
        assert_eq!(
            lead.custom.get("favourite_robot").map(String::as_str),
            Some("R2")
        );
    }

    #[test]
    fn hubspot_contact_ids_must_be_digits() {
        assert!(contact_url("https://api.hubapi.com", "hubspot:1:contact:42").unwrap().ends_with("/contacts/42?properties=email,firstname,lastname,phone,mobilephone,company,jobtitle,country,message,hs_analytics_source"));
        assert!(contact_url("https://api.hubapi.com", "../admin").is_err());
    }
}
