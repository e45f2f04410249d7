//! `POST /v1/webhooks/{source}` (and the subscription handshake GETs): every source goes
//! through the same steps, with its platform's rules (`leadrelay_domain::platforms`):
//! authenticate → keep the delivery → parse into items → admit each → enqueue → answer.

use std::time::Instant;

use futures::StreamExt;

use chrono::{DateTime, Utc};
use http::{Request, Response, StatusCode};
use leadrelay_aws::metrics;
use leadrelay_aws::queue::{AdmitMessage, CapturedMessage, LeadMessage, QueueName};
use leadrelay_aws::store::{DeliveryOutcome, RawDelivery};
use leadrelay_aws::Deps;
use leadrelay_domain::clock::span;
use leadrelay_domain::config::SourceConfig;
use leadrelay_domain::identity::{self, READ_PHONES};
use leadrelay_domain::intake::IntakeError;
use leadrelay_domain::lead::{EventKind, Lead, Stage};
use leadrelay_domain::platforms::{Credentials, Incoming, Intake, Platform, PlatformLead, Receipt};
use leadrelay_domain::timeline;

use crate::admit::{admit, Admitted};
use crate::{header, json, json_error, Body};

/// How long a redelivery is recognised: platforms retry for hours, some for days.
const REDELIVERY_WINDOW_DAYS: i64 = 7;

/// A POST: the body limit and the browser guards first, then the delivery.
pub async fn handle(deps: &Deps, source_name: &str, req: Request<Body>) -> Response<String> {
    let started = Instant::now();
    let Some(source) = deps.config.source(source_name) else {
        return unknown_source(source_name);
    };
    let limit = source.max_body_bytes();
    if req.body().len() > limit {
        metrics::lead_refused(source_name, "body_too_large");
        return json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            &format!("the body is larger than {} KiB", limit / 1024),
        );
    }
    if let Some(refusal) = crate::guard::check(deps, source_name, source, &req).await {
        return refusal;
    }
    deliver(deps, source_name, source, req, started).await
}

/// A GET: only platforms with a subscription handshake take one.
///
/// Any other source's URL answers a GET `405` (with `Allow: POST`) before anything else runs:
/// no guard, no rate-limit window, no raw delivery, no lead (invariant 10). A crawler, a link
/// preview (Slack, a chat app, a mail scanner) or a person opening a form's `action` URL is
/// best served by that: the status says plainly there is nothing to fetch here, so a preview
/// shows no page, a search engine indexes none (`X-Robots-Tag: noindex` too), and a checker
/// does not take the URL for a working page. A `200` page would be cached, previewed and
/// indexed as if it were content.
pub async fn handshake(deps: &Deps, source_name: &str, req: Request<Body>) -> Response<String> {
    let started = Instant::now();
    let Some(source) = deps.config.source(source_name) else {
        return unknown_source(source_name);
    };
    if !source.platform(None).takes_handshake() {
        return crate::method_not_allowed("POST", "this source takes POST");
    }
    deliver(deps, source_name, source, req, started).await
}

fn unknown_source(source_name: &str) -> Response<String> {
    // Not a configured name: anyone can call any URL, so it is no dimension.
    metrics::lead_refused(metrics::UNKNOWN_SOURCE, "unknown_source");
    json_error(
        StatusCode::NOT_FOUND,
        "unknown_source",
        &format!("no source is called {source_name:?}"),
    )
}

async fn deliver(
    deps: &Deps,
    source_name: &str,
    source: &SourceConfig,
    req: Request<Body>,
    started: Instant,
) -> Response<String> {
    let secret = deps.secrets.source(source_name);
    let platform = source.platform(secret);
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
        metrics::lead_refused(source_name, "unauthorized");
        return json_error(StatusCode::UNAUTHORIZED, "unauthorized", &e.to_string());
    }
    let content_type = header(&req, "content-type")
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if let Err(want) = platform.check_content_type(&content_type) {
        metrics::lead_refused(source_name, "unsupported_media_type");
        return json_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            &format!("source {source_name:?} takes {want}"),
        );
    }
    if let Err(r) = platform.check_request(&incoming) {
        metrics::lead_refused(source_name, r.code);
        return json_error(StatusCode::BAD_REQUEST, r.code, &r.message);
    }
    let delivery_id = deps.clock.new_id().to_string();
    let mut delivery = raw_delivery(&delivery_id, source_name, now, &req);
    // Kept to replay after a fix, for as long as `retention.deliveries` says (TTL).
    delivery.expires_at = Some((now + span(deps.config.retention.deliveries)).timestamp());
    take(
        deps,
        source_name,
        source,
        &*platform,
        &incoming,
        delivery,
        now,
        started,
    )
    .await
}

/// An authentic delivery, kept as `delivery`: parse it into items, admit each, enqueue,
/// answer. The one path of a fresh delivery and of a replay ([`crate::replay`]). `now` is when
/// its leads are captured (a replay's: the time of the replay; `incoming.now` is then the
/// time it first arrived, which parsing reads).
#[allow(clippy::too_many_arguments)]
pub(crate) async fn take(
    deps: &Deps,
    source_name: &str,
    source: &SourceConfig,
    platform: &dyn Platform,
    incoming: &Incoming<'_>,
    delivery: RawDelivery,
    now: DateTime<Utc>,
    started: Instant,
) -> Response<String> {
    let items = match platform.parse(incoming, &source.mapping) {
        Ok(Intake::Handshake {
            status,
            content_type,
            body,
        }) => {
            return Response::builder()
                .status(status)
                .header("content-type", content_type)
                .body(body)
                .unwrap_or_else(|_| internal("cannot build the answer"));
        }
        Ok(Intake::Leads(items)) => items,
        Err(e) => return refuse(deps, delivery, e, started).await,
    };
    let ctx = Ctx {
        deps,
        source_name,
        now,
        started,
        found_by_backstop: false,
    };
    match platform.receipt() {
        Receipt::OneLead => one_lead(&ctx, delivery, items).await,
        Receipt::Batch { status } => batch(&ctx, platform, source, delivery, items, status).await,
    }
}

/// What every step of one delivery shares.
struct Ctx<'a> {
    deps: &'a Deps,
    source_name: &'a str,
    /// When the leads arrived: the delivery's time, or for a lead the backstop found, the
    /// platform's creation time.
    now: DateTime<Utc>,
    started: Instant,
    /// The lead was found by the backstop polling the platform's API, not delivered.
    found_by_backstop: bool,
}

/// Our own formats: the delivery is kept in its lead's transaction, pointing at that lead.
async fn one_lead(
    ctx: &Ctx<'_>,
    delivery: RawDelivery,
    items: Vec<PlatformLead>,
) -> Response<String> {
    let Ok([item]) = <[PlatformLead; 1]>::try_from(items) else {
        tracing::error!(
            source = ctx.source_name,
            "a one-lead delivery parsed into another number of leads"
        );
        return internal("the delivery did not parse into one lead");
    };
    let delivery_id = delivery.delivery_id.clone();
    let (lead_id, admitted, spam) = match capture_one(ctx, &delivery_id, item, Some(delivery)).await
    {
        Ok(done) => done,
        Err(e) => return e.answer(),
    };
    let source = ctx.source_name;
    let elapsed_ms = ctx.started.elapsed().as_millis() as u64;
    match admitted {
        Taken::Created => {
            tracing::info!(
                source,
                lead_id,
                delivery_id,
                spam,
                elapsed_ms,
                "lead captured"
            );
            json(
                StatusCode::CREATED,
                serde_json::json!({ "lead_id": lead_id }),
            )
        }
        Taken::Joined => {
            tracing::info!(
                source,
                lead_id,
                delivery_id,
                elapsed_ms,
                "repeat submission joined its open lead"
            );
            json(
                StatusCode::OK,
                serde_json::json!({ "lead_id": lead_id, "joined": true }),
            )
        }
        Taken::Duplicate => {
            tracing::info!(
                source,
                lead_id,
                delivery_id,
                elapsed_ms,
                "redelivery recognised"
            );
            json(
                StatusCode::OK,
                serde_json::json!({ "lead_id": lead_id, "duplicate": true }),
            )
        }
    }
}

/// A vendor's delivery: kept first (invariant 2 in docs/architecture.md), then one lead per item.
async fn batch(
    ctx: &Ctx<'_>,
    platform: &dyn Platform,
    source: &SourceConfig,
    mut delivery: RawDelivery,
    items: Vec<PlatformLead>,
    status: u16,
) -> Response<String> {
    let deps = ctx.deps;
    let source_name = ctx.source_name;
    let delivery_id = delivery.delivery_id.clone();
    // A lead needs a way to reach the person, unless its details are still to be fetched.
    let reachable =
        |l: &PlatformLead| l.requires_fetch || l.fields.email.is_some() || l.fields.phone.is_some();
    if !items.is_empty() && !items.iter().any(reachable) {
        let e = IntakeError::NotALead(
            "a lead needs an email or a phone number; neither was given".into(),
        );
        return refuse(deps, delivery, e, ctx.started).await;
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
    delivery.outcome = if items.is_empty() {
        DeliveryOutcome::Ignored
    } else {
        DeliveryOutcome::Accepted
    };
    if let [one] = items.as_slice() {
        // Whose it is, for erasure; a delivery of several people is found through their leads.
        delivery.identity_keys = identity::keys(&one.fields, source.default_country.as_deref());
    }
    if let Err(e) = deps.store.put_delivery(&delivery).await {
        tracing::error!(source = source_name, delivery_id, error = %e, "cannot keep the delivery");
        return unavailable(None);
    }
    if items.len() > INLINE_ITEMS {
        return fan_out(ctx, platform, delivery_id, items, status).await;
    }
    let mut lead_ids = Vec::new();
    let mut duplicates = 0usize;
    for item in items {
        match capture_one(ctx, &delivery_id, item, None).await {
            Ok((id, taken, _)) => {
                duplicates += usize::from(taken != Taken::Created);
                lead_ids.push(id);
            }
            Err(e) => return e.answer(),
        }
    }
    tracing::info!(
        source = source_name,
        platform = platform.name(),
        delivery_id,
        leads = lead_ids.len(),
        duplicates,
        elapsed_ms = ctx.started.elapsed().as_millis() as u64,
        "platform delivery captured"
    );
    if let Some(to) = &source.success_redirect {
        // A browser posted the form: send it on to the thank-you page.
        return Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header("location", to)
            .header("content-type", "application/json")
            .body(serde_json::json!({ "lead_ids": lead_ids }).to_string())
            .unwrap_or_else(|_| internal("bad redirect"));
    }
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut body = serde_json::json!({ "lead_ids": lead_ids, "duplicates": duplicates });
    if let [one] = lead_ids.as_slice() {
        body["lead_id"] = one.as_str().into();
    }
    json(status, body)
}

/// A delivery with more items than this is fanned out: its items travel on the captured queue
/// and are admitted there, so the answer comes at once (a Meta delivery can carry a thousand
/// leadgen changes; admitted one by one in the request they would outlast capture's timeout).
const INLINE_ITEMS: usize = 20;
/// Items per fanned-out message: small (a Meta item is ids only; a full item is at most a few
/// KiB under the field caps), well inside SQS's 256 KiB.
const ITEMS_PER_MESSAGE: usize = 10;

/// Sends the items of a kept delivery to be admitted by the captured queue's consumer. The
/// delivery is already stored; if a send fails the answer is `503`, and the platform's retry
/// sends them all again (admission is idempotent per item).
async fn fan_out(
    ctx: &Ctx<'_>,
    platform: &dyn Platform,
    delivery_id: String,
    items: Vec<PlatformLead>,
    status: u16,
) -> Response<String> {
    let count = items.len();
    let messages: Vec<CapturedMessage> = items
        .chunks(ITEMS_PER_MESSAGE)
        .map(|chunk| {
            CapturedMessage::Admit(AdmitMessage {
                source: ctx.source_name.to_owned(),
                delivery_id: delivery_id.clone(),
                received_at: ctx.now,
                items: chunk.to_vec(),
            })
        })
        .collect();
    if let Err(e) = ctx
        .deps
        .queues
        .send_all(QueueName::Captured, &messages)
        .await
    {
        tracing::error!(source = ctx.source_name, delivery_id, error = %e, "delivery kept but its items not queued");
        return unavailable(None);
    }
    tracing::info!(
        source = ctx.source_name,
        platform = platform.name(),
        delivery_id,
        queued = count,
        elapsed_ms = ctx.started.elapsed().as_millis() as u64,
        "platform delivery kept; its leads are admitted from the queue"
    );
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    json(
        status,
        serde_json::json!({ "delivery_id": delivery_id, "queued": count, "lead_ids": [] }),
    )
}

/// Admits the fanned-out items of a delivery (the captured queue's consumer calls this): each
/// becomes a lead, or finds the one an earlier delivery of it made, exactly as in the request.
pub async fn admit_queued(deps: &Deps, message: AdmitMessage) -> Result<(), Unstored> {
    let ctx = Ctx {
        deps,
        source_name: &message.source,
        now: message.received_at,
        started: Instant::now(),
        found_by_backstop: false,
    };
    // The items are independent leads: admitted side by side, each under its own dedupe key.
    let results: Vec<_> = futures::stream::iter(message.items)
        .map(|item| capture_one(&ctx, &message.delivery_id, item, None))
        .buffer_unordered(ITEMS_PER_MESSAGE)
        .collect()
        .await;
    let mut created = 0usize;
    for r in results {
        let (_, taken, _) = r?;
        created += usize::from(taken == Taken::Created);
    }
    tracing::info!(
        source = message.source,
        delivery_id = message.delivery_id,
        created,
        elapsed_ms = ctx.started.elapsed().as_millis() as u64,
        "queued items of a delivery admitted"
    );
    Ok(())
}

/// A lead the backstop found in the platform's API (the `backstop` function): admitted by
/// the same code as a webhook's item, under the same dedupe key, so a lead the webhook
/// captured is a duplicate here and a webhook arriving after this is a duplicate there. Its
/// arrival is the platform's creation time (so the report shows the delay the missed webhook
/// caused), and its `captured` event says the backstop found it. `pass_id` names the poll
/// (its leads' `delivery_id`: the API's answer is not kept, the platform keeps the lead).
pub async fn admit_found(
    deps: &Deps,
    source_name: &str,
    pass_id: &str,
    item: PlatformLead,
) -> Result<(String, Taken), Unstored> {
    let polled_at = deps.clock.now();
    let ctx = Ctx {
        deps,
        source_name,
        // A creation time ahead of our clock is the platform's clock skew: now, then.
        now: item.submitted_at.map_or(polled_at, |t| t.min(polled_at)),
        started: Instant::now(),
        found_by_backstop: true,
    };
    let (lead_id, taken, _) = capture_one(&ctx, pass_id, item, None).await?;
    Ok((lead_id, taken))
}

/// How long a redelivery is recognised for a source: [`REDELIVERY_WINDOW_DAYS`], or longer
/// when the source's backstop asks further back (its first poll), so a lead the webhook
/// captured is still known when the backstop finds it.
fn redelivery_window(deps: &Deps, source_name: &str) -> chrono::Duration {
    let base = chrono::Duration::days(REDELIVERY_WINDOW_DAYS);
    let backstop = deps
        .config
        .source(source_name)
        .and_then(|s| s.backstop.as_ref())
        .map(|b| span(b.first_lookback) + span(b.overlap));
    backstop.map_or(base, |b| b.max(base))
}

/// What became of one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    Created,
    Joined,
    Duplicate,
}

/// Stores one lead of a delivery (or finds the one its dedupe key made before) and moves it
/// on. `delivery`, when given, is kept in the same transaction. Returns the lead's id, what
/// became of the item and whether it was spam.
async fn capture_one(
    ctx: &Ctx<'_>,
    delivery_id: &str,
    item: PlatformLead,
    delivery: Option<RawDelivery>,
) -> Result<(String, Taken, bool), Unstored> {
    let (deps, source_name, now) = (ctx.deps, ctx.source_name, ctx.now);
    let lead_id = deps.clock.new_id().to_string();
    let key = item.dedupe_key.clone();
    let honeypot = item.honeypot_filled;
    let mut lead = Lead::from_delivery_item(&lead_id, source_name, delivery_id, now, item);
    // Its phone read once, here: the delivery's, the redelivery key's and the lead item's
    // erasure keys and, in the same region, the person's keys reuse the reading.
    let (erasure_keys, reading) = identity::erasure_keys_reusing(&lead, Some(READ_PHONES));
    lead.phone_reading = reading;
    // Leads nobody will work are kept only as long as `retention.spam_and_test` says.
    if lead.is_quarantined() {
        lead.expires_at = Some(now + span(deps.config.retention.spam_and_test));
    }
    let summary = match (lead.is_test, lead.stage) {
        (true, _) => {
            format!("captured from {source_name} as a test lead; it will not be routed or emailed")
        }
        (_, Stage::PendingFetch) => {
            format!("captured from {source_name}; details to be fetched from the platform")
        }
        _ if honeypot => {
            format!("captured from {source_name} as spam (honeypot filled); it will not be routed")
        }
        _ if lead.is_spam => format!("captured from {source_name} as spam; it will not be routed"),
        _ => format!("captured from {source_name}"),
    };
    let (actor, summary) = if ctx.found_by_backstop {
        let summary = format!(
            "{summary}; found by the backstop in the platform's API (created {}), its webhook never came",
            now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        ("backstop", summary)
    } else {
        ("capture", summary)
    };
    let mut event = timeline::event_at(
        deps.clock.as_ref(),
        now,
        &lead_id,
        EventKind::Captured,
        actor,
        summary,
    );
    event.expires_at = lead.expires_at;
    // From when it is stored: a lead found late keeps its key as long as one delivered now.
    let expires = now.max(deps.clock.now()) + redelivery_window(deps, source_name);
    let is_spam = lead.is_spam;
    let moves_on_now = lead.moves_on_to_enrich();
    let kept_with_lead = delivery.is_some();
    let delivery = delivery.map(|mut d| {
        d.outcome = if is_spam {
            DeliveryOutcome::Spam
        } else {
            DeliveryOutcome::Accepted
        };
        d.lead_id = Some(lead_id.clone());
        d.identity_keys = erasure_keys;
        d
    });
    match admit(deps, lead, delivery.clone(), event, &key, expires).await {
        Ok(Admitted::Created) => {
            metrics::lead_captured(source_name);
            if moves_on_now {
                enqueue(deps, source_name, &lead_id).await;
            }
            Ok((lead_id, Taken::Created, is_spam))
        }
        Ok(Admitted::Joined { lead_id }) => {
            // Enrich scores the lead again with the new submission in it.
            enqueue(deps, source_name, &lead_id).await;
            Ok((lead_id, Taken::Joined, is_spam))
        }
        Ok(Admitted::Duplicate { lead_id }) => {
            let kept = match delivery {
                Some(mut d) => {
                    d.outcome = DeliveryOutcome::Duplicate;
                    d.lead_id = Some(lead_id.clone());
                    d.expires_at = Some(expires.timestamp());
                    Some(deps.store.put_delivery(&d).await)
                }
                None => None,
            };
            // If an earlier attempt stored the lead but could not enqueue it, this is the
            // retry that moves it on (sooner than the sweep). Enrich is idempotent, so a second
            // message does no harm.
            match deps.store.get_lead(&lead_id).await {
                Ok(Some(l)) if l.moves_on_to_enrich() => enqueue(deps, source_name, &lead_id).await,
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(lead_id, error = %error, "cannot read the lead of a redelivery");
                    return Err(Unstored {
                        lead_id: Some(lead_id),
                        error,
                    });
                }
            }
            if let Some(Err(e)) = kept {
                tracing::warn!(lead_id, error = %e, "redelivery not kept");
            }
            Ok((lead_id, Taken::Duplicate, is_spam))
        }
        Err(e) => {
            let what = if kept_with_lead {
                "cannot store the delivery"
            } else {
                "cannot store a lead"
            };
            tracing::error!(source = source_name, delivery_id, error = %e, "{what}");
            Err(Unstored {
                lead_id: None,
                error: e,
            })
        }
    }
}

/// An item that could not be made a lead (or its stored lead could not be read).
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct Unstored {
    /// The lead, when one is stored.
    pub lead_id: Option<String>,
    #[source]
    pub error: leadrelay_aws::store::StoreError,
}

impl Unstored {
    /// A failure that may pass: the sender's retry, or the message's, may do better.
    pub fn is_transient(&self) -> bool {
        self.error.is_transient()
    }

    fn answer(&self) -> Response<String> {
        unavailable(self.lead_id.as_deref())
    }
}

/// Sends a stored lead on to enrich. The lead is already durable, so a send that fails is not
/// the sender's problem: the answer stays a success (a browser posting a form never retries),
/// and the sweep sends the lead on within its grace (invariant 9 in docs/architecture.md).
async fn enqueue(deps: &Deps, source_name: &str, lead_id: &str) {
    let message = LeadMessage {
        lead_id: lead_id.to_owned(),
    };
    if let Err(e) = deps.queues.send(QueueName::Captured, &message).await {
        tracing::warn!(source = source_name, lead_id, error = %e, "lead stored but not enqueued; the sweep sends it on");
    }
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
    // On a named stage the route's path lacks the stage the platform called.
    let path = req
        .extensions()
        .get::<crate::gateway::CalledPath>()
        .map_or(req.uri().path(), |p| p.0.as_str());
    format!("{scheme}://{host}{path}{query}")
}

fn raw_delivery(
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
        idempotency_key: header(req, "idempotency-key").map(str::to_owned),
        referer: header(req, "referer").map(str::to_owned),
        method: (req.method() != http::Method::POST).then(|| req.method().as_str().to_owned()),
        outcome: DeliveryOutcome::Received,
        error: None,
        lead_id: None,
        expires_at: None,
        identity_keys: Vec::new(),
    }
}

/// 400 or 422, after keeping the delivery so it can be replayed once the problem is fixed.
async fn refuse(
    deps: &Deps,
    mut delivery: RawDelivery,
    e: IntakeError,
    started: Instant,
) -> Response<String> {
    let status = match e {
        IntakeError::Malformed(_) => StatusCode::BAD_REQUEST,
        IntakeError::NotALead(_) => StatusCode::UNPROCESSABLE_ENTITY,
    };
    delivery.outcome = DeliveryOutcome::from(&e);
    delivery.error = Some(e.to_string());
    // Unreadable as a lead, yet it may name the person: found for erasure by the addresses in it.
    delivery.identity_keys = delivery
        .body
        .as_deref()
        .map(identity::email_keys_in_text)
        .unwrap_or_default();
    if let Err(store_err) = deps.store.put_delivery(&delivery).await {
        tracing::error!(source = delivery.source, delivery_id = delivery.delivery_id, error = %store_err, "cannot keep a refused delivery");
        return unavailable(None);
    }
    metrics::lead_refused(&delivery.source, e.code());
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

fn internal(message: &str) -> Response<String> {
    json_error(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
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
