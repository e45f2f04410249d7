//! Webflow: `form_submission` webhooks (API v2, and the legacy v1 shape), all answers in the
//! body. Signed with `x-webflow-signature = hex(HMAC-SHA256(secret, "<x-webflow-timestamp>:<raw
//! body>"))`, the timestamp in epoch milliseconds and no older than 5 minutes. The key is the
//! OAuth app's client secret or the webhook's `secretKey`; dashboard-created webhooks are unsigned
//! and therefore refused.

use serde::Deserialize;
use serde_json::Value;

use super::*;

pub struct Webflow;

/// Webflow's replay window.
const TOLERANCE_MS: i64 = 5 * 60 * 1000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    #[serde(default)]
    trigger_type: Option<String>,
    #[serde(default)]
    payload: Option<Submission>,
}

/// API v2 `payload`; the legacy v1 body has the same shape with `site`, `d` and `_id`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Submission {
    #[serde(default, alias = "site")]
    site_id: Option<String>,
    #[serde(default, alias = "_id")]
    id: Option<String>,
    #[serde(default)]
    form_id: Option<String>,
    #[serde(default, alias = "d")]
    submitted_at: Option<String>,
    #[serde(default)]
    data: BTreeMap<String, Value>,
    #[serde(default)]
    schema: Vec<SchemaField>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SchemaField {
    #[serde(default)]
    field_name: String,
    #[serde(default)]
    field_element_id: String,
}

/// A value as text: numbers (Webflow sends phone numbers as JSON numbers) and booleans as
/// their JSON text, lists joined; null and "" as absent.
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

impl Platform for Webflow {
    fn name(&self) -> &'static str {
        "webflow"
    }

    fn authenticate(&self, req: &Incoming, creds: &Credentials) -> Result<(), AuthError> {
        let secret = creds.secret.ok_or(AuthError::BadSignature)?;
        let sig = req
            .header("x-webflow-signature")
            .ok_or(AuthError::Missing("x-webflow-signature header"))?;
        let ts = req
            .header("x-webflow-timestamp")
            .ok_or(AuthError::Missing("x-webflow-timestamp header"))?
            .trim();
        let tag = hex::decode(sig.trim())
            .map_err(|_| AuthError::Malformed("x-webflow-signature header (want hex)"))?;
        // The signature covers the timestamp: check it first.
        verify_hmac_sha256(secret, &[ts.as_bytes(), b":", req.body], &tag)?;
        let ms: i64 = ts.parse().map_err(|_| {
            AuthError::Malformed("x-webflow-timestamp header (want epoch milliseconds)")
        })?;
        let age = req.now.timestamp_millis().saturating_sub(ms);
        if age.saturating_abs() > TOLERANCE_MS {
            return Err(AuthError::StaleTimestamp);
        }
        Ok(())
    }

    fn parse(&self, req: &Incoming, mapping: &FieldMapping) -> Result<Intake, IntakeError> {
        let value: Value = serde_json::from_slice(req.body)
            .map_err(|e| IntakeError::Malformed(format!("not a Webflow event: {e}")))?;
        let is_v2 = value.get("triggerType").is_some();
        let s: Submission = if is_v2 {
            let event: Event = serde_json::from_value(value)
                .map_err(|e| IntakeError::Malformed(format!("not a Webflow event: {e}")))?;
            if event.trigger_type.as_deref() != Some("form_submission") {
                return Ok(Intake::Leads(vec![]));
            }
            event.payload.ok_or_else(|| {
                IntakeError::NotALead("Webflow form_submission without payload".into())
            })?
        } else {
            serde_json::from_value(value)
                .map_err(|e| IntakeError::Malformed(format!("not a Webflow submission: {e}")))?
        };
        let id =
            s.id.filter(|i| !i.trim().is_empty())
                .ok_or_else(|| IntakeError::NotALead("Webflow submission without id".into()))?;
        let site = s.site_id.unwrap_or_default();
        let mut lead = PlatformLead {
            dedupe_key: format!("webflow:{site}:{id}"),
            external_id: Some(id),
            submitted_at: s.submitted_at.as_deref().and_then(timestamp),
            ..Default::default()
        };
        if let Some(form) = s.form_id.filter(|f| !f.is_empty()) {
            lead.campaign.insert("form_id".into(), form);
        }
        for (label, value) in &s.data {
            let Some(answer) = as_text(value) else {
                continue;
            };
            // The schema names each label's element id, which survives a relabel.
            let element = s
                .schema
                .iter()
                .find(|f| &f.field_name == label)
                .map(|f| f.field_element_id.as_str())
                .unwrap_or_default();
            let target = field_for(mapping, &[label, element])
                .or_else(|| guess_field(label))
                .unwrap_or("custom");
            assign(&mut lead, target, label, answer);
        }
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
    use crate::platforms::fixtures::{check, Fixture};
    use hmac::{Hmac, Mac};
    use proptest::prelude::*;
    use sha2::Sha256;

    fn creds(secret: &Secret) -> Credentials<'_> {
        Credentials {
            secret: Some(secret),
            verify_token: None,
        }
    }

    fn sign(secret: &str, ts: &str, body: &[u8]) -> String {
        let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        m.update(ts.as_bytes());
        m.update(b":");
        m.update(body);
        hex::encode(m.finalize().into_bytes())
    }

    #[test]
    fn the_samples_pass() {
        check(&Webflow, "webflow-form-submission", &FieldMapping::new());
        check(&Webflow, "webflow-stale-timestamp", &FieldMapping::new());
    }

    #[test]
    fn the_stale_sample_fails_on_time_alone() {
        let f = Fixture::load("webflow-stale-timestamp");
        let (body, headers, url, secret) = (f.body(), f.headers(), f.url(), f.secret());
        let req = Incoming {
            method: "POST",
            url: &url,
            headers: &headers,
            body: &body,
            now: f.now(),
        };
        assert_eq!(
            Webflow.authenticate(&req, &creds(&secret)),
            Err(AuthError::StaleTimestamp)
        );
        // The same delivery, on time, is authentic.
        let on_time = "2026-03-20T08:00:12Z".parse().unwrap();
        assert_eq!(
            Webflow.authenticate(
                &Incoming {
                    now: on_time,
                    ..req.clone()
                },
                &creds(&secret)
            ),
            Ok(())
        );
        // A new timestamp without a new signature is not.
        let mut moved = headers.clone();
        for (k, v) in &mut moved {
            if k == "x-webflow-timestamp" {
                *v = "1773993611008".into();
            }
        }
        assert_eq!(
            Webflow.authenticate(
                &Incoming {
                    headers: &moved,
                    now: on_time,
                    ..req
                },
                &creds(&secret)
            ),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn other_triggers_give_no_leads_and_v1_reads() {
        let now: DateTime<Utc> = "2026-03-20T08:00:00Z".parse().unwrap();
        let body = br#"{"triggerType":"site_publish","payload":{"siteId":"s"}}"#;
        let ts = now.timestamp_millis().to_string();
        let headers = vec![
            ("x-webflow-timestamp".to_owned(), ts.clone()),
            ("x-webflow-signature".to_owned(), sign("k", &ts, body)),
        ];
        let req = Incoming {
            method: "POST",
            url: "https://hooks.example.test/webhooks/webflow",
            headers: &headers,
            body,
            now,
        };
        let secret = Secret::new("k");
        assert_eq!(Webflow.authenticate(&req, &creds(&secret)), Ok(()));
        assert_eq!(
            Webflow.parse(&req, &FieldMapping::new()),
            Ok(Intake::Leads(vec![]))
        );
        let v1 = br#"{"name":"Contact","site":"s1","data":{"email":"a@b.io","Your Role":"CTO"},"d":"2026-03-20T07:59:00.000Z","_id":"sub1"}"#;
        let mapping: FieldMapping = [("Your Role".to_owned(), "job_title".to_owned())].into();
        let Ok(Intake::Leads(leads)) = Webflow.parse(&Incoming { body: v1, ..req }, &mapping)
        else {
            panic!("expected leads")
        };
        assert_eq!(leads[0].dedupe_key, "webflow:s1:sub1");
        assert_eq!(leads[0].fields.job_title.as_deref(), Some("CTO"));
        assert_eq!(leads[0].fields.email.as_deref(), Some("a@b.io"));
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..512), ts in any::<i64>()) {
            let headers = vec![
                ("x-webflow-timestamp".to_owned(), ts.to_string()),
                ("x-webflow-signature".to_owned(), "00ff".to_owned()),
            ];
            let req = Incoming {
                method: "POST",
                url: "https://hooks.example.test/webhooks/webflow",
                headers: &headers,
                body: &body,
                now: Utc::now(),
            };
            let secret = Secret::new("s");
            let _ = Webflow.authenticate(&req, &creds(&secret));
            let _ = Webflow.parse(&req, &FieldMapping::new());
        }
    }
}
