//! The whole pipeline on this machine: moto's server for DynamoDB, SQS and SES, the resources
//! from the SAM template, the HTTP routes, queue pollers that behave like Lambda's event source
//! mappings, and the escalation schedule, all calling the very same handler functions as the
//! Lambdas.

pub mod http;
pub mod journey;
pub mod moto;
pub mod provision;
mod stack;

pub use moto::MotoServer;
pub use stack::{local_sdk_config, LocalStack, StackError, StackOptions};
