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
