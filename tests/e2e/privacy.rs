//! No personal data in logs (invariant 7 in docs/architecture.md), checked on what a whole run
//! really logs: every source, faults whose errors name a person, emails, escalation.

use std::io::Write;
use std::sync::{Arc, Mutex};

use leadrelay_aws::sweep;
use leadrelay_domain::clock::Clock;

use crate::platforms::{app_with_graph, deliver, fixture, graph_api};
use crate::support::{ana, TestApp};

/// Every log line written on the thread that asked for them (a test's runtime is
/// single-threaded, so every task of its run is on that thread), at the levels a deployment may
/// run with. The subscriber is the process's global one, installed once: a scoped one would
/// miss callsites whose interest other tests' threads cached first.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

thread_local! {
    static CAPTURING: std::cell::RefCell<Option<Logs>> = const { std::cell::RefCell::new(None) };
}

/// Writes to the capture of the thread it runs on, if that thread captures.
struct ThisThread;

impl Write for ThisThread {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURING.with(|c| {
            if let Some(logs) = &*c.borrow() {
                logs.0.lock().unwrap().extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Starts capturing what this thread logs.
    fn capture_this_thread() -> Logs {
        static INSTALL: std::sync::Once = std::sync::Once::new();
        INSTALL.call_once(|| {
            tracing_subscriber::fmt()
                .json()
                .with_env_filter(tracing_subscriber::EnvFilter::new(
                    "info,leadrelay_capture=debug,leadrelay_enrich=debug,leadrelay_route=debug,\
                     leadrelay_notify=debug,leadrelay_escalate=debug,leadrelay_aws=debug",
                ))
                .with_writer(|| ThisThread)
                .try_init()
                .expect("no other global subscriber in the test binary");
        });
        let logs = Logs::default();
        CAPTURING.with(|c| *c.borrow_mut() = Some(logs.clone()));
        logs
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).to_lowercase()
    }
}

/// The person data of each platform sample, as its fixture expects it read.
const SAMPLES: [(&str, &str); 9] = [
    ("tally-basic", "tally"),
    ("typeform-basic", "typeform"),
    ("unbounce-basic", "unbounce"),
    ("webflow-form-submission", "webflow"),
    ("calendly-invitee-created", "calendly"),
    ("jotform-basic", "jotform"),
    ("google-lead-basic", "google"),
    ("html_form-utm", "html-form"),
    ("meta-leadgen-basic", "meta"),
];

/// What must never be in a log: each test lead's address, phone (as digits) and name.
fn personal_data() -> Vec<String> {
    let mut out = vec![
        "ana.ferreira@northwind-logistics.com".to_owned(),
        "ana ferreira".to_owned(),
        "ferreira".to_owned(),
        "5552671".to_owned(),
    ];
    let mut expect: Vec<serde_json::Value> = SAMPLES
        .iter()
        .map(|(name, _)| fixture(name)["expect"].clone())
        .collect();
    expect.push(fixture("meta-graph-lead-response-unicode")["expect"].clone());
    for e in expect {
        if let Some(email) = e["email"].as_str() {
            out.push(email.to_lowercase());
        }
        if let Some(name) = e["full_name"].as_str() {
            out.push(name.to_lowercase());
        }
        if let Some(phone) = e["phone"].as_str() {
            let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
            // The subscriber number, however the country code was written.
            out.push(digits[digits.len().saturating_sub(7)..].to_owned());
        }
    }
    out
}

#[tokio::test]
async fn no_log_line_of_a_full_run_carries_a_test_leads_email_phone_or_name() {
    let logs = Logs::capture_this_thread();

    let api = graph_api().await;
    let app = app_with_graph(&api).await;
    // SES refuses the sender at first: its error names the recipients it refused.
    let ses = aws_sdk_ses::Client::new(&app.stack.sdk);
    ses.delete_identity()
        .identity(&app.sender)
        .send()
        .await
        .unwrap();
    // The platform's API fails at first: the lead waits for its details.
    api.down.store(true, std::sync::atomic::Ordering::SeqCst);
    for (name, source) in SAMPLES {
        let (status, body) = deliver(&app, name, source).await;
        assert!(
            status.is_success() || status.is_redirection(),
            "{name}: {status} {body}"
        );
    }
    app.capture(app.signed_json(&ana())).await;
    app.drain().await;
    let stuck = sweep::stuck(&app.stack.deps, app.clock.now())
        .await
        .unwrap();
    let parked = stuck.parked;
    assert!(
        !parked.is_empty(),
        "SES refused the emails: leads are parked"
    );

    // The faults pass: the sender is verified, the API answers, the operator sends the parked
    // leads on, the sweep reads the pending one, and nobody calls back in time.
    ses.verify_email_identity()
        .email_address(&app.sender)
        .send()
        .await
        .unwrap();
    api.down.store(false, std::sync::atomic::Ordering::SeqCst);
    for p in parked {
        sweep::unpark(&app.stack.deps, &p.lead_id, "operator")
            .await
            .unwrap();
    }
    app.drain().await;
    app.clock.advance(chrono::Duration::minutes(30));
    app.stack.escalate().await.unwrap();
    app.drain().await;
    assert!(
        app.sent_emails().await.len() >= 20,
        "the run sent its emails"
    );

    let text = logs.text();
    assert!(text.lines().count() > 50, "the run was logged");
    assert!(
        text.contains("messagerejected") && text.contains("<email>"),
        "SES's refusal is logged, its addresses left out"
    );
    for needle in personal_data() {
        assert!(
            !text.contains(&needle),
            "{needle:?} is in the logs:\n{}",
            text.lines()
                .filter(|l| l.contains(&needle))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    // The same text on the leads' timelines: errors are sanitised where they are made.
    let timelines: Vec<String> = {
        let mut all = Vec::new();
        for item in app.items().await {
            if item
                .get("entity")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|e| e == "event")
            {
                if let Some(s) = item.get("summary").and_then(|v| v.as_s().ok()) {
                    all.push(s.to_lowercase());
                }
            }
        }
        all
    };
    for needle in personal_data().iter().filter(|n| n.contains('@')) {
        assert!(
            timelines.iter().all(|s| !s.contains(needle.as_str())),
            "{needle:?} is on a timeline"
        );
    }
}

/// The `expires_at` (TTL, epoch seconds) of the items whose `pk` is `pk`.
fn expiries(
    items: &[std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>],
    pk: &str,
) -> Vec<Option<i64>> {
    items
        .iter()
        .filter(|i| {
            i.get("pk")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|p| p == pk)
        })
        .map(|i| {
            i.get("expires_at")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
        })
        .collect()
}

#[tokio::test]
async fn raw_deliveries_and_spam_leads_expire_and_real_leads_are_kept() {
    let app = TestApp::new().await;
    let now = app.clock.now().timestamp();
    let day = 86_400;
    let real = app.capture(app.signed_json(&ana())).await;
    let bot = app
        .capture(app.form("full_name=Bot&email=bot%40spam.example&website=http%3A%2F%2Fx"))
        .await;
    app.drain().await;
    assert!(app.lead(&bot).await.is_spam);
    let items = app.items().await;
    // The spam lead and its timeline go after 30 days.
    let spam = expiries(&items, &format!("LEAD#{bot}"));
    assert!(!spam.is_empty());
    assert!(spam.iter().all(|e| *e == Some(now + 30 * day)), "{spam:?}");
    // The real lead stays (its timeline and email records too).
    let kept = expiries(&items, &format!("LEAD#{real}"));
    assert!(
        kept.len() > 2 && kept.iter().all(Option::is_none),
        "{kept:?}"
    );
    // Both raw deliveries go after 90 days.
    for id in [&real, &bot] {
        let lead = app.lead(id).await;
        let delivery = expiries(&items, &format!("DELIVERY#{}", lead.delivery_id));
        assert_eq!(delivery, vec![Some(now + 90 * day)]);
    }
}
