//! Email templates end to end: an operator's folder named in the configuration, laid over the
//! built-in templates; a team's override and the lead's language picking the templates; and
//! `leadrelay email preview` rendering the very email notify sent.

use chrono::Duration;
use leadrelay_cli::email_preview::{self, PreviewKind};

use crate::support::*;

/// A folder of overrides: the enterprise team's assignment, and its acknowledgement in
/// Portuguese.
fn overrides() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "leadrelay-e2e-templates-{}",
        ulid::Ulid::new().to_string().to_lowercase()
    ));
    let team = dir.join("teams/enterprise");
    std::fs::create_dir_all(&team).unwrap();
    let write = |name: &str, text: &str| std::fs::write(team.join(name), text).unwrap();
    write(
        "assignment.txt",
        "Subject: Enterprise account for {{ owner.name }}: {{ lead.company }}\n\
         {{ lead.attributes.employees }} employees. Contact by {{ sla.due.text }}.\n\
         {{ links.contacted }}\n",
    );
    write(
        "assignment.html",
        "{% extends \"_layout.html\" %}{% block body %}\
         <p>{{ lead.attributes.employees }} employees: <a href=\"{{ links.contacted }}\">contacted</a></p>\
         {% endblock %}",
    );
    write(
        "acknowledgement.pt.txt",
        "Subject: Recebemos o seu pedido\nOlá {{ lead.first_name }}, {{ owner.name }} vai contactá-lo em breve.\n",
    );
    write(
        "acknowledgement.pt.html",
        "<p>Olá {{ lead.first_name }}, {{ owner.name }} vai contactá-lo em breve.</p>",
    );
    dir
}

async fn app_with(dir: &std::path::Path) -> TestApp {
    let line = format!("[email]\ntemplates = \"{}\"", dir.display());
    TestApp::with_config(|c| *c = c.replacen("[email]", &line, 1)).await
}

#[tokio::test]
async fn a_teams_override_and_the_leads_language_choose_the_templates() {
    let dir = overrides();
    let app = app_with(&dir).await;
    let mut lead = ana();
    lead["employees"] = 5000.into();
    lead["language"] = "pt-BR".into();
    let id = app.capture(app.signed_json(&lead)).await;
    app.drain().await;
    let owner = app.lead(&id).await.assignment.unwrap();
    assert_eq!(owner.team, "enterprise");

    let to_lead = app.emails_to("ana.ferreira@northwind-logistics.com").await;
    assert_eq!(to_lead.len(), 1, "{to_lead:?}");
    assert_eq!(to_lead[0].subject, "Recebemos o seu pedido");
    assert!(
        to_lead[0].body.contains("vai contactá-lo"),
        "{}",
        to_lead[0].body
    );

    let to_owner = app.emails_to(&owner.owner_email).await;
    assert_eq!(to_owner.len(), 1, "{to_owner:?}");
    assert_eq!(
        to_owner[0].subject,
        format!(
            "Enterprise account for {}: Northwind Logistics",
            owner.owner_name
        )
    );
    assert!(
        to_owner[0].body.contains("5000 employees"),
        "{}",
        to_owner[0].body
    );
    assert!(!contacted_link(&to_owner[0].body).is_empty());
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn a_german_lead_is_acknowledged_in_german_and_its_owner_told_in_the_default_wording() {
    let dir = overrides();
    let app = app_with(&dir).await;
    let mut lead = ana();
    lead["language"] = "de".into();
    let id = app.capture(app.signed_json(&lead)).await;
    app.drain().await;
    let owner = app.lead(&id).await.assignment.unwrap();
    assert_eq!(
        owner.team, "sales",
        "the enterprise override does not apply"
    );
    let to_lead = app.emails_to("ana.ferreira@northwind-logistics.com").await;
    assert_eq!(to_lead[0].subject, "Wir haben Ihre Anfrage erhalten");
    let to_owner = app.emails_to(&owner.owner_email).await;
    assert_eq!(to_owner[0].subject, "New hot lead: Ana Ferreira");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn the_preview_renders_what_notify_sends_and_reminders_in_the_teams_time_zone() {
    let dir = overrides();
    let app = app_with(&dir).await;
    let mut lead = ana();
    lead["employees"] = 5000.into();
    lead["language"] = "pt".into();
    let id = app.capture(app.signed_json(&lead)).await;
    app.drain().await;
    let deps = &app.stack.deps;
    let now = deps.clock.now();

    let ack = email_preview::preview(deps, &id, PreviewKind::Acknowledgement, now)
        .await
        .unwrap();
    assert_eq!(ack.template, "teams/enterprise/acknowledgement.pt");
    let sent = app.emails_to("ana.ferreira@northwind-logistics.com").await;
    assert_eq!(ack.subject, sent[0].subject);
    let report = email_preview::report(&ack);
    assert!(
        report.starts_with(
            "template  teams/enterprise/acknowledgement.pt.txt, teams/enterprise/acknowledgement.pt.html\n\
             to        ana.ferreira@northwind-logistics.com\n"
        ),
        "{report}"
    );

    // The enterprise team counts Berlin business hours: 10:00 UTC on a Monday is 11:00 CET,
    // and a hot lead's 15 minutes end at 11:15 CET.
    let reminder =
        email_preview::preview(deps, &id, PreviewKind::Reminder, now + Duration::minutes(8))
            .await
            .unwrap();
    assert_eq!(reminder.template, "reminder");
    assert!(
        reminder
            .subject
            .ends_with("is waiting, first contact is due 11:15 CET, in 7 minutes"),
        "{}",
        reminder.subject
    );
    assert!(
        reminder.text.contains("/contacted?token="),
        "{}",
        reminder.text
    );
    // Nothing was sent by previewing.
    assert_eq!(app.sent_emails().await.len(), 2);
    std::fs::remove_dir_all(dir).ok();
}
