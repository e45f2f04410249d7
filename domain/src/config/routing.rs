//! Routing rules, the fallback team and named accounts.

use std::time::Duration;

use serde::Deserialize;

use super::durations::humantime_option;
use super::{Config, ConfigError};
use crate::condition::Condition;

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

impl Config {
    /// Accounts name a known owner and a domain.
    pub(super) fn validate_accounts(&self) -> Result<(), ConfigError> {
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
        Ok(())
    }

    /// The fallback team, and every rule's target and conditions.
    pub(super) fn validate_routing(&self) -> Result<(), ConfigError> {
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
        Ok(())
    }
}
