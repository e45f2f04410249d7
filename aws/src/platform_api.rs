//! Reading lead details from platforms that deliver only ids (Meta Graph API, HubSpot CRM).
//! Every API's base URL is configurable, so tests serve it from a local HTTP server.

use std::time::Duration;

use leadrelay_domain::config::SourceKind;
use leadrelay_domain::intake::IntakeError;
use leadrelay_domain::platforms::{self, assign, guess_field, FieldMapping, PlatformLead};
use leadrelay_domain::secret::Secret;

/// How long one API call may take before the fetch counts as failed (and is retried).
const TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("source {0} has no access token: set sources.{0}.access_token or LEADRELAY_<SOURCE>_ACCESS_TOKEN")]
    NoToken(String),
    #[error("source {0} has no API URL")]
    NoApiUrl(String),
    #[error("reading lead details from {platform} is not supported yet")]
    Unsupported { platform: &'static str },
    #[error("{platform} API request failed: {message}")]
    Request {
        platform: &'static str,
        message: String,
    },
    #[error("{platform} API answered {status}")]
    Status { platform: &'static str, status: u16 },
    #[error("{platform} API answer cannot be read: {source}")]
    Parse {
        platform: &'static str,
        #[source]
        source: IntakeError,
    },
}

#[derive(Debug, Clone)]
pub struct PlatformApi {
    http: reqwest::Client,
}

impl Default for PlatformApi {
    fn default() -> Self {
        Self::new()
    }
}

/// The HTTP client every outbound call shares (one connection pool): platform APIs and the
/// company provider. Its timeout is the platform reads'; other callers set their own per request.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .user_agent("leadrelay")
        .build()
        .unwrap_or_default()
}

impl PlatformApi {
    pub fn new() -> Self {
        Self::with_client(http_client())
    }

    /// Over a shared client (see [`http_client`]).
    pub fn with_client(http: reqwest::Client) -> Self {
        Self { http }
    }

    /// The client, to share with other outbound calls.
    pub fn client(&self) -> &reqwest::Client {
        &self.http
    }

    /// The complete lead behind a platform's id.
    pub async fn fetch(
        &self,
        kind: SourceKind,
        api_url: &str,
        token: &Secret,
        external_id: &str,
        mapping: &FieldMapping,
    ) -> Result<PlatformLead, FetchError> {
        let (platform, url) = match kind {
            SourceKind::Meta => (
                "meta",
                platforms::meta::fetch_url(api_url, external_id).map_err(|source| {
                    FetchError::Parse {
                        platform: "meta",
                        source,
                    }
                })?,
            ),
            SourceKind::Hubspot => ("hubspot", hubspot_contact_url(api_url, external_id)?),
            SourceKind::Linkedin => ("linkedin", linkedin_response_url(api_url, external_id)?),
            _ => {
                return Err(FetchError::Unsupported {
                    platform: "this source",
                })
            }
        };
        let mut request = self.http.get(&url).bearer_auth(token.expose());
        if kind == SourceKind::Linkedin {
            request = request
                .header("LinkedIn-Version", LINKEDIN_VERSION)
                .header("X-Restli-Protocol-Version", "2.0.0");
        }
        let response = request.send().await.map_err(|e| FetchError::Request {
            platform,
            message: e.without_url().to_string(),
        })?;
        let status = response.status();
        if !status.is_success() {
            return Err(FetchError::Status {
                platform,
                status: status.as_u16(),
            });
        }
        let body = response.bytes().await.map_err(|e| FetchError::Request {
            platform,
            message: e.without_url().to_string(),
        })?;
        match kind {
            SourceKind::Meta => platforms::meta::parse_graph_lead(&body, mapping),
            SourceKind::Linkedin => parse_linkedin_response(&body, mapping),
            _ => parse_hubspot_contact(&body, mapping),
        }
        .map_err(|source| FetchError::Parse { platform, source })
    }
}

/// The Marketing API version LinkedIn's versioned endpoints require (`YYYYMM`).
const LINKEDIN_VERSION: &str = "202510";

fn linkedin_response_url(api_url: &str, external_id: &str) -> Result<String, FetchError> {
    let ok = !external_id.is_empty()
        && external_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !ok {
        return Err(FetchError::Parse {
            platform: "linkedin",
            source: IntakeError::Malformed(
                "LinkedIn lead form response id must be letters, digits and dashes".into(),
            ),
        });
    }
    Ok(format!(
        "{}/rest/leadFormResponses/{external_id}",
        api_url.trim_end_matches('/')
    ))
}

/// A Lead Sync `leadFormResponses` record: answers carry only a question id, so the source's
/// mapping says which id is which field (unmapped answers land in `custom` by question id).
fn parse_linkedin_response(
    body: &[u8],
    mapping: &FieldMapping,
) -> Result<PlatformLead, IntakeError> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| IntakeError::Malformed(format!("not a LinkedIn lead form response: {e}")))?;
    let id = match &v["id"] {
        serde_json::Value::String(s) => s.rsplit(':').next().unwrap_or(s).to_owned(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => {
            return Err(IntakeError::NotALead(
                "LinkedIn lead form response without id".into(),
            ))
        }
    };
    let mut lead = PlatformLead {
        external_id: Some(id.clone()),
        dedupe_key: format!("linkedin:{id}:CREATED"),
        is_test: v["testLead"].as_bool().unwrap_or(false),
        submitted_at: v["submittedAt"]
            .as_i64()
            .and_then(chrono::DateTime::from_timestamp_millis),
        ..Default::default()
    };
    if let Some(form) = v["versionedLeadGenFormUrn"].as_str() {
        lead.campaign.insert("form_id".into(), form.to_owned());
    }
    for answer in v["formResponse"]["answers"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let question = match &answer["questionId"] {
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) => s.clone(),
            _ => continue,
        };
        let details = &answer["answerDetails"];
        let text = details["textQuestionAnswer"]["answer"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| {
                details["multipleChoiceAnswer"]["options"]
                    .as_array()
                    .map(|o| {
                        o.iter()
                            .map(|x| x.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
            });
        let Some(text) = text else { continue };
        let field = mapping
            .get(&question)
            .map(String::as_str)
            .unwrap_or("custom");
        assign(&mut lead, field, &question, text);
    }
    let consents: Vec<bool> = v["formResponse"]["consentResponses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["accepted"].as_bool())
        .collect();
    if !consents.is_empty() {
        lead.consent = Some(consents.iter().all(|c| *c));
    }
    Ok(lead)
}

const HUBSPOT_PROPERTIES: &str = "email,firstname,lastname,phone,mobilephone,company,jobtitle,country,message,hs_analytics_source";

fn hubspot_contact_url(api_url: &str, external_id: &str) -> Result<String, FetchError> {
    // `hubspot:<portal>:contact:<id>` or the bare id.
    let id = external_id.rsplit(':').next().unwrap_or(external_id);
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FetchError::Parse {
            platform: "hubspot",
            source: IntakeError::Malformed("HubSpot contact id must be digits".into()),
        });
    }
    Ok(format!(
        "{}/crm/v3/objects/contacts/{id}?properties={HUBSPOT_PROPERTIES}",
        api_url.trim_end_matches('/')
    ))
}

/// A CRM v3 contact: `{"id": "...", "properties": {"email": ..., "firstname": ..., ...}}`.
fn parse_hubspot_contact(body: &[u8], mapping: &FieldMapping) -> Result<PlatformLead, IntakeError> {
    let v: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| IntakeError::Malformed(format!("not a HubSpot contact: {e}")))?;
    let id = v["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| IntakeError::NotALead("HubSpot contact without id".into()))?;
    let mut lead = PlatformLead {
        external_id: Some(id.clone()),
        dedupe_key: format!("hubspot:contact:{id}"),
        ..Default::default()
    };
    for (key, value) in v["properties"].as_object().into_iter().flatten() {
        let Some(value) = value.as_str().filter(|s| !s.is_empty()) else {
            continue;
        };
        let target = mapping.get(key).map(String::as_str).or(match key.as_str() {
            "firstname" => Some("first_name"),
            "lastname" => Some("last_name"),
            "jobtitle" => Some("job_title"),
            "mobilephone" => Some("phone"),
            "hs_analytics_source" | "hs_object_id" | "createdate" | "lastmodifieddate" => {
                Some("skip")
            }
            other => guess_field(other),
        });
        match target {
            Some("skip") => {}
            Some(field) => assign(&mut lead, field, key, value.to_owned()),
            None => assign(&mut lead, "custom", key, value.to_owned()),
        }
    }
    Ok(lead)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hubspot_contacts_map_their_properties() {
        let body = br#"{"id":"98123004511","properties":{"email":"Ana@Acme.io","firstname":"Ana","lastname":"Costa","jobtitle":"CTO","phone":"","favourite_robot":"R2"}}"#;
        let lead = parse_hubspot_contact(body, &FieldMapping::new()).unwrap();
        assert_eq!(lead.fields.email.as_deref(), Some("Ana@Acme.io"));
        assert_eq!(lead.fields.job_title.as_deref(), Some("CTO"));
        assert_eq!(lead.fields.phone, None);
        assert_eq!(
            lead.custom.get("favourite_robot").map(String::as_str),
            Some("R2")
        );
    }

    #[test]
    fn linkedin_answers_map_by_question_id() {
        let body = br#"{"id":"urn:li:leadFormResponse:4f6c-4","submittedAt":1773750120456,"testLead":false,
            "versionedLeadGenFormUrn":"urn:li:versionedLeadGenForm:(urn:li:leadGenForm:71039482,3)",
            "formResponse":{"answers":[
              {"questionId":1,"answerDetails":{"textQuestionAnswer":{"answer":"Sofia@Example.com"}}},
              {"questionId":2,"answerDetails":{"textQuestionAnswer":{"answer":"Sofia Rossi"}}},
              {"questionId":9,"answerDetails":{"textQuestionAnswer":{"answer":"50-200"}}}],
              "consentResponses":[{"accepted":true}]}}"#;
        let mapping: FieldMapping = [
            ("1".to_owned(), "email".to_owned()),
            ("2".to_owned(), "full_name".to_owned()),
        ]
        .into();
        let lead = parse_linkedin_response(body, &mapping).unwrap();
        assert_eq!(lead.external_id.as_deref(), Some("4f6c-4"));
        assert_eq!(lead.fields.email.as_deref(), Some("Sofia@Example.com"));
        assert_eq!(lead.fields.full_name.as_deref(), Some("Sofia Rossi"));
        assert_eq!(lead.custom.get("9").map(String::as_str), Some("50-200"));
        assert_eq!(lead.consent, Some(true));
        assert_eq!(
            lead.submitted_at.map(|t| t.timestamp_millis()),
            Some(1773750120456)
        );
        assert!(linkedin_response_url("https://api.linkedin.com", "../x").is_err());
    }

    #[test]
    fn hubspot_contact_ids_must_be_digits() {
        assert!(hubspot_contact_url("https://api.hubapi.com", "hubspot:1:contact:42").unwrap().ends_with("/contacts/42?properties=email,firstname,lastname,phone,mobilephone,company,jobtitle,country,message,hs_analytics_source"));
        assert!(hubspot_contact_url("https://api.hubapi.com", "../admin").is_err());
    }
}
