//! The backstop Lambda: builds its dependencies once, then runs one pass per scheduled event.

leadrelay_aws::release_panics_abort!();

use lambda_runtime::{service_fn, Error, LambdaEvent};

// One event at a time per environment: one thread, no cross-thread wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let deps = leadrelay_aws::lambda::deps(leadrelay_aws::lambda::BACKSTOP).await?;
    // When it calls out (platforms' APIs, the company provider): the HTTP client now, not in
    // the first request.
    if deps.calls_out() {
        deps.platform_api.client().prime();
    }
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<serde_json::Value>| async move {
            let pass = leadrelay_backstop::run_pass(deps, deps.clock.now());
            let report = leadrelay_aws::lambda::invocation(&event.context.request_id, pass).await?;
            Ok::<_, Error>(report)
        },
    ))
    .await
}
