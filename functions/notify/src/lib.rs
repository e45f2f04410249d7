//! notify: sends the emails: the acknowledgement to the lead and the assignment to the owner,
//! the unassigned alert, reminders and escalations. Each email goes out at most once per lead
//! and kind, however often a message is delivered.

use chrono::{DateTime, Utc};
use leadrelay_aws::batch::{self, BatchOutcome, QueueMessage};
use leadrelay_aws::mailer::MailError;
use leadrelay_aws::metrics;
use leadrelay_aws::queue::NotifyMessage;
use leadrelay_aws::store::Change;
use leadrelay_aws::store::{EmailClaim, Recorded, StoreError};
use leadrelay_aws::sweep;
use leadrelay_aws::Deps;
use leadrelay_domain::emails::{self, Email, EmailKind, Occasion};
use leadrelay_domain::lead::EscalationAction;
use leadrelay_domain::lead::{EventKind, Lead};
use leadrelay_domain::sweep::Step;
use leadrelay_domain::templates::TemplateError;
use leadrelay_domain::time_zone::TimeZone;
use leadrelay_domain::{links, timeline};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("lead {0} has no owner to notify")]
    NoOwner(String),
    #[error("escalation step {step} of lead {lead_id} is not in the configured ladder")]
    NoSuchStep { lead_id: String, step: usize },
    #[error("the {kind} email of lead {lead_id} is being sent by another worker")]
    InFlight { lead_id: String, kind: String },
    #[error("no link-signing key: notify must start with its secrets")]
    NoLinkKey,
    #[error("no email templates: notify must start with its templates")]
    NoTemplates,
    #[error("no mailer: notify must start with SES's client")]
    NoMailer,
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mail(#[from] MailError),
}

impl batch::MessageError for NotifyError {
    /// Whether the message is worth delivering again: another worker's claim lapses, a store or
    /// SES fault may pass. A missing owner, step, key or template will not appear by itself.
    fn is_transient(&self) -> bool {
        match self {
            NotifyError::InFlight { .. } => true,
            NotifyError::Store(e) => e.is_transient(),
            NotifyError::Mail(e) => e.is_transient(),
            NotifyError::NoOwner(_)
            | NotifyError::NoSuchStep { .. }
            | NotifyError::NoLinkKey
            | NotifyError::NoTemplates
            | NotifyError::NoMailer
            | NotifyError::Template(_) => false,
        }
    }

    fn is_expected(&self) -> bool {
        matches!(self, NotifyError::InFlight { .. })
    }
}

/// Further tries of the record of an email SES accepted.
const RECORD_ATTEMPTS: u32 = 4;

/// A batch from the notify queue.
pub async fn handle_batch(deps: &Deps, messages: Vec<QueueMessage>) -> BatchOutcome {
    batch::process("notify", messages, |m: NotifyMessage| async move {
        let lead_id = m.lead_id().to_owned();
        let result = notify(deps, m.clone()).await;
        sweep::park_if_permanent(deps, Step::Notify, &lead_id, &m, result).await
    })
    .await
}

pub async fn notify(deps: &Deps, message: NotifyMessage) -> Result<(), NotifyError> {
    // Said before anything is claimed: without it, nothing can be sent.
    if deps.mailer.is_none() {
        return Err(NotifyError::NoMailer);
    }
    let lead_id = message.lead_id().to_owned();
    // Only an erasure removes a lead: its messages have nothing left to do.
    let Some(lead) = deps.store.get_lead(&lead_id).await? else {
        tracing::warn!(
            lead_id = lead_id,
            "lead not found (erased on request?); message dropped"
        );
        return Ok(());
    };
    if lead.is_quarantined() {
        return Ok(());
    }
    // Changed as the emails are recorded (acknowledged, notified), saved with their records.
    let mut lead = lead;
    let now = deps.clock.now();
    match message {
        NotifyMessage::Assigned { .. } => {
            let owner = lead
                .assignment
                .as_ref()
                .ok_or_else(|| NotifyError::NoOwner(lead_id.clone()))?;
            let to_owner = format!("owner {}", owner.owner_id);
            let ack = compose(deps, &lead, &EmailKind::Acknowledgement, now);
            let assignment = compose(deps, &lead, &EmailKind::Assignment, now);
            let ahead = match (&ack, &assignment) {
                (Ok(Some(ack)), Ok(Some(_))) => claim_ahead(deps, &lead, ack, now).await?,
                // One email to send, or one that cannot be made: each is claimed on its own.
                _ => Ahead::NONE,
            };
            // Try both even if one fails, then report the first failure so the message is
            // retried; the one that went out is not sent again. The assignment's record marks
            // the round notified when the acknowledgement is settled.
            let acked = match ack {
                Ok(Some(email)) => {
                    let kind = EmailKind::Acknowledgement;
                    send_once(deps, &mut lead, kind, email, "the lead", ahead, false).await
                }
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            let completes = acked.is_ok();
            let assigned = match assignment {
                Ok(Some(email)) => {
                    let kind = EmailKind::Assignment;
                    send_once(deps, &mut lead, kind, email, &to_owner, ahead, completes).await
                }
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            acked.and(assigned)?;
            notified(deps, &lead).await
        }
        NotifyMessage::Unassigned { .. } => {
            let to_manager = format!("manager of team {}", deps.config.routing.fallback_team);
            let kind = EmailKind::Unassigned;
            if let Some(email) = compose(deps, &lead, &kind, now)? {
                send_once(deps, &mut lead, kind, email, &to_manager, Ahead::NONE, true).await?;
            }
            notified(deps, &lead).await
        }
        NotifyMessage::Escalation { step, round, .. } => {
            // First contact may have come after the escalation was queued; a reassignment or a
            // recycle since makes it another round's, and this step is not the new owner's.
            if lead.sla.as_ref().is_none_or(|s| !s.is_open()) {
                return Ok(());
            }
            if round != lead.round {
                tracing::debug!(
                    lead_id,
                    round,
                    current = lead.round,
                    "escalation of an earlier round; nothing to do"
                );
                return Ok(());
            }
            let owner = lead
                .assignment
                .as_ref()
                .ok_or_else(|| NotifyError::NoOwner(lead_id.clone()))?;
            let action = deps
                .config
                .sla
                .escalation
                .get(step)
                .map(|s| s.action)
                .ok_or(NotifyError::NoSuchStep {
                    lead_id: lead_id.clone(),
                    step,
                })?;
            let (kind, to_whom) = match action {
                EscalationAction::RemindOwner => (
                    EmailKind::Reminder { step },
                    format!("owner {}", owner.owner_id),
                ),
                EscalationAction::NotifyManager => (
                    EmailKind::Escalation { step },
                    format!("manager of {}", owner.owner_id),
                ),
                EscalationAction::NotifyTeamManager => {
                    // The escalation email, to the team's manager.
                    let kind = EmailKind::Escalation { step };
                    let Some(mut email) = compose(deps, &lead, &kind, now)? else {
                        return Ok(());
                    };
                    if let Some(team) = deps.config.teams.get(&owner.team) {
                        email.to.clone_from(&team.manager_email);
                    }
                    let to_whom = format!("manager of team {}", owner.team);
                    return send_once(deps, &mut lead, kind, email, &to_whom, Ahead::NONE, false)
                        .await;
                }
                // Escalate reassigns; there is no email of its own (the new owner's
                // assignment email says it all).
                EscalationAction::Reassign => return Ok(()),
            };
            match compose(deps, &lead, &kind, now)? {
                Some(email) => {
                    send_once(deps, &mut lead, kind, email, &to_whom, Ahead::NONE, false).await
                }
                None => Ok(()),
            }
        }
    }
}

/// This round's emails are out: the lead leaves the sweep. Usually marked already, with the
/// record of the round's last email; else (an email found sent by an earlier delivery, a lead
/// saved by someone else meanwhile) the lead is read again (under the one retry policy). A
/// later round's lead is left alone.
async fn notified(deps: &Deps, lead: &Lead) -> Result<(), NotifyError> {
    if lead.notified {
        return Ok(());
    }
    let round = lead.round;
    deps.store
        .modify_lead(&lead.lead_id, |l| {
            if l.mark_notified(round) {
                Change::Save(Vec::new(), ())
            } else {
                Change::Keep(())
            }
        })
        .await?;
    Ok(())
}

/// The email of `kind` for a lead, rendered from the templates exactly as notify sends it
/// (`leadrelay email preview` shows it with this too); `None` when it has nobody to go to (an
/// acknowledgement to a lead without an email address).
pub fn compose(
    deps: &Deps,
    lead: &Lead,
    kind: &EmailKind,
    now: DateTime<Utc>,
) -> Result<Option<Email>, NotifyError> {
    let templates = deps.templates.as_deref().ok_or(NotifyError::NoTemplates)?;
    let owner = || {
        lead.assignment
            .as_ref()
            .ok_or_else(|| NotifyError::NoOwner(lead.lead_id.clone()))
    };
    // Times read in the owner's (or team's) business calendar's zone, else UTC.
    let time_zone = |team: &str, owner_id: &str| {
        deps.config
            .calendar_for(team, owner_id)
            .map_or(TimeZone::UTC, |c| c.time_zone().clone())
    };
    Ok(match kind {
        EmailKind::Acknowledgement => {
            let owner = owner()?;
            let zone = time_zone(&owner.team, &owner.owner_id);
            let at = Occasion {
                now,
                time_zone: &zone,
                contacted_url: None,
            };
            emails::acknowledgement(templates, lead, owner, &at)?
        }
        EmailKind::Assignment | EmailKind::Reminder { .. } | EmailKind::Escalation { .. } => {
            let owner = owner()?;
            let url = contacted_url(deps, lead, &owner.owner_id, now)?;
            let zone = time_zone(&owner.team, &owner.owner_id);
            let at = Occasion {
                now,
                time_zone: &zone,
                contacted_url: Some(&url),
            };
            let render = match kind {
                EmailKind::Assignment => emails::assignment,
                EmailKind::Reminder { .. } => emails::reminder,
                _ => emails::escalation,
            };
            Some(render(templates, lead, owner, &at)?)
        }
        EmailKind::Unassigned => {
            let team = &deps.config.routing.fallback_team;
            let manager = &deps.config.teams[team].manager_email;
            // No owner: the team's calendar.
            let zone = time_zone(team, "");
            let at = Occasion {
                now,
                time_zone: &zone,
                contacted_url: None,
            };
            let why = "no active owner could take it";
            Some(emails::unassigned(
                templates, lead, team, manager, why, &at,
            )?)
        }
    })
}

/// The contacted link of this round's assignment: bound to the lead, its owner and the round,
/// so it stops only this owner's clock (a manager's escalation email carries the owner's link:
/// the manager records the contact on the owner's behalf).
fn contacted_url(
    deps: &Deps,
    lead: &Lead,
    owner_id: &str,
    now: DateTime<Utc>,
) -> Result<String, NotifyError> {
    let ttl =
        chrono::Duration::from_std(deps.config.links.ttl).unwrap_or(chrono::Duration::days(7));
    let key = deps.secrets.link().ok_or(NotifyError::NoLinkKey)?;
    let lead_id = &lead.lead_id;
    let token = links::sign(key, lead_id, owner_id, lead.round, now + ttl);
    Ok(format!(
        "{}/v1/leads/{lead_id}/contacted?token={token}",
        deps.config.links.base_url.trim_end_matches('/')
    ))
}

/// Claims taken ahead for a message's emails, all in one request.
#[derive(Debug, Clone, Copy)]
struct Ahead {
    /// The emails' claims are held: each is sent without claiming it again.
    claimed: bool,
    /// The acknowledgement window of the lead's address is held too.
    window: bool,
}

impl Ahead {
    const NONE: Ahead = Ahead {
        claimed: false,
        window: false,
    };
}

/// Claims the acknowledgement and the assignment, and the address's acknowledgement window,
/// in one request ([`leadrelay_aws::store::Store::claim_emails`]): what a first delivery finds
/// free. When anything was not free (a retry, an address acknowledged for another lead),
/// nothing is held and each email claims its own as before.
async fn claim_ahead(
    deps: &Deps,
    lead: &Lead,
    ack: &Email,
    now: DateTime<Utc>,
) -> Result<Ahead, NotifyError> {
    let ack_key = email_key(lead, &EmailKind::Acknowledgement);
    let assignment_key = email_key(lead, &EmailKind::Assignment);
    let once_per = deps.config.email.acknowledge_once_per;
    // A source's hourly cap is counted before the window is taken: an acknowledgement the cap
    // refuses must not hold the address for a day.
    let window = (!once_per.is_zero() && hourly_cap(deps, lead).is_none()).then(|| {
        (
            ack.to.as_str(),
            now + leadrelay_domain::clock::span(once_per),
        )
    });
    let claimed = deps
        .store
        .claim_emails(&lead.lead_id, &[&ack_key, &assignment_key], window, now)
        .await?;
    Ok(Ahead {
        claimed,
        window: claimed && window.is_some(),
    })
}

/// The key an email of `kind` is claimed and recorded under. The acknowledgement goes to the
/// person once ever; the owners' emails once per routing round (a recycled or reassigned lead
/// has a new owner to tell).
fn email_key(lead: &Lead, kind: &EmailKind) -> String {
    if lead.round == 0 || matches!(kind, EmailKind::Acknowledgement) {
        kind.key()
    } else {
        format!("{}@round{}", kind.key(), lead.round)
    }
}

fn hourly_cap(deps: &Deps, lead: &Lead) -> Option<u32> {
    deps.config
        .source(&lead.source)
        .and_then(|s| s.max_acknowledgements_per_hour)
}

/// Why an acknowledgement must not go, if it must not: the source's hourly cap is reached, or
/// the address was acknowledged for another lead within `email.acknowledge_once_per`. A form
/// is not a way to make the company's SES write to anyone, again and again; over the caps the
/// lead is still stored, scored, routed and its owner told.
async fn acknowledgement_refused(
    deps: &Deps,
    lead: &Lead,
    address: &str,
    now: DateTime<Utc>,
    window_held: bool,
) -> Result<Option<String>, NotifyError> {
    if let Some(cap) = hourly_cap(deps, lead) {
        let hour = now.timestamp() / 3600;
        let window_ends = DateTime::from_timestamp((hour + 1) * 3600, 0).unwrap_or(now);
        let key = format!("acknowledgements#{}#{hour}", lead.source);
        if deps.store.count_hit(&key, window_ends).await? > u64::from(cap) {
            return Ok(Some(format!(
                "source {} reached its cap of {cap} acknowledgements this hour",
                lead.source
            )));
        }
    }
    let window = deps.config.email.acknowledge_once_per;
    if !window.is_zero() && !window_held {
        let until = now + leadrelay_domain::clock::span(window);
        if !deps
            .store
            .claim_acknowledgement(address, &lead.lead_id, now, until)
            .await?
        {
            return Ok(Some(format!(
                "the address was acknowledged for another lead within {}",
                leadrelay_domain::email_context::distance((window.as_secs() / 60) as i64)
            )));
        }
    }
    Ok(None)
}

/// Claims the email (unless held `ahead`), sends it, confirms it; on a failed send gives the
/// claim back so the retry can send. The record saves the lead with what the email changes on
/// it: the acknowledgement's time, and the round notified when this email `completes` it.
/// `to_whom` names the recipient by role, never by address (no personal data in logs).
async fn send_once(
    deps: &Deps,
    lead: &mut Lead,
    kind: EmailKind,
    email: Email,
    to_whom: &str,
    ahead: Ahead,
    completes: bool,
) -> Result<(), NotifyError> {
    let mailer = deps.mailer.as_ref().ok_or(NotifyError::NoMailer)?;
    let key = email_key(lead, &kind);
    let now = deps.clock.now();
    if !ahead.claimed {
        match deps.store.claim_email(&lead.lead_id, &key, now).await? {
            EmailClaim::AlreadySent => return Ok(()),
            EmailClaim::InFlight => {
                return Err(NotifyError::InFlight {
                    lead_id: lead.lead_id.clone(),
                    kind: key,
                });
            }
            EmailClaim::Claimed => {}
        }
    }
    if matches!(kind, EmailKind::Acknowledgement) {
        if let Some(why) = acknowledgement_refused(deps, lead, &email.to, now, ahead.window).await?
        {
            let event = timeline::event(
                deps.clock.as_ref(),
                &lead.lead_id,
                EventKind::EmailSent,
                "notify",
                format!("acknowledgement not sent: {why}"),
            );
            let recorded = deps
                .store
                .email_skipped(&lead.lead_id, &key, &why, &event, now)
                .await?;
            if recorded == Recorded::LeadErased {
                tracing::info!(
                    lead_id = lead.lead_id,
                    "lead erased meanwhile; nothing recorded"
                );
                return Ok(());
            }
            tracing::info!(
                lead_id = lead.lead_id,
                reason = why,
                "acknowledgement skipped"
            );
            return Ok(());
        }
    }
    let message_id = match mailer.send(&email).await {
        Ok(id) => {
            metrics::email_sent(kind.name());
            if matches!(kind, EmailKind::Acknowledgement) {
                let waited = deps.clock.now() - lead.received_at;
                metrics::arrival_to_acknowledged(waited.to_std().unwrap_or_default());
            }
            id
        }
        Err(e) => {
            metrics::email_failed(kind.name());
            if let Err(release) = deps.store.release_email(&lead.lead_id, &key).await {
                tracing::warn!(lead_id = lead.lead_id, kind = key, error = %release, "claim not released; it lapses by itself");
            }
            return Err(e.into());
        }
    };
    // SES has the email. Until the record below is written, a crash means the email goes
    // again once the claim lapses (at least once: docs/architecture.md, invariant 3), so the
    // window is kept to this one write, retried here when it fails in a way that may pass.
    let event = timeline::event(
        deps.clock.as_ref(),
        &lead.lead_id,
        EventKind::EmailSent,
        "notify",
        format!("{key} email sent to {to_whom}"),
    );
    // What this email changes on the lead, saved with its record (no change: only checked).
    let mut changed = lead.clone();
    let acknowledges = matches!(kind, EmailKind::Acknowledgement) && changed.mark_acknowledged(now);
    let notifies = completes && changed.mark_notified(lead.round);
    let mut changed = (acknowledges || notifies).then_some(changed);
    let mut attempt = 0;
    let recorded = loop {
        match deps
            .store
            .email_sent(
                &lead.lead_id,
                &key,
                &email,
                &message_id,
                &event,
                now,
                changed.as_mut(),
            )
            .await
        {
            Ok(recorded) => break recorded,
            Err(e) if !e.is_transient() || attempt >= RECORD_ATTEMPTS => {
                tracing::error!(lead_id = lead.lead_id, kind = key, error = %e, "email sent but not recorded; it is sent again when the claim lapses");
                return Err(e.into());
            }
            Err(_) => {
                tokio::time::sleep(leadrelay_aws::retry::pause(attempt)).await;
                attempt += 1;
            }
        }
    };
    // When the lead was saved by someone else meanwhile (`LeadMoved`), the record set the
    // acknowledgement's time on the lead as stored, and `notified` reads it to mark the round.
    if let (Recorded::Recorded, Some(saved)) = (recorded, changed) {
        *lead = saved;
    }
    if recorded == Recorded::LeadErased {
        // Erased on request while SES had the email: keep nothing of it.
        tracing::info!(
            lead_id = lead.lead_id,
            kind = key,
            "email sent as its lead was erased; nothing recorded"
        );
        return Ok(());
    }
    tracing::info!(
        lead_id = lead.lead_id,
        kind = key,
        template = email.template,
        "email sent"
    );
    Ok(())
}
