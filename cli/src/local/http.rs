//! The HTTP routes on a local port, served by the capture handler.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use leadrelay_domain::intake::MAX_BODY_BYTES;

use super::LocalStack;

pub fn router(stack: Arc<LocalStack>) -> axum::Router {
    axum::Router::new().fallback(serve).with_state(stack)
}

async fn serve(State(stack): State<Arc<LocalStack>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    // One byte more than the limit lets the handler see that the body is too large.
    let bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES + 1).await {
        Ok(b) => b.to_vec(),
        Err(_) => {
            let mut r = Response::new(Body::from(
                serde_json::json!({"error": "body_too_large", "message": format!("the body is larger than {} KiB", MAX_BODY_BYTES / 1024)}).to_string(),
            ));
            *r.status_mut() = ::http::StatusCode::PAYLOAD_TOO_LARGE;
            return r;
        }
    };
    let response = stack.http(::http::Request::from_parts(parts, bytes)).await;
    response.map(Body::from)
}
