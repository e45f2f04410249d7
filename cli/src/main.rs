//! `leadrelay`: the operator's command.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use leadrelay_cli::email_preview::PreviewKind;

#[derive(Parser)]
#[command(
    name = "leadrelay",
    version,
    about = "Lead capture and routing: run it locally, check its configuration, inspect leads"
)]
struct Cli {
    /// The configuration file (or `ssm:<parameter>`).
    #[arg(long, global = true, env = "LEADRELAY_CONFIG", default_value = leadrelay_aws::deps::DEFAULT_CONFIG)]
    config: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the whole pipeline on this machine (starts moto's server unless AWS_ENDPOINT_URL is set).
    Local {
        /// Where the HTTP routes listen.
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: String,
        /// How often the escalation pass runs.
        #[arg(long, default_value = "30s", value_parser = humantime_duration)]
        escalate_every: std::time::Duration,
    },
    /// Run the local stack, post a handful of sample leads, and show what happened to them.
    Demo {
        /// Where the HTTP routes listen (a free port is taken when it is busy).
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: String,
    },
    /// The speed-to-lead report: speed to lead, SLA, fairness, sources and the funnel, and
    /// what is waiting now (definitions: docs/report.md). Terminal tables unless --csv or
    /// --html is given.
    Report {
        /// The start of the period: a duration back from now (30d, 2w, 12h) or a date
        /// (YYYY-MM-DD or RFC 3339).
        #[arg(long, default_value = "30d")]
        since: String,
        /// The end of the period (exclusive), as --since; now when omitted.
        #[arg(long)]
        until: Option<String>,
        /// Only leads of this team (their owner's team now).
        #[arg(long)]
        team: Option<String>,
        /// Only leads of this owner (the owner now).
        #[arg(long)]
        owner: Option<String>,
        /// Only leads of this source.
        #[arg(long)]
        source: Option<String>,
        /// Ad spend per source and month, a CSV of `source,month,amount` (month YYYY-MM):
        /// adds cost per lead and per qualified lead.
        #[arg(long)]
        spend: Option<PathBuf>,
        /// Write one CSV file per table into this folder.
        #[arg(long)]
        csv: Option<PathBuf>,
        /// Write one self-contained HTML page (charts inline, no network needed).
        #[arg(long)]
        html: Option<PathBuf>,
        /// First write a synthetic history (weeks of leads over every team, an owner away for a
        /// week, breaches, conversions) into the running local stack (`leadrelay local`).
        #[arg(long)]
        seed: bool,
        /// How many leads --seed writes.
        #[arg(long, default_value_t = 1500)]
        seed_leads: usize,
        /// Over how many weeks (ending now) --seed spreads them.
        #[arg(long, default_value_t = 6)]
        seed_weeks: u32,
    },
    /// A lead's record and full timeline.
    Lead {
        lead_id: String,
        /// Print the record as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Move a lead to another status: new → working → qualified | nurture | disqualified |
    /// converted (illegal moves are refused).
    Status {
        lead_id: String,
        /// working, qualified, nurture, disqualified or converted.
        status: String,
        /// The reason code (disqualified only; codes from `lifecycle.disqualify_reasons`).
        #[arg(long)]
        reason: Option<String>,
        /// When a nurtured lead resurfaces and is routed again (YYYY-MM-DD or RFC 3339).
        #[arg(long)]
        recycle_at: Option<String>,
        /// Who made the change, for the timeline.
        #[arg(long, default_value = "operator")]
        by: String,
    },
    /// Erase everything of one person on request (leads, timelines, deliveries, email log,
    /// identity keys) and report what was removed.
    Erase {
        #[arg(long, required_unless_present = "phone")]
        email: Option<String>,
        /// In E.164 (+4930…).
        #[arg(long)]
        phone: Option<String>,
        /// Read the whole table instead of the person indexes: for items written before
        /// the indexes existed (slow on a large table).
        #[arg(long)]
        scan: bool,
    },
    /// Export leads, one JSON object per line (the schema: docs/export-schema.md).
    Leads {
        /// Only leads of this source.
        #[arg(long)]
        source: Option<String>,
        /// Only leads received at or after this time: a duration back from now (1d, 12h), a
        /// date (YYYY-MM-DD) or RFC 3339. Read through the leads-by-day index; without it,
        /// every lead (a scan of the table).
        #[arg(long)]
        since: Option<String>,
        /// Only leads received before this time (same forms; default: now).
        #[arg(long, requires = "since")]
        until: Option<String>,
        /// Read the whole table instead of the leads-by-day index: for leads written before
        /// the index existed (slow on a large table).
        #[arg(long)]
        scan: bool,
        /// JSON lines (the only format; accepted for scripts that say so).
        #[arg(long)]
        json: bool,
    },
    /// What a lead (a JSON file of fields) would score, and why.
    Score {
        file: String,
        /// The source it would arrive from (its default country applies).
        #[arg(long, default_value = "json")]
        source: String,
    },
    /// How a lead (a JSON file of fields) would be routed on the live rotation: a dry run that
    /// assigns nothing.
    Route {
        file: String,
        #[arg(long, default_value = "json")]
        source: String,
    },
    /// An owner's availability: out of office and back.
    Owner {
        #[command(subcommand)]
        command: OwnerCommand,
    },
    /// Escalation passes.
    Escalate {
        /// Run one pass and exit.
        #[arg(long)]
        once: bool,
        /// The time the pass runs at (RFC 3339), instead of now.
        #[arg(long)]
        now: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// One backstop pass: asks the ad platforms' APIs (Meta, Google Ads, LinkedIn) of every
    /// source with a `backstop` for leads their webhooks missed, and captures those (AWS runs
    /// it on a schedule, `leadrelay local` on its escalation timer).
    Backstop {
        /// The time the pass runs at (RFC 3339), instead of now.
        #[arg(long)]
        now: Option<chrono::DateTime<chrono::Utc>>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Leads not moving: waiting for a step longer than the sweep's grace (step, age, last
    /// error), and leads parked by a permanent error.
    Stuck {
        /// Send every parked lead on again (after fixing the cause).
        #[arg(long)]
        retry: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The dead-letter queues: what is in them, and moving it back.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
    /// Run a kept delivery through capture again (after a mapping or configuration fix). A
    /// delivery that made its lead(s) makes nothing new; one that was refused makes its lead
    /// now, if the fix lets it.
    Replay { delivery_id: String },
    /// Configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// The emails Leadrelay sends.
    Email {
        #[command(subcommand)]
        command: EmailCommand,
    },
}

#[derive(Subcommand)]
enum EmailCommand {
    /// Render an email of a stored lead from the templates in force, as notify would send it
    /// (subject, recipients, text and HTML); nothing is sent.
    Preview {
        kind: PreviewKind,
        lead_id: String,
        /// The time it is rendered at (RFC 3339), instead of now: how late a reminder says it is.
        #[arg(long)]
        now: Option<chrono::DateTime<chrono::Utc>>,
    },
}

#[derive(Subcommand)]
enum DlqCommand {
    /// The messages in the dead-letter queue(s), without taking them out: message id, lead id,
    /// receive count, when first sent and first tried.
    List {
        /// captured, scored or notify; all three when omitted.
        queue: Option<commands::QueueArg>,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Move every message of the dead-letter queue(s) back to the queue it came from (SQS's
    /// message move task in AWS; message by message on the local emulator).
    Replay {
        /// captured, scored or notify; all three when omitted.
        queue: Option<commands::QueueArg>,
    },
}

#[derive(Subcommand)]
enum OwnerCommand {
    /// Out of office: no leads until the given time (YYYY-MM-DD or RFC 3339).
    Away {
        owner: String,
        #[arg(long)]
        until: String,
    },
    /// Back: leads again from now, without a burst of the ones missed.
    Back { owner: String },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file.
    Check { file: Option<PathBuf> },
}

fn humantime_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Local {
            listen,
            escalate_every,
        } => commands::local(&cli.config, &listen, escalate_every).await,
        Command::Demo { listen } => commands::demo(&cli.config, &listen).await,
        Command::Report {
            since,
            until,
            team,
            owner,
            source,
            spend,
            csv,
            html,
            seed,
            seed_leads,
            seed_weeks,
        } => {
            commands::report(
                &cli.config,
                commands::ReportArgs {
                    since,
                    until,
                    team,
                    owner,
                    source,
                    spend,
                    csv,
                    html,
                    seed: seed.then_some((seed_leads, seed_weeks)),
                },
            )
            .await
        }
        Command::Lead { lead_id, json } => commands::lead(&cli.config, &lead_id, json).await,
        Command::Status {
            lead_id,
            status,
            reason,
            recycle_at,
            by,
        } => {
            commands::status(
                &cli.config,
                &lead_id,
                &status,
                reason,
                recycle_at.as_deref(),
                &by,
            )
            .await
        }
        Command::Erase { email, phone, scan } => {
            commands::erase(&cli.config, email.as_deref(), phone.as_deref(), scan).await
        }
        Command::Leads {
            source,
            since,
            until,
            scan,
            json: _,
        } => {
            commands::leads(
                &cli.config,
                commands::LeadsArgs {
                    source,
                    since,
                    until,
                    scan,
                },
            )
            .await
        }
        Command::Score { file, source } => {
            commands::preview(&cli.config, &file, &source, false).await
        }
        Command::Route { file, source } => {
            commands::preview(&cli.config, &file, &source, true).await
        }
        Command::Owner {
            command: OwnerCommand::Away { owner, until },
        } => commands::owner_away(&cli.config, &owner, Some(&until)).await,
        Command::Owner {
            command: OwnerCommand::Back { owner },
        } => commands::owner_away(&cli.config, &owner, None).await,
        Command::Escalate { once, now } => commands::escalate(&cli.config, once, now).await,
        Command::Backstop { now, json } => commands::backstop(&cli.config, now, json).await,
        Command::Stuck { retry, json } => commands::stuck(&cli.config, retry, json).await,
        Command::Dlq {
            command: DlqCommand::List { queue, json },
        } => commands::dlq_list(&cli.config, queue, json).await,
        Command::Dlq {
            command: DlqCommand::Replay { queue },
        } => commands::dlq_replay(&cli.config, queue).await,
        Command::Replay { delivery_id } => commands::replay(&cli.config, &delivery_id).await,
        Command::Config {
            command: ConfigCommand::Check { file },
        } => {
            let file = file.map(|f| f.display().to_string()).unwrap_or(cli.config);
            commands::config_check(&file).await
        }
        Command::Email {
            command: EmailCommand::Preview { kind, lead_id, now },
        } => commands::email_preview(&cli.config, kind, &lead_id, now).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
