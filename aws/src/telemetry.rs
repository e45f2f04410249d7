//! Logging: JSON lines for CloudWatch in Lambda, `RUST_LOG` to filter. Log ids, sources and
//! timings only, never personal data (invariant 7 in docs/architecture.md).

/// For the Lambda functions: JSON, no ANSI colours, no timestamps (CloudWatch adds them).
pub fn init_lambda() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .try_init();
}
