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
    let deps = Deps::from_env(secrets, templates).await.inspect_err(|e| {
        tracing::error!(error = %e, "cannot start");
    })?;
    // One per process, for the process's whole life.
    Ok(Box::leak(Box::new(deps)))
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
