//! What a lead costs in billable AWS requests, counted by the fault proxy in front of moto
//! (it passes every request on and counts it by service and operation). The cost model in
//! docs/architecture.md is built from what this test prints (`-- --nocapture`).

use leadrelay_aws::queue::QueueName;

use crate::support::*;

/// The request budget per lead, email aside: capture, enrich, route and notify together. What
/// the pipeline makes today (2 + 3 + 3 + 4), so a change that adds a request fails here
/// (docs/architecture.md, "What a lead costs").
const BUDGET_PER_LEAD: f64 = 12.0;

/// Leads in the run: enough that per-lead figures are not one lead's accident, few enough
/// that each stage's event source takes them in one batch (ten messages), as it would.
const LEADS: usize = 5;

fn lead(i: usize) -> serde_json::Value {
    let mut l = ana();
    l["email"] = format!("buyer{i}@customer{i}-logistics.com").into();
    l["company"] = format!("Customer {i} Logistics").into();
    l["phone"] = format!("(415) 555-01{i:02}").into();
    l
}

/// The event source mapping's calls (receiving and deleting the batch): in AWS, Lambda's
/// pollers make them, billed per batch, not per lead. Here the local runner stands in.
fn is_event_source(op: &str) -> bool {
    matches!(
        op,
        "SQS.ReceiveMessage" | "SQS.DeleteMessageBatch" | "SQS.ChangeMessageVisibility"
    )
}

#[tokio::test]
async fn a_lead_costs_no_more_requests_than_its_budget_from_webhook_to_acknowledged_and_assigned() {
    let (app, proxy) = TestApp::behind_fault_proxy().await;
    let start = proxy.requests();
    let mut ids = Vec::new();
    for i in 0..LEADS {
        ids.push(app.capture(app.signed_json(&lead(i))).await);
    }
    let mut stages = vec![("capture", proxy.requests_since(&start))];
    for (function, queue) in [
        ("enrich", QueueName::Captured),
        ("route", QueueName::Scored),
        ("notify", QueueName::Notify),
    ] {
        let before = proxy.requests();
        while app.stack.poll(queue, 0).await.expect("poll") > 0 {}
        stages.push((function, proxy.requests_since(&before)));
    }
    for id in &ids {
        let lead = app.lead(id).await;
        assert!(lead.assignment.is_some(), "{id} has an owner");
    }
    assert_eq!(
        app.sent_emails().await.len(),
        2 * LEADS,
        "acknowledgement and assignment each"
    );

    let mut ours = 0u64;
    let mut report = String::from("| function | requests per lead |\n|---|---|\n");
    for (function, ops) in &stages {
        let line: Vec<String> = ops
            .iter()
            .map(|(op, n)| format!("{op} {:.1}", *n as f64 / LEADS as f64))
            .collect();
        report += &format!("| {function} | {} |\n", line.join(", "));
        ours += ops
            .iter()
            .filter(|(op, _)| !is_event_source(op) && !op.starts_with("SES."))
            .map(|(_, n)| n)
            .sum::<u64>();
    }
    let per_lead = ours as f64 / LEADS as f64;
    eprintln!("{report}\nper lead, excluding email and the event sources' receives: {per_lead:.1}");
    assert!(
        per_lead <= BUDGET_PER_LEAD,
        "{per_lead:.1} requests per lead, over the budget of {BUDGET_PER_LEAD}:\n{report}"
    );
}

/// A person's first submission is written without reading their keys first (the cost test
/// above). A repeat finds a key taken: the failed write's answer says whose it is, so the
/// repeat costs what it did when every submission read first, and nothing is read twice.
#[tokio::test]
async fn a_repeat_submission_learns_the_person_from_the_failed_write_and_reads_no_key() {
    let (app, proxy) = TestApp::behind_fault_proxy().await;
    let first = app.capture(app.signed_json(&lead(1))).await;
    let before = proxy.requests();
    let mut again = lead(1);
    again["message"] = "Still interested, please call".into();
    let (status, body) = app.send(app.signed_json(&again)).await;
    let ops = proxy.requests_since(&before);

    assert_eq!(status, http::StatusCode::OK, "{body}");
    assert_eq!(body["joined"], true, "{body}");
    assert_eq!(body["lead_id"], first.as_str(), "the person's open lead");
    assert_eq!(app.lead(&first).await.submissions, 2);
    assert_eq!(
        ops.get("DynamoDB.BatchGetItem"),
        None,
        "no read of the keys: {ops:?}"
    );
    assert_eq!(
        ops.get("DynamoDB.TransactWriteItems"),
        Some(&2),
        "the write as a first submission, refused, then the join: {ops:?}"
    );
    let total: u64 = ops.values().sum();
    assert!(
        total <= 4,
        "{total} requests for a repeat (a refused write, the open lead, the join, the message): {ops:?}"
    );
}
