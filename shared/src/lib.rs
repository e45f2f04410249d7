//! Leadrelay's shared crate: the domain (pure rules over plain types), the configuration, and
//! the adapters that translate between the domain and DynamoDB, SQS and SES.
//!
//! - [`domain`]: leads, intake parsing, authentication, normalising, scoring, routing, SLA
//!   arithmetic, signed links and email rendering. No AWS types.
//! - [`config`]: the configuration file, validated at start-up.
//! - [`store`], [`queue`], [`mailer`]: DynamoDB, SQS and SES.
//! - [`fetch`], [`provider`]: outbound HTTP: platform APIs and the company enrichment provider.
//! - [`deps`]: builds the clients and configuration once, for Lambdas, the local runner and
//!   tests alike.
//! - [`batch`]: SQS batch handling with partial batch failures.
//! - [`template_files`]: the email templates, built in and from the operator's folder.

pub mod batch;
pub mod clock;
pub mod config;
pub mod deps;
pub mod domain;
pub mod fetch;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod mailer;
pub mod provider;
pub mod queue;
pub mod secret;
pub mod store;
pub mod telemetry;
pub mod template_files;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::Config;
pub use deps::Deps;
