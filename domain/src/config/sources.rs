//! The sources leads come from: one per form or ad platform account, with its secrets.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::environment::SourceEnvironment;
use super::{is_slug, Config, ConfigError};
use crate::secret::{Secret, SecretRef};

/// The kinds are the platforms' vocabulary: each names a platform module.
pub use crate::platforms::{AuthScheme, SourceKind};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub kind: SourceKind,
    /// Our own scheme, for `json` sources (default `hmac`) and for `html_form` sources that
    /// post from a server rather than a browser: an `html_form` with `auth` set takes our own
    /// form rules (the scheme required, the configured `honeypot`, `Idempotency-Key` or body-hash
    /// dedupe, `201` answers), as the deprecated `kind = "form"` does. Other platforms
    /// authenticate as the platform specifies.
    #[serde(default)]
    pub auth: Option<AuthScheme>,
    /// With `auth = "hmac"`: every delivery must carry a signed `X-Leadrelay-Timestamp`
    /// within 5 minutes of now (a missing one is refused), so a captured delivery cannot be
    /// replayed later. Default `false`, for senders that cannot send the header.
    #[serde(default)]
    pub require_timestamp: bool,
    /// Secret reference: `ssm:/name`, `env:NAME` or the value itself. The environment variable
    /// `LEADRELAY_<SOURCE>_SECRET` wins over it.
    #[serde(default)]
    pub secret: Option<String>,
    /// A form field that humans never fill; when it is filled the delivery is spam.
    #[serde(default)]
    pub honeypot: Option<String>,
    /// ISO 3166 country assumed for national phone numbers when the lead gives none.
    #[serde(default)]
    pub default_country: Option<String>,
    /// Meta's verify token for the subscription handshake (a secret reference);
    /// `LEADRELAY_<SOURCE>_VERIFY_TOKEN` wins over it.
    #[serde(default)]
    pub verify_token: Option<String>,
    /// Token for reading lead details from the platform's API (Meta Page access token,
    /// LinkedIn or HubSpot access token; a secret reference). `LEADRELAY_<SOURCE>_ACCESS_TOKEN`
    /// wins over it.
    #[serde(default)]
    pub access_token: Option<String>,
    /// Base URL of the platform's API; `LEADRELAY_<SOURCE>_API_URL` wins over it.
    #[serde(default)]
    pub api_url: Option<String>,
    /// Browser origins allowed to post to this source (`https://www.example.com`); empty: any.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Posts taken per client address per minute (default 10 for `html_form`, else no limit).
    #[serde(default)]
    pub rate_limit_per_minute: Option<u32>,
    /// Acknowledgements sent for this source's leads per hour at most; past it leads are still
    /// stored, scored and routed, only not acknowledged (default: no cap).
    #[serde(default)]
    pub max_acknowledgements_per_hour: Option<u32>,
    /// The full public URL the platform calls for this source, without query
    /// (`https://hooks.example.com/webhooks/hubspot`), for signatures over the URL (HubSpot v3)
    /// when a custom domain or proxy changes the host or path. Default: from the request's Host
    /// and X-Forwarded-Proto.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Largest body taken from this source, in KiB (default 256; 64 for `html_form`).
    #[serde(default)]
    pub max_body_kib: Option<usize>,
    /// Where a browser is sent after a successful form post (303 See Other), for forms that
    /// post straight from the page.
    #[serde(default)]
    pub success_redirect: Option<String>,
    /// Platform question key (Typeform ref, Jotform name, Tally label, …) → lead field.
    #[serde(default)]
    pub mapping: BTreeMap<String, String>,
    /// Meta, Google Ads, LinkedIn: poll the platform's API for leads the webhooks missed.
    #[serde(default)]
    pub backstop: Option<super::backstop::BackstopConfig>,
}

impl SourceConfig {
    /// The per-address rate limit, if any.
    pub fn rate_limit(&self) -> Option<u32> {
        self.rate_limit_per_minute
            .or((self.intake_kind() == SourceKind::HtmlForm).then_some(10))
            .filter(|n| *n > 0)
    }

    /// Our own scheme's choice (`hmac` unless `auth` says otherwise).
    pub fn auth_scheme(&self) -> AuthScheme {
        self.auth.unwrap_or(AuthScheme::Hmac)
    }

    /// The kind whose rules take this source's deliveries: an `html_form` with our own `auth`
    /// scheme is our own form format.
    pub fn intake_kind(&self) -> SourceKind {
        match (self.kind, self.auth) {
            (SourceKind::HtmlForm, Some(_)) => SourceKind::Form,
            (kind, _) => kind,
        }
    }

    /// The platform that takes this source's deliveries.
    pub fn platform<'a>(
        &'a self,
        secret: Option<&'a crate::secret::Secret>,
    ) -> Box<dyn crate::platforms::Platform + Send + 'a> {
        crate::platforms::platform(
            self.intake_kind(),
            crate::platforms::Settings {
                auth: crate::platforms::OwnAuth {
                    scheme: self.auth_scheme(),
                    require_timestamp: self.require_timestamp,
                },
                honeypot: self.honeypot.as_deref(),
                secret,
            },
        )
    }

    /// The body limit: explicit, else the platform's, and never above the global one.
    pub fn max_body_bytes(&self) -> usize {
        self.max_body_kib
            .map(|k| k * 1024)
            .unwrap_or_else(|| self.platform(None).default_body_limit())
            .min(crate::intake::MAX_BODY_BYTES)
    }
}

impl Config {
    /// Names, countries and honeypots of every source.
    pub(super) fn validate_sources(&self) -> Result<(), ConfigError> {
        if self.sources.is_empty() {
            return Err(self.invalid("sources", "at least one source is needed"));
        }
        for (name, source) in &self.sources {
            let key = format!("sources.{name}");
            if !is_slug(name) {
                return Err(self.invalid(
                    key,
                    "source names use lower-case letters, digits, dashes and underscores",
                ));
            }
            if let Some(country) = &source.default_country {
                crate::normalize::region(country).ok_or_else(|| {
                    self.invalid(
                        format!("{key}.default_country"),
                        format!("{country:?} is not an ISO 3166 country code"),
                    )
                })?;
            }
            let own_format = matches!(source.intake_kind(), SourceKind::Json | SourceKind::Form);
            if source.require_timestamp && !(own_format && source.auth_scheme() == AuthScheme::Hmac)
            {
                return Err(self.invalid(
                    format!("{key}.require_timestamp"),
                    "require_timestamp only applies to json and form sources with auth = \"hmac\" \
                     (other platforms check their own timestamps, and a token carries none)",
                ));
            }
            if source.honeypot.is_some() && source.intake_kind() != SourceKind::Form {
                return Err(self.invalid(
                    format!("{key}.honeypot"),
                    "a honeypot only makes sense for form sources",
                ));
            }
        }
        Ok(())
    }

    /// Settings that still work but are spelled differently now, each saying what to write
    /// instead; start-up logs them and `leadrelay config check` prints them.
    pub fn deprecations(&self) -> Vec<String> {
        self.sources
            .iter()
            .filter(|(_, s)| s.kind == SourceKind::Form)
            .map(|(name, s)| {
                let auth = match s.auth_scheme() {
                    AuthScheme::Hmac => "hmac",
                    AuthScheme::Token => "token",
                };
                format!(
                    "sources.{name}: kind = \"form\" is deprecated; write kind = \"html_form\" \
                     with auth = \"{auth}\" (an html_form with an auth scheme keeps the form rules: \
                     the scheme, the honeypot, Idempotency-Key dedupe and 201 answers)"
                )
            })
            .collect()
    }

    pub fn source(&self, name: &str) -> Option<&SourceConfig> {
        self.sources.get(name)
    }

    /// The name of the environment variable that overrides a source's setting:
    /// `LEADRELAY_<SOURCE>_<KEY>`, source upper-cased, dashes as underscores.
    pub fn source_env_var(source: &str, key: &str) -> String {
        format!(
            "LEADRELAY_{}_{}",
            source.to_ascii_uppercase().replace('-', "_"),
            key
        )
    }

    /// The secret reference of a source, the environment override winning over the file.
    pub fn source_secret_ref(&self, source: &str) -> Option<SecretRef> {
        self.source_ref(source, |e| e.secret.as_ref(), |s| s.secret.as_deref())
    }

    /// The verify token reference of a source, the environment override winning over the file.
    pub fn source_verify_token_ref(&self, source: &str) -> Option<SecretRef> {
        self.source_ref(
            source,
            |e| e.verify_token.as_ref(),
            |s| s.verify_token.as_deref(),
        )
    }

    /// The API access token reference of a source, the environment override winning.
    pub fn source_access_token_ref(&self, source: &str) -> Option<SecretRef> {
        self.source_ref(
            source,
            |e| e.access_token.as_ref(),
            |s| s.access_token.as_deref(),
        )
    }

    fn source_ref(
        &self,
        source: &str,
        from_env: impl Fn(&SourceEnvironment) -> Option<&Secret>,
        field: impl Fn(&SourceConfig) -> Option<&str>,
    ) -> Option<SecretRef> {
        if let Some(value) = self.env.sources.get(source).and_then(from_env) {
            return Some(SecretRef::Literal(value.clone()));
        }
        field(self.sources.get(source)?).map(SecretRef::parse)
    }

    /// The Google Ads developer token reference of a source's backstop.
    pub fn source_developer_token_ref(&self, source: &str) -> Option<SecretRef> {
        let b = self.sources.get(source)?.backstop.as_ref()?;
        b.developer_token.as_deref().map(SecretRef::parse)
    }

    /// A Google backstop's OAuth client secret and refresh token references.
    pub fn source_oauth_refs(&self, source: &str) -> Option<(SecretRef, SecretRef)> {
        let o = self
            .sources
            .get(source)?
            .backstop
            .as_ref()?
            .oauth
            .as_ref()?;
        Some((
            SecretRef::parse(&o.client_secret),
            SecretRef::parse(&o.refresh_token),
        ))
    }

    /// The base URL of a source's platform API: `LEADRELAY_<SOURCE>_API_URL`, the file, or
    /// the platform's public API (resolved at load: enrich asks on every delivery).
    pub fn source_api_url(&self, source: &str) -> Option<&str> {
        self.env.sources.get(source)?.api_url.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::LOCAL;
    use super::*;

    #[test]
    fn form_is_written_html_form_with_an_auth_scheme() {
        let c = Config::from_toml(LOCAL, "local.toml").unwrap();
        assert!(c.deprecations().is_empty());
        let s = &c.sources["form"];
        assert_eq!(s.kind, SourceKind::HtmlForm);
        assert_eq!(s.intake_kind(), SourceKind::Form);
        assert_eq!(s.rate_limit(), None);
        assert_eq!(s.max_body_bytes(), crate::intake::MAX_BODY_BYTES);
        let old = LOCAL.replacen(
            "kind = \"html_form\"\nauth = \"token\"",
            "kind = \"form\"\nauth = \"token\"",
            1,
        );
        let c = Config::from_toml(&old, "local.toml").unwrap();
        let d = c.deprecations();
        assert_eq!(d.len(), 1);
        assert!(
            d[0].contains("write kind = \"html_form\" with auth = \"token\""),
            "{d:?}"
        );
        assert_eq!(c.sources["form"].intake_kind(), SourceKind::Form);
    }

    #[test]
    fn require_timestamp_is_taken_only_by_signed_sources_of_our_own_formats() {
        let c = Config::from_toml(LOCAL, "local.toml").unwrap();
        assert!(
            c.sources["json"].require_timestamp,
            "the example requires it"
        );
        assert!(!c.sources["form"].require_timestamp);
        for (source, kind) in [("form", "html_form"), ("tally", "tally")] {
            let text = LOCAL.replacen(
                &format!("[sources.{source}]\nkind = \"{kind}\"\n"),
                &format!("[sources.{source}]\nkind = \"{kind}\"\nrequire_timestamp = true\n"),
                1,
            );
            assert_ne!(text, LOCAL, "{source} is in the example");
            let err = Config::from_toml(&text, "local.toml")
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(&format!("sources.{source}.require_timestamp")),
                "{err}"
            );
        }
    }

    #[test]
    fn source_env_var_names_upper_case_and_underscore() {
        assert_eq!(
            Config::source_env_var("gravity-forms", "SECRET"),
            "LEADRELAY_GRAVITY_FORMS_SECRET"
        );
    }

    #[test]
    fn linkedin_is_written_as_one_word() {
        let c = Config::from_toml(LOCAL, "local.toml").unwrap();
        assert_eq!(c.sources["linkedin"].kind, SourceKind::LinkedIn);
    }
}
