//! How soon after a webhook arrives is its acknowledgement handed to SES, on the local stack, at
//! a steady arrival rate? And where does the time go?
//!
//! Starts the local pipeline (its own moto server, the queue pollers that stand in for Lambda's
//! event source mappings, the HTTP routes on a free port) and, for each rate, posts distinct
//! signed JSON leads over real HTTP at that rate (open loop: a lead goes out on schedule whether
//! or not the ones before it were answered) for a while. Then it waits for the pipeline to drain
//! and reads each lead's timeline. Per rate it prints p50, p95, p99 and max of:
//!
//! - the webhook's answer (client side: request sent → response arrived);
//! - received → acknowledgement handed to SES (the timeline's times, one clock);
//! - and that time by stage: received → scored (the captured queue's hop and enrich), scored →
//!   routed (the scored queue's hop and route), routed → acknowledgement handed to SES (the
//!   notify queue's hop, the claim and SES).
//!
//! ```text
//! scripts/bench-ack-latency                       # 1, 10 and 50 leads a second, 30 s each
//! scripts/bench-ack-latency --rates 10 --seconds 60
//! ```
//!
//! Each rate sends at least 60 leads (a slow rate runs longer than `--seconds`), so p99 is read
//! from enough of them. A lead not acknowledged within 30 s of the last one sent counts as a
//! timeout.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use leadrelay_cli::local::{LocalStack, StackOptions};
use leadrelay_domain::auth;
use leadrelay_domain::lead::{EventKind, LeadEvent};
use leadrelay_domain::{Config, SystemClock};

const DEFAULT_RATES: &[f64] = &[1.0, 10.0, 50.0];
const DEFAULT_SECONDS: u64 = 30;
/// Enough leads per rate for a p99 worth reading.
const MIN_LEADS: usize = 60;
/// After the last lead of a rate is sent, how long the pipeline has to acknowledge them all.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

struct Options {
    rates: Vec<f64>,
    seconds: u64,
    config: PathBuf,
}

fn options() -> Result<Options> {
    let mut o = Options {
        rates: DEFAULT_RATES.to_vec(),
        seconds: DEFAULT_SECONDS,
        config: PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../infra/config/local.toml"
        )),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--rates" => {
                o.rates = value()?
                    .split(',')
                    .map(|r| {
                        r.trim()
                            .parse::<f64>()
                            .with_context(|| format!("a rate, not {r:?}"))
                    })
                    .collect::<Result<_>>()?;
            }
            "--seconds" => o.seconds = value()?.parse().context("--seconds")?,
            "--config" => o.config = PathBuf::from(value()?),
            other => {
                bail!("unknown argument {other:?} (--rates 1,10,50 --seconds 30 --config FILE)")
            }
        }
    }
    if o.rates.iter().any(|r| !(r.is_finite() && *r > 0.0)) {
        bail!("rates must be positive leads per second");
    }
    Ok(o)
}

static NEXT_PHONE: AtomicU64 = AtomicU64::new(1);

/// One lead's way, from the answer and its timeline.
#[derive(Default)]
struct Journey {
    answer: Option<Duration>,
    to_scored: Option<Duration>,
    to_routed: Option<Duration>,
    to_ack: Option<Duration>,
    routed_to_ack: Option<Duration>,
    scored_to_routed: Option<Duration>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let o = options()?;
    let config = Config::from_path(&o.config)?;
    eprintln!("starting the local stack (moto's server, resources, pollers)…");
    let stack = Arc::new(
        LocalStack::start(StackOptions {
            endpoint: None,
            prefix: "bench".into(),
            config,
            clock: Arc::new(SystemClock),
            print_journey: false,
        })
        .await
        .context("starting the local stack")?,
    );
    let workers = stack.spawn_workers(Duration::from_secs(3600));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let router = leadrelay_cli::local::http::router(Arc::clone(&stack));
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let url = format!("http://{addr}/v1/webhooks/json");
    // Distinct bodies across runs too: capture deduplicates on the body's digest.
    let run = ulid::Ulid::new().to_string().to_lowercase();

    // One lead through first, not counted: connections open, pollers waiting.
    let warm = post(&stack, &http, &url, &format!("{run}-warmup")).await?;
    wait_acknowledged(&stack, std::slice::from_ref(&warm.0), DRAIN_LIMIT).await?;

    println!(
        "acknowledgement latency on the local stack (moto), signed JSON leads at a steady rate"
    );
    for &rate in &o.rates {
        let count = ((rate * o.seconds as f64).round() as usize).max(MIN_LEADS);
        eprintln!("{rate} leads/s: sending {count} leads…");
        let journeys = at_rate(&stack, &http, &url, &format!("{run}-{rate}"), rate, count).await?;
        report(rate, count, &journeys);
    }

    server.abort();
    for w in workers {
        w.abort();
    }
    Ok(())
}

/// Sends `count` leads at `rate` a second, waits for their acknowledgements, reads their ways.
async fn at_rate(
    stack: &Arc<LocalStack>,
    http: &reqwest::Client,
    url: &str,
    tag: &str,
    rate: f64,
    count: usize,
) -> Result<Vec<Journey>> {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sending = Vec::with_capacity(count);
    for i in 0..count {
        tick.tick().await;
        let (stack, http, url, tag) = (
            Arc::clone(stack),
            http.clone(),
            url.to_owned(),
            format!("{tag}-{i}"),
        );
        sending.push(tokio::spawn(async move {
            post(&stack, &http, &url, &tag).await
        }));
    }
    let mut sent = Vec::with_capacity(count);
    for s in sending {
        sent.push(s.await.context("a sender task")??);
    }
    let ids: Vec<String> = sent.iter().map(|(id, _)| id.clone()).collect();
    wait_acknowledged(stack, &ids, DRAIN_LIMIT).await?;
    let mut journeys = Vec::with_capacity(count);
    for (id, answer) in sent {
        let timeline = stack.deps.store.timeline(&id).await?;
        journeys.push(journey(answer, &timeline));
    }
    Ok(journeys)
}

fn journey(answer: Duration, timeline: &[LeadEvent]) -> Journey {
    let at = |f: &dyn Fn(&LeadEvent) -> bool| timeline.iter().find(|e| f(e)).map(|e| e.at);
    let captured = at(&|e| e.kind == EventKind::Captured);
    let scored = at(&|e| e.kind == EventKind::Scored);
    let routed = at(&|e| e.kind == EventKind::Routed);
    let acked = at(&|e| {
        e.kind == EventKind::EmailSent && e.summary.starts_with("acknowledgement email sent")
    });
    let between = |a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>| {
        a.zip(b).and_then(|(a, b)| (b - a).to_std().ok())
    };
    Journey {
        answer: Some(answer),
        to_scored: between(captured, scored),
        scored_to_routed: between(scored, routed),
        to_routed: between(captured, routed),
        routed_to_ack: between(routed, acked),
        to_ack: between(captured, acked),
    }
}

/// Waits until every lead's acknowledgement was handed to SES, or the limit passed. One lead
/// is looked at at a time, oldest first (they finish about in order): asking about every
/// pending lead each round would load the emulator while the last ones are still on their way.
async fn wait_acknowledged(stack: &LocalStack, ids: &[String], limit: Duration) -> Result<()> {
    let deadline = Instant::now() + limit;
    for id in ids {
        loop {
            let emails = stack.deps.store.emails(id).await?;
            if emails
                .iter()
                .any(|e| e.kind == "acknowledgement" && e.state == "sent")
            {
                break;
            }
            if Instant::now() >= deadline {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}

/// Posts one distinct signed lead; its id and the time to the answer.
async fn post(
    stack: &LocalStack,
    http: &reqwest::Client,
    url: &str,
    tag: &str,
) -> Result<(String, Duration)> {
    let body = serde_json::json!({
        "email": format!("bench.{tag}@northwind-logistics.com"),
        "first_name": "Ana",
        "last_name": "Ferreira",
        // Distinct people: the same phone would join the first lead as a repeat submission.
        "phone": format!("+1 415 2{:06}", NEXT_PHONE.fetch_add(1, Ordering::Relaxed)),
        "company": "Northwind Logistics",
        "job_title": "VP Operations",
        "message": "We'd like a demo for our three warehouses.",
        "utm_source": "google",
        "utm_medium": "cpc",
        "employees": 450,
    })
    .to_string();
    let secret = stack
        .deps
        .secrets
        .source("json")
        .context("the configuration has a json source with a secret")?;
    let timestamp = stack.deps.clock.now().timestamp().to_string();
    let key = format!("bench-{tag}");
    let signature = auth::sign(secret, Some(&timestamp), Some(&key), body.as_bytes());
    let sent = Instant::now();
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .header("x-leadrelay-timestamp", timestamp)
        .header("idempotency-key", key)
        .header("x-leadrelay-signature", signature)
        .body(body)
        .send()
        .await
        .context("posting the lead")?;
    let answer = sent.elapsed();
    let status = response.status();
    let v: serde_json::Value = response.json().await.unwrap_or_default();
    if status.as_u16() != 201 {
        bail!("the webhook answered {status}: {v}");
    }
    let id = v["lead_id"]
        .as_str()
        .context("the webhook's answer names the lead")?;
    Ok((id.to_owned(), answer))
}

fn report(rate: f64, count: usize, journeys: &[Journey]) {
    let timeouts = journeys.iter().filter(|j| j.to_ack.is_none()).count();
    println!();
    println!("{rate} leads/s, {count} leads, {timeouts} not acknowledged within {DRAIN_LIMIT:?} of the last");
    println!(
        "  {:<40} {:>8} {:>8} {:>8} {:>8}",
        "(ms)", "p50", "p95", "p99", "max"
    );
    let rows: [(&str, Pick); 6] = [
        ("webhook answer", |j| j.answer),
        ("received → acknowledgement to SES", |j| j.to_ack),
        ("  received → scored (queue, enrich)", |j| j.to_scored),
        ("  scored → routed (queue, route)", |j| j.scored_to_routed),
        ("  routed → ack to SES (queue, notify)", |j| {
            j.routed_to_ack
        }),
        ("received → routed", |j| j.to_routed),
    ];
    for (label, pick) in rows {
        row(label, journeys.iter().filter_map(pick).collect());
    }
}

/// One figure of a lead's way.
type Pick = fn(&Journey) -> Option<Duration>;

fn row(label: &str, mut v: Vec<Duration>) {
    if v.is_empty() {
        println!("  {label:<40} {:>8} {:>8} {:>8} {:>8}", "-", "-", "-", "-");
        return;
    }
    v.sort();
    println!(
        "  {label:<40} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
        ms(percentile(&v, 50)),
        ms(percentile(&v, 95)),
        ms(percentile(&v, 99)),
        ms(*v.last().expect("not empty"))
    );
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[Duration], p: usize) -> Duration {
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
