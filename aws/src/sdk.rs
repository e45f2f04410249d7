//! The AWS SDK's configuration, loaded the one way every entry point uses: the default
//! provider chain (environment, profile, container and instance credentials, `AWS_ENDPOINT_URL`)
//! over one HTTPS client with rustls and ring (the SDK's default TLS stack is off:
//! see the workspace Cargo.toml).

use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// The configuration loader with our HTTPS client; callers may set more before `load`.
pub fn loader() -> ConfigLoader {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest()).http_client(http)
}

/// The configuration from the environment.
pub async fn load() -> SdkConfig {
    loader().load().await
}
