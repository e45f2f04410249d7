//! The HTTP client every outbound call shares (one connection pool): the platforms' APIs, their
//! token endpoints and the company provider.
//!
//! It is the AWS SDK's own HTTPS connector (`aws-smithy-http-client`: hyper, rustls with ring,
//! the machine's trusted roots: a platform's API is anyone's certificate authority's, unlike
//! AWS's endpoints, which the SDK's clients trust Amazon's roots for), so the functions
//! that call out link no second HTTP stack: reqwest, its own trust store and its HTTP/2 client
//! were about 370 KB of enrich and of the backstop (docs/development.md). What this adds over the
//! connector is what the callers need and nothing else: one deadline for the whole exchange,
//! a bound on the answer's size, and errors that say whether another try may do better.
//! Redirects are not followed (no API here answers with one, and following one would resend
//! the bearer token to wherever it points), and, like the SDK's own calls, `HTTPS_PROXY` is
//! not read: a Lambda reaches the internet through its VPC's NAT, not a proxy.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use aws_smithy_async::rt::sleep::TokioSleep;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::Connector;
use aws_smithy_runtime_api::client::http::HttpConnector;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::error::display::DisplayErrorContext;
use http::header::{HeaderName, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::Method;
use http_body_util::{BodyExt, Limited};

/// How long one call may take, unless its caller says otherwise ([`RequestBuilder::timeout`]):
/// a platform's API past it counts as failed, and the read is tried again later.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The longest answer read from any outbound call: the largest page a platform's API answers
/// is well under it, and a larger one is refused, not buffered.
pub const MAX_ANSWER_BYTES: usize = 8 << 20;

/// Why an outbound call got no usable answer. The messages never hold the URL (it may carry
/// ids or a domain) nor anything sent.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The request could not be made (a header or URL that is not valid HTTP): the same
    /// request fails again.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// No complete answer within the deadline.
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
    /// No connection (refused, unresolvable, reset before an answer).
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// An answer larger than the caller accepts.
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    /// The exchange broke off in another way.
    #[error("{0}")]
    Transport(String),
}

impl HttpError {
    /// Whether the same request may succeed later.
    pub fn is_transient(&self) -> bool {
        !matches!(self, HttpError::Invalid(_) | HttpError::TooLarge(_))
    }
}

/// An answer of any status, its body read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The shared client. Built on first use, not with the other dependencies: only enrich and the
/// backstop call out, and a function whose code never asks for it pays nothing at start-up.
/// Those two build it in their `main` ([`HttpClient::prime`]) when their configuration has them
/// call out ([`crate::Deps::calls_out`]), so that their first request does not.
#[derive(Debug, Clone, Default)]
pub struct HttpClient(Arc<OnceLock<Connector>>);

impl HttpClient {
    fn connector(&self) -> &Connector {
        self.0.get_or_init(|| {
            Connector::builder()
                .sleep_impl(TokioSleep::new())
                .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
                .build()
        })
    }

    /// Builds the connector (its TLS configuration) now, during a function's init.
    pub fn prime(&self) {
        self.connector();
    }

    pub fn get(&self, url: impl Into<String>) -> RequestBuilder<'_> {
        RequestBuilder::new(self, Method::GET, url.into())
    }

    pub fn post(&self, url: impl Into<String>) -> RequestBuilder<'_> {
        RequestBuilder::new(self, Method::POST, url.into())
    }
}

/// One request being described; [`RequestBuilder::send`] sends it.
#[must_use]
pub struct RequestBuilder<'a> {
    client: &'a HttpClient,
    method: Method,
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Vec<u8>,
    timeout: Duration,
    max_bytes: usize,
    /// The first header that could not be made, reported by `send`.
    invalid: Option<String>,
}

impl<'a> RequestBuilder<'a> {
    fn new(client: &'a HttpClient, method: Method, url: String) -> Self {
        Self {
            client,
            method,
            url,
            headers: vec![(USER_AGENT, HeaderValue::from_static("leadrelay"))],
            body: Vec::new(),
            timeout: TIMEOUT,
            max_bytes: MAX_ANSWER_BYTES,
            invalid: None,
        }
    }

    pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
        let name = name.as_ref();
        match (
            HeaderName::try_from(name),
            HeaderValue::try_from(value.as_ref()),
        ) {
            (Ok(n), Ok(v)) => self.headers.push((n, v)),
            // The value is left out of the error: it may be a secret.
            _ => {
                self.invalid
                    .get_or_insert_with(|| format!("header {name:?} is not valid HTTP"));
            }
        }
        self
    }

    /// `Authorization: Bearer <token>`, marked sensitive.
    pub fn bearer_auth(mut self, token: &str) -> Self {
        match HeaderValue::try_from(format!("Bearer {token}")) {
            Ok(mut v) => {
                v.set_sensitive(true);
                self.headers.push((AUTHORIZATION, v));
            }
            Err(_) => {
                self.invalid
                    .get_or_insert_with(|| "the access token is not a valid header value".into());
            }
        }
        self
    }

    pub fn accept_json(self) -> Self {
        self.header(ACCEPT, "application/json")
    }

    pub fn content_type(self, value: &str) -> Self {
        self.header(CONTENT_TYPE, value)
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// The deadline for the whole exchange, connection and answer included.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest answer accepted; a larger one is [`HttpError::TooLarge`].
    pub fn max_bytes(mut self, max: usize) -> Self {
        self.max_bytes = max;
        self
    }

    /// Sends the request and reads the whole answer, whatever its status.
    pub async fn send(self) -> Result<Answer, HttpError> {
        if let Some(why) = self.invalid {
            return Err(HttpError::Invalid(why));
        }
        let mut request = http::Request::builder().method(self.method).uri(&self.url);
        for (name, value) in self.headers {
            request = request.header(name, value);
        }
        let request = request
            .body(SdkBody::from(self.body))
            .map_err(|e| HttpError::Invalid(redacted(&e.to_string())))?;
        let request = HttpRequest::try_from(request)
            .map_err(|e| HttpError::Invalid(redacted(&e.to_string())))?;
        let (timeout, max_bytes) = (self.timeout, self.max_bytes);
        let exchange = async {
            let response = self.client.connector().call(request).await.map_err(|e| {
                let message = redacted(&DisplayErrorContext(&e).to_string());
                if e.is_timeout() {
                    HttpError::TimedOut(timeout)
                } else if e.is_io() {
                    HttpError::Unreachable(message)
                } else {
                    HttpError::Transport(message)
                }
            })?;
            let status = response.status().as_u16();
            if response
                .headers()
                .get("content-length")
                .and_then(|n| n.parse::<u64>().ok())
                .is_some_and(|n| n > max_bytes as u64)
            {
                return Err(HttpError::TooLarge(max_bytes));
            }
            let body = Limited::new(response.into_body(), max_bytes)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        HttpError::TooLarge(max_bytes)
                    } else {
                        HttpError::Transport(redacted(&e.to_string()))
                    }
                })?
                .to_bytes();
            Ok(Answer {
                status,
                body: body.to_vec(),
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or(Err(HttpError::TimedOut(timeout)))
    }
}

/// An error's text without personal data (the connector's errors name no URL).
fn redacted(message: &str) -> String {
    leadrelay_domain::redact::redact(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_header_that_is_not_http_is_refused_without_its_value() {
        let client = HttpClient::default();
        let e = client
            .get("http://127.0.0.1:9/")
            .header("x-key", "secret\nvalue")
            .send()
            .await
            .unwrap_err();
        assert!(matches!(e, HttpError::Invalid(_)), "{e:?}");
        assert!(!e.is_transient());
        assert!(!e.to_string().contains("secret"), "{e}");
    }

    /// A server on loopback that answers every connection with `answer`, as written, and
    /// hands over each request it read (lower-cased).
    async fn answering(
        answer: &'static [u8],
    ) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let (requests, received) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                // The head, then as many bytes of body as it announces.
                let mut request = Vec::new();
                let mut chunk = [0; 4096];
                loop {
                    let text = String::from_utf8_lossy(&request).to_lowercase();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length: "))
                            .and_then(|n| n.trim().parse().ok())
                            .unwrap_or(0);
                        if body.len() >= length {
                            break;
                        }
                    }
                    match socket.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = requests.send(String::from_utf8_lossy(&request).to_lowercase());
                let _ = socket.write_all(answer).await;
                let _ = socket.shutdown().await;
            }
        });
        (url, received)
    }

    #[tokio::test]
    async fn an_answer_of_any_status_is_read_whole() {
        let (url, _) =
            answering(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 4\r\n\r\nbusy").await;
        let a = HttpClient::default().get(url).send().await.unwrap();
        assert_eq!((a.status, a.body.as_slice()), (503, &b"busy"[..]));
    }

    #[tokio::test]
    async fn a_request_names_its_host_and_client_and_carries_its_token_and_body() {
        let (url, mut requests) =
            answering(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").await;
        let host = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        HttpClient::default()
            .post(format!("{url}token"))
            .bearer_auth("t0k")
            .content_type("application/x-www-form-urlencoded")
            .body("grant_type=refresh_token")
            .send()
            .await
            .unwrap();
        let request = requests.recv().await.unwrap();
        for line in [
            "post /token http/1.1\r\n",
            &format!("\r\nhost: {host}\r\n"),
            "\r\nuser-agent: leadrelay\r\n",
            "\r\nauthorization: bearer t0k\r\n",
            "\r\ncontent-type: application/x-www-form-urlencoded\r\n",
            "\r\n\r\ngrant_type=refresh_token",
        ] {
            assert!(request.contains(line), "{line:?} not in {request:?}");
        }
    }

    #[tokio::test]
    async fn an_answer_larger_than_the_bound_is_refused_whether_announced_or_not() {
        let (announced, _) =
            answering(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789").await;
        let (chunked, _) = answering(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n",
        )
        .await;
        for url in [announced, chunked] {
            let e = HttpClient::default()
                .get(url)
                .max_bytes(8)
                .send()
                .await
                .unwrap_err();
            assert!(matches!(e, HttpError::TooLarge(8)), "{e:?}");
            assert!(!e.is_transient());
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_unreachable_and_worth_another_try() {
        // Bound then dropped: nothing listens on the port.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = HttpClient::default()
            .get(format!("http://127.0.0.1:{port}/x"))
            .send()
            .await
            .unwrap_err();
        assert!(matches!(e, HttpError::Unreachable(_)), "{e:?}");
        assert!(e.is_transient());
    }
}
