//! Prints each lead's journey as it happens: one line per timeline event, ids and decisions
//! only (the timeline carries no personal data).

use std::collections::HashSet;
use std::sync::Mutex;

use leadrelay_aws::Deps;
use leadrelay_domain::lead::{EventKind, LeadEvent};

#[derive(Debug, Default)]
pub struct Journey {
    shown: Mutex<HashSet<String>>,
    leads: Mutex<Vec<String>>,
}

pub fn kind_label(k: EventKind) -> &'static str {
    match k {
        EventKind::Captured => "captured",
        EventKind::Redelivered => "redelivered",
        EventKind::Fetched => "fetched",
        EventKind::FetchFailed => "fetch failed",
        EventKind::Enriched => "enriched",
        EventKind::EnrichmentFailed => "not enriched",
        EventKind::Scored => "scored",
        EventKind::Routed => "routed",
        EventKind::Unassigned => "unassigned",
        EventKind::EmailSent => "email",
        EventKind::Reminded => "reminded",
        EventKind::Escalated => "escalated",
        EventKind::Contacted => "contacted",
        EventKind::Resubmitted => "resubmitted",
        EventKind::StatusChanged => "status",
        EventKind::Recycled => "recycled",
        EventKind::Reassigned => "reassigned",
        EventKind::Resent => "resent",
        EventKind::Parked => "parked",
    }
}

pub fn format_event(e: &LeadEvent) -> String {
    format!(
        "{}  {}  {:<11} {}",
        e.at.format("%H:%M:%S%.3f"),
        e.lead_id,
        kind_label(e.kind),
        e.summary
    )
}

impl Journey {
    /// Prints the lead's events not printed yet.
    pub async fn show(&self, deps: &Deps, lead_id: &str) {
        {
            let mut leads = self.leads.lock().unwrap_or_else(|e| e.into_inner());
            if !leads.iter().any(|l| l == lead_id) {
                leads.push(lead_id.to_owned());
            }
        }
        let Ok(events) = deps.store.timeline(lead_id).await else {
            return;
        };
        let mut shown = self.shown.lock().unwrap_or_else(|e| e.into_inner());
        for e in events {
            if shown.insert(e.event_id.clone()) {
                println!("{}", format_event(&e));
            }
        }
    }

    /// Prints what happened lately to the leads seen so far (after an escalation pass).
    pub async fn show_recent(&self, deps: &Deps) {
        let leads = self.leads.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for id in leads.iter().rev().take(200) {
            self.show(deps, id).await;
        }
    }
}
