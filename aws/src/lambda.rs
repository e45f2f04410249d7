//! The glue between Lambda and the handlers: every function's `main` builds [`Deps`] once and
//! hands a plain async handler to one of these.

use std::future::Future;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{service_fn, Error, LambdaEvent};

use crate::batch::{BatchOutcome, QueueMessage};
use crate::deps::{SecretsNeeded, TemplatesNeeded};
use crate::Deps;

/// Builds the dependencies from the environment, or explains why it cannot.
pub async fn deps(
    secrets: SecretsNeeded,
    templates: TemplatesNeeded,
) -> Result<&'static Deps, Error> {
    crate::telemetry::init_lambda();
    let deps = match Deps::from_env(secrets, templates).await {
        Ok(deps) => deps,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            report_init_error(&e).await;
            return Err(e.into());
        }
    };
    // What the first request would otherwise pay for, paid during init. A failure here is
    // only a slower first request: the request itself will say what is wrong.
    leadrelay_domain::normalize::prime();
    if let Err(e) = deps.store.prime().await {
        tracing::warn!(error = %e, "could not open the connection to the table during init");
    }
    // One per process, for the process's whole life.
    Ok(Box::leak(Box::new(deps)))
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
    let client = match reqwest::Client::builder().build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "could not report the failed start to the runtime API");
            return;
        }
    };
    let sent = client
        .post(format!("http://{api}/2018-06-01/runtime/init/error"))
        .header("lambda-runtime-function-error-type", "Runtime.InitError")
        .timeout(std::time::Duration::from_secs(2))
        .json(&body)
        .send()
        .await;
    if let Err(e) = sent {
        tracing::error!(error = %e, "could not report the failed start to the runtime API");
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
        let messages = event
            .payload
            .records
            .into_iter()
            .map(|r| QueueMessage {
                message_id: r.message_id.unwrap_or_default(),
                body: r.body.unwrap_or_default(),
            })
            .collect();
        let outcome = handler(messages).await;
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
