//! Everything a handler needs, built once per process: configuration, secrets, clients, the
//! clock. The Lambdas build it from the environment; the local runner and the tests build it
//! with [`Deps::build`] from the same parts.

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_config::SdkConfig;

use crate::company_provider::{CompanyProvider, CompanyProviderError};
use crate::mailer::Mailer;
use crate::outbound::HttpClient;
use crate::platform_api::PlatformApi;
use crate::queue::{QueueName, Queues};
use crate::store::Store;
use leadrelay_domain::clock::{SharedClock, SystemClock};
use leadrelay_domain::config::{Config, ConfigError};
use leadrelay_domain::identity::{PhoneReader, READ_PHONES};
use leadrelay_domain::secret::{Secret, SecretRef};
use leadrelay_domain::templates::{TemplateError, Templates};

/// Where the configuration is read from when `LEADRELAY_CONFIG` is not set.
pub const DEFAULT_CONFIG: &str = "infra/config/local.toml";
pub const DEFAULT_SLA_SHARDS: u32 = 8;

/// The SLA shards record cannot give the CLI its count.
#[derive(Debug, thiserror::Error)]
pub enum RecordedShardsError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("the SLA shards record names more than 64 shards or an impossible narrowing (escalate reads every shard meanwhile); mend it, or set LEADRELAY_SLA_SHARDS")]
    OutOfBounds,
}

#[derive(Debug, thiserror::Error)]
pub enum DepsError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("environment variable {name}: {message}")]
    Env { name: &'static str, message: String },
    #[error("secret for {what}: {message}")]
    Secret { what: String, message: String },
    #[error(transparent)]
    CompanyProvider(#[from] CompanyProviderError),
    #[error("email template {0}")]
    Templates(#[from] TemplateError),
}

/// Which secrets a function reads at start-up: only those it uses, so a function's IAM role
/// needs no access to the others (least privilege; each kind lives under its own SSM path in
/// infra/template.yaml).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretsNeeded {
    /// The sources' signing secrets and handshake verify tokens (capture).
    pub webhooks: bool,
    /// The sources' tokens for their platforms' APIs (enrich).
    pub platform_tokens: bool,
    /// The key that signs contacted links (capture checks them, notify signs them).
    pub links: bool,
    /// The token a CRM presents to change a lead's status (capture).
    pub crm: bool,
    /// The company provider's API key (enrich).
    pub company_provider: bool,
    /// A Google backstop's OAuth client secret and refresh token (the backstop).
    pub backstop_oauth: bool,
}

impl SecretsNeeded {
    /// Every secret: the local stack, the tests and the CLI.
    pub const ALL: Self = Self {
        webhooks: true,
        platform_tokens: true,
        links: true,
        crm: true,
        company_provider: true,
        backstop_oauth: true,
    };
    /// None: route and escalate.
    pub const NONE: Self = Self {
        webhooks: false,
        platform_tokens: false,
        links: false,
        crm: false,
        company_provider: false,
        backstop_oauth: false,
    };
    /// Capture verifies webhooks, contacted links and the CRM's token.
    pub const CAPTURE: Self = Self {
        webhooks: true,
        links: true,
        crm: true,
        ..Self::NONE
    };
    /// Enrich reads platforms' APIs and the company provider.
    pub const ENRICH: Self = Self {
        platform_tokens: true,
        company_provider: true,
        ..Self::NONE
    };
    /// The backstop reads platforms' APIs (access tokens, Google's developer token) and mints
    /// Google's access tokens.
    pub const BACKSTOP: Self = Self {
        platform_tokens: true,
        backstop_oauth: true,
        ..Self::NONE
    };
    /// Notify signs contacted links.
    pub const NOTIFY: Self = Self {
        links: true,
        ..Self::NONE
    };
}

/// Whether a function renders emails. Only those load and check the templates, so a broken
/// template override holds back emails, never the capture of leads.
///
/// The loader is a function pointer named only by [`TemplatesNeeded::LOAD`], not a flag: a
/// function built with [`TemplatesNeeded::NONE`] never refers to the template engine, so the
/// linker leaves it out of that binary (MiniJinja and the built-in templates, about 0.5 MB of
/// each of capture, enrich, route, escalate and the backstop).
#[derive(Clone, Copy)]
pub struct TemplatesNeeded(Option<LoadTemplates>);

/// Loads the templates a configuration names.
type LoadTemplates = fn(&Config) -> Result<Templates, TemplateError>;

impl TemplatesNeeded {
    /// The built-in templates with the configured overrides (notify, the local stack, the CLI).
    pub const LOAD: Self = Self(Some(leadrelay_domain::template_files::load));
    /// None (capture, enrich, route, escalate, the backstop).
    pub const NONE: Self = Self(None);

    fn load(self, config: &Config) -> Result<Option<Arc<Templates>>, TemplateError> {
        self.0.map(|load| load(config).map(Arc::new)).transpose()
    }
}

impl std::fmt::Debug for TemplatesNeeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "LOAD" } else { "NONE" })
    }
}

/// What reading contact details takes, as function pointers named only by the functions that
/// do it (capture, enrich, the backstop), so only they link libphonenumber's metadata; the
/// others reuse the phone's reading kept on the lead.
#[derive(Debug, Clone, Copy)]
pub struct ContactDetails {
    /// Reads a phone number during init: libphonenumber compiles its parsing patterns and
    /// builds the North American region's metadata on first use (about 2.5 ms of CPU in a
    /// release build), so the first request does not.
    pub prime: fn(),
    /// Reads a lead's phone when it changed since the lead was last saved.
    pub read_phones: PhoneReader,
}

/// The secrets the handlers use, resolved once at start-up.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    sources: BTreeMap<String, Secret>,
    verify_tokens: BTreeMap<String, Secret>,
    access_tokens: BTreeMap<String, Secret>,
    developer_tokens: BTreeMap<String, Secret>,
    oauth_client_secrets: BTreeMap<String, Secret>,
    refresh_tokens: BTreeMap<String, Secret>,
    link: Option<Secret>,
    crm: Option<Secret>,
    company_provider_key: Option<Secret>,
}

impl Secrets {
    /// The signing secret or token of a source, when it has one.
    pub fn source(&self, name: &str) -> Option<&Secret> {
        self.sources.get(name)
    }

    /// A source's handshake verify token (Meta), when it has one.
    pub fn verify_token(&self, name: &str) -> Option<&Secret> {
        self.verify_tokens.get(name)
    }

    /// A source's token for its platform's API, when it has one.
    pub fn access_token(&self, name: &str) -> Option<&Secret> {
        self.access_tokens.get(name)
    }

    /// A backstop's Google Ads developer token, when the source has one.
    pub fn developer_token(&self, name: &str) -> Option<&Secret> {
        self.developer_tokens.get(name)
    }

    /// A Google backstop's OAuth client secret and refresh token, when it has `oauth`.
    pub fn oauth(&self, name: &str) -> Option<(&Secret, &Secret)> {
        Some((
            self.oauth_client_secrets.get(name)?,
            self.refresh_tokens.get(name)?,
        ))
    }

    /// Whether a platform's API is to be called: some source has an access token or an
    /// OAuth client to mint one.
    pub fn calls_platform_apis(&self) -> bool {
        !self.access_tokens.is_empty() || !self.refresh_tokens.is_empty()
    }

    /// The key that signs contacted links (absent in functions that read no secrets).
    pub fn link(&self) -> Option<&Secret> {
        self.link.as_ref()
    }

    /// The token a CRM presents to change a lead's status; none: the endpoint is closed.
    pub fn crm(&self) -> Option<&Secret> {
        self.crm.as_ref()
    }

    /// The company provider's API key, when a provider is configured.
    pub fn company_provider_key(&self) -> Option<&Secret> {
        self.company_provider_key.as_ref()
    }

    /// Reads the secrets `needed` of those the configuration refers to: environment overrides
    /// first, then SSM Parameter Store or the environment as the reference says, then literal
    /// values. SSM names are read ten to a `GetParameters` call: a cold start waits for one round
    /// trip per ten secrets, not one per secret.
    pub async fn resolve(
        config: &Config,
        needed: SecretsNeeded,
        ssm: &aws_sdk_ssm::Client,
    ) -> Result<Self, DepsError> {
        let wanted = Self::wanted(config, needed)?;
        let names: Vec<&str> = wanted
            .iter()
            .filter_map(|(_, _, r)| match r {
                SecretRef::Ssm(name) => Some(name.as_str()),
                _ => None,
            })
            .collect();
        let mut from_ssm = ssm_parameters(ssm, &names).await?;
        let mut secrets = Self::default();
        for (slot, what, r) in wanted {
            let err = |message: String| DepsError::Secret {
                what: what.clone(),
                message,
            };
            let secret = match r {
                SecretRef::Literal(s) => s,
                SecretRef::Env(name) => std::env::var(&name)
                    .map(Secret::new)
                    .map_err(|_| err(format!("environment variable {name} is not set")))?,
                SecretRef::Ssm(name) => from_ssm
                    .remove(&name)
                    .map(Secret::new)
                    .ok_or_else(|| err(format!("SSM parameter {name}: not found")))?,
            };
            match slot {
                Slot::Source(name) => _ = secrets.sources.insert(name, secret),
                Slot::VerifyToken(name) => _ = secrets.verify_tokens.insert(name, secret),
                Slot::AccessToken(name) => _ = secrets.access_tokens.insert(name, secret),
                Slot::DeveloperToken(name) => _ = secrets.developer_tokens.insert(name, secret),
                Slot::OAuthClientSecret(name) => {
                    _ = secrets.oauth_client_secrets.insert(name, secret)
                }
                Slot::RefreshToken(name) => _ = secrets.refresh_tokens.insert(name, secret),
                Slot::Link => secrets.link = Some(secret),
                Slot::Crm => secrets.crm = Some(secret),
                Slot::CompanyProviderKey => secrets.company_provider_key = Some(secret),
            }
        }
        Ok(secrets)
    }

    /// Which secrets to read, and where each is: what the configuration refers to, of the
    /// kinds `needed`. A secret a needed kind requires but the configuration lacks is an error.
    fn wanted(
        config: &Config,
        needed: SecretsNeeded,
    ) -> Result<Vec<(Slot, String, SecretRef)>, DepsError> {
        let mut wanted = Vec::new();
        for name in config.sources.keys() {
            if needed.platform_tokens {
                if let Some(r) = config.source_access_token_ref(name) {
                    let what = format!("source {name} access token");
                    wanted.push((Slot::AccessToken(name.clone()), what, r));
                }
                if let Some(r) = config.source_developer_token_ref(name) {
                    let what = format!("source {name} backstop developer token");
                    wanted.push((Slot::DeveloperToken(name.clone()), what, r));
                }
            }
            if let Some((client_secret, refresh_token)) = config
                .source_oauth_refs(name)
                .filter(|_| needed.backstop_oauth)
            {
                let what = format!("source {name} backstop oauth.client_secret");
                wanted.push((Slot::OAuthClientSecret(name.clone()), what, client_secret));
                let what = format!("source {name} backstop oauth.refresh_token");
                wanted.push((Slot::RefreshToken(name.clone()), what, refresh_token));
            }
            if !needed.webhooks {
                continue;
            }
            let what = format!("source {name}");
            let r = config.source_secret_ref(name);
            // A website form posting from the browser cannot keep a secret; a token is optional.
            if r.is_none()
                && config.sources[name].intake_kind()
                    == leadrelay_domain::config::SourceKind::HtmlForm
            {
                continue;
            }
            let r = r.ok_or_else(|| DepsError::Secret {
                what: what.clone(),
                message: format!(
                    "none configured: set sources.{name}.secret or {}",
                    Config::source_env_var(name, "SECRET")
                ),
            })?;
            wanted.push((Slot::Source(name.clone()), what, r));
            if let Some(r) = config.source_verify_token_ref(name) {
                let what = format!("source {name} verify token");
                wanted.push((Slot::VerifyToken(name.clone()), what, r));
            }
        }
        if needed.links {
            wanted.push((Slot::Link, "links.secret".into(), config.link_secret_ref()));
        }
        if let Some(r) = config.crm_token_ref().filter(|_| needed.crm) {
            wanted.push((Slot::Crm, "crm.token".into(), r));
        }
        if config.enrichment.company_provider.is_some() && needed.company_provider {
            let what = "enrichment.provider.key";
            let r = config
                .company_provider_key_ref()
                .ok_or_else(|| DepsError::Secret {
                    what: what.into(),
                    message:
                        "none configured: set enrichment.provider.key or LEADRELAY_ENRICHMENT_KEY"
                            .into(),
                })?;
            wanted.push((Slot::CompanyProviderKey, what.into(), r));
        }
        Ok(wanted)
    }
}

/// Where a resolved secret goes in [`Secrets`].
enum Slot {
    Source(String),
    VerifyToken(String),
    AccessToken(String),
    DeveloperToken(String),
    OAuthClientSecret(String),
    RefreshToken(String),
    Link,
    Crm,
    CompanyProviderKey,
}

/// The most names one `GetParameters` call takes.
const SSM_NAMES_PER_CALL: usize = 10;

/// Reads SSM parameters by name, decrypted: one `GetParameters` call per ten names, one after
/// the other on the connection the configuration's request opened. Names SSM does not know are
/// absent from the answer (the caller names the setting).
///
/// Not at once: a second call in flight needs a second connection, and at a cold start a new
/// connection to SSM costs a TCP and a TLS handshake, two round trips where waiting for the
/// first call costs one. Against the emulator it measured slower too (docs/development.md).
async fn ssm_parameters(
    ssm: &aws_sdk_ssm::Client,
    names: &[&str],
) -> Result<BTreeMap<String, String>, DepsError> {
    let mut unique: Vec<&str> = names.to_vec();
    unique.sort_unstable();
    unique.dedup();
    let mut found = BTreeMap::new();
    for chunk in unique.chunks(SSM_NAMES_PER_CALL) {
        let out = ssm
            .get_parameters()
            .set_names(Some(chunk.iter().map(|n| (*n).to_owned()).collect()))
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| DepsError::Secret {
                what: chunk.join(", "),
                message: format!(
                    "SSM GetParameters: {}",
                    aws_sdk_ssm::error::DisplayErrorContext(&e)
                ),
            })?;
        for p in out.parameters.unwrap_or_default() {
            if let (Some(name), Some(value)) = (p.name, p.value) {
                found.insert(name, value);
            }
        }
    }
    Ok(found)
}

async fn ssm_parameter(ssm: &aws_sdk_ssm::Client, name: &str) -> Result<String, String> {
    let out = ssm
        .get_parameter()
        .name(name)
        .with_decryption(true)
        .send()
        .await
        .map_err(|e| aws_sdk_ssm::error::DisplayErrorContext(&e).to_string())?;
    out.parameter
        .and_then(|p| p.value)
        .ok_or_else(|| "parameter has no value".to_owned())
}

/// Loads the configuration from a file path or from `ssm:<parameter name>`.
pub async fn load_config(location: &str, sdk: &SdkConfig) -> Result<Config, ConfigError> {
    load_config_with(location, &aws_sdk_ssm::Client::new(sdk)).await
}

async fn load_config_with(
    location: &str,
    ssm: &aws_sdk_ssm::Client,
) -> Result<Config, ConfigError> {
    match location.strip_prefix("ssm:") {
        Some(name) => {
            let origin = location.to_owned();
            let text = ssm_parameter(ssm, name)
                .await
                .map_err(|message| ConfigError::Ssm {
                    origin: origin.clone(),
                    message,
                })?;
            Config::from_toml(&text, &origin)
        }
        None => Config::from_path(std::path::Path::new(location)),
    }
}

/// Names of the AWS resources: the table and the queue URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    pub table: String,
    pub captured_queue_url: String,
    pub scored_queue_url: String,
    pub notify_queue_url: String,
    pub sla_shards: u32,
}

impl Resources {
    /// From `LEADRELAY_TABLE`, `LEADRELAY_*_QUEUE_URL` and `LEADRELAY_SLA_SHARDS`.
    pub fn from_env() -> Result<Self, DepsError> {
        fn var(name: &'static str) -> Result<String, DepsError> {
            std::env::var(name).map_err(|_| DepsError::Env {
                name,
                message: "is not set".into(),
            })
        }
        let sla_shards = match std::env::var("LEADRELAY_SLA_SHARDS") {
            Err(_) => DEFAULT_SLA_SHARDS,
            Ok(v) => v
                .parse()
                .ok()
                .filter(|n| (1..=leadrelay_domain::sla_shards::MAX_SHARDS).contains(n))
                .ok_or(DepsError::Env {
                    name: "LEADRELAY_SLA_SHARDS",
                    message: format!("{v:?} is not a number from 1 to 64"),
                })?,
        };
        Ok(Self {
            table: var("LEADRELAY_TABLE")?,
            captured_queue_url: var(QueueName::Captured.env_var())?,
            scored_queue_url: var(QueueName::Scored.env_var())?,
            notify_queue_url: var(QueueName::Notify.env_var())?,
            sla_shards,
        })
    }
}

impl Resources {
    /// For the operator's CLI run without `LEADRELAY_SLA_SHARDS`: the count escalate last ran
    /// with, from its record in the table (the default when there is none). Leads the CLI saves
    /// then land on shards escalate reads, not on the default's.
    pub async fn with_recorded_sla_shards(
        mut self,
        dynamodb: &aws_sdk_dynamodb::Client,
    ) -> Result<Self, RecordedShardsError> {
        let store = Store::new(
            dynamodb.clone(),
            self.table.clone(),
            self.sla_shards,
            std::time::Duration::ZERO,
            None,
        );
        if let Some(record) = store.sla_shard_record().await? {
            if !leadrelay_domain::sla_shards::is_sound(&record) {
                return Err(RecordedShardsError::OutOfBounds);
            }
            self.sla_shards = record.current();
        }
        Ok(self)
    }
}

/// The AWS clients, one of each, built once: building one parses its service's endpoint rules
/// and checks the HTTP client. Clients of one configuration share its HTTP client, and so its
/// connections.
#[derive(Debug, Clone)]
pub struct Clients {
    dynamodb: aws_sdk_dynamodb::Client,
    ssm: aws_sdk_ssm::Client,
    sqs: aws_sdk_sqs::Client,
    /// Only where email is sent: notify, the local stack, the CLI.
    ses: Option<aws_sdk_ses::Client>,
}

/// Builds SES's client. A function pointer named only by the functions that send email (notify's
/// [`crate::lambda::NOTIFY`]), so the others neither build it at init nor link it.
pub type NewSesClient = fn(&SdkConfig) -> aws_sdk_ses::Client;

impl Clients {
    /// Every client: the local stack, the tests and the CLI.
    pub fn new(sdk: &SdkConfig) -> Self {
        Self::with_ses(sdk, Some(aws_sdk_ses::Client::new))
    }

    /// A function's: SES's only when it sends email.
    pub fn with_ses(sdk: &SdkConfig, ses: Option<NewSesClient>) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            ssm: aws_sdk_ssm::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            ses: ses.map(|new| new(sdk)),
        }
    }
}

/// What every handler works with.
#[derive(Debug, Clone)]
pub struct Deps {
    pub config: Arc<Config>,
    pub secrets: Arc<Secrets>,
    pub store: Store,
    pub queues: Queues,
    /// Sends email (absent in functions that send none).
    pub mailer: Option<Mailer>,
    /// Reads lead details from platforms that deliver only ids.
    pub platform_api: PlatformApi,
    /// Looks companies up by domain; none when no provider is configured (or its key was not
    /// read: functions that read no secrets do not look companies up).
    pub company_provider: Option<CompanyProvider>,
    pub clock: SharedClock,
    /// The email templates (absent in functions that send no email).
    pub templates: Option<Arc<Templates>>,
}

impl Deps {
    /// Whether this function calls anything outside AWS (a platform's API, the company
    /// provider). Only then is the outbound client worth building during init: it reads the
    /// machine's trusted roots.
    pub fn calls_out(&self) -> bool {
        self.secrets.calls_platform_apis() || self.company_provider.is_some()
    }

    /// For the Lambda functions: AWS configuration from the environment Lambda gives a function
    /// ([`crate::sdk::from_lambda_environment`], which honours `AWS_ENDPOINT_URL`), the
    /// configuration from `LEADRELAY_CONFIG`, the system clock.
    ///
    /// The table's connection is opened meanwhile, so that the first request does not pay for
    /// it: on AWS, SSM and DynamoDB are two hosts and two TLS handshakes, and init takes the
    /// longer of the two instead of their sum. Failing to open it is only a slower first
    /// request (the request itself will say what is wrong), so it is logged, not returned.
    pub async fn from_env(
        secrets: SecretsNeeded,
        templates: TemplatesNeeded,
        contact_details: Option<ContactDetails>,
        ses: Option<NewSesClient>,
    ) -> Result<Self, DepsError> {
        let sdk = crate::sdk::from_lambda_environment().await;
        let resources = Resources::from_env()?;
        let location = std::env::var("LEADRELAY_CONFIG").unwrap_or_else(|_| DEFAULT_CONFIG.into());
        let clients = Clients::with_ses(&sdk, ses);
        let opening = Store::new(
            clients.dynamodb.clone(),
            resources.table.clone(),
            resources.sla_shards,
            std::time::Duration::ZERO,
            None,
        );
        let build = async {
            // The first phone is read on a blocking thread while this one waits for SSM (the
            // configuration, then the secrets), so init takes the longer of the two, not their
            // sum. Started once the clients are built, not before: on two cores shared with
            // moto, reading it beside that work made capture's, enrich's and the backstop's
            // init 1-2 ms longer (docs/development.md).
            let primed = contact_details.map(|d| tokio::task::spawn_blocking(d.prime));
            let config = load_config_with(&location, &clients.ssm).await?;
            let deps = Self::build_with(
                clients.clone(),
                config,
                resources,
                Arc::new(SystemClock),
                secrets,
                templates,
                contact_details.map(|d| d.read_phones),
            )
            .await;
            if let Some(primed) = primed {
                // It cannot fail but by a panic, and a release build aborts on one.
                let _ = primed.await;
            }
            deps
        };
        let open = async {
            if let Err(e) = opening.prime().await {
                tracing::warn!(error = %e, "could not open the connection to the table during init");
            }
            Ok(())
        };
        // A failed build ends init at once (and is reported), without waiting on the opening.
        let (deps, ()) = tokio::try_join!(build, open)?;
        Ok(deps)
    }

    /// From explicit parts, with every secret and the templates: the local stack, the tests and
    /// the CLI.
    pub async fn build(
        sdk: &SdkConfig,
        config: Config,
        resources: Resources,
        clock: SharedClock,
    ) -> Result<Self, DepsError> {
        Self::build_with(
            Clients::new(sdk),
            config,
            resources,
            clock,
            SecretsNeeded::ALL,
            TemplatesNeeded::LOAD,
            Some(READ_PHONES),
        )
        .await
    }

    /// From explicit parts: the one builder behind every entry point.
    pub async fn build_with(
        clients: Clients,
        config: Config,
        resources: Resources,
        clock: SharedClock,
        needed: SecretsNeeded,
        templates: TemplatesNeeded,
        read_phones: Option<PhoneReader>,
    ) -> Result<Self, DepsError> {
        for d in config.deprecations() {
            tracing::warn!(deprecation = %d, "configuration uses a deprecated setting");
        }
        let templates = templates.load(&config)?;
        let secrets = match needed {
            SecretsNeeded::NONE => Secrets::default(),
            needed => Secrets::resolve(&config, needed, &clients.ssm).await?,
        };
        let store = Store::new(
            clients.dynamodb,
            resources.table,
            resources.sla_shards,
            config.sweep.grace,
            read_phones,
        );
        let queues = Queues::new(
            clients.sqs,
            resources.captured_queue_url,
            resources.scored_queue_url,
            resources.notify_queue_url,
        );
        let mailer = clients
            .ses
            .map(|ses| Mailer::new(ses, &config.email.sender, &config.email.sender_name));
        // One HTTP client (one connection pool) for every outbound call.
        let http = HttpClient::default();
        let company_provider = match (
            &config.enrichment.company_provider,
            secrets.company_provider_key(),
        ) {
            (Some(p), Some(key)) => Some(CompanyProvider::new(http.clone(), p, key.clone())?),
            _ => None,
        };
        Ok(Self {
            config: Arc::new(config),
            secrets: Arc::new(secrets),
            store,
            queues,
            mailer,
            platform_api: PlatformApi::with_client(http),
            company_provider,
            clock,
            templates,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The local configuration, with a CRM token and an access token for Meta as well.
    fn config() -> Config {
        let text = std::fs::read_to_string("../infra/config/local.toml").expect("local config");
        let mut doc: toml::Table = text.parse().expect("toml");
        doc.insert(
            "crm".into(),
            toml::Value::Table(toml::toml! { token = "crm-token" }),
        );
        let meta = doc["sources"]["meta"].clone();
        let mut meta = meta.as_table().cloned().expect("meta source");
        meta.insert("access_token".into(), "page-token".into());
        doc["sources"]
            .as_table_mut()
            .expect("sources")
            .insert("meta".into(), toml::Value::Table(meta));
        let google = doc["sources"]["google"]
            .as_table_mut()
            .expect("google source");
        google.insert(
            "backstop".into(),
            toml::Value::Table(toml::toml! {
                customer_ids = ["123-456-7890"]
                developer_token = "dev-token"
                [oauth]
                client_id = "client.apps.googleusercontent.com"
                client_secret = "client-secret"
                refresh_token = "refresh-token"
            }),
        );
        Config::from_toml(&doc.to_string(), "test").expect("config")
    }

    fn offline_ssm() -> aws_sdk_ssm::Client {
        let conf = aws_sdk_ssm::Config::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_sdk_ssm::config::Region::new("eu-west-1"))
            .build();
        aws_sdk_ssm::Client::from_conf(conf)
    }

    #[tokio::test]
    async fn each_function_resolves_only_the_secrets_it_uses() {
        let config = config();
        let ssm = offline_ssm();
        let capture = Secrets::resolve(&config, SecretsNeeded::CAPTURE, &ssm)
            .await
            .unwrap();
        assert!(capture.source("json").is_some() && capture.verify_token("meta").is_some());
        assert!(capture.link().is_some() && capture.crm().is_some());
        assert!(capture.access_token("meta").is_none());

        let enrich = Secrets::resolve(&config, SecretsNeeded::ENRICH, &ssm)
            .await
            .unwrap();
        assert!(enrich.access_token("meta").is_some());
        assert!(enrich.source("json").is_none() && enrich.link().is_none());
        assert!(enrich.crm().is_none() && enrich.oauth("google").is_none());

        let backstop = Secrets::resolve(&config, SecretsNeeded::BACKSTOP, &ssm)
            .await
            .unwrap();
        let (client_secret, refresh_token) = backstop.oauth("google").unwrap();
        assert_eq!(
            (client_secret.expose(), refresh_token.expose()),
            ("client-secret", "refresh-token")
        );
        assert!(backstop.developer_token("google").is_some());
        assert!(backstop.source("google").is_none() && backstop.link().is_none());

        let notify = Secrets::resolve(&config, SecretsNeeded::NOTIFY, &ssm)
            .await
            .unwrap();
        assert!(notify.link().is_some());
        assert!(notify.source("meta").is_none() && notify.access_token("meta").is_none());
        assert!(notify.verify_token("meta").is_none() && notify.crm().is_none());
    }
}
