//! The glue between Lambda and the handlers: every function's `main` builds [`Deps`] once and
//! hands a plain async handler to one of these.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};

use crate::batch::{BatchOutcome, QueueMessage};
use crate::deps::{ContactDetails, NewSesClient, SecretsNeeded, TemplatesNeeded};
use crate::Deps;
use leadrelay_domain::identity::READ_PHONES;

/// Refuses to compile a function's release build that unwinds: `functions/build.rs` links a
/// release build without unwinding tables (`cfg(no_unwind_tables)`), so a panic in it could not
/// unwind and would abort where `lambda_runtime` would have answered with an error. To unwind,
/// set `CARGO_PROFILE_RELEASE_PANIC=unwind` in the environment: the build script sees that and
/// keeps the tables. Each function's `main.rs` calls it once.
#[macro_export]
macro_rules! release_panics_abort {
    () => {
        #[cfg(all(no_unwind_tables, panic = "unwind"))]
        compile_error!(
            "this release build unwinds, but functions/build.rs links it without unwinding \
             tables: set CARGO_PROFILE_RELEASE_PANIC=unwind in the environment instead"
        );
    };
}

/// What a function builds at start-up. Each function's `main` names its own constant below, and
/// what only some functions use is reached through a function pointer named only in their
/// constants, so it is linked only into them: the template engine into notify, the email lists
/// and libphonenumber's metadata into the functions that read what people typed.
#[derive(Debug, Clone, Copy)]
pub struct Function {
    /// Its name in logs and metrics.
    pub name: &'static str,
    pub secrets: SecretsNeeded,
    pub templates: TemplatesNeeded,
    /// The email lists and libphonenumber's metadata: only in the functions that read what
    /// people typed.
    pub contact_details: Option<ContactDetails>,
    /// SES's client: only in the function that sends email.
    pub ses: Option<NewSesClient>,
}

const CONTACT_DETAILS: Option<ContactDetails> = Some(ContactDetails {
    prime: leadrelay_domain::normalize::prime,
    read_phones: READ_PHONES,
});

pub const CAPTURE: Function = Function {
    name: "capture",
    secrets: SecretsNeeded::CAPTURE,
    templates: TemplatesNeeded::NONE,
    contact_details: CONTACT_DETAILS,
    ses: None,
};
/// Enrich reads contact details from platforms' APIs.
pub const ENRICH: Function = Function {
    name: "enrich",
    secrets: SecretsNeeded::ENRICH,
    templates: TemplatesNeeded::NONE,
    contact_details: CONTACT_DETAILS,
    ses: None,
};
pub const ROUTE: Function = Function {
    name: "route",
    secrets: SecretsNeeded::NONE,
    templates: TemplatesNeeded::NONE,
    contact_details: None,
    ses: None,
};
pub const NOTIFY: Function = Function {
    name: "notify",
    secrets: SecretsNeeded::NOTIFY,
    templates: TemplatesNeeded::LOAD,
    contact_details: None,
    ses: Some(aws_sdk_ses::Client::new),
};
pub const ESCALATE: Function = Function {
    name: "escalate",
    secrets: SecretsNeeded::NONE,
    templates: TemplatesNeeded::NONE,
    contact_details: None,
    ses: None,
};
/// The backstop reads leads found on platforms.
pub const BACKSTOP: Function = Function {
    name: "backstop",
    secrets: SecretsNeeded::BACKSTOP,
    templates: TemplatesNeeded::NONE,
    contact_details: CONTACT_DETAILS,
    ses: None,
};

/// Builds the dependencies of `function` from the environment, or explains why it cannot;
/// before that, starts its logs and metrics.
pub async fn deps(function: Function) -> Result<&'static Deps, Error> {
    one_malloc_arena();
    crate::telemetry::init_lambda();
    init_metrics(function.name);
    let deps = match Deps::from_env(
        function.secrets,
        function.templates,
        function.contact_details,
        function.ses,
    )
    .await
    {
        Ok(deps) => deps,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            report_init_error(&e).await;
            return Err(e.into());
        }
    };
    // One per process, for the process's whole life.
    Ok(Box::leak(Box::new(deps)))
}

/// One heap for the whole process. glibc gives each new thread that allocates its own arena,
/// and a Lambda process has a few threads besides the one that runs events: the blocking
/// thread that primes the phone reading during init (about 1 MB of patterns and metadata,
/// used by every request after) and those of name lookups. Each arena keeps its own free
/// space: in `scripts/bench-lambda`, with one arena (as `MALLOC_ARENA_MAX=1` gives), peak RSS
/// was 0.4 MB lower for capture and enrich and the same for the others, CPU per invocation
/// within the runs' spread. The threads seldom allocate at once: the arena's lock is
/// uncontended.
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` takes two integers and changes only glibc's own tuning, under glibc's
    // lock. Called before the runtime starts a thread, so every thread gets the one arena.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Tells Lambda why the function cannot start (`/runtime/init/error`), so the invocation fails
/// with that reason (`Runtime.InitError`) instead of an unexplained exit. The message names
/// the setting at fault, never a secret's value.
async fn report_init_error(e: &crate::deps::DepsError) {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else {
        return;
    };
    let body = serde_json::json!({
        "errorType": "Runtime.InitError",
        "errorMessage": e.to_string(),
    });
    if let Err(e) = post_init_error(&api, body.to_string()).await {
        tracing::error!(error = %e, "could not report the failed start to the runtime API");
    }
}

/// Over the runtime's own client (linked already for `next` and `response`): reqwest is for
/// the functions that call platforms, and would otherwise be linked into every function for
/// this one request.
async fn post_init_error(
    api: &str,
    body: String,
) -> Result<(), lambda_runtime_api_client::BoxError> {
    let endpoint: http::Uri = format!("http://{api}").parse()?;
    let client = lambda_runtime_api_client::PooledClient::builder()
        .with_endpoint(endpoint)
        .build();
    let request = lambda_runtime_api_client::build_request()
        .method(http::Method::POST)
        .uri("/2018-06-01/runtime/init/error")
        .header("lambda-runtime-function-error-type", "Runtime.InitError")
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(lambda_runtime_api_client::body::Body::from(body))?;
    let response =
        tokio::time::timeout(std::time::Duration::from_secs(2), client.call(request)).await??;
    if !response.status().is_success() {
        return Err(format!("the runtime API answered {}", response.status()).into());
    }
    Ok(())
}

/// The function's name and its metrics collector, once per process.
static FUNCTION: OnceLock<&'static str> = OnceLock::new();
static METRICS: OnceLock<&'static metrics_cloudwatch_embedded::Collector> = OnceLock::new();

fn init_metrics(function: &'static str) {
    let _ = FUNCTION.set(function);
    match metrics_cloudwatch_embedded::Builder::new()
        .cloudwatch_namespace(crate::metrics::NAMESPACE)
        .init()
    {
        Ok(collector) => {
            let _ = METRICS.set(collector);
            crate::metrics::describe();
        }
        Err(e) => tracing::warn!(error = %e, "metrics not recorded"),
    }
}

/// Runs one invocation, then writes the metrics it recorded (EMF, one line per set of
/// dimensions, each with the invocation's `requestId`) before its answer goes back: once the
/// answer is posted Lambda may freeze the process, and anything still buffered would wait for
/// the next invocation, or be lost with the environment.
pub async fn invocation<T>(request_id: &str, work: impl Future<Output = T>) -> T {
    static FIRST: AtomicBool = AtomicBool::new(true);
    if FIRST.swap(false, Ordering::Relaxed) {
        crate::metrics::cold_start(FUNCTION.get().copied().unwrap_or("unknown"));
    }
    let out = work.await;
    flush_metrics(request_id);
    out
}

fn flush_metrics(request_id: &str) {
    let Some(collector) = METRICS.get() else {
        return;
    };
    collector.set_property("requestId", request_id.to_owned());
    // Written whole, in one write, so no log line lands inside a metrics line.
    let mut lines = Vec::new();
    let written = collector.flush(&mut lines).and_then(|()| {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        out.write_all(&lines)?;
        out.flush()
    });
    if let Err(e) = written {
        tracing::warn!(error = %e, "metrics not written");
    }
}

/// Runs an SQS consumer, answering with the batch item failures.
pub async fn run_sqs<F, Fut>(handler: F) -> Result<(), Error>
where
    F: Fn(Vec<QueueMessage>) -> Fut,
    Fut: Future<Output = BatchOutcome>,
{
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let request_id = event.context.request_id.clone();
        let messages = event
            .payload
            .records
            .into_iter()
            .map(|r| QueueMessage {
                message_id: r.message_id.unwrap_or_default(),
                body: r.body.unwrap_or_default(),
            })
            .collect();
        let outcome = invocation(&request_id, handler(messages)).await;
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = outcome
            .failed
            .into_iter()
            .map(|id| {
                let mut f = BatchItemFailure::default();
                f.item_identifier = id;
                f
            })
            .collect();
        Ok::<_, Error>(response)
    }))
    .await
}
