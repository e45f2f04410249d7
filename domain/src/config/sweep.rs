//! The sweep: how long a lead may sit between two stages before the escalation schedule sends
//! it on again, and how far apart the retries of a lead that keeps failing get.

use std::time::Duration;

use serde::Deserialize;

use super::durations::humantime_serde;
use super::{Config, ConfigError};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepConfig {
    /// A lead that has not moved on to its next stage this long after it reached its current
    /// one is sent on again. Longer than a healthy stage ever takes (seconds), short enough
    /// that a lead whose message was lost is acknowledged within minutes: the worst case is
    /// `grace` plus one escalation interval (1 minute in infra/template.yaml).
    #[serde(default = "default_grace", with = "humantime_serde")]
    pub grace: Duration,
    /// Each further retry of a lead waits twice as long as the one before, up to this.
    #[serde(default = "default_max_backoff", with = "humantime_serde")]
    pub max_backoff: Duration,
}

fn default_grace() -> Duration {
    Duration::from_secs(120)
}

fn default_max_backoff() -> Duration {
    Duration::from_secs(3600)
}

impl Default for SweepConfig {
    fn default() -> Self {
        SweepConfig {
            grace: default_grace(),
            max_backoff: default_max_backoff(),
        }
    }
}

impl Config {
    pub(super) fn validate_sweep(&self) -> Result<(), ConfigError> {
        if self.sweep.grace < Duration::from_secs(30) {
            return Err(self.invalid(
                "sweep.grace",
                "must be at least 30 seconds: a healthy lead must not be sent on twice",
            ));
        }
        if self.sweep.max_backoff < self.sweep.grace {
            return Err(self.invalid("sweep.max_backoff", "must not be shorter than sweep.grace"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::LOCAL;
    use super::*;

    #[test]
    fn a_missing_section_means_two_minutes_of_grace_and_an_hour_at_most_between_retries() {
        let c = Config::from_toml(LOCAL, "local.toml").unwrap();
        assert_eq!(c.sweep.grace, Duration::from_secs(120));
        assert_eq!(c.sweep.max_backoff, Duration::from_secs(3600));
    }

    #[test]
    fn a_grace_shorter_than_a_healthy_stage_is_refused() {
        let text = format!("{LOCAL}\n[sweep]\ngrace = \"5s\"\n");
        let e = Config::from_toml(&text, "local.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sweep.grace"), "{e}");
    }
}
