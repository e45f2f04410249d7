//! Protections for sources a browser posts to, which cannot keep a secret: an allowed-origin
//! list and a per-address rate limit. Refused posts are not stored.

use chrono::{DateTime, Timelike, Utc};
use http::{HeaderValue, Request, Response, StatusCode};
use leadrelay_aws::Deps;
use leadrelay_domain::config::SourceConfig;
use sha2::{Digest, Sha256};

use crate::{header, json_error, Body};
use leadrelay_aws::metrics;

/// `Some(answer)` when the request must be refused.
pub async fn check(
    deps: &Deps,
    source_name: &str,
    source: &SourceConfig,
    req: &Request<Body>,
) -> Option<Response<String>> {
    if !source.allowed_origins.is_empty() {
        let origin = header(req, "origin")
            .map(str::to_owned)
            .or_else(|| header(req, "referer").and_then(origin_of));
        let allowed = origin.as_deref().is_some_and(|o| {
            source
                .allowed_origins
                .iter()
                .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(o))
        });
        if !allowed {
            tracing::info!(source = source_name, "post refused: origin not allowed");
            metrics::lead_refused(source_name, "origin_not_allowed");
            return Some(json_error(
                StatusCode::FORBIDDEN,
                "origin_not_allowed",
                "this form may only be posted from its own website",
            ));
        }
    }
    let limit = source.rate_limit()?;
    let now = deps.clock.now();
    let (key, window_ends) = window(source_name, client_address(req), now);
    match deps.store.count_hit(&key, window_ends).await {
        Ok(hits) if hits > u64::from(limit) => {
            tracing::info!(source = source_name, "post refused: rate limit");
            metrics::lead_refused(source_name, "rate_limited");
            let mut r = json_error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                &format!("more than {limit} posts a minute from one address"),
            );
            let wait = (window_ends - now).num_seconds().max(1);
            if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                r.headers_mut().insert("retry-after", v);
            }
            Some(r)
        }
        Ok(_) => None,
        // The limit protects against floods; it must not turn a store hiccup into lost leads.
        Err(e) => {
            tracing::warn!(source = source_name, error = %e, "rate limit not checked");
            None
        }
    }
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

/// The client's address as API Gateway saw it: the last X-Forwarded-For entry (API Gateway
/// appends the address it saw; earlier entries are whatever the client sent).
fn client_address(req: &Request<Body>) -> String {
    header(req, "x-forwarded-for")
        .and_then(|v| v.rsplit(',').next())
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

/// The counter key of this minute for an address, and when the minute ends. The address is
/// hashed: it is personal data and only needs to be told apart, not read back.
fn window(source: &str, address: String, now: DateTime<Utc>) -> (String, DateTime<Utc>) {
    let hash = hex::encode(&Sha256::digest(format!("{source}\n{address}").as_bytes())[..12]);
    let minute = now.format("%Y%m%d%H%M");
    let ends = now + chrono::Duration::seconds(60 - i64::from(now.second()));
    (format!("{source}#{hash}#{minute}"), ends)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_come_from_referers_too() {
        assert_eq!(
            origin_of("https://www.acme.io/de/preise?x=1").as_deref(),
            Some("https://www.acme.io")
        );
        assert_eq!(origin_of("nonsense"), None);
    }

    #[test]
    fn windows_are_per_minute_and_do_not_reveal_the_address() {
        let t: DateTime<Utc> = "2026-03-20T08:38:02Z".parse().unwrap();
        let (k1, ends) = window("html-form", "203.0.113.7".into(), t);
        let (k2, _) = window(
            "html-form",
            "203.0.113.7".into(),
            t + chrono::Duration::seconds(50),
        );
        let (k3, _) = window("html-form", "203.0.113.8".into(), t);
        assert_eq!(k1, k2);
        assert_ne!(k1, k3);
        assert!(!k1.contains("203.0.113"));
        assert_eq!(
            ends,
            "2026-03-20T08:39:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }
}
