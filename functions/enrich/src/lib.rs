//! enrich: normalises a captured lead, derives what it can, scores it, and hands it to route.

use leadrelay::batch::{self, BatchOutcome, QueueMessage};
use leadrelay::domain::lead::{EventKind, Stage};
use leadrelay::domain::{enrichment, scoring, timeline};
use leadrelay::queue::{LeadMessage, QueueError, QueueName};
use leadrelay::store::{Change, StoreError};
use leadrelay::Deps;

#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error("lead {0} does not exist")]
    NoSuchLead(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// A batch from the captured queue.
pub async fn handle_batch(deps: &Deps, messages: Vec<QueueMessage>) -> BatchOutcome {
    batch::process("captured", messages, |m: LeadMessage| {
        enrich_lead(deps, m.lead_id)
    })
    .await
}

/// Enriches and scores one lead, once: a redelivered message finds the lead scored and only
/// passes it on again.
pub async fn enrich_lead(deps: &Deps, lead_id: String) -> Result<(), EnrichError> {
    let config = &deps.config;
    let outcome = deps
        .store
        .modify_lead(&lead_id, |lead| {
            // Test and spam leads stop here; so does a lead whose details are still to be fetched.
            if lead.is_quarantined() || lead.stage == Stage::PendingFetch {
                return Change::Keep(false);
            }
            if lead.stage >= Stage::Scored {
                return Change::Keep(true);
            }
            // The platform's word on the phone's country beats the source's default.
            let default_country = lead.phone_country_hint.clone().or_else(|| {
                config
                    .source(&lead.source)
                    .and_then(|s| s.default_country.clone())
            });
            lead.enrichment = Some(enrichment::enrich(
                &lead.fields,
                default_country.as_deref(),
                &config.enrichment.free_email_domains,
            ));
            let score = scoring::score(lead, &config.scoring);
            let reasons: Vec<String> = score.reasons.iter().map(|r| r.to_string()).collect();
            let summary = format!(
                "scored {} ({}; fit {}, intent {}){}{}",
                score.points,
                score.tier,
                score.fit,
                score.intent,
                if reasons.is_empty() { "" } else { ": " },
                reasons.join(", ")
            );
            lead.score = Some(score);
            lead.stage = Stage::Scored;
            let e = timeline::event(
                deps.clock.as_ref(),
                &lead.lead_id,
                EventKind::Scored,
                "enrich",
                summary,
            );
            Change::Save(vec![e], true)
        })
        .await?;
    let Some((lead, forward)) = outcome else {
        return Err(EnrichError::NoSuchLead(lead_id));
    };
    if forward {
        deps.queues
            .send(
                QueueName::Scored,
                &LeadMessage {
                    lead_id: lead.lead_id.clone(),
                },
            )
            .await?;
        let s = lead.score.as_ref();
        tracing::info!(
            lead_id = lead.lead_id,
            source = lead.source,
            points = s.map(|s| s.points),
            tier = s.map(|s| s.tier.as_str()),
            "lead scored"
        );
    }
    Ok(())
}
