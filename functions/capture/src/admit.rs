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
        identity::lead_keys(&lead, default_country.as_deref())
    } else {
        Vec::new()
    };
    let submission = Submission {
        lead: &lead,
        delivery: delivery.as_ref(),
        captured: &captured,
        idempotency_key,
        key_expires_at,
        keys: &keys,
    };
    // Most submissions are a person's first, so the first round reads nothing: it writes as
    // if none of the person's keys were taken, each on condition that it is not. After that,
    // another submission of the same person won: read again and decide again.
    let mut first_round = true;
    retry::on_conflict(|| {
        let assumed = std::mem::take(&mut first_round).then(|| vec![None; keys.len()]);
        admit_once(deps, &submission, assumed)
    })
    .await
}

/// A submission being admitted, and the identity keys of its person.
struct Submission<'a> {
    lead: &'a Lead,
    delivery: Option<&'a RawDelivery>,
    captured: &'a LeadEvent,
    idempotency_key: &'a str,
    key_expires_at: DateTime<Utc>,
    keys: &'a [String],
}

/// One round: the persons behind the submission's keys (as `assumed`, or read), then decide →
/// conditional write. A key that turned out to be taken fails the write, whose answer says
/// what it holds now: decided and written once more on that, still without a read.
async fn admit_once(
    deps: &Deps,
    submission: &Submission<'_>,
    assumed: Option<Vec<Option<Person>>>,
) -> Result<Admitted, StoreError> {
    let mut persons = match assumed {
        Some(persons) => persons,
        None => deps.store.persons(submission.keys).await?,
    };
    for _ in 0..2 {
        // On the heap: the deciding and writing is the largest state of capture's future, and
        // a handler's future lives on the stack of the thread that polls it.
        match Box::pin(decide_and_write(deps, submission, &persons)).await? {
            Round::Done(admitted) => return Ok(admitted),
            Round::KeysMoved(moved) => {
                for (i, now) in moved {
                    persons[i] = now;
                }
            }
        }
    }
    Err(StoreError::Conflict)
}

/// What one write of a submission came to.
enum Round {
    Done(Admitted),
    /// Nothing written: these keys (by position) hold this now.
    KeysMoved(Vec<(usize, Option<Person>)>),
}

/// Decides on `persons` (what each of the submission's keys holds) where the submission goes,
/// and writes it on condition that they still hold that. A fresh copy of the submission each
/// time: its person id and first touch are decided on what is stored now.
async fn decide_and_write(
    deps: &Deps,
    submission: &Submission<'_>,
    persons: &[Option<Person>],
) -> Result<Round, StoreError> {
    let Submission {
        lead,
        delivery,
        captured,
        idempotency_key,
        key_expires_at,
        keys,
    } = *submission;
    let now = captured.at;
    let mut lead = lead.clone();
    let (open, earlier) = open_lead(deps, persons, now).await?;
    let links = |lead_id: &str, person_id: &str| -> Vec<PersonLink> {
        keys.iter()
            .zip(persons)
            .map(|(key, p)| PersonLink {
                identity_key: key.clone(),
                person_id: person_id.to_owned(),
                lead_id: lead_id.to_owned(),
                expected_lead_id: p.as_ref().map(|p| p.lead_id.clone()),
            })
            .collect()
    };
    match open {
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
            let written = deps
                .store
                .join(
                    &mut existing,
                    delivery.as_ref(),
                    &event,
                    idempotency_key,
                    key_expires_at,
                    &person_links,
                    &source,
                )
                .await?;
            Ok(round(
                written,
                Admitted::Joined {
                    lead_id: existing.lead_id,
                },
            ))
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
            let written = deps
                .store
                .capture(
                    &lead,
                    delivery,
                    captured,
                    idempotency_key,
                    key_expires_at,
                    &links(&lead.lead_id, &person_id),
                )
                .await?;
            Ok(round(written, Admitted::Created))
        }
    }
}

/// The round a write came to, `created` when it wrote.
fn round(written: Captured, created: Admitted) -> Round {
    match written {
        Captured::Created => Round::Done(created),
        Captured::Duplicate { lead_id } => Round::Done(Admitted::Duplicate { lead_id }),
        Captured::KeysMoved(moved) => Round::KeysMoved(moved),
    }
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
