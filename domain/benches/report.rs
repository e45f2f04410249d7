//! The report's domain computation on 100,000 leads (with their timelines) of the synthetic
//! history (`report::sample`), local configuration: what `leadrelay report` spends between
//! reading the table and rendering.
//!
//! ```text
//! cargo bench -p leadrelay-domain --bench report -- --warm-up-time 1 --measurement-time 10
//! ```
//!
//! `LEADRELAY_REPORT_BENCH_LEADS` changes the number of leads.

use std::hint::black_box;

use chrono::{DateTime, Duration, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use leadrelay_domain::config::Config;
use leadrelay_domain::report::{self, sample, Params};

fn bench(c: &mut Criterion) {
    let config = Config::from_toml(include_str!("../../infra/config/local.toml"), "local.toml")
        .expect("the local configuration is valid");
    let leads: usize = std::env::var("LEADRELAY_REPORT_BENCH_LEADS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let end: DateTime<Utc> = "2026-03-30T12:00:00Z".parse().unwrap();
    let history = sample::generate(&config, &sample::Spec::realistic(&config, end, 12, leads));
    let events: usize = history.iter().map(|(_, e)| e.len()).sum();
    eprintln!("{leads} leads, {events} timeline events");
    let params = Params {
        since: end - Duration::weeks(12),
        until: end,
        now: end,
        team: None,
        owner: None,
        source: None,
    };
    let mut g = c.benchmark_group("report");
    g.sample_size(10);
    g.bench_function(format!("build {leads} leads"), |b| {
        b.iter(|| black_box(report::build(black_box(&history), &config, &params, None)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
