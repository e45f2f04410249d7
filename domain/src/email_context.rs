//! What an email's templates see: the lead, its owner, the SLA and the links, as plain values
//! prepared for display ([`EmailContext`]). Built by [`crate::emails`], rendered by
//! [`crate::templates`]; it depends on neither.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone as _, Utc};
use serde::Serialize;

use crate::lead::{Assignment, Lead};
use crate::time_zone::TimeZone;

/// The email kinds that have templates, by their file name.
pub const KINDS: [&str; 5] = [
    "acknowledgement",
    "assignment",
    "reminder",
    "escalation",
    "unassigned",
];

/// When and where an email is rendered.
#[derive(Debug, Clone, Copy)]
pub struct Occasion<'a> {
    pub now: DateTime<Utc>,
    /// Where times are shown: the owner's or team's calendar time zone, else UTC.
    pub time_zone: &'a TimeZone,
    /// The signed "I've contacted this lead" link, in the emails that carry it.
    pub contacted_url: Option<&'a str>,
}

/// Everything a template sees. Absent values are `none` (and print as nothing); the README
/// lists every variable.
#[derive(Debug, Clone, Serialize)]
pub struct EmailContext {
    /// `acknowledgement`, `assignment`, `reminder`, `escalation` or `unassigned`.
    pub kind: &'static str,
    pub lead: LeadView,
    /// The lead's owner; none in the unassigned email.
    pub owner: Option<OwnerView>,
    /// The owner's team, or the fallback team of an unassigned lead.
    pub team: Option<String>,
    /// Why nobody could take the lead (unassigned email).
    pub why: Option<String>,
    /// The speed-to-lead clock, once it runs.
    pub sla: Option<SlaView>,
    pub links: LinksView,
}

#[derive(Debug, Clone, Serialize)]
pub struct LeadView {
    pub id: String,
    /// The source it came in through.
    pub source: String,
    /// What to call the lead: their name, else email, else phone, else `lead <id>`.
    pub name: String,
    pub full_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub company: Option<String>,
    pub job_title: Option<String>,
    pub country: Option<String>,
    pub message: Option<String>,
    /// The lead's language ("de"), when known.
    pub language: Option<String>,
    /// The score's tier, `new` before scoring.
    pub tier: String,
    pub score: Option<ScoreView>,
    /// UTM parameters as one line: `source=google, medium=cpc`.
    pub campaign: Option<String>,
    pub utm: BTreeMap<String, String>,
    /// Every other field the lead sent.
    pub attributes: BTreeMap<String, String>,
    pub received: Moment,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScoreView {
    pub points: i32,
    pub tier: String,
    pub fit: i32,
    pub intent: i32,
    /// One line per rule that scored: `+30 asked for a demo`.
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OwnerView {
    pub id: String,
    pub name: String,
    pub email: String,
    pub manager_email: String,
    pub team: String,
    /// Why routing chose them.
    pub reason: String,
}

/// An instant, shown in the email's time zone.
#[derive(Debug, Clone, Serialize)]
pub struct Moment {
    /// `Mon 2 Mar 2026, 11:15 CET`
    pub text: String,
    /// `2026-03-02`
    pub date: String,
    /// `11:15`
    pub time: String,
    /// `CET`
    pub zone: String,
    /// RFC 3339 with the zone's offset: `2026-03-02T11:15:00+01:00`.
    pub iso: String,
}

impl Moment {
    fn new(t: DateTime<Utc>, tz: &TimeZone) -> Self {
        let local = tz.local(t);
        let zone = tz.abbreviation(t);
        Moment {
            text: format!("{} {zone}", local.format("%a %-d %b %Y, %H:%M")),
            date: local.format("%Y-%m-%d").to_string(),
            time: local.format("%H:%M").to_string(),
            zone,
            iso: local.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
        }
    }
}

/// How the lead stands against its SLA when the email is rendered.
#[derive(Debug, Clone, Serialize)]
pub struct SlaView {
    /// When first contact is due.
    pub due: Moment,
    /// The due time has passed.
    pub overdue: bool,
    /// Whole minutes between now and the due time, either way.
    pub minutes: i64,
    /// Those minutes in words: `32 minutes`, `1 hour 5 minutes`, `3 days`.
    pub distance: String,
    /// What is late and by how much: `first contact was due 14:05 CET, 32 minutes ago`, or
    /// `first contact is due 14:05 CET, in 7 minutes`.
    pub status: String,
}

impl SlaView {
    pub(crate) fn new(due_at: DateTime<Utc>, now: DateTime<Utc>, tz: &TimeZone) -> Self {
        let due = Moment::new(due_at, tz);
        let overdue = now >= due_at;
        let minutes = (now - due_at).num_minutes().abs();
        let distance = distance(minutes);
        // The time alone when it is today where the reader is; else the day too.
        let when = if due.date == Moment::new(now, tz).date {
            format!("{} {}", due.time, due.zone)
        } else {
            format!(
                "{} {}",
                tz.local(due_at).format("%a %-d %b, %H:%M"),
                due.zone
            )
        };
        let status = if overdue {
            format!("first contact was due {when}, {distance} ago")
        } else {
            format!("first contact is due {when}, in {distance}")
        };
        SlaView {
            due,
            overdue,
            minutes,
            distance,
            status,
        }
    }
}

pub fn distance(minutes: i64) -> String {
    let unit = |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    match minutes {
        0 => "less than a minute".into(),
        m if m < 60 => unit(m, "minute", "minutes"),
        m if m < 48 * 60 => match m % 60 {
            0 => unit(m / 60, "hour", "hours"),
            rest => format!(
                "{} {}",
                unit(m / 60, "hour", "hours"),
                unit(rest, "minute", "minutes")
            ),
        },
        m => unit(m / (24 * 60), "day", "days"),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LinksView {
    /// Opens the page whose button records first contact and stops the SLA clock (assignment,
    /// reminder and escalation emails); bound to the owner and the routing round.
    pub contacted: Option<String>,
}

fn name_or_email(lead: &Lead) -> String {
    lead.display_name()
        .or_else(|| lead.email().map(str::to_owned))
        .or_else(|| lead.fields.phone.clone())
        .unwrap_or_else(|| format!("lead {}", lead.lead_id))
}

/// The name an acknowledgement may greet the lead by: their first name if it looks like one
/// (letters, with spaces, hyphens, apostrophes or dots between them; at most 30 characters),
/// else none. The acknowledgement goes to whatever address the form was given, so it carries
/// no other text of the sender's: it cannot be made to carry a message to a stranger.
pub fn greeting_name(first_name: &str) -> Option<String> {
    let name = crate::normalize::clean_text(first_name);
    let looks_like_a_name = !name.is_empty()
        && name.chars().count() <= 30
        && name.chars().next().is_some_and(char::is_alphabetic)
        && name
            .chars()
            .all(|c| c.is_alphabetic() || matches!(c, ' ' | '-' | '\'' | '’' | '.'));
    looks_like_a_name.then_some(name)
}

impl EmailContext {
    /// What the acknowledgement may show of the lead: nothing the sender wrote but a first
    /// name that looks like one (`greeting_name`).
    fn only_a_greeting(mut self) -> Self {
        let l = &mut self.lead;
        l.first_name = l.first_name.as_deref().and_then(greeting_name);
        l.name = l.first_name.clone().unwrap_or_default();
        l.full_name = None;
        l.last_name = None;
        l.email = None;
        l.phone = None;
        l.company = None;
        l.job_title = None;
        l.message = None;
        l.campaign = None;
        l.utm.clear();
        l.attributes.clear();
        self
    }

    pub(crate) fn new(
        kind: &'static str,
        lead: &Lead,
        owner: Option<&Assignment>,
        team: Option<&str>,
        at: &Occasion,
    ) -> Self {
        let e = lead.enrichment.as_ref();
        let f = &lead.fields;
        let utm: Vec<String> = lead.utm.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let ctx = EmailContext {
            kind,
            lead: LeadView {
                id: lead.lead_id.clone(),
                source: lead.source.clone(),
                name: name_or_email(lead),
                full_name: lead.display_name(),
                first_name: lead.first_name().map(str::to_owned),
                last_name: e
                    .and_then(|e| e.last_name.clone())
                    .or_else(|| f.last_name.clone()),
                email: lead.email().map(str::to_owned),
                phone: e.and_then(|e| e.phone.clone()).or_else(|| f.phone.clone()),
                company: f.company.clone(),
                job_title: f.job_title.clone(),
                country: e
                    .and_then(|e| e.country.clone())
                    .or_else(|| f.country.clone()),
                message: f.message.clone(),
                language: lead.language(),
                tier: lead
                    .score
                    .as_ref()
                    .map(|s| s.tier.clone())
                    .unwrap_or_else(|| "new".into()),
                score: lead.score.as_ref().map(|s| ScoreView {
                    points: s.points,
                    tier: s.tier.clone(),
                    fit: s.fit,
                    intent: s.intent,
                    reasons: s.reasons.iter().map(|r| r.to_string()).collect(),
                }),
                campaign: (!utm.is_empty()).then(|| utm.join(", ")),
                utm: lead.utm.clone(),
                attributes: lead.attributes.clone(),
                received: Moment::new(lead.received_at, at.time_zone),
            },
            owner: owner.map(|o| OwnerView {
                id: o.owner_id.clone(),
                name: o.owner_name.clone(),
                email: o.owner_email.clone(),
                manager_email: o.manager_email.clone(),
                team: o.team.clone(),
                reason: o.reason.clone(),
            }),
            team: team.map(str::to_owned),
            why: None,
            sla: lead
                .sla
                .as_ref()
                .map(|s| SlaView::new(s.due_at, at.now, at.time_zone)),
            links: LinksView {
                contacted: at.contacted_url.map(str::to_owned),
            },
        };
        if kind == "acknowledgement" {
            ctx.only_a_greeting()
        } else {
            ctx
        }
    }

    /// An email of `kind` in which every value is present: templates are checked against it
    /// at start-up, so a misspelt variable is found before a lead's email needs it.
    pub(crate) fn sample(kind: &str) -> Self {
        let kind = KINDS
            .into_iter()
            .find(|k| *k == kind)
            .unwrap_or("assignment");
        let tz = &TimeZone::named("Europe/Berlin").unwrap_or(TimeZone::UTC);
        let received = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
        let now = received + chrono::Duration::minutes(20);
        let some = |s: &str| Some(s.to_owned());
        EmailContext {
            kind,
            lead: LeadView {
                id: "01JSAMPLE00000000000000000".into(),
                source: "json".into(),
                name: "Ana Costa".into(),
                full_name: some("Ana Costa"),
                first_name: some("Ana"),
                last_name: some("Costa"),
                email: some("ana.costa@example.com"),
                phone: some("+14155552671"),
                company: some("Northwind"),
                job_title: some("VP Sales"),
                country: some("US"),
                message: some("Could we see a demo?\nThanks."),
                language: some("en"),
                tier: "hot".into(),
                score: Some(ScoreView {
                    points: 75,
                    tier: "hot".into(),
                    fit: 45,
                    intent: 30,
                    reasons: vec!["+30 asked for a demo".into(), "+20 corporate email".into()],
                }),
                campaign: some("medium=cpc, source=google"),
                utm: [("medium", "cpc"), ("source", "google")]
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
                attributes: [("employees".to_owned(), "450".to_owned())].into(),
                received: Moment::new(received, tz),
            },
            owner: Some(OwnerView {
                id: "ana".into(),
                name: "Rui Almeida".into(),
                email: "rui@sales.example.com".into(),
                manager_email: "marta@sales.example.com".into(),
                team: "sales".into(),
                reason: "rule hot-leads matched; round robin picked rui (1 of 3)".into(),
            }),
            team: some("sales"),
            why: some("no active owner could take it"),
            sla: Some(SlaView::new(
                received + chrono::Duration::minutes(15),
                now,
                tz,
            )),
            links: LinksView {
                contacted: some("https://leads.example.com/v1/leads/01JSAMPLE/contacted?token=1.x"),
            },
        }
    }
}
