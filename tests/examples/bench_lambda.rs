//! Measures the six function binaries as Lambda starts them (run by `scripts/bench-lambda`):
//! each a child process under the Runtime API emulator, against moto's server, with its
//! configuration and secrets in SSM. Per function: init (process start → first poll of
//! `next`: the median, and the middle half, of `--cold-starts` more starts besides the measured
//! one, as one start's init varies by a few ms with what else the two cores are doing), the
//! first invocation, the median and p99 of the following ones, CPU per
//! invocation (user + system time of the process over the invocations), peak RSS (VmHWM) and
//! the binary's size. With `LEADRELAY_MOTO_TIMINGS` set (moto then logs each request's time,
//! scripts/moto_server.py), also moto's CPU answering the function's requests per invocation.
//!
//! With `--node DIR`, a Node.js baseline is measured the same way in the same runs: a typical
//! form-to-DynamoDB+SES Lambda (bench/node-form: four AWS calls per submission) fed capture's
//! events, run by `node` under the same Runtime API. Its "binary" is the size of its code with
//! its `node_modules`, the Node runtime aside.
//!
//!   bench_lambda --bin-dir target/release [--events 300] [--runs 3] [--cold-starts 10]
//!                [--node bench/node-form] [--sources json,form,meta]
//!
//! `--sources` deploys only the sources named (json among them: the events are its), as a
//! deployment with a few sources runs: capture reads fewer secrets at init. Without it every
//! source of the local configuration is deployed, and capture reads 15 secrets.
//!
//! With `--runner "PROGRAM ARGS"`, each binary is run by that program (its path the last
//! argument): `scripts/build-lambdas --run` runs the arm64 build under `qemu-aarch64`, where
//! every answer is checked as here but the times and memory are the emulator's.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use hmac::{Hmac, Mac};
use leadrelay_aws::queue::QueueName;
use leadrelay_cli::local::{LocalStack, MotoServer, StackOptions};
use leadrelay_domain::{Config, SystemClock};
use leadrelay_e2e::lambda_functions::{
    api_gateway_event, deploy, http_answer, scheduled_event, sqs_event, take_messages,
    LambdaProcess, SsmLayout, FUNCTIONS,
};
use serde_json::{json, Value};
use sha2::Sha256;

const LOCAL_CONFIG: &str = include_str!("../../infra/config/local.toml");
const JSON_SECRET: &str = "local-json-secret";

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone, Default)]
struct Measure {
    size_bytes: u64,
    /// The median of the cold starts' inits, and the first and third quartiles.
    init: Duration,
    init_quartiles: (Duration, Duration),
    /// How many starts the init figures are of.
    starts: usize,
    first: Duration,
    median: Duration,
    p99: Duration,
    cpu_per_invocation: Duration,
    /// moto's CPU answering the function's requests, per invocation, when moto logs it
    /// (`LEADRELAY_MOTO_TIMINGS`).
    moto_cpu_per_invocation: Option<Duration>,
    peak_rss_kb: u64,
    invocations: usize,
}

struct Args {
    bin_dir: PathBuf,
    events: usize,
    runs: usize,
    /// Starts of each function, besides the measured one, that only wait for init.
    cold_starts: usize,
    node: Option<PathBuf>,
    runner: Vec<String>,
    /// Sources deployed (all the local configuration's when none): fewer sources, fewer
    /// secrets for capture to read at init.
    sources: Option<Vec<String>>,
}

fn args() -> Result<Args, Error> {
    let mut a = Args {
        bin_dir: PathBuf::from("target/release"),
        events: 300,
        runs: 1,
        cold_starts: 10,
        node: None,
        runner: Vec::new(),
        sources: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--bin-dir" => a.bin_dir = PathBuf::from(value()?),
            "--events" => a.events = value()?.parse()?,
            "--runs" => a.runs = value()?.parse()?,
            "--cold-starts" => a.cold_starts = value()?.parse()?,
            "--node" => a.node = Some(PathBuf::from(value()?)),
            "--runner" => a.runner = value()?.split_whitespace().map(str::to_owned).collect(),
            "--sources" => a.sources = Some(value()?.split(',').map(str::to_owned).collect()),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args = args()?;
    for name in FUNCTIONS {
        if !args.bin_dir.join(name).is_file() {
            return Err(format!("{name} is not in {}", args.bin_dir.display()).into());
        }
    }
    let moto = MotoServer::start().await?;
    let mut runs = Vec::new();
    for run in 0..args.runs {
        eprintln!("run {} of {}", run + 1, args.runs);
        let measures = bench_once(&args, moto.endpoint()).await?;
        println!("\n### Run {}\n", run + 1);
        print_table(&measures);
        runs.push(measures);
    }
    if runs.len() > 1 {
        println!("\n### Median of {} runs\n", runs.len());
        print_table(&median_of_runs(&runs));
    }
    Ok(())
}

async fn bench_once(args: &Args, endpoint: &str) -> Result<Vec<(String, Measure)>, Error> {
    let prefix = format!("bench{}", ulid::Ulid::new().to_string().to_lowercase());
    let sender = format!("leads-{prefix}@leadrelay.example.com");
    let text = LOCAL_CONFIG.replace("leads@leadrelay.example.com", &sender);
    let text = match &args.sources {
        Some(keep) => only_sources(&text, keep)?,
        None => text,
    };
    let config = Config::from_toml(&text, "bench config")?;
    let stack = LocalStack::start(StackOptions {
        endpoint: Some(endpoint.to_owned()),
        prefix: prefix.clone(),
        config,
        clock: Arc::new(SystemClock),
        print_journey: false,
    })
    .await?;
    let deps = &stack.deps;
    let resources = leadrelay_aws::deps::Resources {
        table: deps.store.table().to_owned(),
        captured_queue_url: deps.queues.url(QueueName::Captured).to_owned(),
        scored_queue_url: deps.queues.url(QueueName::Scored).to_owned(),
        notify_queue_url: deps.queues.url(QueueName::Notify).to_owned(),
        sla_shards: deps.store.sla_shards(),
    };
    let env = deploy(
        &stack.sdk,
        &stack.endpoint,
        &text,
        &SsmLayout::for_prefix(&prefix),
        &resources,
    )
    .await?;
    let n = args.events;
    let mut out = Vec::new();

    // capture: n + 1 distinct signed deliveries (the first is the first invocation).
    let events: Vec<Value> = (0..=n).map(signed_delivery).collect();
    let created = |answer: &Value| {
        let (status, body) = http_answer(answer);
        (status == 201)
            .then_some(())
            .ok_or(format!("{status} {body}"))
    };
    let m = measure(
        &Start::binary(args, "capture")?,
        "capture",
        &env,
        events,
        created,
    )
    .await?;
    out.push(("capture".to_owned(), m));

    // enrich, route, notify: one SQS event per message their queue holds, each a distinct lead.
    for (name, queue) in [
        ("enrich", QueueName::Captured),
        ("route", QueueName::Scored),
        ("notify", QueueName::Notify),
    ] {
        let url = deps.queues.url(queue).to_owned();
        let messages = drain(deps.queues.client(), &url, n + 1).await?;
        let events: Vec<Value> = messages
            .iter()
            .map(|m| sqs_event(&url, std::slice::from_ref(m)))
            .collect();
        let m = measure(
            &Start::binary(args, name)?,
            name,
            &env,
            events,
            |answer| match answer["batchItemFailures"].as_array() {
                Some(f) if f.is_empty() => Ok(()),
                _ => Err(answer.to_string()),
            },
        )
        .await?;
        out.push((name.to_owned(), m));
    }

    // escalate and the backstop: scheduled passes. The local configuration asks no platform, so
    // a backstop pass polls nothing: its figures are init and the pass's own cost.
    for name in ["escalate", "backstop"] {
        let events: Vec<Value> = (0..=n).map(|_| scheduled_event(Utc::now())).collect();
        let m = measure(&Start::binary(args, name)?, name, &env, events, |answer| {
            (answer["failed"] == 0)
                .then_some(())
                .ok_or(answer.to_string())
        })
        .await?;
        out.push((name.to_owned(), m));
    }

    // The Node.js baseline last: it queues messages of its own on the captured queue.
    if let Some(dir) = &args.node {
        let events: Vec<Value> = (0..=n).map(|i| signed_delivery(n + 1 + i)).collect();
        let mut env = env.clone();
        env.push(("BASELINE_SENDER".into(), sender.clone()));
        let name = "node.js baseline";
        let m = measure(&Start::node(args, dir)?, name, &env, events, created).await?;
        out.push((name.to_owned(), m));
    }
    Ok(out)
}

/// How a function is started, how many more times only for init, and what its code weighs.
struct Start {
    program: PathBuf,
    args: Vec<String>,
    cold_starts: usize,
    size_bytes: u64,
}

impl Start {
    fn binary(args: &Args, name: &str) -> Result<Start, Error> {
        let binary = args.bin_dir.join(name);
        let size_bytes = std::fs::metadata(&binary)?.len();
        let Some((runner, runner_args)) = args.runner.split_first() else {
            return Ok(Start {
                program: binary,
                args: Vec::new(),
                cold_starts: args.cold_starts,
                size_bytes,
            });
        };
        let mut runner_args = runner_args.to_vec();
        runner_args.push(binary.display().to_string());
        Ok(Start {
            program: PathBuf::from(runner),
            args: runner_args,
            cold_starts: args.cold_starts,
            size_bytes,
        })
    }

    /// `node runtime.mjs` in `dir`; its size is the code with its node_modules.
    fn node(args: &Args, dir: &std::path::Path) -> Result<Start, Error> {
        let dir = std::fs::canonicalize(dir)?;
        let runtime = dir.join("runtime.mjs");
        if !dir.join("node_modules").is_dir() {
            return Err(format!("{}: run npm ci there first", dir.display()).into());
        }
        let program = which_node()?;
        Ok(Start {
            program,
            args: vec![runtime.display().to_string()],
            cold_starts: args.cold_starts,
            size_bytes: tree_size(&dir)?,
        })
    }
}

fn which_node() -> Result<PathBuf, Error> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("node"))
        .find(|p| p.is_file())
        .ok_or_else(|| "node is not on PATH".into())
}

fn tree_size(dir: &std::path::Path) -> Result<u64, Error> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            total += tree_size(&entry.path())?;
        } else if kind.is_file() {
            total += entry.metadata()?.len();
        }
    }
    Ok(total)
}

/// Takes every message off a queue, at least `at_least` of them (waiting for stragglers).
async fn drain(
    sqs: &aws_sdk_sqs::Client,
    url: &str,
    at_least: usize,
) -> Result<Vec<(String, String)>, Error> {
    let mut all = Vec::new();
    let mut empty = 0;
    while empty < 3 {
        let got = take_messages(sqs, url, 10, if all.len() >= at_least { 0 } else { 1 }).await?;
        if got.is_empty() {
            empty += 1;
        } else {
            empty = 0;
            all.extend(got);
        }
    }
    if all.len() < at_least {
        return Err(format!("only {} messages on {url}, wanted {at_least}", all.len()).into());
    }
    Ok(all)
}

async fn measure(
    start: &Start,
    name: &str,
    env: &[(String, String)],
    events: Vec<Value>,
    check: impl Fn(&Value) -> Result<(), String>,
) -> Result<Measure, Error> {
    let size_bytes = start.size_bytes;
    let args: Vec<&str> = start.args.iter().map(String::as_str).collect();
    let f = LambdaProcess::start_command(&start.program, &args, name, env).await?;
    let init = f
        .init()
        .await
        .map_err(|e| format!("{name}: {e}\n{}", f.output()))?;
    let cpu_before = f.cpu_ticks().unwrap_or_default();
    let moto_log = std::env::var_os("LEADRELAY_MOTO_TIMINGS").map(PathBuf::from);
    let moto_before = moto_log.as_deref().map(moto_log_len);
    let mut times = Vec::with_capacity(events.len());
    for event in events {
        let started = Instant::now();
        let answer = f
            .invoke(event)
            .await
            .map_err(|e| format!("{name}: {e}\n{}", f.output()))?;
        times.push(started.elapsed());
        check(&answer).map_err(|e| format!("{name} answered: {e}"))?;
    }
    let cpu = f.cpu_ticks().unwrap_or_default().saturating_sub(cpu_before);
    let moto_cpu = match (moto_log.as_deref(), moto_before) {
        (Some(log), Some(from)) => Some(moto_cpu_since(log, from)?),
        _ => None,
    };
    let peak_rss_kb = f.peak_rss_kb().unwrap_or_default();
    drop(f);
    let mut inits = vec![init];
    for _ in 0..start.cold_starts {
        let f = LambdaProcess::start_command(&start.program, &args, name, env).await?;
        inits.push(
            f.init()
                .await
                .map_err(|e| format!("{name}: {e}\n{}", f.output()))?,
        );
    }
    inits.sort();
    // Ranks symmetric about the median: with 11 starts the 3rd, 6th and 9th.
    let last = inits.len() - 1;
    let (low, mid, high) = (inits[last / 4], inits[last / 2], inits[last - last / 4]);
    let invocations = times.len();
    let first = times.first().copied().unwrap_or_default();
    let mut rest: Vec<Duration> = times.iter().skip(1).copied().collect();
    rest.sort();
    let pick = |q: f64| {
        rest.get(((rest.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or_default()
    };
    let ticks = leadrelay_e2e::lambda_functions::clock_ticks_per_second();
    Ok(Measure {
        size_bytes,
        init: mid,
        init_quartiles: (low, high),
        starts: inits.len(),
        first,
        median: pick(0.5),
        p99: pick(0.99),
        cpu_per_invocation: Duration::from_secs_f64(
            cpu as f64 / ticks as f64 / invocations.max(1) as f64,
        ),
        moto_cpu_per_invocation: moto_cpu.map(|c| c / invocations.max(1) as u32),
        peak_rss_kb,
        invocations,
    })
}

fn moto_log_len(log: &std::path::Path) -> u64 {
    std::fs::metadata(log).map_or(0, |m| m.len())
}

/// The CPU moto logged for the requests it answered since its log was `from` bytes
/// long: the third column of each line (scripts/moto_server.py, `LEADRELAY_MOTO_TIMINGS`).
fn moto_cpu_since(log: &std::path::Path, from: u64) -> Result<Duration, Error> {
    let text = std::fs::read(log)?;
    let new = String::from_utf8_lossy(text.get(from as usize..).unwrap_or_default());
    // Complete lines only: a request answered meanwhile may be half written.
    let complete = new.rfind('\n').map_or("", |end| &new[..end]);
    let mut ms = 0.0;
    for line in complete.lines() {
        let cpu = line.rsplit('\t').next().unwrap_or_default();
        ms += cpu
            .parse::<f64>()
            .map_err(|e| format!("moto's log, line {line:?}: {e}"))?;
    }
    Ok(Duration::from_secs_f64(ms / 1000.0))
}

/// The configuration with only the sources `keep` (the events are the json source's).
fn only_sources(text: &str, keep: &[String]) -> Result<String, Error> {
    if !keep.iter().any(|s| s == "json") {
        return Err("--sources must include json: the bench's deliveries are its".into());
    }
    let mut config: toml::Table = toml::from_str(text)?;
    if let Some(toml::Value::Table(sources)) = config.get_mut("sources") {
        if let Some(unknown) = keep.iter().find(|k| !sources.contains_key(k.as_str())) {
            return Err(
                format!("--sources: the local configuration has no source {unknown}").into(),
            );
        }
        sources.retain(|name, _| keep.iter().any(|k| k == name));
    }
    Ok(toml::to_string(&config)?)
}

/// A distinct lead as the json source receives it, signed now, as an API Gateway event.
fn signed_delivery(i: usize) -> Value {
    let body = json!({
        "email": format!("buyer{i}@northwind-{i}.example.com"),
        "first_name": "Ana",
        "last_name": format!("Ferreira {i}"),
        "phone": format!("(415) 555-{:04}", i % 10_000),
        "company": format!("Northwind {i}"),
        "job_title": "VP Operations",
        "message": "We'd like a demo for our three warehouses.",
        "utm_source": "google",
        "utm_medium": "cpc",
        "employees": 450
    })
    .to_string()
    .into_bytes();
    let ts = Utc::now().timestamp().to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(JSON_SECRET.as_bytes()).expect("any key");
    mac.update(format!("v1\n{ts}\n\n").as_bytes());
    mac.update(&body);
    let sig = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    let req = http::Request::post("/v1/webhooks/json")
        .header("content-type", "application/json")
        .header("x-leadrelay-timestamp", ts)
        .header("x-leadrelay-signature", sig)
        .body(body)
        .expect("a valid request");
    api_gateway_event(&req, "$default", "203.0.113.9")
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn print_table(rows: &[(String, Measure)]) {
    let starts = rows.first().map_or(1, |(_, m)| m.starts);
    if starts > 1 {
        println!(
            "init: the median (first to third quartile) of {starts} cold starts of each function\n"
        );
    }
    println!("| function | binary (MB) | init (ms) | first invocation (ms) | median (ms) | p99 (ms) | CPU / invocation (ms) | moto CPU / invocation (ms) | peak RSS (MB) | invocations |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for (name, m) in rows {
        let moto = m.moto_cpu_per_invocation.map_or("-".to_owned(), |d| {
            format!("{:.2}", d.as_secs_f64() * 1000.0)
        });
        println!(
            "| {name} | {:.1} | {} | {} | {} | {} | {:.2} | {moto} | {:.1} | {} |",
            m.size_bytes as f64 / 1_000_000.0,
            init_cell(m),
            ms(m.first),
            ms(m.median),
            ms(m.p99),
            m.cpu_per_invocation.as_secs_f64() * 1000.0,
            m.peak_rss_kb as f64 / 1024.0,
            m.invocations
        );
    }
}

fn init_cell(m: &Measure) -> String {
    if m.starts > 1 {
        let (low, high) = m.init_quartiles;
        format!("{} ({}-{})", ms(m.init), ms(low), ms(high))
    } else {
        ms(m.init)
    }
}

/// Each figure's median over the runs, per function.
fn median_of_runs(runs: &[Vec<(String, Measure)>]) -> Vec<(String, Measure)> {
    fn mid<T: Ord + Copy>(mut v: Vec<T>) -> T {
        v.sort();
        v[v.len() / 2]
    }
    runs[0]
        .iter()
        .enumerate()
        .map(|(i, (name, first))| {
            let all: Vec<&Measure> = runs.iter().map(|r| &r[i].1).collect();
            let m = Measure {
                size_bytes: first.size_bytes,
                init: mid(all.iter().map(|m| m.init).collect()),
                init_quartiles: (
                    mid(all.iter().map(|m| m.init_quartiles.0).collect()),
                    mid(all.iter().map(|m| m.init_quartiles.1).collect()),
                ),
                starts: first.starts,
                first: mid(all.iter().map(|m| m.first).collect()),
                median: mid(all.iter().map(|m| m.median).collect()),
                p99: mid(all.iter().map(|m| m.p99).collect()),
                cpu_per_invocation: mid(all.iter().map(|m| m.cpu_per_invocation).collect()),
                moto_cpu_per_invocation: all
                    .iter()
                    .map(|m| m.moto_cpu_per_invocation)
                    .collect::<Option<Vec<_>>>()
                    .map(mid),
                peak_rss_kb: mid(all.iter().map(|m| m.peak_rss_kb).collect()),
                invocations: first.invocations,
            };
            (name.clone(), m)
        })
        .collect()
}
