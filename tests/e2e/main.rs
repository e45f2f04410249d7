//! End-to-end tests of the whole pipeline against moto's server. One binary, one module per
//! area; `support` holds the `TestApp` harness.

mod backstop;
mod binaries;
mod capture;
mod cost;
mod distribution;
mod emails;
mod enrichment;
mod erasure;
mod escalation;
mod export;
mod fault_proxy;
mod faults;
mod hostile;
mod identity;
mod lifecycle;
mod operator;
mod pipeline;
mod platforms;
mod privacy;
mod recovery;
mod report;
mod routing;
mod signatures;
mod support;
