//! Tally: `FORM_RESPONSE` webhooks, all answers in the body.
//! Signed with `Tally-Signature: base64(HMAC-SHA256(secret, raw body))`; no timestamp.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;

use super::*;

pub struct Tally;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    #[serde(default)]
    event_type: String,
    data: Data,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    #[serde(default)]
    response_id: Option<String>,
    #[serde(default)]
    submission_id: Option<String>,
    #[serde(default)]
    form_id: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    fields: Vec<Field>,
}

#[derive(Deserialize)]
struct Field {
    #[serde(default)]
    key: String,
    #[serde(default)]
    label: String,
    #[serde(default, rename = "type")]
    kind: String,
    #[serde(default)]
    value: serde_json::Value,
    #[serde(default)]
    options: Vec<TallyOption>,
}

#[derive(Deserialize)]
struct TallyOption {
    id: String,
    text: String,
}

impl Field {
    /// The answer as text: choice ids resolved to their option text.
    fn answer(&self) -> Option<String> {
        use serde_json::Value::*;
        let resolve = |id: &str| {
            self.options
                .iter()
                .find(|o| o.id == id)
                .map(|o| o.text.clone())
                .unwrap_or_else(|| id.to_owned())
        };
        match &self.value {
            Null => None,
            String(s) => Some(resolve(s)),
            Array(items) => {
                let parts: Vec<std::string::String> = items
                    .iter()
                    .map(|v| v.as_str().map(resolve).unwrap_or_else(|| v.to_string()))
                    .collect();
                (!parts.is_empty()).then(|| parts.join(", "))
            }
            other => Some(other.to_string()),
        }
    }
}

impl Platform for Tally {
    fn name(&self) -> &'static str {
        "tally"
    }

    fn authenticate(&self, req: &Incoming, creds: &Credentials) -> Result<(), AuthError> {
        let secret = creds.secret.ok_or(AuthError::BadSignature)?;
        let sig = req
            .header("tally-signature")
            .ok_or(AuthError::Missing("Tally-Signature header"))?;
        let tag = STANDARD
            .decode(sig.trim())
            .map_err(|_| AuthError::Malformed("Tally-Signature header (want base64)"))?;
        verify_hmac_sha256(secret, &[req.body], &tag)
    }

    fn parse(&self, req: &Incoming, mapping: &FieldMapping) -> Result<Intake, IntakeError> {
        let event: Event = serde_json::from_slice(req.body)
            .map_err(|e| IntakeError::Malformed(format!("not a Tally event: {e}")))?;
        if event.event_type != "FORM_RESPONSE" {
            return Ok(Intake::Leads(vec![]));
        }
        let d = event.data;
        let response = d
            .response_id
            .or(d.submission_id)
            .ok_or_else(|| IntakeError::NotALead("Tally response without responseId".into()))?;
        let form = d.form_id.unwrap_or_default();
        let mut lead = PlatformLead {
            dedupe_key: format!("tally:{form}:{response}"),
            external_id: Some(response),
            submitted_at: d.created_at.as_deref().and_then(timestamp),
            ..Default::default()
        };
        if !form.is_empty() {
            lead.campaign.insert("form_id".into(), form);
        }
        for f in &d.fields {
            let Some(answer) = f.answer() else { continue };
            // Hidden fields carry their name as the label (utm_source, …).
            let by_type = match f.kind.as_str() {
                "INPUT_EMAIL" => Some("email"),
                "INPUT_PHONE_NUMBER" => Some("phone"),
                _ => None,
            };
            let target = field_for(mapping, &[&f.key, &f.label])
                .or(by_type)
                .or_else(|| guess_field(&f.label))
                .unwrap_or("custom");
            assign(&mut lead, target, &f.label, answer);
        }
        Ok(Intake::Leads(vec![lead]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::fixtures::check;

    #[test]
    fn the_samples_pass() {
        check(&Tally, "tally-basic", &FieldMapping::new());
        check(&Tally, "tally-retry-duplicate", &FieldMapping::new());
    }

    #[test]
    fn a_changed_body_is_refused() {
        let f = crate::platforms::fixtures::Fixture::load("tally-basic");
        let mut body = f.body();
        body[10] ^= 1;
        let headers = f.headers();
        let url = f.url();
        let req = Incoming {
            method: "POST",
            url: &url,
            headers: &headers,
            body: &body,
            now: f.now(),
        };
        let secret = f.secret();
        assert_eq!(
            Tally.authenticate(
                &req,
                &Credentials {
                    secret: Some(&secret),
                    verify_token: None
                }
            ),
            Err(AuthError::BadSignature)
        );
    }
}
