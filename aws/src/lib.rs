//! Leadrelay's adapters: everything that talks to AWS or another service, translating between
//! the domain's plain types (`leadrelay-domain`) and the wire.
//!
//! - [`store`]: DynamoDB, one module per aggregate (leads, intake, routing, emails, company
//!   cache, rate limits, the SLA index), every write conditional.
//! - [`queue`]: SQS, the messages between the functions; [`dead_letter`]: listing and replaying
//!   the dead-letter queues. [`batch`]: SQS batches with partial
//!   batch failures.
//! - [`mailer`]: email through SES.
//! - [`platform_api`]: reading lead details from platforms that deliver only ids;
//!   [`company_provider`]: the company enrichment provider over HTTP.
//! - [`deps`]: builds the clients, configuration, secrets and templates once, for the Lambdas,
//!   the local runner and the tests alike.
//! - [`sweep`]: sending a stalled lead on, parking a lead a permanent error stopped.
//! - [`retry`]: the one policy for deciding again after a lost conditional write.
//! - `lambda` (feature `lambda`): the glue between Lambda's event types and the handlers.
//! - [`metrics`]: the pipeline's metrics (CloudWatch EMF in the Lambdas).
//! - [`telemetry`]: logs in Lambda's JSON format.

pub mod batch;
pub mod company_provider;
pub mod dead_letter;
pub mod deps;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod mailer;
pub mod metrics;
pub mod outbound;
pub mod platform_api;
pub mod queue;
pub mod retry;
pub mod sdk;
mod sdk_error;
pub mod store;
pub mod sweep;
pub mod telemetry;

pub use deps::Deps;
