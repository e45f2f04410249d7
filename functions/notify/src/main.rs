//! The notify Lambda: builds its dependencies once, then consumes its SQS queue.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let deps = leadrelay::lambda::deps(
        leadrelay::deps::SecretsNeeded::All,
        leadrelay::deps::TemplatesNeeded::Load,
    )
    .await?;
    leadrelay::lambda::run_sqs(|messages| leadrelay_notify::handle_batch(deps, messages)).await
}
