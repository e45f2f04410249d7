//! A fault-injecting HTTP proxy in front of moto, for the faults moto cannot produce
//! (throttling, `TransactionConflict`, a 5xx on one item). Every request is passed on to moto
//! unchanged, unless a fault a test set matches it: then the proxy answers in moto's place
//! with the status and AWS error body the fault names, as AWS would.
//!
//! A fault matches on the operation (`X-Amz-Target`'s operation for DynamoDB and SQS, the
//! `Action` of a query-protocol body for SES) and optionally on a substring of the body (a
//! lead id, a table item's key); it answers the next N matching requests, or every one until
//! lifted. Nothing here imitates DynamoDB, SQS or SES: moto answers everything else.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// An answer in the service's own error format.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    content_type: &'static str,
    body: String,
    /// SQS's JSON protocol names the query-compatible error code in this header.
    query_error: Option<&'static str>,
}

impl Reply {
    fn dynamodb(status: u16, error_type: &str, message: &str, extra: serde_json::Value) -> Self {
        let mut body = serde_json::json!({
            "__type": format!("com.amazonaws.dynamodb.v20120810#{error_type}"),
            "message": message,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        Self {
            status,
            content_type: "application/x-amz-json-1.0",
            body: body.to_string(),
            query_error: None,
        }
    }

    /// DynamoDB: 400 `ProvisionedThroughputExceededException` (or on-demand throttling).
    pub fn throughput_exceeded() -> Self {
        Self::dynamodb(
            400,
            "ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.",
            serde_json::json!({}),
        )
    }

    /// DynamoDB: a transaction of `items` writes cancelled because another transaction holds
    /// item `conflicting` (400 `TransactionCanceledException`, reason `TransactionConflict`).
    pub fn transaction_conflict(items: usize, conflicting: usize) -> Self {
        Self::transaction_cancelled(items, conflicting, "TransactionConflict")
    }

    /// DynamoDB: a transaction of `items` writes cancelled because the condition of item
    /// `failing` did not hold (someone else wrote it since it was read).
    pub fn transaction_condition_failed(items: usize, failing: usize) -> Self {
        Self::transaction_cancelled(items, failing, "ConditionalCheckFailed")
    }

    fn transaction_cancelled(items: usize, failing: usize, code: &str) -> Self {
        let codes: Vec<&str> = (0..items)
            .map(|i| if i == failing { code } else { "None" })
            .collect();
        let reasons: Vec<serde_json::Value> = codes
            .iter()
            .map(|&c| match c {
                "None" => serde_json::json!({ "Code": "None" }),
                c => serde_json::json!({ "Code": c, "Message": "The conditional request failed" }),
            })
            .collect();
        Self::dynamodb(
            400,
            "TransactionCanceledException",
            &format!(
                "Transaction cancelled, please refer cancellation reasons for specific reasons [{}]",
                codes.join(", ")
            ),
            serde_json::json!({ "CancellationReasons": reasons }),
        )
    }

    /// DynamoDB: 500 `InternalServerError`.
    pub fn dynamodb_internal_error() -> Self {
        Self::dynamodb(
            500,
            "InternalServerError",
            "Internal server error",
            serde_json::json!({}),
        )
    }

    /// SES (query protocol): 400 `Throttling`, "Maximum sending rate exceeded."
    pub fn ses_throttling() -> Self {
        Self {
            status: 400,
            content_type: "text/xml",
            body: "<ErrorResponse xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Maximum sending rate exceeded.</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>".into(),
            query_error: None,
        }
    }

    /// Any service, the emulator gone: 503 with no AWS error body, as a load balancer answers
    /// for a service that is down (the SDK treats it as a transient server error).
    pub fn unavailable() -> Self {
        Self {
            status: 503,
            content_type: "text/plain",
            body: "upstream unavailable".into(),
            query_error: None,
        }
    }

    /// SQS (JSON protocol): 400 `ThrottlingException`.
    pub fn sqs_throttling() -> Self {
        Self {
            status: 400,
            content_type: "application/x-amz-json-1.0",
            body: serde_json::json!({
                "__type": "com.amazonaws.sqs#ThrottlingException",
                "message": "Rate exceeded",
            })
            .to_string(),
            query_error: Some("ThrottlingException;Sender"),
        }
    }
}

struct Rule {
    id: u64,
    operation: String,
    body_contains: Option<String>,
    /// Requests still to fail; `None`: every one until lifted.
    remaining: Option<u32>,
    reply: Reply,
    served: Arc<AtomicU32>,
}

#[derive(Default)]
struct Shared {
    rules: Mutex<Vec<Rule>>,
    next_id: AtomicU64,
    /// Every request passed through, by service and operation (`DynamoDB.PutItem`): what an
    /// AWS bill would count.
    requests: Mutex<BTreeMap<String, u64>>,
}

/// What a test set: how often it answered, and lifting it.
#[derive(Clone)]
pub struct Fault {
    id: u64,
    served: Arc<AtomicU32>,
    shared: Arc<Shared>,
}

impl Fault {
    /// How many requests this fault answered.
    pub fn served(&self) -> u32 {
        self.served.load(Ordering::SeqCst)
    }

    /// From now on, requests it matched reach moto again.
    pub fn lift(&self) {
        self.shared
            .rules
            .lock()
            .expect("rules lock")
            .retain(|r| r.id != self.id);
    }
}

/// A fault being described: `proxy.fail("PutItem").times(3).with(Reply::throughput_exceeded())`.
pub struct FaultBuilder<'p> {
    proxy: &'p FaultProxy,
    operation: String,
    body_contains: Option<String>,
    remaining: Option<u32>,
}

impl FaultBuilder<'_> {
    /// Only requests whose body contains `s` (a lead id, an item key).
    pub fn where_body_contains(mut self, s: &str) -> Self {
        self.body_contains = Some(s.to_owned());
        self
    }

    /// The next `n` matching requests; without it, every one until lifted.
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = Some(n);
        self
    }

    /// Sets the fault: matching requests get `reply` from now on.
    pub fn with(self, reply: Reply) -> Fault {
        let shared = &self.proxy.shared;
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        let served = Arc::new(AtomicU32::new(0));
        shared.rules.lock().expect("rules lock").push(Rule {
            id,
            operation: self.operation,
            body_contains: self.body_contains,
            remaining: self.remaining,
            reply,
            served: served.clone(),
        });
        Fault {
            id,
            served,
            shared: shared.clone(),
        }
    }
}

/// The proxy: listening on a free local port, passing on to `upstream`.
pub struct FaultProxy {
    pub endpoint: String,
    shared: Arc<Shared>,
    _server: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Upstream {
    base: String,
    client: reqwest::Client,
    shared: Arc<Shared>,
}

impl FaultProxy {
    pub async fn start(upstream: &str) -> Self {
        let shared = Arc::new(Shared::default());
        let state = Upstream {
            base: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .expect("HTTP client builds"),
            shared: shared.clone(),
        };
        let app = axum::Router::new()
            .fallback(forward)
            .layer(DefaultBodyLimit::disable())
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free local port");
        let endpoint = format!("http://{}", listener.local_addr().expect("bound address"));
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            endpoint,
            shared,
            _server: server,
        }
    }

    /// The emulator goes away: every request of every service fails until the fault is lifted.
    pub fn go_down(&self) -> Fault {
        self.fail(ANY).with(Reply::unavailable())
    }

    /// Starts describing a fault on `operation` (`PutItem`, `TransactWriteItems`, `GetItem`,
    /// `SendEmail`, `SendMessage`, …).
    pub fn fail(&self, operation: &str) -> FaultBuilder<'_> {
        FaultBuilder {
            proxy: self,
            operation: operation.to_owned(),
            body_contains: None,
            remaining: None,
        }
    }
}

impl FaultProxy {
    /// The requests made through the proxy since it started, by `Service.Operation`
    /// (`DynamoDB.TransactWriteItems`, `SQS.SendMessage`, `SES.SendEmail`), faults included.
    pub fn requests(&self) -> BTreeMap<String, u64> {
        self.shared.requests.lock().expect("requests lock").clone()
    }

    /// The requests made since `before` (an earlier [`FaultProxy::requests`]), by operation;
    /// operations not called since are left out.
    pub fn requests_since(&self, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
        self.requests()
            .into_iter()
            .map(|(op, n)| {
                let earlier = before.get(&op).copied().unwrap_or(0);
                (op, n - earlier)
            })
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

/// The service a request calls, by its protocol: `X-Amz-Target`'s prefix for the JSON
/// protocols (DynamoDB, SQS, SSM), the query protocol's form body for SES.
fn service(headers: &HeaderMap) -> &'static str {
    match headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        Some(t) if t.starts_with("DynamoDB") => "DynamoDB",
        Some(t) if t.starts_with("AmazonSQS") => "SQS",
        Some(t) if t.starts_with("AmazonSSM") => "SSM",
        Some(_) => "other",
        None => "SES",
    }
}

/// The operation of [`FaultProxy::go_down`]'s fault: every one.
const ANY: &str = "*";

/// The operation a request calls: `X-Amz-Target: DynamoDB_20120810.PutItem` (JSON protocols),
/// else the `Action` of a query-protocol form body (SES).
fn operation(headers: &HeaderMap, body: &[u8]) -> Option<String> {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        return target.rsplit('.').next().map(str::to_owned);
    }
    form_action(body)
}

fn form_action(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .map(str::to_owned)
}

/// The fault that takes this request, if any (counting it).
fn matching(shared: &Shared, op: Option<&str>, body: &[u8]) -> Option<Reply> {
    let op = op?;
    let mut rules = shared.rules.lock().expect("rules lock");
    let body = String::from_utf8_lossy(body);
    let rule = rules.iter_mut().find(|r| {
        (r.operation == op || r.operation == ANY)
            && r.remaining != Some(0)
            && r.body_contains.as_deref().is_none_or(|s| body.contains(s))
    })?;
    if let Some(n) = rule.remaining.as_mut() {
        *n -= 1;
    }
    rule.served.fetch_add(1, Ordering::SeqCst);
    Some(rule.reply.clone())
}

async fn forward(
    State(up): State<Upstream>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let op = operation(&headers, &body);
    if let Some(op) = &op {
        *up.shared
            .requests
            .lock()
            .expect("requests lock")
            .entry(format!("{}.{op}", service(&headers)))
            .or_default() += 1;
    }
    if let Some(reply) = matching(&up.shared, op.as_deref(), &body) {
        let mut r = (
            StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [("content-type", reply.content_type)],
            reply.body,
        )
            .into_response();
        r.headers_mut().insert(
            "x-amzn-requestid",
            axum::http::HeaderValue::from_static("fault-proxy"),
        );
        if let Some(q) = reply.query_error {
            r.headers_mut().insert(
                "x-amzn-query-error",
                axum::http::HeaderValue::from_static(q),
            );
        }
        return r;
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut req = up
        .client
        .request(method, format!("{}{path}", up.base))
        .body(body);
    for (name, value) in &headers {
        if !matches!(name.as_str(), "host" | "content-length" | "connection") {
            req = req.header(name, value);
        }
    }
    match req.send().await {
        Ok(answer) => {
            let status = answer.status();
            let mut out = HeaderMap::new();
            for (name, value) in answer.headers() {
                if !matches!(
                    name.as_str(),
                    "content-length" | "transfer-encoding" | "connection"
                ) {
                    out.append(name, value.clone());
                }
            }
            let bytes = answer.bytes().await.unwrap_or_default();
            (status, out, bytes).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}
