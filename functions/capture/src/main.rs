//! The capture Lambda: builds its dependencies once, then serves API Gateway HTTP API events.

use lambda_http::{service_fn, Error, Request, RequestExt};

// One event at a time per environment: one thread, no cross-thread wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let deps = leadrelay_aws::lambda::deps(leadrelay_aws::lambda::CAPTURE).await?;
    lambda_http::run(service_fn(move |req: Request| async move {
        let request_id = req
            .lambda_context_ref()
            .map(|c| c.request_id.clone())
            .unwrap_or_default();
        let req = leadrelay_capture::gateway::request(req);
        let answer =
            leadrelay_aws::lambda::invocation(&request_id, leadrelay_capture::handle(deps, req));
        Ok::<_, Error>(answer.await)
    }))
    .await
}
