//! Reading lead details from platforms that deliver only ids (Meta Graph API, HubSpot CRM,
//! LinkedIn Lead Sync): HTTP only; each platform module says what to ask and how to read it.
//! Every API's base URL is configurable, so tests serve it from a local HTTP server.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use leadrelay_domain::config::SourceKind;
use leadrelay_domain::intake::IntakeError;
use leadrelay_domain::oauth::{self, AccessToken, RefreshGrant, TokenError};
use leadrelay_domain::platforms::{self, FieldMapping, PlatformLead, PollRequest, Settings};
use leadrelay_domain::secret::Secret;

use crate::outbound::{HttpClient, HttpError, RequestBuilder};

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("source {0} has no access token: set sources.{0}.access_token or LEADRELAY_<SOURCE>_ACCESS_TOKEN")]
    NoToken(String),
    #[error("source {0} has no API URL")]
    NoApiUrl(String),
    #[error("reading lead details from {platform} is not supported yet")]
    Unsupported { platform: &'static str },
    /// No usable answer: unreachable, too slow, too large; its error says whether another try
    /// may do better.
    #[error("{platform} API request failed: {error}")]
    Request {
        platform: &'static str,
        error: HttpError,
    },
    #[error("{platform} API answered {status}")]
    Status { platform: &'static str, status: u16 },
    /// No access token could be minted from the source's OAuth client and refresh token.
    #[error("{platform} OAuth: {error}")]
    Token {
        platform: &'static str,
        error: TokenError,
    },
    /// The parser's words with the values it quoted left out: the answer is a person's.
    #[error("{platform} API answer cannot be read: {message}")]
    Parse {
        platform: &'static str,
        message: String,
    },
}

impl FetchError {
    /// Whether reading again later may succeed: the platform was unreachable, slow, busy or
    /// failing. A missing token, an unsupported platform, a refused request (4xx but 429), an
    /// answer too large to take or one we cannot read will fail the same way until someone
    /// changes something.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Request { error, .. } => error.is_transient(),
            FetchError::Token { error, .. } => error.is_transient(),
            FetchError::Status { status, .. } => *status == 429 || *status >= 500,
            FetchError::NoToken(_)
            | FetchError::NoApiUrl(_)
            | FetchError::Unsupported { .. }
            | FetchError::Parse { .. } => false,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct PlatformApi {
    http: HttpClient,
    /// The access tokens minted for sources with an OAuth client, by source, kept while
    /// usable: one token request an hour, not one per poll.
    minted: Arc<Mutex<BTreeMap<String, AccessToken>>>,
}

impl PlatformApi {
    pub fn new() -> Self {
        Self::default()
    }

    /// Over a shared client.
    pub fn with_client(http: HttpClient) -> Self {
        Self {
            http,
            minted: Arc::default(),
        }
    }

    /// The client, to share with other outbound calls.
    pub fn client(&self) -> &HttpClient {
        &self.http
    }

    /// The complete lead behind a platform's id: the platform describes the read and parses
    /// the answer; this only sends it.
    pub async fn fetch(
        &self,
        kind: SourceKind,
        api_url: &str,
        token: &Secret,
        external_id: &str,
        mapping: &FieldMapping,
    ) -> Result<PlatformLead, FetchError> {
        let p = platforms::platform(kind, Settings::default());
        let platform = p.name();
        let described = p
            .details_request(api_url, external_id)
            .ok_or(FetchError::Unsupported {
                platform: "this source",
            })?;
        let described = described.map_err(|e| unreadable(platform, &e))?;
        let mut request = self.http.get(&described.url).bearer_auth(token.expose());
        for (name, value) in described.headers {
            request = request.header(name, value);
        }
        let body = answer(platform, request).await?;
        p.parse_details(&body, mapping)
            .map_err(|e| unreadable(platform, &e))
    }
}

impl PlatformApi {
    /// One page of the backstop's poll: sends the described request with the access token
    /// (and Google's developer token) and returns the answer's body. Any status but a success
    /// is an error ([`FetchError::is_transient`] says whether the next poll may do better).
    pub async fn poll_page(
        &self,
        platform: &'static str,
        described: &PollRequest,
        token: &Secret,
        developer_token: Option<&Secret>,
    ) -> Result<Vec<u8>, FetchError> {
        let mut request = if described.post {
            self.http.post(&described.url)
        } else {
            self.http.get(&described.url)
        };
        request = request.bearer_auth(token.expose());
        for (name, value) in &described.headers {
            request = request.header(*name, value);
        }
        if let Some(dev) = developer_token {
            request = request.header("developer-token", dev.expose());
        }
        if let Some(body) = &described.body {
            request = request.body(body.clone());
        }
        answer(platform, request).await
    }
}

impl PlatformApi {
    /// An access token for `source` from its OAuth client and refresh token: the one minted
    /// before while it is usable at `now`, else a new one from the token endpoint. The errors
    /// carry the endpoint's error code at most, never what was sent.
    pub async fn minted_token(
        &self,
        platform: &'static str,
        source: &str,
        grant: &RefreshGrant<'_>,
        now: DateTime<Utc>,
    ) -> Result<Secret, FetchError> {
        if let Some(kept) = self
            .minted_tokens()
            .get(source)
            .filter(|t| t.usable_at(now))
        {
            return Ok(kept.token.clone());
        }
        let answer = self
            .http
            .post(grant.token_url)
            .content_type("application/x-www-form-urlencoded")
            .accept_json()
            .body(grant.form_body().expose())
            .send()
            .await
            .map_err(|error| FetchError::Request { platform, error })?;
        let token = oauth::read_answer(answer.status, &answer.body, now)
            .map_err(|error| FetchError::Token { platform, error })?;
        self.minted_tokens()
            .insert(source.to_owned(), token.clone());
        Ok(token.token)
    }

    /// Drops the token minted for `source`: its API refused it (revoked before its time), so
    /// the next poll mints another.
    pub fn forget_minted_token(&self, source: &str) {
        self.minted_tokens().remove(source);
    }

    fn minted_tokens(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, AccessToken>> {
        // A panic elsewhere cannot leave the map half-written: insert and remove are whole.
        self.minted.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Sends a request to a platform's API and reads a successful answer's body. The errors name
/// neither the URL (it may carry ids) nor anything the platform answered.
async fn answer(
    platform: &'static str,
    request: RequestBuilder<'_>,
) -> Result<Vec<u8>, FetchError> {
    let answer = request
        .send()
        .await
        .map_err(|error| FetchError::Request { platform, error })?;
    if !(200..300).contains(&answer.status) {
        return Err(FetchError::Status {
            platform,
            status: answer.status,
        });
    }
    Ok(answer.body)
}

/// An answer that could not be read, described without the personal data serde quotes.
pub fn unreadable_answer(platform: &'static str, e: &IntakeError) -> FetchError {
    unreadable(platform, e)
}

/// An answer that could not be read, described without the personal data serde quotes.
fn unreadable(platform: &'static str, e: &IntakeError) -> FetchError {
    FetchError::Parse {
        platform,
        message: leadrelay_domain::redact::redact(&e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_read_is_tried_again_after_a_failed_exchange_but_not_after_an_answer_too_large() {
        let request = |error| FetchError::Request {
            platform: "Meta",
            error,
        };
        assert!(request(HttpError::Unreachable("refused".into())).is_transient());
        assert!(request(HttpError::TimedOut(crate::outbound::TIMEOUT)).is_transient());
        assert!(!request(HttpError::TooLarge(8)).is_transient());
        assert!(!request(HttpError::Invalid("header".into())).is_transient());
    }
}
