//! Gravity Forms: the Webhooks Add-On's feed, all answers in the body (format JSON or FORM,
//! body "All Fields" or "Select Fields").
//! Gravity Forms does not sign: the feed sends a custom header `Authorization: Bearer <token>`,
//! compared in constant time with the source's secret. "All Fields" is the raw entry: answers
//! keyed by field id (`"2"`, sub-inputs `"1.3"`), whose meaning only the source's mapping knows;
//! the dedupe key is the form and the entry id.

use chrono::NaiveDateTime;
use serde_json::{Map, Value};

use super::*;

pub struct GravityForms;

/// Entry properties that are not answers.
const META: &[&str] = &[
    "id",
    "entry_id",
    "form_id",
    "post_id",
    "date_created",
    "date_updated",
    "is_starred",
    "is_read",
    "ip",
    "source_url",
    "user_agent",
    "currency",
    "payment_status",
    "payment_date",
    "payment_amount",
    "payment_method",
    "transaction_id",
    "is_fulfilled",
    "created_by",
    "transaction_type",
    "status",
    "source_id",
];

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

/// `Y-m-d H:i:s`, in GMT as Gravity Forms stores it; RFC 3339 accepted too.
fn entry_time(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|t| t.and_utc())
        .or_else(|| timestamp(s))
}

impl Platform for GravityForms {
    fn name(&self) -> &'static str {
        "gravity_forms"
    }

    fn authenticate(&self, req: &Incoming, creds: &Credentials) -> Result<(), AuthError> {
        let secret = creds.secret.ok_or(AuthError::BadToken)?;
        let header = req
            .header("authorization")
            .ok_or(AuthError::Missing("Authorization header"))?
            .trim();
        let token = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .ok_or(AuthError::Malformed(
                "Authorization header (want Bearer <token>)",
            ))?;
        if secret.matches(token) {
            Ok(())
        } else {
            Err(AuthError::BadToken)
        }
    }

    fn parse(&self, req: &Incoming, mapping: &FieldMapping) -> Result<Intake, IntakeError> {
        let text = std::str::from_utf8(req.body)
            .map_err(|_| IntakeError::Malformed("Gravity Forms body is not UTF-8".into()))?;
        let entry: Map<String, Value> = if text.trim_start().starts_with('{') {
            serde_json::from_str(text)
                .map_err(|e| IntakeError::Malformed(format!("not a Gravity Forms entry: {e}")))?
        } else {
            // The feed's FORM format.
            form_urlencoded::parse(req.body)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect()
        };
        let prop = |key: &str| {
            entry
                .get(key)
                .and_then(as_text)
                .map(|s| s.trim().to_owned())
        };
        let id = prop("id").or_else(|| prop("entry_id")).ok_or_else(|| {
            IntakeError::NotALead(
                "Gravity Forms entry without id (add {entry_id} to Select Fields)".into(),
            )
        })?;
        let form = prop("form_id").unwrap_or_default();
        let mut lead = PlatformLead {
            dedupe_key: format!("gravity_forms:{form}:{id}"),
            external_id: Some(id),
            submitted_at: prop("date_created").as_deref().and_then(entry_time),
            ..Default::default()
        };
        if !form.is_empty() {
            lead.campaign.insert("form_id".into(), form);
        }
        for (key, value) in &entry {
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
        // The page the form was on: the landing page, and the UTMs and click ids the answers
        // did not carry.
        if let Some(url) = prop("source_url").as_deref().and_then(line) {
            lead.landing_page.get_or_insert(url);
        }
        if let Some(page) = &lead.landing_page {
            crate::attribution::params_in_url(page)
                .fill_missing(&mut lead.utm, &mut lead.click_ids);
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

    /// The sample's `context.field_map`, as a source's configuration would hold it.
    fn field_map(f: &Fixture) -> FieldMapping {
        f.json["context"]["field_map"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn the_sample_is_refused() {
        let f = Fixture::load("gravity_forms-wrong-token");
        check(&GravityForms, "gravity_forms-wrong-token", &field_map(&f));
    }

    #[test]
    fn the_right_bearer_is_accepted_and_the_entry_maps() {
        let f = Fixture::load("gravity_forms-wrong-token");
        let (body, secret) = (f.body(), f.secret());
        let headers = vec![(
            "authorization".to_owned(),
            format!("Bearer {}", secret.expose()),
        )];
        let req = Incoming {
            method: "POST",
            url: "https://hooks.example.test/webhooks/gravity-forms",
            headers: &headers,
            body: &body,
            now: f.now(),
        };
        assert_eq!(GravityForms.authenticate(&req, &creds(&secret)), Ok(()));
        let Ok(Intake::Leads(leads)) = GravityForms.parse(&req, &field_map(&f)) else {
            panic!("expected leads")
        };
        let l = &leads[0];
        assert_eq!(l.dedupe_key, "gravity_forms:7:1843");
        assert_eq!(l.external_id.as_deref(), Some("1843"));
        assert_eq!(l.fields.first_name.as_deref(), Some("Test"));
        assert_eq!(l.fields.last_name.as_deref(), Some("Forged"));
        assert_eq!(l.fields.email.as_deref(), Some("Forged.Sender@Example.NET"));
        assert_eq!(l.fields.message.as_deref(), Some("forged submission"));
        assert_eq!(l.fields.phone, None);
        // Empty mapped UTM answers fall back to the page's query string.
        assert_eq!(l.utm.get("source").map(String::as_str), Some("newsletter"));
        assert_eq!(
            l.utm.get("campaign").map(String::as_str),
            Some("march-digest")
        );
        assert_eq!(
            l.submitted_at,
            Some("2026-03-22T08:20:03Z".parse().unwrap())
        );
        assert_eq!(l.campaign.get("form_id").map(String::as_str), Some("7"));
    }

    #[test]
    fn missing_or_other_schemes_are_refused() {
        let secret = Secret::new("gf");
        for (headers, missing) in [
            (vec![], true),
            (
                vec![("authorization".to_owned(), "Basic Z2Y=".to_owned())],
                false,
            ),
            (vec![("authorization".to_owned(), "gf".to_owned())], false),
        ] {
            let req = Incoming {
                method: "POST",
                url: "https://hooks.example.test/webhooks/gravity-forms",
                headers: &headers,
                body: b"{}",
                now: Utc::now(),
            };
            let got = GravityForms.authenticate(&req, &creds(&secret));
            assert!(got.is_err());
            assert_eq!(matches!(got, Err(AuthError::Missing(_))), missing);
        }
        // No entry id: not a lead.
        let req = Incoming {
            method: "POST",
            url: "https://hooks.example.test/webhooks/gravity-forms",
            headers: &[],
            body: br#"{"2":"a@b.io"}"#,
            now: Utc::now(),
        };
        assert!(matches!(
            GravityForms.parse(&req, &FieldMapping::new()),
            Err(IntakeError::NotALead(_))
        ));
    }

    proptest! {
        #[test]
        fn never_panics(body in proptest::collection::vec(any::<u8>(), 0..512), auth in ".{0,40}") {
            let headers = vec![("authorization".to_owned(), auth)];
            let req = Incoming {
                method: "POST",
                url: "https://hooks.example.test/webhooks/gravity-forms",
                headers: &headers,
                body: &body,
                now: Utc::now(),
            };
            let _ = GravityForms.authenticate(&req, &creds(&Secret::new("s")));
            let _ = GravityForms.parse(&req, &FieldMapping::new());
        }
    }
}
