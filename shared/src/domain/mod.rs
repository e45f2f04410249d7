//! The domain: pure rules over plain types. No AWS types in here; adapters translate.

pub mod attribution;
pub mod auth;
pub mod calendar;
pub mod company;
pub mod condition;
pub mod emails;
pub mod enrichment;
pub mod export;
pub mod identity;
pub mod intake;
pub mod lead;
pub mod lifecycle;
pub mod links;
pub mod normalize;
pub mod platforms;
pub mod routing;
pub mod scoring;
pub mod sla;
pub mod templates;
pub mod timeline;

#[cfg(test)]
pub(crate) mod test_support;
