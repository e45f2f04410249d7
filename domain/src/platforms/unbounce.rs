//! Unbounce: the Form Submit webhook, all answers in the body.
//! Unbounce does not sign: the source's secret is a URL token (`?token=…`, compared in constant
//! time), alongside an IP allow-list at the edge. The body is form-encoded with the answers in
//! the `data.json` field (every value an array); no submission id is sent, so the dedupe key is
//! synthesised from the page, the submission minute and the normalised email.

use chrono::NaiveDateTime;
use serde_json::{Map, Value};

use super::*;
use crate::normalize;

pub struct Unbounce;

/// `data.json` keys that describe the submission rather than answer a question.
const META: &[&str] = &[
    "ip_address",
    "page_uuid",
    "page_id",
    "variant",
    "time_submitted",
    "date_submitted",
    "page_url",
    "page_name",
];

/// A `data.json` value: an array of answers (joined) or, defensively, a scalar.
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => (!s.trim().is_empty()).then(|| s.clone()),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().filter_map(as_text).collect();
            (!parts.is_empty()).then(|| parts.join(", "))
        }
        other => Some(other.to_string()),
    }
}

/// `2026-03-16` + `09:41 AM UTC` (Unbounce's times are always UTC).
fn submitted(date: &str, time: &str) -> Option<DateTime<Utc>> {
    let time = time.trim().trim_end_matches("UTC").trim();
    NaiveDateTime::parse_from_str(&format!("{} {time}", date.trim()), "%Y-%m-%d %I:%M %p")
        .ok()
        .map(|t| t.and_utc())
}

/// The submission's fields and the top-level form fields, from a form-encoded or JSON body.
/// The `data.json` object and the top-level form fields.
type Delivery = (Map<String, Value>, BTreeMap<String, String>);

fn read(body: &[u8]) -> Result<Delivery, IntakeError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| IntakeError::Malformed("Unbounce body is not UTF-8".into()))?;
    if text.trim_start().starts_with('{') {
        // The JSON content type: the submission object itself.
        let data: Map<String, Value> = serde_json::from_str(text)
            .map_err(|e| IntakeError::Malformed(format!("not an Unbounce submission: {e}")))?;
        return Ok((data, BTreeMap::new()));
    }
    let mut top = BTreeMap::new();
    let mut data = None;
    for (k, v) in form_urlencoded::parse(body) {
        match k.as_ref() {
            // PHP rewrites the dot to an underscore; accept both.
            "data.json" | "data_json" => data = Some(v.into_owned()),
            _ => {
                top.insert(k.into_owned(), v.into_owned());
            }
        }
    }
    let data = data.ok_or_else(|| IntakeError::Malformed("no data.json field".into()))?;
    let data: Map<String, Value> = serde_json::from_str(&data)
        .map_err(|e| IntakeError::Malformed(format!("data.json is not a JSON object: {e}")))?;
    Ok((data, top))
}

impl Platform for Unbounce {
    fn name(&self) -> &'static str {
        "unbounce"
    }

    fn authenticate(&self, req: &Incoming, creds: &Credentials) -> Result<(), AuthError> {
        let secret = creds.secret.ok_or(AuthError::BadToken)?;
        let token = req
            .query_param("token")
            .ok_or(AuthError::Missing("token query parameter"))?;
        if secret.matches(&token) {
            Ok(())
        } else {
            Err(AuthError::BadToken)
        }
    }

    fn parse(&self, req: &Incoming, mapping: &FieldMapping) -> Result<Intake, IntakeError> {
        let (data, top) = read(req.body)?;
        let meta = |key: &str| {
            data.get(key)
                .and_then(as_text)
                .or_else(|| top.get(key).and_then(|v| text(v)))
        };
        let page = meta("page_uuid")
            .or_else(|| meta("page_id"))
            .unwrap_or_default();
        let date = meta("date_submitted").unwrap_or_default();
        let time = meta("time_submitted").unwrap_or_default();
        let mut lead = PlatformLead {
            submitted_at: submitted(&date, &time),
            ..Default::default()
        };
        for (key, value) in &data {
            if META.contains(&key.as_str()) {
                continue;
            }
            let Some(answer) = as_text(value) else {
                continue;
            };
            let target = field_for(mapping, &[key])
                .or_else(|| guess_field(key))
                .unwrap_or("custom");
            assign(&mut lead, target, key, answer);
        }
        // No submission id: the page, the minute and who submitted.
        let who = lead
            .fields
            .email
            .as_deref()
            .and_then(normalize::email)
            .or_else(|| lead.fields.phone.clone())
            .unwrap_or_default();
        lead.dedupe_key = format!("unbounce:{page}:{} {}:{who}", date.trim(), time.trim());
        if !page.is_empty() {
            lead.campaign.insert("form_id".into(), page);
        }
        if let Some(v) = meta("variant") {
            lead.custom.insert("page_variant".into(), v);
        }
        if let Some(u) = meta("page_url") {
            lead.custom.insert("page_url".into(), u);
        }
        lead.phone_country_hint = lead
            .fields
            .country
            .as_deref()
            .and_then(normalize::region)
            .map(normalize::region_code);
        Ok(Intake::Leads(vec![lead]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::fixtures::{check, check_url_token_refusals};
    use proptest::prelude::*;

    fn creds(secret: &Secret) -> Credentials<'_> {
        Credentials {
            secret: Some(secret),
            verify_token: None,
        }
    }

    #[test]
    fn the_samples_pass() {
        let Some(Intake::Leads(leads)) =
            check(&Unbounce, "unbounce-xss-crlf-name", &FieldMapping::new())
        else {
            panic!("expected leads")
        };
        // Kept literally (escaped on output), CR/LF collapsed.
        assert!(!leads[0]
            .fields
            .full_name
            .as_deref()
            .unwrap_or_default()
            .contains(['\r', '\n']));
        assert_eq!(
            leads[0].custom.get("page_variant").map(String::as_str),
            Some("a")
        );
    }

    /// The sample's `07700 900123` is in Ofcom's range reserved for drama: enrichment keeps
    /// it in E.164 and flags it, as the sample expects.
    #[test]
    fn the_basic_sample_passes() {
        let Some(Intake::Leads(mut leads)) =
            check(&Unbounce, "unbounce-basic", &FieldMapping::new())
        else {
            panic!("expected leads")
        };
        let basic = leads.remove(0);
        assert_eq!(basic.fields.phone.as_deref(), Some("07700 900123"));
        assert_eq!(
            basic.custom.get("page_variant").map(String::as_str),
            Some("b")
        );
    }

    #[test]
    fn a_wrong_or_missing_token_is_refused() {
        check_url_token_refusals(&Unbounce, "unbounce-basic", "/webhooks/unbounce");
        let req = Incoming {
            method: "POST",
            url: "https://hooks.example.test/webhooks/unbounce",
            headers: &[],
            body: b"",
            now: Utc::now(),
        };
        assert!(Unbounce
            .authenticate(&req, &Credentials::default())
            .is_err());
    }

    #[test]
    fn a_body_without_data_json_is_malformed_and_json_bodies_read() {
        let req = Incoming {
            method: "POST",
            url: "https://hooks.example.test/webhooks/unbounce?token=t",
            headers: &[],
            body: b"page_id=x&variant=a",
            now: Utc::now(),
        };
        assert!(matches!(
            Unbounce.parse(&req, &FieldMapping::new()),
            Err(IntakeError::Malformed(_))
        ));
        let body = br#"{"email":["A@B.io"],"job_role":["CTO"],"page_uuid":["p1"],"date_submitted":["2026-03-16"],"time_submitted":["11:05 PM UTC"]}"#;
        let mapping: FieldMapping = [("job_role".to_owned(), "job_title".to_owned())].into();
        let Ok(Intake::Leads(leads)) = Unbounce.parse(&Incoming { body, ..req }, &mapping) else {
            panic!("expected leads")
        };
        assert_eq!(leads[0].fields.job_title.as_deref(), Some("CTO"));
        assert_eq!(
            leads[0].dedupe_key,
            "unbounce:p1:2026-03-16 11:05 PM UTC:a@b.io"
        );
        assert_eq!(
            leads[0].submitted_at,
            Some("2026-03-16T23:05:00Z".parse().unwrap())
        );
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let req = Incoming {
                method: "POST",
                url: "https://hooks.example.test/webhooks/unbounce?token=%FF",
                headers: &[],
                body: &body,
                now: Utc::now(),
            };
            let _ = Unbounce.authenticate(&req, &creds(&Secret::new("s")));
            let _ = Unbounce.parse(&req, &FieldMapping::new());
        }

        #[test]
        fn never_panics_on_data_json(data in ".{0,200}") {
            let body: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("data.json", &data)
                .finish();
            let req = Incoming {
                method: "POST",
                url: "https://hooks.example.test/webhooks/unbounce",
                headers: &[],
                body: body.as_bytes(),
                now: Utc::now(),
            };
            let _ = Unbounce.parse(&req, &FieldMapping::new());
        }
    }
}
