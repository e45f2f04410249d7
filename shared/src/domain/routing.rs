//! Who gets the lead: the first matching rule names a team (else the fallback team), then round
//! robin over the team's active owners. The decision is explained in words.

use crate::config::{Config, OwnerConfig};

use super::condition;
use super::lead::Lead;

/// The team a lead goes to and the owners who can take it.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamChoice<'c> {
    pub team: String,
    /// Why this team, e.g. "rule hot-leads matched" or "no rule matched; fallback team".
    pub why: String,
    /// Active owners in configuration order: the round-robin order.
    pub candidates: Vec<&'c OwnerConfig>,
    /// Owners passed over, with the reason.
    pub skipped: Vec<(String, &'static str)>,
}

/// Routing could not find anybody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unroutable {
    pub team: String,
    pub why: String,
}

pub fn choose_team<'c>(lead: &Lead, config: &'c Config) -> Result<TeamChoice<'c>, Unroutable> {
    let fallback = &config.routing.fallback_team;
    let matched = config
        .routing
        .rules
        .iter()
        .find(|r| condition::all(&r.when, lead));
    let mut why = match matched {
        Some(rule) => format!("rule {} matched", rule.name),
        None => "no rule matched".to_owned(),
    };
    let mut team = matched.map(|r| r.team.as_str()).unwrap_or(fallback);
    if matched.is_none() {
        why.push_str(&format!("; fallback team {fallback}"));
    }
    loop {
        let t = &config.teams[team];
        let (candidates, skipped): (Vec<&OwnerConfig>, Vec<&OwnerConfig>) =
            t.owners.iter().partition(|o| o.active);
        let skipped = skipped
            .into_iter()
            .map(|o| (o.id.clone(), "inactive"))
            .collect();
        if !candidates.is_empty() {
            return Ok(TeamChoice {
                team: team.to_owned(),
                why,
                candidates,
                skipped,
            });
        }
        if team == fallback {
            why.push_str(&format!("; team {team} has no active owner"));
            return Err(Unroutable {
                team: team.to_owned(),
                why,
            });
        }
        why.push_str(&format!(
            "; team {team} has no active owner, fallback team {fallback}"
        ));
        team = fallback;
    }
}

/// The owner picked for the `ticket`-th lead of a team's rotation (tickets count from 1), and
/// the explanation of the whole decision.
pub fn pick<'c>(choice: &TeamChoice<'c>, ticket: u64) -> (&'c OwnerConfig, String) {
    let n = choice.candidates.len() as u64;
    let slot = (ticket.saturating_sub(1) % n) as usize;
    let owner = choice.candidates[slot];
    let mut reason = format!(
        "{} → team {}; round robin picked {} ({} of {})",
        choice.why,
        choice.team,
        owner.id,
        slot + 1,
        n
    );
    for (id, why) in &choice.skipped {
        reason.push_str(&format!("; {id} skipped: {why}"));
    }
    (owner, reason)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lead::Score;
    use crate::domain::test_support::{config, lead};

    fn hot(mut l: Lead) -> Lead {
        l.score = Some(Score {
            points: 90,
            fit: 40,
            intent: 50,
            tier: "hot".into(),
            grade: None,
            qualification: None,
            scored_at: None,
            reasons: vec![],
        });
        l
    }

    #[test]
    fn the_first_matching_rule_names_the_team() {
        let c = config();
        let choice = choose_team(&hot(lead()), &c).unwrap();
        let rule = c
            .routing
            .rules
            .iter()
            .find(|r| r.when.iter().any(|w| w.field == "tier"))
            .unwrap();
        assert_eq!(choice.team, rule.team);
        assert!(
            choice.why.contains(&format!("rule {} matched", rule.name)),
            "{}",
            choice.why
        );
    }

    #[test]
    fn round_robin_cycles_through_active_owners_in_order() {
        let c = config();
        let choice = choose_team(&lead(), &c).unwrap();
        let n = choice.candidates.len() as u64;
        let picks: Vec<&str> = (1..=2 * n)
            .map(|t| pick(&choice, t).0.id.as_str())
            .collect();
        let first: Vec<&str> = choice.candidates.iter().map(|o| o.id.as_str()).collect();
        assert_eq!(&picks[..n as usize], &first[..]);
        assert_eq!(&picks[n as usize..], &first[..]);
        let (_, reason) = pick(&choice, 1);
        assert!(reason.contains("round robin picked"), "{reason}");
    }

    #[test]
    fn inactive_owners_are_skipped_and_said_so() {
        let mut c = config();
        let team = c.routing.fallback_team.clone();
        c.teams.get_mut(&team).unwrap().owners[1].active = false;
        let skipped_id = c.teams[&team].owners[1].id.clone();
        let choice = choose_team(&lead(), &c).unwrap();
        assert!(choice.candidates.iter().all(|o| o.id != skipped_id));
        let (_, reason) = pick(&choice, 1);
        assert!(
            reason.contains(&format!("{skipped_id} skipped: inactive")),
            "{reason}"
        );
    }

    #[test]
    fn a_team_without_active_owners_sends_leads_to_the_fallback_then_nowhere() {
        let mut c = config();
        for t in c.teams.values_mut() {
            for o in &mut t.owners {
                o.active = false;
            }
        }
        let err = choose_team(&hot(lead()), &c).unwrap_err();
        assert_eq!(err.team, c.routing.fallback_team);
        assert!(err.why.contains("no active owner"), "{}", err.why);
    }
}
