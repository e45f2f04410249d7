//! capture: the HTTP edge. `POST /v1/webhooks/{source}` turns an authentic delivery into a
//! durable lead before answering (invariant 1 in docs/architecture.md); `GET /v1/leads/{id}/contacted`
//! shows the confirmation page of the signed link in the owners' emails (changing nothing), and
//! `POST` to it records the owner's first contact;
//! `POST /v1/leads/{id}/status` takes a CRM's status change.
//!
//! The handler takes and returns plain `http` types, so the Lambda, the local runner and the
//! tests call the very same function.

mod admit;
mod contacted;
pub mod gateway;
mod guard;
mod intake;
pub mod replay;
pub mod status;

pub use intake::{admit_found, admit_queued, Taken, Unstored};

use http::{Method, Request, Response, StatusCode};
use leadrelay_aws::Deps;

/// The body of a request, as received.
pub type Body = Vec<u8>;

/// Routes a request to its handler. Never panics; every refusal is a status code with a JSON
/// body naming the problem.
pub async fn handle(deps: &Deps, req: Request<Body>) -> Response<String> {
    let path = req.uri().path().trim_end_matches('/').to_owned();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    match (req.method(), segments.as_slice()) {
        (&Method::POST, ["v1", "webhooks", source]) => {
            let source = (*source).to_owned();
            intake::handle(deps, &source, req).await
        }
        // Subscription handshakes (Meta's hub.challenge, LinkedIn's challengeCode).
        (&Method::GET, ["v1", "webhooks", source]) => {
            let source = (*source).to_owned();
            intake::handshake(deps, &source, req).await
        }
        (&Method::GET, ["v1", "leads", id, "contacted"]) => {
            let id = (*id).to_owned();
            contacted::show(deps, &id, req).await
        }
        (&Method::POST, ["v1", "leads", id, "contacted"]) => {
            let id = (*id).to_owned();
            contacted::confirm(deps, &id, req).await
        }
        (&Method::POST, ["v1", "leads", id, "status"]) => {
            let id = (*id).to_owned();
            status::handle(deps, &id, req).await
        }
        (_, ["v1", "webhooks", _]) => {
            method_not_allowed("GET, POST", "this route does not take that method")
        }
        (_, ["v1", "leads", _, "contacted"]) => {
            method_not_allowed("GET, POST", "this route does not take that method")
        }
        (_, ["v1", "leads", _, "status"]) => json_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this route does not take that method",
        ),
        _ => json_error(StatusCode::NOT_FOUND, "not_found", "no such route"),
    }
}

pub(crate) fn json(status: StatusCode, body: serde_json::Value) -> Response<String> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(body.to_string())
        .expect("static headers are valid")
}

/// `405`, with the `Allow` header HTTP asks of it, and `noindex` for the crawlers that meet it.
pub(crate) fn method_not_allowed(allow: &'static str, message: &str) -> Response<String> {
    let mut r = json_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        message,
    );
    let headers = r.headers_mut();
    headers.insert(http::header::ALLOW, http::HeaderValue::from_static(allow));
    headers.insert("x-robots-tag", http::HeaderValue::from_static("noindex"));
    r
}

pub(crate) fn json_error(status: StatusCode, code: &str, message: &str) -> Response<String> {
    json(
        status,
        serde_json::json!({ "error": code, "message": message }),
    )
}

/// A query parameter's decoded value.
pub(crate) fn query_param(req: &Request<Body>, name: &str) -> Option<String> {
    let q = req.uri().query()?;
    form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

pub(crate) fn header<'r>(req: &'r Request<Body>, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}
