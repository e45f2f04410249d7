//! route: gives a scored lead its owner — account owner, rule, or the team's weighted fair
//! rotation over the owners available now — records why, and starts the SLA clock at the
//! lead's arrival.

use leadrelay_aws::batch::{self, BatchOutcome, QueueMessage};
use leadrelay_aws::queue::{LeadMessage, NotifyMessage, QueueError, QueueName};
use leadrelay_aws::store::StoreError;
use leadrelay_aws::Deps;
use leadrelay_domain::lead::{Assignment, EventKind, Lead, Stage};
use leadrelay_domain::routing::{self, Unroutable};
use leadrelay_domain::{sla, timeline};

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("no owner is called {0:?}")]
    NoSuchOwner(String),
    #[error("lead {0} has not been scored yet")]
    NotScored(String),
    #[error("lead {lead_id} kept changing while it was routed")]
    Contended { lead_id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Rounds of read-decide-save while other routers take the team's rotation first: each round
/// one of them wins, so 50 leads at once over one team need at most 50.
const ATTEMPTS: usize = 80;

/// A batch from the scored queue.
pub async fn handle_batch(deps: &Deps, messages: Vec<QueueMessage>) -> BatchOutcome {
    batch::process("scored", messages, |m: LeadMessage| {
        route_lead(deps, m.lead_id)
    })
    .await
}

/// Routes one lead, once: a redelivered message finds it routed and only re-sends the
/// notification request (notify sends each email once). The decision and the team's rotation
/// are saved in one transaction, so a duplicate message or a concurrent router can neither
/// double-assign nor skew the shares.
pub async fn route_lead(deps: &Deps, lead_id: String) -> Result<(), RouteError> {
    for attempt in 0..ATTEMPTS {
        // Only an erasure removes a lead: its messages have nothing left to do.
        let Some(mut lead) = deps.store.get_lead(&lead_id).await? else {
            tracing::warn!(
                lead_id,
                "lead not found (erased on request?); message dropped"
            );
            return Ok(());
        };
        if lead.is_quarantined() {
            return Ok(());
        }
        match lead.stage {
            Stage::PendingFetch | Stage::Captured => return Err(RouteError::NotScored(lead_id)),
            Stage::Routed => return notify(deps, NotifyMessage::Assigned { lead_id }).await,
            Stage::Unassigned => return notify(deps, NotifyMessage::Unassigned { lead_id }).await,
            Stage::Scored => {}
        }
        let now = deps.clock.now();
        let domain = company_domain(&lead);
        let account = match &domain {
            Some(d) => account_owner(deps, d, now).await?,
            None => None,
        };
        let states = deps
            .store
            .rotations(deps.config.teams.keys().map(String::as_str))
            .await?;
        let situation = routing::Situation {
            now,
            states: &states,
            account,
        };
        let saved = match routing::decide(&lead, &deps.config, &situation) {
            Ok(decision) => {
                let reason = decision.reason();
                let owner = decision.owner;
                lead.assignment = Some(Assignment {
                    owner_id: owner.id.clone(),
                    owner_name: owner.name.clone(),
                    owner_email: owner.email.clone(),
                    manager_email: owner.manager_email.clone(),
                    team: decision.team.clone(),
                    reason: reason.clone(),
                    assigned_at: now,
                });
                start_sla(deps, &mut lead);
                lead.stage = Stage::Routed;
                let due = lead
                    .sla
                    .as_ref()
                    .map(|s| s.due_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default();
                let e = timeline::event(
                    deps.clock.as_ref(),
                    &lead.lead_id,
                    EventKind::Routed,
                    "route",
                    format!("assigned to {}: {reason}; SLA due {due}", owner.id),
                );
                // The domain is this owner's account from now on (when learning accounts).
                let learn = deps
                    .config
                    .routing
                    .learn_accounts_for
                    .and(domain.as_deref())
                    .map(|d| (d, owner.id.as_str()));
                deps.store
                    .save_routing(&mut lead, &[e], &decision.team, &decision.state, learn)
                    .await
                    .map(|()| NotifyMessage::Assigned {
                        lead_id: lead_id.clone(),
                    })
            }
            Err(Unroutable { team, why }) => {
                lead.stage = Stage::Unassigned;
                let e = timeline::event(
                    deps.clock.as_ref(),
                    &lead.lead_id,
                    EventKind::Unassigned,
                    "route",
                    format!("no owner: {why}; manager of team {team} told"),
                );
                deps.store
                    .save_lead(&mut lead, &[e])
                    .await
                    .map(|()| NotifyMessage::Unassigned {
                        lead_id: lead_id.clone(),
                    })
            }
        };
        match saved {
            Ok(message) => {
                tracing::info!(
                    lead_id,
                    source = lead.source,
                    owner = lead.assignment.as_ref().map(|a| a.owner_id.as_str()),
                    team = lead.assignment.as_ref().map(|a| a.team.as_str()),
                    "lead routed"
                );
                return notify(deps, message).await;
            }
            // Another router took the rotation (or the lead) first: read both again and decide
            // again, after a random pause that grows with each loss (exponential backoff with
            // full jitter), so a crowd of routers thins out instead of colliding again.
            Err(StoreError::Conflict) => {
                tokio::time::sleep(backoff(attempt)).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(RouteError::Contended { lead_id })
}

/// A random pause of up to 10 ms × 2^attempt, at most half a second.
fn backoff(attempt: usize) -> std::time::Duration {
    use std::hash::BuildHasher;
    let ceiling = (10u64 << attempt.min(6)).min(500);
    let random = std::collections::hash_map::RandomState::new().hash_one(attempt);
    std::time::Duration::from_millis(1 + random % ceiling)
}

/// The company domain of a lead with a corporate email (free-mail and throw-away domains say
/// nothing of an employer).
fn company_domain(lead: &Lead) -> Option<String> {
    let e = lead.enrichment.as_ref()?;
    if e.free_email || e.disposable_email || e.email_invalid {
        return None;
    }
    e.email_domain.clone()
}

/// The account owner of a domain: configured, else learned from the domain's latest lead
/// within the configured window.
async fn account_owner(
    deps: &Deps,
    domain: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<routing::AccountOwner>, RouteError> {
    let routing_config = &deps.config.routing;
    if let Some(a) = routing_config
        .accounts
        .iter()
        .find(|a| a.domain.eq_ignore_ascii_case(domain))
    {
        return Ok(Some(routing::AccountOwner {
            owner_id: a.owner.clone(),
            why: format!("configured account {domain}"),
        }));
    }
    let Some(window) = routing_config.learn_accounts_for else {
        return Ok(None);
    };
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    Ok(deps
        .store
        .account(domain)
        .await?
        .filter(|(owner, at)| now - *at <= window && deps.config.owner(owner).is_some())
        .map(|(owner, at)| routing::AccountOwner {
            why: format!(
                "account {domain} learned: {owner} took its lead on {}",
                at.format("%Y-%m-%d")
            ),
            owner_id: owner,
        }))
}

/// Marks an owner out of office until `until` (`None`: back now). Kept in the team's rotation
/// item, so routing sees it in the same read as the shares.
pub async fn set_away(
    deps: &Deps,
    owner_id: &str,
    until: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<(), RouteError> {
    let team = deps
        .config
        .team_of(owner_id)
        .ok_or_else(|| RouteError::NoSuchOwner(owner_id.to_owned()))?
        .to_owned();
    deps.store
        .modify_rotation(&team, |state| {
            state
                .owners
                .entry(owner_id.to_owned())
                .or_default()
                .away_until = until;
        })
        .await?;
    tracing::info!(
        owner = owner_id,
        team,
        away = until.is_some(),
        "owner availability changed"
    );
    Ok(())
}

/// The clock starts when the lead arrived, not now (invariant 5 in docs/architecture.md); in a later round
/// (recycled, reassigned), when that round began.
fn start_sla(deps: &Deps, lead: &mut Lead) {
    let score = lead.score.as_ref();
    let tier = score.map(|s| s.tier.as_str()).unwrap_or_default();
    let grade = score.and_then(|s| s.grade.as_deref());
    let team = lead
        .assignment
        .as_ref()
        .map(|a| a.team.as_str())
        .unwrap_or_default();
    let cfg = &deps.config.sla;
    // Validation guarantees a target per tier; the shortest is the safe default regardless.
    let target = deps
        .config
        .sla_target(team, grade, tier)
        .or_else(|| cfg.targets.values().min().copied())
        .unwrap_or_default();
    // Counted on the owner's (or team's) business hours when they have a calendar.
    let calendar = lead
        .assignment
        .as_ref()
        .and_then(|a| deps.config.calendar_for(&a.team, &a.owner_id));
    let time: &dyn sla::WorkingTime = match calendar {
        Some(c) => c,
        None => &sla::WallClock,
    };
    lead.sla = Some(sla::start(
        lead.clock_starts_at(),
        target,
        &cfg.escalation,
        time,
    ));
}

async fn notify(deps: &Deps, message: NotifyMessage) -> Result<(), RouteError> {
    deps.queues.send(QueueName::Notify, &message).await?;
    Ok(())
}
