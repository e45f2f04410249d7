//! The AWS SDK's configuration, over one HTTPS client with rustls and ring (the SDK's default
//! TLS stack is off: see the workspace Cargo.toml), loaded one of two ways:
//!
//! - [`load`]: the SDK's default provider chain (environment, profile files, SSO, container and
//!   instance credentials, assumed roles through STS), for the CLI and the local stack, which
//!   run wherever an engineer's credentials are;
//! - [`from_lambda_environment`]: what a Lambda function is given, read from its environment
//!   only. A function's execution role's credentials and its region are always in its
//!   environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
//!   `AWS_REGION`): the default chain's other providers, profile parsing and STS client would
//!   only be linked into each function (about 0.5 MB) and, at init, look for files that are not
//!   there.

use std::time::Duration;

use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::identity::IdentityCache;
use aws_config::meta::region::ProvideRegion;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::rt::sleep::default_async_sleep;
use aws_smithy_async::time::SharedTimeSource;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;

/// The connect timeout aws-config and the SDK's clients default to, pinned for the functions.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The configuration loader with our HTTPS client; callers may set more before `load`.
pub fn loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest()).http_client(https_client())
}

/// The configuration from the default provider chain.
pub async fn load() -> SdkConfig {
    loader().load().await
}

/// A Lambda function's configuration: the region and the credentials from the environment
/// Lambda gives the function, and the endpoint from `AWS_ENDPOINT_URL` when it is set (the
/// tests point it at the emulator; one that is not an HTTP(S) URL is ignored with a warning, as
/// the SDK's chain ignores an invalid one). Retries (standard, three attempts), the connect timeout and the identity
/// cache pin what the chain and the clients default to; the SDK's other `AWS_*` settings are
/// not read (docs/operating.md).
pub async fn from_lambda_environment() -> SdkConfig {
    let region = EnvironmentVariableRegionProvider::new().region().await;
    let credentials = EnvironmentVariableCredentialsProvider::new();
    let mut sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region)
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .identity_cache(IdentityCache::lazy().build())
        .http_client(https_client())
        .time_source(SharedTimeSource::default())
        .retry_config(RetryConfig::standard())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .build(),
        );
    sdk.set_sleep_impl(default_async_sleep());
    if let Ok(value) = std::env::var("AWS_ENDPOINT_URL") {
        match endpoint_url(&value) {
            Ok(Some(url)) => sdk = sdk.endpoint_url(url),
            Ok(None) => {}
            // The value is not logged: a URL may carry credentials.
            Err(NotAnEndpoint) => tracing::warn!("AWS_ENDPOINT_URL is not an http(s) URL; ignored"),
        }
    }
    sdk.build()
}

/// `AWS_ENDPOINT_URL` does not name an HTTP(S) endpoint.
#[derive(Debug, PartialEq)]
struct NotAnEndpoint;

/// The endpoint an `AWS_ENDPOINT_URL` value names, trimmed; none when it is empty.
fn endpoint_url(value: &str) -> Result<Option<&str>, NotAnEndpoint> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    match url::Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
            Ok(Some(value))
        }
        _ => Err(NotAnEndpoint),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_url_is_taken_trimmed_and_an_empty_one_is_none() {
        assert_eq!(
            endpoint_url(" http://127.0.0.1:5000\n"),
            Ok(Some("http://127.0.0.1:5000"))
        );
        assert_eq!(
            endpoint_url("https://dynamodb.eu-west-1.amazonaws.com"),
            Ok(Some("https://dynamodb.eu-west-1.amazonaws.com"))
        );
        assert_eq!(endpoint_url(""), Ok(None));
        assert_eq!(endpoint_url("  "), Ok(None));
    }

    #[test]
    fn an_endpoint_url_without_an_http_scheme_and_host_is_refused() {
        // "localhost:4566" parses as a URL of scheme "localhost".
        for value in [
            "localhost:4566",
            "127.0.0.1:5000",
            "ftp://example.com",
            "http://",
            "not a url",
        ] {
            assert_eq!(endpoint_url(value), Err(NotAnEndpoint), "{value}");
        }
    }
}
