//! `leadrelay leads`: the export, read by arrival through the `leads-by-day` index (or the
//! whole table), each lead mapped to its line (`leadrelay_domain::export`).

use chrono::{DateTime, Utc};
use leadrelay_aws::store::{Store, StoreError};
use leadrelay_domain::export::{export, ExportedLead};

/// Which leads to export.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Received at or after; none: every lead (a scan of the table).
    pub since: Option<DateTime<Utc>>,
    /// Received before.
    pub until: DateTime<Utc>,
    pub source: Option<String>,
    /// Read the whole table even for a period: for leads stored before the index existed.
    pub scan: bool,
}

/// The lines of the selected leads, oldest first (by arrival, then lead id), as of `now`.
pub async fn lines(
    store: &Store,
    selection: &Selection,
    now: DateTime<Utc>,
) -> Result<Vec<ExportedLead>, StoreError> {
    let mut leads = match selection.since {
        Some(since) if !selection.scan => store.leads_received(since, selection.until).await?,
        since => {
            let mut all = store.scan_leads().await?;
            all.retain(|l| {
                since.is_none_or(|s| l.received_at >= s && l.received_at < selection.until)
            });
            all.sort_by(|a, b| (a.received_at, &a.lead_id).cmp(&(b.received_at, &b.lead_id)));
            all
        }
    };
    leads.retain(|l| selection.source.as_deref().is_none_or(|s| l.source == s));
    Ok(leads.iter().map(|l| export(l, now)).collect())
}
