//! From API Gateway's HTTP API event (payload format 2.0) to the handler's request, and from
//! the handler's response back to API Gateway's.
//!
//! Done here rather than by `lambda_http`: the conversion is a few dozen lines over the event
//! types, and `lambda_http` linked a character-set decoder (about 150 KB of code and tables;
//! capture is 189 KB smaller without it) to decode again the UTF-8 bodies it had just
//! encoded, and panicked on a request whose host or path it could not put into a URL. Here a
//! request that cannot be read is a `400`.
//!
//! On a named stage (`/prod/v1/webhooks/json`) the raw path starts with the stage, where no
//! route matches it; the routes are the same on every stage, so the stage is taken off, and the
//! path as called is kept for the schemes that sign the URL.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body as EventBody;
use base64::Engine;
use http::{header, HeaderValue, Request, Response, StatusCode};
use leadrelay_aws::{metrics, Deps};

use crate::Body;

/// The path the client called, stage included, when the route's path differs from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalledPath(pub String);

/// Answers one API Gateway event: the event read into a request for [`crate::handle`], its
/// response written back as API Gateway takes it.
pub async fn serve(deps: &Deps, event: ApiGatewayV2httpRequest) -> ApiGatewayV2httpResponse {
    let answer = match request(event) {
        Ok(req) => crate::handle(deps, req).await,
        Err(e) => {
            // Nothing of an unreadable event names a configured source.
            metrics::lead_refused(metrics::UNKNOWN_SOURCE, "malformed_request");
            e.response()
        }
    };
    response(answer)
}

/// Why an event cannot be read as an HTTP request at all. API Gateway does not send such
/// events; one that came anyway is answered `400 malformed_request` and not stored: there is
/// no request to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unreadable {
    #[error("the path or query is not a valid URL")]
    Url,
    #[error("the body is marked base64-encoded but is not")]
    Base64Body,
}

impl Unreadable {
    /// The `400` that says why.
    pub fn response(self) -> Response<String> {
        crate::json_error(
            StatusCode::BAD_REQUEST,
            "malformed_request",
            &self.to_string(),
        )
    }
}

/// The request for [`crate::handle`], or why the event cannot be one.
pub fn request(event: ApiGatewayV2httpRequest) -> Result<Request<Body>, Unreadable> {
    let raw_path = event
        .raw_path
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "/".to_owned());
    let stage = event
        .request_context
        .stage
        .filter(|s| !s.is_empty() && s != "$default");
    // A custom domain's API mapping can call a stage without it in the path: routed as it is.
    let route_path = stage
        .and_then(|s| raw_path.strip_prefix(&format!("/{s}")).map(str::to_owned))
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
        .map(|rest| {
            if rest.is_empty() {
                "/".to_owned()
            } else {
                rest
            }
        });
    let path = route_path.as_deref().unwrap_or(&raw_path);
    let uri = match event.raw_query_string.as_deref() {
        Some(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_owned(),
    };
    let uri: http::Uri = uri.parse().map_err(|_| Unreadable::Url)?;

    let body = match (event.body, event.is_base64_encoded) {
        (None, _) => Vec::new(),
        (Some(text), false) => text.into_bytes(),
        (Some(encoded), true) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| Unreadable::Base64Body)?,
    };

    let mut req = Request::new(body);
    *req.method_mut() = event.request_context.http.method;
    *req.uri_mut() = uri;
    *req.headers_mut() = event.headers;
    let headers = req.headers_mut();
    // API Gateway passes the Host header on; its own domain name stands in for a client that
    // sent none, for the schemes that sign the URL.
    if !headers.contains_key(header::HOST) {
        if let Some(host) = event
            .request_context
            .domain_name
            .and_then(|d| HeaderValue::try_from(d).ok())
        {
            headers.insert(header::HOST, host);
        }
    }
    // Payload format 2.0 takes the cookies out of the headers.
    if let Some(cookies) = event.cookies.filter(|c| !c.is_empty()) {
        if let Ok(value) = HeaderValue::try_from(cookies.join("; ")) {
            headers.insert(header::COOKIE, value);
        }
    }
    if route_path.is_some() {
        req.extensions_mut().insert(CalledPath(raw_path));
    }
    Ok(req)
}

/// The handler's response as API Gateway takes it: cookies apart from the other headers, the
/// body as text (every answer is JSON or HTML).
pub fn response(answer: Response<String>) -> ApiGatewayV2httpResponse {
    let (parts, body) = answer.into_parts();
    let mut headers = parts.headers;
    let cookies = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    headers.remove(header::SET_COOKIE);
    let mut out = ApiGatewayV2httpResponse::default();
    out.status_code = i64::from(parts.status.as_u16());
    out.headers = headers;
    out.body = Some(EventBody::Text(body));
    out.is_base64_encoded = false;
    out.cookies = cookies;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(stage: &str, raw_path: &str) -> ApiGatewayV2httpRequest {
        event_with(
            stage,
            raw_path,
            serde_json::json!({ "body": "{}", "isBase64Encoded": false }),
        )
    }

    fn event_with(stage: &str, raw_path: &str, body: serde_json::Value) -> ApiGatewayV2httpRequest {
        let mut e = serde_json::json!({
            "version": "2.0",
            "routeKey": "POST /v1/webhooks/{source}",
            "rawPath": raw_path,
            "rawQueryString": "token=abc",
            "cookies": ["a=1", "b=2"],
            "headers": { "host": "abc123.execute-api.us-east-1.amazonaws.com", "content-type": "application/json" },
            "requestContext": {
                "accountId": "123456789012", "apiId": "abc123",
                "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "domainPrefix": "abc123",
                "http": { "method": "POST", "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "curl" },
                "requestId": "id", "routeKey": "POST /v1/webhooks/{source}", "stage": stage,
                "time": "02/Mar/2026:10:00:00 +0000", "timeEpoch": 1772445600000u64
            }
        });
        for (k, v) in body.as_object().expect("fields") {
            e[k] = v.clone();
        }
        serde_json::from_value(e).expect("an API Gateway v2 event")
    }

    #[test]
    fn a_named_stage_is_taken_off_the_path_and_kept_as_called() {
        let r = request(event("prod", "/prod/v1/webhooks/json")).unwrap();
        assert_eq!(r.method(), http::Method::POST);
        assert_eq!(r.uri().path(), "/v1/webhooks/json");
        assert_eq!(r.uri().query(), Some("token=abc"));
        assert_eq!(
            r.extensions().get::<CalledPath>(),
            Some(&CalledPath("/prod/v1/webhooks/json".into()))
        );
    }

    #[test]
    fn the_default_stage_leaves_the_path_alone() {
        let r = request(event("$default", "/v1/webhooks/json")).unwrap();
        assert_eq!(r.uri().path(), "/v1/webhooks/json");
        assert!(r.extensions().get::<CalledPath>().is_none());
    }

    #[test]
    fn a_raw_path_without_the_stage_is_routed_and_signed_as_called() {
        let r = request(event("prod", "/v1/webhooks/json")).unwrap();
        assert_eq!(r.uri().path(), "/v1/webhooks/json");
        assert!(r.extensions().get::<CalledPath>().is_none());
        // Only a whole first segment is a stage.
        let r = request(event("prod", "/production/v1")).unwrap();
        assert_eq!(r.uri().path(), "/production/v1");
    }

    #[test]
    fn headers_and_cookies_are_passed_on() {
        let r = request(event("$default", "/v1/webhooks/json")).unwrap();
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.headers()["cookie"], "a=1; b=2");
        assert_eq!(
            r.headers()["host"],
            "abc123.execute-api.us-east-1.amazonaws.com"
        );
    }

    #[test]
    fn a_base64_body_is_decoded_as_api_gateway_encodes_form_posts() {
        let body = serde_json::json!({ "body": "bmFtZT1BbmEmZW1haWw9YSU0MGIuaW8=", "isBase64Encoded": true });
        let r = request(event_with("$default", "/v1/webhooks/form", body)).unwrap();
        assert_eq!(r.body(), b"name=Ana&email=a%40b.io");
    }

    #[test]
    fn a_body_marked_base64_that_is_not_is_refused_with_400() {
        let body = serde_json::json!({ "body": "not base64!", "isBase64Encoded": true });
        let e = request(event_with("$default", "/v1/webhooks/form", body)).unwrap_err();
        assert_eq!(e, Unreadable::Base64Body);
        let refused = e.response();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        assert!(refused.body().contains("malformed_request"));
    }

    #[test]
    fn an_event_without_a_body_is_an_empty_body() {
        let body = serde_json::json!({ "body": null, "isBase64Encoded": false });
        let r = request(event_with("$default", "/v1/webhooks/json", body)).unwrap();
        assert!(r.body().is_empty());
    }

    #[test]
    fn a_response_keeps_status_headers_and_text_and_moves_cookies_apart() {
        let answer = Response::builder()
            .status(StatusCode::CREATED)
            .header("content-type", "application/json")
            .header("set-cookie", "s=1")
            .body("{\"ok\":true}".to_owned())
            .unwrap();
        let out = response(answer);
        assert_eq!(out.status_code, 201);
        assert_eq!(out.headers["content-type"], "application/json");
        assert!(out.headers.get("set-cookie").is_none());
        assert_eq!(out.cookies, vec!["s=1".to_owned()]);
        assert_eq!(out.body, Some(EventBody::Text("{\"ok\":true}".into())));
        assert!(!out.is_base64_encoded);
    }
}
