//! The notify Lambda: builds its dependencies once, then consumes its SQS queue.

// One event at a time per environment: one thread, no cross-thread wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let deps = leadrelay_aws::lambda::deps(
        "notify",
        leadrelay_aws::deps::SecretsNeeded::NOTIFY,
        leadrelay_aws::deps::TemplatesNeeded::LOAD,
    )
    .await?;
    leadrelay_aws::lambda::run_sqs(|messages| leadrelay_notify::handle_batch(deps, messages)).await
}
