//! The emails Leadrelay sends: who gets each one, and what its templates see
//! ([`EmailContext`]). The wording is in the templates ([`super::templates`]). Lead-supplied
//! text is escaped in HTML and stripped of line breaks wherever it could reach a header.

use serde::{Deserialize, Serialize};

pub use super::email_context::{EmailContext, Occasion};
pub use super::escape::{header_safe, html_escape};
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
    /// The kind without its step: the `Kind` dimension of the email metrics (few values).
    pub fn name(&self) -> &'static str {
        match self {
            EmailKind::Acknowledgement => "acknowledgement",
            EmailKind::Assignment => "assignment",
            EmailKind::Reminder { .. } => "reminder",
            EmailKind::Escalation { .. } => "escalation",
            EmailKind::Unassigned => "unassigned",
        }
    }

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
    use crate::email_context::{distance, SlaView};
    use crate::test_support::{assignment_for, lead, templates};
    use crate::time_zone::TimeZone;
    use chrono::{DateTime, Utc};

    static UTC: TimeZone = TimeZone::UTC;

    fn at(now: DateTime<Utc>, contacted_url: Option<&str>) -> Occasion<'_> {
        Occasion {
            now,
            time_zone: &UTC,
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
        assert!(e.text.starts_with("Guten Tag Ana,"), "{}", e.text);
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
        let berlin_zone = TimeZone::named("Europe/Berlin").unwrap();
        let berlin = Occasion {
            now,
            time_zone: &berlin_zone,
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
        let v = SlaView::new(l.sla.as_ref().unwrap().due_at, now, &TimeZone::UTC);
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
