//! The emails Leadrelay sends, rendered from a lead. Lead-supplied text is escaped in HTML and
//! stripped of line breaks wherever it could reach a header.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::lead::{Assignment, Lead};

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

fn when(t: DateTime<Utc>) -> String {
    t.format("%a %-d %b %Y, %H:%M UTC").to_string()
}

fn name_or_email(lead: &Lead) -> String {
    lead.display_name()
        .or_else(|| lead.email().map(str::to_owned))
        .or_else(|| lead.fields.phone.clone())
        .unwrap_or_else(|| format!("lead {}", lead.lead_id))
}

/// Label/value rows describing the lead, in the order an owner reads them.
fn details(lead: &Lead) -> Vec<(&'static str, String)> {
    let e = lead.enrichment.as_ref();
    let f = &lead.fields;
    let mut rows = vec![("Name", lead.display_name())];
    rows.push(("Email", lead.email().map(str::to_owned)));
    rows.push((
        "Phone",
        e.and_then(|e| e.phone.clone()).or_else(|| f.phone.clone()),
    ));
    rows.push(("Company", f.company.clone()));
    rows.push(("Job title", f.job_title.clone()));
    rows.push((
        "Country",
        e.and_then(|e| e.country.clone())
            .or_else(|| f.country.clone()),
    ));
    rows.push(("Message", f.message.clone()));
    rows.push(("Source", Some(lead.source.clone())));
    let utm: Vec<String> = lead.utm.iter().map(|(k, v)| format!("{k}={v}")).collect();
    rows.push(("Campaign", (!utm.is_empty()).then(|| utm.join(", "))));
    rows.into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
}

fn html_page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title></head>\
         <body style=\"font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1f2933;max-width:640px\">\
         {body}<p style=\"color:#7b8794;font-size:12px\">Sent by Leadrelay.</p></body></html>",
        html_escape(title)
    )
}

fn html_table(rows: &[(&str, String)]) -> String {
    let mut t = String::from("<table cellpadding=\"4\" style=\"border-collapse:collapse\">");
    for (k, v) in rows {
        t.push_str(&format!(
            "<tr><th align=\"left\" style=\"color:#52606d\">{}</th><td>{}</td></tr>",
            html_escape(k),
            html_escape(v).replace('\n', "<br>")
        ));
    }
    t.push_str("</table>");
    t
}

fn text_table(rows: &[(&str, String)]) -> String {
    rows.iter()
        .map(|(k, v)| format!("{k:>10}: {}", v.replace('\n', "\n            ")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// To the lead, naming their owner; replies go to the owner. `None` without an email address.
pub fn acknowledgement(lead: &Lead, owner: &Assignment) -> Option<Email> {
    let to = lead.email()?.to_owned();
    let greeting = match lead.first_name() {
        Some(n) => format!("Hello {},", header_safe(n)),
        None => "Hello,".to_owned(),
    };
    let text = format!(
        "{greeting}\n\nThank you for getting in touch. We have your request, and {owner} will \
         contact you shortly. You can reply to this email to reach {owner} directly.\n\n\
         Kind regards",
        owner = owner.owner_name
    );
    let html = html_page(
        "We have your request",
        &format!(
            "<p>{}</p><p>Thank you for getting in touch. We have your request, and <strong>{}</strong> \
             will contact you shortly. You can reply to this email to reach them directly.</p><p>Kind regards</p>",
            html_escape(&greeting),
            html_escape(&owner.owner_name)
        ),
    );
    Some(Email {
        to,
        reply_to: Some(owner.owner_email.clone()),
        subject: "We have your request".into(),
        text,
        html,
    })
}

/// To the owner: the lead, its score and reasons, the deadline and the contacted link.
pub fn assignment(lead: &Lead, owner: &Assignment, contacted_url: &str) -> Email {
    let mut rows = details(lead);
    if let Some(s) = &lead.score {
        rows.push((
            "Score",
            format!(
                "{} ({}; fit {}, intent {})",
                s.points, s.tier, s.fit, s.intent
            ),
        ));
        let reasons: Vec<String> = s.reasons.iter().map(|r| r.to_string()).collect();
        if !reasons.is_empty() {
            rows.push(("Why", reasons.join("\n")));
        }
    }
    rows.push(("Arrived", when(lead.received_at)));
    if let Some(sla) = &lead.sla {
        rows.push(("Contact by", when(sla.due_at)));
    }
    rows.push(("Routing", owner.reason.clone()));
    rows.push(("Lead id", lead.lead_id.clone()));
    let tier = lead
        .score
        .as_ref()
        .map(|s| s.tier.as_str())
        .unwrap_or("new");
    let subject = header_safe(&format!("New {tier} lead: {}", name_or_email(lead)));
    let text = format!(
        "Hi {},\n\nA new lead is yours.\n\n{}\n\nOnce you have contacted them, open this link to stop the SLA clock:\n{contacted_url}\n",
        owner.owner_name,
        text_table(&rows)
    );
    let html = html_page(
        &subject,
        &format!(
            "<p>Hi {},</p><p>A new lead is yours.</p>{}\
             <p><a href=\"{}\" style=\"background:#2563eb;color:#fff;padding:8px 14px;border-radius:4px;text-decoration:none\">I've contacted this lead</a></p>",
            html_escape(&owner.owner_name),
            html_table(&rows),
            html_escape(contacted_url)
        ),
    );
    Email {
        to: owner.owner_email.clone(),
        reply_to: lead.email().map(str::to_owned),
        subject,
        text,
        html,
    }
}

fn late_by(lead: &Lead, now: DateTime<Utc>) -> String {
    let due = lead.sla.as_ref().map(|s| s.due_at).unwrap_or(now);
    let mins = (now - due).num_minutes();
    if mins <= 0 {
        let left = -mins;
        format!("due in {} (by {})", human_minutes(left), when(due))
    } else {
        format!("{} past its SLA (due {})", human_minutes(mins), when(due))
    }
}

fn human_minutes(m: i64) -> String {
    match m {
        m if m < 60 => format!("{m} min"),
        m if m < 48 * 60 => format!("{}h {:02}min", m / 60, m % 60),
        m => format!("{} days", m / (24 * 60)),
    }
}

/// To the owner: the lead still waits for first contact.
pub fn reminder(lead: &Lead, owner: &Assignment, contacted_url: &str, now: DateTime<Utc>) -> Email {
    let status = late_by(lead, now);
    let subject = header_safe(&format!(
        "Reminder: {} is waiting, {status}",
        name_or_email(lead)
    ));
    let rows = details(lead);
    let text = format!(
        "Hi {},\n\n{} has not been contacted yet; the lead is {status}.\n\n{}\n\nContacted them? {contacted_url}\n",
        owner.owner_name,
        name_or_email(lead),
        text_table(&rows)
    );
    let html = html_page(
        &subject,
        &format!(
            "<p>Hi {},</p><p><strong>{}</strong> has not been contacted yet; the lead is {}.</p>{}<p><a href=\"{}\">I've contacted this lead</a></p>",
            html_escape(&owner.owner_name),
            html_escape(&name_or_email(lead)),
            html_escape(&status),
            html_table(&rows),
            html_escape(contacted_url)
        ),
    );
    Email {
        to: owner.owner_email.clone(),
        reply_to: None,
        subject,
        text,
        html,
    }
}

/// To the owner's manager: the lead is past its SLA with no first contact.
pub fn escalation(lead: &Lead, owner: &Assignment, now: DateTime<Utc>) -> Email {
    let status = late_by(lead, now);
    let overdue = lead.sla.as_ref().is_some_and(|s| now >= s.due_at);
    let subject = header_safe(&format!(
        "{}: {} lead {} not contacted by {}",
        if overdue {
            "SLA breached"
        } else {
            "SLA at risk"
        },
        lead.score
            .as_ref()
            .map(|s| s.tier.as_str())
            .unwrap_or("new"),
        name_or_email(lead),
        owner.owner_name
    ));
    let mut rows = details(lead);
    rows.push((
        "Owner",
        format!("{} <{}>", owner.owner_name, owner.owner_email),
    ));
    rows.push(("Arrived", when(lead.received_at)));
    rows.push(("Lead id", lead.lead_id.clone()));
    let text = format!(
        "The lead below is {status} and {} has not contacted them yet.\n\n{}\n\nSee the whole timeline with: leadrelay lead {}\n",
        owner.owner_name,
        text_table(&rows),
        lead.lead_id
    );
    let html = html_page(
        &subject,
        &format!(
            "<p>The lead below is <strong>{}</strong> and {} has not contacted them yet.</p>{}<p>Timeline: <code>leadrelay lead {}</code></p>",
            html_escape(&status),
            html_escape(&owner.owner_name),
            html_table(&rows),
            html_escape(&lead.lead_id)
        ),
    );
    Email {
        to: owner.manager_email.clone(),
        reply_to: Some(owner.owner_email.clone()),
        subject,
        text,
        html,
    }
}

/// To the fallback team's manager: routing found nobody.
pub fn unassigned(lead: &Lead, manager_email: &str, why: &str) -> Email {
    let subject = header_safe(&format!("Unassigned lead: {}", name_or_email(lead)));
    let mut rows = details(lead);
    rows.push(("Why", why.to_owned()));
    rows.push(("Arrived", when(lead.received_at)));
    rows.push(("Lead id", lead.lead_id.clone()));
    let text = format!(
        "Nobody could be assigned this lead; please take it or assign it.\n\n{}\n",
        text_table(&rows)
    );
    let html = html_page(
        &subject,
        &format!(
            "<p>Nobody could be assigned this lead; please take it or assign it.</p>{}",
            html_table(&rows)
        ),
    );
    Email {
        to: manager_email.to_owned(),
        reply_to: None,
        subject,
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::test_support::{assignment_for, lead};

    #[test]
    fn lead_text_is_escaped_in_html_and_cannot_break_headers() {
        let mut l = lead();
        l.fields.full_name = Some("<script>alert(1)</script>\r\nBcc: victim@example.com".into());
        l.fields.message = Some("<img src=x onerror=alert(1)> & \"quotes\"".into());
        let a = assignment_for(&l);
        let e = assignment(&l, &a, "https://x.test/v1/leads/1/contacted?token=a&b");
        assert!(!e.subject.contains('\r') && !e.subject.contains('\n'));
        assert!(!e.html.contains("<script>"));
        assert!(!e.html.contains("<img"));
        assert!(e
            .html
            .contains("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quotes&quot;"));
        assert!(e.html.contains("token=a&amp;b"));
        assert!(e.text.contains("token=a&b"));
    }

    #[test]
    fn the_acknowledgement_names_the_owner_and_replies_to_them() {
        let l = lead();
        let a = assignment_for(&l);
        let e = acknowledgement(&l, &a).unwrap();
        assert_eq!(e.to, l.email().unwrap());
        assert_eq!(e.reply_to.as_deref(), Some(a.owner_email.as_str()));
        assert!(e.text.contains(&a.owner_name) && e.html.contains(&a.owner_name));
    }

    #[test]
    fn a_lead_without_email_gets_no_acknowledgement() {
        let mut l = lead();
        l.fields.email = None;
        l.enrichment = None;
        assert!(acknowledgement(&l, &assignment_for(&l)).is_none());
    }

    #[test]
    fn escalations_say_how_late_the_lead_is() {
        let mut l = lead();
        let a = assignment_for(&l);
        l.sla = Some(crate::domain::sla::start(
            l.received_at,
            std::time::Duration::from_secs(900),
            &[],
            &crate::domain::sla::WallClock,
        ));
        let now = l.received_at + chrono::Duration::minutes(40);
        let e = escalation(&l, &a, now);
        assert_eq!(e.to, a.manager_email);
        assert!(e.text.contains("25 min past its SLA"), "{}", e.text);
    }
}
