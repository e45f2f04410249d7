//! The configuration file: sources, teams, routing rules, scoring points, SLA targets and the
//! escalation ladder, email sender and signed links. Parsed and validated once, when a function
//! starts; every error names the file, the key and what is wrong.
//!
//! One module per section of the file, each with its types and its own checks; this module
//! reads the file and runs the checks in order.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use serde::Deserialize;

use crate::calendar::{BusinessCalendar, CalendarConfig};

pub mod backstop;
mod calendars;
mod durations;
mod email;
mod enrichment;
mod environment;
mod lifecycle;
mod regions;
mod retention;
mod routing;
mod scoring;
mod sla;
mod sources;
mod sweep;
mod teams;

pub use backstop::BackstopConfig;
pub use email::{EmailConfig, LinksConfig};
pub use enrichment::{CompanyProviderConfig, EnrichmentConfig, MAX_COMPANY_PROVIDER_TIMEOUT};
pub use lifecycle::{CrmConfig, IdentityConfig, LifecycleConfig};
pub use retention::RetentionConfig;
pub use routing::{AccountConfig, RoutingConfig, RoutingRule};
pub use scoring::{GradesConfig, QualificationConfig, ScoringConfig, ScoringRule, TierConfig};
pub use sla::{EscalationStep, SlaConfig};
pub use sources::{AuthScheme, SourceConfig, SourceKind};
pub use sweep::SweepConfig;
pub use teams::{NoneAvailable, OwnerConfig, TeamConfig};

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where it was read from, for messages ("infra/config/local.toml", "ssm:/leadrelay/config").
    pub origin: String,
    pub email: EmailConfig,
    pub links: LinksConfig,
    pub sources: BTreeMap<String, SourceConfig>,
    pub teams: BTreeMap<String, TeamConfig>,
    pub routing: RoutingConfig,
    pub scoring: ScoringConfig,
    pub sla: SlaConfig,
    pub enrichment: EnrichmentConfig,
    /// When the escalation schedule sends a stalled lead on again.
    pub sweep: SweepConfig,
    /// How long raw deliveries, spam and test leads are kept.
    pub retention: RetentionConfig,
    /// Business-hours calendars by name, ready to count with.
    pub calendars: BTreeMap<String, BusinessCalendar>,
    pub identity: IdentityConfig,
    pub lifecycle: LifecycleConfig,
    pub crm: CrmConfig,
    /// Named sets of ISO country codes for `in_region` conditions.
    pub regions: BTreeMap<String, Vec<String>>,
    /// The environment's overrides, read at load (see `environment`).
    env: environment::Environment,
}

/// The file as written, before cross-checks.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    email: EmailConfig,
    links: LinksConfig,
    sources: BTreeMap<String, SourceConfig>,
    teams: BTreeMap<String, TeamConfig>,
    routing: RoutingConfig,
    scoring: ScoringConfig,
    sla: SlaConfig,
    #[serde(default)]
    enrichment: EnrichmentConfig,
    #[serde(default)]
    sweep: SweepConfig,
    #[serde(default)]
    retention: RetentionConfig,
    #[serde(default)]
    calendars: BTreeMap<String, CalendarConfig>,
    #[serde(default)]
    identity: IdentityConfig,
    #[serde(default)]
    lifecycle: LifecycleConfig,
    #[serde(default)]
    crm: CrmConfig,
    #[serde(default)]
    regions: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{origin}: cannot read: {source}")]
    Read {
        origin: String,
        source: std::io::Error,
    },
    #[error("{origin}: {message}")]
    Syntax { origin: String, message: String },
    #[error("{origin}: {key}: {message}")]
    Invalid {
        origin: String,
        key: String,
        message: String,
    },
    #[error("{origin}: cannot fetch from SSM: {message}")]
    Ssm { origin: String, message: String },
}

impl Config {
    pub fn from_path(path: &Path) -> Result<Self, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            origin: origin.clone(),
            source,
        })?;
        let mut config = Self::from_toml(&text, &origin)?;
        if let (Some(dir), Some(base)) = (&mut config.email.templates, path.parent()) {
            if dir.is_relative() {
                *dir = base.join(&*dir);
            }
        }
        Ok(config)
    }

    /// Parses and checks a configuration, with the overrides of the process's environment.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ConfigError> {
        Self::from_toml_with_env(text, origin, &|name| std::env::var_os(name))
    }

    /// As [`Config::from_toml`], with the overrides read from `env` instead of the process's
    /// environment, so a test can load with a given environment without touching the process's.
    pub fn from_toml_with_env(
        text: &str,
        origin: &str,
        env: &dyn Fn(&str) -> Option<OsString>,
    ) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let mut config = Config {
            origin: origin.to_owned(),
            email: raw.email,
            links: raw.links,
            sources: raw.sources,
            teams: raw.teams,
            routing: raw.routing,
            scoring: raw.scoring,
            sla: raw.sla,
            enrichment: raw.enrichment,
            sweep: raw.sweep,
            retention: raw.retention,
            calendars: BTreeMap::new(),
            identity: raw.identity,
            lifecycle: raw.lifecycle,
            crm: raw.crm,
            env: environment::Environment::default(),
            regions: raw
                .regions
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().map(|c| c.to_ascii_uppercase()).collect()))
                .collect(),
        };
        config.build_calendars(&raw.calendars)?;
        config.expand_regions()?;
        config.validate()?;
        config.env = environment::Environment::read(&config.sources, env);
        config.validate_backstop_credentials()?;
        Ok(config)
    }

    fn invalid(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin.clone(),
            key: key.into(),
            message: message.into(),
        }
    }
    /// Section by section, in the order the checks have always run, so a file with several
    /// mistakes is still refused with the same first one.
    fn validate(&self) -> Result<(), ConfigError> {
        self.validate_email()?;
        self.validate_sources()?;
        self.validate_backstop()?;
        self.validate_enrichment()?;
        self.validate_owners()?;
        self.validate_accounts()?;
        self.validate_team_policies()?;
        self.validate_routing()?;
        self.validate_scoring()?;
        self.validate_sla_targets()?;
        self.validate_lifecycle()?;
        self.validate_escalation()?;
        self.validate_sweep()
    }
}

fn is_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

fn check_email(s: &str) -> Result<(), String> {
    if crate::normalize::email(s).is_some() {
        Ok(())
    } else {
        Err(format!("{s:?} is not an email address"))
    }
}

/// The local configuration and a way to break it, for every section's tests.
#[cfg(test)]
mod fixtures {
    use super::Config;

    pub(super) const LOCAL: &str = include_str!("../../../infra/config/local.toml");

    pub(super) fn broken(from: &str, to: &str) -> String {
        assert!(
            LOCAL.contains(from),
            "fixture text {from:?} not in local.toml"
        );
        let text = LOCAL.replacen(from, to, 1);
        Config::from_toml(&text, "local.toml")
            .unwrap_err()
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{broken, LOCAL};
    use super::*;

    #[test]
    fn the_local_configuration_is_valid() {
        let c = Config::from_toml(LOCAL, "local.toml").unwrap();
        assert!(c.sources.contains_key("json"));
        assert!(c.sources.contains_key("form"));
        assert!(c.teams.values().any(|t| t.owners.len() >= 3));
    }

    #[test]
    fn errors_name_the_file_the_key_and_the_problem() {
        let e = broken("fallback_team = \"sales\"", "fallback_team = \"nobody\"");
        assert_eq!(
            e,
            "local.toml: routing.fallback_team: unknown team \"nobody\""
        );
        let e = broken("hot = \"15m\"", "hot = \"soon\"");
        assert!(e.starts_with("local.toml: "), "{e}");
        assert!(e.contains("hot"), "{e}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let e = broken("[links]", "[links]\nbase_ulr = \"x\"");
        assert!(e.contains("base_ulr"), "{e}");
    }
}
