use chrono::Duration;
use http::{Request, StatusCode};
use leadrelay_domain::clock::Clock;
use leadrelay_domain::lead::{EventKind, LeadStatus, Stage};
use serde_json::json;

use crate::support::*;

const CRM_TOKEN: &str = "local-crm-token";

fn status(lead_id: &str, token: &str, body: serde_json::Value) -> Request<Vec<u8>> {
    Request::post(format!("/v1/leads/{lead_id}/status"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap()
}

#[tokio::test]
async fn a_crm_moves_a_lead_through_its_lifecycle_and_every_move_is_on_the_timeline() {
    let app = TestApp::new().await;
    let id = app.routed_lead().await;
    app.clock.advance(Duration::minutes(4));
    let (s, b) = app
        .send(status(
            &id,
            CRM_TOKEN,
            json!({"status": "working", "actor": "hubspot"}),
        ))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["previous_status"], "new");
    let (s, b) = app
        .send(status(&id, CRM_TOKEN, json!({"status": "qualified"})))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = app
        .send(status(&id, CRM_TOKEN, json!({"status": "converted"})))
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    let lead = app.lead(&id).await;
    assert_eq!(lead.status, LeadStatus::Converted);
    let clock = lead.sla.as_ref().unwrap();
    assert!(!clock.is_open(), "contact through the CRM stops the clock");
    let changes: Vec<(String, Option<String>, Option<String>)> = app
        .stack
        .deps
        .store
        .timeline(&id)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == EventKind::StatusChanged)
        .map(|e| (e.actor, e.before, e.after))
        .collect();
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        changes,
        vec![
            ("crm:hubspot".into(), s("new"), s("working")),
            ("crm".into(), s("working"), s("qualified")),
            ("crm".into(), s("qualified"), s("converted")),
        ]
    );
    // Nothing escalates once the CRM recorded contact.
    app.clock.advance(Duration::hours(2));
    assert_eq!(app.stack.escalate().await.unwrap().due, 0);
}

#[tokio::test]
async fn illegal_or_unauthenticated_status_changes_are_refused_and_change_nothing() {
    let app = TestApp::new().await;
    let id = app.routed_lead().await;
    let cases = [
        (
            status(&id, "wrong-token", json!({"status": "working"})),
            StatusCode::UNAUTHORIZED,
        ),
        (
            status(&id, CRM_TOKEN, json!({"status": "converted"})),
            StatusCode::CONFLICT,
        ),
        (
            status(&id, CRM_TOKEN, json!({"status": "won"})),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            status(
                &id,
                CRM_TOKEN,
                json!({"status": "disqualified", "reason": "too_far"}),
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            status(&id, CRM_TOKEN, json!({"state": "working"})),
            StatusCode::BAD_REQUEST,
        ),
        (
            status(
                "01JNOSUCHLEAD0000000000000",
                CRM_TOKEN,
                json!({"status": "working"}),
            ),
            StatusCode::NOT_FOUND,
        ),
    ];
    for (req, want) in cases {
        let (got, body) = app.send(req).await;
        assert_eq!(got, want, "{body}");
        assert!(body["error"].is_string(), "{body}");
    }
    let lead = app.lead(&id).await;
    assert_eq!(lead.status, LeadStatus::New);
    assert!(lead.sla.unwrap().is_open());
}

#[tokio::test]
async fn a_nurtured_lead_resurfaces_at_its_recycle_date_with_decayed_intent_and_a_new_owner_round()
{
    let app = TestApp::new().await;
    let id = app.routed_lead().await;
    let first = app.lead(&id).await;
    let first_owner = first.assignment.clone().unwrap();
    for body in [
        json!({"status": "working"}),
        json!({"status": "nurture", "recycle_at": "2026-05-31"}),
    ] {
        let (s, b) = app.send(status(&id, CRM_TOKEN, body)).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    // Before the date: nothing.
    app.clock.set(t("2026-05-30T23:59:00Z"));
    assert_eq!(app.stack.escalate().await.unwrap().recycled, 0);
    app.clock.set(t("2026-05-31T00:01:00Z"));
    let r = app.stack.escalate().await.unwrap();
    assert_eq!(r.recycled, 1, "{r:?}");
    app.drain().await;

    let lead = app.lead(&id).await;
    assert_eq!(
        (lead.status, lead.stage, lead.round),
        (LeadStatus::New, Stage::Routed, 1)
    );
    let owner = lead.assignment.as_ref().unwrap();
    assert_eq!(
        lead.sla.as_ref().unwrap().started_at,
        app.clock.now(),
        "the new round's clock starts at the recycle"
    );
    // Three months on, intent has halved three times over (30-day half-life).
    let (then, now) = (first.score.unwrap(), lead.score.clone().unwrap());
    assert_eq!(now.fit, then.fit);
    assert!(
        now.intent * 6 < then.intent,
        "{} then, {} now",
        then.intent,
        now.intent
    );
    assert!(now.reasons.iter().any(|r| r.undecayed.is_some()));
    // History intact: the first round's events are all still there.
    let kinds = app.event_kinds(&id).await;
    assert_eq!(
        kinds.iter().filter(|k| **k == EventKind::Routed).count(),
        2,
        "{kinds:?}"
    );
    assert!(kinds.contains(&EventKind::Recycled));
    // The new round's owner hears of it; the person gets no second acknowledgement.
    let to_owner = app.emails_to(&owner.owner_email).await;
    let expected = if owner.owner_id == first_owner.owner_id {
        2
    } else {
        1
    };
    assert_eq!(to_owner.len(), expected, "{to_owner:?}");
    assert_eq!(
        app.emails_to("ana.ferreira@northwind-logistics.com")
            .await
            .len(),
        1
    );
    // And it is not recycled twice.
    app.clock.advance(Duration::days(1));
    assert_eq!(app.stack.escalate().await.unwrap().recycled, 0);
}
