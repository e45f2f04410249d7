//! The company enrichment provider over HTTP: one `GET {url}/companies?domain=<domain>` per
//! lookup, bounded by the configured timeout and never retried. What the answer means is
//! `domain::company` (the contract is documented there and in the README); another provider is
//! another request builder and answer parser next to these.

use std::time::Duration;

use leadrelay_domain::company::{self, CacheTtl, LookupError, LookupResult, MAX_ANSWER_BYTES};
use leadrelay_domain::config::CompanyProviderConfig;
use leadrelay_domain::secret::Secret;

use crate::outbound::{HttpClient, HttpError};

#[derive(Debug, thiserror::Error)]
pub enum CompanyProviderError {
    #[error("enrichment.provider.url: {0:?} cannot be a base URL")]
    BadUrl(String),
}

/// A configured company provider, built once per process (in `Deps`).
#[derive(Debug, Clone)]
pub struct CompanyProvider {
    http: HttpClient,
    base: url::Url,
    key: Secret,
    timeout: Duration,
    ttl: CacheTtl,
}

impl CompanyProvider {
    /// Over the shared HTTP client; the provider's own timeout applies to each of its requests.
    pub fn new(
        http: HttpClient,
        config: &CompanyProviderConfig,
        key: Secret,
    ) -> Result<Self, CompanyProviderError> {
        let base = url::Url::parse(&config.url)
            .ok()
            .filter(|u| !u.cannot_be_a_base())
            .ok_or_else(|| CompanyProviderError::BadUrl(config.url.clone()))?;
        Ok(Self {
            http,
            base,
            key,
            timeout: config.timeout,
            ttl: config.cache_ttl(),
        })
    }

    pub fn cache_ttl(&self) -> CacheTtl {
        self.ttl
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `{url}/companies?domain=<domain>`, the domain query-encoded.
    pub fn lookup_url(&self, domain: &str) -> url::Url {
        let mut u = self.base.clone();
        if let Ok(mut path) = u.path_segments_mut() {
            path.pop_if_empty().push("companies");
        }
        u.query_pairs_mut().append_pair("domain", domain);
        u
    }

    /// Looks a company up by its domain. Never longer than the timeout; every failure (down,
    /// slow, an error status, an unreadable answer) is an `Err` the caller records and moves on.
    pub async fn lookup(&self, domain: &str) -> LookupResult {
        let answer = self
            .http
            .get(self.lookup_url(domain))
            .bearer_auth(self.key.expose())
            .accept_json()
            .timeout(self.timeout)
            .max_bytes(MAX_ANSWER_BYTES)
            .send()
            .await
            .map_err(|e| match e {
                HttpError::TimedOut(_) => LookupError::TimedOut(self.timeout),
                HttpError::Unreachable(_) => LookupError::Unreachable,
                HttpError::TooLarge(_) => LookupError::Unreadable("answer too large".into()),
                e => LookupError::Request(e.to_string()),
            })?;
        company::parse_answer(answer.status, &answer.body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(url: &str) -> CompanyProvider {
        let config: CompanyProviderConfig = toml::from_str(&format!("url = {url:?}")).unwrap();
        CompanyProvider::new(HttpClient::default(), &config, Secret::new("k")).unwrap()
    }

    #[test]
    fn lookups_go_under_the_base_url_with_the_domain_encoded() {
        for (base, want) in [
            (
                "https://companies.example",
                "https://companies.example/companies?domain=acme.io",
            ),
            (
                "https://api.example/v2/",
                "https://api.example/v2/companies?domain=acme.io",
            ),
            (
                "http://127.0.0.1:8080/v2",
                "http://127.0.0.1:8080/v2/companies?domain=acme.io",
            ),
        ] {
            assert_eq!(provider(base).lookup_url("acme.io").as_str(), want);
        }
        assert_eq!(
            provider("https://c.example")
                .lookup_url("a&b=c.io")
                .as_str(),
            "https://c.example/companies?domain=a%26b%3Dc.io"
        );
    }

    #[test]
    fn the_key_never_shows_in_debug_output() {
        let p = provider("https://c.example");
        assert!(!format!("{p:?}").contains("\"k\""), "{p:?}");
    }
}
