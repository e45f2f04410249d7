//! The points model: each matching rule adds (or takes away) points on the fit or intent
//! dimension, with its reason. Intent decays with time from the person's latest submission
//! (half-life), so a score reflects now. The total places the lead in a tier; the two
//! dimensions give its grade ("A1"); thresholds mark it MQL or SQL.

use chrono::{DateTime, Utc};

use crate::config::{ScoringConfig, TierConfig};
use crate::lead::ScoreDimension;

use super::condition;
use super::lead::{Lead, Score, ScoreReason};

/// The lead's score as of `now`.
pub fn score(lead: &Lead, model: &ScoringConfig, now: DateTime<Utc>) -> Score {
    let decay = decay_factor(lead.last_activity(), now, model.intent_half_life);
    let reasons: Vec<ScoreReason> = model
        .rules
        .iter()
        .filter(|r| condition::all(&r.when, lead))
        .map(|r| {
            let points = match r.dimension {
                ScoreDimension::Fit => r.points,
                ScoreDimension::Intent => (f64::from(r.points) * decay).round() as i32,
            };
            ScoreReason {
                points,
                dimension: r.dimension,
                reason: r.reason.clone(),
                undecayed: (points != r.points).then_some(r.points),
            }
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
        grade: model
            .grades
            .as_ref()
            .map(|g| format!("{}{}", band(fit, &g.fit), band(intent, &g.intent))),
        qualification: model.qualification.and_then(|q| {
            if points >= q.sql {
                Some("sql".to_owned())
            } else if points >= q.mql {
                Some("mql".to_owned())
            } else {
                None
            }
        }),
        scored_at: Some(now),
        reasons,
    }
}

/// What intent is still worth after `since` → `now`: 1 at first, ½ after one half-life.
pub fn decay_factor(
    since: DateTime<Utc>,
    now: DateTime<Utc>,
    half_life: Option<std::time::Duration>,
) -> f64 {
    let Some(half_life) = half_life.filter(|h| !h.is_zero()) else {
        return 1.0;
    };
    let age = (now - since).num_milliseconds().max(0) as f64 / 1000.0;
    0.5f64.powf(age / half_life.as_secs_f64())
}

/// The first tier (from the top) whose minimum the points reach; the lowest tier otherwise.
pub fn tier_for(points: i32, model: &ScoringConfig) -> String {
    band(points, &model.tiers).to_owned()
}

/// The first band (from the top) whose minimum the points reach; the lowest otherwise.
fn band(points: i32, bands: &[TierConfig]) -> &str {
    bands
        .iter()
        .find(|t| points >= t.min_points)
        .or(bands.last())
        .map(|t| t.name.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{config, lead};

    #[test]
    fn points_add_up_with_their_reasons_and_pick_the_tier() {
        let c = config();
        let mut l = lead();
        l.fields.message = Some("We'd like a demo for 40 people".into());
        l.fields.job_title = Some("VP Sales".into());
        l.enrichment = Some(crate::lead::Enrichment {
            email: Some("ana@acme.io".into()),
            email_domain: Some("acme.io".into()),
            phone: Some("+4930123456".into()),
            ..Default::default()
        });
        let s = score(&l, &c.scoring, l.received_at);
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
        let s = score(&lead(), &c.scoring, lead().received_at);
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

    fn demo_lead() -> Lead {
        let mut l = lead();
        l.fields.message = Some("Please book us a demo".into());
        l.fields.job_title = Some("CEO".into());
        l.enrichment = Some(crate::lead::Enrichment {
            email: Some("ana@acme.io".into()),
            email_domain: Some("acme.io".into()),
            ..Default::default()
        });
        l
    }

    #[test]
    fn intent_halves_every_half_life_and_fit_does_not_decay() {
        let c = config();
        let l = demo_lead();
        let half_life = c
            .scoring
            .intent_half_life
            .expect("local config decays intent");
        let fresh = score(&l, &c.scoring, l.received_at);
        let later = l.received_at + chrono::Duration::from_std(half_life).unwrap();
        let one = score(&l, &c.scoring, later);
        let two = score(
            &l,
            &c.scoring,
            later + chrono::Duration::from_std(half_life).unwrap(),
        );
        assert_eq!(fresh.intent, 30, "{fresh:?}");
        assert_eq!(one.intent, 15);
        assert_eq!(two.intent, 8, "7.5 rounds to 8");
        assert_eq!(one.fit, fresh.fit);
        let demo = one
            .reasons
            .iter()
            .find(|r| r.reason == "asked for a demo")
            .unwrap();
        assert_eq!(demo.to_string(), "+15 asked for a demo (decayed from +30)");
    }

    #[test]
    fn decay_counts_from_the_latest_submission() {
        let c = config();
        let mut l = demo_lead();
        let month = chrono::Duration::days(30);
        l.last_submitted_at = Some(l.received_at + month);
        assert_eq!(score(&l, &c.scoring, l.received_at + month).intent, 30);
        assert_eq!(decay_factor(l.received_at, l.received_at, None), 1.0);
        // A clock running behind the submission never inflates intent.
        assert_eq!(
            decay_factor(
                l.received_at,
                l.received_at - month,
                Some(std::time::Duration::from_secs(60))
            ),
            1.0
        );
    }

    #[test]
    fn the_grade_is_the_fit_band_and_the_intent_band() {
        let c = config();
        let l = demo_lead();
        let s = score(&l, &c.scoring, l.received_at);
        // fit: corporate email 20 + C-level 20 = 40 → A; intent: demo 30 → 2.
        assert_eq!((s.fit, s.intent), (40, 30));
        assert_eq!(s.grade.as_deref(), Some("A2"));
        let bare = score(&lead(), &c.scoring, lead().received_at);
        assert_eq!(bare.grade.as_deref(), Some("C4"), "{bare:?}");
    }

    #[test]
    fn qualification_follows_the_thresholds() {
        let c = config();
        let q = c.scoring.qualification.unwrap();
        let mut l = demo_lead();
        let s = score(&l, &c.scoring, l.received_at);
        assert!(s.points >= q.sql, "{s:?}");
        assert_eq!(s.qualification.as_deref(), Some("sql"));
        l.fields.job_title = None;
        l.fields.message = Some("pricing please".into());
        let s = score(&l, &c.scoring, l.received_at);
        assert!((q.mql..q.sql).contains(&s.points), "{s:?}");
        assert_eq!(s.qualification.as_deref(), Some("mql"));
        let s = score(&lead(), &c.scoring, lead().received_at);
        assert_eq!(s.qualification, None);
    }
}
