//! enrich: normalises a captured lead, derives what it can, scores it, and hands it to route.

use leadrelay::batch::{self, BatchOutcome, QueueMessage};
use leadrelay::domain::lead::{EventKind, Stage};
use leadrelay::domain::{enrichment, scoring, timeline};
use leadrelay::fetch::FetchError;
use leadrelay::queue::{LeadMessage, QueueError, QueueName};
use leadrelay::store::{Change, StoreError};
use leadrelay::Deps;

#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
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
    fetch_details(deps, &lead_id).await?;
    let config = &deps.config;
    let outcome = deps
        .store
        .modify_lead(&lead_id, |lead| {
            // Test and spam leads stop here; so does a lead whose details are still to be fetched.
            if lead.is_quarantined() || lead.stage == Stage::PendingFetch {
                return Change::Keep(false);
            }
            // Scored already: pass it on again, unless a repeat submission asks for a new
            // score.
            if lead.stage >= Stage::Scored && !lead.needs_rescore {
                return Change::Keep(lead.stage == Stage::Scored);
            }
            let rescoring = lead.stage >= Stage::Scored;
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
            let score = scoring::score(lead, &config.scoring, deps.clock.now());
            let reasons: Vec<String> = score.reasons.iter().map(|r| r.to_string()).collect();
            let summary = format!(
                "{} {} ({}; fit {}, intent {}){}{}",
                if rescoring {
                    "scored again after a repeat submission:"
                } else {
                    "scored"
                },
                score.points,
                score.tier,
                score.fit,
                score.intent,
                if reasons.is_empty() { "" } else { ": " },
                reasons.join(", ")
            );
            lead.score = Some(score);
            lead.needs_rescore = false;
            // A lead already routed keeps its owner: only a lead not yet routed moves on.
            let forward = lead.stage <= Stage::Scored;
            lead.stage = lead.stage.max(Stage::Scored);
            let e = timeline::event(
                deps.clock.as_ref(),
                &lead.lead_id,
                EventKind::Scored,
                "enrich",
                summary,
            );
            Change::Save(vec![e], forward)
        })
        .await?;
    // Only an erasure removes a lead: its messages have nothing left to do.
    let Some((lead, forward)) = outcome else {
        tracing::warn!(
            lead_id = lead_id,
            "lead not found (erased on request?); message dropped"
        );
        return Ok(());
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

/// For a lead the platform delivered as ids only: reads its details from the platform's API
/// and makes it a captured lead. A failed fetch is recorded on the timeline and the message
/// fails, so SQS delivers it again later: the lead stays visible as pending, never dropped.
async fn fetch_details(deps: &Deps, lead_id: &str) -> Result<(), EnrichError> {
    let Some(lead) = deps.store.get_lead(lead_id).await? else {
        return Ok(());
    };
    if lead.stage != Stage::PendingFetch || lead.is_quarantined() {
        return Ok(());
    }
    let fetched = match fetch(deps, &lead.source, lead.external_id.as_deref()).await {
        Ok(details) => details,
        Err(e) => {
            tracing::warn!(lead_id, source = lead.source, error = %e, "lead details not fetched; will retry");
            let event = timeline::event(
                deps.clock.as_ref(),
                lead_id,
                EventKind::FetchFailed,
                "enrich",
                format!("details not fetched: {e}; will retry"),
            );
            deps.store.append_events(&[event]).await?;
            return Err(e.into());
        }
    };
    deps.store
        .modify_lead(lead_id, |lead| {
            if lead.stage != Stage::PendingFetch {
                return Change::Keep(());
            }
            let d = fetched.clone();
            lead.fields = d.fields;
            lead.attributes.extend(d.custom);
            if let Some(consent) = d.consent {
                lead.attributes
                    .insert("consent".into(), consent.to_string());
            }
            lead.utm.extend(d.utm);
            lead.click_ids.extend(d.click_ids);
            for (k, v) in d.campaign {
                lead.campaign.entry(k).or_insert(v);
            }
            lead.phone_country_hint = d.phone_country_hint.or(lead.phone_country_hint.take());
            lead.submitted_at = lead.submitted_at.or(d.submitted_at);
            lead.is_test |= d.is_test;
            lead.stage = Stage::Captured;
            let e = timeline::event(
                deps.clock.as_ref(),
                &lead.lead_id,
                EventKind::Fetched,
                "enrich",
                format!("details fetched from {}", lead.source),
            );
            Change::Save(vec![e], ())
        })
        .await?;
    Ok(())
}

async fn fetch(
    deps: &Deps,
    source: &str,
    external_id: Option<&str>,
) -> Result<leadrelay::domain::platforms::PlatformLead, FetchError> {
    let config = deps
        .config
        .source(source)
        .ok_or_else(|| FetchError::NoApiUrl(source.to_owned()))?;
    let token = deps
        .secrets
        .access_token(source)
        .ok_or_else(|| FetchError::NoToken(source.to_owned()))?;
    let api = deps
        .config
        .source_api_url(source)
        .ok_or_else(|| FetchError::NoApiUrl(source.to_owned()))?;
    let id = external_id.unwrap_or_default();
    deps.platform_api
        .fetch(config.kind, &api, token, id, &config.mapping)
        .await
}
