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

/// A choice's option. Either part may be missing (an image choice has no text): then the
/// answer keeps the id.
#[derive(Deserialize)]
struct TallyOption {
    #[serde(default)]
    id: String,
    #[serde(default)]
    text: String,
}

/// Choice questions: their answers arrive as option ids, resolved through `options`.
const CHOICE_TYPES: [&str; 5] = [
    "DROPDOWN",
    "MULTIPLE_CHOICE",
    "CHECKBOXES",
    "MULTI_SELECT",
    "RANKING",
];

impl Field {
    /// The answer as text: choice ids resolved to their option text.
    fn answer(&self) -> Option<String> {
        use serde_json::Value::*;
        let resolve = |id: &str| {
            self.options
                .iter()
                .find(|o| o.id == id && !o.text.trim().is_empty())
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
            // Tally follows a checkbox question with one true/false entry per option (keyed
            // `<question key>_<option id>`); the question's own entry already lists the choice.
            let per_option = f.value.is_boolean()
                && CHOICE_TYPES.contains(&f.kind.as_str())
                && d.fields.iter().any(|q| {
                    !q.key.is_empty() && q.key != f.key && f.key.starts_with(&format!("{}_", q.key))
                });
            if per_option {
                continue;
            }
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
        // A country question (a dropdown, resolved to its text) is where a national phone
        // number belongs.
        lead.phone_country_hint = lead
            .fields
            .country
            .as_deref()
            .and_then(crate::normalize::region)
            .map(crate::normalize::region_code);
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

    /// Tally's answer to one delivery of `fields`.
    fn parse_fields(fields: serde_json::Value) -> PlatformLead {
        let body = serde_json::json!({
            "eventId": "e1",
            "eventType": "FORM_RESPONSE",
            "data": {"responseId": "r1", "formId": "f1", "fields": fields},
        })
        .to_string();
        let req = Incoming {
            method: "POST",
            url: "https://h/",
            headers: &[],
            body: body.as_bytes(),
            now: chrono::Utc::now(),
        };
        let Intake::Leads(mut leads) = Tally.parse(&req, &FieldMapping::new()).unwrap() else {
            panic!("leads")
        };
        leads.remove(0)
    }

    #[test]
    fn a_question_labelled_mobile_is_the_phone() {
        for label in [
            "Mobile number",
            "Mobile",
            "Your mobile phone number:",
            "Mobile no. *",
        ] {
            let lead = parse_fields(serde_json::json!([
                {"key": "q1", "label": "Email", "type": "INPUT_EMAIL", "value": "ana@acme.io"},
                {"key": "q2", "label": label, "type": "INPUT_TEXT", "value": "0151 23456789"},
            ]));
            assert_eq!(
                lead.fields.phone.as_deref(),
                Some("0151 23456789"),
                "{label}"
            );
            assert!(lead.custom.is_empty(), "{label}: {:?}", lead.custom);
        }
        let not_a_phone = parse_fields(serde_json::json!([
            {"key": "q1", "label": "Which mobile platforms do you ship on?", "type": "INPUT_TEXT", "value": "iOS"},
        ]));
        assert_eq!(not_a_phone.fields.phone, None);
    }

    #[test]
    fn choice_answers_are_their_options_text_and_a_country_dropdown_gives_the_phone_its_region() {
        let lead = parse_fields(serde_json::json!([
            {"key": "q1", "label": "Email", "type": "INPUT_EMAIL", "value": "ana@acme.io"},
            {"key": "q2", "label": "Mobile number", "type": "INPUT_PHONE_NUMBER", "value": "030 1234567"},
            {"key": "q3", "label": "Country", "type": "DROPDOWN", "value": ["c-de"],
             "options": [{"id": "c-pt", "text": "Portugal"}, {"id": "c-de", "text": "Germany"}]},
            {"key": "q4", "label": "Interests", "type": "CHECKBOXES", "value": ["i-a", "i-c"],
             "options": [{"id": "i-a", "text": "Routing"}, {"id": "i-b", "text": "Scoring"}, {"id": "i-c", "text": "SLAs"}]},
            {"key": "q4_i-a", "label": "Interests (Routing)", "type": "CHECKBOXES", "value": true},
            {"key": "q4_i-b", "label": "Interests (Scoring)", "type": "CHECKBOXES", "value": false},
            {"key": "q4_i-c", "label": "Interests (SLAs)", "type": "CHECKBOXES", "value": true},
            {"key": "q5", "label": "Team size", "type": "MULTIPLE_CHOICE", "value": "s-2",
             "options": [{"id": "s-1", "text": "1-10"}, {"id": "s-2", "text": "11-50"}]},
            {"key": "q6", "label": "Logo", "type": "MULTIPLE_CHOICE", "value": ["img-1"],
             "options": [{"id": "img-1"}]},
        ]));
        assert_eq!(lead.fields.country.as_deref(), Some("Germany"));
        assert_eq!(lead.phone_country_hint.as_deref(), Some("DE"));
        assert_eq!(lead.custom["Interests"], "Routing, SLAs");
        assert_eq!(lead.custom["Team size"], "11-50");
        assert_eq!(lead.custom["Logo"], "img-1", "no text: the id is kept");
        assert!(
            !lead.custom.keys().any(|k| k.starts_with("Interests (")),
            "the per-option entries are not answers: {:?}",
            lead.custom
        );
        let e = crate::enrichment::enrich(&lead.fields, lead.phone_country_hint.as_deref(), &[]);
        assert_eq!(e.phone.as_deref(), Some("+49301234567"));
        assert_eq!(e.country.as_deref(), Some("DE"));
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
