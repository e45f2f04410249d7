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

/// The Google Ads API version the backstop asks.
pub const GOOGLE_ADS_API_VERSION: &str = "v21";

/// The Google Ads API's public base URL.
pub const GOOGLE_ADS_API_BASE: &str = "https://googleads.googleapis.com";

/// The fields of `lead_form_submission_data` the backstop selects.
const SUBMISSION_FIELDS: &[&str] = &[
    "id",
    "resource_name",
    "gclid",
    "submission_date_time",
    "lead_form_submission_fields",
    "custom_lead_form_submission_fields",
    "campaign",
    "ad_group",
    "ad_group_ad",
    "asset",
];

/// `submission_date_time` is in the account's time zone, which the query cannot name: it asks
/// this much earlier (the widest offset from UTC) and the parser drops what is older.
const TIME_ZONE_MARGIN_HOURS: i64 = 14;

/// The backstop's poll of one customer: `POST {base}/v21/customers/{id}/googleAds:search`
/// with a GAQL query over `lead_form_submission_data` submitted from `from` on, a page at a
/// time from `page_token`. `customer_id` is digits only (the configuration checked it).
pub fn search_request(
    api_base: &str,
    customer_id: &str,
    login_customer_id: Option<&str>,
    from: DateTime<Utc>,
    page_token: Option<&str>,
) -> PollRequest {
    let fields: Vec<String> = SUBMISSION_FIELDS
        .iter()
        .map(|f| format!("lead_form_submission_data.{f}"))
        .collect();
    let since = from - chrono::Duration::hours(TIME_ZONE_MARGIN_HOURS);
    let query = format!(
        "SELECT {} FROM lead_form_submission_data WHERE lead_form_submission_data.submission_date_time >= '{}'",
        fields.join(", "),
        since.format("%Y-%m-%d %H:%M:%S")
    );
    let mut body = serde_json::json!({ "query": query });
    if let Some(token) = page_token {
        body["pageToken"] = token.into();
    }
    let mut headers = vec![("content-type", "application/json".to_owned())];
    if let Some(login) = login_customer_id {
        headers.push(("login-customer-id", login.to_owned()));
    }
    PollRequest {
        post: true,
        url: format!(
            "{}/{GOOGLE_ADS_API_VERSION}/customers/{customer_id}/googleAds:search",
            api_base.trim_end_matches('/')
        ),
        headers,
        body: Some(body.to_string()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchPage {
    #[serde(default)]
    results: Vec<SearchRow>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchRow {
    lead_form_submission_data: Submission,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Submission {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    resource_name: Option<String>,
    #[serde(default)]
    gclid: Option<String>,
    #[serde(default)]
    submission_date_time: Option<String>,
    #[serde(default)]
    lead_form_submission_fields: Vec<SubmissionField>,
    #[serde(default)]
    custom_lead_form_submission_fields: Vec<CustomField>,
    #[serde(default)]
    campaign: Option<String>,
    #[serde(default)]
    ad_group: Option<String>,
    #[serde(default)]
    ad_group_ad: Option<String>,
    #[serde(default)]
    asset: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubmissionField {
    #[serde(default)]
    field_type: String,
    #[serde(default)]
    field_value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CustomField {
    #[serde(default)]
    question_text: String,
    #[serde(default)]
    field_value: Option<String>,
}

/// `2026-03-20 12:01:02-07:00` (the account's zone), or RFC 3339.
fn submission_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S%:z")
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| timestamp(s))
}

/// The id at the end of a resource name (`customers/1/campaigns/42` → `42`; an ad group ad's
/// `…/adGroupAds/7~99` → `99`).
fn resource_id(name: &str) -> Option<String> {
    let last = name.rsplit('/').next()?;
    let id = last.rsplit('~').next()?;
    (!id.is_empty() && id != "0").then(|| id.to_owned())
}

/// Reads a page of the search: one lead per `leadFormSubmissionData`, keyed by its id as the
/// webhook's `lead_id` is, with the same field types as the webhook's column ids; rows
/// submitted before `from` (asked for only because of the time-zone margin) are dropped.
pub fn parse_search(
    body: &[u8],
    mapping: &FieldMapping,
    from: DateTime<Utc>,
) -> Result<LeadPage, IntakeError> {
    let page: SearchPage = serde_json::from_slice(body)
        .map_err(|e| IntakeError::Malformed(format!("not a Google Ads search answer: {e}")))?;
    let mut leads = Vec::new();
    for row in page.results {
        let d = row.lead_form_submission_data;
        let id =
            d.id.as_deref()
                .and_then(line)
                .or_else(|| d.resource_name.as_deref().and_then(resource_id))
                .ok_or_else(|| {
                    IntakeError::NotALead("Google Ads lead form submission without id".into())
                })?;
        let submitted_at = d.submission_date_time.as_deref().and_then(submission_time);
        if submitted_at.is_some_and(|at| at < from) {
            continue;
        }
        let mut lead = PlatformLead {
            dedupe_key: format!("google:{id}"),
            external_id: Some(id),
            submitted_at,
            ..Default::default()
        };
        for (key, value) in [
            ("form_id", &d.asset),
            ("campaign_id", &d.campaign),
            ("adset_id", &d.ad_group),
            ("ad_id", &d.ad_group_ad),
        ] {
            if let Some(v) = value.as_deref().and_then(resource_id) {
                lead.campaign.insert(key.into(), v);
            }
        }
        if let Some(gclid) = d.gclid {
            assign(&mut lead, "gclid", "gclid", gclid);
        }
        for f in &d.lead_form_submission_fields {
            let Some(value) = f.field_value.clone() else {
                continue;
            };
            if f.field_type.is_empty() {
                continue;
            }
            let target = field_for(mapping, &[&f.field_type])
                .or_else(|| column_field(&f.field_type))
                .or_else(|| guess_field(&f.field_type))
                .unwrap_or("custom");
            assign(&mut lead, target, &f.field_type, value);
        }
        for f in &d.custom_lead_form_submission_fields {
            let Some(value) = f.field_value.clone() else {
                continue;
            };
            if f.question_text.is_empty() {
                continue;
            }
            let target = field_for(mapping, &[&f.question_text])
                .or_else(|| guess_field(&f.question_text))
                .unwrap_or("custom");
            assign(&mut lead, target, &f.question_text, value);
        }
        lead.phone_country_hint = phone_country(&lead);
        leads.push(lead);
    }
    Ok(LeadPage {
        leads,
        next: page.next_page_token.filter(|t| !t.is_empty()),
    })
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

#[cfg(test)]
mod backstop_tests {
    use super::*;

    #[test]
    fn a_search_page_is_read_as_the_webhook_reads_its_columns() {
        let from: DateTime<Utc> = "2026-03-14T00:00:00Z".parse().unwrap();
        let body = br#"{"results":[
            {"leadFormSubmissionData":{"resourceName":"customers/1/leadFormSubmissionData/AbC","id":"AbC",
             "campaign":"customers/1/campaigns/42","adGroupAd":"customers/1/adGroupAds/7~99","asset":"customers/1/assets/5",
             "gclid":"G","submissionDateTime":"2026-03-14 02:21:44-07:00",
             "leadFormSubmissionFields":[{"fieldType":"EMAIL","fieldValue":"p@acme.io"},{"fieldType":"PHONE_NUMBER","fieldValue":"+1 415 555 0142"}],
             "customLeadFormSubmissionFields":[{"questionText":"Fleet size","fieldValue":"12"}]}},
            {"leadFormSubmissionData":{"id":"Old","submissionDateTime":"2026-03-13 10:00:00+00:00"}}],
            "nextPageToken":"t2"}"#;
        let p = parse_search(body, &FieldMapping::new(), from).unwrap();
        assert_eq!(p.leads.len(), 1, "older than the window: dropped");
        let l = &p.leads[0];
        assert_eq!(l.dedupe_key, "google:AbC");
        assert_eq!(
            l.submitted_at,
            Some("2026-03-14T09:21:44Z".parse().unwrap())
        );
        assert_eq!(l.fields.email.as_deref(), Some("p@acme.io"));
        assert_eq!(l.campaign["campaign_id"], "42");
        assert_eq!(l.campaign["ad_id"], "99");
        assert_eq!(l.campaign["form_id"], "5");
        assert_eq!(l.click_ids["gclid"], "G");
        assert_eq!(l.custom["Fleet size"], "12");
        assert_eq!(p.next.as_deref(), Some("t2"));
    }

    #[test]
    fn the_search_asks_from_the_window_less_the_time_zone_margin_with_the_page_token() {
        let from: DateTime<Utc> = "2026-03-14T00:00:00Z".parse().unwrap();
        let r = search_request(
            "https://googleads.googleapis.com",
            "1234567890",
            Some("1112223333"),
            from,
            Some("t2"),
        );
        assert!(r.post);
        assert_eq!(
            r.url,
            "https://googleads.googleapis.com/v21/customers/1234567890/googleAds:search"
        );
        let body: Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
        assert!(body["query"]
            .as_str()
            .unwrap()
            .ends_with("submission_date_time >= '2026-03-13 10:00:00'"));
        assert_eq!(body["pageToken"], "t2");
        assert!(r
            .headers
            .contains(&("login-customer-id", "1112223333".to_owned())));
    }
}
