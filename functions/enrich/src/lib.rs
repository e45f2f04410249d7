//! enrich: normalises a captured lead, derives what it can, looks its company up, scores it,
//! and hands it to route.

use std::time::Instant;

use leadrelay_aws::batch::{self, BatchOutcome, QueueMessage};
use leadrelay_aws::platform_api::FetchError;
use leadrelay_aws::queue::{LeadMessage, QueueError, QueueName};
use leadrelay_aws::store::{Change, StoreError};
use leadrelay_aws::Deps;
use leadrelay_domain::company::{self, CachedCompany, LookupResult};
use leadrelay_domain::lead::{EventKind, Lead, Stage};
use leadrelay_domain::{attribution, enrichment, scoring, timeline};

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
    let company = match fetch_details(deps, &lead_id).await? {
        Some(lead) => look_up_company(deps, &lead).await,
        None => None,
    };
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
            let mut e = enrichment::enrich(
                &lead.fields,
                default_country.as_deref(),
                &config.enrichment.free_email_domains,
            );
            let mut events = Vec::new();
            if let Some(c) = company
                .as_ref()
                .filter(|c| e.company_domain.as_deref() == Some(c.domain.as_str()))
            {
                company::apply(&mut e, &lead.fields, &c.result);
                let kind = if c.result.is_ok() {
                    EventKind::Enriched
                } else {
                    EventKind::EnrichmentFailed
                };
                events.push(timeline::event(
                    deps.clock.as_ref(),
                    &lead.lead_id,
                    kind,
                    "enrich",
                    company::summary(&c.result, c.cached),
                ));
            }
            lead.enrichment = Some(e);
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
            events.push(timeline::event(
                deps.clock.as_ref(),
                &lead.lead_id,
                EventKind::Scored,
                "enrich",
                summary,
            ));
            Change::Save(events, forward)
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

/// A company lookup's outcome, made before the lead is saved (the save may be retried; the
/// lookup is not).
struct CompanyAnswer {
    domain: String,
    result: LookupResult,
    cached: bool,
}

/// Looks the lead's company up by its corporate email domain: from the cache when a fresh
/// answer is there, else from the provider (bounded by its timeout, never retried), caching
/// what it says. Never fails the lead: a failed lookup is an answer the lead records; a cache
/// that cannot be read or written only costs a provider call. `None` when there is nothing to
/// look up (no provider, no company domain, a lead that will not be scored now).
async fn look_up_company(deps: &Deps, lead: &Lead) -> Option<CompanyAnswer> {
    let provider = deps.company_provider.as_ref()?;
    // Only for a lead about to be scored: a new one, or one a repeat submission rescores (its
    // enrichment is made afresh, so its company data is looked up again, usually cached).
    let to_score =
        lead.stage == Stage::Captured || (lead.stage >= Stage::Scored && lead.needs_rescore);
    if !to_score || lead.is_quarantined() {
        return None;
    }
    let domain =
        enrichment::company_domain(&lead.fields, &deps.config.enrichment.free_email_domains)?;
    let lead_id = lead.lead_id.as_str();
    let now = deps.clock.now();
    match deps.store.get_company(&domain).await {
        Ok(Some(hit)) if hit.is_fresh(now) => {
            tracing::info!(
                lead_id,
                outcome = outcome(&Ok(hit.company.clone())),
                cached = true,
                "company looked up"
            );
            return Some(CompanyAnswer {
                domain,
                result: Ok(hit.company),
                cached: true,
            });
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(
                lead_id,
                error = cache_failure(&e),
                "company cache not read; asking the provider"
            )
        }
    }
    let started = Instant::now();
    let result = provider.lookup(&domain).await;
    // Ids, outcome and timing only: the domain and the key stay out of the logs.
    tracing::info!(
        lead_id,
        outcome = outcome(&result),
        error = result.as_ref().err().map(|e| e.kind()),
        status = match &result {
            Err(company::LookupError::Status(s)) => Some(*s),
            _ => None,
        },
        cached = false,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "company looked up"
    );
    if let Some(entry) = CachedCompany::of(&domain, &result, now, provider.cache_ttl()) {
        if let Err(e) = deps.store.put_company(&entry).await {
            tracing::warn!(
                lead_id,
                error = cache_failure(&e),
                "company answer not cached"
            );
        }
    }
    Some(CompanyAnswer {
        domain,
        result,
        cached: false,
    })
}

/// A company cache failure for the logs: without the item's key, which holds the domain.
fn cache_failure(e: &StoreError) -> String {
    match e {
        StoreError::Decode { message, .. } => format!("cached item unreadable: {message}"),
        StoreError::Encode { message, .. } => format!("item cannot be written: {message}"),
        other => other.to_string(),
    }
}

fn outcome(result: &LookupResult) -> &'static str {
    match result {
        Ok(Some(_)) => "found",
        Ok(None) => "not_found",
        Err(_) => "failed",
    }
}

/// For a lead the platform delivered as ids only: reads its details from the platform's API
/// and makes it a captured lead. A failed fetch is recorded on the timeline and the message
/// fails, so SQS delivers it again later: the lead stays visible as pending, never dropped.
/// Returns the lead as it now stands; `None` when there is no such lead (erased).
async fn fetch_details(deps: &Deps, lead_id: &str) -> Result<Option<Lead>, EnrichError> {
    let Some(lead) = deps.store.get_lead(lead_id).await? else {
        return Ok(None);
    };
    if lead.stage != Stage::PendingFetch || lead.is_quarantined() {
        return Ok(Some(lead));
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
    let updated = deps
        .store
        .modify_lead(lead_id, |lead| {
            if lead.stage != Stage::PendingFetch {
                return Change::Keep(());
            }
            let mut d = fetched.clone();
            if let Some(page) = &d.landing_page {
                attribution::params_in_url(page).fill_missing(&mut d.utm, &mut d.click_ids);
            }
            lead.fields = d.fields;
            lead.attributes.extend(d.custom);
            if let Some(consent) = d.consent {
                lead.attributes
                    .insert("consent".into(), consent.to_string());
            }
            lead.utm.extend(d.utm);
            lead.click_ids.extend(d.click_ids);
            if let Some(touch) = lead.attribution.as_mut() {
                touch.utm = lead.utm.clone();
                touch.click_ids = lead.click_ids.clone();
                touch.landing_page = touch.landing_page.take().or(d.landing_page);
                touch.referrer = touch.referrer.take().or(d.referrer);
                touch.at = d.submitted_at.unwrap_or(touch.at);
            }
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
    Ok(updated.map(|(lead, ())| lead))
}

async fn fetch(
    deps: &Deps,
    source: &str,
    external_id: Option<&str>,
) -> Result<leadrelay_domain::platforms::PlatformLead, FetchError> {
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
