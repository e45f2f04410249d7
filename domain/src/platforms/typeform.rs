//! Typeform: `form_response` webhooks, all answers in the body.
//! Signed with `Typeform-Signature: sha256=<base64(HMAC-SHA256(secret, raw body))>`; no
//! timestamp. Answers are mapped by `field.ref` (stable, set in the builder), never by position
//! or title; hidden fields carry the UTMs and click ids.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;

use super::*;

pub struct Typeform;

#[derive(Deserialize)]
struct Event {
    #[serde(default)]
    event_type: String,
    #[serde(default)]
    form_response: Option<Response>,
}

#[derive(Deserialize)]
struct Response {
    #[serde(default)]
    form_id: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    submitted_at: Option<String>,
    #[serde(default)]
    hidden: BTreeMap<String, Value>,
    #[serde(default)]
    answers: Vec<Answer>,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    field: AnswerField,
    #[serde(flatten)]
    values: BTreeMap<String, Value>,
}

#[derive(Deserialize, Default)]
struct AnswerField {
    #[serde(default)]
    id: String,
    #[serde(default, rename = "ref")]
    reference: String,
}

impl Answer {
    /// The answer as text: the value under the key its `type` names.
    fn text(&self) -> Option<String> {
        let v = self.values.get(&self.kind)?;
        match self.kind.as_str() {
            "choice" => choice_label(v),
            "choices" => {
                let mut parts: Vec<String> = v
                    .get("labels")
                    .and_then(Value::as_array)
                    .map(|l| l.iter().filter_map(scalar).collect())
                    .unwrap_or_default();
                if let Some(other) = v.get("other").and_then(scalar) {
                    parts.push(other);
                }
                (!parts.is_empty()).then(|| parts.join(", "))
            }
            "payment" => v.get("amount").and_then(scalar),
            _ => scalar(v),
        }
    }
}

fn choice_label(v: &Value) -> Option<String> {
    v.get("label")
        .and_then(scalar)
        .or_else(|| v.get("other").and_then(scalar))
}

/// A JSON scalar as text; objects and arrays as their JSON text; null and "" as absent.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => (!s.trim().is_empty()).then(|| s.clone()),
        other => Some(other.to_string()),
    }
}

impl Platform for Typeform {
    fn name(&self) -> &'static str {
        "typeform"
    }

    fn authenticate(&self, req: &Incoming, creds: &Credentials) -> Result<(), AuthError> {
        let secret = creds.secret.ok_or(AuthError::BadSignature)?;
        let sig = req
            .header("typeform-signature")
            .ok_or(AuthError::Missing("Typeform-Signature header"))?;
        let tag = sig
            .trim()
            .strip_prefix("sha256=")
            .and_then(|b64| STANDARD.decode(b64).ok())
            .ok_or(AuthError::Malformed(
                "Typeform-Signature header (want sha256=<base64>)",
            ))?;
        verify_hmac_sha256(secret, &[req.body], &tag)
    }

    fn parse(&self, req: &Incoming, mapping: &FieldMapping) -> Result<Intake, IntakeError> {
        let event: Event = serde_json::from_slice(req.body)
            .map_err(|e| IntakeError::Malformed(format!("not a Typeform event: {e}")))?;
        // `form_response_partial` (partial responses) and anything else: nothing to store.
        if event.event_type != "form_response" {
            return Ok(Intake::Leads(vec![]));
        }
        let r = event
            .form_response
            .ok_or_else(|| IntakeError::NotALead("Typeform event without form_response".into()))?;
        let token = r
            .token
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| IntakeError::NotALead("Typeform response without token".into()))?;
        let form = r.form_id.unwrap_or_default();
        let mut lead = PlatformLead {
            dedupe_key: format!("typeform:{form}:{token}"),
            external_id: Some(token),
            submitted_at: r.submitted_at.as_deref().and_then(timestamp),
            ..Default::default()
        };
        if !form.is_empty() {
            lead.campaign.insert("form_id".into(), form);
        }
        for a in &r.answers {
            let Some(answer) = a.text() else { continue };
            let by_type = match a.kind.as_str() {
                "email" => Some("email"),
                "phone_number" => Some("phone"),
                _ => None,
            };
            let key = if a.field.reference.is_empty() {
                &a.field.id
            } else {
                &a.field.reference
            };
            let target = field_for(mapping, &[&a.field.reference, &a.field.id])
                .or(by_type)
                .or_else(|| guess_field(key))
                .unwrap_or("custom");
            assign(&mut lead, target, key, answer);
        }
        // Hidden fields: UTMs, click ids and whatever else the form passes along.
        for (name, value) in &r.hidden {
            let Some(value) = scalar(value) else { continue };
            let target = field_for(mapping, &[name])
                .or_else(|| guess_field(name))
                .unwrap_or("custom");
            assign(&mut lead, target, name, value);
        }
        Ok(Intake::Leads(vec![lead]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::fixtures::{check, Fixture};
    use proptest::prelude::*;

    fn creds(secret: &Secret) -> Credentials<'_> {
        Credentials {
            secret: Some(secret),
            verify_token: None,
        }
    }

    #[test]
    fn the_samples_pass() {
        check(&Typeform, "typeform-basic", &FieldMapping::new());
        check(&Typeform, "typeform-tampered", &FieldMapping::new());
    }

    #[test]
    fn a_changed_body_or_a_missing_header_is_refused() {
        let f = Fixture::load("typeform-basic");
        let mut body = f.body();
        body[20] ^= 1;
        let headers = f.headers();
        let url = f.url();
        let secret = f.secret();
        let req = Incoming {
            method: "POST",
            url: &url,
            headers: &headers,
            body: &body,
            now: f.now(),
        };
        assert_eq!(
            Typeform.authenticate(&req, &creds(&secret)),
            Err(AuthError::BadSignature)
        );
        let body = f.body();
        let no_headers: Vec<(String, String)> = vec![];
        let req = Incoming {
            headers: &no_headers,
            body: &body,
            ..req
        };
        assert!(matches!(
            Typeform.authenticate(&req, &creds(&secret)),
            Err(AuthError::Missing(_))
        ));
        // Hex instead of base64 is malformed, not a match.
        let hex_sig = vec![("typeform-signature".to_owned(), "sha256=zz".to_owned())];
        let req = Incoming {
            headers: &hex_sig,
            ..req
        };
        assert!(Typeform.authenticate(&req, &creds(&secret)).is_err());
    }

    #[test]
    fn the_mapping_wins_and_partial_responses_are_ignored() {
        let f = Fixture::load("typeform-basic");
        let body = f.body();
        let headers = f.headers();
        let url = f.url();
        let req = Incoming {
            method: "POST",
            url: &url,
            headers: &headers,
            body: &body,
            now: f.now(),
        };
        let mapping: FieldMapping = [("fleet_size".to_owned(), "job_title".to_owned())].into();
        let Ok(Intake::Leads(leads)) = Typeform.parse(&req, &mapping) else {
            panic!("expected leads")
        };
        assert_eq!(leads[0].fields.job_title.as_deref(), Some("11-50"));
        assert!(!leads[0].custom.contains_key("fleet_size"));
        // Empty hidden values are absent.
        assert!(!leads[0].click_ids.contains_key("gclid"));

        let partial = br#"{"event_id":"x","event_type":"form_response_partial","form_response":{"form_id":"f","token":"t"}}"#;
        let req = Incoming {
            body: partial,
            ..req
        };
        assert_eq!(
            Typeform.parse(&req, &FieldMapping::new()),
            Ok(Intake::Leads(vec![]))
        );
        let req = Incoming {
            body: b"not json",
            ..req
        };
        assert!(matches!(
            Typeform.parse(&req, &FieldMapping::new()),
            Err(IntakeError::Malformed(_))
        ));
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let headers = vec![("typeform-signature".to_owned(), "sha256=AAAA".to_owned())];
            let req = Incoming {
                method: "POST",
                url: "https://hooks.example.test/webhooks/typeform",
                headers: &headers,
                body: &body,
                now: Utc::now(),
            };
            let secret = Secret::new("s");
            let _ = Typeform.authenticate(&req, &creds(&secret));
            let _ = Typeform.parse(&req, &FieldMapping::new());
        }
    }
}
