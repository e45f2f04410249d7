//! escalate: the scheduled pass over leads with something timed ahead. Reads only the sparse,
//! write-sharded `sla-open` index (never a scan); sends on every lead that stopped on its way
//! to an owner and its emails (the sweep), takes each due step of the escalation ladder once
//! and records it on the lead, and brings nurtured leads back at their recycle date.

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt};
use leadrelay_aws::metrics;
use leadrelay_aws::queue::{LeadMessage, NotifyMessage, QueueError, QueueName};
use leadrelay_aws::store::{Change, StoreError};
use leadrelay_aws::Deps;
use leadrelay_domain::lead::EscalationAction;
use leadrelay_domain::lead::Stage;
use leadrelay_domain::lead::{EventKind, Lead};
use leadrelay_domain::transitions::Reassigned;
use leadrelay_domain::{lifecycle, sla, sla_shards, timeline};
use serde::Serialize;

/// Leads worked on at once within a pass.
const CONCURRENCY: usize = 16;
/// Shards queried at once: all of the default eight; a pass over many more (a narrowing from
/// 64, an unreadable record) does not open a connection for each.
const SHARDS_AT_ONCE: u32 = 16;
/// Index items read per query page.
const PAGE_SIZE: i32 = 200;

#[derive(Debug, thiserror::Error)]
pub enum EscalateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl EscalateError {
    /// Whether the next pass may do better (every failure here is a store or queue fault).
    pub fn is_transient(&self) -> bool {
        match self {
            EscalateError::Store(e) => e.is_transient(),
            EscalateError::Queue(e) => e.is_transient(),
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct PassReport {
    /// Leads the index said were due.
    pub due: usize,
    pub reminded: usize,
    pub escalated: usize,
    /// Leads passed to another owner after the first let them lapse.
    pub reassigned: usize,
    /// Nurtured leads brought back to be routed again.
    pub recycled: usize,
    /// Leads that had stopped on their way and were sent on again by the sweep.
    pub resent: usize,
    /// Leads that could not be handled this pass (they stay in the index for the next).
    pub failed: usize,
    /// Index items (or the SLA shards record) that would not decode: skipped, so they never
    /// hold the others back.
    pub unreadable: usize,
}

impl PassReport {
    fn add(&mut self, r: &PassReport) {
        self.due += r.due;
        self.reminded += r.reminded;
        self.escalated += r.escalated;
        self.reassigned += r.reassigned;
        self.recycled += r.recycled;
        self.resent += r.resent;
        self.failed += r.failed;
        self.unreadable += r.unreadable;
    }
}

/// One escalation pass at `now`.
pub async fn run_pass(deps: &Deps, now: DateTime<Utc>) -> Result<PassReport, EscalateError> {
    let (shards, record_unreadable) = plan_shards(deps, now).await;
    let per_shard = stream::iter(0..shards.read)
        .map(|shard| pass_shard(deps, shard, now))
        .buffer_unordered(shards.read.min(SHARDS_AT_ONCE) as usize)
        .collect::<Vec<_>>()
        .await;
    let mut report = PassReport {
        unreadable: usize::from(record_unreadable),
        ..PassReport::default()
    };
    for r in per_shard {
        report.add(&r?);
    }
    if !shards.retired.is_empty() {
        if let Err(e) = retire_shards(deps, now).await {
            tracing::warn!(error = %e, "retired SLA shards not checked; the next pass checks them");
        }
    }
    metrics::escalation_failures(report.failed + report.unreadable);
    if report.due > 0 || report.unreadable > 0 {
        tracing::info!(
            due = report.due,
            reminded = report.reminded,
            escalated = report.escalated,
            recycled = report.recycled,
            reassigned = report.reassigned,
            resent = report.resent,
            failed = report.failed,
            unreadable = report.unreadable,
            "escalation pass"
        );
    }
    Ok(report)
}

/// Which shards this pass reads: the configured ones, and those a lowered `SlaShards` left
/// leads on, recorded before they are read. Every quarter of an hour a pass also looks at the
/// shards beyond the record ([`sla_shards::look_due`]), so a lead indexed with a count no pass
/// ran with is found. The record is bookkeeping: when it cannot be read or written, the pass
/// goes on over the shards it can know of, and the next pass tries again. `true` with it when
/// the record is unreadable as stored (an operator's to mend).
async fn plan_shards(deps: &Deps, now: DateTime<Utc>) -> (sla_shards::ShardPass, bool) {
    let configured = deps.store.sla_shards();
    let stored = match deps.store.sla_shard_record().await {
        Ok(r) if r.as_ref().is_none_or(sla_shards::is_sound) => r,
        Ok(_) => {
            tracing::error!(
                "SLA shards record out of bounds; every shard is read until it is mended"
            );
            return (sla_shards::every_shard(configured), true);
        }
        Err(e @ StoreError::Decode { .. }) => {
            tracing::error!(error = %e, "SLA shards record unreadable; every shard is read until it is mended");
            return (sla_shards::every_shard(configured), true);
        }
        Err(e) => {
            tracing::warn!(error = %e, "SLA shards record unread; this pass reads the configured shards");
            return (sla_shards::configured_only(configured), false);
        }
    };
    let recorded = stored
        .clone()
        .unwrap_or_else(|| sla_shards::first_record(configured, now));
    let beyond = configured.max(recorded.widest)..sla_shards::MAX_SHARDS;
    let looked = if !beyond.is_empty() && sla_shards::look_due(&recorded, now) {
        match deps.store.highest_occupied_sla_shard(beyond).await {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "SLA shards beyond the record not looked at; a later pass looks");
                None
            }
        }
    } else {
        None
    };
    let occupied_beyond = looked.flatten();
    let pass = sla_shards::plan(configured, &recorded, looked, now);
    let to_save = match (&stored, &pass.record) {
        (_, Some(changed)) => Some(changed),
        (None, None) => Some(&recorded),
        (Some(_), None) => None,
    };
    if let Some(record) = to_save {
        // Lost to a concurrent pass: this one still reads what its plan says, the next plans
        // from the record as that pass left it.
        if let Err(e) = deps
            .store
            .put_sla_shard_record(record, stored.as_ref())
            .await
        {
            tracing::warn!(error = %e, "SLA shards record not saved; the next pass saves it");
        }
        if record.narrowed_at == Some(now) {
            let widest = record.widest;
            if occupied_beyond.is_some() {
                tracing::warn!(configured, widest, "leads found on SLA shards beyond every recorded count: they are read until they are empty");
            } else if stored.is_none() {
                tracing::info!(configured, widest, "SLA shards record started: every shard is read for an hour, then the empty ones are forgotten");
            } else {
                tracing::warn!(
                    configured,
                    widest,
                    "SlaShards lowered: the retired shards are read until they are empty"
                );
            }
        }
    }
    (pass, false)
}

/// Forgets the retired shards above the highest that holds a lead (all of them once none
/// does), when the narrowing is old enough that nothing still writes to them. The shards looked
/// at are those of the record as read now.
async fn retire_shards(deps: &Deps, now: DateTime<Utc>) -> Result<(), StoreError> {
    let Some(recorded) = deps
        .store
        .sla_shard_record()
        .await?
        .filter(sla_shards::is_sound)
    else {
        return Ok(());
    };
    let configured = deps.store.sla_shards();
    // Before any look: within the grace nothing is forgotten, whatever the shards hold.
    if sla_shards::retire(configured, &recorded, None, now).is_none() {
        return Ok(());
    }
    // The top retired shard alone first: once retiring has begun it is the one a waiting lead
    // holds (the shards above were forgotten), and then nothing changes, for one query a pass.
    let top = recorded.widest - 1;
    let occupied = if !deps.store.sla_shard_is_empty(top).await? {
        Some(top)
    } else {
        deps.store
            .highest_occupied_sla_shard(configured..top)
            .await?
    };
    let Some(record) = sla_shards::retire(configured, &recorded, occupied, now) else {
        return Ok(());
    };
    if deps
        .store
        .put_sla_shard_record(&record, Some(&recorded))
        .await?
    {
        tracing::info!(
            shards = record.widest,
            "retired SLA index shards found empty are no longer read"
        );
    }
    Ok(())
}

async fn pass_shard(
    deps: &Deps,
    shard: u32,
    now: DateTime<Utc>,
) -> Result<PassReport, EscalateError> {
    let mut report = PassReport::default();
    let mut start = None;
    loop {
        let page = deps.store.sla_due(shard, now, start, PAGE_SIZE).await?;
        report.due += page.leads.len();
        for (key, e) in &page.unreadable {
            report.unreadable += 1;
            tracing::error!(item = key, error = %e, "index item unreadable; skipped");
        }
        let results = stream::iter(page.leads)
            .map(|lead| handle_lead(deps, lead, now))
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        for r in results {
            match r {
                Ok(taken) => {
                    for t in taken {
                        match t {
                            Taken::Step(EscalationAction::RemindOwner) => {
                                metrics::sla_step("reminder");
                                report.reminded += 1
                            }
                            Taken::Step(
                                EscalationAction::NotifyManager
                                | EscalationAction::NotifyTeamManager,
                            ) => {
                                metrics::sla_step("escalation");
                                report.escalated += 1
                            }
                            Taken::Step(EscalationAction::Reassign) => {
                                metrics::sla_step("reassign");
                                report.reassigned += 1
                            }
                            Taken::Recycled => report.recycled += 1,
                            Taken::Resent => report.resent += 1,
                        }
                    }
                }
                Err(e) => {
                    report.failed += 1;
                    tracing::warn!(error = %e, "lead not handled this pass");
                }
            }
        }
        match page.next {
            Some(key) => start = Some(key),
            None => return Ok(report),
        }
    }
}

/// What the pass did with a lead.
enum Taken {
    Step(EscalationAction),
    Recycled,
    Resent,
}

async fn handle_lead(
    deps: &Deps,
    lead: Lead,
    now: DateTime<Utc>,
) -> Result<Vec<Taken>, EscalateError> {
    if lifecycle::recycle_due(&lead, now) {
        return Ok(recycle(deps, &lead.lead_id, now)
            .await?
            .into_iter()
            .collect());
    }
    let mut taken = Vec::new();
    // A routed lead can wait for its emails and for its SLA step at once: both are done.
    if lead
        .sweep_at(deps.config.sweep.grace)
        .is_some_and(|at| at <= now)
        && resend(deps, &lead.lead_id, now).await?
    {
        taken.push(Taken::Resent);
    }
    if let Some(step) = escalate_lead(deps, lead, now).await? {
        taken.push(Taken::Step(step));
    }
    Ok(taken)
}

/// The sweep: a lead that has not moved on within the grace (its message lost, failed into a
/// dead-letter queue, or never sent) is sent to its step again, and looked at again after a
/// backoff. Saved before it is sent: if the send fails, the next look sends it again. `true`
/// when it was sent.
async fn resend(deps: &Deps, lead_id: &str, now: DateTime<Utc>) -> Result<bool, EscalateError> {
    let outcome = deps
        .store
        .modify_lead(lead_id, |lead| {
            match lead.resend(now, &deps.config.sweep, deps.clock.as_ref()) {
                Some((step, event)) => {
                    Change::Save(event.into_iter().collect(), Some((step, lead.clone())))
                }
                None => Change::Keep(None),
            }
        })
        .await?;
    let Some((_, Some((step, lead)))) = outcome else {
        return Ok(false);
    };
    leadrelay_aws::sweep::send_to(deps, &lead, step).await?;
    metrics::sweep_resent(step.as_str());
    let retries = lead.retries.as_ref().map_or(0, |r| r.count);
    tracing::warn!(
        lead_id,
        step = step.as_str(),
        retries,
        "stalled lead sent on again"
    );
    Ok(true)
}

/// Brings a nurtured lead back: a new round, scored again (its intent decayed) and routed.
/// Saved before it is queued; until it is routed the lead stays in the index, so a failed
/// send is made good by the next pass.
async fn recycle(
    deps: &Deps,
    lead_id: &str,
    now: DateTime<Utc>,
) -> Result<Option<Taken>, EscalateError> {
    let outcome = deps
        .store
        .modify_lead(lead_id, |lead| {
            if !lifecycle::recycle_due(lead, now) {
                return Change::Keep(None);
            }
            let previous = lifecycle::recycle(lead, now);
            let summary = format!(
                "recycle date reached: back from nurture as new, to be scored and routed again (round {}){}",
                lead.round,
                previous.map(|o| format!("; previous owner {o}")).unwrap_or_default()
            );
            let e = timeline::event(deps.clock.as_ref(), lead_id, EventKind::Recycled, "escalate", summary)
                .changing("nurture", "new");
            Change::Save(vec![e], Some(lead.clone()))
        })
        .await?;
    match outcome {
        Some((_, Some(lead))) => {
            send_on(deps, &lead).await?;
            tracing::info!(lead_id, round = lead.round, "nurtured lead recycled");
            Ok(Some(Taken::Recycled))
        }
        _ => Ok(None),
    }
}

/// Sends a recycled lead to the stage it waits for.
async fn send_on(deps: &Deps, lead: &Lead) -> Result<(), EscalateError> {
    let queue = match lead.stage {
        Stage::Scored => QueueName::Scored,
        _ => QueueName::Captured,
    };
    deps.queues
        .send(
            queue,
            &LeadMessage {
                lead_id: lead.lead_id.clone(),
            },
        )
        .await?;
    Ok(())
}

/// Takes the due step of one lead. The notification is queued before the step is recorded: if
/// recording fails, the next pass queues it again and notify's once-only claim keeps it to
/// one email.
async fn escalate_lead(
    deps: &Deps,
    lead: Lead,
    now: DateTime<Utc>,
) -> Result<Option<EscalationAction>, EscalateError> {
    let ladder = &deps.config.sla.escalation;
    let Some((step, action)) = lead
        .sla
        .as_ref()
        .and_then(|s| sla::due_step(s, ladder, now))
    else {
        return Ok(None);
    };
    if action == EscalationAction::Reassign {
        return reassign(deps, &lead.lead_id, step, now).await;
    }
    deps.queues
        .send(
            QueueName::Notify,
            &NotifyMessage::Escalation {
                lead_id: lead.lead_id.clone(),
                step,
                round: lead.round,
            },
        )
        .await?;
    deps.store
        .modify_lead(&lead.lead_id, |lead| {
            // Decided again on the lead as stored: contact may have come in meanwhile.
            match lead.take_escalation_step(step, action, &deps.config, now, deps.clock.as_ref()) {
                Some(event) => Change::Save(vec![event], ()),
                None => Change::Keep(()),
            }
        })
        .await?;
    tracing::info!(lead_id = lead.lead_id, step, action = ?action, "escalation step taken");
    Ok(Some(action))
}

/// The owner let the lead lapse: it goes to the next available owner of the team (never back
/// to anyone who had it) with a fresh clock — unless it has been passed on as often as
/// allowed, when the step is recorded as skipped and the ladder goes on.
async fn reassign(
    deps: &Deps,
    lead_id: &str,
    step: usize,
    now: DateTime<Utc>,
) -> Result<Option<EscalationAction>, EscalateError> {
    let outcome = deps
        .store
        .modify_lead(lead_id, |lead| {
            match lead.reassign(step, &deps.config, now, deps.clock.as_ref()) {
                Some((Reassigned::ToNextOwner, event)) => {
                    Change::Save(vec![event], Some(lead.clone()))
                }
                Some((Reassigned::LimitReached, event)) => Change::Save(vec![event], None),
                None => Change::Keep(None),
            }
        })
        .await?;
    match outcome {
        Some((_, Some(lead))) => {
            send_on(deps, &lead).await?;
            tracing::info!(lead_id, hop = lead.previous_owners.len(), "lead reassigned");
            Ok(Some(EscalationAction::Reassign))
        }
        _ => Ok(None),
    }
}
