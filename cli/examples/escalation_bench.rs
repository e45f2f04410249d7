//! How long does one escalation pass take over tens of thousands of open leads, on the local
//! stack?
//!
//! Starts the local stack (its own moto server, the resources as provisioned for `leadrelay
//! local`) on a manual clock, then:
//!
//! 1. seeds N open leads straight into the table through the store's own capture write (the
//!    lead, its first event and its redelivery key in one transaction, as capture does), each
//!    already routed to an owner of the `sales` team with its SLA clock running, so every one
//!    sits in the sparse, write-sharded `sla-open` index; 32 writes at a time, timed apart;
//! 2. runs one pass before anything is due (open leads that are not due cost nothing);
//! 3. moves the clock past every lead's first ladder step (remind the owner at 50%) but short
//!    of the second, and times one `run_pass` on the wall clock: due, reminded, failed, leads
//!    per second;
//! 4. times a second pass right after, at the same instant: it should find nothing due.
//!
//! The reminders the pass queues for notify are left in the queue (no one drains them); their
//! count is read back as a cross-check, and a sample of leads is read to check the step was
//! recorded.
//!
//! ```text
//! scripts/bench-escalation             # 10000 leads
//! scripts/bench-escalation 1000        # 1000 leads
//! ```
//!
//! Optional second argument: the configuration file (default infra/config/local.toml).
//!
//! Run it through `scripts/bench-escalation`: its moto backs up only the items a transaction
//! writes, where moto 5 copies the whole table for every transaction (a cost that grows with
//! the table and, near a thousand leads, exhausts memory). The script says more.
//!
//! Measured on a shared 2-core machine, release build, moto 5.2.1 (one Python process, every
//! write behind one lock): 10000 leads all due: 160-187 s, 54-62 leads/s, 10000 reminded, 0
//! failed, about 1.9 ms of this process's CPU a lead (moto's single core is the bottleneck);
//! the pass right after: 4-5 s, nothing due (moto reads the whole table for every index
//! query). 1000 leads: 14-15 s, about 70 leads/s; the pass right after 0.4 s.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use aws_sdk_sqs::types::QueueAttributeName;
use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use leadrelay_aws::queue::QueueName;
use leadrelay_aws::store::Captured;
use leadrelay_aws::Deps;
use leadrelay_cli::local::{LocalStack, StackOptions};
use leadrelay_domain::lead::{Assignment, EventKind, Lead, LeadFields, Score, ScoreReason, Stage};
use leadrelay_domain::lead::{EscalationAction, ScoreDimension};
use leadrelay_domain::{sla, timeline};
use leadrelay_domain::{Config, ManualClock};
use leadrelay_escalate::PassReport;

const DEFAULT_LEADS: usize = 10_000;
/// Seeding writes in flight at once.
const SEED_CONCURRENCY: usize = 32;
/// The seeded leads' tier: its SLA target sets when the ladder's steps fall due.
const TIER: &str = "warm";
/// The team the leads are routed to: no business-hours calendar, so the SLA counts wall time.
const TEAM: &str = "sales";
/// Arrivals are this far apart (wrapping every `ARRIVAL_WRAP` leads), so the index holds
/// distinct times.
const ARRIVAL_STEP_MS: i64 = 10;
const ARRIVAL_WRAP: usize = 100_000;
/// Leads read back after the pass to check the step was recorded on them.
const SAMPLE: usize = 50;
/// Escalate's Lambda timeout in infra/template.yaml.
const LAMBDA_TIMEOUT: Duration = Duration::from_secs(50);

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

    let t0: DateTime<Utc> = "2026-03-02T09:00:00Z".parse().expect("a valid instant");
    let clock = ManualClock::new(t0);

    eprintln!("starting the local stack (moto's server, resources)…");
    let started = Instant::now();
    let stack = LocalStack::start(StackOptions {
        endpoint: None,
        prefix: "escbench".into(),
        config,
        clock: Arc::new(clock.clone()),
        print_journey: false,
    })
    .await
    .context("starting the local stack")?;
    let deps = &stack.deps;
    eprintln!(
        "stack up in {} ms; emulator {}",
        started.elapsed().as_millis(),
        stack.endpoint
    );

    let plan = Plan::new(deps, t0)?;
    let last_arrival = plan.arrival(n.saturating_sub(1).min(ARRIVAL_WRAP - 1));
    // Past every lead's first step, short of every lead's second.
    let now = last_arrival + plan.first_step + chrono::Duration::seconds(1);
    let earliest_second = t0 + plan.second_step;
    ensure!(
        now < earliest_second,
        "the arrivals span too long for the {TIER} target: step 2 would fall due too"
    );

    eprintln!(
        "seeding {n} routed leads with running SLA clocks ({SEED_CONCURRENCY} writes at a time)…"
    );
    let seeding = Instant::now();
    stream::iter(0..n)
        .map(|i| plan.seed(deps, i))
        .buffer_unordered(SEED_CONCURRENCY)
        .try_collect::<Vec<()>>()
        .await?;
    let seed_time = seeding.elapsed();
    eprintln!("seeded in {:.1} s", seed_time.as_secs_f64());

    // Nothing due yet: the pass reads only due index entries, so it finds nothing.
    clock.set(last_arrival);
    let idle = pass(deps, last_arrival).await?;
    ensure!(
        idle.report.due == 0,
        "nothing should be due yet: {:?}",
        idle.report
    );

    clock.set(now);
    let first = pass(deps, now).await?;
    let second = pass(deps, now).await?;

    let queued = notify_depth(&stack).await?;
    let sampled = check_sample(deps, &plan.ids(n), now).await?;

    println!();
    println!("escalation pass on the local stack (moto, one Python process, writes serialised), {n} open leads");
    println!(
        "  seeding          {:>9.2} s  ({:.0} leads/s, {SEED_CONCURRENCY} capture writes at a time; not part of the pass)",
        seed_time.as_secs_f64(),
        n as f64 / seed_time.as_secs_f64()
    );
    println!(
        "  index            {} shards, pages of 200, 16 leads at a time per shard",
        deps.store.sla_shards()
    );
    line("pass, none due", &idle, None);
    line("pass, all due", &first, Some(n));
    line("pass right after", &second, None);
    println!("  notify queue     {queued} messages waiting (the reminders; left undrained)");
    println!(
        "  sample           {sampled} of {} leads read back: step 1 (remind owner) recorded, step 2 scheduled",
        SAMPLE.min(n)
    );
    println!(
        "  Lambda timeout   {:.0} s (escalate in infra/template.yaml): the all-due pass used {:.0}% of it",
        LAMBDA_TIMEOUT.as_secs_f64(),
        100.0 * first.wall.as_secs_f64() / LAMBDA_TIMEOUT.as_secs_f64()
    );
    Ok(())
}

/// One pass at `now`: what it did, how long it took on the wall clock, and the CPU time this
/// process (the handler's side, not the emulator's) spent on it.
struct Timed {
    report: PassReport,
    wall: Duration,
    cpu: Option<Duration>,
}

async fn pass(deps: &Deps, now: DateTime<Utc>) -> Result<Timed> {
    let cpu = cpu_time();
    let t = Instant::now();
    let report = leadrelay_escalate::run_pass(deps, now)
        .await
        .context("the escalation pass")?;
    let wall = t.elapsed();
    let cpu = cpu.zip(cpu_time()).map(|(a, b)| b.saturating_sub(a));
    Ok(Timed { report, wall, cpu })
}

/// CPU time of this process's threads so far (Linux: `/proc/self/task/*/schedstat`).
fn cpu_time() -> Option<Duration> {
    let mut ns: u64 = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        ns += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(ns))
}

fn line(label: &str, t: &Timed, leads: Option<usize>) {
    let secs = t.wall.as_secs_f64();
    let rate = leads
        .filter(|_| secs > 0.0)
        .map(|l| format!(", {:.0} leads/s", l as f64 / secs))
        .unwrap_or_default();
    let r = &t.report;
    println!(
        "  {label:<16} {secs:>9.2} s  (due {}, reminded {}, escalated {}, reassigned {}, failed {}{rate})",
        r.due, r.reminded, r.escalated, r.reassigned, r.failed
    );
    if let (Some(cpu), Some(l)) = (t.cpu, leads.filter(|&l| l > 0)) {
        println!(
            "  {:<16} {:>9.2} s  CPU in this process ({:.2} ms a lead; the rest is waiting on the emulator)",
            "",
            cpu.as_secs_f64(),
            cpu.as_secs_f64() * 1000.0 / l as f64
        );
    }
}

/// What every seeded lead shares.
struct Plan {
    t0: DateTime<Utc>,
    run: String,
    target: std::time::Duration,
    first_step: chrono::Duration,
    second_step: chrono::Duration,
    owners: Vec<(String, String, String, String)>,
}

impl Plan {
    fn new(deps: &Deps, t0: DateTime<Utc>) -> Result<Self> {
        let cfg = &deps.config;
        let target = *cfg
            .sla
            .targets
            .get(TIER)
            .with_context(|| format!("the configuration has an SLA target for {TIER}"))?;
        let ladder = &cfg.sla.escalation;
        ensure!(
            ladder.len() >= 2 && ladder[0].action == EscalationAction::RemindOwner,
            "the benchmark expects a ladder that reminds the owner first, then goes on"
        );
        let at = |p: u32| chrono::Duration::from_std(target.mul_f64(f64::from(p) / 100.0));
        let team = cfg
            .teams
            .get(TEAM)
            .with_context(|| format!("the configuration has a team {TEAM}"))?;
        ensure!(team.calendar.is_none(), "team {TEAM} counts business hours");
        let owners: Vec<_> = team
            .owners
            .iter()
            .filter(|o| o.active && o.calendar.is_none())
            .map(|o| {
                (
                    o.id.clone(),
                    o.name.clone(),
                    o.email.clone(),
                    o.manager_email.clone(),
                )
            })
            .collect();
        ensure!(
            !owners.is_empty(),
            "team {TEAM} has an active owner on wall time"
        );
        Ok(Self {
            t0,
            // Distinct ids across runs, though each run has its own emulator.
            run: ulid::Ulid::new().to_string().to_lowercase(),
            target,
            first_step: at(ladder[0].at_percent)?,
            second_step: at(ladder[1].at_percent)?,
            owners,
        })
    }

    fn arrival(&self, i: usize) -> DateTime<Utc> {
        self.t0 + chrono::Duration::milliseconds((i % ARRIVAL_WRAP) as i64 * ARRIVAL_STEP_MS)
    }

    /// Lead ids: unique, and spread over the index shards by their hash as real ids are.
    fn id(&self, i: usize) -> String {
        format!("bench{}{i:07}", self.run)
    }

    fn ids(&self, n: usize) -> Vec<String> {
        let step = (n / SAMPLE).max(1);
        (0..n)
            .step_by(step)
            .take(SAMPLE)
            .map(|i| self.id(i))
            .collect()
    }

    /// One routed lead, waiting for first contact, written as capture writes a lead.
    async fn seed(&self, deps: &Deps, i: usize) -> Result<()> {
        let lead_id = self.id(i);
        let at = self.arrival(i);
        let (owner_id, owner_name, owner_email, manager_email) =
            &self.owners[i % self.owners.len()];
        let mut lead = Lead::new(&lead_id, "json", &format!("d-{lead_id}"), at);
        lead.fields = LeadFields {
            email: Some(format!("buyer{i}@company{}.example.com", i % 977)),
            first_name: Some("Ana".into()),
            last_name: Some(format!("Buyer {i}")),
            phone: Some("+14155552671".into()),
            company: Some(format!("Company {}", i % 977)),
            job_title: Some("VP Operations".into()),
            message: Some("We'd like a demo for our three warehouses.".into()),
            ..LeadFields::default()
        };
        lead.utm.insert("utm_source".into(), "google".into());
        lead.utm.insert("utm_medium".into(), "cpc".into());
        lead.stage = Stage::Routed;
        lead.score = Some(Score {
            points: 45,
            fit: 25,
            intent: 20,
            tier: TIER.into(),
            grade: Some("B2".into()),
            qualification: Some("mql".into()),
            scored_at: Some(at),
            reasons: vec![
                ScoreReason {
                    points: 20,
                    dimension: ScoreDimension::Fit,
                    reason: "corporate email".into(),
                    undecayed: None,
                },
                ScoreReason {
                    points: 5,
                    dimension: ScoreDimension::Fit,
                    reason: "company given".into(),
                    undecayed: None,
                },
                ScoreReason {
                    points: 20,
                    dimension: ScoreDimension::Intent,
                    reason: "asked about pricing".into(),
                    undecayed: None,
                },
            ],
        });
        lead.assignment = Some(Assignment {
            owner_id: owner_id.clone(),
            owner_name: owner_name.clone(),
            owner_email: owner_email.clone(),
            manager_email: manager_email.clone(),
            team: TEAM.into(),
            reason: format!("fallback team {TEAM}; round robin picked {owner_id}"),
            assigned_at: at,
        });
        lead.sla = Some(sla::start(
            lead.clock_starts_at(),
            self.target,
            &deps.config.sla.escalation,
            &sla::WallClock,
        ));
        let event = timeline::event_at(
            deps.clock.as_ref(),
            at,
            &lead_id,
            EventKind::Captured,
            "bench",
            "seeded by the escalation benchmark",
        );
        let captured = deps
            .store
            .capture(
                &lead,
                None,
                &event,
                &format!("bench-{lead_id}"),
                at + chrono::Duration::days(1),
                &[],
            )
            .await
            .with_context(|| format!("seeding lead {lead_id}"))?;
        ensure!(
            captured == Captured::Created,
            "lead {lead_id} was there already"
        );
        Ok(())
    }
}

/// Messages waiting in the notify queue.
async fn notify_depth(stack: &LocalStack) -> Result<u64> {
    let out = stack
        .deps
        .queues
        .client()
        .get_queue_attributes()
        .queue_url(stack.deps.queues.url(QueueName::Notify))
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .context("reading the notify queue's depth")?;
    Ok(out
        .attributes
        .and_then(|a| {
            a.get(&QueueAttributeName::ApproximateNumberOfMessages)
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0))
}

/// How many of the sampled leads have step 1 recorded at `now` and step 2 scheduled.
async fn check_sample(deps: &Deps, ids: &[String], now: DateTime<Utc>) -> Result<usize> {
    let mut ok = 0;
    for id in ids {
        let lead = deps
            .store
            .get_lead(id)
            .await?
            .with_context(|| format!("lead {id} was seeded"))?;
        let clock = lead.sla.context("a routed lead has an SLA clock")?;
        let recorded = clock.escalations.len() == 1
            && clock.escalations[0].action == EscalationAction::RemindOwner
            && clock.escalations[0].at == now
            && clock.next_step == Some(1)
            && clock.next_at.is_some_and(|t| t > now);
        if recorded {
            ok += 1;
        } else {
            eprintln!("lead {id}: step not recorded as expected: {clock:?}");
        }
    }
    Ok(ok)
}
