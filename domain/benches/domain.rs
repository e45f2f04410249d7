//! The pure domain's CPU cost per lead: parsing, authenticating, enriching, scoring and routing
//! one typical signed JSON lead, with the local configuration's rules.
//!
//! ```text
//! cargo bench -p leadrelay-domain --bench domain -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;

use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use leadrelay_domain::auth;
use leadrelay_domain::config::Config;
use leadrelay_domain::enrichment;
use leadrelay_domain::intake::{self, Submission};
use leadrelay_domain::lead::Lead;
use leadrelay_domain::routing;
use leadrelay_domain::scoring;
use leadrelay_domain::secret::Secret;

const SOURCE: &str = "json";

fn config() -> Config {
    Config::from_toml(include_str!("../../infra/config/local.toml"), "local.toml")
        .expect("the local configuration is valid")
}

/// A typical delivery: a VP asking for a demo from paid search (hot, routed by rule).
fn body() -> Vec<u8> {
    serde_json::json!({
        "email": "ana.ferreira@northwind-logistics.com",
        "first_name": "Ana",
        "last_name": "Ferreira",
        "phone": "(415) 555-2671",
        "company": "Northwind Logistics",
        "job_title": "VP Operations",
        "message": "We'd like a demo for our three warehouses.",
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "spring-2026",
        "employees": 450
    })
    .to_string()
    .into_bytes()
}

fn secret(config: &Config) -> Secret {
    Secret::new(
        config.sources[SOURCE]
            .secret
            .clone()
            .expect("the json source has a literal secret"),
    )
}

/// A captured lead with no fields yet (once, outside the timing).
fn blank_lead(now: DateTime<Utc>) -> Lead {
    Lead::new(
        "01JLEAD0000000000000000000",
        SOURCE,
        "01JDELIVERY000000000000000",
        now,
    )
}

/// The lead capture makes of a submission (as `functions/capture` does: a few owned strings
/// plus the submission's fields).
fn new_lead(blank: &Lead, s: Submission) -> Lead {
    let mut lead = blank.clone();
    lead.is_spam = s.is_spam;
    lead.fields = s.fields;
    lead.utm = s.utm;
    lead.attributes = s.attributes;
    lead
}

/// What enrich does to a lead: enrichment, then the score (as `functions/enrich` does).
fn enrich_and_score(lead: &mut Lead, config: &Config) {
    let default_country = lead.phone_country_hint.clone().or_else(|| {
        config
            .source(&lead.source)
            .and_then(|s| s.default_country.clone())
    });
    lead.enrichment = Some(enrichment::enrich(
        &lead.fields,
        default_country.as_deref(),
        &config.enrichment.free_email_domains,
    ));
    lead.score = Some(scoring::score(lead, &config.scoring, lead.received_at));
}

fn domain(c: &mut Criterion) {
    let config = config();
    let secret = secret(&config);
    let body = body();
    let now: DateTime<Utc> = "2026-03-02T10:00:00Z".parse().unwrap();
    let timestamp = now.timestamp().to_string();
    let signature = auth::sign(&secret, Some(&timestamp), None, &body);
    let signed = |body| auth::Signed {
        signature: Some(signature.as_str()),
        timestamp: Some(timestamp.as_str()),
        idempotency_key: None,
        body,
    };
    let default_country = config
        .source(SOURCE)
        .and_then(|s| s.default_country.as_deref());

    // The lead at each step's input, so each bench measures that step alone.
    let blank = blank_lead(now);
    let captured = new_lead(&blank, intake::parse_json(&body).unwrap());
    let mut enriched = captured.clone();
    enriched.enrichment = Some(enrichment::enrich(
        &captured.fields,
        default_country,
        &config.enrichment.free_email_domains,
    ));
    let mut scored = enriched.clone();
    scored.score = Some(scoring::score(
        &enriched,
        &config.scoring,
        enriched.received_at,
    ));
    let states = std::collections::BTreeMap::new();
    let at = routing::Situation {
        now,
        states: &states,
        account: None,
    };
    let decision = routing::decide(&scored, &config, &at).expect("the lead is routable");
    assert_eq!(decision.team, "sales", "{}", decision.reason());

    let mut g = c.benchmark_group("domain");
    g.bench_function("parse_json", |b| {
        b.iter(|| intake::parse_json(black_box(&body)).unwrap())
    });
    g.bench_function("verify_hmac", |b| {
        b.iter(|| {
            auth::verify_hmac(black_box(&secret), &signed(black_box(&body)), true, now).unwrap()
        })
    });
    g.bench_function("enrich", |b| {
        b.iter(|| {
            enrichment::enrich(
                black_box(&captured.fields),
                default_country,
                &config.enrichment.free_email_domains,
            )
        })
    });
    g.bench_function("score", |b| {
        b.iter(|| scoring::score(black_box(&enriched), &config.scoring, enriched.received_at))
    });
    g.bench_function("route_decision", |b| {
        b.iter(|| {
            let d = routing::decide(black_box(&scored), &config, &at).unwrap();
            (d.owner.id.len(), d.reason())
        })
    });
    g.bench_function("whole_lead", |b| {
        b.iter(|| {
            let body = black_box(&body);
            auth::verify_hmac(&secret, &signed(body), true, now).unwrap();
            let mut lead = new_lead(&blank, intake::parse_json(body).unwrap());
            enrich_and_score(&mut lead, &config);
            let d = routing::decide(&lead, &config, &at).unwrap();
            (d.owner.id.len(), d.reason())
        })
    });
    g.finish();
}

criterion_group!(benches, domain);
criterion_main!(benches);
