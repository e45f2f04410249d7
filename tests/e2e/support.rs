//! `TestApp`: a whole Leadrelay on moto's server, built by the same `LocalStack` the
//! `leadrelay local` command uses, with an injected clock. Each test gets its own table,
//! queues and sender address on one of the moto servers the tests share.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use http::{Request, StatusCode};
use leadrelay_cli::local::{LocalStack, MotoServer, StackOptions};
use leadrelay_domain::lead::{EventKind, Lead};
use leadrelay_domain::{Clock, Config, ManualClock};
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::OnceCell;

pub const LOCAL_CONFIG: &str = include_str!("../../infra/config/local.toml");
pub const JSON_SECRET: &str = "local-json-secret";
pub const FORM_TOKEN: &str = "local-form-token";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// moto's server is one Python process, and under these tests it keeps one core busy (its
/// interpreter lock) while the test process uses a fifth of another: with one server the
/// second core idled and the suite took 164 s here. The tests share two servers, each new
/// stack on the one fewer live stacks use.
const MOTO_SERVERS: usize = 2;
static MOTO: [OnceCell<String>; MOTO_SERVERS] = [const { OnceCell::const_new() }; MOTO_SERVERS];
static MOTO_STACKS: [AtomicUsize; MOTO_SERVERS] = [const { AtomicUsize::new(0) }; MOTO_SERVERS];

/// A stack's place on one of the moto servers, given back when the stack is dropped.
pub struct MotoTurn(usize);

impl Drop for MotoTurn {
    fn drop(&mut self) {
        MOTO_STACKS[self.0].fetch_sub(1, Ordering::SeqCst);
    }
}

/// The endpoint of the moto server with the fewest live stacks (each starts at its first use
/// and stops when the test binary exits), and the stack's place on it.
async fn moto_endpoint() -> (String, MotoTurn) {
    let i = (0..MOTO_SERVERS)
        .min_by_key(|&i| MOTO_STACKS[i].load(Ordering::SeqCst))
        .unwrap_or(0);
    MOTO_STACKS[i].fetch_add(1, Ordering::SeqCst);
    let turn = MotoTurn(i);
    let endpoint = MOTO[i]
        .get_or_init(|| async {
            MotoServer::start()
                .await
                .expect("moto_server starts (run scripts/bootstrap)")
                .leak()
        })
        .await
        .clone();
    (endpoint, turn)
}

pub fn t(s: &str) -> DateTime<Utc> {
    s.parse().expect("test time is RFC 3339")
}

/// An email as moto recorded it.
#[derive(Debug, Clone)]
pub struct SentEmail {
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

pub struct TestApp {
    pub stack: Arc<LocalStack>,
    pub clock: ManualClock,
    pub sender: String,
    _moto: MotoTurn,
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_config(|_| {}).await
    }

    /// A stack whose configuration is the local one, edited by `edit`.
    pub async fn with_config(edit: impl FnOnce(&mut String)) -> Self {
        Self::on(moto_endpoint().await, edit, None).await
    }

    /// A stack that talks to moto through a fault-injecting proxy (`fault_proxy`), whose
    /// failed messages come back at the next receive (no 2 s wait), so a test drives retries
    /// and the dead-letter redrive by draining.
    pub async fn behind_fault_proxy() -> (Self, crate::fault_proxy::FaultProxy) {
        let (moto, turn) = moto_endpoint().await;
        let proxy = crate::fault_proxy::FaultProxy::start(&moto).await;
        let app = Self::on((proxy.endpoint.clone(), turn), |_| {}, Some(0)).await;
        (app, proxy)
    }

    /// A stack straight on moto whose failed messages come back at the next receive.
    pub async fn with_immediate_retries() -> Self {
        Self::on(moto_endpoint().await, |_| {}, Some(0)).await
    }

    async fn on(
        (endpoint, moto): (String, MotoTurn),
        edit: impl FnOnce(&mut String),
        retry_delay_secs: Option<i32>,
    ) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("t{}-{n}", ulid::Ulid::new().to_string().to_lowercase());
        let sender = format!("leads-{prefix}@leadrelay.example.com");
        let mut text = LOCAL_CONFIG.replace("leads@leadrelay.example.com", &sender);
        edit(&mut text);
        let config = Config::from_toml(&text, "test config").expect("test config is valid");
        let clock = ManualClock::new(t("2026-03-02T10:00:00Z"));
        let mut stack = LocalStack::start(StackOptions {
            endpoint: Some(endpoint),
            prefix,
            config,
            clock: Arc::new(clock.clone()),
            print_journey: false,
        })
        .await
        .expect("local stack starts");
        if let Some(secs) = retry_delay_secs {
            stack = stack.with_retry_delay(secs);
        }
        Self {
            stack: Arc::new(stack),
            clock,
            sender,
            _moto: moto,
        }
    }

    /// A delivery to the json source, signed now (the source requires the timestamp).
    pub fn signed_json(&self, body: &Value) -> Request<Vec<u8>> {
        self.signed_json_at(body, self.clock.now(), None)
    }

    /// A delivery to the json source with its `Idempotency-Key`, signed now.
    pub fn signed_json_with_key(&self, body: &Value, key: &str) -> Request<Vec<u8>> {
        self.signed_json_at(body, self.clock.now(), Some(key))
    }

    /// A delivery to the json source signed at `at`, with the `Idempotency-Key` if given.
    pub fn signed_json_at(
        &self,
        body: &Value,
        at: DateTime<Utc>,
        idempotency_key: Option<&str>,
    ) -> Request<Vec<u8>> {
        self.signed_bytes_at(serde_json::to_vec(body).unwrap(), at, idempotency_key)
    }

    /// These bytes, as a delivery to the json source signed now.
    pub fn signed_bytes(&self, raw: Vec<u8>) -> Request<Vec<u8>> {
        self.signed_bytes_at(raw, self.clock.now(), None)
    }

    /// These bytes, as a delivery to the json source signed at `at`.
    pub fn signed_bytes_at(
        &self,
        raw: Vec<u8>,
        at: DateTime<Utc>,
        idempotency_key: Option<&str>,
    ) -> Request<Vec<u8>> {
        let ts = at.timestamp().to_string();
        let sig = sign(JSON_SECRET, Some(&ts), idempotency_key, &raw);
        let mut req = Request::post("/v1/webhooks/json")
            .header("content-type", "application/json")
            .header("x-leadrelay-timestamp", ts)
            .header("x-leadrelay-signature", sig);
        if let Some(key) = idempotency_key {
            req = req.header("idempotency-key", key);
        }
        req.body(raw).unwrap()
    }

    pub fn form(&self, body: &str) -> Request<Vec<u8>> {
        Request::post(format!("/v1/webhooks/form?token={FORM_TOKEN}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    /// Sends a request through the capture handler; the status and the JSON body.
    pub async fn send(&self, req: Request<Vec<u8>>) -> (StatusCode, Value) {
        let r = self.stack.http(req).await;
        let status = r.status();
        let body =
            serde_json::from_str(r.body()).unwrap_or_else(|_| Value::String(r.body().clone()));
        (status, body)
    }

    /// Sends a request and returns the lead id of a 201.
    pub async fn capture(&self, req: Request<Vec<u8>>) -> String {
        let (status, body) = self.send(req).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["lead_id"]
            .as_str()
            .expect("lead_id in the answer")
            .to_owned()
    }

    /// Runs the pipeline until every queue is empty.
    pub async fn drain(&self) {
        self.stack.drain().await.expect("pipeline drains");
    }

    pub async fn lead(&self, id: &str) -> Lead {
        self.stack
            .deps
            .store
            .get_lead(id)
            .await
            .unwrap()
            .expect("lead exists")
    }

    /// The kinds of a lead's timeline events, oldest first.
    pub async fn event_kinds(&self, id: &str) -> Vec<EventKind> {
        let timeline = self.stack.deps.store.timeline(id).await.unwrap();
        timeline.iter().map(|e| e.kind).collect()
    }

    /// Ana's signed JSON lead, captured and carried through the pipeline: routed, emails sent.
    pub async fn routed_lead(&self) -> String {
        let id = self.capture(self.signed_json(&ana())).await;
        self.drain().await;
        id
    }

    /// A routed lead whose owner contacted it `after` its assignment: a CRM moved it to
    /// working (its first contact).
    pub async fn routed_lead_worked_after(&self, after: chrono::Duration) -> String {
        let id = self.routed_lead().await;
        self.clock.advance(after);
        let working = leadrelay_domain::lifecycle::StatusChange {
            to: leadrelay_domain::lead::LeadStatus::Working,
            reason: None,
            recycle_at: None,
        };
        leadrelay_capture::status::change_status(&self.stack.deps, &id, &working, "crm:test")
            .await
            .unwrap();
        id
    }

    /// Every item in this test's table (tests may scan; handlers never do) but the SLA shards
    /// record the table is made with: what requests stored.
    pub async fn items(
        &self,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let mut all = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .stack
                .deps
                .store
                .client()
                .scan()
                .table_name(self.stack.deps.store.table())
                .set_exclusive_start_key(start)
                .send()
                .await
                .unwrap();
            all.extend(out.items.unwrap_or_default().into_iter().filter(|i| {
                i.get("entity")
                    .and_then(|v| v.as_s().ok())
                    .map(String::as_str)
                    != Some("sla-shards")
            }));
            match out.last_evaluated_key {
                Some(k) => start = Some(k),
                None => return all,
            }
        }
    }

    pub async fn items_with_entity(&self, entity: &str) -> usize {
        self.items()
            .await
            .iter()
            .filter(|i| {
                i.get("entity")
                    .and_then(|v| v.as_s().ok())
                    .is_some_and(|e| e == entity)
            })
            .count()
    }

    /// moto's whole state. Its dump walks every backend while other tests' requests change
    /// them, and now and then fails mid-walk (a Python "dictionary changed size" error): read
    /// again when it does.
    async fn moto_state(&self) -> Value {
        // Only SES's models (scripts/moto_server.py): the full dump grows with every item written.
        let url = format!("{}/moto-api/data.json?service=ses", self.stack.endpoint);
        let mut last = String::new();
        for _ in 0..20 {
            let r = reqwest::get(&url).await.expect("moto answers");
            match r.json::<Value>().await {
                Ok(v) => return v,
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("moto's state could not be read: {last}");
    }

    /// The emails moto recorded as sent from this test's sender.
    pub async fn sent_emails(&self) -> Vec<SentEmail> {
        let data = self.moto_state().await;
        data["ses"]["Message"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|m| {
                m["source"]
                    .as_str()
                    .is_some_and(|s| s.contains(&self.sender))
            })
            .map(|m| SentEmail {
                to: m["destinations"]["ToAddresses"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                subject: m["subject"].as_str().unwrap_or_default().to_owned(),
                body: m["body"].as_str().unwrap_or_default().to_owned(),
            })
            .collect()
    }

    pub async fn emails_to(&self, address: &str) -> Vec<SentEmail> {
        self.sent_emails()
            .await
            .into_iter()
            .filter(|e| e.to.iter().any(|t| t == address))
            .collect()
    }
}

/// The `X-Leadrelay-Signature` a sender computes, as docs/webhook-api.md tells them to:
/// `v1=` and the hex HMAC-SHA256 of `v1\n<timestamp>\n<Idempotency-Key>\n<body>`, each
/// header empty when it is not sent. Written out here rather than calling the domain's, so a
/// change to either shows.
pub fn sign(
    secret: &str,
    timestamp: Option<&str>,
    idempotency_key: Option<&str>,
    body: &[u8],
) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(b"v1\n");
    m.update(timestamp.unwrap_or_default().as_bytes());
    m.update(b"\n");
    m.update(idempotency_key.unwrap_or_default().as_bytes());
    m.update(b"\n");
    m.update(body);
    format!("v1={}", hex::encode(m.finalize().into_bytes()))
}

/// A realistic lead.
pub fn ana() -> Value {
    serde_json::json!({
        "email": "Ana.Ferreira@Northwind-Logistics.com",
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
}

/// The origin of `links.base_url` in the local configuration: where the confirmation page of a
/// contacted link is served from.
pub const LINKS_ORIGIN: &str = "http://127.0.0.1:3000";

/// The form on a contacted link's confirmation page: the path it posts to (without the base
/// URL's origin) and its hidden token.
pub fn confirmation_form(page: &str) -> (String, String) {
    let attr = |name: &str| {
        let at = page
            .find(&format!("{name}=\""))
            .unwrap_or_else(|| panic!("{name} in the page: {page}"));
        let rest = &page[at + name.len() + 2..];
        let value = &rest[..rest.find('"').expect("a closing quote")];
        value.replace("&amp;", "&").replace("&quot;", "\"")
    };
    let action = attr("action");
    let path = action
        .strip_prefix(LINKS_ORIGIN)
        .unwrap_or_else(|| panic!("the form posts to the links' base URL: {action}"))
        .to_owned();
    let token = page
        .find("name=\"token\"")
        .map(|at| &page[at..])
        .and_then(|rest| rest.find("value=\"").map(|v| &rest[v + 7..]))
        .map(|v| v[..v.find('"').expect("a closing quote")].replace("&amp;", "&"))
        .expect("the hidden token in the form");
    (path, token)
}

/// The POST the confirmation page's button makes for a contacted link from an email, from the
/// page's own origin as a browser sends it, plus `headers`.
pub fn contacted_post(link: &str, headers: &[(&str, &str)]) -> Request<Vec<u8>> {
    let (path, query) = link.split_once('?').unwrap_or((link, ""));
    // A token is URL-safe as it stands (digits, dots and base64url).
    let token = query
        .split('&')
        .find_map(|p| p.strip_prefix("token="))
        .unwrap_or_default();
    confirmation_post(path, token, headers)
}

/// A form POST of `token` to `path`, with `headers`.
pub fn confirmation_post(path: &str, token: &str, headers: &[(&str, &str)]) -> Request<Vec<u8>> {
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
        "a token needs no encoding: {token}"
    );
    let body = format!("token={token}");
    let mut r = Request::post(path).header("content-type", "application/x-www-form-urlencoded");
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(body.into_bytes()).unwrap()
}

/// The contacted link in an email body.
pub fn contacted_link(body: &str) -> String {
    let start = body
        .find("/v1/leads/")
        .expect("a contacted link in the email");
    let rest = &body[start..];
    let end = rest.find(['"', '\n', ' ', '<']).unwrap_or(rest.len());
    rest[..end].replace("&amp;", "&")
}
