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

mod not_a_relay {
    use http::{Request, StatusCode};
    use leadrelay_domain::clock::Clock;
    use serde_json::json;

    use crate::support::TestApp;

    const VICTIM: &str = "someone.else@victim.example";

    fn lead_naming(app: &TestApp, first_name: &str) -> Request<Vec<u8>> {
        app.signed_json(&json!({
            "email": VICTIM,
            "first_name": first_name,
            "message": "Visit https://spam.example for cheap pills",
        }))
    }

    async fn close(app: &TestApp, lead_id: &str) {
        let req = Request::post(format!("/v1/leads/{lead_id}/status"))
            .header("authorization", "Bearer local-crm-token")
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&json!({"status": "disqualified", "reason": "spam"})).unwrap())
            .unwrap();
        let (status, body) = app.send(req).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    #[tokio::test]
    async fn one_address_is_acknowledged_once_a_day_however_many_leads_name_it() {
        let app = TestApp::new().await;
        let first = app.capture(lead_naming(&app, "Ana")).await;
        app.drain().await;
        let acks = app.emails_to(VICTIM).await;
        assert_eq!(acks.len(), 1);
        assert!(
            !acks[0].body.contains("spam.example"),
            "no text of the sender's but a first name: {}",
            acks[0].body
        );
        close(&app, &first).await;

        // The same address on a new lead the same day: stored, routed and its owner told;
        // the address is not written to again.
        app.clock.advance(chrono::Duration::hours(2));
        let second = app.capture(lead_naming(&app, "Bea")).await;
        assert_ne!(second, first);
        app.drain().await;
        assert_eq!(app.emails_to(VICTIM).await.len(), 1);
        let lead = app.lead(&second).await;
        let owner = lead.assignment.expect("routed").owner_email;
        assert_eq!(
            app.emails_to(&owner)
                .await
                .iter()
                .filter(|e| e.body.contains(&second))
                .count(),
            1
        );
        let timeline = app.stack.deps.store.timeline(&second).await.unwrap();
        assert!(
            timeline.iter().any(|e| e
                .summary
                .starts_with("acknowledgement not sent: the address was acknowledged")),
            "{timeline:?}"
        );
        close(&app, &second).await;

        // A day later it may be acknowledged again.
        app.clock.set(app.clock.now() + chrono::Duration::days(1));
        app.capture(lead_naming(&app, "Cleo")).await;
        app.drain().await;
        assert_eq!(app.emails_to(VICTIM).await.len(), 2);
    }

    #[tokio::test]
    async fn a_sources_hourly_cap_stops_acknowledgements_but_not_the_leads() {
        let app = TestApp::with_config(|c| {
            *c = c.replacen(
                "default_country = \"US\"",
                "default_country = \"US\"\nmax_acknowledgements_per_hour = 2",
                1,
            );
        })
        .await;
        let mut ids = Vec::new();
        for n in 0..3 {
            let body = json!({"email": format!("person{n}@example.org"), "first_name": "Pat"});
            ids.push(app.capture(app.signed_json(&body)).await);
        }
        app.drain().await;
        let mut acknowledged = 0;
        for n in 0..3 {
            let to = format!("person{n}@example.org");
            acknowledged += app.emails_to(&to).await.len();
        }
        assert_eq!(acknowledged, 2, "the cap");
        for id in &ids {
            let lead = app.lead(id).await;
            assert!(
                lead.assignment.is_some() && lead.notified,
                "every lead routed, its owner told"
            );
        }
    }
}
