//! How long the table keeps what nobody needs for ever: raw deliveries, and leads that will
//! never be worked (spam, test leads). DynamoDB deletes them by itself (TTL on `expires_at`).

use std::time::Duration;

use serde::Deserialize;

use super::durations::humantime_serde;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Raw deliveries, as they arrived (kept to replay them after a fix).
    #[serde(default = "default_deliveries", with = "humantime_serde")]
    pub deliveries: Duration,
    /// Spam and test leads, with their timelines.
    #[serde(default = "default_spam_and_test", with = "humantime_serde")]
    pub spam_and_test: Duration,
}

fn default_deliveries() -> Duration {
    Duration::from_secs(90 * 86_400)
}

fn default_spam_and_test() -> Duration {
    Duration::from_secs(30 * 86_400)
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            deliveries: default_deliveries(),
            spam_and_test: default_spam_and_test(),
        }
    }
}
