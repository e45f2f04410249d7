//! The operator's command `leadrelay`, and the local stack it runs (also used by the
//! end-to-end tests, so they exercise the same wiring).

pub mod dry_run;
pub mod email_preview;
pub mod export;
pub mod local;
pub mod report;
