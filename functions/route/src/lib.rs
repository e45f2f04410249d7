//! route: gives a scored lead its owner — account owner, rule, or the team's weighted fair
//! rotation over the owners available now — records why, and starts the SLA clock at the
//! lead's arrival.

use leadrelay_aws::batch::{self, BatchOutcome, QueueMessage};
use leadrelay_aws::metrics;
use leadrelay_aws::queue::{LeadMessage, NotifyMessage, QueueError, QueueName};
use leadrelay_aws::retry;
use leadrelay_aws::store::StoreError;
use leadrelay_aws::sweep;
use leadrelay_aws::Deps;
use leadrelay_domain::lead::{Lead, Stage};
use leadrelay_domain::routing;
use leadrelay_domain::sweep::Step;

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("no owner is called {0:?}")]
    NoSuchOwner(String),
    #[error("lead {0} has not been scored yet")]
    NotScored(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

impl batch::MessageError for RouteError {
    /// Whether the message is worth delivering again: a lead not scored yet will be, and a
    /// store or queue fault may pass.
    fn is_transient(&self) -> bool {
        match self {
            RouteError::NoSuchOwner(_) => false,
            RouteError::NotScored(_) => true,
            RouteError::Store(e) => e.is_transient(),
            RouteError::Queue(e) => e.is_transient(),
        }
    }
}

impl retry::Conflict for RouteError {
    fn is_conflict(&self) -> bool {
        matches!(self, RouteError::Store(StoreError::Conflict))
    }
}

/// How long a router keeps deciding again while others take the team's rotation first: each
/// round one of them wins, so a rush of leads over one team needs many rounds. Route's
/// timeout is 30 s (infra/template.yaml); an attempt takes tens of milliseconds on DynamoDB,
/// so 5 s is ample for the last one and the send to notify.
const RETRY_BUDGET: std::time::Duration = std::time::Duration::from_secs(25);

/// A batch from the scored queue, one lead after another: leads of one team all update its
/// rotation, so routing them at once would only turn into conflicts (each one more read and
/// write), and a decision takes milliseconds.
pub async fn handle_batch(deps: &Deps, messages: Vec<QueueMessage>) -> BatchOutcome {
    batch::process_at_most(1, "scored", messages, |m: LeadMessage| async move {
        let result = route_lead(deps, m.lead_id.clone()).await;
        sweep::park_if_permanent(deps, Step::Route, &m.lead_id, &m, result).await
    })
    .await
}

/// Routes one lead, once: a redelivered message finds it routed and only re-sends the
/// notification request (notify sends each email once). The decision and the team's rotation
/// are saved in one transaction, so a duplicate message or a concurrent router can neither
/// double-assign nor skew the shares; a router that loses that race reads both again and
/// decides again, under the one retry policy.
pub async fn route_lead(deps: &Deps, lead_id: String) -> Result<(), RouteError> {
    let message = retry::on_conflict_within(RETRY_BUDGET, || route_once(deps, &lead_id)).await?;
    if let Some(message) = message {
        deps.queues.send(QueueName::Notify, &message).await?;
    }
    Ok(())
}

/// Load → decide → conditional save. The notification to send, if any.
async fn route_once(deps: &Deps, lead_id: &str) -> Result<Option<NotifyMessage>, RouteError> {
    let lead_id = lead_id.to_owned();
    // One request for the lead and every team's rotation (they do not depend on the lead).
    let (lead, states) = deps
        .store
        .routing_reads(Some(&lead_id), deps.config.teams.keys().map(String::as_str))
        .await?;
    // Only an erasure removes a lead: its messages have nothing left to do.
    let Some(mut lead) = lead else {
        tracing::warn!(
            lead_id,
            "lead not found (erased on request?); message dropped"
        );
        return Ok(None);
    };
    if lead.is_quarantined() {
        return Ok(None);
    }
    match lead.stage {
        Stage::PendingFetch | Stage::Captured => return Err(RouteError::NotScored(lead_id)),
        Stage::Routed => return Ok(Some(NotifyMessage::Assigned { lead_id })),
        Stage::Unassigned => return Ok(Some(NotifyMessage::Unassigned { lead_id })),
        Stage::Scored => {}
    }
    let now = deps.clock.now();
    let domain = company_domain(&lead);
    let configured = domain.as_deref().and_then(|d| configured_account(deps, d));
    // The domain's learned account: only when learning accounts and no configured one rules.
    let learn = domain
        .as_deref()
        .filter(|_| configured.is_none() && deps.config.routing.learn_accounts_for.is_some());
    let learned = match learn {
        Some(d) => deps.store.account(d).await?,
        None => None,
    };
    let account = match (configured, learn) {
        (Some(a), _) => Some(a),
        (None, Some(d)) => learned_account(deps, d, learned, now),
        (None, None) => None,
    };
    let situation = routing::Situation {
        now,
        states: &states,
        account,
    };
    let message = match routing::decide(&lead, &deps.config, &situation) {
        Ok(decision) => {
            let event = lead.assign(&decision, &deps.config, now, deps.clock.as_ref());
            // The domain is this owner's account from now on (when learning accounts).
            let learn = deps
                .config
                .routing
                .learn_accounts_for
                .and(domain.as_deref())
                .map(|d| (d, decision.owner.id.as_str()));
            deps.store
                .save_routing(&mut lead, &[event], &decision.team, &decision.state, learn)
                .await?;
            metrics::lead_routed(&decision.team, decision.via.as_str());
            if lead.round == 0 {
                // Speed to lead: from arrival, not from scoring (a recycled lead's new round
                // would count its months in nurture).
                metrics::arrival_to_assigned((now - lead.received_at).to_std().unwrap_or_default());
            }
            NotifyMessage::Assigned {
                lead_id: lead_id.clone(),
            }
        }
        Err(unroutable) => {
            let event = lead.leave_unassigned(&unroutable, deps.clock.as_ref());
            deps.store.save_lead(&mut lead, &[event]).await?;
            metrics::lead_routed(&unroutable.team, "unassigned");
            NotifyMessage::Unassigned {
                lead_id: lead_id.clone(),
            }
        }
    };
    tracing::info!(
        lead_id,
        source = lead.source,
        owner = lead.assignment.as_ref().map(|a| a.owner_id.as_str()),
        team = lead.assignment.as_ref().map(|a| a.team.as_str()),
        "lead routed"
    );
    Ok(Some(message))
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

/// The configured account owner of a domain.
fn configured_account(deps: &Deps, domain: &str) -> Option<routing::AccountOwner> {
    deps.config
        .routing
        .accounts
        .iter()
        .find(|a| a.domain.eq_ignore_ascii_case(domain))
        .map(|a| routing::AccountOwner {
            owner_id: a.owner.clone(),
            why: format!("configured account {domain}"),
        })
}

/// The owner who took the domain's latest lead, if within the configured window and still an
/// owner.
fn learned_account(
    deps: &Deps,
    domain: &str,
    learned: Option<(String, chrono::DateTime<chrono::Utc>)>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<routing::AccountOwner> {
    let window = deps.config.routing.learn_accounts_for?;
    let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
    learned
        .filter(|(owner, at)| now - *at <= window && deps.config.owner(owner).is_some())
        .map(|(owner, at)| routing::AccountOwner {
            why: format!(
                "account {domain} learned: {owner} took its lead on {}",
                at.format("%Y-%m-%d")
            ),
            owner_id: owner,
        })
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
