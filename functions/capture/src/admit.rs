//! Taking a submission in: a new lead, or — when the same person has an open, recent lead — a
//! repeat submission joined to it. Either way the write is one transaction that also keeps the
//! delivery, its redelivery key and the person's identity keys, so nothing is lost and a race
//! between two submissions of one person is decided again on what is stored.

use chrono::{DateTime, Utc};
use leadrelay_aws::store::{
    Captured, DeliveryOutcome, Person, PersonLink, RawDelivery, StoreError,
};
use leadrelay_aws::{retry, Deps};
use leadrelay_domain::identity;
use leadrelay_domain::lead::{EventKind, Lead, LeadEvent};
use leadrelay_domain::timeline;

/// What became of a submission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Admitted {
    /// A new lead.
    Created,
    /// The person's open lead took the submission.
    Joined { lead_id: String },
    /// The platform sent this submission before: the lead it made.
    Duplicate { lead_id: String },
}

/// Stores `lead` (a new submission) with its `captured` event, or joins it to the person's
/// open lead. `delivery`, when given, is kept in the same transaction, pointing at whichever
/// lead took the submission.
pub(crate) async fn admit(
    deps: &Deps,
    lead: Lead,
    delivery: Option<RawDelivery>,
    captured: LeadEvent,
    idempotency_key: &str,
    key_expires_at: DateTime<Utc>,
) -> Result<Admitted, StoreError> {
    let keys = if identity::has_identity(&lead) {
        let default_country = lead.phone_country(&deps.config);
        identity::keys(&lead.fields, default_country.as_deref())
    } else {
        Vec::new()
    };
    // Another submission of the same person won: read again and decide again.
    retry::on_conflict(|| {
        admit_once(
            deps,
            &lead,
            delivery.as_ref(),
            &captured,
            idempotency_key,
            key_expires_at,
            &keys,
        )
    })
    .await
}

/// One round of read → decide → conditional write. A fresh copy of the submission each round:
/// its person id and first touch are decided on what is stored now.
async fn admit_once(
    deps: &Deps,
    lead: &Lead,
    delivery: Option<&RawDelivery>,
    captured: &LeadEvent,
    idempotency_key: &str,
    key_expires_at: DateTime<Utc>,
    keys: &[String],
) -> Result<Admitted, StoreError> {
    let now = captured.at;
    let mut lead = lead.clone();
    let persons: Vec<Option<Person>> = deps.store.persons(keys).await?;
    let (open, earlier) = open_lead(deps, &persons, now).await?;
    let links = |lead_id: &str, person_id: &str| -> Vec<PersonLink> {
        keys.iter()
            .zip(&persons)
            .map(|(key, p)| PersonLink {
                identity_key: key.clone(),
                person_id: person_id.to_owned(),
                lead_id: lead_id.to_owned(),
                expected_lead_id: p.as_ref().map(|p| p.lead_id.clone()),
            })
            .collect()
    };
    let result = match open {
        Some(mut existing) => {
            identity::join(&mut existing, &lead);
            let event = resubmitted(deps, &existing, &lead, now);
            let person_id = existing
                .person_id
                .clone()
                .unwrap_or_else(|| existing.lead_id.clone());
            existing.person_id = Some(person_id.clone());
            let delivery = delivery.cloned().map(|mut d| {
                d.lead_id = Some(existing.lead_id.clone());
                d.outcome = DeliveryOutcome::Joined;
                d
            });
            let source = lead.source.clone();
            let person_links = links(&existing.lead_id, &person_id);
            deps.store
                .join(
                    &mut existing,
                    delivery.as_ref(),
                    &event,
                    idempotency_key,
                    key_expires_at,
                    &person_links,
                    &source,
                )
                .await
                .map(|c| match c {
                    Captured::Created => Admitted::Joined {
                        lead_id: existing.lead_id.clone(),
                    },
                    Captured::Duplicate { lead_id } => Admitted::Duplicate { lead_id },
                })
        }
        None => {
            // A person seen before (an earlier, closed or old lead) keeps their id.
            let person_id = persons
                .iter()
                .flatten()
                .map(|p| p.person_id.clone())
                .next()
                .unwrap_or_else(|| lead.lead_id.clone());
            if !keys.is_empty() {
                lead.person_id = Some(person_id.clone());
            }
            // First touch is the person's, from their earliest lead on record.
            lead.first_touch = earlier.as_ref().and_then(|l| l.first_touch()).cloned();
            deps.store
                .capture(
                    &lead,
                    delivery,
                    captured,
                    idempotency_key,
                    key_expires_at,
                    &links(&lead.lead_id, &person_id),
                )
                .await
                .map(|c| match c {
                    Captured::Created => Admitted::Created,
                    Captured::Duplicate { lead_id } => Admitted::Duplicate { lead_id },
                })
        }
    };
    result
}

/// The person's open, recent lead, if they have one; else their latest lead on record.
async fn open_lead(
    deps: &Deps,
    persons: &[Option<Person>],
    now: DateTime<Utc>,
) -> Result<(Option<Lead>, Option<Lead>), StoreError> {
    let mut seen: Vec<&str> = Vec::new();
    let mut earlier = None;
    for p in persons.iter().flatten() {
        if seen.contains(&p.lead_id.as_str()) {
            continue;
        }
        seen.push(&p.lead_id);
        if let Some(l) = deps.store.get_lead(&p.lead_id).await? {
            if identity::can_join(&l, now, deps.config.identity.window) {
                return Ok((Some(l), None));
            }
            earlier.get_or_insert(l);
        }
    }
    Ok((None, earlier))
}

fn resubmitted(deps: &Deps, existing: &Lead, repeat: &Lead, now: DateTime<Utc>) -> LeadEvent {
    let owner = existing
        .assignment
        .as_ref()
        .map(|a| format!("; stays with {}", a.owner_id))
        .unwrap_or_default();
    timeline::event_at(
        deps.clock.as_ref(),
        now,
        &existing.lead_id,
        EventKind::Resubmitted,
        "capture",
        format!(
            "submitted again from {} (submission {}, delivery {}){owner}; no second acknowledgement",
            repeat.source, existing.submissions, repeat.delivery_id
        ),
    )
}
