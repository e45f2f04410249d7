//! The points model: each matching rule adds (or takes away) points on the fit or intent
//! dimension, with its reason; the total places the lead in a tier.

use crate::config::{ScoreDimension, ScoringConfig};

use super::condition;
use super::lead::{Lead, Score, ScoreReason};

pub fn score(lead: &Lead, model: &ScoringConfig) -> Score {
    let reasons: Vec<ScoreReason> = model
        .rules
        .iter()
        .filter(|r| condition::all(&r.when, lead))
        .map(|r| ScoreReason {
            points: r.points,
            dimension: r.dimension,
            reason: r.reason.clone(),
        })
        .collect();
    let sum = |d: ScoreDimension| -> i32 {
        reasons
            .iter()
            .filter(|r| r.dimension == d)
            .map(|r| r.points)
            .sum()
    };
    let fit = sum(ScoreDimension::Fit);
    let intent = sum(ScoreDimension::Intent);
    let points = fit + intent;
    Score {
        points,
        fit,
        intent,
        tier: tier_for(points, model),
        reasons,
    }
}

/// The first tier (from the top) whose minimum the points reach; the lowest tier otherwise.
pub fn tier_for(points: i32, model: &ScoringConfig) -> String {
    model
        .tiers
        .iter()
        .find(|t| points >= t.min_points)
        .or(model.tiers.last())
        .map(|t| t.name.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::test_support::{config, lead};

    #[test]
    fn points_add_up_with_their_reasons_and_pick_the_tier() {
        let c = config();
        let mut l = lead();
        l.fields.message = Some("We'd like a demo for 40 people".into());
        l.fields.job_title = Some("VP Sales".into());
        l.enrichment = Some(crate::domain::lead::Enrichment {
            email: Some("ana@acme.io".into()),
            email_domain: Some("acme.io".into()),
            phone: Some("+4930123456".into()),
            ..Default::default()
        });
        let s = score(&l, &c.scoring);
        let reasons: Vec<String> = s.reasons.iter().map(|r| r.to_string()).collect();
        assert!(
            reasons.contains(&"+20 corporate email".to_string()),
            "{reasons:?}"
        );
        assert!(
            reasons.contains(&"+30 asked for a demo".to_string()),
            "{reasons:?}"
        );
        assert_eq!(s.points, s.fit + s.intent);
        assert_eq!(s.points, s.reasons.iter().map(|r| r.points).sum::<i32>());
        assert_eq!(s.tier, "hot");
    }

    #[test]
    fn a_bare_lead_is_in_the_lowest_tier() {
        let c = config();
        let s = score(&lead(), &c.scoring);
        assert_eq!(s.tier, c.scoring.tiers.last().unwrap().name);
    }

    #[test]
    fn tiers_are_chosen_by_threshold() {
        let c = config();
        let top = &c.scoring.tiers[0];
        assert_eq!(tier_for(top.min_points, &c.scoring), top.name);
        assert_eq!(
            tier_for(top.min_points - 1, &c.scoring),
            c.scoring.tiers[1].name
        );
        assert_eq!(
            tier_for(-1000, &c.scoring),
            c.scoring.tiers.last().unwrap().name
        );
    }
}
