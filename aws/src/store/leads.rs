//! Leads and their timelines.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use serde::Deserialize;

use super::{at_version, aws, items, keys, Store, StoreError};
use leadrelay_domain::lead::{Lead, LeadEvent};

/// What [`Store::modify_lead`]'s closure decided.
pub enum Change<T> {
    /// Save the changed lead with these timeline events.
    Save(Vec<LeadEvent>, T),
    /// Leave the lead as stored.
    Keep(T),
}

impl Store {
    /// The lead's next version, and the write that saves it only if the stored lead is still
    /// at the version it was read at (optimistic concurrency).
    pub(super) fn lead_update(&self, lead: &Lead) -> Result<(Lead, Put), StoreError> {
        let mut next = lead.clone();
        next.version = lead.version + 1;
        let put = at_version(self.put(items::lead(&next, self.layout())?), lead.version)
            .build()
            .expect("table, item set");
        Ok((next, put))
    }

    pub async fn get_lead(&self, lead_id: &str) -> Result<Option<Lead>, StoreError> {
        // Strongly consistent: stages run right after each other.
        self.get_raw(items::lead_key(lead_id), true)
            .await?
            .map(|i| items::decode(&keys::lead_pk(lead_id), i))
            .transpose()
    }

    /// Saves a changed lead with its new timeline events, if nobody else saved it since it was
    /// read (its `version`). On success the lead's version moves on.
    pub async fn save_lead(&self, lead: &mut Lead, events: &[LeadEvent]) -> Result<(), StoreError> {
        let (next, lead_put) = self.lead_update(lead)?;
        let mut writes = vec![TransactWriteItem::builder().put(lead_put).build()];
        for e in events {
            writes.push(
                TransactWriteItem::builder()
                    .put(self.put(items::event(e)?).build().expect("table, item set"))
                    .build(),
            );
        }
        self.transact(writes, "TransactWriteItems (save lead)")
            .await?;
        lead.version = next.version;
        Ok(())
    }

    /// Reads a lead, lets `change` decide what to do with it, and saves it when asked to. When
    /// someone else saved the lead in between, reads it again and asks `change` again, so the
    /// decision is always made on the lead as stored. `None` when there is no such lead.
    pub async fn modify_lead<T>(
        &self,
        lead_id: &str,
        change: impl FnMut(&mut Lead) -> Change<T>,
    ) -> Result<Option<(Lead, T)>, StoreError> {
        self.modify(lead_id, None, change).await
    }

    /// [`Store::modify_lead`] on a lead the caller has just read (or saved): the first
    /// decision is made on it without reading it again; a conflict reads it again as usual.
    pub async fn modify_read_lead<T>(
        &self,
        lead: Lead,
        change: impl FnMut(&mut Lead) -> Change<T>,
    ) -> Result<Option<(Lead, T)>, StoreError> {
        let lead_id = lead.lead_id.clone();
        self.modify(&lead_id, Some(lead), change).await
    }

    async fn modify<T>(
        &self,
        lead_id: &str,
        read: Option<Lead>,
        change: impl FnMut(&mut Lead) -> Change<T>,
    ) -> Result<Option<(Lead, T)>, StoreError> {
        // Each attempt borrows these for a moment (never across an await).
        let read = std::sync::Mutex::new(read);
        let change = std::sync::Mutex::new(change);
        crate::retry::on_conflict(|| async {
            let first = read.lock().unwrap_or_else(|e| e.into_inner()).take();
            let mut lead = match first {
                Some(lead) => lead,
                None => match self.get_lead(lead_id).await? {
                    Some(lead) => lead,
                    None => return Ok(None),
                },
            };
            let decided = (change.lock().unwrap_or_else(|e| e.into_inner()))(&mut lead);
            match decided {
                Change::Keep(value) => Ok(Some((lead, value))),
                Change::Save(events, value) => {
                    self.save_lead(&mut lead, &events).await?;
                    Ok(Some((lead, value)))
                }
            }
        })
        .await
    }

    /// Appends events to a lead's timeline without touching the lead.
    pub async fn append_events(&self, events: &[LeadEvent]) -> Result<(), StoreError> {
        for e in events {
            self.client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(items::event(e)?))
                .send()
                .await
                .map_err(aws("PutItem (event)"))?;
        }
        Ok(())
    }

    /// A lead's timeline, oldest first.
    pub async fn timeline(&self, lead_id: &str) -> Result<Vec<LeadEvent>, StoreError> {
        self.query_prefix(lead_id, keys::EVENT_SK_PREFIX).await
    }

    pub(super) async fn query_prefix<T: for<'de> Deserialize<'de>>(
        &self,
        lead_id: &str,
        prefix: &str,
    ) -> Result<Vec<T>, StoreError> {
        let pk = keys::lead_pk(lead_id);
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :p)")
            .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
            .expression_attribute_values(":p", AttributeValue::S(prefix.to_owned()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(aws("Query (lead items)"))?;
            out.push(items::decode(&items::key_str(&item), item)?);
        }
        Ok(out)
    }

    /// Every lead, newest first, reading the table (for operators' listings, not for handlers).
    pub async fn scan_leads(&self) -> Result<Vec<Lead>, StoreError> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("sk = :lead")
            .expression_attribute_values(":lead", AttributeValue::S(keys::LEAD_SK.into()))
            .into_paginator()
            .items()
            .send();
        let mut out: Vec<Lead> = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(aws("Scan (leads)"))?;
            out.push(items::decode(&items::key_str(&item), item)?);
        }
        out.sort_by(|a, b| b.lead_id.cmp(&a.lead_id));
        Ok(out)
    }
}
