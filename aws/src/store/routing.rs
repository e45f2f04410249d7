//! Team rotations and account owners, and the routing decision that saves them with the lead.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::{at_version, aws, items, keys, Store, StoreError};
use leadrelay_domain::lead::{Lead, LeadEvent};
use leadrelay_domain::routing::TeamState;

impl Store {
    /// A team's rotation as stored (a fresh one when never saved).
    pub async fn rotation(&self, team: &str) -> Result<TeamState, StoreError> {
        Ok(self
            .get_raw(items::rotation_key(team), true)
            .await?
            .map(|i| items::decode(&keys::team_pk(team), i))
            .transpose()?
            .unwrap_or_default())
    }

    /// Every team's rotation.
    pub async fn rotations(
        &self,
        teams: impl IntoIterator<Item = &str>,
    ) -> Result<BTreeMap<String, TeamState>, StoreError> {
        Ok(self.routing_reads(None, teams).await?.1)
    }

    /// The owner who last took a lead of a company domain, and when.
    pub async fn account(
        &self,
        domain: &str,
    ) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
        let item = self.get_raw(items::account_key(domain), true).await?;
        Ok(item.and_then(|item| {
            let owner = item.get("owner_id").and_then(|v| v.as_s().ok()).cloned();
            let at = item
                .get("at")
                .and_then(|v| v.as_s().ok())
                .and_then(|s| s.parse().ok());
            owner.zip(at)
        }))
    }

    /// What a routing decision reads, in one request: the lead and every team's rotation, all
    /// strongly consistent (the save is conditional on them). The rotations do not depend on
    /// the lead, so they are read with it; a learned account does ([`Store::account`], read
    /// after, only when learning accounts).
    pub async fn routing_reads(
        &self,
        lead_id: Option<&str>,
        teams: impl IntoIterator<Item = &str>,
    ) -> Result<(Option<Lead>, BTreeMap<String, TeamState>), StoreError> {
        let teams: Vec<&str> = teams.into_iter().collect();
        let mut keys: Vec<_> = lead_id.map(items::lead_key).into_iter().collect();
        keys.extend(teams.iter().map(|t| items::rotation_key(t)));
        let mut found = self.get_many(keys, true).await?.into_iter();
        let lead = match lead_id {
            Some(id) => found
                .next()
                .flatten()
                .map(|i| items::decode(&keys::lead_pk(id), i))
                .transpose()?,
            None => None,
        };
        let mut rotations = BTreeMap::new();
        for team in teams {
            let state = found
                .next()
                .flatten()
                .map(|i| items::decode(&keys::team_pk(team), i))
                .transpose()?
                .unwrap_or_default();
            rotations.insert(team.to_owned(), state);
        }
        Ok((lead, rotations))
    }

    /// Saves a routing decision: the lead (if unchanged since read), its events, the team's
    /// rotation with the assignment counted (if unchanged since read) and, when learning
    /// accounts, the domain's owner — all or nothing. `Conflict` when another router or writer
    /// came first: read both again and decide again.
    pub async fn save_routing(
        &self,
        lead: &mut Lead,
        events: &[LeadEvent],
        team: &str,
        state: &TeamState,
        account: Option<(&str, &str)>,
    ) -> Result<(), StoreError> {
        let (next, lead_put) = self.lead_update(lead)?;
        let mut new_state = state.clone();
        new_state.version = state.version + 1;
        let put = |p: Put| TransactWriteItem::builder().put(p).build();
        let rotation = self.put(items::rotation(team, &new_state)?);
        let rotation = if state.version == 0 {
            rotation.condition_expression("attribute_not_exists(pk)")
        } else {
            at_version(rotation, state.version)
        };
        let mut writes = vec![
            put(lead_put),
            put(rotation.build().expect("table, item set")),
        ];
        for e in events {
            writes.push(put(self
                .put(items::event(e)?)
                .build()
                .expect("table, item set")));
        }
        if let Some((domain, owner)) = account {
            let at = events.first().map_or_else(Utc::now, |e| e.at);
            writes.push(put(self
                .put(items::account(domain, owner, at))
                .build()
                .expect("table, item set")));
        }
        self.transact(writes, "TransactWriteItems (routing)")
            .await?;
        lead.version = next.version;
        Ok(())
    }

    /// Changes a team's rotation outside routing (an owner away or back), retrying on
    /// concurrent routing.
    pub async fn modify_rotation(
        &self,
        team: &str,
        change: impl FnMut(&mut TeamState),
    ) -> Result<TeamState, StoreError> {
        let change = std::sync::Mutex::new(change);
        crate::retry::on_conflict(|| async {
            let mut state = self.rotation(team).await?;
            let expected = state.version;
            (change.lock().unwrap_or_else(|e| e.into_inner()))(&mut state);
            state.version = expected + 1;
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .set_item(Some(items::rotation(team, &state)?));
            let put = if expected == 0 {
                put.condition_expression("attribute_not_exists(pk)")
            } else {
                put.condition_expression("#v = :v")
                    .expression_attribute_names("#v", "version")
                    .expression_attribute_values(":v", AttributeValue::N(expected.to_string()))
            };
            match put.send().await {
                Ok(_) => Ok(state),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                {
                    Err(StoreError::Conflict)
                }
                Err(e) => Err(aws("PutItem (rotation)")(e)),
            }
        })
        .await
    }
}
