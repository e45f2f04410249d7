//! The email sender and the signed links in emails.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::durations::humantime_serde;
use super::{check_email, Config, ConfigError};
use crate::secret::SecretRef;

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
    /// One address is acknowledged at most once in this long (a form is not a way to make the
    /// company's SES write to anyone, again and again). `"0s"` turns the limit off.
    #[serde(default = "default_acknowledge_once_per", with = "humantime_serde")]
    pub acknowledge_once_per: Duration,
}

fn default_sender_name() -> String {
    "Leadrelay".into()
}

fn default_acknowledge_once_per() -> Duration {
    Duration::from_secs(86_400)
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

impl Config {
    /// The sender, and links that can be signed and opened.
    pub(super) fn validate_email(&self) -> Result<(), ConfigError> {
        check_email(&self.email.sender).map_err(|m| self.invalid("email.sender", m))?;
        if !(self.links.base_url.starts_with("https://")
            || self.links.base_url.starts_with("http://"))
        {
            return Err(self.invalid("links.base_url", "must start with https:// or http://"));
        }
        if self.links.secret.trim().is_empty() {
            return Err(self.invalid("links.secret", "must not be empty"));
        }
        Ok(())
    }

    /// The folder of template overrides: `LEADRELAY_TEMPLATES_DIR`, else `email.templates`.
    pub fn templates_dir(&self) -> Option<PathBuf> {
        self.env
            .templates_dir
            .clone()
            .or_else(|| self.email.templates.clone())
    }

    /// The link-signing secret reference; `LEADRELAY_LINK_SECRET` wins over the file.
    pub fn link_secret_ref(&self) -> SecretRef {
        match &self.env.link_secret {
            Some(v) => SecretRef::Literal(v.clone()),
            None => SecretRef::parse(&self.links.secret),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::LOCAL;
    use super::*;

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
}
