//! The subcommands.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, Utc};
use leadrelay_aws::dead_letter::{self, DeadLetterQueues, ReplayMethod, Replayed};
use leadrelay_aws::deps::{load_config, Clients, Resources, SecretsNeeded, TemplatesNeeded};
use leadrelay_aws::queue::QueueName;
use leadrelay_aws::Deps;
use leadrelay_cli::local::journey::format_event;
use leadrelay_cli::local::{local_sdk_config, LocalStack, StackOptions};
use leadrelay_domain::auth;
use leadrelay_domain::clock::SharedClock;
use leadrelay_domain::clock::ShiftedClock;
use leadrelay_domain::identity::READ_PHONES;
use leadrelay_domain::secret::Secret;
use leadrelay_domain::{Config, ManualClock, SystemClock};
use serde::{Deserialize, Serialize};

/// Where `leadrelay local` tells the other commands how to reach it.
const STATE_FILE: &str = ".leadrelay/local.json";

#[derive(Serialize, Deserialize)]
struct LocalState {
    endpoint: String,
    table: String,
    captured_queue_url: String,
    scored_queue_url: String,
    notify_queue_url: String,
    sla_shards: u32,
    /// The dead-letter queues (absent in a state file of an older `local`: then found through
    /// the queues' redrive policies).
    #[serde(default)]
    dead_letter: Option<[String; 3]>,
}

async fn read_config(location: &str) -> Result<Config> {
    // A file needs no AWS; only an `ssm:` location loads the SDK's default chain.
    if location.starts_with("ssm:") {
        let sdk = leadrelay_aws::sdk::load().await;
        Ok(load_config(location, &sdk).await?)
    } else {
        Ok(Config::from_path(std::path::Path::new(location))?)
    }
}

pub async fn config_check(location: &str) -> Result<()> {
    let c = read_config(location).await?;
    // The templates are checked against the configuration they serve (its teams and sources).
    leadrelay_domain::template_files::load(&c)?;
    let templates = match c.templates_dir() {
        Some(dir) => format!("built-in templates with {}", dir.display()),
        None => "built-in templates".to_owned(),
    };
    let owners = c.owners().count();
    for d in c.deprecations() {
        println!("{}: deprecated: {d}", c.origin);
    }
    println!(
        "{}: ok — {} sources, {} teams ({} owners), {} routing rules, {} scoring rules, tiers {}, {templates}",
        c.origin,
        c.sources.len(),
        c.teams.len(),
        owners,
        c.routing.rules.len(),
        c.scoring.rules.len(),
        c.scoring
            .tiers
            .iter()
            .map(|t| t.name.as_str())
            .collect::<Vec<_>>()
            .join(" / ")
    );
    Ok(())
}

async fn start_stack(
    config_location: &str,
    clock: SharedClock,
    print_journey: bool,
) -> Result<LocalStack> {
    let config = read_config(config_location).await?;
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
    if endpoint.is_none() {
        eprintln!("starting moto's server (the local AWS emulator)…");
    }
    LocalStack::start(StackOptions {
        endpoint,
        prefix: "leadrelay".into(),
        config,
        clock,
        print_journey,
    })
    .await
    .context("starting the local stack")
}

async fn bind(listen: &str, fall_back_to_free_port: bool) -> Result<tokio::net::TcpListener> {
    match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => Ok(l),
        Err(_) if fall_back_to_free_port => Ok(tokio::net::TcpListener::bind("127.0.0.1:0").await?),
        Err(e) => Err(e).with_context(|| format!("cannot listen on {listen} (use --listen)")),
    }
}

pub async fn local(config_location: &str, listen: &str, escalate_every: Duration) -> Result<()> {
    let stack = Arc::new(start_stack(config_location, Arc::new(SystemClock), true).await?);
    let listener = bind(listen, false).await?;
    let addr = listener.local_addr()?;
    let r = stack.deps.queues.clone();
    let state = LocalState {
        endpoint: stack.endpoint.clone(),
        table: stack.deps.store.table().to_owned(),
        captured_queue_url: r.url(leadrelay_aws::queue::QueueName::Captured).to_owned(),
        scored_queue_url: r.url(leadrelay_aws::queue::QueueName::Scored).to_owned(),
        notify_queue_url: r.url(leadrelay_aws::queue::QueueName::Notify).to_owned(),
        sla_shards: stack.deps.store.sla_shards(),
        dead_letter: Some([
            stack.dead_letter.captured.clone(),
            stack.dead_letter.scored.clone(),
            stack.dead_letter.notify.clone(),
        ]),
    };
    std::fs::create_dir_all(".leadrelay")?;
    std::fs::write(STATE_FILE, serde_json::to_string_pretty(&state)?)?;
    let sources: Vec<&String> = stack.deps.config.sources.keys().collect();
    println!("Leadrelay is running locally.");
    println!(
        "  webhooks   POST http://{addr}/v1/webhooks/<source>   sources: {}",
        sources
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  emulator   {} (moto; `leadrelay lead <id>` finds it through {STATE_FILE})",
        stack.endpoint
    );
    println!("  config     {}", stack.deps.config.origin);
    println!(
        "  escalation every {}",
        humantime::format_duration(escalate_every)
    );
    println!("  try        curl -X POST 'http://{addr}/v1/webhooks/form?token=<sources.form.secret>' -d 'email=jo%40example.com&full_name=Jo+Doe'");
    println!("Each lead's journey is printed below as it happens. Ctrl-C stops.\n");
    let workers = stack.spawn_workers(escalate_every);
    let router = leadrelay_cli::local::http::router(Arc::clone(&stack));
    axum::serve(listener, router)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    for w in workers {
        w.abort();
    }
    let _ = std::fs::remove_file(STATE_FILE);
    Ok(())
}

/// Connects to a running deployment: AWS when `LEADRELAY_TABLE` is set, else the local stack
/// that `leadrelay local` announced. Only the commands that render emails load the templates.
async fn connect(
    config_location: &str,
    clock: SharedClock,
    templates: TemplatesNeeded,
) -> Result<Deps> {
    Ok(connect_to(config_location, clock, templates).await?.0)
}

/// Where [`connect`] found the deployment.
enum Deployment {
    /// AWS (or an emulator named by `AWS_ENDPOINT_URL`), from `LEADRELAY_*` variables.
    Aws,
    /// `leadrelay local`'s stack, with its dead-letter queues when its state file names them.
    Local {
        dead_letter: Option<DeadLetterQueues>,
    },
}

async fn connect_to(
    config_location: &str,
    clock: SharedClock,
    templates: TemplatesNeeded,
) -> Result<(Deps, Deployment)> {
    let (sdk, resources, deployment) = if std::env::var("LEADRELAY_TABLE").is_ok() {
        let sdk = leadrelay_aws::sdk::load().await;
        let mut resources = Resources::from_env()?;
        if std::env::var_os("LEADRELAY_SLA_SHARDS").is_none() {
            resources = resources
                .with_recorded_sla_shards(&aws_sdk_dynamodb::Client::new(&sdk))
                .await
                .context("reading the SLA shards record (or set LEADRELAY_SLA_SHARDS)")?;
        }
        (sdk, resources, Deployment::Aws)
    } else {
        let path = PathBuf::from(STATE_FILE);
        let state: LocalState = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?,
            Err(_) => bail!("no deployment to talk to: start `leadrelay local` in this folder, or set LEADRELAY_TABLE and the LEADRELAY_*_QUEUE_URL variables for AWS"),
        };
        let sdk = local_sdk_config(&state.endpoint).await;
        let resources = Resources {
            table: state.table,
            captured_queue_url: state.captured_queue_url,
            scored_queue_url: state.scored_queue_url,
            notify_queue_url: state.notify_queue_url,
            sla_shards: state.sla_shards,
        };
        let dead_letter = state
            .dead_letter
            .map(|[captured, scored, notify]| DeadLetterQueues {
                captured,
                scored,
                notify,
            });
        (sdk, resources, Deployment::Local { dead_letter })
    };
    let config = load_config(config_location, &sdk).await?;
    let deps = Deps::build_with(
        Clients::new(&sdk),
        config,
        resources,
        clock,
        SecretsNeeded::ALL,
        templates,
        Some(READ_PHONES),
    )
    .await?;
    Ok((deps, deployment))
}

/// A queue named on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum QueueArg {
    Captured,
    Scored,
    Notify,
}

impl From<QueueArg> for QueueName {
    fn from(q: QueueArg) -> Self {
        match q {
            QueueArg::Captured => QueueName::Captured,
            QueueArg::Scored => QueueName::Scored,
            QueueArg::Notify => QueueName::Notify,
        }
    }
}

fn queues_named(q: Option<QueueArg>) -> Vec<QueueName> {
    match q {
        Some(q) => vec![q.into()],
        None => QueueName::ALL.to_vec(),
    }
}

/// The deployment, its dead-letter queues, and how to replay them: the local emulator has no
/// message move task; AWS has (and an `AWS_ENDPOINT_URL` emulator is tried, then moved by hand).
async fn connect_dead_letter(
    config_location: &str,
) -> Result<(Deps, DeadLetterQueues, ReplayMethod)> {
    let (deps, deployment) = connect_to(
        config_location,
        Arc::new(SystemClock),
        TemplatesNeeded::NONE,
    )
    .await?;
    let (dlqs, method) = match deployment {
        Deployment::Local {
            dead_letter: Some(d),
        } => (d, ReplayMethod::Receive),
        Deployment::Local { dead_letter: None } => (
            DeadLetterQueues::from_env_or_discover(&deps.queues).await?,
            ReplayMethod::Receive,
        ),
        Deployment::Aws => (
            DeadLetterQueues::from_env_or_discover(&deps.queues).await?,
            ReplayMethod::Auto,
        ),
    };
    Ok((deps, dlqs, method))
}

pub async fn dlq_list(config_location: &str, queue: Option<QueueArg>, json: bool) -> Result<()> {
    let (deps, dlqs, _) = connect_dead_letter(config_location).await?;
    let fmt = |t: Option<DateTime<Utc>>| {
        t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_else(|| "-".into())
    };
    for q in queues_named(queue) {
        let letters = dead_letter::list(deps.queues.client(), &dlqs, q).await?;
        if json {
            for l in &letters {
                let mut v = serde_json::to_value(l)?;
                v["queue"] = q.as_str().into();
                println!("{v}");
            }
            continue;
        }
        println!(
            "{} dead-letter queue: {} message(s)",
            q.as_str(),
            letters.len()
        );
        if letters.is_empty() {
            continue;
        }
        println!(
            "  {:<36}  {:<26}  {:>8}  {:<20}  {:<20}",
            "message", "lead", "receives", "sent (UTC)", "first tried (UTC)"
        );
        for l in &letters {
            let lead = match (&l.lead_id, &l.kind) {
                (Some(id), Some(kind)) => format!("{id} {kind}"),
                (Some(id), None) => id.clone(),
                (None, _) => "-".into(),
            };
            println!(
                "  {:<36}  {:<26}  {:>8}  {:<20}  {:<20}",
                l.message_id,
                lead,
                l.receive_count,
                fmt(l.sent_at),
                fmt(l.first_received_at)
            );
        }
    }
    Ok(())
}

pub async fn dlq_replay(config_location: &str, queue: Option<QueueArg>) -> Result<()> {
    let (deps, dlqs, method) = connect_dead_letter(config_location).await?;
    for q in queues_named(queue) {
        match dead_letter::replay(&deps.queues, &dlqs, q, method).await? {
            Replayed::Moved { messages } => println!(
                "{}: moved {messages} message(s) back to the {} queue",
                q.as_str(),
                q.as_str()
            ),
            Replayed::MoveTask {
                task_handle,
                approximate_messages,
            } => println!(
                "{}: message move task started for about {approximate_messages} message(s) (task {task_handle}); `leadrelay dlq list {}` shows what is left",
                q.as_str(),
                q.as_str()
            ),
        }
    }
    Ok(())
}

pub async fn replay(config_location: &str, delivery_id: &str) -> Result<()> {
    let deps = connect(
        config_location,
        Arc::new(SystemClock),
        TemplatesNeeded::NONE,
    )
    .await?;
    let r = leadrelay_capture::replay::replay_delivery(&deps, delivery_id).await?;
    println!(
        "delivery {}: {} {}",
        r.delivery_id,
        r.status.as_u16(),
        r.body
    );
    if !r.status.is_success() {
        bail!("the delivery was refused again");
    }
    Ok(())
}

pub async fn lead(config_location: &str, lead_id: &str, json: bool) -> Result<()> {
    let deps = connect(
        config_location,
        Arc::new(SystemClock),
        TemplatesNeeded::NONE,
    )
    .await?;
    let Some(lead) = deps.store.get_lead(lead_id).await? else {
        bail!("no lead {lead_id}");
    };
    let timeline = deps.store.timeline(lead_id).await?;
    let emails = deps.store.emails(lead_id).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &serde_json::json!({ "lead": lead, "timeline": timeline, "emails": emails })
            )?
        );
        return Ok(());
    }
    print!("{}", crate::commands::render_lead(&lead));
    // Intent decays: what the lead is worth today, beside what it scored then.
    if let Some(then) = lead.score.as_ref().filter(|_| lead.enrichment.is_some()) {
        let now = leadrelay_domain::scoring::score(&lead, &deps.config.scoring, Utc::now());
        if now.points != then.points {
            println!(
                "{:>12}  {} ({}; intent {} after decay)",
                "score now", now.points, now.tier, now.intent
            );
        }
    }
    println!("\nTimeline");
    for e in &timeline {
        println!("  {}", format_event(e));
    }
    if !emails.is_empty() {
        println!("\nEmails");
        for e in &emails {
            println!(
                "  {:<16} {:<8} {}",
                e.kind,
                e.state,
                e.sent_at
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// What the company provider said: `1200 employees, Software, DE`, `not known to the
/// provider`, `lookup failed: <why>`; nothing when there was no lookup.
fn company_data(e: &leadrelay_domain::lead::Enrichment) -> Option<String> {
    use leadrelay_domain::company::CompanyLookup;
    match e.company_lookup? {
        CompanyLookup::Found => Some(
            [
                e.company_size.map(|n| format!("{n} employees")),
                e.industry.clone(),
                e.company_country.clone(),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", "),
        ),
        CompanyLookup::NotFound => Some("not known to the provider".into()),
        CompanyLookup::Failed => Some(format!(
            "lookup failed: {}",
            e.company_lookup_error.as_deref().unwrap_or("unknown")
        )),
    }
}

pub fn render_lead(lead: &leadrelay_domain::lead::Lead) -> String {
    let mut out = String::new();
    let mut row = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            out.push_str(&format!("{k:>12}  {v}\n"));
        }
    };
    let e = lead.enrichment.as_ref();
    row("lead", Some(lead.lead_id.clone()));
    row("source", Some(lead.source.clone()));
    row(
        "received",
        Some(
            lead.received_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
    );
    row("stage", Some(format!("{:?}", lead.stage).to_lowercase()));
    let mut status = lead.status.to_string();
    if let Some(r) = &lead.status_reason {
        status.push_str(&format!(" ({r})"));
    }
    if let Some(at) = lead.recycle_at {
        status.push_str(&format!(
            ", resurfaces {}",
            at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ));
    }
    row("status", Some(status));
    if lead.submissions > 1 {
        row("submissions", Some(lead.submissions.to_string()));
    }
    row("person", lead.person_id.clone());
    row(
        "flags",
        Some(
            [
                lead.is_spam.then_some("spam"),
                lead.is_test.then_some("test"),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", "),
        ),
    );
    row("name", lead.display_name());
    row("email", lead.email().map(str::to_owned));
    row(
        "phone",
        e.and_then(|e| e.phone.clone())
            .or_else(|| lead.fields.phone.clone()),
    );
    row(
        "company",
        lead.fields
            .company
            .clone()
            .or_else(|| e.and_then(|e| e.company.clone())),
    );
    row("domain", e.and_then(|e| e.company_domain.clone()));
    row("company data", e.and_then(company_data));
    row("job title", lead.fields.job_title.clone());
    row(
        "country",
        e.and_then(|e| e.country.clone())
            .or_else(|| lead.fields.country.clone()),
    );
    row("message", lead.fields.message.clone());
    row(
        "utm",
        Some(
            lead.utm
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
        ),
    );
    let touch = lead.attribution.as_ref();
    row("landing page", touch.and_then(|t| t.landing_page.clone()));
    row("referrer", touch.and_then(|t| t.referrer.clone()));
    row(
        "click ids",
        Some(
            lead.click_ids
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
        ),
    );
    if let Some(s) = &lead.score {
        let mut summary = format!(
            "{} ({}; fit {}, intent {})",
            s.points, s.tier, s.fit, s.intent
        );
        if let Some(g) = &s.grade {
            summary.push_str(&format!(", grade {g}"));
        }
        if let Some(q) = &s.qualification {
            summary.push_str(&format!(", {}", q.to_uppercase()));
        }
        if let Some(at) = s.scored_at {
            summary.push_str(&format!(
                " as of {}",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ));
        }
        row("score", Some(summary));
        for r in &s.reasons {
            row("", Some(r.to_string()));
        }
    }
    if let Some(a) = &lead.assignment {
        row(
            "owner",
            Some(format!(
                "{} ({}, team {})",
                a.owner_name, a.owner_id, a.team
            )),
        );
        row("why", Some(a.reason.clone()));
    }
    if let Some(s) = &lead.sla {
        row(
            "SLA due",
            Some(s.due_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
        row(
            "contacted",
            s.contacted_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
        row(
            "next step",
            s.next_at
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        );
    }
    out
}

pub async fn status(
    config_location: &str,
    lead_id: &str,
    status: &str,
    reason: Option<String>,
    recycle_at: Option<&str>,
    by: &str,
) -> Result<()> {
    use leadrelay_capture::status::{change_status, parse_when};
    use leadrelay_domain::lifecycle::StatusChange;
    let to = status.parse().map_err(anyhow::Error::msg)?;
    let recycle_at =
        match recycle_at {
            None => None,
            Some(s) => Some(parse_when(s).with_context(|| {
                format!("--recycle-at {s:?} is neither YYYY-MM-DD nor RFC 3339")
            })?),
        };
    let deps = connect(
        config_location,
        Arc::new(SystemClock),
        TemplatesNeeded::NONE,
    )
    .await?;
    let change = StatusChange {
        to,
        reason,
        recycle_at,
    };
    let (lead, before) = change_status(&deps, lead_id, &change, &format!("operator:{by}")).await?;
    println!("lead {lead_id}: {before} → {}", lead.status);
    Ok(())
}

pub async fn owner_away(config_location: &str, owner: &str, until: Option<&str>) -> Result<()> {
    let until = match until {
        None => None,
        Some(s) => Some(
            leadrelay_capture::status::parse_when(s)
                .with_context(|| format!("--until {s:?} is neither YYYY-MM-DD nor RFC 3339"))?,
        ),
    };
    let deps = connect(
        config_location,
        Arc::new(SystemClock),
        TemplatesNeeded::NONE,
    )
    .await?;
    leadrelay_route::set_away(&deps, owner, until).await?;
    match until {
        Some(t) => println!(
            "{owner} is away until {}: no leads until then",
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        ),
        None => println!("{owner} is back: leads again from now"),
    }
    Ok(())
}

pub async fn erase(
    config_location: &str,
    email: Option<&str>,
    phone: Option<&str>,
    scan: bool,
) -> Result<()> {
    use leadrelay_aws::store::Erasure;
    let who = Erasure::of(email, phone);
    if who.is_empty() {
        bail!("nothing to look for: give a valid --email and/or an E.164 --phone");
    }
    let deps = connect(
        config_location,
        Arc::new(SystemClock),
        TemplatesNeeded::NONE,
    )
    .await?;
    let report = if scan {
        let config = deps.config.clone();
        deps.store
            .erase_scanning(
                &who,
                |source| {
                    config
                        .source(source)
                        .and_then(|s| s.default_country.clone())
                },
                |delivery| leadrelay_capture::replay::identity_keys_in(&config, delivery),
            )
            .await?
    } else {
        deps.store.erase(&who).await?
    };
    for key in &report.unreadable {
        eprintln!("warning: item {key} could not be read; check it by hand");
    }
    if report.leads.is_empty() && report.items.is_empty() {
        println!("nothing stored for that person");
        return Ok(());
    }
    println!(
        "erased {} lead(s): {}",
        report.leads.len(),
        report.leads.join(", ")
    );
    for (kind, n) in &report.items {
        println!("  {n:>5} {kind} item(s)");
    }
    Ok(())
}

/// What `leadrelay leads` was asked for.
pub struct LeadsArgs {
    pub source: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    /// Read the whole table, not the leads-by-day index.
    pub scan: bool,
}

pub async fn leads(config_location: &str, args: LeadsArgs) -> Result<()> {
    let now = Utc::now();
    let since = args
        .since
        .as_deref()
        .map(|s| when("--since", s, now))
        .transpose()?;
    let until = match &args.until {
        Some(u) => when("--until", u, now)?,
        None => now,
    };
    if since.is_some_and(|s| until <= s) {
        bail!("the period is empty: --until must come after --since");
    }
    let deps = connect(
        config_location,
        Arc::new(SystemClock),
        TemplatesNeeded::NONE,
    )
    .await?;
    // An operator's export; the handlers never read this way. A period is read through the
    // leads-by-day index, day by day; everything (no --since), or leads stored before the
    // index existed (--scan), by reading the whole table.
    let selection = leadrelay_cli::export::Selection {
        since,
        until,
        source: args.source,
        scan: args.scan,
    };
    let lines = leadrelay_cli::export::lines(&deps.store, &selection, now).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for line in &lines {
        use std::io::Write;
        serde_json::to_writer(&mut out, line)?;
        writeln!(out)?;
    }
    use std::io::Write;
    out.flush()?;
    Ok(())
}

pub async fn preview(config_location: &str, file: &str, source: &str, route: bool) -> Result<()> {
    let config = read_config(config_location).await?;
    if config.source(source).is_none() {
        bail!("no source is called {source:?} in {}", config.origin);
    }
    let lead = leadrelay_cli::dry_run::scored_lead(&config, file, source)?;
    if route {
        // The live rotations (who is away, who is at capacity) when a deployment is reachable.
        let states = match connect(
            config_location,
            Arc::new(SystemClock),
            TemplatesNeeded::NONE,
        )
        .await
        {
            Ok(deps) => deps
                .store
                .rotations(config.teams.keys().map(String::as_str))
                .await
                .unwrap_or_default(),
            Err(_) => {
                eprintln!(
                    "(no deployment reachable: the trace assumes fresh rotations, nobody away)"
                );
                Default::default()
            }
        };
        print!(
            "{}",
            leadrelay_cli::dry_run::route_report(&config, &lead, &states, Utc::now())
        );
    } else {
        print!("{}", leadrelay_cli::dry_run::score_report(&lead));
    }
    Ok(())
}

pub async fn email_preview(
    config_location: &str,
    kind: leadrelay_cli::email_preview::PreviewKind,
    lead_id: &str,
    now: Option<DateTime<Utc>>,
) -> Result<()> {
    let at = now.unwrap_or_else(Utc::now);
    let deps = connect(
        config_location,
        Arc::new(ManualClock::new(at)),
        TemplatesNeeded::LOAD,
    )
    .await?;
    let email = leadrelay_cli::email_preview::preview(&deps, lead_id, kind, at).await?;
    print!("{}", leadrelay_cli::email_preview::report(&email));
    Ok(())
}

pub async fn escalate(config_location: &str, once: bool, now: Option<DateTime<Utc>>) -> Result<()> {
    if !once {
        bail!("the schedule runs escalation in AWS and in `leadrelay local`; use --once for a single pass");
    }
    let at = now.unwrap_or_else(Utc::now);
    let deps = connect(
        config_location,
        Arc::new(ManualClock::new(at)),
        TemplatesNeeded::NONE,
    )
    .await?;
    let report = leadrelay_escalate::run_pass(&deps, at).await?;
    println!(
        "escalation pass at {}: {}",
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        serde_json::to_string(&report)?
    );
    Ok(())
}

pub async fn backstop(config_location: &str, now: Option<DateTime<Utc>>, json: bool) -> Result<()> {
    let at = now.unwrap_or_else(Utc::now);
    let deps = connect(
        config_location,
        Arc::new(ManualClock::new(at)),
        TemplatesNeeded::NONE,
    )
    .await?;
    let report = leadrelay_backstop::run_pass(&deps, at).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "backstop pass at {}: {} polled, {} captured, {} already captured, {} failed",
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        report.polled,
        report.captured,
        report.duplicates,
        report.failed
    );
    for p in &report.details {
        let outcome = match (&p.error, p.retryable) {
            (Some(e), Some(true)) => format!("failed (retried next poll): {e}"),
            (Some(e), _) => format!("failed (needs a fix): {e}"),
            (None, _) => format!(
                "{} listed, {} captured, {} already captured",
                p.listed, p.captured, p.duplicates
            ),
        };
        println!("  {} {}: {outcome}", p.source, p.target);
    }
    if report.failed > 0 {
        bail!("{} of {} polls failed", report.failed, report.polled);
    }
    Ok(())
}

pub async fn stuck(config_location: &str, retry: bool, json: bool) -> Result<()> {
    let deps = connect(
        config_location,
        Arc::new(SystemClock),
        TemplatesNeeded::NONE,
    )
    .await?;
    let now = Utc::now();
    let report = leadrelay_aws::sweep::stuck(&deps, now).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", stuck_table(&report, now));
    }
    if retry {
        let mut sent = 0;
        for s in &report.parked {
            if leadrelay_aws::sweep::unpark(&deps, &s.lead_id, "operator")
                .await?
                .is_some()
            {
                sent += 1;
            }
        }
        println!("{sent} parked lead(s) sent on again");
    }
    Ok(())
}

fn stuck_table(report: &leadrelay_aws::sweep::StuckReport, now: DateTime<Utc>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if report.waiting.is_empty() && report.parked.is_empty() && report.unreadable.is_empty() {
        out.push_str("nothing stuck: every lead is moving\n");
        return out;
    }
    let _ = writeln!(
        out,
        "{:<26}  {:<14}  {:<6}  {:>8}  {:>7}  {:<6}  last error",
        "lead", "source", "step", "age", "retries", "state"
    );
    for s in report.waiting.iter().chain(&report.parked) {
        let age = leadrelay_domain::email_context::distance((now - s.since).num_minutes());
        let _ = writeln!(
            out,
            "{:<26}  {:<14}  {:<6}  {:>8}  {:>7}  {:<6}  {}",
            s.lead_id,
            s.source,
            s.step.as_str(),
            age,
            s.retries,
            if s.parked { "parked" } else { "retry" },
            s.error.as_deref().unwrap_or("-")
        );
    }
    for key in &report.unreadable {
        let _ = writeln!(out, "unreadable index item {key}");
    }
    out
}

struct Sample {
    label: &'static str,
    source: &'static str,
    body: String,
}

fn samples() -> Vec<Sample> {
    let json = |v: serde_json::Value| v.to_string();
    vec![
        Sample {
            label: "VP asking for a demo, paid search",
            source: "json",
            body: json(serde_json::json!({
                "email": "ana.ferreira@northwind-logistics.com", "first_name": "Ana", "last_name": "Ferreira",
                "phone": "(415) 555-2671", "company": "Northwind Logistics", "job_title": "VP Operations",
                "message": "We'd like a demo for our three warehouses.",
                "utm_source": "google", "utm_medium": "cpc", "utm_campaign": "spring-2026", "employees": 450
            })),
        },
        Sample {
            label: "enterprise account",
            source: "json",
            body: json(serde_json::json!({
                "email": "priya.raman@globex.example", "full_name": "Priya Raman", "company": "Globex Corporation",
                "job_title": "Head of IT", "country": "GB", "phone": "020 7946 0958", "employees": 12000,
                "message": "Looking at pricing for 40 sites."
            })),
        },
        Sample {
            label: "website form, German number",
            source: "form",
            body: "full_name=Hannah+Schmidt&email=hannah.schmidt%40schmidt-lager.de&phone=030+12345678&company=Schmidt+Lagertechnik+GmbH&message=Bitte+um+R%C3%BCckruf+wegen+Preisen.&website=".into(),
        },
        Sample {
            label: "student downloading an e-book",
            source: "json",
            body: json(serde_json::json!({ "email": "jo.student@gmail.com", "name": "Jo Student", "message": "e-book please" })),
        },
        Sample {
            label: "bot filling the honeypot",
            source: "form",
            body: "full_name=Cheap+Pills&email=bot%40spam.example&website=http%3A%2F%2Fspam.example".into(),
        },
        Sample {
            label: "platform retry of the first lead",
            source: "json",
            body: String::new(),
        },
    ]
}

/// Whether every lead has gone as far as it will without a person: test and spam leads stored,
/// the others owned (or unassigned) with their acknowledgement and assignment emails sent.
async fn all_settled(deps: &Deps, ids: &[String]) -> anyhow::Result<bool> {
    use leadrelay_domain::lead::Stage;
    for id in ids {
        let Some(lead) = deps.store.get_lead(id).await? else {
            continue;
        };
        if lead.is_quarantined() {
            continue;
        }
        let sent = |kind: &str, emails: &[leadrelay_aws::store::EmailRecord]| {
            emails.iter().any(|e| e.kind == kind && e.state == "sent")
        };
        let emails = deps.store.emails(id).await?;
        // A lead without an address is told nothing; its owner still is.
        let acknowledged = lead.email().is_none() || sent("acknowledgement", &emails);
        let settled = match lead.stage {
            Stage::Routed => acknowledged && sent("assignment", &emails),
            Stage::Unassigned => sent("unassigned", &emails),
            _ => false,
        };
        if !settled {
            return Ok(false);
        }
    }
    Ok(true)
}

pub async fn demo(config_location: &str, listen: &str) -> Result<()> {
    // Real time, which the demo can move forward to show the SLA at work.
    let clock = ShiftedClock::default();
    let stack = Arc::new(start_stack(config_location, Arc::new(clock.clone()), true).await?);
    let listener = bind(listen, true).await?;
    let addr = listener.local_addr()?;
    let router = leadrelay_cli::local::http::router(Arc::clone(&stack));
    tokio::spawn(async move { axum::serve(listener, router).await });
    println!("Leadrelay demo: the local stack listens on http://{addr}; posting sample leads.\n");

    let deps = &stack.deps;
    let started = deps.clock.now();
    let http = reqwest::Client::new();
    let mut posted: Vec<(String, &'static str, u16, Option<String>)> = Vec::new();
    let samples = samples();
    let first_body = samples[0].body.clone();
    for s in &samples {
        let body = if s.body.is_empty() {
            first_body.clone()
        } else {
            s.body.clone()
        };
        let secret: &Secret = deps
            .secrets
            .source(s.source)
            .context("sample source has a secret")?;
        let mut req = http.post(format!("http://{addr}/v1/webhooks/{}", s.source));
        req = match deps.config.source(s.source).map(|c| c.auth_scheme()) {
            Some(leadrelay_domain::config::AuthScheme::Hmac) => {
                // Signed as docs/webhook-api.md says: with a timestamp, which the local json
                // source requires.
                let ts = deps.clock.now().timestamp().to_string();
                req.header("content-type", "application/json")
                    .header("x-leadrelay-timestamp", &ts)
                    .header(
                        "x-leadrelay-signature",
                        auth::sign(secret, Some(&ts), None, body.as_bytes()),
                    )
            }
            _ => req
                .header("content-type", "application/x-www-form-urlencoded")
                .query(&[("token", secret.expose())]),
        };
        let started = std::time::Instant::now();
        let r = req.body(body).send().await?;
        let status = r.status().as_u16();
        let v: serde_json::Value = r.json().await.unwrap_or_default();
        println!(
            "POST /v1/webhooks/{:<5} → {status} in {:>3} ms   ({})",
            s.source,
            started.elapsed().as_millis(),
            s.label
        );
        posted.push((
            s.label.to_owned(),
            s.source,
            status,
            v["lead_id"].as_str().map(str::to_owned),
        ));
    }
    println!();
    stack.drain().await?;
    // A message another worker held (an email claimed a moment ago) comes back only after its
    // visibility timeout: wait until every lead has reached its end of the pipeline, not only
    // until the queues look empty, so the summary shows what a user will find.
    let ids: Vec<String> = posted
        .iter()
        .filter_map(|(_, _, _, id)| id.clone())
        .collect();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !all_settled(deps, &ids).await? && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        stack.drain().await?;
    }

    println!("\nSummary");
    println!(
        "{:<26}  {:<5}  {:>5}  {:<5}  {:<6}  {:>6}  {:<20}",
        "lead", "src", "score", "tier", "owner", "emails", "SLA due (UTC)"
    );
    let mut seen = std::collections::BTreeSet::new();
    for (_, source, _, id) in &posted {
        let Some(id) = id else { continue };
        if !seen.insert(id.clone()) {
            continue;
        }
        let lead = deps
            .store
            .get_lead(id)
            .await?
            .context("posted lead exists")?;
        let emails = deps
            .store
            .emails(id)
            .await?
            .iter()
            .filter(|e| e.state == "sent")
            .count();
        let s = lead.score.as_ref();
        println!(
            "{:<26}  {:<5}  {:>5}  {:<5}  {:<6}  {:>6}  {:<20}",
            id,
            source,
            s.map(|s| s.points.to_string())
                .unwrap_or_else(|| "-".into()),
            s.map(|s| s.tier.clone())
                .unwrap_or_else(|| if lead.is_spam {
                    "spam".into()
                } else {
                    "-".into()
                }),
            lead.assignment
                .as_ref()
                .map(|a| a.owner_id.clone())
                .unwrap_or_else(|| "-".into()),
            emails,
            lead.sla
                .as_ref()
                .map(|s| s.due_at.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_else(|| "-".into()),
        );
    }

    println!(
        "\nNobody calls back. Moving the clock on 16 minutes and running the escalation pass…\n"
    );
    clock.shift(chrono::Duration::minutes(16));
    let report = stack.escalate().await?;
    stack.drain().await?;
    if let Some(j) = &stack.journey {
        j.show_recent(deps).await;
    }
    println!(
        "\nEscalation pass: {} due, {} reminders, {} escalations to managers.",
        report.due, report.reminded, report.escalated
    );
    let page = demo_report(deps, started).await?;
    println!(
        "\nSpeed-to-lead report for these leads: {}\n(open it in a browser; `leadrelay report --seed` on `leadrelay local` shows weeks of history)\nThe demo's emulator stops with it; run `scripts/leadrelay local` to keep a stack up and inspect leads with `scripts/leadrelay lead <id>`.",
        page.display()
    );
    Ok(())
}

/// What `leadrelay report` was asked for.
pub struct ReportArgs {
    pub since: String,
    pub until: Option<String>,
    pub team: Option<String>,
    pub owner: Option<String>,
    pub source: Option<String>,
    pub spend: Option<PathBuf>,
    pub csv: Option<PathBuf>,
    pub html: Option<PathBuf>,
    /// Seed first: (leads, weeks).
    pub seed: Option<(usize, u32)>,
}

/// A point in time given as a duration back from `now` (`30d`) or a date.
fn when(flag: &str, s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    if let Some(t) = leadrelay_capture::status::parse_when(s) {
        return Ok(t);
    }
    let back = humantime::parse_duration(s.trim()).map_err(|_| {
        anyhow::anyhow!("{flag} {s:?} is neither a duration back from now (30d, 2w, 12h) nor YYYY-MM-DD nor RFC 3339")
    })?;
    Ok(now - leadrelay_domain::clock::span(back))
}

pub async fn report(config_location: &str, args: ReportArgs) -> Result<()> {
    use leadrelay_cli::report as render;
    use leadrelay_domain::report::{self, Params, Spend};
    let now = Utc::now();
    let since = when("--since", &args.since, now)?;
    let until = match &args.until {
        Some(u) => when("--until", u, now)?,
        None => now,
    };
    if until <= since {
        bail!("the period is empty: --until must come after --since");
    }
    let spend = match &args.spend {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Some(Spend::parse(&text).with_context(|| format!("{}", path.display()))?)
        }
    };
    let (deps, deployment) = connect_to(
        config_location,
        Arc::new(SystemClock),
        TemplatesNeeded::NONE,
    )
    .await?;
    for (flag, value, known) in [
        (
            "--team",
            &args.team,
            args.team
                .as_ref()
                .is_none_or(|t| deps.config.teams.contains_key(t)),
        ),
        (
            "--owner",
            &args.owner,
            args.owner
                .as_ref()
                .is_none_or(|o| deps.config.owner(o).is_some()),
        ),
    ] {
        if !known {
            bail!(
                "{flag} {:?}: not in {}",
                value.as_deref().unwrap_or(""),
                deps.config.origin
            );
        }
    }
    if let Some((leads, weeks)) = args.seed {
        if !matches!(deployment, Deployment::Local { .. }) {
            bail!("--seed writes made-up leads, so only into the local stack (`leadrelay local`), never into AWS");
        }
        use leadrelay_domain::report::sample;
        let spec = sample::Spec::realistic(&deps.config, now, weeks, leads);
        let history = sample::generate(&deps.config, &spec);
        eprintln!(
            "seeding {} leads over {weeks} weeks into the local stack…",
            history.len()
        );
        let n = render::read::seed(&deps.store, history).await?;
        if let Some((owner, from, until)) = &spec.away {
            eprintln!(
                "seeded {n} leads; {owner} was away {} → {}",
                from.format("%Y-%m-%d"),
                until.format("%Y-%m-%d")
            );
        }
    }
    let history = render::read::history(&deps.store, since, until).await?;
    let params = Params {
        since,
        until,
        now,
        team: args.team,
        owner: args.owner,
        source: args.source,
    };
    let r = report::build(&history, &deps.config, &params, spend.as_ref());
    if args.csv.is_none() && args.html.is_none() {
        print!("{}", render::text(&r));
        return Ok(());
    }
    if let Some(dir) = &args.csv {
        let files = render::write_csv(&r, dir)?;
        println!("wrote {} CSV files into {}", files.len(), dir.display());
    }
    if let Some(path) = &args.html {
        render::write_html(&r, path)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// The demo's report: every lead of the demo's own table, as HTML at a fixed path.
async fn demo_report(deps: &Deps, started: DateTime<Utc>) -> Result<PathBuf> {
    use leadrelay_domain::report::{self, Params};
    let now = deps.clock.now();
    let history = leadrelay_cli::report::read::history(
        &deps.store,
        started - chrono::Duration::minutes(1),
        now + chrono::Duration::minutes(1),
    )
    .await?;
    let params = Params {
        since: started - chrono::Duration::minutes(1),
        until: now + chrono::Duration::minutes(1),
        now,
        team: None,
        owner: None,
        source: None,
    };
    let r = report::build(&history, &deps.config, &params, None);
    let path = PathBuf::from(DEMO_REPORT);
    leadrelay_cli::report::write_html(&r, &path)?;
    Ok(std::fs::canonicalize(&path).unwrap_or(path))
}

/// Where the demo writes its report.
pub const DEMO_REPORT: &str = ".leadrelay/demo-report.html";
