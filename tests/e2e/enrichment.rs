//! Company enrichment through a provider over HTTP, served here by a local stand-in: company
//! data fills the lead and counts in scoring and routing, answers are cached per domain with a
//! TTL, and a provider that is down, slow or talks nonsense never holds a lead back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use axum::extract::{Query, State};
use http::{HeaderMap, StatusCode};
use leadrelay_domain::company::CompanyLookup;
use leadrelay_domain::lead::{EventKind, Lead, Stage};
use serde_json::{json, Value};

use crate::support::*;

const KEY: &str = "test-provider-key";

/// How the stand-in answers.
#[derive(Clone, Copy)]
enum Mode {
    /// Knows the companies in [`company`], 404 for other domains.
    Companies,
    /// Answers every lookup with this status and an empty body.
    Status(u16),
    /// Answers 200 with an HTML page.
    Garbage,
    /// Never answers.
    Hang,
}

/// The companies the stand-in knows.
fn company(domain: &str) -> Option<Value> {
    match domain {
        "northwind-logistics.com" => Some(json!({
            "name": "Northwind Logistics", "domain": domain, "employees": 450,
            "industry": "Logistics", "country": "Germany"
        })),
        "globex.example" => Some(json!({
            "name": "Globex", "domain": domain, "employees": "5200", "industry": "Manufacturing",
            "country": "US"
        })),
        _ => None,
    }
}

struct Provider {
    url: String,
    calls: Arc<AtomicUsize>,
}

impl Provider {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

async fn provider(mode: Mode) -> Provider {
    type St = (Mode, Arc<AtomicUsize>);
    let calls = Arc::new(AtomicUsize::new(0));
    let app = axum::Router::new()
        .route(
            "/v1/companies",
            axum::routing::get(
                |State((mode, calls)): State<St>,
                 Query(q): Query<HashMap<String, String>>,
                 headers: HeaderMap| async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    let bearer = format!("Bearer {KEY}");
                    if headers.get("authorization").and_then(|v| v.to_str().ok())
                        != Some(bearer.as_str())
                    {
                        return (StatusCode::UNAUTHORIZED, String::new());
                    }
                    let domain = q.get("domain").cloned().unwrap_or_default();
                    match mode {
                        Mode::Companies => match company(&domain) {
                            Some(c) => (StatusCode::OK, c.to_string()),
                            None => (StatusCode::NOT_FOUND, r#"{"error":"unknown"}"#.into()),
                        },
                        Mode::Status(s) => (StatusCode::from_u16(s).unwrap(), String::new()),
                        Mode::Garbage => (StatusCode::OK, "<html>Bad gateway</html>".into()),
                        Mode::Hang => std::future::pending().await,
                    }
                },
            ),
        )
        .with_state((mode, calls.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Provider { url, calls }
}

/// A URL where nothing listens: the provider is down.
async fn nobody_listening() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

async fn app_with_provider(url: &str, timeout: &str) -> TestApp {
    let block = format!(
        "\n[enrichment.provider]\nurl = \"{url}\"\nkey = \"{KEY}\"\ntimeout = \"{timeout}\"\n"
    );
    TestApp::with_config(move |c| c.push_str(&block)).await
}

/// A lead at `email` in the US, otherwise like the sample lead but saying nothing of its
/// company's size (and giving no phone, so that leads differ by their email only).
fn lead_at(email: &str) -> Value {
    let mut l = ana();
    l["email"] = email.into();
    l["country"] = "US".into();
    let fields = l.as_object_mut().unwrap();
    fields.remove("employees");
    fields.remove("phone");
    l
}

async fn captured_and_drained(app: &TestApp, body: Value) -> Lead {
    let id = app.capture(app.signed_json(&body)).await;
    app.drain().await;
    app.lead(&id).await
}

async fn timeline(app: &TestApp, lead: &Lead) -> Vec<(EventKind, String)> {
    app.stack
        .deps
        .store
        .timeline(&lead.lead_id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.kind, e.summary))
        .collect()
}

fn reasons(lead: &Lead) -> Vec<String> {
    let s = lead.score.as_ref().expect("scored");
    s.reasons.iter().map(|r| r.to_string()).collect()
}

/// The company cache items in the table: domain → `expires_at`.
async fn cached(app: &TestApp) -> HashMap<String, i64> {
    app.items()
        .await
        .into_iter()
        .filter(|i| i["sk"].as_s().is_ok_and(|s| s == "COMPANY"))
        .map(|i| {
            let pk = i["pk"].as_s().unwrap().clone();
            let ttl = i["expires_at"].as_n().expect("expires_at is a number");
            (pk, ttl.parse().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn the_provider_fills_company_size_industry_and_country_and_the_score_counts_them() {
    let p = provider(Mode::Companies).await;
    let app = app_with_provider(&p.url, "2s").await;
    let lead = captured_and_drained(&app, lead_at("ana.ferreira@northwind-logistics.com")).await;

    assert_eq!(lead.stage, Stage::Routed);
    let e = lead.enrichment.as_ref().unwrap();
    assert_eq!(e.company_lookup, Some(CompanyLookup::Found));
    assert_eq!(e.company_domain.as_deref(), Some("northwind-logistics.com"));
    assert_eq!(e.company_size, Some(450));
    assert_eq!(e.industry.as_deref(), Some("Logistics"));
    assert_eq!(e.company_country.as_deref(), Some("DE"));
    assert_eq!(
        e.country.as_deref(),
        Some("US"),
        "the lead's own country stays"
    );
    let r = reasons(&lead);
    assert!(r.contains(&"+15 company of 200+ people".into()), "{r:?}");
    assert!(
        r.contains(&"+10 company in a target industry".into()),
        "{r:?}"
    );
    let kinds: Vec<EventKind> = timeline(&app, &lead)
        .await
        .into_iter()
        .map(|e| e.0)
        .collect();
    use EventKind::*;
    assert_eq!(
        kinds,
        vec![Captured, Enriched, Scored, Routed, EmailSent, EmailSent]
    );
    assert_eq!(p.calls(), 1);

    let exported = serde_json::to_value(leadrelay_domain::export::export(
        &lead,
        leadrelay_domain::Clock::now(&app.clock),
    ))
    .unwrap();
    assert_eq!(exported["company_size"], 450);
    assert_eq!(exported["industry"], "Logistics");
    assert_eq!(exported["company_country"], "DE");
    assert_eq!(exported["company_lookup"], "found");
}

#[tokio::test]
async fn a_large_company_by_the_providers_count_is_routed_to_enterprise() {
    let p = provider(Mode::Companies).await;
    let app = app_with_provider(&p.url, "2s").await;
    let lead = captured_and_drained(&app, lead_at("kim@globex.example")).await;
    let e = lead.enrichment.as_ref().unwrap();
    assert_eq!(e.company_size, Some(5200));
    let a = lead.assignment.as_ref().expect("routed");
    assert_eq!(a.team, "enterprise");
    assert!(
        a.reason.contains("rule enterprise-company matched"),
        "{}",
        a.reason
    );
}

#[tokio::test]
async fn a_second_lead_of_the_same_domain_is_answered_from_the_cache_until_it_expires() {
    let p = provider(Mode::Companies).await;
    let app = app_with_provider(&p.url, "2s").await;
    let first = captured_and_drained(&app, lead_at("ana.ferreira@northwind-logistics.com")).await;
    let second = captured_and_drained(&app, lead_at("Jonas.Weber@Northwind-Logistics.com")).await;

    assert_eq!(p.calls(), 1, "the provider is asked once per domain");
    for lead in [&first, &second] {
        assert_eq!(lead.enrichment.as_ref().unwrap().company_size, Some(450));
    }
    let events = timeline(&app, &second).await;
    assert!(
        events
            .iter()
            .any(|(k, s)| *k == EventKind::Enriched && s.ends_with("(cached)")),
        "{events:?}"
    );
    // Cached for 30 days (the default), in the table's TTL attribute.
    let thirty_days = t("2026-04-01T10:00:00Z").timestamp();
    assert_eq!(
        cached(&app).await,
        HashMap::from([("COMPANY#northwind-logistics.com".to_owned(), thirty_days)])
    );

    // Past its TTL the entry no longer counts, whether or not DynamoDB has deleted it yet.
    app.clock.advance(chrono::Duration::days(31));
    captured_and_drained(&app, lead_at("lea@northwind-logistics.com")).await;
    assert_eq!(p.calls(), 2);
}

#[tokio::test]
async fn an_unknown_domain_is_cached_for_a_shorter_time() {
    let p = provider(Mode::Companies).await;
    let app = app_with_provider(&p.url, "2s").await;
    let lead = captured_and_drained(&app, lead_at("max@unknown-startup.example")).await;
    let e = lead.enrichment.as_ref().unwrap();
    assert_eq!(e.company_lookup, Some(CompanyLookup::NotFound));
    assert_eq!(e.company_size, None);
    assert_eq!(lead.stage, Stage::Routed);
    assert_eq!(
        cached(&app).await,
        HashMap::from([(
            "COMPANY#unknown-startup.example".to_owned(),
            t("2026-03-03T10:00:00Z").timestamp()
        )]),
        "a day, the default for domains the provider does not know"
    );
    captured_and_drained(&app, lead_at("eva@unknown-startup.example")).await;
    assert_eq!(p.calls(), 1);
}

#[tokio::test]
async fn free_mail_leads_are_not_looked_up() {
    let p = provider(Mode::Companies).await;
    let app = app_with_provider(&p.url, "2s").await;
    let lead = captured_and_drained(&app, lead_at("ana.ferreira@gmail.com")).await;
    let e = lead.enrichment.as_ref().unwrap();
    assert_eq!(
        (e.company_domain.as_deref(), e.company_lookup),
        (None, None)
    );
    assert_eq!(lead.stage, Stage::Routed);
    assert_eq!(p.calls(), 0);
}

/// A lead whose lookup fails goes on: scored, routed, emailed, and marked unenriched with the
/// reason and a timeline event. Failures are not cached.
async fn goes_on_unenriched(url: &str, timeout: &str, reason: &str) {
    let app = app_with_provider(url, timeout).await;
    let lead = captured_and_drained(&app, lead_at("ana.ferreira@northwind-logistics.com")).await;

    assert_eq!(lead.stage, Stage::Routed);
    assert!(lead.assignment.is_some());
    let e = lead.enrichment.as_ref().unwrap();
    assert_eq!(e.company_lookup, Some(CompanyLookup::Failed));
    let why = e.company_lookup_error.as_deref().unwrap_or_default();
    assert!(why.contains(reason), "{why:?} should say {reason:?}");
    assert_eq!((e.company_size, e.industry.as_ref()), (None, None));
    let r = reasons(&lead);
    assert!(r.contains(&"+30 asked for a demo".into()), "{r:?}");
    assert!(!r.iter().any(|r| r.contains("company of")), "{r:?}");
    let events = timeline(&app, &lead).await;
    assert!(
        events.iter().any(|(k, s)| *k == EventKind::EnrichmentFailed
            && s.contains(reason)
            && !s.contains("northwind")),
        "{events:?}"
    );
    assert_eq!(
        app.emails_to("ana.ferreira@northwind-logistics.com")
            .await
            .len(),
        1
    );
    assert!(cached(&app).await.is_empty(), "failures are not cached");
}

#[tokio::test]
async fn a_provider_that_is_down_leaves_the_lead_unenriched_but_scored_and_routed() {
    goes_on_unenriched(&nobody_listening().await, "2s", "provider unreachable").await;
}

#[tokio::test]
async fn a_provider_slower_than_the_timeout_leaves_the_lead_unenriched_but_scored_and_routed() {
    let p = provider(Mode::Hang).await;
    goes_on_unenriched(&p.url, "200ms", "timed out after 200ms").await;
    assert_eq!(p.calls(), 1, "no retry");
}

#[tokio::test]
async fn a_provider_error_leaves_the_lead_unenriched_but_scored_and_routed() {
    let p = provider(Mode::Status(500)).await;
    goes_on_unenriched(&p.url, "2s", "provider answered 500").await;
    assert_eq!(p.calls(), 1, "no retry");
}

#[tokio::test]
async fn a_provider_answering_garbage_leaves_the_lead_unenriched_but_scored_and_routed() {
    let p = provider(Mode::Garbage).await;
    goes_on_unenriched(&p.url, "2s", "answer not understood").await;
}

#[tokio::test]
async fn a_returning_person_rescored_keeps_their_company_data_from_the_cache() {
    let p = provider(Mode::Companies).await;
    let app = app_with_provider(&p.url, "2s").await;
    let first = captured_and_drained(&app, lead_at("ana.ferreira@northwind-logistics.com")).await;
    app.clock.advance(chrono::Duration::days(3));
    let again = json!({
        "email": "ana.ferreira@northwind-logistics.com",
        "message": "And what is your pricing for 40 users?",
    });
    let (status, body) = app.send(app.signed_json(&again)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["lead_id"],
        first.lead_id.as_str(),
        "joined the open lead"
    );
    app.drain().await;

    let lead = app.lead(&first.lead_id).await;
    let e = lead.enrichment.as_ref().unwrap();
    assert_eq!(
        e.company_size,
        Some(450),
        "company data survives the rescore"
    );
    let r = reasons(&lead);
    assert!(r.contains(&"+15 company of 200+ people".into()), "{r:?}");
    assert_eq!(p.calls(), 1, "the rescore reads the cache");
}
