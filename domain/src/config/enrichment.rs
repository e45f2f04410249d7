//! Enrichment: free-mail domains and the company data provider.

use std::time::Duration;

use serde::Deserialize;

use super::durations::humantime_serde;
use super::{Config, ConfigError};
use crate::secret::SecretRef;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichmentConfig {
    /// Extra free-mail domains on top of the built-in list.
    #[serde(default)]
    pub free_email_domains: Vec<String>,
    /// The company data provider; none: leads are scored without company data. Written
    /// `[enrichment.provider]`, as users always have.
    #[serde(default, rename = "provider")]
    pub company_provider: Option<CompanyProviderConfig>,
}

/// A company enrichment provider reached over HTTP (the contract is in `domain::company`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompanyProviderConfig {
    /// Base URL: lookups go to `{url}/companies?domain=<domain>`.
    pub url: String,
    /// Secret reference for the API key, sent as `Authorization: Bearer <key>`;
    /// `LEADRELAY_ENRICHMENT_KEY` wins over it.
    #[serde(default)]
    pub key: Option<String>,
    /// How long one lookup may take; past it the lead goes on without company data.
    #[serde(default = "default_company_provider_timeout", with = "humantime_serde")]
    pub timeout: Duration,
    /// How long an answer about a known company is cached, per domain.
    #[serde(default = "default_cache_ttl", with = "humantime_serde")]
    pub cache_ttl: Duration,
    /// How long "the provider does not know this domain" is cached.
    #[serde(default = "default_not_found_ttl", with = "humantime_serde")]
    pub not_found_ttl: Duration,
}

/// The longest lookup timeout allowed: well inside enrich's Lambda timeout (30 s) even when a
/// batch of leads waits on a slow provider.
pub const MAX_COMPANY_PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

fn default_company_provider_timeout() -> Duration {
    Duration::from_millis(1500)
}

fn default_cache_ttl() -> Duration {
    Duration::from_secs(30 * 24 * 3600)
}

fn default_not_found_ttl() -> Duration {
    Duration::from_secs(24 * 3600)
}

impl CompanyProviderConfig {
    pub fn cache_ttl(&self) -> crate::company::CacheTtl {
        crate::company::CacheTtl {
            found: self.cache_ttl,
            not_found: self.not_found_ttl,
        }
    }
}

impl Config {
    /// The provider's URL, timeout and cache TTLs.
    pub(super) fn validate_enrichment(&self) -> Result<(), ConfigError> {
        if let Some(p) = &self.enrichment.company_provider {
            let key = "enrichment.provider";
            let url = url::Url::parse(&p.url).ok();
            if !url.is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host()) {
                return Err(self.invalid(
                    format!("{key}.url"),
                    format!("{:?} is not an http:// or https:// URL", p.url),
                ));
            }
            if p.timeout.is_zero() || p.timeout > MAX_COMPANY_PROVIDER_TIMEOUT {
                return Err(self.invalid(
                    format!("{key}.timeout"),
                    "must be more than 0 and at most 10s",
                ));
            }
            for (name, ttl) in [
                ("cache_ttl", p.cache_ttl),
                ("not_found_ttl", p.not_found_ttl),
            ] {
                if ttl.is_zero() {
                    return Err(self.invalid(format!("{key}.{name}"), "must be positive"));
                }
            }
        }
        Ok(())
    }

    /// The company provider's API key reference, when a provider is configured;
    /// `LEADRELAY_ENRICHMENT_KEY` wins over the file.
    pub fn company_provider_key_ref(&self) -> Option<SecretRef> {
        self.enrichment.company_provider.as_ref()?;
        if let Some(v) = &self.env.company_provider_key {
            return Some(SecretRef::Literal(v.clone()));
        }
        self.enrichment
            .company_provider
            .as_ref()?
            .key
            .as_deref()
            .map(SecretRef::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::LOCAL;
    use super::*;

    fn with_provider(block: &str) -> Result<Config, ConfigError> {
        Config::from_toml(
            &format!("{LOCAL}\n[enrichment.provider]\n{block}\n"),
            "local.toml",
        )
    }

    #[test]
    fn a_company_provider_needs_only_a_url_and_a_key() {
        assert!(Config::from_toml(LOCAL, "local.toml")
            .unwrap()
            .enrichment
            .company_provider
            .is_none());
        let c = with_provider(
            "url = \"https://companies.example\"\nkey = \"ssm:/leadrelay/secrets/enrichment\"",
        )
        .unwrap();
        let p = c.enrichment.company_provider.as_ref().unwrap();
        assert_eq!(p.timeout, Duration::from_millis(1500));
        assert_eq!(p.cache_ttl, Duration::from_secs(30 * 86_400));
        assert_eq!(p.not_found_ttl, Duration::from_secs(86_400));
        assert_eq!(
            c.company_provider_key_ref(),
            Some(SecretRef::Ssm("/leadrelay/secrets/enrichment".into()))
        );
        let c = with_provider("url = \"http://127.0.0.1:9\"\ntimeout = \"250ms\"\ncache_ttl = \"7d\"\nnot_found_ttl = \"6h\"").unwrap();
        let p = c.enrichment.company_provider.as_ref().unwrap();
        assert_eq!(p.timeout, Duration::from_millis(250));
        assert_eq!(p.cache_ttl().not_found, Duration::from_secs(6 * 3600));
    }

    #[test]
    fn a_company_provider_with_a_bad_url_or_timeout_is_refused() {
        for (block, want) in [
            (
                "url = \"companies.example\"",
                "enrichment.provider.url: \"companies.example\" is not an http:// or https:// URL",
            ),
            (
                "url = \"ftp://companies.example\"",
                "enrichment.provider.url",
            ),
            (
                "url = \"https://c.example\"\ntimeout = \"0s\"",
                "enrichment.provider.timeout: must be more than 0 and at most 10s",
            ),
            (
                "url = \"https://c.example\"\ntimeout = \"1m\"",
                "enrichment.provider.timeout",
            ),
            (
                "url = \"https://c.example\"\nnot_found_ttl = \"0s\"",
                "enrichment.provider.not_found_ttl: must be positive",
            ),
            ("url = \"https://c.example\"\ntimeout = \"soon\"", "timeout"),
            ("url = \"https://c.example\"\nkye = \"x\"", "kye"),
        ] {
            let e = with_provider(block).unwrap_err().to_string();
            assert!(e.contains(want), "{block}: {e}");
        }
    }
}
