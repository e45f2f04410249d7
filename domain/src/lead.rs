//! The lead record and its timeline: plain data, stored as-is in DynamoDB.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::attribution::Touch;
use super::sweep::{Parked, Retries};

/// The lead's fields as the person gave them (trimmed), before normalising.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// How far through the pipeline a lead has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The platform sent only ids; the details are still to be fetched from its API.
    PendingFetch,
    Captured,
    Scored,
    Routed,
    /// No owner could be found; the fallback team's manager is told.
    Unassigned,
}

/// Where the lead stands with the sales team. The allowed moves between statuses are in
/// [`super::lifecycle`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    New,
    /// First contact made.
    Working,
    /// Sales accepted it: a real opportunity.
    Qualified,
    /// Not now: resurfaces at its recycle date.
    Nurture,
    /// Not a fit, with a reason code from the configuration.
    Disqualified,
    /// Became a customer (or an opportunity in the CRM).
    Converted,
}

impl LeadStatus {
    pub const ALL: [LeadStatus; 6] = [
        LeadStatus::New,
        LeadStatus::Working,
        LeadStatus::Qualified,
        LeadStatus::Nurture,
        LeadStatus::Disqualified,
        LeadStatus::Converted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            LeadStatus::New => "new",
            LeadStatus::Working => "working",
            LeadStatus::Qualified => "qualified",
            LeadStatus::Nurture => "nurture",
            LeadStatus::Disqualified => "disqualified",
            LeadStatus::Converted => "converted",
        }
    }

    /// Open leads are still being worked; a returning person joins an open lead.
    pub fn is_open(self) -> bool {
        matches!(self, LeadStatus::New | LeadStatus::Working)
    }
}

impl std::fmt::Display for LeadStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for LeadStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        LeadStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                let names: Vec<&str> = LeadStatus::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown status {s:?}; use one of {}", names.join(", "))
            })
    }
}

/// What enrich derived.
/// How a company lookup went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompanyLookup {
    /// The provider knows the company.
    Found,
    /// The provider does not know the domain.
    NotFound,
    /// The provider was down, slow or answered something unreadable: no company data.
    Failed,
}

impl CompanyLookup {
    pub fn as_str(self) -> &'static str {
        match self {
            CompanyLookup::Found => "found",
            CompanyLookup::NotFound => "not_found",
            CompanyLookup::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Enrichment {
    /// Trimmed, lower-cased, `+tag` kept; the domain in ASCII (punycode) form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// ASCII (punycode) form: `xn--bcher-kva.example`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_domain: Option<String>,
    /// A consumer mailbox provider, disposable services included.
    pub free_email: bool,
    /// A throw-away mailbox service (mailinator.com, …).
    #[serde(default)]
    pub disposable_email: bool,
    /// A role mailbox (info@, sales+eu@, no-reply@, …) rather than a person's.
    #[serde(default)]
    pub role_email: bool,
    /// Set when an email was given but is not a usable address.
    pub email_invalid: bool,
    /// E.164, when the number could be parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Set when a phone was given but could not be parsed into a valid number.
    pub phone_invalid: bool,
    /// ISO 3166-1 alpha-2, from the lead's country or the phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    /// The lead's company: the name given, else the company provider's name for the company
    /// domain, else that domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// The domain of a corporate email (valid, neither free-mail nor disposable): the company's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_domain: Option<String>,
    /// Employees, from the company provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_size: Option<u32>,
    /// The company's industry, from the company provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    /// The company's country (ISO 3166-1 alpha-2 when recognised), from the company provider.
    /// The lead's own `country` is not changed by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_country: Option<String>,
    /// How the company lookup went; absent when there was none (no provider configured, or no
    /// company domain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_lookup: Option<CompanyLookup>,
    /// Why the lookup failed, in a few words ("timed out after 1.5s", "provider answered 503").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_lookup_error: Option<String>,
}

/// The two halves of a score (also the vocabulary of `[[scoring.rules]] dimension`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreDimension {
    /// Who they are: company, role, country, corporate email.
    Fit,
    /// What they did: what they asked for, where they came from.
    Intent,
}

/// What a step of the escalation ladder does (the vocabulary of `[[sla.escalation]] action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalationAction {
    /// Remind the owner that the lead is waiting.
    RemindOwner,
    /// Tell the owner's manager the lead is past its SLA.
    NotifyManager,
    /// Give the lead to the next available owner of the team (never one who let it lapse),
    /// with a fresh clock; bounded by `max_reassignments`.
    Reassign,
    /// Tell the team's manager.
    NotifyTeamManager,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreReason {
    pub points: i32,
    pub dimension: ScoreDimension,
    pub reason: String,
    /// The rule's full points, when intent decay took some away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undecayed: Option<i32>,
}

impl std::fmt::Display for ScoreReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:+} {}", self.points, self.reason)?;
        if let Some(full) = self.undecayed {
            write!(f, " (decayed from {full:+})")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    pub points: i32,
    pub fit: i32,
    /// After decay: what the lead's intent is worth at `scored_at`.
    pub intent: i32,
    pub tier: String,
    /// Fit band and intent band together, e.g. "A1" (when the model defines grades).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grade: Option<String>,
    /// "sql" or "mql" when the points reach the model's thresholds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualification: Option<String>,
    /// The instant the score holds for (intent decays from the lead's latest submission).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scored_at: Option<DateTime<Utc>>,
    pub reasons: Vec<ScoreReason>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignment {
    pub owner_id: String,
    pub owner_name: String,
    pub owner_email: String,
    pub manager_email: String,
    pub team: String,
    /// Why this owner, in words ("rule hot-leads matched; round robin picked ana (1 of 3)").
    pub reason: String,
    pub assigned_at: DateTime<Utc>,
}

/// One escalation step taken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationRecord {
    pub step: usize,
    pub action: EscalationAction,
    pub at: DateTime<Utc>,
}

/// The speed-to-lead clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlaState {
    /// When the clock started: the lead's arrival, not when someone noticed it.
    pub started_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    /// The next escalation step (index into the ladder) and when it falls due; none once the
    /// clock has stopped or the ladder is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_step: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacted_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub escalations: Vec<EscalationRecord>,
    /// When each step of the escalation ladder falls due, fixed when the clock started.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps_at: Vec<DateTime<Utc>>,
}

impl SlaState {
    pub fn is_open(&self) -> bool {
        self.contacted_at.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    pub lead_id: String,
    pub source: String,
    pub received_at: DateTime<Utc>,
    /// The raw delivery this lead came from.
    pub delivery_id: String,
    pub stage: Stage,
    pub status: LeadStatus,
    #[serde(default)]
    pub is_spam: bool,
    #[serde(default)]
    pub is_test: bool,
    pub fields: LeadFields,
    #[serde(default)]
    pub utm: BTreeMap<String, String>,
    /// Every other field of the delivery (for platforms: every other answer).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// The platform's id of the lead or submission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// When the person submitted, as the platform says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<DateTime<Utc>>,
    /// Ad click ids: gclid, fbclid, msclkid, li_fat_id, ttclid.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub click_ids: BTreeMap<String, String>,
    /// This conversion's touch: source, UTMs and click ids (the same as `utm` and `click_ids`),
    /// landing page and referrer. Absent on leads stored before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribution: Option<Touch>,
    /// The person's first touch, when it came before this lead (a returning person's earlier
    /// lead); none: this lead's own touch is their first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_touch: Option<Touch>,
    /// The latest repeat submission joined to this lead; none: its own touch is the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_touch: Option<Touch>,
    /// Form, campaign, ad set, ad and page ids of ad platforms.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub campaign: BTreeMap<String, String>,
    /// The country the platform says a national phone number belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_country_hint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrichment: Option<Enrichment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<Score>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment: Option<Assignment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<SlaState>,
    /// The person behind the lead: every lead of the same email or phone shares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_id: Option<String>,
    /// How many times the person submitted while this lead was open (1 for a fresh lead).
    #[serde(default = "one")]
    pub submissions: u32,
    /// The latest submission joined to this lead; intent decays from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_submitted_at: Option<DateTime<Utc>>,
    /// Every delivery that fed this lead besides `delivery_id` (repeat submissions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub joined_deliveries: Vec<String>,
    /// Set when something changed that the score depends on (a repeat submission): enrich
    /// scores the lead again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub needs_rescore: bool,
    /// The disqualification reason code, when disqualified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    /// When a nurtured lead resurfaces and is routed again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recycle_at: Option<DateTime<Utc>>,
    /// Routing rounds: 0 for the first assignment, one more for each recycle or reassignment.
    /// Keys the once-only emails of each round.
    #[serde(default)]
    pub round: u32,
    /// When the current routing round began (a recycle or a reassignment); the SLA clock of
    /// a later round starts here instead of at arrival.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub round_started_at: Option<DateTime<Utc>>,
    /// Owners who held the lead before and let it lapse or passed it on (never routed back).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_owners: Vec<String>,
    /// This round's emails went out (acknowledgement and assignment, or the unassigned
    /// alert): until then the sweep watches the lead (`super::sweep`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub notified: bool,
    /// When the acknowledgement email to the person went out: written by notify with the
    /// email's record (in the same transaction), so the export need not read the timeline.
    /// Absent until then, when none went (no address, skipped), and on leads acknowledged
    /// before it was recorded here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// The sweep's retries of the step the lead waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<Retries>,
    /// Stopped by a permanent error until the operator sends it on again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parked: Option<Parked>,
    /// When the table deletes the lead by itself (DynamoDB TTL): spam and test leads only.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "chrono::serde::ts_seconds_option"
    )]
    pub expires_at: Option<DateTime<Utc>>,
    /// The phone as its identity keys last read it (see [`crate::identity::PhoneReading`]):
    /// a save that did not change the phone reuses it instead of reading it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_reading: Option<crate::identity::PhoneReading>,
    /// Optimistic-concurrency version: every save is conditional on it.
    #[serde(default)]
    pub version: u64,
}

fn one() -> u32 {
    1
}

impl Lead {
    /// A lead with nothing known yet but where and when it arrived.
    pub fn new(lead_id: &str, source: &str, delivery_id: &str, received_at: DateTime<Utc>) -> Lead {
        Lead {
            lead_id: lead_id.to_owned(),
            source: source.to_owned(),
            received_at,
            delivery_id: delivery_id.to_owned(),
            stage: Stage::Captured,
            status: LeadStatus::New,
            is_spam: false,
            is_test: false,
            fields: LeadFields::default(),
            utm: BTreeMap::new(),
            attributes: BTreeMap::new(),
            attribution: None,
            first_touch: None,
            last_touch: None,
            external_id: None,
            submitted_at: None,
            click_ids: BTreeMap::new(),
            campaign: BTreeMap::new(),
            phone_country_hint: None,
            enrichment: None,
            score: None,
            assignment: None,
            sla: None,
            person_id: None,
            submissions: 1,
            last_submitted_at: None,
            joined_deliveries: Vec::new(),
            needs_rescore: false,
            status_reason: None,
            recycle_at: None,
            round: 0,
            round_started_at: None,
            previous_owners: Vec::new(),
            notified: false,
            acknowledged_at: None,
            retries: None,
            parked: None,
            expires_at: None,
            phone_reading: None,
            version: 0,
        }
    }

    /// First touch: how the person first came, over all their leads.
    pub fn first_touch(&self) -> Option<&Touch> {
        self.first_touch.as_ref().or(self.attribution.as_ref())
    }

    /// Last touch: how the person came most recently to this lead.
    pub fn last_touch(&self) -> Option<&Touch> {
        self.last_touch.as_ref().or(self.attribution.as_ref())
    }

    /// The latest time the person acted: their latest submission, else the arrival.
    pub fn last_activity(&self) -> DateTime<Utc> {
        self.last_submitted_at.unwrap_or(self.received_at)
    }

    /// The normalised email when enrich has run, else the one given.
    pub fn email(&self) -> Option<&str> {
        match &self.enrichment {
            Some(e) => e.email.as_deref(),
            None => self.fields.email.as_deref(),
        }
    }

    /// A name to greet the lead by or show an owner.
    pub fn display_name(&self) -> Option<String> {
        let e = self.enrichment.as_ref();
        let full = e
            .and_then(|e| e.full_name.clone())
            .or_else(|| self.fields.full_name.clone());
        full.or_else(|| {
            let first = self.fields.first_name.as_deref().unwrap_or("");
            let last = self.fields.last_name.as_deref().unwrap_or("");
            let joined = format!("{first} {last}").trim().to_owned();
            (!joined.is_empty()).then_some(joined)
        })
    }

    pub fn first_name(&self) -> Option<&str> {
        self.enrichment
            .as_ref()
            .and_then(|e| e.first_name.as_deref())
            .or(self.fields.first_name.as_deref())
    }

    /// Where the current round's SLA clock starts: the arrival, or the start of a later round.
    pub fn clock_starts_at(&self) -> DateTime<Utc> {
        self.round_started_at.unwrap_or(self.received_at)
    }

    /// Leads that must never be routed or emailed.
    pub fn is_quarantined(&self) -> bool {
        self.is_spam || self.is_test
    }

    /// The language the lead wrote in, when a field of theirs says it: the first of the
    /// attributes in [`LANGUAGE_FIELDS`] that holds a language tag, as its primary subtag in
    /// lower case ("de" for `de-AT`, `de_DE`, `DE` or `de-DE,de;q=0.9`).
    pub fn language(&self) -> Option<String> {
        LANGUAGE_FIELDS.iter().find_map(|name| {
            self.attributes
                .iter()
                .filter(|(key, _)| super::normalize::canonical(key) == *name)
                .find_map(|(_, value)| primary_language(value))
        })
    }
}

impl Lead {
    /// Where the submission says it ran, when a locale it carries names a region: the first of
    /// the attributes in [`LANGUAGE_FIELDS`] holding a tag with a region subtag, as an ISO 3166
    /// code (`AT` for `de-AT`, `BR` for `pt_BR`). A bare language (`de`) names no country.
    pub fn locale_region(&self) -> Option<String> {
        LANGUAGE_FIELDS.iter().find_map(|name| {
            self.attributes
                .iter()
                .filter(|(key, _)| super::normalize::canonical(key) == *name)
                .find_map(|(_, value)| region_subtag(value))
        })
    }
}

/// The region subtag of a BCP 47 tag or POSIX locale (the first of a list): two letters after
/// the language (and a script, if any), upper-cased, when ISO 3166 knows them.
fn region_subtag(tag: &str) -> Option<String> {
    let first = tag.split([',', ';']).next()?.trim();
    let mut parts = first.split(['-', '_', '.', '@']);
    primary_language(parts.next()?)?;
    parts
        .take(2)
        .find(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_alphabetic()))
        .and_then(super::normalize::region)
        .map(super::normalize::region_code)
}

/// The attributes that name a lead's language, in the order they are believed (matched like
/// every field name: case, `-` and spaces aside). A platform's own question maps onto
/// `language` with the source's `mapping`.
pub const LANGUAGE_FIELDS: [&str; 4] = ["language", "lang", "locale", "preferred_language"];

/// The primary subtag of a BCP 47 tag or POSIX locale (the first of a list), lower-cased:
/// two or three letters, else none.
fn primary_language(tag: &str) -> Option<String> {
    let first = tag.split([',', ';']).next()?.trim();
    let primary = first.split(['-', '_', '.']).next()?;
    ((2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_alphabetic()))
        .then(|| primary.to_ascii_lowercase())
}

/// What happened to a lead, for its timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Captured,
    Redelivered,
    /// Details read from the platform's API.
    Fetched,
    /// Reading details from the platform's API failed (it is retried).
    FetchFailed,
    /// Company data looked up (found or not known to the provider).
    Enriched,
    /// The company lookup failed; the lead went on without company data.
    EnrichmentFailed,
    Scored,
    Routed,
    Unassigned,
    EmailSent,
    Reminded,
    Escalated,
    Contacted,
    /// The same person submitted again while the lead was open.
    Resubmitted,
    /// The lead's status moved (before and after on the event).
    StatusChanged,
    /// A nurtured lead's recycle date came: it is routed again.
    Recycled,
    /// The lead went to another owner after the first let it lapse.
    Reassigned,
    /// The sweep (or the operator) sent a lead that had stopped moving on again.
    Resent,
    /// A permanent error stopped the lead until someone fixes it.
    Parked,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadEvent {
    pub lead_id: String,
    pub event_id: String,
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    /// Who or what did it: "capture", "route", "owner:ana", "escalate".
    pub actor: String,
    /// One line a person can read.
    pub summary: String,
    /// For changes of a value (a status): what it was and what it became.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// When the table deletes the event by itself: with its lead, for spam and test leads.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "chrono::serde::ts_seconds_option"
    )]
    pub expires_at: Option<DateTime<Utc>>,
}

impl LeadEvent {
    /// The value this event changed, before and after.
    pub fn changing(mut self, before: impl Into<String>, after: impl Into<String>) -> Self {
        self.before = Some(before.into());
        self.after = Some(after.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::lead;

    fn with(key: &str, value: &str) -> super::Lead {
        let mut l = lead();
        l.attributes.insert(key.into(), value.into());
        l
    }

    #[test]
    fn the_language_is_the_primary_subtag_of_whatever_tag_the_lead_gave() {
        for given in [
            "de",
            "DE",
            "de-AT",
            "de_DE.UTF-8",
            "de-DE,de;q=0.9,en;q=0.8",
        ] {
            assert_eq!(
                with("language", given).language().as_deref(),
                Some("de"),
                "{given}"
            );
        }
        assert_eq!(with("Locale", "pt_BR").language().as_deref(), Some("pt"));
        assert_eq!(
            with("preferred-language", "fil").language().as_deref(),
            Some("fil")
        );
    }

    #[test]
    fn no_language_field_or_no_tag_in_it_means_unknown() {
        assert_eq!(lead().language(), None);
        assert_eq!(with("language", "Deutsch").language(), None);
        assert_eq!(with("language", "*").language(), None);
        assert_eq!(with("languages_spoken", "de").language(), None);
    }

    #[test]
    fn a_locale_with_a_region_says_where_the_form_ran_and_a_bare_language_does_not() {
        for (given, region) in [
            ("de-AT", Some("AT")),
            ("pt_BR.UTF-8", Some("BR")),
            ("zh-Hant-TW", Some("TW")),
            ("en-GB,en;q=0.9", Some("GB")),
            ("de", None),
            ("Deutsch", None),
            ("de-XX", None),
        ] {
            assert_eq!(
                with("locale", given).locale_region().as_deref(),
                region,
                "{given}"
            );
        }
        assert_eq!(
            with("Language", "fr-CH").locale_region().as_deref(),
            Some("CH")
        );
        assert_eq!(lead().locale_region(), None);
    }

    #[test]
    fn language_is_believed_before_lang_and_locale() {
        let mut l = with("locale", "fr-FR");
        l.attributes.insert("language".into(), "it".into());
        assert_eq!(l.language().as_deref(), Some("it"));
    }
}
