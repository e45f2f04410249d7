//! Environment overrides, read once when the configuration is loaded.
//!
//! Precedence, as it has always been: an environment variable that is set (even to an empty
//! value) wins over the file: `LEADRELAY_<SOURCE>_SECRET`, `_VERIFY_TOKEN`, `_ACCESS_TOKEN` and
//! `_API_URL` for a source, `LEADRELAY_LINK_SECRET`, `LEADRELAY_CRM_TOKEN`,
//! `LEADRELAY_ENRICHMENT_KEY`; `LEADRELAY_TEMPLATES_DIR` wins only when not empty. A variable
//! whose value is not valid Unicode counts as unset (the templates folder, a path, excepted).
//!
//! They are read at load rather than when asked for because some are asked for on every
//! delivery (a source's API URL in enrich), and the environment of a Lambda does not change
//! while it runs. Only configured sources are looked up: a name's variable is derived from the
//! name, never the other way round.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use super::{Config, SourceConfig};
use crate::secret::Secret;

/// What the environment says, secrets kept as [`Secret`] so that `Debug` of a configuration
/// never shows them.
#[derive(Debug, Clone, Default)]
pub(super) struct Environment {
    pub(super) sources: BTreeMap<String, SourceEnvironment>,
    pub(super) link_secret: Option<Secret>,
    pub(super) crm_token: Option<Secret>,
    pub(super) company_provider_key: Option<Secret>,
    pub(super) templates_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct SourceEnvironment {
    pub(super) secret: Option<Secret>,
    pub(super) verify_token: Option<Secret>,
    pub(super) access_token: Option<Secret>,
    /// Resolved in full (override, file, platform's public API), as it is read per delivery.
    pub(super) api_url: Option<String>,
}

impl Environment {
    pub(super) fn read(
        sources: &BTreeMap<String, SourceConfig>,
        env: &dyn Fn(&str) -> Option<OsString>,
    ) -> Self {
        // As `std::env::var` reads: set and valid Unicode.
        let text = |name: &str| env(name).and_then(|v| v.into_string().ok());
        let secret = |name: &str| text(name).map(Secret::new);
        Self {
            sources: sources
                .iter()
                .map(|(name, s)| {
                    let var = |key| Config::source_env_var(name, key);
                    let api_url = text(&var("API_URL"))
                        .or_else(|| s.api_url.clone())
                        .or_else(|| s.intake_kind().api_base().map(str::to_owned));
                    let source = SourceEnvironment {
                        secret: secret(&var("SECRET")),
                        verify_token: secret(&var("VERIFY_TOKEN")),
                        access_token: secret(&var("ACCESS_TOKEN")),
                        api_url,
                    };
                    (name.clone(), source)
                })
                .collect(),
            link_secret: secret("LEADRELAY_LINK_SECRET"),
            crm_token: secret("LEADRELAY_CRM_TOKEN"),
            company_provider_key: secret("LEADRELAY_ENRICHMENT_KEY"),
            templates_dir: env("LEADRELAY_TEMPLATES_DIR")
                .filter(|dir| !dir.is_empty())
                .map(PathBuf::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::LOCAL;
    use super::*;
    use crate::secret::SecretRef;

    fn with_env(vars: &[(&str, &str)]) -> Config {
        let vars: BTreeMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Config::from_toml_with_env(LOCAL, "local.toml", &|name| vars.get(name).cloned()).unwrap()
    }

    #[test]
    fn the_environment_wins_over_the_file_and_is_read_at_load() {
        let file = with_env(&[]);
        assert_eq!(
            file.source_secret_ref("tally"),
            Some(SecretRef::parse("tally_whsec_6c1f0e9d8b7a5243"))
        );
        assert_eq!(
            file.source_verify_token_ref("meta"),
            Some(SecretRef::parse("leadrelay-local-verify"))
        );
        assert_eq!(file.source_access_token_ref("meta"), None);
        assert_eq!(
            file.link_secret_ref(),
            SecretRef::parse("local-link-signing-key")
        );
        let meta_api = file.source_api_url("meta").map(str::to_owned);
        assert!(meta_api.is_some());

        let env = with_env(&[
            ("LEADRELAY_TALLY_SECRET", "from-env"),
            ("LEADRELAY_META_VERIFY_TOKEN", "verify-env"),
            ("LEADRELAY_META_ACCESS_TOKEN", ""),
            ("LEADRELAY_META_API_URL", "http://127.0.0.1:9"),
            ("LEADRELAY_LINK_SECRET", "link-env"),
            ("LEADRELAY_CRM_TOKEN", "crm-env"),
            ("LEADRELAY_TEMPLATES_DIR", "/opt/templates"),
        ]);
        let literal = |v: &str| Some(SecretRef::Literal(Secret::new(v)));
        assert_eq!(env.source_secret_ref("tally"), literal("from-env"));
        assert_eq!(env.source_verify_token_ref("meta"), literal("verify-env"));
        // Set but empty still wins, as `std::env::var` always read it.
        assert_eq!(env.source_access_token_ref("meta"), literal(""));
        assert_eq!(env.source_api_url("meta"), Some("http://127.0.0.1:9"));
        assert_eq!(
            env.link_secret_ref(),
            SecretRef::Literal(Secret::new("link-env"))
        );
        assert_eq!(env.crm_token_ref(), literal("crm-env"));
        assert_eq!(env.templates_dir(), Some(PathBuf::from("/opt/templates")));
        // The rest stay as the file says.
        assert_eq!(
            env.source_api_url("hubspot"),
            file.source_api_url("hubspot")
        );
        assert_eq!(
            env.source_secret_ref("json"),
            file.source_secret_ref("json")
        );
    }

    #[test]
    fn an_empty_templates_dir_leaves_the_files_folder() {
        let c = with_env(&[("LEADRELAY_TEMPLATES_DIR", "")]);
        assert_eq!(c.templates_dir(), c.email.templates);
    }

    #[test]
    fn the_company_providers_key_needs_a_provider() {
        let c = with_env(&[("LEADRELAY_ENRICHMENT_KEY", "key-env")]);
        assert_eq!(c.company_provider_key_ref(), None);
    }
}
