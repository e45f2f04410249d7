//! Telling an AWS SDK failure that may pass (throttling, a timeout, a 5xx, no answer) from one
//! that will not (a bad request, a missing resource, an unverified address).

// The smithy types every SDK crate re-exports; DynamoDB's path serves SQS and SES errors too.
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

/// Error codes AWS services use for "slow down" and "try again": DynamoDB, SQS and SES.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionConflict",
    "TransactionInProgressException",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "RequestThrottled",
    "KMSThrottlingException",
];

/// Whether the same call may succeed later.
pub fn is_transient<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(s) => {
            s.raw().status().is_server_error()
                || s.raw().status().as_u16() == 429
                || s.err().code().is_some_and(|c| TRANSIENT_CODES.contains(&c))
        }
        // Construction failures are ours: the same request fails the same way.
        _ => false,
    }
}

/// The failure in one line for logs, timelines and error chains: the service's code and
/// message, else the kind of failure (timeout, no connection) and its cause. Without personal
/// data (SES names the addresses it refused) and without the raw response the SDK's own
/// display carries.
pub fn describe<E>(e: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let text = match e {
        SdkError::ServiceError(s) => {
            let code = s.err().code().unwrap_or("service error");
            match s.err().message() {
                Some(m) => format!("{code}: {m}"),
                None => format!("{code} (HTTP {})", s.raw().status().as_u16()),
            }
        }
        SdkError::TimeoutError(_) => "timed out".to_owned(),
        SdkError::DispatchFailure(d) => match d.as_connector_error() {
            Some(c) => format!("no answer: {c}"),
            None => "no answer".to_owned(),
        },
        SdkError::ResponseError(_) => "unreadable response".to_owned(),
        other => other.to_string(),
    };
    leadrelay_domain::redact::redact(&text)
}
