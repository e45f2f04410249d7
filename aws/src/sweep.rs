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
            crate::metrics::lead_parked(step.as_str());
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

/// A lead that is not moving, as the operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StuckLead {
    pub lead_id: String,
    pub source: String,
    /// The step it waits for.
    pub step: Step,
    /// Since when it has waited (its arrival, its round's start, or its assignment).
    pub since: chrono::DateTime<chrono::Utc>,
    /// Times the sweep (or a failed fetch) sent it on again.
    pub retries: u32,
    /// Why it stopped: the latest failure, or the reason it was parked.
    pub error: Option<String>,
    pub parked: bool,
}

/// What `leadrelay stuck` shows.
#[derive(Debug, Default, serde::Serialize)]
pub struct StuckReport {
    /// Waiting for a step longer than the sweep's grace, oldest first.
    pub waiting: Vec<StuckLead>,
    /// Stopped by a permanent error, oldest first.
    pub parked: Vec<StuckLead>,
    /// Index items that would not decode (their keys).
    pub unreadable: Vec<String>,
}

/// Every lead not moving at `now`, from the indexes (never a scan): the `sla-open` index holds
/// every lead still on its way, the `parked` index the parked ones.
pub async fn stuck(
    deps: &Deps,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<StuckReport, StoreError> {
    let grace = chrono::Duration::from_std(deps.config.sweep.grace).unwrap_or_default();
    let timed = deps.store.timed_leads().await?;
    let parked = deps.store.parked_leads().await?;
    let mut report = StuckReport::default();
    for lead in &timed.leads {
        let Some(step) = lead.waiting_for() else {
            continue;
        };
        let since = lead.waiting_since();
        if lead.parked.is_none() && since + grace <= now {
            report.waiting.push(stuck_lead(lead, step, since));
        }
    }
    for lead in &parked.leads {
        if let Some(p) = &lead.parked {
            let mut s = stuck_lead(lead, p.step, p.at);
            s.error = Some(p.reason.clone());
            s.parked = true;
            report.parked.push(s);
        }
    }
    report.waiting.sort_by_key(|s| s.since);
    report.parked.sort_by_key(|s| s.since);
    report.unreadable = timed
        .unreadable
        .into_iter()
        .chain(parked.unreadable)
        .map(|(key, _)| key)
        .collect();
    Ok(report)
}

fn stuck_lead(lead: &Lead, step: Step, since: chrono::DateTime<chrono::Utc>) -> StuckLead {
    let retries = lead.retries.as_ref().filter(|r| r.step == step);
    StuckLead {
        lead_id: lead.lead_id.clone(),
        source: lead.source.clone(),
        step,
        since,
        retries: retries.map_or(0, |r| r.count),
        error: retries.and_then(|r| r.last_error.clone()),
        parked: false,
    }
}
