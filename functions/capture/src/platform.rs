//! Deliveries from form and ad platforms: authenticated and parsed by the platform's own rules
//! (`leadrelay_domain::platforms`), one lead per item, each deduplicated by the platform's
//! own key so its retries never make a second lead.

use std::time::Instant;

use http::{Request, Response, StatusCode};
use leadrelay_aws::queue::{LeadMessage, QueueName};
use leadrelay_aws::Deps;
use leadrelay_domain::attribution::{self, Touch};
use leadrelay_domain::config::{SourceConfig, SourceKind};
use leadrelay_domain::lead::{EventKind, Lead, Stage};
use leadrelay_domain::platforms::{self, Credentials, Incoming, Intake, Platform, PlatformLead};
use leadrelay_domain::secret::Secret;
use leadrelay_domain::timeline;

use crate::admit::{admit, Admitted};
use crate::webhook::{raw_delivery, refuse, unavailable, REDELIVERY_WINDOW_DAYS};
use crate::{json, json_error, Body};

/// The platform behind a source kind. LinkedIn answers its handshake with an HMAC of the
/// client secret, so it is built with the source's secret.
pub fn platform<'s>(
    kind: SourceKind,
    secret: Option<&'s Secret>,
) -> Option<Box<dyn Platform + Send + 's>> {
    Some(match kind {
        SourceKind::Json | SourceKind::Form => return None,
        SourceKind::Tally => Box::new(platforms::Tally),
        SourceKind::Meta => Box::new(platforms::Meta),
        SourceKind::Google => Box::new(platforms::Google),
        SourceKind::Linkedin => Box::new(platforms::LinkedIn::new(secret)),
        SourceKind::Hubspot => Box::new(platforms::HubSpot),
        SourceKind::Typeform => Box::new(platforms::Typeform),
        SourceKind::Unbounce => Box::new(platforms::Unbounce),
        SourceKind::Webflow => Box::new(platforms::Webflow),
        SourceKind::Calendly => Box::new(platforms::Calendly),
        SourceKind::Jotform => Box::new(platforms::Jotform),
        SourceKind::GravityForms => Box::new(platforms::GravityForms),
        SourceKind::HtmlForm => Box::new(platforms::HtmlForm),
    })
}

/// The URL the platform called, for schemes that sign it: the source's configured public
/// URL, else the Host header and X-Forwarded-Proto (http when absent) as API Gateway passes
/// them on.
fn called_url(req: &Request<Body>, public_url: Option<&str>) -> String {
    let query = req
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    if let Some(base) = public_url {
        return format!("{base}{query}");
    }
    let h = |n: &str| req.headers().get(n).and_then(|v| v.to_str().ok());
    let scheme = h("x-forwarded-proto").unwrap_or("http");
    let host = h("host")
        .or_else(|| req.uri().host())
        .unwrap_or("localhost");
    format!("{scheme}://{host}{}{query}", req.uri().path())
}

pub async fn handle(
    deps: &Deps,
    source_name: &str,
    source: &SourceConfig,
    req: Request<Body>,
) -> Response<String> {
    let started = Instant::now();
    let secret = deps.secrets.source(source_name);
    let Some(platform) = platform(source.kind, secret) else {
        return json_error(
            StatusCode::NOT_FOUND,
            "unknown_source",
            "this source is not a platform",
        );
    };
    let now = deps.clock.now();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_ascii_lowercase(), v.to_owned()))
        })
        .collect();
    let url = called_url(&req, source.public_url.as_deref());
    let incoming = Incoming {
        method: req.method().as_str(),
        url: &url,
        headers: &headers,
        body: req.body(),
        now,
    };
    let creds = Credentials {
        secret,
        verify_token: deps.secrets.verify_token(source_name),
    };
    if let Err(e) = platform.authenticate(&incoming, &creds) {
        tracing::info!(source = source_name, platform = platform.name(), reason = %e, "delivery refused: not authentic");
        return json_error(StatusCode::UNAUTHORIZED, "unauthorized", &e.to_string());
    }
    let delivery_id = deps.clock.new_id().to_string();
    let mut delivery = raw_delivery(&delivery_id, source_name, now, &req);
    let items = match platform.parse(&incoming, &source.mapping) {
        Ok(Intake::Handshake {
            status,
            content_type,
            body,
        }) => {
            return Response::builder()
                .status(status)
                .header("content-type", content_type)
                .body(body)
                .unwrap_or_else(|_| {
                    json_error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "cannot build the answer",
                    )
                });
        }
        Ok(Intake::Leads(items)) => items,
        Err(e) => return refuse(deps, delivery, e, started).await,
    };
    // A lead needs a way to reach the person, unless its details are still to be fetched.
    let reachable =
        |l: &PlatformLead| l.requires_fetch || l.fields.email.is_some() || l.fields.phone.is_some();
    if !items.is_empty() && !items.iter().any(reachable) {
        let e = leadrelay_domain::intake::IntakeError::NotALead(
            "a lead needs an email or a phone number; neither was given".into(),
        );
        return refuse(deps, delivery, e, started).await;
    }
    let unreachable = items.iter().filter(|l| !reachable(l)).count();
    if unreachable > 0 {
        tracing::info!(
            source = source_name,
            delivery_id,
            skipped = unreachable,
            "items without email or phone skipped"
        );
    }
    let items: Vec<PlatformLead> = items.into_iter().filter(reachable).collect();
    // Every authentic delivery is kept as it arrived (invariant 2 in docs/architecture.md), before its leads.
    delivery.outcome = if items.is_empty() {
        "ignored"
    } else {
        "accepted"
    }
    .into();
    if let Err(e) = deps.store.put_delivery(&delivery).await {
        tracing::error!(source = source_name, delivery_id, error = %e, "cannot keep the delivery");
        return unavailable(None);
    }
    let mut lead_ids = Vec::new();
    let mut duplicates = 0usize;
    for item in items {
        match capture_one(deps, source_name, &delivery_id, item, now).await {
            Ok((id, created)) => {
                duplicates += usize::from(!created);
                lead_ids.push(id);
            }
            Err(response) => return response,
        }
    }
    tracing::info!(
        source = source_name,
        platform = platform.name(),
        delivery_id,
        leads = lead_ids.len(),
        duplicates,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "platform delivery captured"
    );
    if let Some(to) = &source.success_redirect {
        // A browser posted the form: send it on to the thank-you page.
        return Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header("location", to)
            .header("content-type", "application/json")
            .body(serde_json::json!({ "lead_ids": lead_ids }).to_string())
            .unwrap_or_else(|_| {
                json_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "bad redirect",
                )
            });
    }
    let status = StatusCode::from_u16(platform.success_status()).unwrap_or(StatusCode::OK);
    let mut body = serde_json::json!({ "lead_ids": lead_ids, "duplicates": duplicates });
    if let [one] = lead_ids.as_slice() {
        body["lead_id"] = one.as_str().into();
    }
    json(status, body)
}

/// Stores one lead of a delivery (or finds the one its dedupe key made before) and moves it on.
async fn capture_one(
    deps: &Deps,
    source_name: &str,
    delivery_id: &str,
    item: PlatformLead,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(String, bool), Response<String>> {
    let lead_id = deps.clock.new_id().to_string();
    let key = item.dedupe_key.clone();
    let lead = new_lead(&lead_id, source_name, delivery_id, now, item);
    let summary = match (lead.is_test, lead.stage) {
        (true, _) => {
            format!("captured from {source_name} as a test lead; it will not be routed or emailed")
        }
        (_, Stage::PendingFetch) => {
            format!("captured from {source_name}; details to be fetched from the platform")
        }
        _ if lead.is_spam => format!("captured from {source_name} as spam; it will not be routed"),
        _ => format!("captured from {source_name}"),
    };
    let event = timeline::event(
        deps.clock.as_ref(),
        &lead_id,
        EventKind::Captured,
        "capture",
        summary,
    );
    let expires = now + chrono::Duration::days(REDELIVERY_WINDOW_DAYS);
    // Pending leads go to enrich too: it fetches their details first; so do leads a repeat
    // submission joined, for a new score.
    let moves_on = |l: &Lead| {
        (matches!(l.stage, Stage::Captured | Stage::PendingFetch) || l.needs_rescore)
            && !l.is_quarantined()
    };
    let moves_on_now = moves_on(&lead);
    match admit(deps, lead, None, event, &key, expires).await {
        Ok(Admitted::Created) => {
            if moves_on_now {
                enqueue(deps, &lead_id).await?;
            }
            Ok((lead_id, true))
        }
        Ok(Admitted::Joined { lead_id }) => {
            enqueue(deps, &lead_id).await?;
            Ok((lead_id, false))
        }
        Ok(Admitted::Duplicate { lead_id }) => {
            // A retry after a failed enqueue is what moves a stuck lead on.
            match deps.store.get_lead(&lead_id).await {
                Ok(Some(l)) if moves_on(&l) => enqueue(deps, &lead_id).await?,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(lead_id, error = %e, "cannot read the lead of a redelivery");
                    return Err(unavailable(Some(&lead_id)));
                }
            }
            Ok((lead_id, false))
        }
        Err(e) => {
            tracing::error!(source = source_name, delivery_id, error = %e, "cannot store a lead");
            Err(unavailable(None))
        }
    }
}

async fn enqueue(deps: &Deps, lead_id: &str) -> Result<(), Response<String>> {
    deps.queues
        .send(
            QueueName::Captured,
            &LeadMessage {
                lead_id: lead_id.to_owned(),
            },
        )
        .await
        .map_err(|e| {
            tracing::error!(lead_id, error = %e, "lead stored but not enqueued");
            unavailable(Some(lead_id))
        })
}

fn new_lead(
    lead_id: &str,
    source: &str,
    delivery_id: &str,
    now: chrono::DateTime<chrono::Utc>,
    mut p: PlatformLead,
) -> Lead {
    // Explicit parameters win; the landing page's query string fills in the rest.
    if let Some(page) = &p.landing_page {
        attribution::params_in_url(page).fill_missing(&mut p.utm, &mut p.click_ids);
    }
    let attribution = Touch {
        at: p.submitted_at.unwrap_or(now),
        source: source.to_owned(),
        utm: p.utm.clone(),
        click_ids: p.click_ids.clone(),
        landing_page: p.landing_page.take(),
        referrer: p.referrer.take(),
    };
    let mut attributes = p.custom;
    // Platform parsers flag bots (honeypot, time trap) under this key.
    let is_spam = attributes.contains_key("spam_reason");
    if let Some(consent) = p.consent {
        attributes.insert("consent".into(), consent.to_string());
    }
    Lead {
        stage: if p.requires_fetch {
            Stage::PendingFetch
        } else {
            Stage::Captured
        },
        is_spam,
        is_test: p.is_test,
        fields: p.fields,
        utm: p.utm,
        attributes,
        external_id: p.external_id,
        submitted_at: p.submitted_at,
        click_ids: p.click_ids,
        attribution: Some(attribution),
        campaign: p.campaign,
        phone_country_hint: p.phone_country_hint,
        ..Lead::new(lead_id, source, delivery_id, now)
    }
}
