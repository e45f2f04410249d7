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
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;

/// The connect timeout aws-config and the SDK's clients default to, pinned for the functions.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// Amazon Trust Services' root certificates (the file says where they are published).
const AMAZON_TRUST_SERVICES: &[u8] = include_bytes!("amazon-trust-services.pem");

/// The roots the SDK's HTTPS client trusts in a Lambda function, from `LEADRELAY_AWS_ROOTS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AwsRoots {
    /// Amazon Trust Services' roots only (the default): the commercial partition's endpoints
    /// chain to one of them. The SDK parses its client's whole trust store again for every
    /// client made and every new set of runtime components (six clients in capture): five
    /// roots cost next to nothing, the machine's 150 to 290 certificates were most of a
    /// function's init besides its round trips (docs/development.md). And a certificate
    /// authority added to the image cannot vouch for an AWS endpoint.
    Amazon,
    /// The machine's store: for a partition whose endpoints chain elsewhere, or an endpoint
    /// (`AWS_ENDPOINT_URL`) behind a TLS-inspecting proxy.
    System,
}

/// `LEADRELAY_AWS_ROOTS` does not name a trust store.
#[derive(Debug, PartialEq)]
struct UnknownRoots;

/// The roots a `LEADRELAY_AWS_ROOTS` value names (case and surrounding space aside); unset
/// or empty is [`AwsRoots::Amazon`].
fn aws_roots(value: Option<&str>) -> Result<AwsRoots, UnknownRoots> {
    match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") | Some("amazon") => Ok(AwsRoots::Amazon),
        Some("system") => Ok(AwsRoots::System),
        Some(_) => Err(UnknownRoots),
    }
}

fn https_client_trusting(roots: AwsRoots) -> SharedHttpClient {
    let trust = match roots {
        AwsRoots::Amazon => TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES),
        AwsRoots::System => TrustStore::default(),
    };
    let builder = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring));
    match TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // The builder refuses nothing in this version of the SDK. Should it ever, a function
        // that trusts the image's store, as the SDK does by default, is better than one that
        // cannot start; it is said loudly.
        Err(e) => {
            tracing::error!(error = %e, "TLS roots not applied; the machine's store is trusted");
            builder.build_https()
        }
    }
}

/// The configuration loader with our HTTPS client; callers may set more before `load`.
pub fn loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client_trusting(AwsRoots::System))
}

/// The configuration from the default provider chain.
pub async fn load() -> SdkConfig {
    loader().load().await
}

/// A Lambda function's configuration: the region and the credentials from the environment
/// Lambda gives the function, and the endpoint from `AWS_ENDPOINT_URL` when it is set (the
/// tests point it at the emulator; one that is not an HTTP(S) URL is ignored with a warning, as
/// the SDK's chain ignores an invalid one). Its HTTPS client trusts Amazon Trust Services'
/// roots, or the machine's with `LEADRELAY_AWS_ROOTS=system` (`AwsRoots`). Retries (standard,
/// three attempts), the connect timeout and the identity cache pin what the chain and the
/// clients default to; the SDK's other `AWS_*` settings are not read (docs/operating.md).
pub async fn from_lambda_environment() -> SdkConfig {
    let roots = aws_roots(std::env::var("LEADRELAY_AWS_ROOTS").ok().as_deref()).unwrap_or_else(
        |UnknownRoots| {
            tracing::warn!(
                "LEADRELAY_AWS_ROOTS is neither amazon nor system; Amazon's roots are trusted"
            );
            AwsRoots::Amazon
        },
    );
    let region = EnvironmentVariableRegionProvider::new().region().await;
    let credentials = EnvironmentVariableCredentialsProvider::new();
    let mut sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(region)
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .identity_cache(IdentityCache::lazy().build())
        .http_client(https_client_trusting(roots))
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

    #[test]
    fn amazons_roots_are_the_default_and_system_is_asked_for_by_name() {
        assert_eq!(aws_roots(None), Ok(AwsRoots::Amazon));
        assert_eq!(aws_roots(Some("")), Ok(AwsRoots::Amazon));
        assert_eq!(aws_roots(Some("amazon")), Ok(AwsRoots::Amazon));
        assert_eq!(aws_roots(Some(" System\n")), Ok(AwsRoots::System));
        assert_eq!(aws_roots(Some("native")), Err(UnknownRoots));
    }

    /// The embedded roots are Amazon Trust Services' own, by the SHA-256 fingerprints
    /// published at https://www.amazontrust.com/repository/, and nothing else.
    #[test]
    fn the_embedded_roots_are_amazon_trust_services_by_their_published_fingerprints() {
        use base64::Engine;
        use sha2::Digest;
        let text = std::str::from_utf8(AMAZON_TRUST_SERVICES).unwrap();
        let fingerprints: Vec<String> = text
            .split("-----BEGIN CERTIFICATE-----")
            .skip(1)
            .map(|block| {
                let body: String = block
                    .split("-----END CERTIFICATE-----")
                    .next()
                    .unwrap()
                    .split_whitespace()
                    .collect();
                let der = base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .unwrap();
                hex::encode_upper(sha2::Sha256::digest(der))
            })
            .collect();
        assert_eq!(
            fingerprints,
            [
                // Amazon Root CA 1 to 4
                "8ECDE6884F3D87B1125BA31AC3FCB13D7016DE7F57CC904FE1CB97C6AE98196E",
                "1BA5B2AA8C65401A82960118F80BEC4F62304D83CEC4713A19C39C011EA46DB4",
                "18CE6CFE7BF14E60B2E347B8DFE868CB31D02EBB3ADA271569F50343B46DB3A4",
                "E35D28419ED02025CFA69038CD623962458DA5C695FBDEA3C22B0BFB25897092",
                // Starfield Services Root Certificate Authority - G2
                "568D6905A2C88708A4B3025190EDCFEDB1974A606A13C6E5290FCB2AE63EDAB5",
            ]
        );
    }

    /// The client is built with the roots (a certificate its TLS stack could not read would
    /// panic here, not in a function's init).
    #[tokio::test]
    async fn a_client_trusting_amazons_roots_builds_its_tls_configuration() {
        use aws_smithy_runtime_api::client::http::HttpClient;
        use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
        let client = https_client_trusting(AwsRoots::Amazon);
        let components = RuntimeComponentsBuilder::for_tests()
            .with_time_source(Some(SharedTimeSource::default()))
            .with_sleep_impl(default_async_sleep())
            .build()
            .unwrap();
        let _connector = client.http_connector(&Default::default(), &components);
    }
}
