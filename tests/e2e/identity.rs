use http::StatusCode;
use leadrelay_domain::clock::Clock;
use leadrelay_domain::lead::{EventKind, LeadStatus};

use crate::support::*;

/// Ana again, a few days later: another address form, a new question.
fn ana_again() -> serde_json::Value {
    serde_json::json!({
        "email": "ana.ferreira+pricing@northwind-logistics.com",
        "first_name": "Ana",
        "message": "And what is your pricing for 40 users?",
        "landing_page": "https://www.acme-robotics.io/pricing?utm_source=newsletter&utm_campaign=may",
    })
}

#[tokio::test]
async fn a_returning_person_joins_their_open_lead_keeping_the_owner_and_getting_no_second_acknowledgement(
) {
    let app = TestApp::new().await;
    let id = app.capture(app.signed_json(&ana())).await;
    app.drain().await;
    let first = app.lead(&id).await;
    let owner = first.assignment.clone().unwrap();

    app.clock.advance(chrono::Duration::days(3));
    let (status, body) = app.send(app.signed_json(&ana_again())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["lead_id"],
        id.as_str(),
        "the answer carries the open lead"
    );
    assert_eq!(body["joined"], true);
    app.drain().await;

    let lead = app.lead(&id).await;
    assert_eq!(lead.submissions, 2);
    assert_eq!(lead.last_submitted_at, Some(app.clock.now()));
    // First touch the ad click, last touch the newsletter.
    let source = |t: Option<&leadrelay_domain::attribution::Touch>| {
        t.and_then(|t| t.utm.get("source").cloned())
    };
    assert_eq!(source(lead.first_touch()).as_deref(), Some("google"));
    assert_eq!(source(lead.last_touch()).as_deref(), Some("newsletter"));
    assert_eq!(lead.assignment.as_ref().unwrap().owner_id, owner.owner_id);
    let score = lead.score.as_ref().unwrap();
    let reasons: Vec<String> = score.reasons.iter().map(|r| r.to_string()).collect();
    assert!(
        reasons.contains(&"+15 submitted more than once".to_string()),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"+20 asked about pricing".to_string()),
        "{reasons:?}"
    );
    assert!(score.intent > first.score.as_ref().unwrap().intent);
    let kinds = app.event_kinds(&id).await;
    assert!(kinds.contains(&EventKind::Resubmitted), "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| **k == EventKind::Routed).count(),
        1,
        "routed once: {kinds:?}"
    );
    assert_eq!(
        app.emails_to("ana.ferreira@northwind-logistics.com")
            .await
            .len(),
        1,
        "one acknowledgement"
    );
    assert_eq!(app.emails_to(&owner.owner_email).await.len(), 1);
    assert_eq!(app.items_with_entity("lead").await, 1);
    assert_eq!(
        app.items_with_entity("delivery").await,
        2,
        "both deliveries kept"
    );
}

#[tokio::test]
async fn a_repeat_submission_sent_twice_joins_once() {
    let app = TestApp::new().await;
    let id = app.capture(app.signed_json(&ana())).await;
    app.drain().await;
    let (s1, b1) = app.send(app.signed_json(&ana_again())).await;
    let (s2, b2) = app.send(app.signed_json(&ana_again())).await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK), "{b1} {b2}");
    assert_eq!(b1["lead_id"], id.as_str());
    assert_eq!(b2["lead_id"], id.as_str());
    assert_eq!(b2["duplicate"], true);
    app.drain().await;
    assert_eq!(app.lead(&id).await.submissions, 2);
}

#[tokio::test]
async fn after_the_window_the_same_person_gets_a_new_lead_linked_to_them() {
    let app = TestApp::new().await;
    let first = app.capture(app.signed_json(&ana())).await;
    app.drain().await;
    app.clock.advance(chrono::Duration::days(31));
    let second = app.capture(app.signed_json(&ana_again())).await;
    app.drain().await;
    assert_ne!(first, second);
    let (a, b) = (app.lead(&first).await, app.lead(&second).await);
    assert!(a.person_id.is_some());
    assert_eq!(a.person_id, b.person_id, "linked to the same person");
    let source = |t: Option<&leadrelay_domain::attribution::Touch>| {
        t.and_then(|t| t.utm.get("source").cloned())
    };
    assert_eq!(
        source(b.first_touch()).as_deref(),
        Some("google"),
        "the person's first touch"
    );
    assert_eq!(source(b.last_touch()).as_deref(), Some("newsletter"));
    assert_eq!(b.submissions, 1);
    assert_eq!(
        app.emails_to("ana.ferreira+pricing@northwind-logistics.com")
            .await
            .len(),
        1,
        "a new lead is acknowledged"
    );
}

#[tokio::test]
async fn a_person_whose_lead_was_closed_starts_a_new_one() {
    let app = TestApp::new().await;
    let first = app.capture(app.signed_json(&ana())).await;
    app.drain().await;
    app.stack
        .deps
        .store
        .modify_lead(&first, |l| {
            l.status = LeadStatus::Converted;
            leadrelay_aws::store::Change::Save(vec![], ())
        })
        .await
        .unwrap();
    let second = app.capture(app.signed_json(&ana_again())).await;
    assert_ne!(first, second);
}

#[tokio::test]
async fn the_same_phone_is_the_same_person() {
    let app = TestApp::new().await;
    let first = app.capture(app.signed_json(&ana())).await;
    app.drain().await;
    let by_phone = serde_json::json!({
        "first_name": "Ana",
        "phone": "+1 415 555 2671",
        "message": "Call me back please",
    });
    let (status, body) = app.send(app.signed_json(&by_phone)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["lead_id"], first.as_str());
}

#[tokio::test]
async fn spam_never_joins_a_real_lead() {
    let app = TestApp::new().await;
    let first = app
        .capture(app.form(
            "full_name=Hannah+Schmidt&email=hannah%40schmidt-lager.de&message=Hallo&website=",
        ))
        .await;
    app.drain().await;
    let bot = app
        .capture(app.form("full_name=Hannah+Schmidt&email=hannah%40schmidt-lager.de&message=buy+now&website=http%3A%2F%2Fspam.example"))
        .await;
    assert_ne!(first, bot);
    assert_eq!(app.lead(&first).await.submissions, 1);
}
