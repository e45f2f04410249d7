//! Replaying a kept delivery: the operator's `leadrelay replay <delivery id>`, after a mapping
//! or configuration fix. The delivery goes through capture's own path again (parse → admit
//! each item → enqueue), read as it was first read: its body, content type,
//! `Idempotency-Key`, `Referer` and arrival time.
//!
//! Authentication is not done again: the signature (or token) is not kept, and need not be.
//! Capture keeps a delivery only once it was found authentic (a delivery that fails
//! authentication, or a browser guard, is answered 401/403/429 and never stored), so every
//! kept delivery did authenticate; a replay is an operator's action on one of those.
//!
//! Idempotent: items are admitted under the same dedupe keys as the first time, so an item
//! that made its lead then is recognised as a redelivery now and makes nothing new (and its
//! emails were claimed once). A one-lead delivery that already points at its lead is not
//! parsed again at all: the lead is only moved on if it never left capture.

use std::time::Instant;

use http::StatusCode;
use leadrelay_aws::queue::{LeadMessage, QueueName};
use leadrelay_aws::store::{DeliveryOutcome, RawDelivery, StoreError};
use leadrelay_aws::Deps;
use leadrelay_domain::config::Config;
use leadrelay_domain::identity;
use leadrelay_domain::platforms::{Incoming, Intake, Receipt};

/// What a replay did: capture's answer, as the sender would have had it.
#[derive(Debug, Clone, PartialEq)]
pub struct Replayed {
    pub delivery_id: String,
    pub status: StatusCode,
    /// The answer's JSON body (`lead_id`, `lead_ids`, `duplicate`, or the refusal).
    pub body: serde_json::Value,
}

impl Replayed {
    /// The leads the delivery made or found, in its order.
    pub fn lead_ids(&self) -> Vec<String> {
        let many = self.body["lead_ids"].as_array().map(|ids| {
            ids.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        });
        many.or_else(|| self.body["lead_id"].as_str().map(|id| vec![id.to_owned()]))
            .unwrap_or_default()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("no delivery {0} is kept")]
    NotFound(String),
    #[error("delivery {delivery_id} came from source {source_name:?}, which the configuration no longer has")]
    UnknownSource {
        delivery_id: String,
        source_name: String,
    },
    #[error("delivery {delivery_id}: its base64 body cannot be read: {message}")]
    Body {
        delivery_id: String,
        message: String,
    },
    #[error("delivery {delivery_id}: {source}")]
    Store {
        delivery_id: String,
        #[source]
        source: StoreError,
    },
    #[error("delivery {delivery_id}: lead {lead_id} could not be sent on to enrich: {message}")]
    Enqueue {
        delivery_id: String,
        lead_id: String,
        message: String,
    },
}

/// Runs the kept delivery `delivery_id` through capture again.
pub async fn replay_delivery(deps: &Deps, delivery_id: &str) -> Result<Replayed, ReplayError> {
    let started = Instant::now();
    let store_err = |source| ReplayError::Store {
        delivery_id: delivery_id.to_owned(),
        source,
    };
    let kept = deps
        .store
        .get_delivery(delivery_id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| ReplayError::NotFound(delivery_id.to_owned()))?;
    let source_name = kept.source.clone();
    let Some(source) = deps.config.source(&source_name) else {
        return Err(ReplayError::UnknownSource {
            delivery_id: delivery_id.to_owned(),
            source_name,
        });
    };
    // Every outcome a kept delivery can have was decided after it authenticated (see the
    // module's comment); a new outcome must be placed here on purpose.
    let taken_before = match kept.outcome {
        DeliveryOutcome::Accepted
        | DeliveryOutcome::Spam
        | DeliveryOutcome::Joined
        | DeliveryOutcome::Duplicate => kept.lead_id.clone(),
        DeliveryOutcome::Received
        | DeliveryOutcome::Ignored
        | DeliveryOutcome::MalformedBody
        | DeliveryOutcome::NotALead => None,
    };
    let secret = deps.secrets.source(&source_name);
    let platform = source.platform(secret);
    if let (Receipt::OneLead, Some(lead_id)) = (platform.receipt(), taken_before) {
        return already_taken(deps, &kept, &lead_id).await;
    }
    let (body, headers) = as_received(&kept).map_err(|message| ReplayError::Body {
        delivery_id: delivery_id.to_owned(),
        message,
    })?;
    let url = format!("/v1/webhooks/{source_name}");
    let incoming = Incoming {
        method: kept.method.as_deref().unwrap_or("POST"),
        url: &url,
        headers: &headers,
        body: &body,
        now: kept.received_at,
    };
    let mut delivery = kept.clone();
    delivery.outcome = DeliveryOutcome::Received;
    delivery.error = None;
    delivery.lead_id = None;
    let now = deps.clock.now();
    let response = crate::intake::take(
        deps,
        &source_name,
        source,
        &*platform,
        &incoming,
        delivery,
        now,
        started,
    )
    .await;
    let status = response.status();
    let body = serde_json::from_str(response.body())
        .unwrap_or_else(|_| serde_json::Value::String(response.body().clone()));
    tracing::info!(
        source = source_name,
        delivery_id,
        before = kept.outcome.as_str(),
        status = status.as_u16(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "delivery replayed"
    );
    Ok(Replayed {
        delivery_id: delivery_id.to_owned(),
        status,
        body,
    })
}

/// A one-lead delivery that made its lead: nothing to make; the lead is sent on to enrich
/// again only if it never left capture (enrich is idempotent all the same).
async fn already_taken(
    deps: &Deps,
    kept: &RawDelivery,
    lead_id: &str,
) -> Result<Replayed, ReplayError> {
    let delivery_id = kept.delivery_id.clone();
    let lead = deps
        .store
        .get_lead(lead_id)
        .await
        .map_err(|source| ReplayError::Store {
            delivery_id: delivery_id.clone(),
            source,
        })?;
    let moved_on = match &lead {
        Some(l) if l.moves_on_to_enrich() => {
            let message = LeadMessage {
                lead_id: lead_id.to_owned(),
            };
            deps.queues
                .send(QueueName::Captured, &message)
                .await
                .map_err(|e| ReplayError::Enqueue {
                    delivery_id: delivery_id.clone(),
                    lead_id: lead_id.to_owned(),
                    message: e.to_string(),
                })?;
            true
        }
        _ => false,
    };
    tracing::info!(
        source = kept.source,
        delivery_id,
        lead_id,
        moved_on,
        "delivery replayed: its lead was made before"
    );
    Ok(Replayed {
        delivery_id,
        status: StatusCode::OK,
        body: serde_json::json!({
            "lead_id": lead_id,
            "duplicate": true,
            "exists": lead.is_some(),
            "moved_on": moved_on,
        }),
    })
}

/// Header names and values, as a delivery came with them.
type Headers = Vec<(String, String)>;

/// A kept delivery's body and the headers reading it depends on, as they first came.
fn as_received(kept: &RawDelivery) -> Result<(Vec<u8>, Headers), String> {
    let body = match (&kept.body, &kept.body_base64) {
        (Some(text), _) => text.as_bytes().to_vec(),
        (None, Some(b64)) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| e.to_string())?
        }
        (None, None) => Vec::new(),
    };
    let headers = [
        ("content-type", &kept.content_type),
        ("idempotency-key", &kept.idempotency_key),
        ("referer", &kept.referer),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.clone().map(|v| (k.to_owned(), v)))
    .collect();
    Ok((body, headers))
}

/// Whose a kept delivery is, read as capture reads it (erasure's whole-table scan): the
/// identity keys of each lead it carries; for one that does not read as leads, the whole
/// addresses written in it. Never a substring of the body.
pub fn identity_keys_in(config: &Config, kept: &RawDelivery) -> Vec<String> {
    let in_text = || {
        kept.body
            .as_deref()
            .map(identity::email_keys_in_text)
            .unwrap_or_default()
    };
    let (Some(source), Ok((body, headers))) = (config.source(&kept.source), as_received(kept))
    else {
        return in_text();
    };
    let url = format!("/v1/webhooks/{}", kept.source);
    let incoming = Incoming {
        method: kept.method.as_deref().unwrap_or("POST"),
        url: &url,
        headers: &headers,
        body: &body,
        now: kept.received_at,
    };
    match source.platform(None).parse(&incoming, &source.mapping) {
        Ok(Intake::Leads(items)) => items
            .iter()
            .flat_map(|i| identity::keys(&i.fields, source.default_country.as_deref()))
            .collect(),
        _ => in_text(),
    }
}
