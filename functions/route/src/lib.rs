//! route: gives a scored lead its owner by rule and round robin, records why, and starts the
//! SLA clock at the lead's arrival.

use leadrelay::batch::{self, BatchOutcome, QueueMessage};
use leadrelay::domain::lead::{Assignment, EventKind, Lead, Stage};
use leadrelay::domain::routing::{self, Unroutable};
use leadrelay::domain::{sla, timeline};
use leadrelay::queue::{LeadMessage, NotifyMessage, QueueError, QueueName};
use leadrelay::store::StoreError;
use leadrelay::Deps;

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("lead {0} has not been scored yet")]
    NotScored(String),
    #[error("lead {0} is being routed by another worker")]
    InProgress(String),
    #[error("lead {lead_id} kept changing while it was routed")]
    Contended { lead_id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Attempts at saving a routing decision while other writers change the lead.
const ATTEMPTS: usize = 5;
/// How long a router's claim on a lead holds off others; past it the router is presumed dead.
const CLAIM_SECS: i64 = 60;

/// A batch from the scored queue.
pub async fn handle_batch(deps: &Deps, messages: Vec<QueueMessage>) -> BatchOutcome {
    batch::process("scored", messages, |m: LeadMessage| {
        route_lead(deps, m.lead_id)
    })
    .await
}

/// Routes one lead, once: a redelivered message finds it routed and only re-sends the
/// notification request (notify sends each email once).
pub async fn route_lead(deps: &Deps, lead_id: String) -> Result<(), RouteError> {
    for _ in 0..ATTEMPTS {
        // Only an erasure removes a lead: its messages have nothing left to do.
        let Some(mut lead) = deps.store.get_lead(&lead_id).await? else {
            tracing::warn!(
                lead_id = lead_id,
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
        // Claim the lead before drawing a ticket: of two routers working on the same lead,
        // only one draws, so nobody's turn in the rotation is lost.
        let now = deps.clock.now();
        if lead
            .routing_claimed_at
            .is_some_and(|at| now - at < chrono::Duration::seconds(CLAIM_SECS))
        {
            return Err(RouteError::InProgress(lead_id));
        }
        lead.routing_claimed_at = Some(now);
        match deps.store.save_lead(&mut lead, &[]).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
        lead.routing_claimed_at = None;
        let (message, event) = match routing::choose_team(&lead, &deps.config) {
            Ok(choice) => {
                let ticket = deps.store.next_ticket(&choice.team).await?;
                let (owner, reason) = routing::pick(&choice, ticket);
                lead.assignment = Some(Assignment {
                    owner_id: owner.id.clone(),
                    owner_name: owner.name.clone(),
                    owner_email: owner.email.clone(),
                    manager_email: owner.manager_email.clone(),
                    team: choice.team.clone(),
                    reason: reason.clone(),
                    assigned_at: deps.clock.now(),
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
                (
                    NotifyMessage::Assigned {
                        lead_id: lead_id.clone(),
                    },
                    e,
                )
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
                (
                    NotifyMessage::Unassigned {
                        lead_id: lead_id.clone(),
                    },
                    e,
                )
            }
        };
        match deps.store.save_lead(&mut lead, &[event]).await {
            Ok(()) => {
                tracing::info!(
                    lead_id,
                    source = lead.source,
                    owner = lead.assignment.as_ref().map(|a| a.owner_id.as_str()),
                    team = lead.assignment.as_ref().map(|a| a.team.as_str()),
                    "lead routed"
                );
                return notify(deps, message).await;
            }
            // Someone else changed the lead (a duplicate message routing it at the same time):
            // read it again and see.
            Err(StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(RouteError::Contended { lead_id })
}

/// The clock starts when the lead arrived, not now (DESIGN invariant 5); in a later round
/// (recycled, reassigned), when that round began.
fn start_sla(deps: &Deps, lead: &mut Lead) {
    let tier = lead
        .score
        .as_ref()
        .map(|s| s.tier.as_str())
        .unwrap_or_default();
    let cfg = &deps.config.sla;
    // Validation guarantees a target per tier; the shortest is the safe default regardless.
    let target = cfg
        .targets
        .get(tier)
        .or_else(|| cfg.targets.values().min())
        .copied()
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
