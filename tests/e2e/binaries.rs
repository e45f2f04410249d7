//! The five real function binaries, run as Lambda runs them: each a child process polling a
//! Runtime API emulator (`leadrelay_e2e::lambda_runtime_api`), configured from the environment
//! the SAM template gives it, its configuration and secrets read from moto's SSM, and fed the
//! events AWS sends. Built by `cargo build --workspace --bins` (scripts/test does it first).

use std::path::PathBuf;
use std::sync::OnceLock;

use chrono::Utc;
use http::Request;
use leadrelay_aws::deps::Resources;
use leadrelay_aws::queue::QueueName;
use leadrelay_domain::lead::{EventKind, LeadStatus, Stage};
use leadrelay_e2e::lambda_functions::{
    api_gateway_event, binary, debug_binaries_dir, deploy, http_answer, scheduled_event, sqs_event,
    take_messages, LambdaProcess, SsmLayout, FUNCTIONS,
};
use leadrelay_e2e::lambda_runtime_api::InvocationError;
use serde_json::{json, Value};

use crate::support::*;

/// The API's named stage: API Gateway keeps it in `rawPath` (`/prod/v1/...`).
const STAGE: &str = "prod";
const API_ORIGIN: &str = "https://abc123.execute-api.us-east-1.amazonaws.com";
const CLIENT_IP: &str = "203.0.113.9";

/// The binaries' directory, once every one of them is there.
fn binaries() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = debug_binaries_dir();
        for name in FUNCTIONS {
            if binary(&dir, name).is_none() {
                panic!(
                    "{name} is not built in {}: run `cargo build --workspace --bins` first (scripts/test does)",
                    dir.display()
                );
            }
        }
        dir
    })
}

/// A stack on a shared moto server, deployed as the template deploys it: the configuration
/// (the local one with its links served on the API's stage) and every secret it names in SSM,
/// and the functions' environment.
struct Deployed {
    app: TestApp,
    env: Vec<(String, String)>,
}

fn on_the_api(c: &mut String) {
    *c = c.replace(LINKS_ORIGIN, &format!("{API_ORIGIN}/{STAGE}"));
}

impl Deployed {
    async fn new() -> Self {
        let app = TestApp::with_config(on_the_api).await;
        let mut text = LOCAL_CONFIG.replace("leads@leadrelay.example.com", &app.sender);
        on_the_api(&mut text);
        let deps = &app.stack.deps;
        let table = deps.store.table().to_owned();
        let prefix = table.trim_end_matches("-leads").to_owned();
        let resources = Resources {
            table,
            captured_queue_url: deps.queues.url(QueueName::Captured).to_owned(),
            scored_queue_url: deps.queues.url(QueueName::Scored).to_owned(),
            notify_queue_url: deps.queues.url(QueueName::Notify).to_owned(),
            sla_shards: deps.store.sla_shards(),
        };
        let env = deploy(
            &app.stack.sdk,
            &app.stack.endpoint,
            &text,
            &SsmLayout::for_prefix(&prefix),
            &resources,
        )
        .await
        .expect("configuration and secrets in SSM");
        Self { app, env }
    }

    /// The function `name` started and past its init.
    async fn start(&self, name: &str) -> LambdaProcess {
        let f = LambdaProcess::start(&binaries().join(name), name, &self.env)
            .await
            .expect("the binary starts");
        if let Err(e) = f.init().await {
            panic!("{name} did not start: {e}\n{}", f.output());
        }
        f
    }

    /// The messages on a queue now: exactly `n`, taken off it.
    async fn take(&self, q: QueueName, n: usize) -> Vec<(String, String)> {
        let sqs = self.app.stack.deps.queues.client();
        let url = self.app.stack.deps.queues.url(q);
        let mut all = Vec::new();
        for _ in 0..20 {
            if all.len() >= n {
                break;
            }
            let got = take_messages(sqs, url, 10, 1).await.expect("SQS receives");
            all.extend(got);
        }
        assert_eq!(all.len(), n, "messages on {q:?}: {all:?}");
        all
    }

    fn queue_url(&self, q: QueueName) -> &str {
        self.app.stack.deps.queues.url(q)
    }
}

/// Sends an HTTP request to capture as API Gateway delivers it on the named stage.
async fn call(capture: &LambdaProcess, req: &Request<Vec<u8>>) -> (u16, Value, Value) {
    let event = api_gateway_event(req, STAGE, CLIENT_IP);
    let answer = capture
        .invoke(event)
        .await
        .unwrap_or_else(|e| panic!("capture answers: {e}\n{}", capture.output()));
    let (status, body) = http_answer(&answer);
    (status, body, answer)
}

/// An SQS batch through a consumer; the ids it reported failed.
async fn consume(f: &LambdaProcess, queue_url: &str, messages: &[(String, String)]) -> Vec<String> {
    let answer = f
        .invoke(sqs_event(queue_url, messages))
        .await
        .unwrap_or_else(|e| panic!("{} answers: {e}\n{}", f.name, f.output()));
    answer["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("{} answers with batchItemFailures: {answer}", f.name))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn get(path: &str) -> Request<Vec<u8>> {
    Request::get(path).body(Vec::new()).unwrap()
}

#[tokio::test]
async fn a_lead_goes_through_the_six_real_binaries_and_ends_acknowledged_and_assigned() {
    let d = Deployed::new().await;
    let app = &d.app;
    let capture = d.start("capture").await;

    // Meta's subscription handshake, a GET on the named stage.
    let (status, body, _) = call(
        &capture,
        &get("/v1/webhooks/meta?hub.mode=subscribe&hub.verify_token=leadrelay-local-verify&hub.challenge=1158201444"),
    )
    .await;
    assert_eq!((status, body), (200, json!(1158201444)));

    // A signed JSON delivery, its body as text; signed now: the binaries keep real time.
    let (status, body, _) = call(&capture, &app.signed_json_at(&ana(), Utc::now(), None)).await;
    assert_eq!(status, 201, "{body}");
    let id = body["lead_id"].as_str().expect("a lead id").to_owned();
    // A form post, its body base64-encoded as API Gateway sends a form.
    let form = app.form("full_name=Hannah+Schmidt&email=hannah.schmidt%40example.com&message=Bitte+um+R%C3%BCckruf&website=");
    let event = api_gateway_event(&form, STAGE, CLIENT_IP);
    assert_eq!(event["isBase64Encoded"], true);
    assert!(event["rawPath"].as_str().unwrap().starts_with("/prod/v1/"));
    let (status, body, _) = call(&capture, &form).await;
    assert_eq!(status, 201, "{body}");
    let form_id = body["lead_id"].as_str().expect("a lead id").to_owned();
    assert_eq!(
        app.lead(&form_id).await.fields.message.as_deref(),
        Some("Bitte um Rückruf")
    );
    // An event whose body says base64 but is not: a 400 naming it, and the process lives on.
    let mut broken = api_gateway_event(&form, STAGE, CLIENT_IP);
    broken["body"] = json!("not base64 at all!");
    let answer = capture
        .invoke(broken)
        .await
        .unwrap_or_else(|e| panic!("capture answers: {e}\n{}", capture.output()));
    let (status, body) = http_answer(&answer);
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("malformed_request")),
        "{body}"
    );

    // enrich: both captured messages and a record that is no message, in one batch.
    let mut batch = d.take(QueueName::Captured, 2).await;
    batch.push(("not-a-message".into(), "{\"lead\":".into()));
    let enrich = d.start("enrich").await;
    let failed = consume(&enrich, d.queue_url(QueueName::Captured), &batch).await;
    assert_eq!(
        failed,
        vec!["not-a-message".to_owned()],
        "{}",
        enrich.output()
    );
    assert_eq!(app.lead(&id).await.stage, Stage::Scored);

    // route, then notify, each fed what the one before it put on its queue.
    let route = d.start("route").await;
    let scored = d.take(QueueName::Scored, 2).await;
    let failed = consume(&route, d.queue_url(QueueName::Scored), &scored).await;
    assert!(failed.is_empty(), "{failed:?}\n{}", route.output());
    let lead = app.lead(&id).await;
    assert_eq!(lead.stage, Stage::Routed);
    let owner = lead.assignment.clone().expect("an owner");

    let notify = d.start("notify").await;
    let mut emails = Vec::new();
    // Each routed lead has its acknowledgement and its assignment to send.
    for _ in 0..10 {
        let waiting = take_messages(
            app.stack.deps.queues.client(),
            d.queue_url(QueueName::Notify),
            10,
            1,
        )
        .await
        .unwrap();
        if waiting.is_empty() {
            if emails.is_empty() {
                continue;
            }
            break;
        }
        let failed = consume(&notify, d.queue_url(QueueName::Notify), &waiting).await;
        assert!(failed.is_empty(), "{failed:?}\n{}", notify.output());
        emails.extend(waiting);
    }
    let to_lead = app.emails_to("ana.ferreira@northwind-logistics.com").await;
    assert_eq!(to_lead.len(), 1, "the acknowledgement: {to_lead:?}");
    let to_owner = app.emails_to(&owner.owner_email).await;
    assert_eq!(to_owner.len(), 1, "the assignment: {to_owner:?}");
    assert_eq!(app.emails_to("hannah.schmidt@example.com").await.len(), 1);

    // escalate: the scheduled pass, minutes before the lead's SLA is due: nothing to do.
    let escalate = d.start("escalate").await;
    let report = escalate
        .invoke(scheduled_event(Utc::now()))
        .await
        .unwrap_or_else(|e| panic!("escalate answers: {e}\n{}", escalate.output()));
    assert_eq!(report["failed"], 0, "{report}");
    assert_eq!(report["unreadable"], 0, "{report}");
    assert_eq!(report["reminded"], 0, "{report}");

    // backstop: the scheduled poll, with only the platform tokens' secrets; the local
    // configuration asks no platform, so the pass polls nothing.
    let backstop = d.start("backstop").await;
    let report = backstop
        .invoke(scheduled_event(Utc::now()))
        .await
        .unwrap_or_else(|e| panic!("backstop answers: {e}\n{}", backstop.output()));
    assert_eq!(report["polled"], 0, "{report}");
    assert_eq!(report["failed"], 0, "{report}");

    // The owner opens the contacted link from the email (its base URL on the stage), then
    // confirms from the page, as the browser posts its form.
    let link = contacted_link(&to_owner[0].body);
    assert!(
        to_owner[0]
            .body
            .contains(&format!("{API_ORIGIN}/{STAGE}/v1/leads/")),
        "{}",
        to_owner[0].body
    );
    let (status, page, _) = call(&capture, &get(&link)).await;
    assert_eq!(status, 200, "{page}");
    let page = page.as_str().expect("an HTML page").to_owned();
    assert!(page.contains("name=\"token\""), "{page}");
    let (status, body, _) = call(&capture, &contacted_post(&link, &[("origin", API_ORIGIN)])).await;
    assert_eq!(status, 200, "{body}");

    // The CRM moves the lead on through the status endpoint.
    let status_change = Request::post(format!("/v1/leads/{id}/status"))
        .header("authorization", "Bearer local-crm-token")
        .header("content-type", "application/json")
        .body(
            json!({"status": "qualified", "actor": "hubspot"})
                .to_string()
                .into_bytes(),
        )
        .unwrap();
    let (status, body, _) = call(&capture, &status_change).await;
    assert_eq!(status, 200, "{body}");

    let lead = app.lead(&id).await;
    assert_eq!(lead.status, LeadStatus::Qualified);
    assert_eq!(
        lead.assignment.as_ref().map(|a| &a.owner_id),
        Some(&owner.owner_id)
    );
    assert!(lead.sla.as_ref().and_then(|s| s.contacted_at).is_some());
    let kinds = app.event_kinds(&id).await;
    for kind in [
        EventKind::Captured,
        EventKind::Scored,
        EventKind::Routed,
        EventKind::EmailSent,
        EventKind::Contacted,
        EventKind::StatusChanged,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} in {kinds:?}");
    }
    // The acknowledgement went out once; nothing more to the owner.
    assert_eq!(
        app.emails_to("ana.ferreira@northwind-logistics.com")
            .await
            .len(),
        1
    );
    assert_eq!(app.emails_to(&owner.owner_email).await.len(), 1);

    // Two deliveries refused: one unsigned, one to a source nobody configured.
    let unsigned = Request::post("/v1/webhooks/json")
        .header("content-type", "application/json")
        .body(ana().to_string().into_bytes())
        .unwrap();
    assert_eq!(call(&capture, &unsigned).await.0, 401);
    let nowhere = Request::post("/v1/webhooks/ana-ferreira")
        .header("content-type", "application/json")
        .body(b"{}".to_vec())
        .unwrap();
    assert_eq!(call(&capture, &nowhere).await.0, 404);

    // What the five wrote on stdout: Lambda's JSON log lines, each with its invocation's
    // request id, and the metrics in EMF, written within the invocation they count.
    let capture_metrics = lambda_output(&capture);
    let has = |metrics: &[Emf], name: &str, dims: &[(&str, &str)]| {
        metrics.iter().any(|m| {
            m.names.iter().any(|n| n == name)
                && dims
                    .iter()
                    .all(|(k, v)| m.dimensions.get(*k).is_some_and(|d| d == v))
        })
    };
    assert!(
        has(&capture_metrics, "ColdStart", &[("Function", "capture")]),
        "{capture_metrics:?}"
    );
    assert!(
        has(&capture_metrics, "LeadsCaptured", &[("Source", "json")]),
        "{capture_metrics:?}"
    );
    assert!(
        has(&capture_metrics, "LeadsCaptured", &[("Source", "form")]),
        "{capture_metrics:?}"
    );
    // By source and reason: the caller's source name is no dimension (`unknown`), and an
    // event that is no HTTP request is counted too.
    for (source, reason) in [
        ("json", "unauthorized"),
        ("unknown", "unknown_source"),
        ("unknown", "malformed_request"),
    ] {
        assert!(
            has(
                &capture_metrics,
                "LeadsRefused",
                &[("Source", source), ("Reason", reason)]
            ),
            "{source} {reason}: {capture_metrics:?}"
        );
    }
    let enrich_metrics = lambda_output(&enrich);
    assert!(
        has(&enrich_metrics, "MessagesFailed", &[("Queue", "captured")]),
        "{enrich_metrics:?}"
    );
    let route_metrics = lambda_output(&route);
    assert!(
        has(
            &route_metrics,
            "LeadsRouted",
            &[("Team", owner.team.as_str())]
        ),
        "{route_metrics:?}"
    );
    assert!(
        has(&route_metrics, "ArrivalToAssignedMs", &[]),
        "{route_metrics:?}"
    );
    let notify_metrics = lambda_output(&notify);
    for kind in ["acknowledgement", "assignment"] {
        assert!(
            has(&notify_metrics, "EmailsSent", &[("Kind", kind)]),
            "{notify_metrics:?}"
        );
    }
    assert!(
        has(&notify_metrics, "ArrivalToAcknowledgedMs", &[]),
        "{notify_metrics:?}"
    );
    // A pass with nothing due logs nothing; its metrics still come.
    let escalate_metrics = lambda_output_of(&escalate, false);
    assert!(
        has(&escalate_metrics, "ColdStart", &[("Function", "escalate")]),
        "{escalate_metrics:?}"
    );
    for f in [&capture, &enrich, &route, &notify, &escalate] {
        let out = f.output();
        for personal in [
            "Ferreira",
            "ana.ferreira@northwind-logistics.com",
            "Ana.Ferreira@Northwind-Logistics.com",
            "555-2671",
            "5552671",
            "Hannah",
            "hannah.schmidt@example.com",
            "ana-ferreira",
        ] {
            assert!(
                !out.contains(personal),
                "{} wrote {personal:?}:\n{out}",
                f.name
            );
        }
    }
}

/// One EMF document: its metrics' names and its dimensions' values.
#[derive(Debug)]
struct Emf {
    names: Vec<String>,
    dimensions: std::collections::BTreeMap<String, String>,
}

/// Checks every line `f` wrote: a JSON object, either a log line in Lambda's JSON format
/// (`timestamp`, `level`, `message`) carrying the `requestId` of one of its invocations, or an
/// EMF document in the `Leadrelay` namespace carrying it as a property. The EMF documents.
fn lambda_output(f: &LambdaProcess) -> Vec<Emf> {
    lambda_output_of(f, true)
}

/// [`lambda_output`], for a function that may have had nothing to log (`logs: false`).
fn lambda_output_of(f: &LambdaProcess, logs_expected: bool) -> Vec<Emf> {
    let out = f.output();
    let ids = f.api.request_ids();
    assert!(!ids.is_empty(), "{} was invoked", f.name);
    let mut metrics = Vec::new();
    let mut logs = 0;
    for line in out.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{}: a line that is not JSON ({e}): {line}", f.name));
        let request_id = v["requestId"].as_str().unwrap_or_default();
        assert!(
            ids.iter().any(|id| id == request_id),
            "{}: a line without the request id of an invocation ({ids:?}): {line}",
            f.name
        );
        let Some(aws) = v.get("_aws") else {
            logs += 1;
            for field in ["timestamp", "level", "message"] {
                assert!(v[field].is_string(), "{}: no {field}: {line}", f.name);
            }
            continue;
        };
        let doc = &aws["CloudWatchMetrics"][0];
        assert_eq!(doc["Namespace"], "Leadrelay", "{line}");
        let names: Vec<String> = doc["Metrics"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["Name"].as_str().map(str::to_owned))
            .collect();
        for n in &names {
            assert!(
                !v[n.as_str()].is_null(),
                "{}: {n} has no value: {line}",
                f.name
            );
        }
        let dimensions = doc["Dimensions"][0]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d.as_str())
            .map(|d| (d.to_owned(), v[d].as_str().unwrap_or_default().to_owned()))
            .collect();
        metrics.push(Emf { names, dimensions });
    }
    assert!(
        !logs_expected || logs > 0,
        "{} logged nothing:\n{out}",
        f.name
    );
    metrics
}

#[tokio::test]
async fn a_binary_without_its_configuration_reports_an_init_error_and_takes_no_event() {
    let d = Deployed::new().await;
    let env: Vec<(String, String)> = d
        .env
        .iter()
        .filter(|(k, _)| k != "LEADRELAY_TABLE")
        .cloned()
        .collect();
    let mut route = LambdaProcess::start(&binaries().join("route"), "route", &env)
        .await
        .expect("the binary starts");
    let e = route
        .api
        .init_error()
        .await
        .unwrap_or_else(|| panic!("route reports its failed init\n{}", route.output()));
    assert_eq!(e.error_type, "Runtime.InitError");
    assert!(e.error_message.contains("LEADRELAY_TABLE"), "{e:?}");
    assert!(route.api.first_poll().is_none(), "no event asked for");
    let status = route
        .wait_exit(std::time::Duration::from_secs(10))
        .await
        .expect("the process ends");
    assert!(!status.success());
    // An invocation meets the init error, as Lambda answers it.
    let r = route
        .invoke(sqs_event(d.queue_url(QueueName::Scored), &[]))
        .await;
    assert!(matches!(r, Err(InvocationError::Init(_))), "{r:?}");
}

#[tokio::test]
async fn a_secret_missing_from_ssm_stops_capture_at_init_with_its_name() {
    let d = Deployed::new().await;
    let ssm = aws_sdk_ssm::Client::new(&d.app.stack.sdk);
    let config = d
        .env
        .iter()
        .find(|(k, _)| k == "LEADRELAY_CONFIG")
        .map(|(_, v)| v.trim_start_matches("ssm:").to_owned())
        .unwrap();
    let text = ssm
        .get_parameter()
        .name(&config)
        .send()
        .await
        .unwrap()
        .parameter
        .and_then(|p| p.value)
        .unwrap();
    let name = text
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("secret = \"ssm:")
                .filter(|n| n.contains("/webhooks/json"))
        })
        .map(|n| n.trim_end_matches('"').to_owned())
        .expect("the json source's secret is an SSM reference");
    ssm.delete_parameter().name(&name).send().await.unwrap();
    let capture = LambdaProcess::start(&binaries().join("capture"), "capture", &d.env)
        .await
        .unwrap();
    let e = capture
        .api
        .init_error()
        .await
        .expect("capture reports its failed init");
    assert!(e.error_message.contains(&name), "{e:?}");
    assert!(!e.error_message.contains("local-json-secret"));
}
