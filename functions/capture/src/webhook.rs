//! `POST /v1/webhooks/{source}`.

use std::time::Instant;

use chrono::{DateTime, Utc};
use http::{Request, Response, StatusCode};
use leadrelay_aws::queue::{LeadMessage, QueueName};
use leadrelay_aws::store::RawDelivery;
use leadrelay_domain::auth::{self, AuthError};
use leadrelay_domain::config::{AuthScheme, SourceConfig, SourceKind};
use leadrelay_domain::intake::{self, IntakeError};
use leadrelay_domain::lead::{EventKind, Lead, Stage};
use leadrelay_domain::timeline;

use crate::admit::{admit, Admitted};
use leadrelay_aws::Deps;
use sha2::{Digest, Sha256};

use crate::{header, json, json_error, query_param, Body};

/// How long a redelivery is recognised: platforms retry for hours, some for days.
pub(crate) const REDELIVERY_WINDOW_DAYS: i64 = 7;
/// Longest `Idempotency-Key` taken.
const MAX_IDEMPOTENCY_KEY: usize = 255;

pub async fn handle(deps: &Deps, source_name: &str, req: Request<Body>) -> Response<String> {
    let started = Instant::now();
    let Some(source) = deps.config.source(source_name) else {
        return json_error(
            StatusCode::NOT_FOUND,
            "unknown_source",
            &format!("no source is called {source_name:?}"),
        );
    };
    let limit = source.max_body_bytes();
    if req.body().len() > limit {
        return json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            &format!("the body is larger than {} KiB", limit / 1024),
        );
    }
    if let Some(refusal) = crate::guard::check(deps, source_name, source, &req).await {
        return refusal;
    }
    if source.kind.is_platform() {
        return crate::platform::handle(deps, source_name, source, req).await;
    }
    let now = deps.clock.now();
    if let Err(e) = authenticate(deps, source_name, source, &req, now) {
        tracing::info!(source = source_name, reason = %e, "delivery refused: not authentic");
        return json_error(StatusCode::UNAUTHORIZED, "unauthorized", &e.to_string());
    }
    if let Err(want) = check_content_type(source, &req) {
        return json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            &format!("source {source_name:?} takes {want}"),
        );
    }
    let idempotency_key = match header(&req, "idempotency-key").map(str::trim) {
        Some(k) if k.is_empty() || k.len() > MAX_IDEMPOTENCY_KEY => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "bad_idempotency_key",
                &format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters"),
            )
        }
        Some(k) => format!("key:{k}"),
        None => format!("sha256:{}", hex::encode(Sha256::digest(req.body()))),
    };
    let delivery_id = deps.clock.new_id().to_string();
    let mut delivery = raw_delivery(&delivery_id, source_name, now, &req);

    let parsed = match source.kind {
        SourceKind::Json => intake::parse_json(req.body()),
        SourceKind::Form => intake::parse_form(req.body(), source.honeypot.as_deref()),
        // Platforms were handed over above.
        _ => return crate::platform::handle(deps, source_name, source, req).await,
    };
    let submission = match parsed {
        Ok(s) => s,
        Err(e) => return refuse(deps, delivery, e, started).await,
    };

    let lead_id = deps.clock.new_id().to_string();
    let lead = Lead::captured(&lead_id, source_name, &delivery_id, now, submission);
    delivery.outcome = if lead.is_spam { "spam" } else { "accepted" }.into();
    delivery.lead_id = Some(lead_id.clone());
    let summary = if lead.is_spam {
        format!("captured from {source_name} as spam (honeypot filled); it will not be routed")
    } else {
        format!("captured from {source_name}")
    };
    let event = timeline::event_at(
        deps.clock.as_ref(),
        now,
        &lead_id,
        EventKind::Captured,
        "capture",
        summary,
    );
    let expires = now + chrono::Duration::days(REDELIVERY_WINDOW_DAYS);
    let is_spam = lead.is_spam;
    match admit(
        deps,
        lead,
        Some(delivery.clone()),
        event,
        &idempotency_key,
        expires,
    )
    .await
    {
        Ok(Admitted::Created) => {
            if !is_spam {
                if let Err(e) = deps
                    .queues
                    .send(
                        QueueName::Captured,
                        &LeadMessage {
                            lead_id: lead_id.clone(),
                        },
                    )
                    .await
                {
                    // The lead is stored but would sit still: answer 503 so the platform retries,
                    // and the retry re-enqueues it (see the duplicate branch).
                    tracing::error!(source = source_name, lead_id, error = %e, "lead stored but not enqueued");
                    return unavailable(Some(&lead_id));
                }
            }
            tracing::info!(
                source = source_name,
                lead_id,
                delivery_id,
                spam = is_spam,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "lead captured"
            );
            json(
                StatusCode::CREATED,
                serde_json::json!({ "lead_id": lead_id }),
            )
        }
        Ok(Admitted::Joined { lead_id }) => {
            // Enrich scores the lead again with the new submission in it.
            if let Err(e) = deps
                .queues
                .send(
                    QueueName::Captured,
                    &LeadMessage {
                        lead_id: lead_id.clone(),
                    },
                )
                .await
            {
                tracing::error!(source = source_name, lead_id, error = %e, "joined lead not enqueued for a new score");
                return unavailable(Some(&lead_id));
            }
            tracing::info!(
                source = source_name,
                lead_id,
                delivery_id,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "repeat submission joined its open lead"
            );
            json(
                StatusCode::OK,
                serde_json::json!({ "lead_id": lead_id, "joined": true }),
            )
        }
        Ok(Admitted::Duplicate { lead_id }) => {
            redelivered(deps, delivery, lead_id, now, started).await
        }
        Err(e) => {
            tracing::error!(source = source_name, delivery_id, error = %e, "cannot store the delivery");
            unavailable(None)
        }
    }
}

pub(crate) fn authenticate(
    deps: &Deps,
    name: &str,
    source: &SourceConfig,
    req: &Request<Body>,
    now: DateTime<Utc>,
) -> Result<(), AuthError> {
    // Secrets are resolved for every source at start-up; a missing one cannot happen, but if
    // it did, refusing is the safe answer.
    let secret = deps.secrets.source(name).ok_or(AuthError::BadSignature)?;
    match source.auth {
        AuthScheme::Hmac => auth::verify_hmac(
            secret,
            header(req, "x-leadrelay-signature"),
            header(req, "x-leadrelay-timestamp"),
            req.body(),
            now,
        ),
        AuthScheme::Token => auth::verify_token(secret, query_param(req, "token").as_deref()),
    }
}

fn check_content_type(source: &SourceConfig, req: &Request<Body>) -> Result<(), &'static str> {
    let ct = header(req, "content-type")
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match source.kind {
        SourceKind::Json
            if ct == "application/json"
                || (ct.starts_with("application/") && ct.ends_with("+json")) =>
        {
            Ok(())
        }
        SourceKind::Json => Err("application/json"),
        SourceKind::Form if ct == "application/x-www-form-urlencoded" => Ok(()),
        SourceKind::Form => Err("application/x-www-form-urlencoded"),
        // Platforms send what they send; their parsers refuse what they cannot read.
        _ => Ok(()),
    }
}

pub(crate) fn raw_delivery(
    delivery_id: &str,
    source: &str,
    now: DateTime<Utc>,
    req: &Request<Body>,
) -> RawDelivery {
    let (body, body_base64) = match std::str::from_utf8(req.body()) {
        Ok(s) => (Some(s.to_owned()), None),
        Err(_) => {
            use base64::Engine;
            (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(req.body())),
            )
        }
    };
    RawDelivery {
        delivery_id: delivery_id.to_owned(),
        source: source.to_owned(),
        received_at: now,
        content_type: header(req, "content-type").map(str::to_owned),
        body,
        body_base64,
        outcome: "received".into(),
        error: None,
        lead_id: None,
        expires_at: None,
    }
}

/// 400 or 422, after keeping the delivery so it can be replayed once the problem is fixed.
pub(crate) async fn refuse(
    deps: &Deps,
    mut delivery: RawDelivery,
    e: IntakeError,
    started: Instant,
) -> Response<String> {
    let status = match e {
        IntakeError::Malformed(_) => StatusCode::BAD_REQUEST,
        IntakeError::NotALead(_) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    delivery.outcome = e.code().into();
    delivery.error = Some(e.to_string());
    if let Err(store_err) = deps.store.put_delivery(&delivery).await {
        tracing::error!(source = delivery.source, delivery_id = delivery.delivery_id, error = %store_err, "cannot keep a refused delivery");
        return unavailable(None);
    }
    tracing::info!(
        source = delivery.source,
        delivery_id = delivery.delivery_id,
        outcome = e.code(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "delivery kept but refused"
    );
    json(
        status,
        serde_json::json!({ "error": e.code(), "message": e.to_string(), "delivery_id": delivery.delivery_id }),
    )
}

/// The platform sent the same delivery again: the same lead, nothing new.
async fn redelivered(
    deps: &Deps,
    mut delivery: RawDelivery,
    lead_id: String,
    now: DateTime<Utc>,
    started: Instant,
) -> Response<String> {
    delivery.outcome = "duplicate".into();
    delivery.lead_id = Some(lead_id.clone());
    delivery.expires_at = Some((now + chrono::Duration::days(REDELIVERY_WINDOW_DAYS)).timestamp());
    let kept = deps.store.put_delivery(&delivery).await;
    // If an earlier attempt stored the lead but could not enqueue it, this is the retry that
    // moves it on. Enrich is idempotent, so a second message does no harm.
    let lead = match deps.store.get_lead(&lead_id).await {
        Ok(lead) => lead,
        Err(e) => {
            tracing::error!(lead_id, error = %e, "cannot read the lead of a redelivery");
            return unavailable(Some(&lead_id));
        }
    };
    if let Some(lead) =
        lead.filter(|l| (l.stage == Stage::Captured || l.needs_rescore) && !l.is_spam)
    {
        if let Err(e) = deps
            .queues
            .send(
                QueueName::Captured,
                &LeadMessage {
                    lead_id: lead.lead_id.clone(),
                },
            )
            .await
        {
            tracing::error!(lead_id, error = %e, "redelivered lead not enqueued");
            return unavailable(Some(&lead_id));
        }
    }
    if let Err(e) = kept {
        tracing::warn!(lead_id, error = %e, "redelivery not kept");
    }
    tracing::info!(
        source = delivery.source,
        lead_id,
        delivery_id = delivery.delivery_id,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "redelivery recognised"
    );
    json(
        StatusCode::OK,
        serde_json::json!({ "lead_id": lead_id, "duplicate": true }),
    )
}

pub(crate) fn unavailable(lead_id: Option<&str>) -> Response<String> {
    let mut body = serde_json::json!({
        "error": "unavailable",
        "message": "the delivery could not be completed; retry it",
    });
    if let Some(id) = lead_id {
        body["lead_id"] = id.into();
    }
    let mut r = json(StatusCode::SERVICE_UNAVAILABLE, body);
    r.headers_mut()
        .insert("retry-after", http::HeaderValue::from_static("5"));
    r
}
