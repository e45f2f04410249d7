//! What the functions share of the sweep (`leadrelay_domain::sweep`): sending a lead to the
//! step it waits for, parking a lead a permanent error stopped, and sending a parked lead on
//! again once someone fixed the cause.

use leadrelay_domain::lead::{Lead, Stage};
use leadrelay_domain::sweep::{Parked, Step};

use crate::batch::MessageError;
use crate::queue::{LeadMessage, NotifyMessage, QueueError, QueueName};
use crate::store::{Change, StoreError};
use crate::Deps;

/// The queue in front of a step.
pub fn queue_of(step: Step) -> QueueName {
    match step {
        Step::Enrich => QueueName::Captured,
        Step::Route => QueueName::Scored,
        Step::Notify => QueueName::Notify,
    }
}

/// Sends the lead to `step` with the message that step takes.
pub async fn send_to(deps: &Deps, lead: &Lead, step: Step) -> Result<(), QueueError> {
    let lead_id = lead.lead_id.clone();
    match step {
        Step::Enrich | Step::Route => {
            deps.queues
                .send(queue_of(step), &LeadMessage { lead_id })
                .await
        }
        Step::Notify => {
            let message = match lead.stage {
                Stage::Unassigned => NotifyMessage::Unassigned { lead_id },
                _ => NotifyMessage::Assigned { lead_id },
            };
            deps.queues.send(QueueName::Notify, &message).await
        }
    }
}

/// A message's outcome, with a permanent failure turned into a parked lead: the message is
/// done (it would fail the same way on every delivery and end in a dead-letter queue), and the
/// lead waits, with the reason on its timeline, for the fix and `leadrelay stuck --retry`.
/// Transient failures, and a park that could not be saved, stay failures: SQS delivers the
/// message again.
pub async fn park_if_permanent<E: MessageError>(
    deps: &Deps,
    step: Step,
    lead_id: &str,
    message: &impl serde::Serialize,
    result: Result<(), E>,
) -> Result<(), E> {
    let e = match result {
        Err(e) if !e.is_transient() => e,
        other => return other,
    };
    let reason = e.to_string();
    let body = serde_json::to_string(message).ok();
    let now = deps.clock.now();
    let parked = deps
        .store
        .modify_lead(lead_id, |lead| {
            if lead.parked.is_some() {
                return Change::Keep(());
            }
            let event = lead.park(step, reason.clone(), body.clone(), now, deps.clock.as_ref());
            Change::Save(vec![event], ())
        })
        .await;
    match parked {
        Ok(None) => {
            tracing::info!(
                lead_id,
                "lead not found (erased on request?); message dropped"
            );
            Ok(())
        }
        Ok(Some(_)) => {
            tracing::error!(
                lead_id,
                step = step.as_str(),
                reason,
                "lead parked: it will not move until the cause is fixed"
            );
            Ok(())
        }
        Err(store_error) => {
            tracing::warn!(lead_id, step = step.as_str(), error = %store_error, "lead not parked; its message is retried");
            Err(e)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UnparkError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Sends a parked lead on again (the operator fixed the cause): its failed message as it was,
/// else the message of its step. `None` when the lead was not parked (or is gone).
pub async fn unpark(
    deps: &Deps,
    lead_id: &str,
    actor: &str,
) -> Result<Option<Parked>, UnparkError> {
    let outcome = deps
        .store
        .modify_lead(lead_id, |lead| {
            match lead.unpark(actor, deps.clock.as_ref()) {
                Some((parked, event)) => Change::Save(vec![event], Some((parked, lead.clone()))),
                None => Change::Keep(None),
            }
        })
        .await?;
    let Some((_, Some((parked, lead)))) = outcome else {
        return Ok(None);
    };
    match &parked.message {
        Some(body) => deps.queues.send_raw(queue_of(parked.step), body).await?,
        None => send_to(deps, &lead, parked.step).await?,
    }
    tracing::info!(
        lead_id,
        step = parked.step.as_str(),
        actor,
        "parked lead sent on again"
    );
    Ok(Some(parked))
}
