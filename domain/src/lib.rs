//! Leadrelay's domain: the rules of lead capture and routing over plain types.
//!
//! Nothing in this crate talks to AWS, opens a socket or reads the clock behind your back: it
//! has no AWS SDK and no HTTP client in its dependency tree, so the compiler keeps adapters out.
//! Handlers load a lead through `leadrelay-aws`, decide with the functions here, and save.
//!
//! - [`lead`]: the lead record and its transitions (assign, reassign, first contact, fetched
//!   details, rescore, join a repeat submission); [`timeline`] the events they leave.
//! - Intake: [`intake`] (our own JSON and form bodies), [`platforms`] (one module per form or
//!   ad platform), [`auth`], [`attribution`], [`bounds`] (how big a lead can get).
//! - Enrichment and scoring: [`normalize`], [`enrichment`], [`company`], [`identity`],
//!   [`scoring`], [`condition`].
//! - Ownership and time: [`routing`], [`sla`], [`calendar`], [`lifecycle`].
//! - Email: [`emails`] (what is said to whom), [`templates`] (rendering), [`template_files`],
//!   [`links`] (signed links).
//! - [`export`]: the exported lead schema; [`report`]: the speed-to-lead report's numbers
//!   (and a synthetic history to show them on).
//! - [`config`]: the configuration, parsed and validated at start-up; [`clock`] and
//!   [`secret`]: time, ids and secrets as injected types.

pub mod attribution;
pub mod auth;
pub mod backstop;
pub mod bounds;
pub mod calendar;
pub mod clock;
pub mod company;
pub mod condition;
pub mod config;
pub mod email_context;
pub mod emails;
pub mod enrichment;
pub mod escape;
pub mod export;
pub mod identity;
pub mod intake;
pub mod lead;
pub mod lifecycle;
pub mod links;
pub mod normalize;
pub mod oauth;
pub mod platforms;
pub mod redact;
pub mod report;
pub mod routing;
pub mod scoring;
pub mod secret;
pub mod sla;
pub mod sla_shards;
pub mod sweep;
pub mod template_files;
pub mod templates;
pub mod time_zone;
pub mod timeline;
pub mod transitions;

#[cfg(test)]
pub(crate) mod test_support;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::Config;
