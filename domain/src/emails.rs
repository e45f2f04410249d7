//! The emails Leadrelay sends: who gets each one, and what its templates see
//! ([`EmailContext`]). The wording is in the templates ([`super::templates`]). Lead-supplied
//! text is escaped in HTML and stripped of line breaks wherever it could reach a header.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::lead::{Assignment, Lead};
use super::templates::{Selector, TemplateError, Templates};

/// What an email is for; with the lead id, it is the once-only key of the email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EmailKind {
    /// To the lead: we have your request, this is who will call.
    Acknowledgement,
    /// To the owner: a new lead is yours.
    Assignment,
    /// To the owner: the lead is still waiting (escalation step `step`).
    Reminder { step: usize },
    /// To the owner's manager: the lead is past its SLA (escalation step `step`).
    Escalation { step: usize },
    /// To the fallback team's manager: nobody could take the lead.
    Unassigned,
}

impl EmailKind {
    /// Stable key, one per email a lead can get.
    pub fn key(&self) -> String {
        match self {
            EmailKind::Acknowledgement => "acknowledgement".into(),
            EmailKind::Assignment => "assignment".into(),
            EmailKind::Reminder { step } => format!("reminder-{step}"),
            EmailKind::Escalation { step } => format!("escalation-{step}"),
            EmailKind::Unassigned => "unassigned".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email {
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The templates that rendered it (`teams/enterprise/assignment.de`), for logs and previews.
    #[serde(default)]
    pub template: String,
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Text safe for a header: no line breaks or other control characters, bounded length.
pub fn header_safe(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let collapsed = super::normalize::clean_text(&cleaned);
    collapsed.chars().take(120).collect()
}

/// When and where an email is rendered.
#[derive(Debug, Clone, Copy)]
pub struct Occasion<'a> {
    pub now: DateTime<Utc>,
    /// Where times are shown: the owner's or team's calendar time zone, else UTC.
    pub time_zone: Tz,
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
    fn new(t: DateTime<Utc>, tz: Tz) -> Self {
        let local = tz.from_utc_datetime(&t.naive_utc());
        Moment {
            text: local.format("%a %-d %b %Y, %H:%M %Z").to_string(),
            date: local.format("%Y-%m-%d").to_string(),
            time: local.format("%H:%M").to_string(),
            zone: local.format("%Z").to_string(),
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
    fn new(due_at: DateTime<Utc>, now: DateTime<Utc>, tz: Tz) -> Self {
        let due = Moment::new(due_at, tz);
        let overdue = now >= due_at;
        let minutes = (now - due_at).num_minutes().abs();
        let distance = distance(minutes);
        // The time alone when it is today where the reader is; else the day too.
        let when = if due.date == Moment::new(now, tz).date {
            format!("{} {}", due.time, due.zone)
        } else {
            tz.from_utc_datetime(&due_at.naive_utc())
                .format("%a %-d %b, %H:%M %Z")
                .to_string()
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

fn distance(minutes: i64) -> String {
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
    /// Opening it records first contact and stops the SLA clock (assignment, reminder and
    /// escalation emails).
    pub contacted: Option<String>,
}

fn name_or_email(lead: &Lead) -> String {
    lead.display_name()
        .or_else(|| lead.email().map(str::to_owned))
        .or_else(|| lead.fields.phone.clone())
        .unwrap_or_else(|| format!("lead {}", lead.lead_id))
}

impl EmailContext {
    fn new(
        kind: &'static str,
        lead: &Lead,
        owner: Option<&Assignment>,
        team: Option<&str>,
        at: &Occasion,
    ) -> Self {
        let e = lead.enrichment.as_ref();
        let f = &lead.fields;
        let utm: Vec<String> = lead.utm.iter().map(|(k, v)| format!("{k}={v}")).collect();
        EmailContext {
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
        }
    }

    /// An email of `kind` in which every value is present: templates are checked against it
    /// at start-up, so a misspelt variable is found before a lead's email needs it.
    pub(crate) fn sample(kind: &str) -> Self {
        let kind = super::templates::KINDS
            .into_iter()
            .find(|k| *k == kind)
            .unwrap_or("assignment");
        let tz = Tz::Europe__Berlin;
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

fn render(
    t: &Templates,
    ctx: &EmailContext,
    lead: &Lead,
    team: Option<&str>,
    to: String,
    reply_to: Option<String>,
) -> Result<Email, TemplateError> {
    let language = lead.language();
    let selector = Selector {
        source: &lead.source,
        team,
        language: language.as_deref(),
    };
    let r = t.render(&selector, ctx)?;
    Ok(Email {
        to,
        reply_to,
        subject: r.subject,
        text: r.text,
        html: r.html,
        template: r.template,
    })
}

/// To the lead, naming their owner; replies go to the owner. `None` without an email address.
pub fn acknowledgement(
    t: &Templates,
    lead: &Lead,
    owner: &Assignment,
    at: &Occasion,
) -> Result<Option<Email>, TemplateError> {
    let Some(to) = lead.email() else {
        return Ok(None);
    };
    let ctx = EmailContext::new("acknowledgement", lead, Some(owner), Some(&owner.team), at);
    let reply_to = Some(owner.owner_email.clone());
    render(t, &ctx, lead, Some(&owner.team), to.to_owned(), reply_to).map(Some)
}

/// To the owner: the lead, its score and reasons, the deadline and the contacted link.
pub fn assignment(
    t: &Templates,
    lead: &Lead,
    owner: &Assignment,
    at: &Occasion,
) -> Result<Email, TemplateError> {
    let ctx = EmailContext::new("assignment", lead, Some(owner), Some(&owner.team), at);
    let reply_to = lead.email().map(str::to_owned);
    render(
        t,
        &ctx,
        lead,
        Some(&owner.team),
        owner.owner_email.clone(),
        reply_to,
    )
}

/// To the owner: the lead still waits for first contact; says how late it is.
pub fn reminder(
    t: &Templates,
    lead: &Lead,
    owner: &Assignment,
    at: &Occasion,
) -> Result<Email, TemplateError> {
    let ctx = EmailContext::new("reminder", lead, Some(owner), Some(&owner.team), at);
    render(
        t,
        &ctx,
        lead,
        Some(&owner.team),
        owner.owner_email.clone(),
        None,
    )
}

/// To the owner's manager: the lead is past (or near) its SLA with no first contact.
pub fn escalation(
    t: &Templates,
    lead: &Lead,
    owner: &Assignment,
    at: &Occasion,
) -> Result<Email, TemplateError> {
    let ctx = EmailContext::new("escalation", lead, Some(owner), Some(&owner.team), at);
    let reply_to = Some(owner.owner_email.clone());
    render(
        t,
        &ctx,
        lead,
        Some(&owner.team),
        owner.manager_email.clone(),
        reply_to,
    )
}

/// To the fallback team's manager: routing found nobody.
pub fn unassigned(
    t: &Templates,
    lead: &Lead,
    team: &str,
    manager_email: &str,
    why: &str,
    at: &Occasion,
) -> Result<Email, TemplateError> {
    let mut ctx = EmailContext::new("unassigned", lead, None, Some(team), at);
    ctx.why = Some(why.to_owned());
    render(t, &ctx, lead, Some(team), manager_email.to_owned(), None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{assignment_for, lead, templates};

    fn at(now: DateTime<Utc>, contacted_url: Option<&str>) -> Occasion<'_> {
        Occasion {
            now,
            time_zone: Tz::UTC,
            contacted_url,
        }
    }

    /// A lead whose 15-minute SLA started when it arrived, at 10:00 UTC.
    fn waiting_lead() -> Lead {
        let mut l = lead();
        l.sla = Some(crate::sla::start(
            l.received_at,
            std::time::Duration::from_secs(900),
            &[],
            &crate::sla::WallClock,
        ));
        l
    }

    #[test]
    fn lead_text_is_escaped_in_html_and_cannot_break_headers() {
        let mut l = lead();
        l.fields.full_name = Some("<script>alert(1)</script>\r\nBcc: victim@example.com".into());
        l.fields.message = Some("<img src=x onerror=alert(1)> & \"quotes\"".into());
        let a = assignment_for(&l);
        let url = "https://x.test/v1/leads/1/contacted?token=a&b";
        let e = assignment(&templates(), &l, &a, &at(l.received_at, Some(url))).unwrap();
        assert!(!e.subject.contains('\r') && !e.subject.contains('\n'));
        assert!(e.subject.contains("Bcc: victim"), "{}", e.subject);
        assert!(!e.html.contains("<script>"));
        assert!(!e.html.contains("<img"));
        assert!(e
            .html
            .contains("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quotes&quot;"));
        assert!(e
            .html
            .contains("href=\"https://x.test/v1/leads/1/contacted?token=a&amp;b\""));
        assert!(e.text.contains("token=a&b"));
    }

    #[test]
    fn the_acknowledgement_names_the_owner_and_replies_to_them() {
        let l = lead();
        let a = assignment_for(&l);
        let e = acknowledgement(&templates(), &l, &a, &at(l.received_at, None))
            .unwrap()
            .unwrap();
        assert_eq!(e.to, l.email().unwrap());
        assert_eq!(e.reply_to.as_deref(), Some(a.owner_email.as_str()));
        assert_eq!(e.subject, "We have your request");
        assert!(e.text.starts_with("Hello Ana,\n\nThank you"), "{}", e.text);
        assert!(e.text.contains(&a.owner_name) && e.html.contains(&a.owner_name));
        assert_eq!(e.template, "acknowledgement");
    }

    #[test]
    fn a_lead_who_wrote_in_german_is_acknowledged_in_german() {
        let mut l = lead();
        l.attributes.insert("language".into(), "de-DE".into());
        let a = assignment_for(&l);
        let e = acknowledgement(&templates(), &l, &a, &at(l.received_at, None))
            .unwrap()
            .unwrap();
        assert_eq!(e.template, "acknowledgement.de");
        assert_eq!(e.subject, "Wir haben Ihre Anfrage erhalten");
        assert!(e.text.starts_with("Guten Tag Ana Costa,"), "{}", e.text);
        assert!(e.html.contains("<html lang=\"de\">"), "{}", e.html);
        // The owner's email has no German variant: the default.
        let e = assignment(&templates(), &l, &a, &at(l.received_at, Some("u"))).unwrap();
        assert_eq!(e.template, "assignment");
    }

    #[test]
    fn a_lead_without_email_gets_no_acknowledgement() {
        let mut l = lead();
        l.fields.email = None;
        l.enrichment = None;
        let a = assignment_for(&l);
        assert!(
            acknowledgement(&templates(), &l, &a, &at(l.received_at, None))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn the_assignment_lists_the_lead_the_deadline_and_the_contacted_link() {
        let mut l = waiting_lead();
        l.fields.message = Some("Line one\nline two".into());
        let a = assignment_for(&l);
        let e = assignment(
            &templates(),
            &l,
            &a,
            &at(l.received_at, Some("https://x.test/c")),
        )
        .unwrap();
        assert_eq!(e.subject, "New new lead: Ana Costa");
        assert_eq!(e.reply_to.as_deref(), Some("ana@acme.io"));
        assert!(e.text.contains("      Name: Ana Costa\n"), "{}", e.text);
        assert!(
            e.text
                .contains("   Message: Line one\n            line two\n"),
            "{}",
            e.text
        );
        assert!(
            e.text.contains("Contact by: Mon 2 Mar 2026, 10:15 UTC"),
            "{}",
            e.text
        );
        assert!(
            e.text.ends_with("stop the SLA clock:\nhttps://x.test/c\n"),
            "{}",
            e.text
        );
        assert!(
            e.html.contains("<td>Line one<br>line two</td>"),
            "{}",
            e.html
        );
        assert!(
            !e.text.contains("Company"),
            "absent rows are left out: {}",
            e.text
        );
    }

    #[test]
    fn reminders_say_when_first_contact_is_due_and_link_to_the_lead() {
        let l = waiting_lead();
        let a = assignment_for(&l);
        let now = l.received_at + chrono::Duration::minutes(8);
        let e = reminder(&templates(), &l, &a, &at(now, Some("https://x.test/c"))).unwrap();
        assert_eq!(e.to, a.owner_email);
        assert_eq!(
            e.subject,
            "Reminder: Ana Costa is waiting, first contact is due 10:15 UTC, in 7 minutes"
        );
        assert!(e.text.contains("https://x.test/c"), "{}", e.text);
        assert!(e.html.contains("href=\"https://x.test/c\""), "{}", e.html);
    }

    #[test]
    fn escalations_say_what_is_late_by_how_much_in_the_teams_time_zone() {
        let l = waiting_lead();
        let a = assignment_for(&l);
        let now = l.received_at + chrono::Duration::minutes(47);
        let berlin = Occasion {
            now,
            time_zone: Tz::Europe__Berlin,
            contacted_url: Some("https://x.test/c"),
        };
        let e = escalation(&templates(), &l, &a, &berlin).unwrap();
        assert_eq!(e.to, a.manager_email);
        assert_eq!(e.reply_to.as_deref(), Some(a.owner_email.as_str()));
        assert_eq!(
            e.subject,
            "SLA breached: new lead Ana Costa not contacted by Rui Almeida"
        );
        assert!(
            e.text
                .contains("first contact was due 11:15 CET, 32 minutes ago"),
            "{}",
            e.text
        );
        assert!(e.text.contains("https://x.test/c"), "{}", e.text);
    }

    #[test]
    fn a_deadline_on_another_day_names_the_day() {
        let l = waiting_lead();
        let now = l.received_at + chrono::Duration::days(3);
        let v = SlaView::new(l.sla.as_ref().unwrap().due_at, now, Tz::UTC);
        assert_eq!(
            v.status,
            "first contact was due Mon 2 Mar, 10:15 UTC, 2 days ago"
        );
        assert_eq!(distance(0), "less than a minute");
        assert_eq!(distance(1), "1 minute");
        assert_eq!(distance(60), "1 hour");
        assert_eq!(distance(125), "2 hours 5 minutes");
    }

    #[test]
    fn the_unassigned_alert_says_why() {
        let l = lead();
        let e = unassigned(
            &templates(),
            &l,
            "sales",
            "marta@sales.example.com",
            "no active owner could take it",
            &at(l.received_at, None),
        )
        .unwrap();
        assert_eq!(e.subject, "Unassigned lead: Ana Costa");
        assert!(
            e.text.contains("Why: no active owner could take it"),
            "{}",
            e.text
        );
    }
}
