//! Scoring rules, tiers, grades and qualification points.

use std::time::Duration;

use serde::Deserialize;

use super::durations::humantime_option;
use super::{Config, ConfigError};
use crate::condition::Condition;
use crate::lead::ScoreDimension;

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

impl Config {
    /// Tiers, grades and qualification in band order, and rules that can match.
    pub(super) fn validate_scoring(&self) -> Result<(), ConfigError> {
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
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::broken;

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
}
