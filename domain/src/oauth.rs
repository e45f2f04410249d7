//! OAuth 2.0 access tokens from a refresh token (RFC 6749 §6), for the platform APIs whose
//! access tokens live an hour (Google Ads): the request to make, the answer read, and how long
//! a token may be used. The HTTP call and the cache are the caller's.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::secret::Secret;

/// How long before the end a platform gave a token it stops being used: a pass that starts
/// just before the end must not have its later pages refused.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(5 * 60);

/// What a refresh takes: the OAuth client and the refresh token a user granted it.
#[derive(Debug, Clone)]
pub struct RefreshGrant<'a> {
    pub token_url: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a Secret,
    pub refresh_token: &'a Secret,
}

impl RefreshGrant<'_> {
    /// The token request's form body (`application/x-www-form-urlencoded`, POSTed to
    /// `token_url`), with the client's credentials in it as Google's token endpoint takes them.
    /// A secret itself: it carries the client secret and the refresh token.
    pub fn form_body(&self) -> Secret {
        Secret::new(
            form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "refresh_token")
                .append_pair("client_id", self.client_id)
                .append_pair("client_secret", self.client_secret.expose())
                .append_pair("refresh_token", self.refresh_token.expose())
                .finish(),
        )
    }
}

/// A fresh access token and until when to use it.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: Secret,
    pub use_until: DateTime<Utc>,
}

impl AccessToken {
    pub fn usable_at(&self, now: DateTime<Utc>) -> bool {
        now < self.use_until
    }
}

/// Why no token came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token endpoint said no (`invalid_grant`: the refresh token was revoked or expired,
    /// `invalid_client`: the client secret is wrong). Only someone granting access again helps.
    #[error("the token endpoint refused the refresh ({error}): authorise again and store the new refresh token")]
    Refused { error: String },
    /// A 5xx or 429: the endpoint may answer next time.
    #[error("the token endpoint answered {status}")]
    Unavailable { status: u16 },
    /// A success that is not an OAuth token answer.
    #[error("the token endpoint's answer cannot be read: {0}")]
    Unreadable(String),
}

impl TokenError {
    pub fn is_transient(&self) -> bool {
        matches!(self, TokenError::Unavailable { .. })
    }
}

#[derive(Deserialize)]
struct Granted {
    access_token: String,
    /// Seconds; absent: an hour, Google's.
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct Refusal {
    error: String,
}

/// Reads the token endpoint's answer (its status and body) received at `now`.
pub fn read_answer(
    status: u16,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<AccessToken, TokenError> {
    if status == 429 || status >= 500 {
        return Err(TokenError::Unavailable { status });
    }
    if !(200..300).contains(&status) {
        // RFC 6749 §5.2: a 400 (or 401) with an `error` code. The code is a fixed word, never
        // a credential; anything else in the body is left out.
        let error = serde_json::from_slice::<Refusal>(body)
            .ok()
            .map(|r| r.error)
            .filter(|e| e.len() <= 40 && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
            .unwrap_or_else(|| format!("HTTP {status}"));
        return Err(TokenError::Refused { error });
    }
    let granted: Granted = serde_json::from_slice(body)
        .map_err(|e| TokenError::Unreadable(format!("no access_token ({})", category(&e))))?;
    if granted.access_token.is_empty() {
        return Err(TokenError::Unreadable("an empty access_token".into()));
    }
    let lifetime = Duration::from_secs(granted.expires_in.unwrap_or(3600));
    // A token too short-lived for the margin is used once, for this pass.
    let usable = lifetime.saturating_sub(EXPIRY_MARGIN);
    Ok(AccessToken {
        token: Secret::new(granted.access_token),
        use_until: now + chrono::Duration::from_std(usable).unwrap_or_default(),
    })
}

/// serde_json's error category, without the position or the text it quotes.
fn category(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "unreadable",
        serde_json::error::Category::Syntax => "not JSON",
        serde_json::error::Category::Data => "not a token answer",
        serde_json::error::Category::Eof => "cut short",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-03-14T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn the_refresh_is_a_form_with_the_client_and_the_refresh_token_and_never_shows_them() {
        let secret = Secret::new("client s&cret");
        let refresh = Secret::new("1//0refresh");
        let grant = RefreshGrant {
            token_url: "https://oauth2.googleapis.com/token",
            client_id: "123.apps.googleusercontent.com",
            client_secret: &secret,
            refresh_token: &refresh,
        };
        let body = grant.form_body();
        let pairs: Vec<(String, String)> = form_urlencoded::parse(body.expose().as_bytes())
            .into_owned()
            .collect();
        assert_eq!(
            pairs,
            [
                ("grant_type", "refresh_token"),
                ("client_id", "123.apps.googleusercontent.com"),
                ("client_secret", "client s&cret"),
                ("refresh_token", "1//0refresh"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        let shown = format!("{grant:?} {body:?}");
        assert!(
            !shown.contains("s&cret") && !shown.contains("0refresh"),
            "{shown}"
        );
    }

    #[test]
    fn a_granted_token_is_used_until_five_minutes_before_it_expires() {
        let body = br#"{"access_token":"ya29.a0","expires_in":3599,"scope":"https://www.googleapis.com/auth/adwords","token_type":"Bearer"}"#;
        let t = read_answer(200, body, now()).unwrap();
        assert_eq!(t.token.expose(), "ya29.a0");
        assert_eq!(t.use_until, now() + chrono::Duration::seconds(3599 - 300));
        assert!(t.usable_at(now() + chrono::Duration::minutes(54)));
        assert!(!t.usable_at(now() + chrono::Duration::minutes(55)));
    }

    #[test]
    fn a_token_without_a_lifetime_lasts_an_hour_and_one_shorter_than_the_margin_is_not_kept() {
        let t = read_answer(200, br#"{"access_token":"a"}"#, now()).unwrap();
        assert_eq!(t.use_until, now() + chrono::Duration::minutes(55));
        let t = read_answer(200, br#"{"access_token":"a","expires_in":60}"#, now()).unwrap();
        assert!(!t.usable_at(now()));
    }

    #[test]
    fn a_revoked_refresh_token_is_refused_for_good_and_an_outage_is_transient() {
        let e = read_answer(
            400,
            br#"{"error":"invalid_grant","error_description":"Token has been expired or revoked."}"#,
            now(),
        )
        .unwrap_err();
        assert_eq!(
            e,
            TokenError::Refused {
                error: "invalid_grant".into()
            }
        );
        assert!(!e.is_transient());
        assert!(e.to_string().contains("authorise again"), "{e}");
        let e = read_answer(401, b"<html>no</html>", now()).unwrap_err();
        assert_eq!(
            e,
            TokenError::Refused {
                error: "HTTP 401".into()
            }
        );
        for status in [429, 500, 503] {
            assert!(read_answer(status, b"", now()).unwrap_err().is_transient());
        }
    }

    #[test]
    fn an_answer_that_is_not_a_token_is_unreadable_and_quotes_nothing() {
        let e = read_answer(200, br#"{"token":"ya29.secret"}"#, now()).unwrap_err();
        assert!(matches!(e, TokenError::Unreadable(_)));
        assert!(!e.to_string().contains("ya29"), "{e}");
        assert!(!e.is_transient());
        let e = read_answer(200, br#"{"access_token":""}"#, now()).unwrap_err();
        assert!(matches!(e, TokenError::Unreadable(_)));
    }
}
