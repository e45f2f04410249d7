use leadrelay_aws::queue::{NotifyMessage, QueueName};
use leadrelay_domain::lead::{LeadStatus, Stage};

use crate::support::*;

#[tokio::test]
async fn a_signed_json_lead_ends_stored_scored_owned_with_one_acknowledgement_and_one_assignment() {
    let app = TestApp::new().await;
    let id = app.capture(app.signed_json(&ana())).await;
    app.drain().await;

    let lead = app.lead(&id).await;
    assert_eq!(lead.stage, Stage::Routed);
    assert_eq!(lead.status, LeadStatus::New);
    let e = lead.enrichment.as_ref().unwrap();
    assert_eq!(
        e.email.as_deref(),
        Some("ana.ferreira@northwind-logistics.com")
    );
    assert_eq!(e.phone.as_deref(), Some("+14155552671"));
    assert!(!e.free_email);
    let score = lead.score.as_ref().unwrap();
    assert_eq!(score.tier, "hot", "{score:?}");
    assert!(score.reasons.iter().any(|r| r.reason == "asked for a demo"));
    let owner = lead.assignment.as_ref().unwrap();
    assert_eq!(owner.team, "sales");
    assert!(
        owner.reason.contains("rule hot-leads matched"),
        "{}",
        owner.reason
    );
    let sla = lead.sla.as_ref().unwrap();
    assert_eq!(sla.started_at, lead.received_at);
    assert_eq!(sla.due_at, lead.received_at + chrono::Duration::minutes(15));

    let to_lead = app.emails_to("ana.ferreira@northwind-logistics.com").await;
    assert_eq!(to_lead.len(), 1, "{to_lead:?}");
    assert!(to_lead[0].body.contains(&owner.owner_name));
    let to_owner = app.emails_to(&owner.owner_email).await;
    assert_eq!(to_owner.len(), 1);
    assert!(
        to_owner[0].subject.contains("hot lead"),
        "{}",
        to_owner[0].subject
    );
    assert!(to_owner[0].body.contains("asked for a demo"));
    assert!(to_owner[0].body.contains("/contacted?token="));
    assert_eq!(app.sent_emails().await.len(), 2);

    let kinds = app.event_kinds(&id).await;
    use leadrelay_domain::lead::EventKind::*;
    assert_eq!(kinds, vec![Captured, Scored, Routed, EmailSent, EmailSent]);
    let emails = app.stack.deps.store.emails(&id).await.unwrap();
    let ack = emails.iter().find(|e| e.kind == "acknowledgement").unwrap();
    assert_eq!(ack.reply_to.as_deref(), Some(owner.owner_email.as_str()));
}

#[tokio::test]
async fn an_html_form_lead_ends_owned_with_both_emails() {
    let app = TestApp::new().await;
    let id = app
        .capture(app.form("full_name=Hannah+Schmidt&email=hannah.schmidt%40example.com&phone=030+12345678&company=Schmidt+Lagertechnik+GmbH&message=Bitte+um+R%C3%BCckruf&website="))
        .await;
    app.drain().await;
    let lead = app.lead(&id).await;
    assert_eq!(lead.stage, Stage::Routed);
    let e = lead.enrichment.as_ref().unwrap();
    assert_eq!(
        e.phone.as_deref(),
        Some("+493012345678"),
        "the form source's default country is DE"
    );
    assert_eq!(e.first_name.as_deref(), Some("Hannah"));
    assert_eq!(lead.fields.message.as_deref(), Some("Bitte um Rückruf"));
    let owner = lead.assignment.unwrap();
    assert_eq!(app.emails_to("hannah.schmidt@example.com").await.len(), 1);
    assert_eq!(app.emails_to(&owner.owner_email).await.len(), 1);
}

#[tokio::test]
async fn redelivered_webhook_returns_same_lead_and_sends_no_second_email() {
    let app = TestApp::new().await;
    let first = app.capture(app.signed_json(&ana())).await;
    app.drain().await;
    let (status, body) = app.send(app.signed_json(&ana())).await;
    assert_eq!(status, http::StatusCode::OK);
    assert_eq!(body["lead_id"], first.as_str());
    app.drain().await;
    assert_eq!(app.items_with_entity("lead").await, 1);
    assert_eq!(app.sent_emails().await.len(), 2);
}

#[tokio::test]
async fn an_idempotency_key_recognises_a_redelivery_with_another_body() {
    let app = TestApp::new().await;
    let first = app
        .capture(app.signed_json_with_key(&ana(), "order-42"))
        .await;
    let mut changed = ana();
    changed["message"] = "Resent by the platform with a new timestamp".into();
    let (status, body) = app
        .send(app.signed_json_with_key(&changed, "order-42"))
        .await;
    assert_eq!(status, http::StatusCode::OK);
    assert_eq!(body["lead_id"], first.as_str());
}

#[tokio::test]
async fn twenty_concurrent_deliveries_of_a_lead_make_one_lead_and_one_acknowledgement() {
    let app = TestApp::new().await;
    let answers =
        futures::future::join_all((0..20).map(|_| app.send(app.signed_json(&ana())))).await;
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|(_, b)| b["lead_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 1, "{answers:?}");
    let created = answers
        .iter()
        .filter(|(s, _)| *s == http::StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{answers:?}");
    assert!(answers.iter().all(|(s, _)| s.is_success()), "{answers:?}");
    app.drain().await;
    assert_eq!(app.items_with_entity("lead").await, 1);
    assert_eq!(
        app.emails_to("ana.ferreira@northwind-logistics.com")
            .await
            .len(),
        1
    );
}

#[tokio::test]
async fn duplicate_queue_messages_send_no_second_email() {
    let app = TestApp::new().await;
    let id = app.capture(app.signed_json(&ana())).await;
    app.drain().await;
    // SQS delivers at least once: the same messages again, at every stage.
    let q = &app.stack.deps.queues;
    q.send(
        QueueName::Captured,
        &leadrelay_aws::queue::LeadMessage {
            lead_id: id.clone(),
        },
    )
    .await
    .unwrap();
    q.send(
        QueueName::Scored,
        &leadrelay_aws::queue::LeadMessage {
            lead_id: id.clone(),
        },
    )
    .await
    .unwrap();
    q.send(
        QueueName::Notify,
        &NotifyMessage::Assigned {
            lead_id: id.clone(),
        },
    )
    .await
    .unwrap();
    app.drain().await;
    assert_eq!(app.sent_emails().await.len(), 2);
    let lead = app.lead(&id).await;
    assert_eq!(app.stack.deps.store.timeline(&id).await.unwrap().len(), 5);
    assert!(lead.assignment.is_some());
}

#[tokio::test]
async fn a_filled_honeypot_is_answered_like_success_stored_as_spam_and_sends_nothing() {
    let app = TestApp::new().await;
    let id = app
        .capture(
            app.form("email=bot%40example.com&full_name=Bot&website=http%3A%2F%2Fspam.example"),
        )
        .await;
    app.drain().await;
    let lead = app.lead(&id).await;
    assert!(lead.is_spam);
    assert_eq!(lead.stage, Stage::Captured);
    assert!(lead.assignment.is_none());
    assert!(app.sent_emails().await.is_empty());
}

#[tokio::test]
async fn a_lead_nobody_can_take_lands_unassigned_and_the_fallback_manager_is_told() {
    let app = TestApp::with_config(|c| {
        *c = c.replace(
            "manager_email = \"marta.klein@sales.example.com\"\n",
            "manager_email = \"marta.klein@sales.example.com\"\nactive = false\n",
        );
        // The team manager line precedes the owners; keep it valid by re-adding it without the flag.
        *c = c.replacen(
            "[teams.sales]\nmanager_email = \"marta.klein@sales.example.com\"\nactive = false\n",
            "[teams.sales]\nmanager_email = \"marta.klein@sales.example.com\"\n",
            1,
        );
    })
    .await;
    let id = app.capture(app.signed_json(&ana())).await;
    app.drain().await;
    let lead = app.lead(&id).await;
    assert_eq!(lead.stage, Stage::Unassigned);
    let to_manager = app.emails_to("marta.klein@sales.example.com").await;
    assert_eq!(to_manager.len(), 1, "{to_manager:?}");
    assert!(to_manager[0].subject.starts_with("Unassigned lead"));
    assert!(app
        .emails_to("ana.ferreira@northwind-logistics.com")
        .await
        .is_empty());
}
