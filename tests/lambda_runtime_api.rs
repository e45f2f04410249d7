//! A Lambda Runtime API emulator on loopback: the four routes a function's runtime client
//! calls (`invocation/next`, an invocation's `response` and `error`, and `init/error`), so
//! the real function binaries run as Lambda runs them.
//!
//! [`RuntimeApi::invoke`] queues an event, hands it to the next `GET .../invocation/next`
//! (a long poll) and waits for the function's answer.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, watch};

const PREFIX: &str = "/2018-06-01/runtime";

/// How a function's `/error` or `/init/error` report reads.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionError {
    pub error_type: String,
    pub error_message: String,
    /// The report's whole body (JSON when it was JSON).
    pub body: Value,
}

/// Why an invocation has no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvocationError {
    /// The function answered on `/invocation/{id}/error`.
    #[error("the function reported an error: {0:?}")]
    Function(FunctionError),
    /// The function reported a failed init on `/init/error` (and will take no events).
    #[error("the function failed to start: {0:?}")]
    Init(FunctionError),
    /// No answer within the deadline.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The emulator was dropped.
    #[error("the runtime API is gone")]
    Closed,
}

struct Pending {
    id: String,
    /// Random bits for the trace header.
    trace: u128,
    payload: Vec<u8>,
    deadline_ms: u128,
}

struct Shared {
    function_arn: String,
    /// Events not yet taken by a `next`; a receiver behind a lock, so one poller takes each.
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    /// Invocations handed out, awaiting their answer.
    waiting: Mutex<HashMap<String, oneshot::Sender<Result<Value, InvocationError>>>>,
    first_poll: watch::Sender<Option<Instant>>,
    init_error: watch::Sender<Option<FunctionError>>,
    polls: std::sync::atomic::AtomicU64,
    /// The request id of every invocation handed in, in order.
    invoked: Mutex<Vec<String>>,
}

/// A running emulator. Dropping it stops the server.
pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    sender: mpsc::UnboundedSender<Pending>,
    timeout: Duration,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RuntimeApi {
    /// Starts on a free loopback port, for the function named `function_name`.
    pub async fn start(function_name: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (sender, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
            queue: tokio::sync::Mutex::new(receiver),
            waiting: Mutex::new(HashMap::new()),
            first_poll: watch::channel(None).0,
            init_error: watch::channel(None).0,
            polls: std::sync::atomic::AtomicU64::new(0),
            invoked: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route(&format!("{PREFIX}/invocation/next"), get(next))
            .route(
                &format!("{PREFIX}/invocation/{{id}}/response"),
                post(response),
            )
            .route(&format!("{PREFIX}/invocation/{{id}}/error"), post(error))
            .route(&format!("{PREFIX}/init/error"), post(init_error))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            addr,
            shared,
            sender,
            timeout: Duration::from_secs(30),
            server,
        })
    }

    /// The invocation deadline (Lambda's function timeout); 30 s unless set.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// When the function first asked for an event (its init is over), if it has.
    pub fn first_poll(&self) -> Option<Instant> {
        *self.shared.first_poll.borrow()
    }

    /// How many times the function has asked for an event.
    pub fn polls(&self) -> u64 {
        self.shared.polls.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits until the function first asks for an event, or reports a failed init.
    pub async fn ready(&self) -> Result<Instant, InvocationError> {
        let mut polled = self.shared.first_poll.subscribe();
        let mut failed = self.shared.init_error.subscribe();
        let wait = async {
            loop {
                if let Some(e) = failed.borrow_and_update().clone() {
                    return Err(InvocationError::Init(e));
                }
                if let Some(at) = *polled.borrow_and_update() {
                    return Ok(at);
                }
                tokio::select! {
                    r = polled.changed() => r.map_err(|_| InvocationError::Closed)?,
                    r = failed.changed() => r.map_err(|_| InvocationError::Closed)?,
                }
            }
        };
        tokio::time::timeout(self.timeout, wait)
            .await
            .map_err(|_| InvocationError::Timeout(self.timeout))?
    }

    /// What the function reported on `/init/error`, once it has (waits up to the timeout).
    pub async fn init_error(&self) -> Option<FunctionError> {
        let mut failed = self.shared.init_error.subscribe();
        let wait = async {
            loop {
                if let Some(e) = failed.borrow_and_update().clone() {
                    return Some(e);
                }
                failed.changed().await.ok()?;
            }
        };
        tokio::time::timeout(self.timeout, wait)
            .await
            .ok()
            .flatten()
    }

    /// The request ids of the invocations so far (`Lambda-Runtime-Aws-Request-Id`), in order.
    pub fn request_ids(&self) -> Vec<String> {
        lock(&self.shared.invoked).clone()
    }

    /// Hands `payload` to the function as the next event and waits for its answer.
    pub async fn invoke(&self, payload: Value) -> Result<Value, InvocationError> {
        let ulid = ulid::Ulid::new();
        let id = ulid.to_string().to_lowercase();
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.waiting).insert(id.clone(), tx);
        lock(&self.shared.invoked).push(id.clone());
        let deadline = SystemTime::now() + self.timeout;
        let deadline_ms = deadline
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let pending = Pending {
            id: id.clone(),
            trace: ulid.0,
            payload: serde_json::to_vec(&payload).unwrap_or_default(),
            deadline_ms,
        };
        if self.sender.send(pending).is_err() {
            lock(&self.shared.waiting).remove(&id);
            return Err(InvocationError::Closed);
        }
        let mut failed = self.shared.init_error.subscribe();
        let failed = async move {
            loop {
                if let Some(e) = failed.borrow_and_update().clone() {
                    return InvocationError::Init(e);
                }
                if failed.changed().await.is_err() {
                    return InvocationError::Closed;
                }
            }
        };
        let outcome = tokio::select! {
            r = rx => r.unwrap_or(Err(InvocationError::Closed)),
            e = failed => Err(e),
            _ = tokio::time::sleep(self.timeout) => Err(InvocationError::Timeout(self.timeout)),
        };
        lock(&self.shared.waiting).remove(&id);
        outcome
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    shared
        .polls
        .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    shared.first_poll.send_if_modified(|at| {
        if at.is_none() {
            *at = Some(Instant::now());
            true
        } else {
            false
        }
    });
    // One poller at a time takes the next event; the poll waits until there is one.
    let pending = shared.queue.lock().await.recv().await;
    let Some(p) = pending else {
        return StatusCode::GONE.into_response();
    };
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    };
    set("lambda-runtime-aws-request-id", p.id.clone());
    set("lambda-runtime-deadline-ms", p.deadline_ms.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        shared.function_arn.clone(),
    );
    set(
        "lambda-runtime-trace-id",
        format!(
            "Root=1-{:08x}-{:024x};Parent={:016x};Sampled=0",
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
            p.trace & ((1u128 << 96) - 1),
            p.trace as u64
        ),
    );
    set("content-type", "application/json".into());
    (StatusCode::OK, headers, p.payload).into_response()
}

fn parse(body: &Bytes) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn function_error(headers: &HeaderMap, body: &Bytes) -> FunctionError {
    let body = parse(body);
    let header_type = headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    FunctionError {
        error_type: body["errorType"]
            .as_str()
            .map(str::to_owned)
            .or(header_type)
            .unwrap_or_default(),
        error_message: body["errorMessage"].as_str().unwrap_or_default().to_owned(),
        body,
    }
}

fn answer(shared: &Shared, id: &str, outcome: Result<Value, InvocationError>) -> StatusCode {
    match lock(&shared.waiting).remove(id) {
        Some(tx) => {
            let _ = tx.send(outcome);
            StatusCode::ACCEPTED
        }
        // Lambda answers an unknown or already answered request id with 400 (InvalidRequestID).
        None => StatusCode::BAD_REQUEST,
    }
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    answer(&shared, &id, Ok(parse(&body)))
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let e = function_error(&headers, &body);
    answer(&shared, &id, Err(InvocationError::Function(e)))
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let e = function_error(&headers, &body);
    shared.init_error.send_replace(Some(e));
    StatusCode::ACCEPTED
}
