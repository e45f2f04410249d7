//! Logging. In Lambda: Lambda's JSON log format, one object a line with `timestamp`, `level`,
//! `message` and the invocation's `requestId`, then the event's own fields; or plain text when
//! the function's log format is `Text` (`AWS_LAMBDA_LOG_FORMAT`). The level comes from
//! `RUST_LOG` when set, else from the function's application log level
//! (`AWS_LAMBDA_LOG_LEVEL`, `TRACE` .. `FATAL`), else `INFO`. Log ids, sources and timings
//! only, never personal data (invariant 7 in docs/architecture.md).

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// For the Lambda functions: the format and level Lambda's logging configuration asks for.
///
/// The level is a [`Targets`] filter (`info`, `leadrelay_aws=debug,warn`), not an `EnvFilter`:
/// its span and field directives compile regular expressions with a DFA builder, which took
/// 812 KB of route's, notify's and escalate's binaries for a feature no function's logging
/// uses.
pub fn init_lambda() {
    let directive = level_directive(
        std::env::var("RUST_LOG").ok().as_deref(),
        std::env::var("AWS_LAMBDA_LOG_LEVEL").ok().as_deref(),
    );
    let (filter, refused) = match directive.parse::<Targets>() {
        Ok(filter) => (filter, None),
        Err(e) => (Targets::new().with_default(LevelFilter::INFO), Some(e)),
    };
    let text = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("text"));
    if text {
        // The request id shows as the invocation span's field on each line:
        // `Lambda runtime invoke{requestId=...}: message`.
        let _ = tracing_subscriber::fmt()
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .finish()
            .with(filter)
            .try_init();
    } else {
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(RequestIds)
            .with(
                tracing_subscriber::fmt::layer()
                    .event_format(LambdaJson)
                    .with_ansi(false),
            )
            .try_init();
    }
    if let Some(e) = refused {
        tracing::warn!(error = %e, "RUST_LOG not understood (targets and levels only, as `leadrelay_aws=debug,info`); logging at info");
    }
}

/// The filter directive: `RUST_LOG` wins (a developer's or operator's override), else
/// Lambda's application log level mapped onto tracing's levels (`FATAL` is `error`: tracing
/// has no level above it), else `info`.
pub fn level_directive(rust_log: Option<&str>, lambda_level: Option<&str>) -> String {
    if let Some(r) = rust_log.map(str::trim).filter(|r| !r.is_empty()) {
        return r.to_owned();
    }
    let level = match lambda_level
        .map(|l| l.trim().to_ascii_uppercase())
        .as_deref()
    {
        Some("TRACE") => "trace",
        Some("DEBUG") => "debug",
        Some("WARN") => "warn",
        Some("ERROR" | "FATAL") => "error",
        _ => "info",
    };
    level.to_owned()
}

/// The invocation's request id, kept on the span lambda_runtime opens for each invocation
/// (`Lambda runtime invoke`, field `requestId`).
struct RequestId(String);

/// Keeps each span's `requestId` where the formatter finds it.
struct RequestIds;

impl<S> Layer<S> for RequestIds
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut found = FindRequestId(None);
        attrs.record(&mut found);
        if let (Some(request_id), Some(span)) = (found.0, ctx.span(id)) {
            span.extensions_mut().insert(RequestId(request_id));
        }
    }
}

struct FindRequestId(Option<String>);

impl Visit for FindRequestId {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "requestId" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "requestId" {
            self.0 = Some(format!("{value:?}").trim_matches('"').to_owned());
        }
    }
}

/// Lambda's JSON log format: `{"timestamp", "level", "message", "requestId", ...fields}`.
pub struct LambdaJson;

impl<S, N> FormatEvent<S, N> for LambdaJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = Fields(Map::new());
        line.0.insert(
            "timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
                .into(),
        );
        line.0.insert(
            "level".into(),
            event.metadata().level().as_str().to_owned().into(),
        );
        let request_id = ctx.event_scope().and_then(|scope| {
            scope
                .from_root()
                .find_map(|span| span.extensions().get::<RequestId>().map(|r| r.0.clone()))
        });
        if let Some(id) = request_id {
            line.0.insert("requestId".into(), id.into());
        }
        event.record(&mut line);
        let text = serde_json::to_string(&line.0).map_err(|_| fmt::Error)?;
        writeln!(writer, "{text}")
    }
}

/// An event's fields as JSON values.
struct Fields(Map<String, Value>);

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        self.0.insert(field.name().to_owned(), value);
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, value.to_string().into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn rust_log_wins_then_lambdas_level_then_info() {
        assert_eq!(
            level_directive(Some("debug,hyper=warn"), Some("ERROR")),
            "debug,hyper=warn"
        );
        assert_eq!(level_directive(None, Some("WARN")), "warn");
        assert_eq!(level_directive(Some(""), Some("FATAL")), "error");
        assert_eq!(level_directive(None, Some("trace")), "trace");
        assert_eq!(level_directive(None, None), "info");
        assert_eq!(level_directive(None, Some("nonsense")), "info");
    }

    #[test]
    fn levels_and_per_target_levels_filter_and_unknown_levels_are_refused() {
        let filter: Targets = level_directive(Some("leadrelay_aws=debug,warn"), None)
            .parse()
            .unwrap();
        assert!(filter.would_enable("leadrelay_aws::store", &tracing::Level::DEBUG));
        assert!(!filter.would_enable("hyper", &tracing::Level::INFO));
        assert!(filter.would_enable("hyper", &tracing::Level::WARN));
        let lambda: Targets = level_directive(None, Some("ERROR")).parse().unwrap();
        assert!(!lambda.would_enable("leadrelay_route", &tracing::Level::WARN));
        // A directive that is not a level is refused, and `init_lambda` logs at info.
        assert!(level_directive(Some("leadrelay=loud"), None)
            .parse::<Targets>()
            .is_err());
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn each_line_is_lambdas_json_with_the_request_id_of_its_invocation() {
        let out = Buffer::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::registry().with(RequestIds).with(
            tracing_subscriber::fmt::layer()
                .event_format(LambdaJson)
                .with_writer(move || writer.clone()),
        );
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("before any invocation");
            let span = tracing::info_span!("Lambda runtime invoke", requestId = "req-1");
            let _in = span.enter();
            let inner = tracing::info_span!("work", step = 2);
            let _also = inner.enter();
            tracing::warn!(
                lead_id = "01ABC",
                elapsed_ms = 12u64,
                spam = false,
                "lead captured"
            );
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["message"], "before any invocation");
        assert!(lines[0].get("requestId").is_none());
        let l = &lines[1];
        assert_eq!(l["level"], "WARN");
        assert_eq!(l["message"], "lead captured");
        assert_eq!(l["requestId"], "req-1");
        assert_eq!(l["lead_id"], "01ABC");
        assert_eq!(l["elapsed_ms"], 12);
        assert_eq!(l["spam"], false);
        let ts = l["timestamp"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(ts).is_ok(),
            "timestamp {ts}"
        );
    }
}
