//! Reading the history the report covers, and writing a synthetic one (`--seed`).

use chrono::{DateTime, Utc};
use futures::stream::{self, StreamExt, TryStreamExt};
use leadrelay_aws::store::{Store, StoreError};
use leadrelay_domain::lead::{Lead, LeadEvent};

/// How many timelines are read at once.
const PARALLEL: usize = 16;

/// Every lead that arrived in `[since, until)`, with its timeline. The one place the report
/// reads the table: the `leads-by-day` index, one query per day of the period, the leads a
/// hundred at a time, then one query per lead for its timeline (as `leadrelay leads --since`
/// reads, without the timelines).
pub async fn history(
    store: &Store,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Vec<(Lead, Vec<LeadEvent>)>, StoreError> {
    let mut leads = store.leads_received(since, until).await?;
    leads.sort_by(|a, b| a.lead_id.cmp(&b.lead_id));
    stream::iter(leads)
        .map(|lead| async move {
            let events = store.timeline(&lead.lead_id).await?;
            Ok::<_, StoreError>((lead, events))
        })
        .buffered(PARALLEL)
        .try_collect()
        .await
}

/// Writes a generated history into the table: each lead as capture would (with its first
/// event), then the rest of its timeline with its final state. Returns how many were written.
pub async fn seed(
    store: &Store,
    history: Vec<(Lead, Vec<LeadEvent>)>,
) -> Result<usize, StoreError> {
    let written = stream::iter(history)
        .map(|(lead, events)| async move {
            let (first, rest) = events
                .split_first()
                .map_or((None, &[][..]), |(f, r)| (Some(f), r));
            let Some(first) = first else {
                return Ok::<usize, StoreError>(0);
            };
            let key = format!("seed-{}", lead.lead_id);
            let expires = lead.received_at + chrono::Duration::days(7);
            store
                .capture(&lead, None, first, &key, expires, &[])
                .await?;
            if !rest.is_empty() {
                let mut stored = lead.clone();
                store.save_lead(&mut stored, rest).await?;
            }
            Ok(1)
        })
        .buffer_unordered(8)
        .try_fold(0, |n, one| async move { Ok(n + one) })
        .await?;
    Ok(written)
}
