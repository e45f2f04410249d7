//! The enrich Lambda: builds its dependencies once, then consumes its SQS queue.

leadrelay_aws::release_panics_abort!();

// One event at a time per environment: one thread, no cross-thread wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let deps = leadrelay_aws::lambda::deps(leadrelay_aws::lambda::ENRICH).await?;
    // When it calls out (platforms' APIs, the company provider): the HTTP client now, not in
    // the first request.
    if deps.calls_out() {
        deps.platform_api.client().prime();
    }
    leadrelay_aws::lambda::run_sqs(|messages| leadrelay_enrich::handle_batch(deps, messages)).await
}
