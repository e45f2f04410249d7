//! Google Ads lead form asset webhooks: the whole lead in the body (`user_column_data`).
//! No header signature: the body echoes the form's `google_key`, compared in constant time
//! with the source's secret.

use serde::Deserialize;
use serde_json::Value;

use super::*;
use crate::normalize;

pub struct Google;

#[derive(Deserialize)]
struct KeyOnly {
    #[serde(default)]
    google_key: Option<String>,
}

#[derive(Deserialize)]
struct WebhookLead {
    #[serde(default)]
    lead_id: Value,
    #[serde(default)]
    user_column_data: Vec<Column>,
    #[serde(default)]
    form_id: Value,
    #[serde(default)]
    campaign_id: Value,
    #[serde(default)]
    adgroup_id: Value,
    #[serde(default)]
    creative_id: Value,
    #[serde(default)]
    is_test: bool,
    #[serde(default)]
    gcl_id: Option<String>,
    #[serde(default)]
    lead_submit_time: Option<String>,
}

#[derive(Deserialize)]
struct Column {
    #[serde(default)]
    column_id: String,
    #[serde(default)]
    column_name: Option<String>,
    #[serde(default)]
    string_value: Option<String>,
}

/// Google's `LeadFormFieldUserInputType` ids that are lead fields; every other column
/// (address parts, vertical questions, custom slugs) goes to `custom` under its id.
fn column_field(column_id: &str) -> Option<&'static str> {
    Some(match column_id {
        "FULL_NAME" => "full_name",
        "FIRST_NAME" => "first_name",
        "LAST_NAME" => "last_name",
        "EMAIL" | "WORK_EMAIL" => "email",
        "PHONE_NUMBER" | "WORK_PHONE" => "phone",
        "COMPANY_NAME" => "company",
        "JOB_TITLE" => "job_title",
        "COUNTRY" => "country",
        _ => return None,
    })
}

/// An int64 id (JSON number, or a string); Google's test leads send `0`, which is no id.
fn id_string(v: &Value) -> Option<String> {
    let s = match v {
        Value::String(s) => line(s)?,
        Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
        _ => return None,
    };
    (s != "0").then_some(s)
}

/// The country a national number belongs to: the form's country answer, else North America
/// for an 11-digit number starting with 1 written without `+` (Google's own test data).
fn phone_country(lead: &PlatformLead) -> Option<String> {
    if let Some(r) = lead.fields.country.as_deref().and_then(normalize::region) {
        return Some(normalize::region_code(r));
    }
    let phone = lead.fields.phone.as_deref()?.trim();
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    (!phone.starts_with('+') && digits.len() == 11 && digits.starts_with('1'))
        .then(|| "US".to_owned())
}

impl Platform for Google {
    fn name(&self) -> &'static str {
        "google"
    }

    fn authenticate(&self, req: &Incoming, creds: &Credentials) -> Result<(), AuthError> {
        let secret = creds.secret.ok_or(AuthError::BadToken)?;
        let body: KeyOnly = serde_json::from_slice(req.body)
            .map_err(|_| AuthError::Malformed("body (want a JSON object with google_key)"))?;
        let key = body
            .google_key
            .ok_or(AuthError::Missing("google_key in the body"))?;
        if secret.matches(&key) {
            Ok(())
        } else {
            Err(AuthError::BadToken)
        }
    }

    fn parse(&self, req: &Incoming, mapping: &FieldMapping) -> Result<Intake, IntakeError> {
        let d: WebhookLead = serde_json::from_slice(req.body)
            .map_err(|e| IntakeError::Malformed(format!("not a Google Ads lead: {e}")))?;
        let id = match &d.lead_id {
            Value::String(s) => line(s),
            Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
            _ => None,
        }
        .ok_or_else(|| IntakeError::NotALead("Google Ads lead without lead_id".into()))?;
        let mut lead = PlatformLead {
            dedupe_key: format!("google:{id}"),
            external_id: Some(id),
            is_test: d.is_test,
            submitted_at: d.lead_submit_time.as_deref().and_then(timestamp),
            ..Default::default()
        };
        for (key, value) in [
            ("form_id", &d.form_id),
            ("campaign_id", &d.campaign_id),
            ("adset_id", &d.adgroup_id),
            ("ad_id", &d.creative_id),
        ] {
            if let Some(v) = id_string(value) {
                lead.campaign.insert(key.into(), v);
            }
        }
        if let Some(gclid) = d.gcl_id {
            assign(&mut lead, "gclid", "gclid", gclid);
        }
        for c in &d.user_column_data {
            let Some(value) = c.string_value.clone() else {
                continue;
            };
            let name = c.column_name.as_deref().unwrap_or_default();
            let key = if c.column_id.is_empty() {
                name
            } else {
                &c.column_id
            };
            if key.is_empty() {
                continue;
            }
            let target = field_for(mapping, &[&c.column_id, name])
                .or_else(|| column_field(&c.column_id))
                .or_else(|| guess_field(&c.column_id))
                .unwrap_or("custom");
            assign(&mut lead, target, key, value);
        }
        lead.phone_country_hint = phone_country(&lead);
        Ok(Intake::Leads(vec![lead]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::fixtures::{check, Fixture};
    use proptest::prelude::*;

    fn req<'a>(body: &'a [u8]) -> Incoming<'a> {
        Incoming {
            method: "POST",
            url: "https://h/webhooks/google-ads",
            headers: &[],
            body,
            now: "2026-03-14T09:21:45Z".parse().unwrap(),
        }
    }

    #[test]
    fn the_samples_pass() {
        check(&Google, "google-lead-basic", &FieldMapping::new());
        check(&Google, "google-test-lead", &FieldMapping::new());
    }

    #[test]
    fn the_basic_sample_keeps_every_id() {
        let Some(Intake::Leads(leads)) = check(&Google, "google-lead-basic", &FieldMapping::new())
        else {
            panic!("leads")
        };
        assert_eq!(leads[0].campaign["adset_id"], "162039485721");
        assert_eq!(leads[0].campaign["ad_id"], "702938475612");
        let Some(Intake::Leads(test)) = check(&Google, "google-test-lead", &FieldMapping::new())
        else {
            panic!("leads")
        };
        assert!(test[0].campaign.is_empty(), "zero ids are placeholders");
        assert_eq!(test[0].submitted_at, None);
    }

    #[test]
    fn a_wrong_or_missing_key_is_refused() {
        let f = Fixture::load("google-lead-basic");
        let body = f.body();
        let wrong = Secret::new("gk-7Hq2pXvL9sR4tW1y");
        let creds = Credentials {
            secret: Some(&wrong),
            verify_token: None,
        };
        assert_eq!(
            Google.authenticate(&req(&body), &creds),
            Err(AuthError::BadToken)
        );
        let right = f.secret();
        let creds = Credentials {
            secret: Some(&right),
            verify_token: None,
        };
        let tampered = String::from_utf8(body)
            .unwrap()
            .replace("gk-7Hq2pXvL9sR4tW1z", "gk-7Hq2pXvL9sR4tW1z ");
        assert_eq!(
            Google.authenticate(&req(tampered.as_bytes()), &creds),
            Err(AuthError::BadToken)
        );
        assert!(matches!(
            Google.authenticate(&req(br#"{"lead_id":"x"}"#), &creds),
            Err(AuthError::Missing(_))
        ));
        assert!(matches!(
            Google.authenticate(&req(b"not json"), &creds),
            Err(AuthError::Malformed(_))
        ));
        assert!(Google
            .authenticate(&req(&f.body()), &Credentials::default())
            .is_err());
    }

    #[test]
    fn the_mapping_and_country_apply() {
        let body = br#"{"lead_id":"L1","user_column_data":[{"column_id":"budget?","string_value":"5k"},{"column_id":"COUNTRY","string_value":"DE"},{"column_id":"PHONE_NUMBER","string_value":"030 1234567"},{"column_id":"POSTAL_CODE","string_value":"10115"}],"form_id":"12"}"#;
        let mapping = FieldMapping::from([("budget?".to_owned(), "message".to_owned())]);
        let Intake::Leads(leads) = Google.parse(&req(body), &mapping).unwrap() else {
            panic!("leads")
        };
        let l = &leads[0];
        assert_eq!(l.fields.message.as_deref(), Some("5k"));
        assert_eq!(l.phone_country_hint.as_deref(), Some("DE"));
        assert_eq!(l.custom["POSTAL_CODE"], "10115");
        assert_eq!(l.campaign["form_id"], "12");
        assert!(matches!(
            Google.parse(&req(br#"{"user_column_data":[]}"#), &mapping),
            Err(IntakeError::NotALead(_))
        ));
    }

    proptest! {
        #[test]
        fn nothing_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
            let secret = Secret::new("k");
            let creds = Credentials { secret: Some(&secret), verify_token: None };
            let _ = Google.authenticate(&req(&body), &creds);
            let _ = Google.parse(&req(&body), &FieldMapping::new());
        }

        #[test]
        fn json_shaped_input_does_not_panic(ids in r#"[0-9"\-.e]{0,24}"#, v in ".{0,16}") {
            let body = format!(r#"{{"lead_id":{ids},"form_id":{ids},"user_column_data":[{{"column_id":{ids},"string_value":"{v}"}}]}}"#);
            let _ = Google.parse(&req(body.as_bytes()), &FieldMapping::new());
        }
    }
}
