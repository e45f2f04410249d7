//! The sample deliveries in `tests/fixtures/sources/` (real platforms' wire formats with valid
//! and deliberately invalid signatures, and the normalised lead each must produce), checked
//! against a [`Platform`]: authentication verdict, handshake answer, every expected field.

use std::path::PathBuf;

use serde_json::Value;

use super::*;
use crate::enrichment;
use crate::normalize;

pub struct Fixture {
    pub json: Value,
}

impl Fixture {
    pub fn load(name: &str) -> Fixture {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../tests/fixtures/sources/{name}.json"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Fixture {
            json: serde_json::from_str(&text).expect("fixture is JSON"),
        }
    }

    pub fn expect(&self) -> &Value {
        &self.json["expect"]
    }

    pub fn headers(&self) -> Vec<(String, String)> {
        self.json["headers"]
            .as_object()
            .map(|h| {
                h.iter()
                    .map(|(k, v)| {
                        (
                            k.to_ascii_lowercase(),
                            v.as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn url(&self) -> String {
        let hint = self.json["path_hint"].as_str().unwrap_or("/");
        if hint.starts_with("http") {
            hint.to_owned()
        } else {
            format!("https://hooks.example.test{hint}")
        }
    }

    pub fn body(&self) -> Vec<u8> {
        self.json["body"]
            .as_str()
            .unwrap_or_default()
            .as_bytes()
            .to_vec()
    }

    /// "Now" for timestamp checks: the sample's `received_at`, else its submission time.
    pub fn now(&self) -> DateTime<Utc> {
        let e = self.expect();
        e["received_at"]
            .as_str()
            .or(e["submitted_at"].as_str())
            .and_then(timestamp)
            .unwrap_or_else(|| "2026-03-20T12:00:00Z".parse().expect("valid"))
    }

    pub fn secret(&self) -> Secret {
        Secret::new(self.json["secret"].as_str().unwrap_or_default())
    }
}

/// Runs a fixture through a platform and checks everything it expects. Returns the parsed
/// A platform that takes its secret as `?token=` in the URL refuses a wrong token and a
/// missing one, on the sample's own body and headers.
pub fn check_url_token_refusals(platform: &dyn Platform, sample: &str, path: &str) {
    let f = Fixture::load(sample);
    let (body, headers, secret) = (f.body(), f.headers(), f.secret());
    let creds = Credentials {
        secret: Some(&secret),
        ..Default::default()
    };
    let wrong = format!("https://hooks.example.test{path}?token=not-the-token");
    let req = Incoming {
        method: "POST",
        url: &wrong,
        headers: &headers,
        body: &body,
        now: f.now(),
    };
    assert_eq!(
        platform.authenticate(&req, &creds),
        Err(AuthError::BadToken),
        "{sample}"
    );
    let bare = format!("https://hooks.example.test{path}");
    let req = Incoming { url: &bare, ..req };
    assert!(
        matches!(
            platform.authenticate(&req, &creds),
            Err(AuthError::Missing(_))
        ),
        "{sample}"
    );
}

/// intake (when it got that far) for further checks.
pub fn check(platform: &dyn Platform, name: &str, mapping: &FieldMapping) -> Option<Intake> {
    let f = Fixture::load(name);
    let e = f.expect().clone();
    let headers = f.headers();
    let body = f.body();
    let url = f.url();
    let req = Incoming {
        method: f.json["method"].as_str().unwrap_or("POST"),
        url: &url,
        headers: &headers,
        body: &body,
        now: f.now(),
    };
    let secret = f.secret();
    let creds = Credentials {
        secret: Some(&secret),
        verify_token: Some(&secret),
    };
    let auth = platform.authenticate(&req, &creds);
    let status = e["http_status"].as_u64().unwrap_or(200);
    if status == 401
        || e["signature_valid"] == Value::Bool(false)
        || e["timestamp_fresh"] == Value::Bool(false)
    {
        assert!(auth.is_err(), "{name}: must be refused, was accepted");
        return None;
    }
    assert_eq!(auth, Ok(()), "{name}: must be authentic");
    let intake = platform
        .parse(&req, mapping)
        .unwrap_or_else(|err| panic!("{name}: parse failed: {err}"));
    if let Some(want) = e["response_body"].as_str() {
        match &intake {
            Intake::Handshake {
                status: s, body, ..
            } => {
                assert_eq!(*s as u64, status, "{name}: handshake status");
                assert_eq!(body, want, "{name}: handshake body");
            }
            other => panic!("{name}: expected a handshake, got {other:?}"),
        }
        return Some(intake);
    }
    let Intake::Leads(leads) = &intake else {
        panic!("{name}: expected leads, got {intake:?}")
    };
    let expected: Vec<Value> = match e["leads"].as_array() {
        Some(list) => list.clone(),
        None => vec![e.clone()],
    };
    assert_eq!(leads.len(), expected.len(), "{name}: number of leads");
    for (lead, want) in leads.iter().zip(&expected) {
        check_lead(name, lead, want);
    }
    Some(intake)
}

pub(crate) fn check_lead(name: &str, lead: &PlatformLead, want: &Value) {
    let hint = lead
        .phone_country_hint
        .as_deref()
        .or(lead.fields.country.as_deref());
    let enriched = enrichment::enrich(&lead.fields, hint, &[]);
    let full_name = enriched.full_name.clone();
    let got = |key: &str| -> Option<String> {
        let f = &lead.fields;
        match key {
            "external_id" => lead.external_id.clone(),
            "dedupe_key" => Some(lead.dedupe_key.clone()),
            "email" => f.email.as_deref().and_then(normalize::email),
            "full_name" => full_name.clone(),
            "first_name" => f.first_name.clone(),
            "last_name" => f.last_name.clone(),
            "phone" => enriched.phone.clone(),
            "phone_raw" => f.phone.clone(),
            "phone_country_hint" => lead.phone_country_hint.clone(),
            "company" => f.company.clone(),
            "job_title" => f.job_title.clone(),
            "country" => enriched.country.clone().or_else(|| f.country.clone()),
            "message" => f.message.clone(),
            "submitted_at" => lead
                .submitted_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
            k if k.starts_with("utm_") => lead.utm.get(&k[4..]).cloned(),
            k if crate::attribution::CLICK_IDS.contains(&k) => lead.click_ids.get(k).cloned(),
            "form_id" | "campaign_id" | "adset_id" | "ad_id" | "page_id" => {
                lead.campaign.get(key).cloned()
            }
            _ => None,
        }
    };
    let obj = want.as_object().expect("expectations are an object");
    for (key, value) in obj {
        match key.as_str() {
            "is_test" => assert_eq!(Some(lead.is_test), value.as_bool(), "{name}: is_test"),
            "requires_fetch" => assert_eq!(
                Some(lead.requires_fetch),
                value.as_bool(),
                "{name}: requires_fetch"
            ),
            "custom" => {
                for (k, v) in value.as_object().into_iter().flatten() {
                    let want = v
                        .as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| v.to_string());
                    assert_eq!(
                        lead.custom.get(k),
                        Some(&want),
                        "{name}: custom[{k}] in {:?}",
                        lead.custom
                    );
                }
            }
            "external_id" | "dedupe_key" | "email" | "full_name" | "first_name" | "last_name"
            | "phone" | "phone_raw" | "phone_country_hint" | "company" | "job_title"
            | "country" | "message" | "submitted_at" | "form_id" | "campaign_id" | "adset_id"
            | "ad_id" | "page_id" => {
                assert_eq!(got(key), value.as_str().map(str::to_owned), "{name}: {key}");
            }
            k if k.starts_with("utm_") || crate::attribution::CLICK_IDS.contains(&k) => {
                assert_eq!(got(k), value.as_str().map(str::to_owned), "{name}: {k}");
            }
            _ => {}
        }
    }
}
