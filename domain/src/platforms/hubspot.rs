//! HubSpot Webhooks API: a JSON array of up to 100 events, ids only. Each `contact.creation`
//! (or `object.creation` of a contact, `objectTypeId` `0-1`) is a lead to fetch with the
//! portal's token: [`contact_url`]
//! (`GET https://api.hubapi.com/crm/v3/objects/contacts/{objectId}?properties=email,firstname,…`),
//! read by [`parse_contact`].
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

    fn api_base(&self) -> Option<&'static str> {
        Some("https://api.hubapi.com")
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

    fn parse(&self, req: &Incoming, _mapping: &FieldMapping) -> Result<Intake, IntakeError> {
        let events: Vec<Event> = serde_json::from_slice(req.body).map_err(|e| {
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
    for (key, value) in v["properties"].as_object().into_iter().flatten() {
        let Some(value) = value.as_str().filter(|s| !s.is_empty()) else {
            continue;
        };
        let target = mapping.get(key).map(String::as_str).or(match key.as_str() {
            "firstname" => Some("first_name"),
            "lastname" => Some("last_name"),
            "jobtitle" => Some("job_title"),
            "mobilephone" => Some("phone"),
            "hs_analytics_source" | "hs_object_id" | "createdate" | "lastmodifieddate" => {
                Some("skip")
            }
            other => guess_field(other),
        });
        match target {
            Some("skip") => {}
            Some(field) => assign(&mut lead, field, key, value.to_owned()),
            None => assign(&mut lead, "custom", key, value.to_owned()),
        }
    }
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
            body: br#"{"portalId":1}"#,
            ..r
        };
        assert!(matches!(
            HubSpot.parse(&r, &FieldMapping::new()),
            Err(IntakeError::Malformed(_))
        ));
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
