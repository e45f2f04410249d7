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

/// The size DynamoDB counts for an item: attribute names and values, nested ones included.
fn item_bytes(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> usize {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    fn value(v: &A) -> usize {
        match v {
            A::S(s) | A::N(s) => s.len(),
            A::Bool(_) | A::Null(_) => 1,
            A::L(l) => 3 + l.iter().map(|v| 1 + value(v)).sum::<usize>(),
            A::M(m) => 3 + m.iter().map(|(k, v)| 1 + k.len() + value(v)).sum::<usize>(),
            A::Ss(l) | A::Ns(l) => l.iter().map(String::len).sum(),
            other => format!("{other:?}").len(),
        }
    }
    item.iter().map(|(k, v)| k.len() + value(v)).sum()
}

/// One person posting 50 large submissions (each near the body limit) while their lead is open:
/// one lead, every submission counted, and the lead item stays under its documented size.
#[tokio::test]
async fn fifty_large_repeat_submissions_leave_one_lead_under_the_documented_item_size() {
    use leadrelay_domain::bounds::MAX_LEAD_ITEM_BYTES;
    use leadrelay_domain::intake::{
        MAX_BODY_BYTES, MAX_FIELDS, MAX_FIELD_CHARS, MAX_MESSAGE_CHARS,
    };
    let app = TestApp::new().await;
    let large = |n: usize| {
        let mut body = serde_json::Map::new();
        body.insert(
            "email".into(),
            "ana.ferreira@northwind-logistics.com".into(),
        );
        body.insert(
            "message".into(),
            format!("Submission {n}: {}", "é".repeat(MAX_MESSAGE_CHARS - 20)).into(),
        );
        for i in 0..MAX_FIELDS - 2 {
            body.insert(
                format!("submission {n:02} question {i:03}"),
                format!("{n}:{i}:{}", "x".repeat(MAX_FIELD_CHARS - 10)).into(),
            );
        }
        let json = serde_json::Value::Object(body);
        let size = serde_json::to_vec(&json).unwrap().len();
        assert!(
            size > MAX_BODY_BYTES * 3 / 4 && size <= MAX_BODY_BYTES,
            "near the body limit: {size}"
        );
        json
    };
    let id = app.capture(app.signed_json(&large(0))).await;
    for n in 1..50 {
        app.clock.advance(chrono::Duration::minutes(1));
        let (status, body) = app.send(app.signed_json(&large(n))).await;
        assert_eq!(status, StatusCode::OK, "submission {n}: {body}");
        assert_eq!(body["joined"], true, "submission {n}: {body}");
        assert_eq!(body["lead_id"], id.as_str());
    }
    app.drain().await;

    // The deliveries are large: read the table page by page (the harness's scan reads one).
    let mut entities = std::collections::BTreeMap::<String, usize>::new();
    let mut lead_item = None;
    let mut start = None;
    loop {
        let page = app
            .stack
            .deps
            .store
            .client()
            .scan()
            .table_name(app.stack.deps.store.table())
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap();
        for item in page.items() {
            let entity = item
                .get("entity")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            if entity == "lead" {
                lead_item = Some(item.clone());
            }
            *entities.entry(entity).or_default() += 1;
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    assert_eq!(entities.get("lead"), Some(&1), "one lead: {entities:?}");
    assert_eq!(
        entities.get("delivery"),
        Some(&50),
        "each submission's raw delivery kept whole, for replay"
    );
    let lead = app.lead(&id).await;
    assert_eq!(lead.submissions, 50, "every submission counted");
    let message = lead.fields.message.as_deref().unwrap();
    assert!(
        message.starts_with("Submission 49:"),
        "the newest text is kept"
    );
    assert!(lead.attributes.contains_key("attributes_left_out"));
    let json_size = serde_json::to_vec(&lead).unwrap().len();
    assert!(json_size < MAX_LEAD_ITEM_BYTES, "{json_size} bytes");
    let stored = item_bytes(&lead_item.unwrap());
    assert!(stored < MAX_LEAD_ITEM_BYTES, "{stored} bytes stored");
}

/// A person's first submissions are written without reading their keys first; when several
/// arrive at once, still one makes the lead, every other joins it, and the person is
/// acknowledged once.
#[tokio::test]
async fn ten_first_submissions_of_one_person_at_once_make_one_lead_the_others_join() {
    let app = TestApp::new().await;
    let submissions = (0..10).map(|i| {
        let mut s = ana();
        s["message"] = format!("Question number {i}").into();
        app.send(app.signed_json(&s))
    });
    let answers = futures::future::join_all(submissions).await;

    let created: Vec<&serde_json::Value> = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::CREATED)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(created.len(), 1, "one lead made: {answers:?}");
    let id = created[0]["lead_id"].as_str().unwrap();
    for (status, body) in &answers {
        assert!(
            *status == StatusCode::CREATED || body["joined"] == true,
            "{status} {body}"
        );
        assert_eq!(body["lead_id"], id, "{body}");
    }
    app.drain().await;
    assert_eq!(app.lead(id).await.submissions, 10);
    assert_eq!(app.items_with_entity("lead").await, 1);
    assert_eq!(
        app.emails_to("ana.ferreira@northwind-logistics.com")
            .await
            .len(),
        1,
        "one acknowledgement"
    );
}
