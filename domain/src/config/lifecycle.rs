//! A person's identity across submissions, a lead's lifecycle (disqualify reasons) and the CRM
//! that reports status changes back.

use std::time::Duration;

use serde::Deserialize;

use super::durations::humantime_serde;
use super::{is_slug, Config, ConfigError};
use crate::secret::SecretRef;

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

impl Config {
    /// Reason codes are written into stored events: slugs only.
    pub(super) fn validate_lifecycle(&self) -> Result<(), ConfigError> {
        for (i, code) in self.lifecycle.disqualify_reasons.iter().enumerate() {
            if !is_slug(code) {
                return Err(self.invalid(
                    format!("lifecycle.disqualify_reasons[{i}]"),
                    "reason codes use lower-case letters, digits, dashes and underscores",
                ));
            }
        }
        Ok(())
    }

    /// The CRM token reference; `LEADRELAY_CRM_TOKEN` wins over the file.
    pub fn crm_token_ref(&self) -> Option<SecretRef> {
        match &self.env.crm_token {
            Some(v) => Some(SecretRef::Literal(v.clone())),
            None => self.crm.token.as_deref().map(SecretRef::parse),
        }
    }
}
