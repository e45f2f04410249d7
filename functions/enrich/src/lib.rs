//! enrich: normalises a captured lead, derives what it can, looks its company up, scores it,
//! and hands it to route. It also admits the items of a large platform delivery that capture
//! fanned out onto its queue (with capture's own admission).

use std::time::Instant;

use leadrelay_aws::batch::{self, BatchOutcome, QueueMessage};
use leadrelay_aws::platform_api::FetchError;
use leadrelay_aws::queue::{CapturedMessage, LeadMessage, QueueError, QueueName};
use leadrelay_aws::store::{Change, StoreError};
use leadrelay_aws::sweep;
use leadrelay_aws::Deps;
use leadrelay_domain::company::{self, CachedCompany, LookupResult};
use leadrelay_domain::enrichment;
use leadrelay_domain::lead::{Lead, Stage};
use leadrelay_domain::sweep::{Retry, Step};
use leadrelay_domain::transitions::CompanyAnswer;

#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("items of a delivery not admitted: {0}")]
    Admit(leadrelay_capture::Unstored),
}

impl batch::MessageError for EnrichError {
    /// Whether the message is worth delivering again (a platform read or a store fault that may
    /// pass), or will fail the same way every time.
    fn is_transient(&self) -> bool {
        match self {
            EnrichError::Store(e) => e.is_transient(),
            EnrichError::Queue(e) => e.is_transient(),
            EnrichError::Fetch(e) => e.is_transient(),
            EnrichError::Admit(e) => e.is_transient(),
        }
    }
}

/// A batch from the captured queue.
pub async fn handle_batch(deps: &Deps, messages: Vec<QueueMessage>) -> BatchOutcome {
    batch::process("captured", messages, |m: CapturedMessage| async move {
        match m {
            CapturedMessage::Lead(m) => {
                let result = enrich_lead(deps, m.lead_id.clone()).await;
                sweep::park_if_permanent(deps, Step::Enrich, &m.lead_id, &m, result).await
            }
            // Items of a large delivery (capture fanned them out): a failure is retried, and
            // one that keeps failing ends in the dead-letter queue with the delivery's id.
            CapturedMessage::Admit(m) => leadrelay_capture::admit_queued(deps, m)
                .await
                .map_err(EnrichError::Admit),
        }
    })
    .await
}

/// Enriches and scores one lead, once: a redelivered message finds the lead scored and only
/// passes it on again.
pub async fn enrich_lead(deps: &Deps, lead_id: String) -> Result<(), EnrichError> {
    let Some(lead) = fetch_details(deps, &lead_id).await? else {
        return Ok(());
    };
    let company = look_up_company(deps, &lead).await;
    // Decided on the lead just read; read again only if someone saved it meanwhile.
    let outcome = deps
        .store
        .modify_read_lead(lead, |lead| {
            match lead.score(
                company.as_ref(),
                &deps.config,
                deps.clock.now(),
                deps.clock.as_ref(),
            ) {
                Some((events, forward)) => Change::Save(events, forward),
                // Test, spam and pending leads stop here; a lead scored already is passed on
                // again in case an earlier send was lost.
                None => Change::Keep(lead.stage == Stage::Scored && !lead.is_quarantined()),
            }
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

/// Looks the lead's company up by its corporate email domain: from the cache when a fresh
/// answer is there, else from the provider (bounded by its timeout, never retried), caching
/// what it says. Never fails the lead: a failed lookup is an answer the lead records; a cache
/// that cannot be read or written only costs a provider call. `None` when there is nothing to
/// look up (no provider, no company domain, a lead that will not be scored now).
async fn look_up_company(deps: &Deps, lead: &Lead) -> Option<CompanyAnswer> {
    let provider = deps.company_provider.as_ref()?;
    // Only for a lead about to be scored: a new one, or one a repeat submission rescores (its
    // enrichment is made afresh, so its company data is looked up again, usually cached).
    if !lead.wants_score() {
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
/// and makes it a captured lead. A read that may succeed later is recorded on the timeline and
/// retried by the sweep with backoff; one that never will (no token, no such lead) fails the
/// message, which parks the lead. Returns the lead as it now stands, ready to score; `None`
/// when there is nothing to score now (erased, or still pending).
async fn fetch_details(deps: &Deps, lead_id: &str) -> Result<Option<Lead>, EnrichError> {
    let Some(lead) = deps.store.get_lead(lead_id).await? else {
        tracing::warn!(
            lead_id,
            "lead not found (erased on request?); message dropped"
        );
        return Ok(None);
    };
    if lead.stage != Stage::PendingFetch || lead.is_quarantined() {
        return Ok(Some(lead));
    }
    let fetched = match fetch(deps, &lead.source, lead.external_id.as_deref()).await {
        Ok(details) => details,
        // A fault that may pass: retried with backoff by the sweep for as long as the platform
        // keeps the lead, not by SQS (five receives would give up within the hour).
        Err(e) if e.is_transient() => {
            let readable_for = deps
                .config
                .source(&lead.source)
                // A source no longer configured has nothing to read with: parked at once.
                .map(|s| s.platform(None).details_readable_for())
                .unwrap_or_default();
            let error = e.to_string();
            let now = deps.clock.now();
            let outcome = deps
                .store
                .modify_lead(lead_id, |lead| {
                    if lead.stage != Stage::PendingFetch {
                        return Change::Keep(None);
                    }
                    let (retry, event) = lead.fetch_failed(
                        &error,
                        readable_for,
                        now,
                        &deps.config.sweep,
                        deps.clock.as_ref(),
                    );
                    Change::Save(vec![event], Some(retry))
                })
                .await?;
            match outcome {
                Some((_, Some(Retry::At(at)))) => {
                    tracing::warn!(lead_id, source = lead.source, error = %e, retry_at = %at, "lead details not fetched; the sweep retries");
                }
                Some((_, Some(Retry::Parked))) => {
                    tracing::error!(lead_id, source = lead.source, error = %e, "lead details never fetched while the platform kept them; parked");
                }
                _ => {}
            }
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    };
    let updated = deps
        .store
        .modify_lead(lead_id, |lead| {
            match lead.apply_fetched(fetched.clone(), deps.clock.as_ref()) {
                Some(event) => Change::Save(vec![event], ()),
                None => Change::Keep(()),
            }
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
        .fetch(config.kind, api, token, id, &config.mapping)
        .await
}
