//! The route Lambda: builds its dependencies once, then consumes its SQS queue.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let deps = leadrelay::lambda::deps(
        leadrelay::deps::SecretsNeeded::None,
        leadrelay::deps::TemplatesNeeded::None,
    )
    .await?;
    leadrelay::lambda::run_sqs(|messages| leadrelay_route::handle_batch(deps, messages)).await
}
