//! The capture Lambda: builds its dependencies once, then serves API Gateway HTTP API events.

use lambda_http::{service_fn, Error, Request};

// One event at a time per environment: one thread, no cross-thread wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let deps = leadrelay_aws::lambda::deps(
        leadrelay_aws::deps::SecretsNeeded::CAPTURE,
        leadrelay_aws::deps::TemplatesNeeded::None,
    )
    .await?;
    lambda_http::run(service_fn(move |req: Request| async move {
        let req = leadrelay_capture::gateway::request(req);
        Ok::<_, Error>(leadrelay_capture::handle(deps, req).await)
    }))
    .await
}
