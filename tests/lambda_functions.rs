//! The real function binaries run as Lambda runs them: each a child process under its own
//! [`RuntimeApi`], with the environment the SAM template (infra/template.yaml) gives it, its
//! configuration and secrets in SSM Parameter Store, and the events AWS sends: API Gateway
//! HTTP API v2.0 requests, SQS batches, EventBridge scheduled events.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use base64::Engine;
use leadrelay_aws::queue::QueueName;
use serde_json::{json, Value};

use crate::lambda_runtime_api::{InvocationError, RuntimeApi};

/// The six functions: package-less binary names, as cargo puts them in the target directory.
pub const FUNCTIONS: [&str; 6] = [
    "capture", "enrich", "route", "notify", "escalate", "backstop",
];

pub const REGION: &str = "us-east-1";
pub const ACCOUNT: &str = "123456789012";

/// The directory holding the debug binaries for a test executable
/// (`<target>/debug/deps/e2e-…` → `<target>/debug`).
pub fn debug_binaries_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") || dir.ends_with("examples") {
        dir.pop();
    }
    dir
}

/// The path of a function's binary in `dir`, when it is there.
pub fn binary(dir: &Path, name: &str) -> Option<PathBuf> {
    let p = dir.join(name);
    p.is_file().then_some(p)
}

/// Where in SSM the configuration and the secrets live (the template's
/// `ConfigParameterName` and `SecretsPath`).
#[derive(Debug, Clone)]
pub struct SsmLayout {
    pub config_parameter: String,
    pub secrets_path: String,
}

impl SsmLayout {
    /// Names under `prefix`, so stacks sharing one moto server do not meet.
    pub fn for_prefix(prefix: &str) -> Self {
        Self {
            config_parameter: format!("/leadrelay/{prefix}/config"),
            secrets_path: format!("/leadrelay/secrets/{prefix}"),
        }
    }
}

/// The configuration as it is deployed: every secret value in `text` replaced by an
/// `ssm:` reference under the secrets path, by who reads it (docs/configuration.md), and the
/// secrets to store there. References already in the text (`ssm:`, `env:`) stay as they are.
pub fn deployed_config(text: &str, layout: &SsmLayout) -> (String, Vec<(String, String)>) {
    let mut doc: toml::Table = text.parse().expect("the configuration is TOML");
    let mut secrets = Vec::new();
    let root = &layout.secrets_path;
    let mut swap = |slot: Option<&mut toml::Value>, name: String| {
        if let Some(v) = slot {
            if let Some(s) = v.as_str() {
                if !s.starts_with("ssm:") && !s.starts_with("env:") {
                    secrets.push((name.clone(), s.to_owned()));
                    *v = toml::Value::String(format!("ssm:{name}"));
                }
            }
        }
    };
    if let Some(sources) = doc.get_mut("sources").and_then(|s| s.as_table_mut()) {
        for (source, t) in sources.iter_mut() {
            let Some(t) = t.as_table_mut() else { continue };
            swap(t.get_mut("secret"), format!("{root}/webhooks/{source}"));
            swap(
                t.get_mut("verify_token"),
                format!("{root}/webhooks/{source}-verify-token"),
            );
            swap(
                t.get_mut("access_token"),
                format!("{root}/platform-tokens/{source}"),
            );
        }
    }
    let mut section = |name: &str, key: &str, path: String| {
        if let Some(t) = doc.get_mut(name).and_then(|s| s.as_table_mut()) {
            swap(t.get_mut(key), path);
        }
    };
    section("links", "secret", format!("{root}/links"));
    section("crm", "token", format!("{root}/crm"));
    if let Some(p) = doc
        .get_mut("enrichment")
        .and_then(|e| e.get_mut("provider"))
        .and_then(|p| p.as_table_mut())
    {
        swap(p.get_mut("key"), format!("{root}/enrichment"));
    }
    let text = toml::to_string(&doc).expect("the configuration serialises");
    (text, secrets)
}

/// Puts the configuration (a String parameter) and its secrets (SecureString) into SSM, and
/// returns the environment every function gets: the template's variables, the SDK's endpoint
/// pointing at the emulator, fake credentials and the region.
pub async fn deploy(
    sdk: &SdkConfig,
    endpoint: &str,
    config_text: &str,
    layout: &SsmLayout,
    resources: &leadrelay_aws::deps::Resources,
) -> Result<Vec<(String, String)>, String> {
    let (text, secrets) = deployed_config(config_text, layout);
    let ssm = aws_sdk_ssm::Client::new(sdk);
    let put = |name: String, value: String, kind: aws_sdk_ssm::types::ParameterType| {
        let ssm = ssm.clone();
        async move {
            ssm.put_parameter()
                .name(&name)
                .value(value)
                .r#type(kind)
                .overwrite(true)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    format!(
                        "PutParameter {name}: {}",
                        aws_sdk_ssm::error::DisplayErrorContext(&e)
                    )
                })
        }
    };
    for (name, value) in secrets {
        put(name, value, aws_sdk_ssm::types::ParameterType::SecureString).await?;
    }
    put(
        layout.config_parameter.clone(),
        text,
        aws_sdk_ssm::types::ParameterType::String,
    )
    .await?;
    let mut env = vec![
        ("LEADRELAY_TABLE".into(), resources.table.clone()),
        (
            QueueName::Captured.env_var().into(),
            resources.captured_queue_url.clone(),
        ),
        (
            QueueName::Scored.env_var().into(),
            resources.scored_queue_url.clone(),
        ),
        (
            QueueName::Notify.env_var().into(),
            resources.notify_queue_url.clone(),
        ),
        (
            "LEADRELAY_CONFIG".into(),
            format!("ssm:{}", layout.config_parameter),
        ),
        (
            "LEADRELAY_SLA_SHARDS".into(),
            resources.sla_shards.to_string(),
        ),
        // The template's LoggingConfig: Lambda's JSON log format at INFO.
        ("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()),
        ("AWS_LAMBDA_LOG_LEVEL".into(), "INFO".into()),
    ];
    env.extend(aws_environment(endpoint));
    Ok(env)
}

/// What Lambda's environment holds for the SDK, with the endpoint pointing at the emulator.
pub fn aws_environment(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", REGION),
        ("AWS_DEFAULT_REGION", REGION),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_SESSION_TOKEN", "test-session"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// A function binary running under its own Runtime API.
pub struct LambdaProcess {
    pub name: String,
    pub api: RuntimeApi,
    child: Child,
    started: Instant,
    log: PathBuf,
}

impl LambdaProcess {
    /// Starts `binary` as the function `name`, with only `env` and Lambda's own variables.
    pub async fn start(
        binary: &Path,
        name: &str,
        env: &[(String, String)],
    ) -> std::io::Result<Self> {
        Self::start_command(binary, &[], name, env).await
    }

    /// [`LambdaProcess::start`] for a runtime that is a program with arguments (the Node.js
    /// baseline of `scripts/bench-lambda`: `node runtime.mjs`).
    pub async fn start_command(
        program: &Path,
        args: &[&str],
        name: &str,
        env: &[(String, String)],
    ) -> std::io::Result<Self> {
        let api = RuntimeApi::start(name).await?;
        let log = std::env::temp_dir().join(format!(
            "leadrelay-lambda-{name}-{}.log",
            ulid::Ulid::new().to_string().to_lowercase()
        ));
        let out = std::fs::File::create(&log)?;
        let err = out.try_clone()?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/03/02/[$LATEST]0123456789abcdef",
            )
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err));
        let started = Instant::now();
        let child = cmd.spawn()?;
        Ok(Self {
            name: name.to_owned(),
            api,
            child,
            started,
            log,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the first poll of `next`; the time from process start to it.
    pub async fn init(&self) -> Result<Duration, InvocationError> {
        let at = self.api.ready().await?;
        Ok(at.saturating_duration_since(self.started))
    }

    pub async fn invoke(&self, payload: Value) -> Result<Value, InvocationError> {
        self.api.invoke(payload).await
    }

    /// Whether the process has ended, and how.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits (up to `timeout`) for the process to end.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let until = Instant::now() + timeout;
        while Instant::now() < until {
            if let Some(s) = self.exited() {
                return Some(s);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    }

    /// What the process wrote to stdout and stderr so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// User plus system CPU time of the process so far (/proc/<pid>/stat), in clock ticks.
    pub fn cpu_ticks(&self) -> Option<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).ok()?;
        // Fields after the command name (which is in parentheses and may hold spaces).
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(utime + stime)
    }

    /// Peak resident memory (VmHWM), in kB.
    pub fn peak_rss_kb(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }
}

impl Drop for LambdaProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// Clock ticks per second for /proc's CPU times.
pub fn clock_ticks_per_second() -> u64 {
    // Linux reports CPU times in USER_HZ, 100 on every architecture Lambda runs.
    100
}

/// An API Gateway HTTP API (payload format 2.0) event for `req`, as the API delivers it on the
/// named `stage` (`$default`: no stage in the path). A body that is not JSON or plain text
/// (forms, binary) arrives base64-encoded with `isBase64Encoded`, as API Gateway sends it.
pub fn api_gateway_event(req: &http::Request<Vec<u8>>, stage: &str, source_ip: &str) -> Value {
    let path = req.uri().path();
    let raw_path = match stage {
        "$default" => path.to_owned(),
        s => format!("/{s}{path}"),
    };
    let query = req.uri().query().unwrap_or_default().to_owned();
    let mut headers = serde_json::Map::new();
    for (k, v) in req.headers() {
        let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
        let key = k.as_str().to_ascii_lowercase();
        let joined = match headers.get(&key).and_then(Value::as_str) {
            Some(prev) => format!("{prev},{v}"),
            None => v,
        };
        headers.insert(key, Value::String(joined));
    }
    let host = "abc123.execute-api.us-east-1.amazonaws.com";
    headers
        .entry("host")
        .or_insert_with(|| Value::String(host.into()));
    headers.insert("x-forwarded-for".into(), Value::String(source_ip.into()));
    headers.insert("x-forwarded-proto".into(), Value::String("https".into()));
    headers.insert("x-forwarded-port".into(), Value::String("443".into()));
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let text = std::str::from_utf8(req.body()).ok();
    let as_text = text.is_some()
        && (content_type.starts_with("application/json") || content_type.starts_with("text/"));
    let body = req.body();
    let (body, base64) = if body.is_empty() {
        (Value::Null, false)
    } else if as_text {
        (Value::String(text.unwrap_or_default().to_owned()), false)
    } else {
        (
            Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        )
    };
    let now = chrono::Utc::now();
    let method = req.method().as_str();
    let route = route_key(method, path);
    let mut event = json!({
        "version": "2.0",
        "routeKey": route,
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": "abc123",
            "domainName": host,
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": req.headers().get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or("curl/8.5.0"),
            },
            "requestId": ulid::Ulid::new().to_string(),
            "routeKey": route,
            "stage": stage,
            "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": base64,
    });
    if !query.is_empty() {
        let params: serde_json::Map<String, Value> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        event["queryStringParameters"] = Value::Object(params);
    }
    if !body.is_null() {
        event["body"] = body;
    }
    event
}

/// The route key of the template's routes a path matches (API Gateway's `routeKey`).
fn route_key(method: &str, path: &str) -> String {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let template = match segments.as_slice() {
        ["v1", "webhooks", _] => "/v1/webhooks/{source}",
        ["v1", "leads", _, "contacted"] => "/v1/leads/{id}/contacted",
        ["v1", "leads", _, "status"] => "/v1/leads/{id}/status",
        _ => return "$default".into(),
    };
    format!("{method} {template}")
}

/// The status and the body (JSON when it is JSON, else the text) of a capture answer.
pub fn http_answer(answer: &Value) -> (u16, Value) {
    let status = answer["statusCode"].as_u64().unwrap_or_default() as u16;
    let raw = answer["body"].as_str().unwrap_or_default();
    let text = if answer["isBase64Encoded"].as_bool() == Some(true) {
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default()
    } else {
        raw.to_owned()
    };
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// A queue's ARN from its URL (`http://host/<account>/<name>`).
pub fn queue_arn(url: &str) -> String {
    let mut parts = url.rsplit('/');
    let name = parts.next().unwrap_or_default();
    let account = parts.next().unwrap_or(ACCOUNT);
    format!("arn:aws:sqs:{REGION}:{account}:{name}")
}

/// An SQS event as an event source mapping delivers it: one record per message.
pub fn sqs_event(queue_url: &str, messages: &[(String, String)]) -> Value {
    let arn = queue_arn(queue_url);
    let now = chrono::Utc::now().timestamp_millis().to_string();
    let records: Vec<Value> = messages
        .iter()
        .map(|(id, body)| {
            json!({
                "messageId": id,
                "receiptHandle": format!("AQEB{}", ulid::Ulid::new()),
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": now,
                    "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                    "ApproximateFirstReceiveTimestamp": now,
                },
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": REGION,
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The EventBridge scheduled event (the template's schedule rule) at `at`.
pub fn scheduled_event(at: chrono::DateTime<chrono::Utc>) -> Value {
    json!({
        "version": "0",
        "id": ulid::Ulid::new().to_string().to_lowercase(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": REGION,
        "resources": [format!("arn:aws:events:{REGION}:{ACCOUNT}:rule/leadrelay-escalate")],
        "detail": {}
    })
}

/// Receives up to `max` messages from a queue (waiting up to `wait_seconds` for the first),
/// deleting them: the test hands them to a function itself, as an event source mapping would.
pub async fn take_messages(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    max: i32,
    wait_seconds: i32,
) -> Result<Vec<(String, String)>, String> {
    let out = sqs
        .receive_message()
        .queue_url(queue_url)
        .max_number_of_messages(max)
        .wait_time_seconds(wait_seconds)
        .send()
        .await
        .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())?;
    let mut taken = Vec::new();
    for m in out.messages.unwrap_or_default() {
        if let Some(handle) = &m.receipt_handle {
            sqs.delete_message()
                .queue_url(queue_url)
                .receipt_handle(handle)
                .send()
                .await
                .map_err(|e| aws_sdk_sqs::error::DisplayErrorContext(&e).to_string())?;
        }
        taken.push((m.message_id.unwrap_or_default(), m.body.unwrap_or_default()));
    }
    Ok(taken)
}
