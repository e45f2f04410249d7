//! How long after the webhook's answer is the acknowledgement handed to SES, on the local stack?
//!
//! Starts the local pipeline (its own moto server, the queue pollers that stand in for Lambda's
//! event source mappings, the HTTP routes on a free port), posts N distinct signed JSON leads one
//! after another over real HTTP, and for each measures on the client side:
//!
//! - the webhook's answer: request sent → response arrived;
//! - ack handed to SES: response arrived → the lead's "acknowledgement" email record reads
//!   "sent" (notify marks it so right after SES accepted the message), polled every ~2 ms.
//!
//! One warm-up lead goes first and is not counted. Every lead is given up after 10 s (reported
//! as a timeout), and the whole run is bounded too.
//!
//! ```text
//! scripts/bench-ack-latency            # 50 leads
//! scripts/bench-ack-latency 200        # 200 leads
//! ```
//!
//! Optional second argument: the configuration file (default infra/config/local.toml).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use leadrelay_cli::local::{LocalStack, StackOptions};
use leadrelay_domain::auth;
use leadrelay_domain::{Config, SystemClock};

const DEFAULT_LEADS: usize = 50;
/// A lead whose acknowledgement is not sent by then counts as a timeout.
const PER_LEAD_LIMIT: Duration = Duration::from_secs(10);
/// How often the email record is looked at while waiting.
const POLL_EVERY: Duration = Duration::from_millis(2);
/// The whole measurement may take this long, plus `PER_LEAD_BUDGET` per lead.
const RUN_BASE_BUDGET: Duration = Duration::from_secs(60);
const PER_LEAD_BUDGET: Duration = Duration::from_secs(1);

struct Measured {
    /// Request sent → response arrived.
    answer: Duration,
    /// Response arrived → acknowledgement seen as sent; `None` when it never was (timeout).
    ack: Option<Duration>,
    /// Server clock: lead received → acknowledgement marked sent.
    server: Option<Duration>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = match args.next() {
        Some(a) => a
            .parse()
            .with_context(|| format!("the number of leads, not {a:?}"))?,
        None => DEFAULT_LEADS,
    };
    if n == 0 {
        bail!("the number of leads must be at least 1");
    }
    let config_path = args.next().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../infra/config/local.toml"
        ))
    });
    let config = Config::from_path(&config_path)?;

    eprintln!("starting the local stack (moto's server, resources, pollers)…");
    let started = Instant::now();
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
    eprintln!(
        "stack up in {} ms; webhooks on http://{addr}, emulator {}",
        started.elapsed().as_millis(),
        stack.endpoint
    );

    let http = reqwest::Client::builder().timeout(PER_LEAD_LIMIT).build()?;
    let url = format!("http://{addr}/v1/webhooks/json");
    // Distinct bodies across runs too: capture deduplicates on the body's digest.
    let run = ulid::Ulid::new().to_string().to_lowercase();

    let warm_up = measure(&stack, &http, &url, &format!("{run}-warmup")).await?;
    eprintln!(
        "warm-up lead (not counted): answer {:.1} ms, ack {}",
        ms(warm_up.answer),
        warm_up
            .ack
            .map(|d| format!("{:.1} ms", ms(d)))
            .unwrap_or_else(|| "timed out".into())
    );

    let budget = RUN_BASE_BUDGET + PER_LEAD_BUDGET * n as u32;
    let deadline = Instant::now() + budget;
    let mut results = Vec::with_capacity(n);
    let mut cut_short = false;
    for i in 0..n {
        if Instant::now() >= deadline {
            cut_short = true;
            break;
        }
        let m = measure(&stack, &http, &url, &format!("{run}-{i}")).await?;
        if m.ack.is_none() {
            eprintln!("lead {i}: acknowledgement not sent within {PER_LEAD_LIMIT:?}");
        }
        results.push(m);
    }

    report(&results, n, cut_short, budget);

    server.abort();
    for w in workers {
        w.abort();
    }
    Ok(())
}

/// Posts one lead and waits for its acknowledgement to be handed to SES.
async fn measure(
    stack: &LocalStack,
    http: &reqwest::Client,
    url: &str,
    tag: &str,
) -> Result<Measured> {
    let body = serde_json::json!({
        "email": format!("bench.{tag}@northwind-logistics.com"),
        "first_name": "Ana",
        "last_name": "Ferreira",
        "phone": "(415) 555-2671",
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
    let signature = auth::sign(secret, Some(&timestamp), None, body.as_bytes());

    let sent = Instant::now();
    let response = http
        .post(url)
        .header("content-type", "application/json")
        .header("x-leadrelay-timestamp", timestamp)
        .header("x-leadrelay-signature", signature)
        .body(body)
        .send()
        .await
        .context("posting the lead")?;
    let t0 = Instant::now();
    let answer = t0 - sent;
    let status = response.status();
    let v: serde_json::Value = response.json().await.unwrap_or_default();
    if status.as_u16() != 201 {
        bail!("the webhook answered {status}: {v}");
    }
    let lead_id = v["lead_id"]
        .as_str()
        .context("the webhook's answer names the lead")?
        .to_owned();

    let mut ack = None;
    let mut sent_at = None;
    while t0.elapsed() < PER_LEAD_LIMIT {
        let emails = stack.deps.store.emails(&lead_id).await?;
        if let Some(e) = emails
            .iter()
            .find(|e| e.kind == "acknowledgement" && e.state == "sent" && e.sent_at.is_some())
        {
            ack = Some(t0.elapsed());
            sent_at = e.sent_at;
            break;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }

    // Outside the timing: the server clock's view, as a cross-check unaffected by polling.
    let server = match sent_at {
        Some(at) => stack
            .deps
            .store
            .get_lead(&lead_id)
            .await?
            .and_then(|l| (at - l.received_at).to_std().ok()),
        None => None,
    };
    Ok(Measured {
        answer,
        ack,
        server,
    })
}

fn report(results: &[Measured], wanted: usize, cut_short: bool, budget: Duration) {
    let timeouts = results.iter().filter(|m| m.ack.is_none()).count();
    println!();
    println!("acknowledgement latency on the local stack (moto), sequential signed JSON leads");
    println!(
        "  leads measured  {} of {wanted}{}",
        results.len(),
        if cut_short {
            format!(" (run budget of {budget:?} used up)")
        } else {
            String::new()
        }
    );
    println!("  timeouts        {timeouts} (ack not sent within {PER_LEAD_LIMIT:?})");
    println!("  {:<34} {:>8} {:>8} {:>8}", "", "p50", "p95", "max");
    row(
        "webhook answer (ms)",
        results.iter().map(|m| m.answer).collect(),
    );
    row(
        "answer → ack handed to SES (ms)",
        results.iter().filter_map(|m| m.ack).collect(),
    );
    row(
        "server: received → ack sent (ms)",
        results.iter().filter_map(|m| m.server).collect(),
    );
}

fn row(label: &str, mut v: Vec<Duration>) {
    if v.is_empty() {
        println!("  {label:<34} {:>8} {:>8} {:>8}", "-", "-", "-");
        return;
    }
    v.sort();
    println!(
        "  {label:<34} {:>8.1} {:>8.1} {:>8.1}",
        ms(percentile(&v, 50)),
        ms(percentile(&v, 95)),
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
