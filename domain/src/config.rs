//! The configuration file: sources, teams, routing rules, scoring points, SLA targets and the
//! escalation ladder, email sender and signed links. Parsed and validated once, when a function
//! starts; every error names the file, the key and what is wrong.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::calendar::{BusinessCalendar, CalendarConfig};
use crate::condition::Condition;
use crate::lead::{EscalationAction, ScoreDimension};
use crate::secret::SecretRef;

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
    /// Business-hours calendars by name, ready to count with.
    pub calendars: BTreeMap<String, BusinessCalendar>,
    pub identity: IdentityConfig,
    pub lifecycle: LifecycleConfig,
    pub crm: CrmConfig,
    /// Named sets of ISO country codes for `in_region` conditions.
    pub regions: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
    /// A person submitting again within this long of their latest submission joins their open
    /// lead; later, a new lead is made and linked to the same person.
    #[serde(default = "default_identity_window", with = "humantime_serde")]
    pub window: Duration,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        Self {
            window: default_identity_window(),
        }
    }
}

fn default_identity_window() -> Duration {
    Duration::from_secs(30 * 24 * 3600)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleConfig {
    /// The reason codes a lead can be disqualified with.
    #[serde(default = "default_disqualify_reasons")]
    pub disqualify_reasons: Vec<String>,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        Self {
            disqualify_reasons: default_disqualify_reasons(),
        }
    }
}

fn default_disqualify_reasons() -> Vec<String> {
    [
        "no_budget",
        "no_need",
        "competitor",
        "wrong_contact",
        "spam",
    ]
    .map(String::from)
    .to_vec()
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrmConfig {
    /// The bearer token a CRM presents to `POST /v1/leads/{id}/status` (a secret reference);
    /// `LEADRELAY_CRM_TOKEN` wins over it. None: the endpoint is closed.
    #[serde(default)]
    pub token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The SES-verified address every email is sent from.
    pub sender: String,
    /// The display name in the From header.
    #[serde(default = "default_sender_name")]
    pub sender_name: String,
    /// A folder of email templates laid over the built-in ones, relative to the configuration
    /// file (to the working directory for a configuration in SSM). `LEADRELAY_TEMPLATES_DIR`
    /// wins over it.
    #[serde(default)]
    pub templates: Option<PathBuf>,
}

fn default_sender_name() -> String {
    "Leadrelay".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinksConfig {
    /// Public base URL of the HTTP API, for the links in emails.
    pub base_url: String,
    /// The key that signs "I've contacted this lead" links (a secret reference).
    pub secret: String,
    /// How long a signed link stays valid.
    #[serde(default = "default_link_ttl", with = "humantime_serde")]
    pub ttl: Duration,
}

fn default_link_ttl() -> Duration {
    Duration::from_secs(7 * 24 * 3600)
}

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
                auth: self.auth_scheme(),
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

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamConfig {
    /// Who hears about leads nobody in the team could take.
    pub manager_email: String,
    /// The business-hours calendar (a name under `[calendars]`) the team's SLA counts on;
    /// none: every hour counts.
    #[serde(default)]
    pub calendar: Option<String>,
    pub owners: Vec<OwnerConfig>,
    /// What happens to a lead when nobody in the team is available (all away, off shift or
    /// at capacity).
    #[serde(default)]
    pub when_none_available: NoneAvailable,
    /// The owner who takes leads now when nobody is available (`fallback_owner` policy).
    #[serde(default)]
    pub fallback_owner: Option<String>,
    /// Speed-to-lead targets for this team's leads, by grade or tier, over `[sla.targets]`.
    #[serde(default, with = "humantime_map")]
    pub sla_targets: BTreeMap<String, Duration>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoneAvailable {
    /// The owner who is available soonest takes it; their SLA counts from their opening.
    #[default]
    NextAvailable,
    /// The team's `fallback_owner` takes it now.
    FallbackOwner,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OwnerConfig {
    pub id: String,
    pub name: String,
    pub email: String,
    pub manager_email: String,
    #[serde(default = "yes")]
    pub active: bool,
    /// The owner's own calendar (a name under `[calendars]`), over the team's: their working
    /// hours and holidays, for availability and the SLA.
    #[serde(default)]
    pub calendar: Option<String>,
    /// Share of the team's leads relative to the others' (2 takes twice as many as 1).
    #[serde(default = "one_u32")]
    pub weight: u32,
    /// Most leads a day (in the owner's time zone), when set.
    #[serde(default)]
    pub max_per_day: Option<u32>,
    /// Most leads a week (ISO week, Monday to Sunday), when set.
    #[serde(default)]
    pub max_per_week: Option<u32>,
}

fn one_u32() -> u32 {
    1
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    #[serde(default)]
    pub rules: Vec<RoutingRule>,
    /// The team that takes what no rule matched, and what a matched team could not take.
    pub fallback_team: String,
    /// Accounts and their owners: a lead from the domain goes to its owner first.
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    /// A company domain whose lead an owner took within this long is that owner's account too
    /// (learned); none: only configured accounts.
    #[serde(default, with = "humantime_option")]
    pub learn_accounts_for: Option<Duration>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The company's email domain, e.g. `northwind-logistics.com`.
    pub domain: String,
    pub owner: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    pub name: String,
    /// All conditions must hold (an empty list always matches).
    #[serde(default)]
    pub when: Vec<Condition>,
    /// Where matching leads go: a team (its rotation) …
    #[serde(default)]
    pub team: Option<String>,
    /// … or one owner (when available; else their team's rotation).
    #[serde(default)]
    pub owner: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringConfig {
    #[serde(default)]
    pub rules: Vec<ScoringRule>,
    /// Tiers from the top down: a lead is in the first tier whose `min_points` it reaches.
    pub tiers: Vec<TierConfig>,
    /// Intent points halve every this long after the person's latest submission; none: intent
    /// never decays.
    #[serde(default, with = "humantime_option")]
    pub intent_half_life: Option<Duration>,
    /// A grade from the two dimensions: fit band and intent band, e.g. "A1".
    #[serde(default)]
    pub grades: Option<GradesConfig>,
    /// Points at which a lead is marketing- or sales-qualified.
    #[serde(default)]
    pub qualification: Option<QualificationConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradesConfig {
    /// Fit bands from the top down (names like "A", "B", "C", "D").
    pub fit: Vec<TierConfig>,
    /// Intent bands from the top down (names like "1", "2", "3", "4").
    pub intent: Vec<TierConfig>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualificationConfig {
    /// Marketing-qualified from this many points.
    pub mql: i32,
    /// Sales-qualified from this many points (above `mql`).
    pub sql: i32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoringRule {
    /// Shown with the points, e.g. "corporate email".
    pub reason: String,
    pub points: i32,
    #[serde(default = "fit")]
    pub dimension: ScoreDimension,
    pub when: Vec<Condition>,
}

fn fit() -> ScoreDimension {
    ScoreDimension::Fit
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierConfig {
    pub name: String,
    pub min_points: i32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaConfig {
    /// Speed-to-lead target per tier, e.g. `hot = "15m"`.
    #[serde(with = "humantime_map")]
    pub targets: BTreeMap<String, Duration>,
    /// Steps taken while a lead waits for first contact, in order of `at_percent`.
    #[serde(default = "default_ladder")]
    pub escalation: Vec<EscalationStep>,
    /// How many times one lead may be reassigned by the ladder.
    #[serde(default = "default_max_reassignments")]
    pub max_reassignments: u32,
}

fn default_max_reassignments() -> u32 {
    2
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationStep {
    /// When, as a percentage of the SLA target (100 = at the deadline).
    pub at_percent: u32,
    pub action: EscalationAction,
}

fn default_ladder() -> Vec<EscalationStep> {
    vec![EscalationStep {
        at_percent: 100,
        action: EscalationAction::NotifyManager,
    }]
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrichmentConfig {
    /// Extra free-mail domains on top of the built-in list.
    #[serde(default)]
    pub free_email_domains: Vec<String>,
    /// The company data provider; none: leads are scored without company data.
    #[serde(default)]
    pub provider: Option<ProviderConfig>,
}

/// A company enrichment provider reached over HTTP (the contract is in `domain::company`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Base URL: lookups go to `{url}/companies?domain=<domain>`.
    pub url: String,
    /// Secret reference for the API key, sent as `Authorization: Bearer <key>`;
    /// `LEADRELAY_ENRICHMENT_KEY` wins over it.
    #[serde(default)]
    pub key: Option<String>,
    /// How long one lookup may take; past it the lead goes on without company data.
    #[serde(default = "default_provider_timeout", with = "humantime_serde")]
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
pub const MAX_PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

fn default_provider_timeout() -> Duration {
    Duration::from_millis(1500)
}

fn default_cache_ttl() -> Duration {
    Duration::from_secs(30 * 24 * 3600)
}

fn default_not_found_ttl() -> Duration {
    Duration::from_secs(24 * 3600)
}

impl ProviderConfig {
    pub fn cache_ttl(&self) -> crate::company::CacheTtl {
        crate::company::CacheTtl {
            found: self.cache_ttl,
            not_found: self.not_found_ttl,
        }
    }
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
    #[error("environment variable {name}: {message}")]
    Env { name: String, message: String },
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

    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        let config = Config {
            origin: origin.to_owned(),
            email: raw.email,
            links: raw.links,
            sources: raw.sources,
            teams: raw.teams,
            routing: raw.routing,
            scoring: raw.scoring,
            sla: raw.sla,
            enrichment: raw.enrichment,
            calendars: BTreeMap::new(),
            identity: raw.identity,
            lifecycle: raw.lifecycle,
            crm: raw.crm,
            regions: raw
                .regions
                .into_iter()
                .map(|(k, v)| (k, v.into_iter().map(|c| c.to_ascii_uppercase()).collect()))
                .collect(),
        };
        let mut config = config;
        for (name, c) in &raw.calendars {
            let calendar = c.build().map_err(|m| {
                config.invalid(
                    format!(
                        "calendars.{name}.{}",
                        m.split_once(": ").map(|(k, _)| k).unwrap_or("")
                    )
                    .trim_end_matches('.'),
                    m.split_once(": ").map(|(_, m)| m).unwrap_or(&m),
                )
            })?;
            config.calendars.insert(name.clone(), calendar);
        }
        config.expand_regions()?;
        config.validate()?;
        Ok(config)
    }

    /// Fills every `in_region` condition with its region's countries.
    fn expand_regions(&mut self) -> Result<(), ConfigError> {
        let regions = self.regions.clone();
        let origin = self.origin.clone();
        let expand = |key: String, c: &mut Condition| -> Result<(), ConfigError> {
            if let Some(name) = &c.in_region {
                c.region_countries =
                    regions
                        .get(name)
                        .cloned()
                        .ok_or_else(|| ConfigError::Invalid {
                            origin: origin.clone(),
                            key,
                            message: format!(
                                "unknown region {name:?}; define it under [regions] ({})",
                                regions.keys().cloned().collect::<Vec<_>>().join(", ")
                            ),
                        })?;
            }
            Ok(())
        };
        for (i, r) in self.routing.rules.iter_mut().enumerate() {
            for (j, c) in r.when.iter_mut().enumerate() {
                expand(format!("routing.rules[{i}].when[{j}].in_region"), c)?;
            }
        }
        for (i, r) in self.scoring.rules.iter_mut().enumerate() {
            for (j, c) in r.when.iter_mut().enumerate() {
                expand(format!("scoring.rules[{i}].when[{j}].in_region"), c)?;
            }
        }
        Ok(())
    }

    fn invalid(&self, key: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            origin: self.origin.clone(),
            key: key.into(),
            message: message.into(),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        check_email(&self.email.sender).map_err(|m| self.invalid("email.sender", m))?;
        if !(self.links.base_url.starts_with("https://")
            || self.links.base_url.starts_with("http://"))
        {
            return Err(self.invalid("links.base_url", "must start with https:// or http://"));
        }
        if self.links.secret.trim().is_empty() {
            return Err(self.invalid("links.secret", "must not be empty"));
        }
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
            if source.honeypot.is_some() && source.intake_kind() != SourceKind::Form {
                return Err(self.invalid(
                    format!("{key}.honeypot"),
                    "a honeypot only makes sense for form sources",
                ));
            }
        }
        if let Some(p) = &self.enrichment.provider {
            let key = "enrichment.provider";
            let url = url::Url::parse(&p.url).ok();
            if !url.is_some_and(|u| matches!(u.scheme(), "http" | "https") && u.has_host()) {
                return Err(self.invalid(
                    format!("{key}.url"),
                    format!("{:?} is not an http:// or https:// URL", p.url),
                ));
            }
            if p.timeout.is_zero() || p.timeout > MAX_PROVIDER_TIMEOUT {
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
        if self.teams.is_empty() {
            return Err(self.invalid("teams", "at least one team is needed"));
        }
        let mut owner_ids = std::collections::BTreeSet::new();
        for (name, team) in &self.teams {
            let key = format!("teams.{name}");
            check_email(&team.manager_email)
                .map_err(|m| self.invalid(format!("{key}.manager_email"), m))?;
            for (i, owner) in team.owners.iter().enumerate() {
                let okey = format!("{key}.owners[{i}]");
                if !is_slug(&owner.id) {
                    return Err(self.invalid(
                        format!("{okey}.id"),
                        "owner ids use lower-case letters, digits, dashes and underscores",
                    ));
                }
                if !owner_ids.insert(owner.id.clone()) {
                    // One owner id means one person everywhere: their load, their away status.
                    return Err(self.invalid(
                        format!("{okey}.id"),
                        format!("owner {:?} is defined twice", owner.id),
                    ));
                }
                check_email(&owner.email).map_err(|m| self.invalid(format!("{okey}.email"), m))?;
                check_email(&owner.manager_email)
                    .map_err(|m| self.invalid(format!("{okey}.manager_email"), m))?;
            }
        }
        for (name, team) in &self.teams {
            let refs = team
                .calendar
                .iter()
                .map(|c| (format!("teams.{name}.calendar"), c))
                .chain(team.owners.iter().enumerate().filter_map(|(i, o)| {
                    o.calendar
                        .as_ref()
                        .map(|c| (format!("teams.{name}.owners[{i}].calendar"), c))
                }));
            for (key, calendar) in refs {
                if !self.calendars.contains_key(calendar) {
                    return Err(self.invalid(key, format!("unknown calendar {calendar:?}")));
                }
            }
        }
        for (i, a) in self.routing.accounts.iter().enumerate() {
            if self.owner(&a.owner).is_none() {
                return Err(self.invalid(
                    format!("routing.accounts[{i}].owner"),
                    format!("unknown owner {:?}", a.owner),
                ));
            }
            if crate::normalize::ascii_domain(&a.domain).is_none() {
                return Err(self.invalid(
                    format!("routing.accounts[{i}].domain"),
                    format!("{:?} is not a domain", a.domain),
                ));
            }
        }
        for (name, team) in &self.teams {
            let key = format!("teams.{name}");
            for (i, o) in team.owners.iter().enumerate() {
                if o.weight == 0 {
                    return Err(self.invalid(
                        format!("{key}.owners[{i}].weight"),
                        "must be at least 1 (set active = false to take an owner out)",
                    ));
                }
            }
            match (&team.when_none_available, &team.fallback_owner) {
                (NoneAvailable::FallbackOwner, None) => {
                    return Err(self.invalid(
                        format!("{key}.fallback_owner"),
                        "when_none_available = \"fallback_owner\" needs a fallback_owner",
                    ))
                }
                (_, Some(o)) if self.owner(o).is_none() => {
                    return Err(self.invalid(
                        format!("{key}.fallback_owner"),
                        format!("unknown owner {o:?}"),
                    ))
                }
                _ => {}
            }
            for (k, d) in &team.sla_targets {
                self.check_sla_key(&format!("{key}.sla_targets.{k}"), k, d)?;
            }
        }
        if !self.teams.contains_key(&self.routing.fallback_team) {
            return Err(self.invalid(
                "routing.fallback_team",
                format!("unknown team {:?}", self.routing.fallback_team),
            ));
        }
        for (i, rule) in self.routing.rules.iter().enumerate() {
            let key = format!("routing.rules[{i}]");
            match (&rule.team, &rule.owner) {
                (Some(team), None) if !self.teams.contains_key(team) => {
                    return Err(self.invalid(
                        format!("{key}.team"),
                        format!("unknown team {team:?} (rule {:?})", rule.name),
                    ));
                }
                (None, Some(owner)) if self.owner(owner).is_none() => {
                    return Err(self.invalid(
                        format!("{key}.owner"),
                        format!("unknown owner {owner:?} (rule {:?})", rule.name),
                    ));
                }
                (Some(_), None) | (None, Some(_)) => {}
                _ => {
                    return Err(self.invalid(
                        key,
                        format!("rule {:?} needs exactly one of team or owner", rule.name),
                    ))
                }
            }
            for (j, c) in rule.when.iter().enumerate() {
                c.validate()
                    .map_err(|m| self.invalid(format!("routing.rules[{i}].when[{j}]"), m))?;
            }
        }
        if self.scoring.tiers.is_empty() {
            return Err(self.invalid("scoring.tiers", "at least one tier is needed"));
        }
        check_bands(&self.scoring.tiers).map_err(|m| self.invalid("scoring.tiers", m))?;
        if let Some(g) = &self.scoring.grades {
            check_bands(&g.fit).map_err(|m| self.invalid("scoring.grades.fit", m))?;
            check_bands(&g.intent).map_err(|m| self.invalid("scoring.grades.intent", m))?;
        }
        if let Some(q) = &self.scoring.qualification {
            if q.sql <= q.mql {
                return Err(self.invalid(
                    "scoring.qualification.sql",
                    format!("must be above mql ({})", q.mql),
                ));
            }
        }
        if self.scoring.intent_half_life.is_some_and(|d| d.is_zero()) {
            return Err(self.invalid("scoring.intent_half_life", "must be positive"));
        }
        for (i, rule) in self.scoring.rules.iter().enumerate() {
            if rule.when.is_empty() {
                return Err(self.invalid(
                    format!("scoring.rules[{i}].when"),
                    "a scoring rule needs at least one condition",
                ));
            }
            for (j, c) in rule.when.iter().enumerate() {
                c.validate()
                    .map_err(|m| self.invalid(format!("scoring.rules[{i}].when[{j}]"), m))?;
            }
        }
        for tier in &self.scoring.tiers {
            match self.sla.targets.get(&tier.name) {
                None => {
                    return Err(self.invalid(
                        format!("sla.targets.{}", tier.name),
                        format!("tier {:?} has no SLA target", tier.name),
                    ))
                }
                Some(d) if d.is_zero() => {
                    return Err(
                        self.invalid(format!("sla.targets.{}", tier.name), "must be positive")
                    )
                }
                Some(_) => {}
            }
        }
        for (name, d) in &self.sla.targets {
            self.check_sla_key(&format!("sla.targets.{name}"), name, d)?;
        }
        for (i, code) in self.lifecycle.disqualify_reasons.iter().enumerate() {
            if !is_slug(code) {
                return Err(self.invalid(
                    format!("lifecycle.disqualify_reasons[{i}]"),
                    "reason codes use lower-case letters, digits, dashes and underscores",
                ));
            }
        }
        if self.sla.escalation.is_empty() {
            return Err(self.invalid("sla.escalation", "at least one step is needed"));
        }
        for w in self.sla.escalation.windows(2) {
            if w[0].at_percent >= w[1].at_percent {
                return Err(
                    self.invalid("sla.escalation", "steps go in increasing at_percent order")
                );
            }
        }
        Ok(())
    }

    /// An SLA target names a tier or a grade, and is positive.
    fn check_sla_key(&self, key: &str, name: &str, d: &Duration) -> Result<(), ConfigError> {
        if d.is_zero() {
            return Err(self.invalid(key, "must be positive"));
        }
        let is_tier = self.scoring.tiers.iter().any(|t| t.name == name);
        let is_grade = self.scoring.grades.as_ref().is_some_and(|g| {
            g.fit.iter().any(|f| {
                name.strip_prefix(f.name.as_str())
                    .is_some_and(|i| g.intent.iter().any(|b| b.name == i))
            })
        });
        if !is_tier && !is_grade {
            return Err(self.invalid(key, format!("no scoring tier or grade is called {name:?}")));
        }
        Ok(())
    }

    /// The SLA target for a lead of `grade` and `tier` in `team`: the team's own target by grade,
    /// then by tier, then the global ones the same way.
    pub fn sla_target(&self, team: &str, grade: Option<&str>, tier: &str) -> Option<Duration> {
        let team_targets = self.teams.get(team).map(|t| &t.sla_targets);
        [team_targets, Some(&self.sla.targets)]
            .into_iter()
            .flatten()
            .find_map(|targets| grade.and_then(|g| targets.get(g)).or(targets.get(tier)))
            .copied()
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

    /// Every owner, with their team.
    pub fn owners(&self) -> impl Iterator<Item = (&str, &OwnerConfig)> {
        self.teams
            .iter()
            .flat_map(|(team, t)| t.owners.iter().map(move |o| (team.as_str(), o)))
    }

    /// The team an owner belongs to.
    pub fn team_of(&self, owner_id: &str) -> Option<&str> {
        self.owners()
            .find(|(_, o)| o.id == owner_id)
            .map(|(t, _)| t)
    }

    /// The calendar an owner's SLA counts on: the owner's own, else the team's.
    pub fn calendar_for(&self, team: &str, owner_id: &str) -> Option<&BusinessCalendar> {
        let t = self.teams.get(team)?;
        let owner = t.owners.iter().find(|o| o.id == owner_id);
        owner
            .and_then(|o| o.calendar.as_ref())
            .or(t.calendar.as_ref())
            .and_then(|name| self.calendars.get(name))
    }

    pub fn owner(&self, id: &str) -> Option<&OwnerConfig> {
        self.owners().map(|(_, o)| o).find(|o| o.id == id)
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
        let var = Self::source_env_var(source, "SECRET");
        if let Ok(value) = std::env::var(&var) {
            return Some(SecretRef::Literal(crate::secret::Secret::new(value)));
        }
        self.sources
            .get(source)?
            .secret
            .as_deref()
            .map(SecretRef::parse)
    }

    /// The verify token reference of a source, the environment override winning over the file.
    pub fn source_verify_token_ref(&self, source: &str) -> Option<SecretRef> {
        self.source_ref(source, "VERIFY_TOKEN", |s| s.verify_token.as_deref())
    }

    /// The API access token reference of a source, the environment override winning.
    pub fn source_access_token_ref(&self, source: &str) -> Option<SecretRef> {
        self.source_ref(source, "ACCESS_TOKEN", |s| s.access_token.as_deref())
    }

    fn source_ref(
        &self,
        source: &str,
        key: &str,
        field: impl Fn(&SourceConfig) -> Option<&str>,
    ) -> Option<SecretRef> {
        if let Ok(value) = std::env::var(Self::source_env_var(source, key)) {
            return Some(SecretRef::Literal(crate::secret::Secret::new(value)));
        }
        field(self.sources.get(source)?).map(SecretRef::parse)
    }

    /// The base URL of a source's platform API: `LEADRELAY_<SOURCE>_API_URL`, the file, or
    /// the platform's public API.
    pub fn source_api_url(&self, source: &str) -> Option<String> {
        if let Ok(url) = std::env::var(Self::source_env_var(source, "API_URL")) {
            return Some(url);
        }
        let s = self.sources.get(source)?;
        s.api_url
            .clone()
            .or_else(|| s.platform(None).api_base().map(str::to_owned))
    }

    /// The CRM token reference; `LEADRELAY_CRM_TOKEN` wins over the file.
    pub fn crm_token_ref(&self) -> Option<SecretRef> {
        match std::env::var("LEADRELAY_CRM_TOKEN") {
            Ok(v) => Some(SecretRef::Literal(crate::secret::Secret::new(v))),
            Err(_) => self.crm.token.as_deref().map(SecretRef::parse),
        }
    }

    /// The company provider's API key reference, when a provider is configured;
    /// `LEADRELAY_ENRICHMENT_KEY` wins over the file.
    pub fn enrichment_key_ref(&self) -> Option<SecretRef> {
        self.enrichment.provider.as_ref()?;
        if let Ok(v) = std::env::var("LEADRELAY_ENRICHMENT_KEY") {
            return Some(SecretRef::Literal(crate::secret::Secret::new(v)));
        }
        self.enrichment
            .provider
            .as_ref()?
            .key
            .as_deref()
            .map(SecretRef::parse)
    }

    /// The folder of template overrides: `LEADRELAY_TEMPLATES_DIR`, else `email.templates`.
    pub fn templates_dir(&self) -> Option<PathBuf> {
        match std::env::var_os("LEADRELAY_TEMPLATES_DIR") {
            Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
            _ => self.email.templates.clone(),
        }
    }

    /// The link-signing secret reference; `LEADRELAY_LINK_SECRET` wins over the file.
    pub fn link_secret_ref(&self) -> SecretRef {
        match std::env::var("LEADRELAY_LINK_SECRET") {
            Ok(v) => SecretRef::Literal(crate::secret::Secret::new(v)),
            Err(_) => SecretRef::parse(&self.links.secret),
        }
    }
}

/// Bands (tiers, grades) go from the highest `min_points` down, each strictly lower.
fn check_bands(bands: &[TierConfig]) -> Result<(), String> {
    if bands.is_empty() {
        return Err("at least one band is needed".into());
    }
    if bands.windows(2).any(|w| w[0].min_points <= w[1].min_points) {
        return Err("bands go from the highest min_points down, each strictly lower".into());
    }
    Ok(())
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

/// `"15m"`-style durations via humantime.
mod humantime_serde {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        humantime::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

mod humantime_option {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| humantime::parse_duration(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

mod humantime_map {
    use serde::{Deserialize, Deserializer};
    use std::collections::BTreeMap;
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<String, Duration>, D::Error> {
        BTreeMap::<String, String>::deserialize(d)?
            .into_iter()
            .map(|(k, v)| {
                humantime::parse_duration(&v)
                    .map(|d| (k.clone(), d))
                    .map_err(|e| serde::de::Error::custom(format!("{k}: {e}")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const LOCAL: &str = include_str!("../../infra/config/local.toml");

    #[test]
    fn the_local_configuration_is_valid() {
        let c = Config::from_toml(LOCAL, "local.toml").unwrap();
        assert!(c.sources.contains_key("json"));
        assert!(c.sources.contains_key("form"));
        assert!(c.teams.values().any(|t| t.owners.len() >= 3));
    }

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

    fn broken(from: &str, to: &str) -> String {
        assert!(
            LOCAL.contains(from),
            "fixture text {from:?} not in local.toml"
        );
        let text = LOCAL.replacen(from, to, 1);
        Config::from_toml(&text, "local.toml")
            .unwrap_err()
            .to_string()
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

    #[test]
    fn a_tier_without_an_sla_target_is_refused() {
        let e = broken("cold = \"4h\"", "");
        assert_eq!(
            e,
            "local.toml: sla.targets.cold: tier \"cold\" has no SLA target"
        );
    }

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
            .provider
            .is_none());
        let c = with_provider(
            "url = \"https://companies.example\"\nkey = \"ssm:/leadrelay/secrets/enrichment\"",
        )
        .unwrap();
        let p = c.enrichment.provider.as_ref().unwrap();
        assert_eq!(p.timeout, Duration::from_millis(1500));
        assert_eq!(p.cache_ttl, Duration::from_secs(30 * 86_400));
        assert_eq!(p.not_found_ttl, Duration::from_secs(86_400));
        assert_eq!(
            c.enrichment_key_ref(),
            Some(SecretRef::Ssm("/leadrelay/secrets/enrichment".into()))
        );
        let c = with_provider("url = \"http://127.0.0.1:9\"\ntimeout = \"250ms\"\ncache_ttl = \"7d\"\nnot_found_ttl = \"6h\"").unwrap();
        let p = c.enrichment.provider.as_ref().unwrap();
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

    #[test]
    fn a_templates_folder_is_found_beside_the_configuration_file() {
        let dir = std::env::temp_dir().join(format!("leadrelay-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("leadrelay.toml");
        let text = LOCAL.replacen("[email]", "[email]\ntemplates = \"my-templates\"", 1);
        std::fs::write(&file, text).unwrap();
        let c = Config::from_path(&file).unwrap();
        assert_eq!(c.email.templates, Some(dir.join("my-templates")));
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn sla_targets_go_team_grade_then_team_tier_then_global_grade_then_global_tier() {
        let text = LOCAL
            .replacen("hot = \"15m\"", "hot = \"15m\"\nA1 = \"5m\"", 1)
            .replacen(
                "calendar = \"berlin\"                         # the team's",
                "sla_targets = { hot = \"30m\" }\ncalendar = \"berlin\"                         # the team's",
                1,
            );
        let c = Config::from_toml(&text, "local.toml").unwrap();
        let min = |m: u64| Some(Duration::from_secs(m * 60));
        assert_eq!(c.sla_target("sales", Some("A1"), "hot"), min(5));
        assert_eq!(c.sla_target("sales", Some("B2"), "hot"), min(15));
        assert_eq!(c.sla_target("enterprise", Some("B2"), "hot"), min(30));
        assert_eq!(c.sla_target("enterprise", Some("B2"), "warm"), min(60));
    }

    #[test]
    fn a_scoring_model_that_cannot_work_is_refused_at_start_up() {
        let e = broken(
            "qualification = { mql = 30, sql = 60 }",
            "qualification = { mql = 60, sql = 30 }",
        );
        assert_eq!(
            e,
            "local.toml: scoring.qualification.sql: must be above mql (60)"
        );
        let e = broken(
            "{ name = \"B\", min_points = 20 }",
            "{ name = \"B\", min_points = 50 }",
        );
        assert!(
            e.starts_with("local.toml: scoring.grades.fit: bands go from the highest"),
            "{e}"
        );
        let e = broken("hot = \"15m\"", "hot = \"15m\"\nZ9 = \"1m\"");
        assert_eq!(
            e,
            "local.toml: sla.targets.Z9: no scoring tier or grade is called \"Z9\""
        );
        let e = broken("intent_half_life = \"30d\"", "intent_half_life = \"0s\"");
        assert_eq!(e, "local.toml: scoring.intent_half_life: must be positive");
    }

    #[test]
    fn source_env_var_names_upper_case_and_underscore() {
        assert_eq!(
            Config::source_env_var("gravity-forms", "SECRET"),
            "LEADRELAY_GRAVITY_FORMS_SECRET"
        );
    }
}
