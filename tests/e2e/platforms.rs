//! The sample deliveries of real platforms (tests/fixtures/sources) through the real capture
//! path, with the clock at the sample's arrival.

use http::{Request, StatusCode};
use leadrelay_domain::lead::Stage;
use serde_json::Value;

use crate::support::*;

pub(crate) fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/fixtures/sources/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The sample as the platform would send it to `source`.
pub(crate) fn request(f: &Value, source: &str) -> Request<Vec<u8>> {
    let hint = f["path_hint"].as_str().unwrap_or("/");
    let query = hint
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    let mut req = Request::builder()
        .method(f["method"].as_str().unwrap_or("POST"))
        .uri(format!("/v1/webhooks/{source}{query}"));
    for (k, v) in f["headers"].as_object().unwrap() {
        if !k.eq_ignore_ascii_case("content-length") {
            req = req.header(k, v.as_str().unwrap());
        }
    }
    req.body(f["body"].as_str().unwrap_or_default().as_bytes().to_vec())
        .unwrap()
}

pub(crate) async fn deliver(app: &TestApp, name: &str, source: &str) -> (StatusCode, Value) {
    let f = fixture(name);
    let at = f["expect"]["received_at"]
        .as_str()
        .or(f["expect"]["submitted_at"].as_str())
        .unwrap_or("2026-03-20T12:00:00Z");
    app.clock.set(t(at));
    app.send(request(&f, source)).await
}

#[tokio::test]
async fn a_tally_response_becomes_a_lead_and_its_retry_does_not() {
    let app = TestApp::new().await;
    let (status, body) = deliver(&app, "tally-basic", "tally").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["lead_id"].as_str().unwrap().to_owned();
    app.drain().await;
    let lead = app.lead(&id).await;
    assert_eq!(lead.stage, Stage::Routed);
    assert_eq!(lead.external_id.as_deref(), Some("2Ab9xQ"));
    assert_eq!(
        lead.campaign.get("form_id").map(String::as_str),
        Some("wMz4Ea")
    );
    assert_eq!(
        lead.attributes.get("Team size").map(String::as_str),
        Some("11-50")
    );
    assert_eq!(
        lead.utm.get("campaign").map(String::as_str),
        Some("march-webinar")
    );
    assert_eq!(lead.email(), Some("mateo.fernandez@acme-robotics.io"));
    assert_eq!(
        lead.enrichment.as_ref().unwrap().phone.as_deref(),
        Some("+525512345678")
    );
    assert_eq!(lead.submitted_at, Some(t("2026-03-18T11:27:04Z")));

    let (status, again) = deliver(&app, "tally-retry-duplicate", "tally").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["lead_id"], id.as_str());
    assert_eq!(again["duplicates"], 1);
    app.drain().await;
    assert_eq!(app.items_with_entity("lead").await, 1);
    assert_eq!(
        app.emails_to("mateo.fernandez@acme-robotics.io")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn a_tampered_tally_delivery_is_refused_and_not_stored() {
    let app = TestApp::new().await;
    let mut f = fixture("tally-basic");
    let body = f["body"].as_str().unwrap().replace("Mateo", "Mallory");
    f["body"] = body.into();
    let (status, _) = app.send(request(&f, "tally")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(app.items().await.is_empty());
}

#[tokio::test]
async fn a_google_lead_is_routed_and_a_google_test_lead_is_kept_but_never_emailed() {
    let app = TestApp::new().await;
    let (status, body) = deliver(&app, "google-lead-basic", "google").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["lead_id"].as_str().unwrap().to_owned();
    let (status, test) = deliver(&app, "google-test-lead", "google").await;
    assert_eq!(status, StatusCode::OK, "{test}");
    let test_id = test["lead_id"].as_str().unwrap().to_owned();
    app.drain().await;

    let lead = app.lead(&id).await;
    assert_eq!(lead.stage, Stage::Routed);
    assert!(lead.click_ids.contains_key("gclid"), "{:?}", lead.click_ids);
    let test_lead = app.lead(&test_id).await;
    assert!(test_lead.is_test);
    assert_eq!(test_lead.stage, Stage::Captured);
    assert!(test_lead.assignment.is_none());
    assert!(app.emails_to("test@example.com").await.is_empty());
    assert_eq!(
        app.sent_emails().await.len(),
        2,
        "only the real lead's two emails"
    );
}

/// A local stand-in for Meta's Graph API: answers the lead read with the sample response,
/// or 503 while `down` is set.
pub(crate) struct GraphApi {
    url: String,
    pub(crate) down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

pub(crate) async fn graph_api() -> GraphApi {
    use axum::extract::State;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let down = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    let answer = fixture("meta-graph-lead-response-unicode")["body"]
        .as_str()
        .unwrap()
        .to_owned();
    type St = (Arc<AtomicBool>, Arc<AtomicUsize>, String);
    let app = axum::Router::new()
        .route(
            "/v24.0/{id}",
            axum::routing::get(
                |State((down, calls, answer)): State<St>, headers: http::HeaderMap| async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    if down.load(Ordering::SeqCst) {
                        return (StatusCode::SERVICE_UNAVAILABLE, String::new());
                    }
                    if headers.get("authorization").and_then(|v| v.to_str().ok())
                        != Some("Bearer local-page-token")
                    {
                        return (StatusCode::UNAUTHORIZED, String::new());
                    }
                    (StatusCode::OK, answer)
                },
            ),
        )
        .with_state((down.clone(), calls.clone(), answer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    GraphApi { url, down, calls }
}

pub(crate) async fn app_with_graph(api: &GraphApi) -> TestApp {
    let url = api.url.clone();
    TestApp::with_config(move |c| {
        *c = c.replace(
            "verify_token = \"leadrelay-local-verify\"",
            &format!("verify_token = \"leadrelay-local-verify\"\naccess_token = \"local-page-token\"\napi_url = \"{url}\""),
        );
    })
    .await
}

#[tokio::test]
async fn a_meta_notification_is_answered_at_once_then_its_details_are_fetched_and_it_is_routed() {
    let api = graph_api().await;
    let app = app_with_graph(&api).await;
    let (status, body) = deliver(&app, "meta-leadgen-basic", "meta").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["lead_id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.lead(&id).await.stage,
        Stage::PendingFetch,
        "stored before the answer, details still to come"
    );
    app.drain().await;
    let lead = app.lead(&id).await;
    assert_eq!(lead.stage, Stage::Routed);
    assert_eq!(lead.external_id.as_deref(), Some("3841029384756102"));
    assert_eq!(
        lead.campaign.get("ad_id").map(String::as_str),
        Some("120208765432109876")
    );
    let want = &fixture("meta-graph-lead-response-unicode")["expect"];
    assert_eq!(lead.email(), want["email"].as_str());
    assert_eq!(lead.display_name().as_deref(), want["full_name"].as_str());
    assert_eq!(
        app.emails_to(want["email"].as_str().unwrap()).await.len(),
        1
    );
    // Meta retries: still one lead, no second fetch.
    let (_, again) = deliver(&app, "meta-leadgen-basic", "meta").await;
    assert_eq!(again["lead_id"], id.as_str());
    app.drain().await;
    assert_eq!(app.items_with_entity("lead").await, 1);
    assert_eq!(api.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failing_fetch_is_retried_by_the_sweep_with_backoff_until_the_platform_answers() {
    use std::sync::atomic::Ordering;
    let api = graph_api().await;
    api.down.store(true, Ordering::SeqCst);
    let app = app_with_graph(&api).await;
    let (status, body) = deliver(&app, "meta-leadgen-basic", "meta").await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the platform is answered at once, whatever the API does"
    );
    let id = body["lead_id"].as_str().unwrap().to_owned();
    app.drain().await;
    let lead = app.lead(&id).await;
    assert_eq!(lead.stage, Stage::PendingFetch, "visible as pending");
    assert_eq!(api.calls.load(Ordering::SeqCst), 1, "not retried by SQS");
    let timeline = app.stack.deps.store.timeline(&id).await.unwrap();
    assert!(
        timeline
            .iter()
            .any(|e| e.kind == leadrelay_domain::lead::EventKind::FetchFailed
                && e.summary.contains("503")
                && e.summary.contains("retried in 2 minutes")),
        "{timeline:?}"
    );
    // The sweep retries after the backoff: 2 minutes, then 4.
    let minutes = chrono::Duration::minutes;
    app.clock.advance(minutes(1));
    app.stack.escalate().await.unwrap();
    app.drain().await;
    assert_eq!(api.calls.load(Ordering::SeqCst), 1, "not before its time");
    app.clock.advance(minutes(1));
    assert_eq!(app.stack.escalate().await.unwrap().resent, 1);
    app.drain().await;
    assert_eq!(api.calls.load(Ordering::SeqCst), 2);
    assert_eq!(app.lead(&id).await.retries.unwrap().count, 2);
    api.down.store(false, Ordering::SeqCst);
    app.clock.advance(minutes(4));
    assert_eq!(app.stack.escalate().await.unwrap().resent, 1);
    app.drain().await;
    let lead = app.lead(&id).await;
    assert_eq!(lead.stage, Stage::Routed);
    let want = &fixture("meta-graph-lead-response-unicode")["expect"];
    assert_eq!(
        app.emails_to(want["email"].as_str().unwrap()).await.len(),
        1
    );
}

#[tokio::test]
async fn meta_and_linkedin_handshakes_are_answered_and_store_nothing() {
    let app = TestApp::new().await;
    let ok = Request::get("/v1/webhooks/meta?hub.mode=subscribe&hub.verify_token=leadrelay-local-verify&hub.challenge=1158201444")
        .body(Vec::new())
        .unwrap();
    let r = app.stack.http(ok).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.body(), "1158201444");
    let wrong = Request::get(
        "/v1/webhooks/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1158201444",
    )
    .body(Vec::new())
    .unwrap();
    assert_eq!(
        app.stack.http(wrong).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let f = fixture("linkedin-challenge");
    let (status, body) = app.send(request(&f, "linkedin")).await;
    assert_eq!(status, StatusCode::OK);
    let want: Value = serde_json::from_str(f["expect"]["response_body"].as_str().unwrap()).unwrap();
    assert_eq!(body, want);
    assert!(app.items().await.is_empty());
}

#[tokio::test]
async fn a_linkedin_notification_is_stored_pending_its_details() {
    let app = TestApp::new().await;
    let (status, body) = deliver(&app, "linkedin-lead-notification", "linkedin").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let lead = app.lead(body["lead_id"].as_str().unwrap()).await;
    assert_eq!(lead.stage, Stage::PendingFetch);
    assert!(lead.external_id.is_some());
}

/// Every sample of a platform that delivers the lead in the request, through the real capture
/// path, with the status code it expects and, for accepted ones, the lead it must make.
#[tokio::test]
async fn every_form_platform_sample_gets_its_expected_answer_and_lead() {
    let app = TestApp::new().await;
    let cases = [
        ("typeform-basic", "typeform"),
        ("typeform-tampered", "typeform"),
        ("unbounce-basic", "unbounce"),
        ("unbounce-xss-crlf-name", "unbounce"),
        ("webflow-form-submission", "webflow"),
        ("webflow-stale-timestamp", "webflow"),
        ("calendly-invitee-created", "calendly"),
        ("jotform-basic", "jotform"),
        ("gravity_forms-wrong-token", "gravity-forms"),
        ("html_form-utm", "html-form"),
        ("html_form-oversized", "html-form"),
        ("google-lead-basic", "google"),
        ("tally-basic", "tally"),
    ];
    for (name, source) in cases {
        let f = fixture(name);
        let e = &f["expect"];
        let (status, body) = deliver(&app, name, source).await;
        assert_eq!(
            status.as_u16() as u64,
            e["http_status"].as_u64().unwrap(),
            "{name}: {body}"
        );
        if !e["accept"].as_bool().unwrap_or(false) {
            continue;
        }
        let lead = app
            .lead(
                body["lead_ids"][0]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: {body}")),
            )
            .await;
        if let Some(email) = e["email"].as_str() {
            assert_eq!(
                lead.fields
                    .email
                    .as_deref()
                    .and_then(leadrelay_domain::normalize::email)
                    .as_deref(),
                Some(email),
                "{name}"
            );
        }
        for (key, got) in [
            ("company", lead.fields.company.clone()),
            ("external_id", lead.external_id.clone()),
        ] {
            if let Some(want) = e[key].as_str() {
                assert_eq!(got.as_deref(), Some(want), "{name}: {key}");
            }
        }
        if let Some(want) = e["utm_source"].as_str() {
            assert_eq!(
                lead.utm.get("source").map(String::as_str),
                Some(want),
                "{name}: utm_source"
            );
        }
    }
    app.drain().await;
    // The XSS sample's name reaches the owner escaped, never as markup.
    for email in app.sent_emails().await {
        assert!(!email.body.contains("<script"), "{}", email.subject);
    }
}

#[tokio::test]
async fn a_hubspot_notification_signed_over_its_public_url_is_taken_pending_its_details() {
    let app = TestApp::new().await;
    let (status, body) = deliver(&app, "hubspot-webhooks-contact-creation", "hubspot").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let lead = app.lead(body["lead_ids"][0].as_str().unwrap()).await;
    assert_eq!(lead.stage, Stage::PendingFetch);
}

#[tokio::test]
async fn a_website_form_refuses_other_origins_and_floods_from_one_address() {
    let app = TestApp::new().await;
    let f = fixture("html_form-utm");
    let mut foreign = request(&f, "html-form");
    foreign
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    foreign.headers_mut().remove("referer");
    let (status, body) = app.send(foreign).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(app.items().await.iter().all(|i| i
        .get("entity")
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        != Some("delivery")));

    app.clock.set(t("2026-03-20T08:38:02Z"));
    let mut statuses = Vec::new();
    for _ in 0..11 {
        let mut r = request(&f, "html-form");
        r.headers_mut()
            .insert("x-forwarded-for", "203.0.113.7".parse().unwrap());
        statuses.push(app.send(r).await.0.as_u16());
    }
    assert!(statuses[..10].iter().all(|s| *s == 303), "{statuses:?}");
    assert_eq!(statuses[10], 429);
    let mut other = request(&f, "html-form");
    other
        .headers_mut()
        .insert("x-forwarded-for", "198.51.100.1".parse().unwrap());
    assert_eq!(
        app.send(other).await.0,
        StatusCode::SEE_OTHER,
        "another address is not limited"
    );
}

/// Arbitrary bodies to every source: a refusal, never a 5xx, never a panic.
#[tokio::test]
async fn no_body_makes_any_source_answer_5xx() {
    let app = TestApp::new().await;
    let sources: Vec<String> = app.stack.deps.config.sources.keys().cloned().collect();
    // A small deterministic generator: the same cases every run.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let shapes: [&[u8]; 6] = [
        b"",
        b"{}",
        b"[]",
        b"null",
        b"{\"entry\":[{\"changes\":[{}]}]}",
        b"a=b&c",
    ];
    for source in &sources {
        for i in 0..12 {
            let body: Vec<u8> = if i < shapes.len() {
                shapes[i].to_vec()
            } else {
                (0..(next() % 300)).map(|_| (next() % 256) as u8).collect()
            };
            for ct in ["application/json", "application/x-www-form-urlencoded"] {
                let req = Request::post(format!("/v1/webhooks/{source}?token=x"))
                    .header("content-type", ct)
                    .header("origin", "https://www.acme-robotics.io")
                    .body(body.clone())
                    .unwrap();
                let (status, answer) = app.send(req).await;
                assert!(
                    status.as_u16() < 500,
                    "{source} answered {status} to {body:?}: {answer}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_get_to_a_form_platform_makes_no_lead_and_a_delivery_without_contact_is_refused_but_kept()
{
    let app = TestApp::new().await;
    let r = app
        .stack
        .http(
            Request::get("/v1/webhooks/html-form")
                .header("origin", "https://www.acme-robotics.io")
                .body(Vec::new())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(app.items().await.is_empty());

    let mut f = fixture("html_form-utm");
    f["body"] = "full_name=Nobody&company=Acme&website=&form_started_at=1773995835".into();
    let (status, body) = app.send(request(&f, "html-form")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "not_a_lead");
    assert!(app
        .stack
        .deps
        .store
        .get_delivery(body["delivery_id"].as_str().unwrap())
        .await
        .unwrap()
        .is_some());
    assert_eq!(app.items_with_entity("lead").await, 0);
}

/// A Meta delivery of `n` leadgen changes, signed as Meta signs it.
fn meta_delivery(n: usize) -> Request<Vec<u8>> {
    use hmac::{Hmac, Mac};
    let changes: Vec<Value> = (0..n)
        .map(|i| {
            serde_json::json!({"field": "leadgen", "value": {
                "ad_id": "120208765432109876", "form_id": "1298374650123456",
                "leadgen_id": format!("90000000{i:08}"), "created_time": 1773324308,
                "page_id": "104857392018475"}})
        })
        .collect();
    let body = serde_json::json!({"object": "page", "entry": [
        {"id": "104857392018475", "time": 1773324309, "changes": changes}]});
    let raw = serde_json::to_vec(&body).unwrap();
    let mut mac =
        Hmac::<sha2::Sha256>::new_from_slice(b"4f1c9e2b7a6d5e3f8091a2b3c4d5e6f7").unwrap();
    mac.update(&raw);
    let sig = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    Request::post("/v1/webhooks/meta")
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sig)
        .body(raw)
        .unwrap()
}

/// Admits every fanned-out item on the captured queue, as enrich does, and leaves the rest of
/// enrich's work (reading each lead's details) out: that is not what this test is about.
async fn admit_fanned_out_items(app: &TestApp) -> usize {
    use leadrelay_aws::queue::{CapturedMessage, QueueName};
    let sqs = app.stack.deps.queues.client();
    let url = app.stack.deps.queues.url(QueueName::Captured);
    let mut admitted = 0;
    loop {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return admitted;
        }
        let handled = messages.into_iter().map(|m| async move {
            let body = m.body.as_deref().unwrap_or_default();
            let mut n = 0;
            if let CapturedMessage::Admit(a) = serde_json::from_str(body).unwrap() {
                n = a.items.len();
                leadrelay_capture::admit_queued(&app.stack.deps, a)
                    .await
                    .unwrap();
            }
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(m.receipt_handle.unwrap())
                .send()
                .await
                .unwrap();
            n
        });
        admitted += futures::future::join_all(handled)
            .await
            .iter()
            .sum::<usize>();
    }
}

#[tokio::test]
async fn a_meta_delivery_of_a_thousand_leads_is_answered_at_once_and_makes_a_thousand_leads() {
    let app = TestApp::new().await;
    let started = std::time::Instant::now();
    let (status, body) = app.send(meta_delivery(1000)).await;
    // A measurement for the record (`-- --nocapture`), not an assertion.
    eprintln!(
        "1,000-item Meta delivery answered in {:?}",
        started.elapsed()
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["queued"], 1000,
        "fanned out, not admitted in the request"
    );
    assert!(
        app.items_with_entity("lead").await < 1000,
        "the answer did not wait for the leads"
    );
    let started = std::time::Instant::now();
    assert_eq!(admit_fanned_out_items(&app).await, 1000);
    eprintln!("and its items admitted in {:?}", started.elapsed());
    let leads: std::collections::BTreeSet<String> = app
        .items()
        .await
        .iter()
        .filter(|i| {
            i.get("entity")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|e| e == "lead")
        })
        .filter_map(|i| i.get("external_id").and_then(|v| v.as_s().ok()).cloned())
        .collect();
    assert_eq!(leads.len(), 1000, "one lead per leadgen change");
}

#[tokio::test]
async fn a_fanned_out_delivery_sent_again_makes_no_second_lead() {
    let app = TestApp::new().await;
    let (status, _) = app.send(meta_delivery(30)).await;
    assert_eq!(status, StatusCode::OK);
    admit_fanned_out_items(&app).await;
    assert_eq!(app.items_with_entity("lead").await, 30);
    let (status, again) = app.send(meta_delivery(30)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(admit_fanned_out_items(&app).await, 30);
    assert_eq!(app.items_with_entity("lead").await, 30);
}

/// Standard base64, for signing test deliveries as HubSpot does.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A HubSpot workflow's "Send a webhook" POST to the `hubspot` source: signed v3 over its
/// public URL (with a v2 signature alongside, as HubSpot sends it).
fn hubspot_workflow_post(app: &TestApp, body: &serde_json::Value) -> Request<Vec<u8>> {
    use hmac::{Hmac, Mac};
    let secret = "3b2f5e8a-91c4-4d7e-b0a6-7c1d9e2f4a85";
    let url = "https://hooks.acme-robotics.io/webhooks/hubspot";
    let raw = serde_json::to_vec(body).unwrap();
    let ts = leadrelay_domain::clock::Clock::now(&app.clock)
        .timestamp_millis()
        .to_string();
    let mut m = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(b"POST");
    m.update(url.as_bytes());
    m.update(&raw);
    m.update(ts.as_bytes());
    let v3 = base64(&m.finalize().into_bytes());
    let v2 = {
        use sha2::Digest;
        let mut d = sha2::Sha256::new();
        d.update(secret.as_bytes());
        d.update(b"POST");
        d.update(url.as_bytes());
        d.update(&raw);
        hex::encode(d.finalize())
    };
    Request::post("/v1/webhooks/hubspot")
        .header("content-type", "application/json")
        .header("x-hubspot-request-timestamp", ts)
        .header("x-hubspot-signature-v3", v3)
        .header("x-hubspot-signature", v2)
        .header("x-hubspot-signature-version", "v2")
        .body(raw)
        .unwrap()
}

#[tokio::test]
async fn a_hubspot_workflow_webhook_becomes_a_routed_lead_and_its_retry_does_not() {
    let app = TestApp::new().await;
    app.clock.set(t("2026-03-16T14:23:00Z"));
    let contact = serde_json::json!({
        "hs_object_id": "98123004511",
        "email": "sofia.marques@northwind-logistics.com",
        "firstname": "Sofia",
        "lastname": "Marques",
        "company": "Northwind Logistics",
        "jobtitle": "Head of Operations",
        "phone": "030 1234567",
        "ip_country_code": "de",
        "recent_conversion_event_name": "Demo request",
        "recent_conversion_date": "1773670951223",
        "hs_analytics_source": "PAID_SEARCH",
    });
    let (status, body) = app.send(hubspot_workflow_post(&app, &contact)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["lead_id"].as_str().unwrap().to_owned();
    assert_eq!(
        app.lead(&id).await.stage,
        Stage::Captured,
        "complete in the body: nothing to fetch"
    );
    app.drain().await;
    let lead = app.lead(&id).await;
    assert_eq!(lead.stage, Stage::Routed);
    assert_eq!(lead.external_id.as_deref(), Some("98123004511"));
    assert_eq!(lead.email(), Some("sofia.marques@northwind-logistics.com"));
    assert_eq!(
        lead.enrichment.as_ref().unwrap().phone.as_deref(),
        Some("+49301234567"),
        "the national number read in the country HubSpot located the contact in"
    );
    assert_eq!(
        lead.attributes
            .get("recent_conversion_event_name")
            .map(String::as_str),
        Some("Demo request")
    );

    // HubSpot retries (a timeout, a 5xx): the same lead, no second email.
    app.clock.advance(chrono::Duration::minutes(1));
    let (status, again) = app.send(hubspot_workflow_post(&app, &contact)).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["lead_id"], id.as_str());
    assert_eq!(again["duplicates"], 1);
    app.drain().await;
    assert_eq!(app.items_with_entity("lead").await, 1);
    assert_eq!(
        app.emails_to("sofia.marques@northwind-logistics.com")
            .await
            .len(),
        1
    );
}

/// What a crawler, a link preview or a person opening a website form's URL sends: a GET (or a
/// HEAD), perhaps with the landing page's query. It is told `405` and makes nothing at all.
#[tokio::test]
async fn a_crawler_or_link_preview_on_a_website_forms_url_makes_nothing() {
    let app = TestApp::new().await;
    let visits = [
        (
            "GET",
            "/v1/webhooks/html-form",
            "Slackbot-LinkExpanding 1.0",
        ),
        (
            "GET",
            "/v1/webhooks/html-form?utm_source=newsletter&email=ana%40acme.io",
            "facebookexternalhit/1.1",
        ),
        ("GET", "/v1/webhooks/html-form/", "Googlebot/2.1"),
        ("HEAD", "/v1/webhooks/html-form", "curl/8.5"),
        (
            "GET",
            "/v1/webhooks/form?token=local-form-token",
            "Mozilla/5.0",
        ),
    ];
    for (method, uri, agent) in visits {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header("user-agent", agent)
            .header("origin", "https://www.acme-robotics.io")
            .header("x-forwarded-for", "203.0.113.7")
            .body(Vec::new())
            .unwrap();
        let r = app.stack.http(req).await;
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
        let allow = r.headers().get("allow").and_then(|v| v.to_str().ok());
        assert!(
            allow.is_some_and(|a| a.contains("POST")),
            "{method} {uri}: Allow {allow:?}"
        );
        assert_eq!(
            r.headers()
                .get("x-robots-tag")
                .and_then(|v| v.to_str().ok()),
            Some("noindex"),
            "{method} {uri}"
        );
    }
    assert!(
        app.items().await.is_empty(),
        "no lead, no raw delivery, no rate-limit window"
    );
    app.drain().await;
    assert!(app.sent_emails().await.is_empty());
}
