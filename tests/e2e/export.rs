//! The export (`leadrelay leads`): a lead the pipeline carried, as its JSON line, and the
//! period read by arrival through the `leads-by-day` index.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Duration;
use leadrelay_cli::export::{lines, Selection};
use leadrelay_domain::Clock;
use serde_json::Value;

use crate::support::{ana, t, TestApp};

fn period(since: &str, until: &str) -> Selection {
    Selection {
        since: Some(t(since)),
        until: t(until),
        ..Selection::default()
    }
}

async fn exported(app: &TestApp, selection: &Selection) -> Vec<Value> {
    lines(&app.stack.deps.store, selection, app.clock.now())
        .await
        .unwrap()
        .into_iter()
        .map(|l| serde_json::to_value(l).unwrap())
        .collect()
}

fn ids(lines: &[Value]) -> Vec<&str> {
    lines
        .iter()
        .map(|l| l["lead_id"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn the_line_of_a_lead_the_pipeline_carried_and_its_owner_contacted_has_its_class_score_owner_and_times(
) {
    let app = TestApp::new().await;
    let id = app.routed_lead_worked_after(Duration::minutes(3)).await;
    let lead = app.lead(&id).await;
    let score = lead.score.clone().expect("scored");
    let owner = lead.assignment.clone().expect("routed");

    let all = exported(
        &app,
        &period("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"),
    )
    .await;
    assert_eq!(ids(&all), [id.as_str()]);
    let line = &all[0];
    assert_eq!(line["schema_version"], 2);
    assert_eq!(line["status"], "working");
    assert_eq!(line["email"], "ana.ferreira@northwind-logistics.com");
    assert_eq!(line["email_class"], "corporate");
    assert_eq!(line["email_role"], false);
    assert_eq!(line["score"], score.points);
    assert_eq!(line["tier"], score.tier.as_str());
    assert_eq!(line["grade"], serde_json::to_value(&score.grade).unwrap());
    assert!(line["grade"].is_string(), "the local model grades: {line}");
    let reasons = line["score_reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), score.reasons.len());
    assert!(!reasons.is_empty());
    assert_eq!(reasons[0]["reason"], score.reasons[0].reason.as_str());
    assert_eq!(line["owner"], owner.owner_id.as_str());
    assert_eq!(line["team"], owner.team.as_str());
    // The manual clock stood still through the pipeline: acknowledged and assigned at arrival;
    // the CRM's status change three minutes later was the first contact, inside the SLA.
    assert_eq!(line["received_at"], "2026-03-02T10:00:00Z");
    assert_eq!(line["acknowledged_at"], "2026-03-02T10:00:00Z");
    assert_eq!(line["assigned_at"], "2026-03-02T10:00:00Z");
    assert_eq!(line["first_contact_at"], "2026-03-02T10:03:00Z");
    let due = lead.sla.as_ref().unwrap().due_at;
    assert_eq!(line["sla_due_at"], serde_json::to_value(due).unwrap());
    assert!(due > t("2026-03-02T10:03:00Z"));
    assert_eq!(line["sla_status"], "met");
    assert_eq!(line["exported_at"], "2026-03-02T10:03:00Z");
}

#[tokio::test]
async fn a_lead_nobody_contacted_by_its_due_time_is_breached_at_export() {
    let app = TestApp::new().await;
    let id = app.routed_lead().await;
    let due = app.lead(&id).await.sla.unwrap().due_at;
    app.clock.set(due + Duration::seconds(1));
    let all = exported(
        &app,
        &period("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"),
    )
    .await;
    assert_eq!(all[0]["sla_status"], "breached");
    assert!(all[0]["first_contact_at"].is_null());
}

#[tokio::test]
async fn a_period_selects_leads_by_arrival_through_the_index_and_a_scan_finds_leads_stored_before_it(
) {
    let app = TestApp::new().await;
    let capture_at = |at: &str, email: &str| {
        app.clock.set(t(at));
        // Another person each (no phone: the same one would join them into one lead).
        let mut body = ana();
        body["email"] = email.into();
        body.as_object_mut().unwrap().remove("phone");
        app.capture(app.signed_json(&body))
    };
    let before = capture_at("2026-03-01T23:59:59.999Z", "before@northwind-logistics.com").await;
    let first = capture_at("2026-03-02T00:00:00Z", "first@northwind-logistics.com").await;
    let late = capture_at("2026-03-03T22:30:00Z", "late@northwind-logistics.com").await;
    let at_end = capture_at("2026-03-04T00:00:00Z", "end@northwind-logistics.com").await;

    // [since, until): a lead at exactly `since` is in, one at exactly `until` is out, and
    // the days between (2026-03-02 had one lead, 03-03 one) are read one by one.
    let window = exported(
        &app,
        &period("2026-03-02T00:00:00Z", "2026-03-04T00:00:00Z"),
    )
    .await;
    assert_eq!(ids(&window), [first.as_str(), late.as_str()]);
    let tail = exported(
        &app,
        &period("2026-03-03T22:30:00.001Z", "2026-03-05T00:00:00Z"),
    )
    .await;
    assert_eq!(ids(&tail), [at_end.as_str()]);
    let mut all = period("2026-03-01T00:00:00Z", "2026-03-05T00:00:00Z");
    assert_eq!(exported(&app, &all).await.len(), 4);
    all.source = Some("form".into());
    assert!(
        exported(&app, &all).await.is_empty(),
        "none came through form"
    );

    // A lead stored before the index existed carries no arrival keys: the index does not
    // see it, a scan of the table does.
    let store = &app.stack.deps.store;
    store
        .client()
        .update_item()
        .table_name(store.table())
        .key("pk", AttributeValue::S(format!("LEAD#{before}")))
        .key("sk", AttributeValue::S("LEAD".into()))
        .update_expression("REMOVE received_day, received_key")
        .send()
        .await
        .unwrap();
    let mut old = period("2026-03-01T00:00:00Z", "2026-03-03T00:00:00Z");
    assert_eq!(ids(&exported(&app, &old).await), [first.as_str()]);
    old.scan = true;
    assert_eq!(
        ids(&exported(&app, &old).await),
        [before.as_str(), first.as_str()]
    );
    // Without a period: every lead, from the table.
    let everything = Selection {
        until: app.clock.now(),
        ..Selection::default()
    };
    assert_eq!(
        ids(&exported(&app, &everything).await),
        [
            before.as_str(),
            first.as_str(),
            late.as_str(),
            at_end.as_str()
        ]
    );
}
