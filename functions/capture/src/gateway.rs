//! From API Gateway's request to the handler's: the body as bytes, and the path without the
//! stage. On a named stage (`/prod/v1/webhooks/json`) lambda_http keeps the stage in the
//! path, where no route matches it; the routes are the same on every stage, so the stage is
//! taken off, and the path as called is kept for the schemes that sign the URL.

use http::Request;
use lambda_http::request::RequestContext;
use lambda_http::RequestExt;

use crate::Body;

/// The path the client called, stage included, when the route's path differs from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalledPath(pub String);

/// The request for [`crate::handle`].
pub fn request(req: lambda_http::Request) -> Request<Body> {
    let stage = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => c.stage.clone(),
        _ => None,
    };
    let (mut parts, body) = req.into_parts();
    if let Some(stage) = stage.filter(|s| !s.is_empty() && s != "$default") {
        let path = parts.uri.path();
        let prefix = format!("/{stage}");
        let rest = path
            .strip_prefix(&prefix)
            .filter(|r| r.is_empty() || r.starts_with('/'));
        if let Some(rest) = rest {
            let rest = if rest.is_empty() { "/" } else { rest };
            let path_and_query = match parts.uri.query() {
                Some(q) => format!("{rest}?{q}"),
                None => rest.to_owned(),
            };
            let mut uri = http::uri::Parts::from(parts.uri.clone());
            if let Ok(pq) = path_and_query.parse() {
                uri.path_and_query = Some(pq);
                if let Ok(stripped) = http::Uri::from_parts(uri) {
                    parts.extensions.insert(CalledPath(path.to_owned()));
                    parts.uri = stripped;
                }
            }
        }
    }
    Request::from_parts(parts, body.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(stage: &str, raw_path: &str) -> lambda_http::Request {
        let text = serde_json::json!({
            "version": "2.0",
            "routeKey": "POST /v1/webhooks/{source}",
            "rawPath": raw_path,
            "rawQueryString": "token=abc",
            "headers": { "host": "abc123.execute-api.us-east-1.amazonaws.com", "content-type": "application/json" },
            "requestContext": {
                "accountId": "123456789012", "apiId": "abc123",
                "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "domainPrefix": "abc123",
                "http": { "method": "POST", "path": raw_path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "curl" },
                "requestId": "id", "routeKey": "POST /v1/webhooks/{source}", "stage": stage,
                "time": "02/Mar/2026:10:00:00 +0000", "timeEpoch": 1772445600000u64
            },
            "body": "{}",
            "isBase64Encoded": false
        })
        .to_string();
        lambda_http::request::from_str(&text).expect("an API Gateway v2 event")
    }

    #[test]
    fn a_named_stage_is_taken_off_the_path_and_kept_as_called() {
        let r = request(event("prod", "/prod/v1/webhooks/json"));
        assert_eq!(r.uri().path(), "/v1/webhooks/json");
        assert_eq!(r.uri().query(), Some("token=abc"));
        assert_eq!(
            r.extensions().get::<CalledPath>(),
            Some(&CalledPath("/prod/v1/webhooks/json".into()))
        );
    }

    #[test]
    fn the_default_stage_leaves_the_path_alone() {
        let r = request(event("$default", "/v1/webhooks/json"));
        assert_eq!(r.uri().path(), "/v1/webhooks/json");
        assert!(r.extensions().get::<CalledPath>().is_none());
    }

    #[test]
    fn a_raw_path_without_the_stage_is_routed_all_the_same() {
        let r = request(event("prod", "/v1/webhooks/json"));
        assert_eq!(r.uri().path(), "/v1/webhooks/json");
    }
}
