//! backstop: the scheduled poll of ad platforms' APIs for leads their webhooks missed (an app
//! permission lapsed, a page token expired, an outage). For every form (Meta), customer
//! (Google Ads) or sponsored account (LinkedIn) in a source's `backstop` settings that is due,
//! it asks for the leads created since its watermark less the overlap, page by page, and
//! admits each through capture's own intake ([`leadrelay_capture::admit_found`]), under the
//! dedupe key the webhook uses: a lead the webhook captured is a duplicate, a lead only the
//! poll finds becomes a lead marked as found by the backstop. The watermark moves only after
//! every lead of the window is stored; a failing API (5xx, 429, a timeout, an answer that
//! cannot be read) leaves it, is reported, and the next poll asks again. One form failing does
//! not stop the others.

use chrono::{DateTime, Utc};
use leadrelay_aws::platform_api::{unreadable_answer, FetchError};
use leadrelay_aws::store::StoreError;
use leadrelay_aws::Deps;
use leadrelay_capture::Taken;
use leadrelay_domain::backstop::{self, Schedule, Watermark, Window};
use leadrelay_domain::config::backstop::{
    customer_id_digits, retrievable_for, sponsored_account_urn,
};
use leadrelay_domain::config::{BackstopConfig, SourceConfig, SourceKind};
use leadrelay_domain::oauth::RefreshGrant;
use leadrelay_domain::platforms::{google, linkedin, meta, LeadPage, PollRequest};
use serde::Serialize;

/// Pages read per form in one poll at most: a runaway pager cannot hold the pass (the
/// watermark stays, and the next poll goes on from there).
const MAX_PAGES: usize = 50;

/// Why a form's or account's poll failed.
#[derive(Debug, thiserror::Error)]
pub enum BackstopError {
    /// The platform's API refused, failed or answered what cannot be read.
    #[error(transparent)]
    Api(#[from] FetchError),
    /// A lead could not be stored, or the watermark read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("more than {MAX_PAGES} pages in one poll; the rest is asked for by the next")]
    TooManyPages,
}

impl BackstopError {
    /// Whether the next poll may do better: the platform or DynamoDB was unreachable, slow,
    /// busy or failing. A refused token, a missing setting or an answer that cannot be read
    /// needs someone to change something.
    pub fn is_transient(&self) -> bool {
        match self {
            BackstopError::Api(e) => e.is_transient(),
            BackstopError::Store(e) => e.is_transient(),
            BackstopError::TooManyPages => true,
        }
    }
}

/// What one poll of one form or account did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Polled {
    pub source: String,
    /// The form id, customer id or account URN.
    pub target: String,
    /// Leads the platform listed in the window.
    pub listed: usize,
    /// Leads only the poll found: captured now.
    pub captured: usize,
    /// Leads already captured (by their webhook or an earlier poll).
    pub duplicates: usize,
    /// Leads without an email or a phone, skipped as a webhook's would be.
    pub skipped: usize,
    /// The leads this poll captured (or joined to the person's open lead).
    pub lead_ids: Vec<String>,
    /// Why it failed, when it did (no personal data); the watermark stayed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether the next poll may do better.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct PassReport {
    /// Forms and accounts polled (the others were not due).
    pub polled: usize,
    pub captured: usize,
    pub duplicates: usize,
    pub failed: usize,
    pub details: Vec<Polled>,
}

/// One pass at `now`: every due form and account of every source with a backstop.
pub async fn run_pass(deps: &Deps, now: DateTime<Utc>) -> Result<PassReport, BackstopError> {
    let mut report = PassReport::default();
    for (name, source) in &deps.config.sources {
        let Some(settings) = &source.backstop else {
            continue;
        };
        for target in settings.targets(source.kind) {
            match poll_target(deps, name, source, settings, target, now).await {
                Ok(None) => {}
                Ok(Some(polled)) => {
                    report.polled += 1;
                    report.captured += polled.captured;
                    report.duplicates += polled.duplicates;
                    report.failed += usize::from(polled.error.is_some());
                    report.details.push(polled);
                }
                // The watermark could not even be read: reported, the others go on.
                Err(e) => {
                    tracing::error!(source = name, form_or_account = %target, error = %e, retryable = e.is_transient(), "backstop poll failed");
                    report.polled += 1;
                    report.failed += 1;
                    report.details.push(Polled {
                        source: name.clone(),
                        target: target.clone(),
                        listed: 0,
                        captured: 0,
                        duplicates: 0,
                        skipped: 0,
                        lead_ids: Vec::new(),
                        error: Some(e.to_string()),
                        retryable: Some(e.is_transient()),
                    });
                }
            }
        }
    }
    tracing::info!(
        polled = report.polled,
        captured = report.captured,
        duplicates = report.duplicates,
        failed = report.failed,
        "backstop pass done"
    );
    Ok(report)
}

fn schedule(kind: SourceKind, settings: &BackstopConfig) -> Schedule {
    Schedule {
        every: settings.every,
        first_lookback: settings.first_lookback,
        overlap: settings.overlap,
        retrievable_for: retrievable_for(kind).unwrap_or(settings.first_lookback),
    }
}

/// Polls one form or account if it is due; `None` when it is not.
async fn poll_target(
    deps: &Deps,
    source_name: &str,
    source: &SourceConfig,
    settings: &BackstopConfig,
    target: &str,
    now: DateTime<Utc>,
) -> Result<Option<Polled>, BackstopError> {
    let schedule = schedule(source.kind, settings);
    let last = deps.store.backstop_watermark(source_name, target).await?;
    if !backstop::is_due(last.as_ref(), &schedule, now) {
        return Ok(None);
    }
    let window = backstop::window(last.as_ref(), &schedule, now);
    let mut polled = Polled {
        source: source_name.to_owned(),
        target: target.to_owned(),
        listed: 0,
        captured: 0,
        duplicates: 0,
        skipped: 0,
        lead_ids: Vec::new(),
        error: None,
        retryable: None,
    };
    let outcome = poll_window(
        deps,
        source_name,
        source,
        settings,
        target,
        &window,
        &mut polled,
    )
    .await;
    let mark = backstop::after_poll(
        last.as_ref(),
        &window,
        now,
        outcome.as_ref().map(|_| ()).map_err(|e| e.to_string()),
    );
    match &outcome {
        Ok(()) => tracing::info!(
            source = source_name,
            form_or_account = target,
            listed = polled.listed,
            captured = polled.captured,
            duplicates = polled.duplicates,
            "backstop poll done"
        ),
        Err(e) => {
            tracing::warn!(source = source_name, form_or_account = target, error = %e, retryable = e.is_transient(), "backstop poll failed; its watermark stays");
            polled.error = Some(e.to_string());
            polled.retryable = Some(e.is_transient());
        }
    }
    if let Some(mark) = mark {
        save(deps, source_name, target, &mark, &mut polled).await;
    }
    Ok(Some(polled))
}

/// Records the poll; a failure to is reported (the next poll then asks from the old watermark,
/// finding duplicates, never skipping a lead).
async fn save(deps: &Deps, source: &str, target: &str, mark: &Watermark, polled: &mut Polled) {
    if let Err(e) = deps
        .store
        .put_backstop_watermark(source, target, mark)
        .await
    {
        tracing::error!(source, form_or_account = target, error = %e, "backstop watermark not saved");
        if polled.error.is_none() {
            polled.error = Some(e.to_string());
            polled.retryable = Some(e.is_transient());
        }
    }
}

/// Reads every page of the window and admits each lead; stops at the first failure.
async fn poll_window(
    deps: &Deps,
    source_name: &str,
    source: &SourceConfig,
    settings: &BackstopConfig,
    target: &str,
    window: &Window,
    polled: &mut Polled,
) -> Result<(), BackstopError> {
    let kind = source.kind;
    let platform: &'static str = match kind {
        SourceKind::Meta => "meta",
        SourceKind::Google => "google",
        _ => "linkedin",
    };
    let minted = settings.oauth.as_ref().zip(deps.secrets.oauth(source_name));
    let token = match minted {
        Some((o, (client_secret, refresh_token))) => {
            let grant = RefreshGrant {
                token_url: &o.token_url,
                client_id: &o.client_id,
                client_secret,
                refresh_token,
            };
            deps.platform_api
                .minted_token(platform, source_name, &grant, deps.clock.now())
                .await?
        }
        None => deps
            .secrets
            .access_token(source_name)
            .cloned()
            .ok_or_else(|| FetchError::NoToken(source_name.to_owned()))?,
    };
    let developer_token = deps.secrets.developer_token(source_name);
    let api_url = deps
        .config
        .source_api_url(source_name)
        .unwrap_or(google::GOOGLE_ADS_API_BASE)
        .to_owned();
    let pass_id = deps.clock.new_id().to_string();
    let mut next: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let request = describe(kind, &api_url, settings, target, window, next.as_deref())
            .map_err(|e| unreadable_answer(platform, &e))?;
        let body = deps
            .platform_api
            .poll_page(platform, &request, &token, developer_token)
            .await
            .inspect_err(|e| {
                if matches!(e, FetchError::Status { status: 401, .. }) {
                    deps.platform_api.forget_minted_token(source_name);
                }
            })?;
        let page = parse(kind, &body, &source.mapping, window)
            .map_err(|e| unreadable_answer(platform, &e))?;
        polled.listed += page.leads.len();
        for item in page.leads {
            // As a webhook's items: a lead needs a way to reach the person.
            if item.fields.email.is_none() && item.fields.phone.is_none() {
                polled.skipped += 1;
                continue;
            }
            let (lead_id, taken) =
                leadrelay_capture::admit_found(deps, source_name, &pass_id, item)
                    .await
                    .map_err(|e| BackstopError::Store(e.error))?;
            match taken {
                Taken::Created | Taken::Joined => {
                    polled.captured += 1;
                    polled.lead_ids.push(lead_id);
                }
                Taken::Duplicate => polled.duplicates += 1,
            }
        }
        match page.next {
            Some(n) => next = Some(n),
            None => return Ok(()),
        }
    }
    Err(BackstopError::TooManyPages)
}

/// The request for one page, as the platform module describes it.
fn describe(
    kind: SourceKind,
    api_url: &str,
    settings: &BackstopConfig,
    target: &str,
    window: &Window,
    next: Option<&str>,
) -> Result<PollRequest, leadrelay_domain::intake::IntakeError> {
    use leadrelay_domain::intake::IntakeError;
    match kind {
        SourceKind::Meta => meta::form_leads_request(api_url, target, window.from, next),
        SourceKind::Google => {
            let customer = customer_id_digits(target)
                .ok_or_else(|| IntakeError::Malformed("customer id must be ten digits".into()))?;
            let login = settings
                .login_customer_id
                .as_deref()
                .and_then(customer_id_digits);
            Ok(google::search_request(
                api_url,
                &customer,
                login.as_deref(),
                window.from,
                next,
            ))
        }
        _ => {
            let urn = sponsored_account_urn(target).ok_or_else(|| {
                IntakeError::Malformed("a sponsored account must be a URN or digits".into())
            })?;
            let start = next.and_then(|n| n.parse().ok()).unwrap_or(0);
            Ok(linkedin::owner_responses_request(
                api_url,
                &urn,
                window.from,
                window.to,
                start,
            ))
        }
    }
}

fn parse(
    kind: SourceKind,
    body: &[u8],
    mapping: &leadrelay_domain::platforms::FieldMapping,
    window: &Window,
) -> Result<LeadPage, leadrelay_domain::intake::IntakeError> {
    match kind {
        SourceKind::Meta => meta::parse_form_leads(body, mapping),
        SourceKind::Google => google::parse_search(body, mapping, window.from),
        _ => linkedin::parse_owner_responses(body, mapping),
    }
}
