//! The capture Lambda: builds its dependencies once, then serves API Gateway HTTP API events.

leadrelay_aws::release_panics_abort!();

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_runtime::{service_fn, Error, LambdaEvent};

// One event at a time per environment: one thread, no cross-thread wake-ups.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let deps = leadrelay_aws::lambda::deps(leadrelay_aws::lambda::CAPTURE).await?;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<ApiGatewayV2httpRequest>| async move {
            let LambdaEvent { payload, context } = event;
            let answer = leadrelay_capture::gateway::serve(deps, payload);
            Ok::<_, Error>(leadrelay_aws::lambda::invocation(&context.request_id, answer).await)
        },
    ))
    .await
}
