//! End-to-end tests of the whole pipeline against moto's server. One binary, one module per
//! area; `support` holds the `TestApp` harness.

mod capture;
mod distribution;
mod emails;
mod enrichment;
mod escalation;
mod identity;
mod lifecycle;
mod pipeline;
mod platforms;
mod recovery;
mod routing;
mod support;
