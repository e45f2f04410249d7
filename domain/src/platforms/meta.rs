//! Meta (Facebook / Instagram) Lead Ads: `leadgen` webhooks carry ids only; the answers come
//! from the Graph API lead read (`GET /{leadgen_id}`), see [`fetch_url`] and
//! [`parse_graph_lead`].
//!
//! Deliveries are signed with `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw
//! body)>`; no timestamp. Subscribing sends a GET with `hub.mode=subscribe`,
//! `hub.verify_token` and `hub.challenge`, answered with the challenge when the token matches.

use chrono::TimeZone;
use serde::Deserialize;
use serde_json::Value;

use super::*;

/// Meta's Graph API, where a lead's details are read (a source's `api_url` overrides it).
pub(crate) const API_BASE: &str = "https://graph.facebook.com";

pub struct Meta;

/// The Graph API version [`fetch_url`] asks for.
pub const GRAPH_API_VERSION: &str = "v24.0";

/// The lead fields [`fetch_url`] asks for.
pub const GRAPH_LEAD_FIELDS: &str =
    "id,created_time,ad_id,adset_id,campaign_id,form_id,field_data,is_organic,platform";

/// The longest `hub.challenge` echoed back (Meta sends a short integer).
const MAX_CHALLENGE_LEN: usize = 128;

/// The Graph API URL reading one lead: `{base}/v24.0/{leadgen_id}?fields=…` (the caller adds
/// the Page access token). `api_base` is e.g. `https://graph.facebook.com`. Lead ids are
/// digits only; anything else is refused rather than spliced into the path.
pub fn fetch_url(api_base: &str, leadgen_id: &str) -> Result<String, IntakeError> {
    if leadgen_id.is_empty() || !leadgen_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IntakeError::Malformed(
            "Meta leadgen id must be digits".into(),
        ));
    }
    Ok(format!(
        "{}/{GRAPH_API_VERSION}/{leadgen_id}?fields={GRAPH_LEAD_FIELDS}",
        api_base.trim_end_matches('/')
    ))
}

/// Reads the Graph API's answer to [`fetch_url`] into the complete lead: `field_data` answers
/// (standard keys onto lead fields, custom questions into `custom` under their key), ad ids,
/// the `country` answer as the phone's country hint, and `custom_disclaimer_responses` as
/// consent (all checked) when present.
pub fn parse_graph_lead(body: &[u8], mapping: &FieldMapping) -> Result<PlatformLead, IntakeError> {
    let lead: GraphLead = serde_json::from_slice(body)
        .map_err(|e| IntakeError::Malformed(format!("not a Meta Graph API lead: {e}")))?;
    let id = id_string(&lead.id)
        .ok_or_else(|| IntakeError::NotALead("Meta Graph API lead without id".into()))?;
    let mut out = PlatformLead {
        dedupe_key: format!("meta:{id}"),
        external_id: Some(id),
        submitted_at: match &lead.created_time {
            Value::String(s) => graph_time(s),
            other => unix_seconds(other),
        },
        ..Default::default()
    };
    for (key, value) in [
        ("form_id", &lead.form_id),
        ("ad_id", &lead.ad_id),
        ("adset_id", &lead.adset_id),
        ("campaign_id", &lead.campaign_id),
    ] {
        if let Some(v) = id_string(value) {
            out.campaign.insert(key.into(), v);
        }
    }
    for field in &lead.field_data {
        let values: Vec<String> = field
            .values
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .filter(|s| !s.trim().is_empty())
            .collect();
        if values.is_empty() || field.name.is_empty() {
            continue;
        }
        let answer = values.join(", ");
        let target = field_for(mapping, &[&field.name])
            .or_else(|| standard_field(&field.name))
            .or_else(|| guess_field(&field.name))
            .unwrap_or("custom");
        assign(&mut out, target, &field.name, answer);
    }
    out.phone_country_hint = out
        .fields
        .country
        .as_deref()
        .and_then(crate::normalize::region)
        .map(crate::normalize::region_code);
    if !lead.custom_disclaimer_responses.is_empty() {
        out.consent = Some(
            lead.custom_disclaimer_responses
                .iter()
                .all(|d| checked(&d.is_checked)),
        );
    }
    Ok(out)
}

/// Leads per page the backstop asks for (the Graph API's default is 25).
const LEADS_PER_PAGE: u32 = 100;

/// The backstop's poll of one form: `GET {base}/v24.0/{form_id}/leads` with the lead fields,
/// the leads created at or after `from` (`filtering` on `time_created`, `GREATER_THAN` the
/// second before), a page at a time from the `after` cursor.
pub fn form_leads_request(
    api_base: &str,
    form_id: &str,
    from: DateTime<Utc>,
    after: Option<&str>,
) -> Result<PollRequest, IntakeError> {
    if form_id.is_empty() || !form_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IntakeError::Malformed("Meta form id must be digits".into()));
    }
    let filtering = format!(
        r#"[{{"field":"time_created","operator":"GREATER_THAN","value":{}}}]"#,
        from.timestamp() - 1
    );
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("fields", GRAPH_LEAD_FIELDS)
        .append_pair("filtering", &filtering)
        .append_pair("limit", &LEADS_PER_PAGE.to_string());
    if let Some(cursor) = after {
        query.append_pair("after", cursor);
    }
    Ok(PollRequest {
        post: false,
        url: format!(
            "{}/{GRAPH_API_VERSION}/{form_id}/leads?{}",
            api_base.trim_end_matches('/'),
            query.finish()
        ),
        headers: Vec::new(),
        body: None,
    })
}

/// Reads a page of `/{form_id}/leads`: `data` holds leads as the single lead read gives them
/// ([`parse_graph_lead`]); a next page exists when `paging.next` does, from
/// `paging.cursors.after`.
pub fn parse_form_leads(body: &[u8], mapping: &FieldMapping) -> Result<LeadPage, IntakeError> {
    #[derive(Deserialize)]
    struct Page {
        #[serde(default)]
        data: Vec<Value>,
        #[serde(default)]
        paging: Option<Paging>,
    }
    #[derive(Deserialize)]
    struct Paging {
        #[serde(default)]
        cursors: Option<Cursors>,
        #[serde(default)]
        next: Option<String>,
    }
    #[derive(Deserialize)]
    struct Cursors {
        #[serde(default)]
        after: Option<String>,
    }
    let page: Page = serde_json::from_slice(body)
        .map_err(|e| IntakeError::Malformed(format!("not a Meta leads page: {e}")))?;
    let leads = page
        .data
        .iter()
        .map(|lead| parse_graph_lead(lead.to_string().as_bytes(), mapping))
        .collect::<Result<Vec<_>, _>>()?;
    let next = page.paging.and_then(|p| {
        p.next?;
        p.cursors?.after.filter(|c| !c.is_empty())
    });
    Ok(LeadPage { leads, next })
}

/// Meta's standard question keys.
fn standard_field(name: &str) -> Option<&'static str> {
    Some(match name {
        "full_name" => "full_name",
        "first_name" => "first_name",
        "last_name" => "last_name",
        "email" | "work_email" => "email",
        "phone_number" | "work_phone_number" => "phone",
        "company_name" => "company",
        "job_title" => "job_title",
        "country" => "country",
        _ => return None,
    })
}

#[derive(Deserialize)]
struct GraphLead {
    #[serde(default)]
    id: Value,
    #[serde(default)]
    created_time: Value,
    #[serde(default)]
    form_id: Value,
    #[serde(default)]
    ad_id: Value,
    #[serde(default)]
    adset_id: Value,
    #[serde(default)]
    campaign_id: Value,
    #[serde(default)]
    field_data: Vec<GraphField>,
    #[serde(default)]
    custom_disclaimer_responses: Vec<Disclaimer>,
}

#[derive(Deserialize)]
struct GraphField {
    #[serde(default)]
    name: String,
    #[serde(default)]
    values: Vec<Value>,
}

#[derive(Deserialize)]
struct Disclaimer {
    #[serde(default)]
    is_checked: Value,
}

/// `is_checked` arrives as `true`, `"1"` or `"true"`.
fn checked(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::String(s) => matches!(s.trim(), "1" | "true" | "TRUE" | "True"),
        Value::Number(n) => n.as_u64() == Some(1),
        _ => false,
    }
}

#[derive(Deserialize)]
struct Notification {
    #[serde(default)]
    object: String,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    id: Value,
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    field: String,
    #[serde(default)]
    value: Value,
}

/// An id as Meta sends it, a string or a JSON number (possibly above 2^53: serde_json keeps
/// integers as u64/i64, so the digits are exact). Fractions and empties are no id.
fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => line(s),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

/// Unix seconds, as a number or a string of digits.
fn unix_seconds(v: &Value) -> Option<DateTime<Utc>> {
    let secs = match v {
        Value::Number(n) => n.as_i64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    Utc.timestamp_opt(secs, 0).single()
}

/// The Graph API's `2026-03-12T14:05:08+0000` (offset without colon), or RFC 3339.
fn graph_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M:%S%z")
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| timestamp(s))
}

/// A subscription handshake: a GET carrying `hub.mode`.
fn is_handshake(req: &Incoming) -> bool {
    req.method.eq_ignore_ascii_case("GET") && req.query_param("hub.mode").is_some()
}

/// Meta sends an integer; anything echoed back is kept short and plain.
fn valid_challenge(c: &str) -> bool {
    !c.is_empty()
        && c.len() <= MAX_CHALLENGE_LEN
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

impl Platform for Meta {
    fn name(&self) -> &'static str {
        "meta"
    }

    fn takes_handshake(&self) -> bool {
        true
    }

    /// Meta's Graph API serves a lead for 90 days after it was submitted.
    fn details_readable_for(&self) -> std::time::Duration {
        std::time::Duration::from_secs(90 * 86_400)
    }

    fn details_request(
        &self,
        api_base: &str,
        external_id: &str,
    ) -> Option<Result<ApiRequest, IntakeError>> {
        Some(fetch_url(api_base, external_id).map(|url| ApiRequest {
            url,
            headers: Vec::new(),
        }))
    }

    fn parse_details(
        &self,
        body: &[u8],
        mapping: &FieldMapping,
    ) -> Result<PlatformLead, IntakeError> {
        parse_graph_lead(body, mapping)
    }

    /// A handshake GET is authentic when `hub.mode` is `subscribe` and `hub.verify_token`
    /// matches the source's verify token; any other request must carry a valid
    /// `X-Hub-Signature-256` over the raw body, keyed with the app secret.
    fn authenticate(&self, req: &Incoming, creds: &Credentials) -> Result<(), AuthError> {
        if is_handshake(req) {
            if req.query_param("hub.mode").as_deref() != Some("subscribe") {
                return Err(AuthError::Malformed("hub.mode (want subscribe)"));
            }
            let expected = creds.verify_token.ok_or(AuthError::BadToken)?;
            let token = req
                .query_param("hub.verify_token")
                .ok_or(AuthError::Missing("hub.verify_token query parameter"))?;
            if !expected.matches(&token) {
                return Err(AuthError::BadToken);
            }
            return match req.query_param("hub.challenge") {
                Some(c) if valid_challenge(&c) => Ok(()),
                Some(_) => Err(AuthError::Malformed("hub.challenge query parameter")),
                None => Err(AuthError::Missing("hub.challenge query parameter")),
            };
        }
        let secret = creds.secret.ok_or(AuthError::BadSignature)?;
        let sig = req
            .header("x-hub-signature-256")
            .ok_or(AuthError::Missing("X-Hub-Signature-256 header"))?;
        let tag = sig
            .trim()
            .strip_prefix("sha256=")
            .and_then(|h| hex::decode(h).ok())
            .ok_or(AuthError::Malformed(
                "X-Hub-Signature-256 header (want sha256=<hex>)",
            ))?;
        verify_hmac_sha256(secret, &[req.body], &tag)
    }

    /// A handshake is answered with its challenge (the token was checked by `authenticate`);
    /// a `page` notification gives one lead to fetch per `leadgen` change.
    fn parse(&self, req: &Incoming, _mapping: &FieldMapping) -> Result<Intake, IntakeError> {
        if is_handshake(req) {
            let challenge = req
                .query_param("hub.challenge")
                .filter(|c| valid_challenge(c))
                .ok_or_else(|| {
                    IntakeError::Malformed("missing or malformed hub.challenge".into())
                })?;
            return Ok(Intake::Handshake {
                status: 200,
                content_type: "text/plain",
                body: challenge,
            });
        }
        let n: Notification = serde_json::from_slice(req.body)
            .map_err(|e| IntakeError::Malformed(format!("not a Meta webhook: {e}")))?;
        if n.object != "page" {
            return Ok(Intake::Leads(vec![]));
        }
        let mut leads = Vec::new();
        for entry in &n.entry {
            for change in entry.changes.iter().filter(|c| c.field == "leadgen") {
                leads.push(leadgen_change(entry, &change.value)?);
            }
        }
        Ok(Intake::Leads(leads))
    }
}

/// One `leadgen` change: ids only. `adgroup_id` is Meta's legacy name for the *ad* (it equals
/// `ad_id`), so it is not taken for `adset_id`.
fn leadgen_change(entry: &Entry, value: &Value) -> Result<PlatformLead, IntakeError> {
    let leadgen_id = id_string(&value["leadgen_id"])
        .ok_or_else(|| IntakeError::Malformed("Meta leadgen change without leadgen_id".into()))?;
    let mut lead = PlatformLead {
        dedupe_key: format!("meta:{leadgen_id}"),
        external_id: Some(leadgen_id),
        requires_fetch: true,
        submitted_at: unix_seconds(&value["created_time"]),
        ..Default::default()
    };
    for key in ["form_id", "ad_id", "adset_id", "campaign_id"] {
        if let Some(v) = id_string(&value[key]) {
            lead.campaign.insert(key.into(), v);
        }
    }
    if let Some(page) = id_string(&value["page_id"]).or_else(|| id_string(&entry.id)) {
        lead.campaign.insert("page_id".into(), page);
    }
    Ok(lead)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::fixtures::{check, check_lead, Fixture};
    use hmac::{Hmac, Mac};
    use proptest::prelude::*;
    use sha2::Sha256;

    const SECRET: &str = "4f1c9e2b7a6d5e3f8091a2b3c4d5e6f7";

    fn signed(body: &[u8]) -> Vec<(String, String)> {
        let mut m = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
        m.update(body);
        vec![(
            "x-hub-signature-256".into(),
            format!("sha256={}", hex::encode(m.finalize().into_bytes())),
        )]
    }

    fn req<'a>(
        method: &'a str,
        url: &'a str,
        headers: &'a [(String, String)],
        body: &'a [u8],
    ) -> Incoming<'a> {
        Incoming {
            method,
            url,
            headers,
            body,
            now: "2026-03-12T14:05:10Z".parse().unwrap(),
        }
    }

    #[test]
    fn the_samples_pass() {
        check(&Meta, "meta-leadgen-basic", &FieldMapping::new());
    }

    #[test]
    fn the_fetch_url_is_the_samples() {
        let f = Fixture::load("meta-leadgen-basic");
        let want = f.expect()["fetch"]["url"].as_str().unwrap();
        assert_eq!(
            fetch_url("https://graph.facebook.com/", "3841029384756102").unwrap(),
            want
        );
        assert!(fetch_url("https://graph.facebook.com", "1/../me").is_err());
        assert!(fetch_url("https://graph.facebook.com", "").is_err());
    }

    #[test]
    fn the_graph_response_sample_reads() {
        let f = Fixture::load("meta-graph-lead-response-unicode");
        let lead = parse_graph_lead(&f.body(), &FieldMapping::new()).unwrap();
        // Every key but `phone`: the sample's 06 39 … is a Mayotte range (+262 639) in
        // libphonenumber's metadata, not a valid French number, so enrichment gives no E.164
        // (see `the_graph_response_sample_phone`). What the parser owns, it checks.
        let mut want = f.expect().clone();
        want.as_object_mut().unwrap().remove("phone");
        check_lead("meta-graph-lead-response-unicode", &lead, &want);
        assert_eq!(lead.fields.phone.as_deref(), Some("06 39 98 12 34"));
        assert_eq!(lead.phone_country_hint.as_deref(), Some("FR"));
        // Keys check_lead does not look at.
        let e = f.expect();
        assert_eq!(Some(lead.requires_fetch), e["requires_fetch"].as_bool());
        assert_eq!(Some(lead.is_test), e["is_test"].as_bool());
        assert_eq!(
            lead.campaign.get("adset_id").map(String::as_str),
            Some("120208765432100011")
        );
        assert_eq!(lead.custom.len(), 1, "{:?}", lead.custom);
        assert_eq!(lead.consent, None);
    }

    #[test]
    fn the_graph_response_sample_phone() {
        let f = Fixture::load("meta-graph-lead-response-unicode");
        let lead = parse_graph_lead(&f.body(), &FieldMapping::new()).unwrap();
        check_lead("meta-graph-lead-response-unicode", &lead, f.expect());
    }

    #[test]
    fn graph_consent_and_mapping_apply() {
        let body = br#"{"id":"1","created_time":"2026-03-12T14:05:08+0000","field_data":[{"name":"q1","values":["Acme"]},{"name":"multi","values":["a","b"]}],"custom_disclaimer_responses":[{"checkbox_key":"k","is_checked":"1"}]}"#;
        let mapping = FieldMapping::from([("q1".to_owned(), "company".to_owned())]);
        let lead = parse_graph_lead(body, &mapping).unwrap();
        assert_eq!(lead.fields.company.as_deref(), Some("Acme"));
        assert_eq!(lead.custom.get("multi").map(String::as_str), Some("a, b"));
        assert_eq!(lead.consent, Some(true));
        assert!(parse_graph_lead(b"[]", &mapping).is_err());
        assert!(parse_graph_lead(b"{}", &mapping).is_err());
    }

    #[test]
    fn a_changed_body_is_refused() {
        let f = Fixture::load("meta-leadgen-basic");
        let mut body = f.body();
        body[20] ^= 1;
        let headers = f.headers();
        let secret = f.secret();
        let creds = Credentials {
            secret: Some(&secret),
            verify_token: None,
        };
        assert_eq!(
            Meta.authenticate(
                &req("POST", "https://h/webhooks/meta", &headers, &body),
                &creds
            ),
            Err(AuthError::BadSignature)
        );
        assert!(Meta
            .authenticate(
                &req("POST", "https://h/webhooks/meta", &[], &f.body()),
                &creds
            )
            .is_err());
    }

    #[test]
    fn the_handshake_echoes_the_challenge_only_with_the_right_token() {
        let token = Secret::new("my-verify-token");
        let creds = Credentials {
            secret: Some(&token),
            verify_token: Some(&token),
        };
        let good = "https://h/webhooks/meta?hub.mode=subscribe&hub.verify_token=my-verify-token&hub.challenge=1158201444";
        let r = req("GET", good, &[], b"");
        assert_eq!(Meta.authenticate(&r, &creds), Ok(()));
        assert_eq!(
            Meta.parse(&r, &FieldMapping::new()).unwrap(),
            Intake::Handshake {
                status: 200,
                content_type: "text/plain",
                body: "1158201444".into()
            }
        );
        let bad = "https://h/webhooks/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444";
        assert_eq!(
            Meta.authenticate(&req("GET", bad, &[], b""), &creds),
            Err(AuthError::BadToken)
        );
        let none = Credentials::default();
        assert!(Meta.authenticate(&r, &none).is_err());
        let script = "https://h/webhooks/meta?hub.mode=subscribe&hub.verify_token=my-verify-token&hub.challenge=%3Cscript%3E";
        assert!(Meta
            .authenticate(&req("GET", script, &[], b""), &creds)
            .is_err());
        let mode = "https://h/webhooks/meta?hub.mode=unsubscribe&hub.verify_token=my-verify-token&hub.challenge=1";
        assert!(Meta
            .authenticate(&req("GET", mode, &[], b""), &creds)
            .is_err());
    }

    #[test]
    fn a_batch_gives_one_lead_per_leadgen_change() {
        // Numeric ids above 2^53 keep every digit.
        let body = br#"{"object":"page","entry":[{"id":111,"time":1773324309,"changes":[{"field":"leadgen","value":{"leadgen_id":55459717045641545,"form_id":"9","created_time":1773324308,"page_id":111}},{"field":"feed","value":{}},{"field":"leadgen","value":{"leadgen_id":"2","created_time":"1773324308"}}]},{"id":"222","changes":[{"field":"leadgen","value":{"leadgen_id":"3"}}]}]}"#;
        let headers = signed(body);
        let secret = Secret::new(SECRET);
        let r = req("POST", "https://h/webhooks/meta", &headers, body);
        assert_eq!(
            Meta.authenticate(
                &r,
                &Credentials {
                    secret: Some(&secret),
                    verify_token: None
                }
            ),
            Ok(())
        );
        let Intake::Leads(leads) = Meta.parse(&r, &FieldMapping::new()).unwrap() else {
            panic!("leads")
        };
        assert_eq!(leads.len(), 3);
        assert_eq!(leads[0].dedupe_key, "meta:55459717045641545");
        assert_eq!(leads[0].campaign["page_id"], "111");
        assert_eq!(leads[1].dedupe_key, "meta:2");
        assert_eq!(
            leads[1].submitted_at, leads[0].submitted_at,
            "string and numeric created_time"
        );
        assert_eq!(leads[2].campaign["page_id"], "222");
        assert!(leads.iter().all(|l| l.requires_fetch));
    }

    #[test]
    fn a_leadgen_change_without_an_id_is_malformed() {
        let body = br#"{"object":"page","entry":[{"changes":[{"field":"leadgen","value":{"form_id":"1"}}]}]}"#;
        let r = req("POST", "https://h/", &[], body);
        assert!(matches!(
            Meta.parse(&r, &FieldMapping::new()),
            Err(IntakeError::Malformed(_))
        ));
        let other = br#"{"object":"user","entry":[]}"#;
        let r = req("POST", "https://h/", &[], other);
        assert_eq!(
            Meta.parse(&r, &FieldMapping::new()).unwrap(),
            Intake::Leads(vec![])
        );
    }

    proptest! {
        #[test]
        fn nothing_panics(body in proptest::collection::vec(any::<u8>(), 0..512), q in ".{0,64}") {
            let url = format!("https://h/webhooks/meta?{q}");
            let headers = signed(&body);
            let secret = Secret::new(SECRET);
            let creds = Credentials { secret: Some(&secret), verify_token: Some(&secret) };
            for method in ["GET", "POST"] {
                let r = req(method, &url, &headers, &body);
                let _ = Meta.authenticate(&r, &creds);
                let _ = Meta.parse(&r, &FieldMapping::new());
            }
            let _ = parse_graph_lead(&body, &FieldMapping::new());
        }

        #[test]
        fn json_shaped_input_does_not_panic(s in r#"\{"object":"page","entry":\[\{"id":[0-9a-z"]{0,5},"changes":\[\{"field":"leadgen","value":[\{\}"a-z0-9:,\[\]]{0,40}\}\]\}\]\}"#) {
            let r = req("POST", "https://h/", &[], s.as_bytes());
            let _ = Meta.parse(&r, &FieldMapping::new());
            let _ = parse_graph_lead(s.as_bytes(), &FieldMapping::new());
        }
    }
}

#[cfg(test)]
mod backstop_tests {
    use super::*;

    #[test]
    fn a_form_poll_asks_for_leads_created_since_the_window_start_from_the_cursor() {
        let from: DateTime<Utc> = "2026-03-12T14:00:00Z".parse().unwrap();
        let r = form_leads_request(
            "https://graph.facebook.com/",
            "1298374650123456",
            from,
            Some("QVFI"),
        )
        .unwrap();
        assert!(!r.post);
        assert!(r
            .url
            .starts_with("https://graph.facebook.com/v24.0/1298374650123456/leads?fields="));
        let query = r.url.split_once('?').unwrap().1;
        let params: BTreeMap<String, String> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        assert_eq!(
            params["filtering"],
            format!(
                r#"[{{"field":"time_created","operator":"GREATER_THAN","value":{}}}]"#,
                from.timestamp() - 1
            )
        );
        assert_eq!(params["after"], "QVFI");
        assert!(form_leads_request("https://g", "12/../x", from, None).is_err());
    }

    #[test]
    fn a_leads_page_reads_each_lead_and_a_next_cursor_only_when_there_is_a_next_page() {
        let page = br#"{"data":[{"id":"1","created_time":"2026-03-12T14:30:00+0000",
            "field_data":[{"name":"email","values":["a@b.io"]}]}],
            "paging":{"cursors":{"before":"b","after":"c"},"next":"https://graph/next"}}"#;
        let p = parse_form_leads(page, &FieldMapping::new()).unwrap();
        assert_eq!(p.leads[0].dedupe_key, "meta:1");
        assert_eq!(p.leads[0].fields.email.as_deref(), Some("a@b.io"));
        assert!(!p.leads[0].requires_fetch, "the answers are in the page");
        assert_eq!(p.next.as_deref(), Some("c"));
        let last = br#"{"data":[],"paging":{"cursors":{"before":"b","after":"c"}}}"#;
        assert_eq!(
            parse_form_leads(last, &FieldMapping::new()).unwrap().next,
            None
        );
        assert!(parse_form_leads(b"<html>", &FieldMapping::new()).is_err());
    }
}
