//! The capture Lambda: builds its dependencies once, then serves API Gateway HTTP API events.

use lambda_http::{service_fn, Error, Request};
use leadrelay::Deps;

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadrelay::telemetry::init_lambda();
    let deps = Deps::from_env().await?;
    let deps = &deps;
    lambda_http::run(service_fn(move |req: Request| async move {
        let (parts, body) = req.into_parts();
        let req = http::Request::from_parts(parts, body.to_vec());
        Ok::<_, Error>(leadrelay_capture::handle(deps, req).await)
    }))
    .await
}
