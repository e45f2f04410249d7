//! Speed-to-lead targets and the escalation ladder.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::durations::humantime_map;
use super::{Config, ConfigError};
use crate::lead::EscalationAction;

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

impl Config {
    /// Every tier has a target; every target names a tier or a grade.
    pub(super) fn validate_sla_targets(&self) -> Result<(), ConfigError> {
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
        Ok(())
    }

    /// The ladder has steps, in increasing order.
    pub(super) fn validate_escalation(&self) -> Result<(), ConfigError> {
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
    pub(super) fn check_sla_key(
        &self,
        key: &str,
        name: &str,
        d: &Duration,
    ) -> Result<(), ConfigError> {
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
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{broken, LOCAL};
    use super::*;

    #[test]
    fn a_tier_without_an_sla_target_is_refused() {
        let e = broken("cold = \"4h\"", "");
        assert_eq!(
            e,
            "local.toml: sla.targets.cold: tier \"cold\" has no SLA target"
        );
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
}
