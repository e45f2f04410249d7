//! Company data for a lead, from a company enrichment provider: what a provider's answer
//! means, how long it is cached, and how it fills the lead's enrichment. Pure: the HTTP call
//! (`crate::provider`) and the cache (`crate::store`) are adapters.
//!
//! The provider contract (Leadrelay's own, shaped like Clearbit's or Apollo's company lookup):
//! `GET {url}/companies?domain=acme.io` with `Authorization: Bearer <key>` answers `200` with
//! `{"name": "Acme", "domain": "acme.io", "employees": 1200, "industry": "Software",
//! "country": "DE"}` (every member optional, `null` allowed), or `404` when the domain is
//! unknown. Anything else is a failed lookup.

pub use crate::lead::CompanyLookup;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use super::lead::{Enrichment, LeadFields};
use super::normalize;

/// Longest text kept from a provider's answer, in characters.
const MAX_TEXT_CHARS: usize = 200;
/// Largest answer read from a provider.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What a provider knows of a company.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Company {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employees: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    /// ISO 3166-1 alpha-2 when recognised, else as the provider wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// Why a lookup gave no answer. The messages are short, name no domain and no key: they go on
/// the lead (`company_lookup_error`) and the timeline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("timed out after {}", humantime::format_duration(*.0))]
    TimedOut(Duration),
    #[error("provider unreachable")]
    Unreachable,
    #[error("request failed: {0}")]
    Request(String),
    #[error("provider answered {0}")]
    Status(u16),
    #[error("answer not understood: {0}")]
    Unreadable(String),
}

impl LookupError {
    /// A stable one-word kind, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            LookupError::TimedOut(_) => "timeout",
            LookupError::Unreachable => "unreachable",
            LookupError::Request(_) => "request",
            LookupError::Status(_) => "status",
            LookupError::Unreadable(_) => "unreadable",
        }
    }
}

/// A lookup's result: the company, `None` when the provider does not know the domain, or why
/// there is no answer.
pub type LookupResult = Result<Option<Company>, LookupError>;

/// Reads a provider's answer under the contract above.
pub fn parse_answer(status: u16, body: &[u8]) -> LookupResult {
    match status {
        404 => return Ok(None),
        200..=299 => {}
        other => return Err(LookupError::Status(other)),
    }
    if body.len() > MAX_ANSWER_BYTES {
        return Err(LookupError::Unreadable("answer too large".into()));
    }
    let answer: Answer = serde_json::from_slice(body).map_err(|e| {
        LookupError::Unreadable(match e.classify() {
            serde_json::error::Category::Data => format!("{e}"),
            _ => "not a JSON object".into(),
        })
    })?;
    Ok(Some(Company {
        name: answer.name.as_deref().and_then(text),
        domain: answer
            .domain
            .as_deref()
            .and_then(text)
            .map(|d| d.to_ascii_lowercase()),
        employees: answer.employees,
        industry: answer.industry.as_deref().and_then(text),
        country: answer.country.as_deref().and_then(text).map(|c| {
            normalize::region(&c)
                .map(normalize::region_code)
                .unwrap_or(c)
        }),
    }))
}

/// The provider's answer as sent. Unknown members are ignored (providers add fields).
#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default, deserialize_with = "employees")]
    employees: Option<u32>,
    #[serde(default)]
    industry: Option<String>,
    #[serde(default)]
    country: Option<String>,
}

/// A whole number of employees, or one written as digits (`"1200"`); `null` for unknown.
fn employees<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Count {
        Number(u32),
        Text(String),
    }
    match Option::<Count>::deserialize(d) {
        Ok(None) => Ok(None),
        Ok(Some(Count::Number(n))) => Ok(Some(n)),
        Ok(Some(Count::Text(s))) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| serde::de::Error::custom("employees is not a whole number")),
        Err(_) => Err(serde::de::Error::custom("employees is not a whole number")),
    }
}

fn text(s: &str) -> Option<String> {
    let t = normalize::clean_text(s);
    let t: String = t.chars().take(MAX_TEXT_CHARS).collect();
    (!t.is_empty()).then_some(t)
}

/// How long a lookup's answer is kept: companies the provider knows, and domains it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheTtl {
    pub found: Duration,
    pub not_found: Duration,
}

/// A cached answer for one domain. Failures are never cached: the next lead asks again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedCompany {
    pub domain: String,
    /// `None`: the provider does not know the domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<Company>,
    pub looked_up_at: DateTime<Utc>,
    /// Seconds since the epoch after which the answer is stale (and DynamoDB's TTL deletes it).
    pub expires_at: i64,
}

impl CachedCompany {
    /// The answer to keep, or `None` for a failure (never cached).
    pub fn of(
        domain: &str,
        result: &LookupResult,
        now: DateTime<Utc>,
        ttl: CacheTtl,
    ) -> Option<Self> {
        let company = result.as_ref().ok()?.clone();
        let keep = if company.is_some() {
            ttl.found
        } else {
            ttl.not_found
        };
        let keep = chrono::Duration::from_std(keep).unwrap_or(chrono::Duration::MAX);
        let expires = now
            .checked_add_signed(keep)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        Some(Self {
            domain: domain.to_owned(),
            company,
            looked_up_at: now,
            expires_at: expires.timestamp(),
        })
    }

    /// Still good at `now`? DynamoDB deletes expired items only eventually (within days), so
    /// readers check.
    pub fn is_fresh(&self, now: DateTime<Utc>) -> bool {
        now.timestamp() < self.expires_at
    }
}

/// The company domain to look up, when the lead has one.
pub fn lookup_domain(e: &Enrichment) -> Option<&str> {
    e.company_domain.as_deref()
}

/// Fills the lead's enrichment from a lookup. A failure leaves the company data empty, marks
/// the lookup failed with its reason, and nothing else: the lead goes on.
pub fn apply(e: &mut Enrichment, fields: &LeadFields, result: &LookupResult) {
    match result {
        Ok(Some(c)) => {
            e.company_lookup = Some(CompanyLookup::Found);
            e.company_lookup_error = None;
            e.company_size = c.employees;
            e.industry = c.industry.clone();
            e.company_country = c.country.clone();
            // The name the person gave wins over the provider's; the provider's over the domain.
            if given_company(fields).is_none() {
                if let Some(name) = &c.name {
                    e.company = Some(name.clone());
                }
            }
        }
        Ok(None) => {
            e.company_lookup = Some(CompanyLookup::NotFound);
            e.company_lookup_error = None;
        }
        Err(err) => {
            e.company_lookup = Some(CompanyLookup::Failed);
            e.company_lookup_error = Some(err.to_string());
        }
    }
}

/// The company name the person gave, cleaned.
pub fn given_company(fields: &LeadFields) -> Option<String> {
    fields
        .company
        .as_deref()
        .map(normalize::clean_text)
        .filter(|s| !s.is_empty())
}

/// One line for the lead's timeline. Like every timeline summary it names no person, and
/// here no domain or company name either: what was learnt and where from.
pub fn summary(result: &LookupResult, cached: bool) -> String {
    let from = if cached { " (cached)" } else { "" };
    match result {
        Ok(Some(c)) => {
            let parts: Vec<String> = [
                c.employees.map(|n| format!("{n} employees")),
                c.industry.as_ref().map(|i| format!("industry {i}")),
                c.country.as_ref().map(|c| format!("country {c}")),
            ]
            .into_iter()
            .flatten()
            .collect();
            let known = if parts.is_empty() {
                "no details".to_owned()
            } else {
                parts.join(", ")
            };
            format!("company found: {known}{from}")
        }
        Ok(None) => format!("company not known to the provider{from}"),
        Err(e) => format!("company lookup failed: {e}; went on without company data"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_answers_read_under_the_contract() {
        let acme = Company {
            name: Some("Acme Robotics".into()),
            domain: Some("acme.io".into()),
            employees: Some(1200),
            industry: Some("Industrial Automation".into()),
            country: Some("DE".into()),
        };
        // (status, body, result)
        let cases: Vec<(u16, &str, LookupResult)> = vec![
            (
                200,
                r#"{"name":"Acme Robotics","domain":"ACME.io","employees":1200,"industry":"Industrial  Automation","country":"Germany","founded":1999}"#,
                Ok(Some(acme.clone())),
            ),
            (
                200,
                r#"{"name":"Acme Robotics","domain":"acme.io","employees":"1200","industry":"Industrial Automation","country":"de"}"#,
                Ok(Some(acme)),
            ),
            (
                200,
                r#"{"name":null,"employees":null}"#,
                Ok(Some(Company::default())),
            ),
            (200, r#"{}"#, Ok(Some(Company::default()))),
            (
                200,
                r#"{"name":"Tiny","country":"Atlantis"}"#,
                Ok(Some(Company {
                    name: Some("Tiny".into()),
                    country: Some("Atlantis".into()),
                    ..Company::default()
                })),
            ),
            (404, "", Ok(None)),
            (404, "<html>not found</html>", Ok(None)),
            (500, "", Err(LookupError::Status(500))),
            (401, "{}", Err(LookupError::Status(401))),
            (429, "{}", Err(LookupError::Status(429))),
        ];
        for (status, body, want) in cases {
            assert_eq!(
                parse_answer(status, body.as_bytes()),
                want,
                "{status} {body}"
            );
        }
    }

    #[test]
    fn garbage_is_a_failure_not_a_company() {
        for body in [
            "<html>Bad gateway</html>",
            "",
            "[1,2]",
            r#""acme""#,
            r#"{"employees":"lots"}"#,
            r#"{"employees":-5}"#,
            r#"{"employees":12.5}"#,
            r#"{"name":42}"#,
            r#"{"name":"Acme""#,
        ] {
            let r = parse_answer(200, body.as_bytes());
            assert!(
                matches!(r, Err(LookupError::Unreadable(_))),
                "{body:?}: {r:?}"
            );
        }
        let huge = format!(r#"{{"name":"{}"}}"#, "x".repeat(MAX_ANSWER_BYTES));
        assert_eq!(
            parse_answer(200, huge.as_bytes()),
            Err(LookupError::Unreadable("answer too large".into()))
        );
        let long = format!(r#"{{"industry":"{}"}}"#, "y".repeat(500));
        let c = parse_answer(200, long.as_bytes()).unwrap().unwrap();
        assert_eq!(c.industry.unwrap().chars().count(), MAX_TEXT_CHARS);
    }

    #[test]
    fn errors_are_short_and_name_neither_domain_nor_key() {
        assert_eq!(
            LookupError::TimedOut(Duration::from_millis(1500)).to_string(),
            "timed out after 1s 500ms"
        );
        assert_eq!(
            LookupError::Status(503).to_string(),
            "provider answered 503"
        );
        assert_eq!(LookupError::Unreachable.to_string(), "provider unreachable");
    }

    fn ttl() -> CacheTtl {
        CacheTtl {
            found: Duration::from_secs(30 * 86_400),
            not_found: Duration::from_secs(86_400),
        }
    }

    #[test]
    fn answers_are_cached_for_their_ttl_and_failures_not_at_all() {
        let now: DateTime<Utc> = "2026-03-02T10:00:00Z".parse().unwrap();
        let found =
            CachedCompany::of("acme.io", &Ok(Some(Company::default())), now, ttl()).unwrap();
        assert_eq!(found.expires_at, now.timestamp() + 30 * 86_400);
        let unknown = CachedCompany::of("acme.io", &Ok(None), now, ttl()).unwrap();
        assert_eq!(unknown.expires_at, now.timestamp() + 86_400);
        assert!(CachedCompany::of("acme.io", &Err(LookupError::Unreachable), now, ttl()).is_none());
        assert!(unknown.is_fresh(now + chrono::Duration::hours(23)));
        assert!(!unknown.is_fresh(now + chrono::Duration::hours(24)));
    }

    #[test]
    fn a_lookup_fills_the_enrichment_and_a_failure_only_marks_it() {
        let base = Enrichment {
            company: Some("acme.io".into()),
            company_domain: Some("acme.io".into()),
            country: Some("US".into()),
            ..Enrichment::default()
        };
        let found = Company {
            name: Some("Acme Robotics".into()),
            employees: Some(250),
            industry: Some("Software".into()),
            country: Some("DE".into()),
            ..Company::default()
        };
        let mut e = base.clone();
        apply(&mut e, &LeadFields::default(), &Ok(Some(found.clone())));
        assert_eq!(e.company_lookup, Some(CompanyLookup::Found));
        assert_eq!(e.company.as_deref(), Some("Acme Robotics"));
        assert_eq!(e.company_size, Some(250));
        assert_eq!(e.industry.as_deref(), Some("Software"));
        assert_eq!(e.company_country.as_deref(), Some("DE"));
        assert_eq!(
            e.country.as_deref(),
            Some("US"),
            "the lead's own country stays"
        );

        let given = LeadFields {
            company: Some("ACME Robotics GmbH".into()),
            ..LeadFields::default()
        };
        let mut e = Enrichment {
            company: Some("ACME Robotics GmbH".into()),
            ..base.clone()
        };
        apply(&mut e, &given, &Ok(Some(found)));
        assert_eq!(
            e.company.as_deref(),
            Some("ACME Robotics GmbH"),
            "the given name wins"
        );

        let mut e = base.clone();
        apply(&mut e, &LeadFields::default(), &Ok(None));
        assert_eq!(e.company_lookup, Some(CompanyLookup::NotFound));
        assert_eq!(e.company_size, None);

        let mut e = base.clone();
        apply(
            &mut e,
            &LeadFields::default(),
            &Err(LookupError::TimedOut(Duration::from_millis(200))),
        );
        assert_eq!(e.company_lookup, Some(CompanyLookup::Failed));
        assert_eq!(
            e.company_lookup_error.as_deref(),
            Some("timed out after 200ms")
        );
        assert_eq!(
            (e.company_size, e.industry.as_deref(), e.company.as_deref()),
            (None, None, Some("acme.io"))
        );
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["company_lookup"], "failed");
    }

    #[test]
    fn the_local_scoring_rules_count_company_size_and_industry() {
        use crate::scoring::score;
        use crate::test_support::{config, lead};
        let c = config();
        let reasons = |result: LookupResult| {
            let mut l = lead();
            let mut e = super::super::enrichment::enrich(&l.fields, None, &[]);
            apply(&mut e, &l.fields, &result);
            l.enrichment = Some(e);
            let s = score(&l, &c.scoring, l.received_at);
            s.reasons.iter().map(|r| r.to_string()).collect::<Vec<_>>()
        };
        let big = Company {
            employees: Some(200),
            industry: Some("logistics".into()),
            ..Company::default()
        };
        let r = reasons(Ok(Some(big)));
        assert!(
            r.contains(&"+15 company of 200+ people".to_string()),
            "{r:?}"
        );
        assert!(
            r.contains(&"+10 company in a target industry".to_string()),
            "{r:?}"
        );
        let small = Company {
            employees: Some(199),
            ..Company::default()
        };
        for result in [Ok(Some(small)), Ok(None), Err(LookupError::Unreachable)] {
            let r = reasons(result);
            assert!(!r.iter().any(|r| r.contains("company")), "{r:?}");
        }
    }

    #[test]
    fn timeline_summaries_say_what_happened() {
        let c = Company {
            name: Some("Acme".into()),
            domain: Some("acme.io".into()),
            employees: Some(1200),
            industry: Some("Software".into()),
            country: Some("DE".into()),
        };
        assert_eq!(
            summary(&Ok(Some(c)), true),
            "company found: 1200 employees, industry Software, country DE (cached)"
        );
        assert_eq!(
            summary(&Ok(Some(Company::default())), false),
            "company found: no details"
        );
        assert_eq!(
            summary(&Ok(None), false),
            "company not known to the provider"
        );
        assert_eq!(
            summary(&Err(LookupError::Status(500)), false),
            "company lookup failed: provider answered 500; went on without company data"
        );
    }
}
