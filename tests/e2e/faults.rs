//! Faults moto cannot produce, injected by the fault proxy in front of it (`fault_proxy`), and
//! floods of concurrent deliveries. Each test ends with every lead present, routed to an owner,
//! acknowledged once and its owner told once.
//!
//! The stacks here retry a failed message at the next receive (no 2 s wait), so a drain drives
//! every retry and the dead-letter redrive without sleeping.

use std::collections::BTreeMap;
use std::time::Instant;

use futures::StreamExt;
use http::StatusCode;
use leadrelay_aws::dead_letter::{self, ReplayMethod, Replayed};
use leadrelay_aws::queue::QueueName;
use leadrelay_domain::lead::Stage;

use crate::fault_proxy::Reply;
use crate::support::*;

/// A distinct person's signed JSON lead.
fn person(n: usize) -> serde_json::Value {
    serde_json::json!({
        "email": format!("person{n}@northwind-logistics.com"),
        "full_name": format!("Person {n}"),
        "company": "Northwind Logistics",
        "job_title": "Head of Operations",
        "message": "Please call me about a demo.",
    })
}

fn address(n: usize) -> String {
    format!("person{n}@northwind-logistics.com")
}

/// Every lead routed to an owner, with its acknowledgement and its owner's assignment each
/// recorded sent, and moto having taken exactly one email to each lead and one assignment per
/// lead: two emails a lead in all.
async fn assert_each_lead_owned_acknowledged_and_assigned_once(
    app: &TestApp,
    leads: &[(String, String)],
) {
    for (id, _) in leads {
        let lead = app.lead(id).await;
        assert_eq!(lead.stage, Stage::Routed, "lead {id}");
        assert!(lead.assignment.is_some(), "lead {id} has an owner");
        let emails = app.stack.deps.store.emails(id).await.unwrap();
        for kind in ["acknowledgement", "assignment"] {
            let sent: Vec<_> = emails
                .iter()
                .filter(|e| e.kind == kind && e.state == "sent")
                .collect();
            assert_eq!(sent.len(), 1, "lead {id}: {kind}: {emails:?}");
        }
    }
    let sent = app.sent_emails().await;
    let mut to: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &sent {
        for a in &e.to {
            *to.entry(a.as_str()).or_default() += 1;
        }
    }
    for (id, addr) in leads {
        assert_eq!(
            to.get(addr.as_str()).copied(),
            Some(1),
            "lead {id}: one acknowledgement to {addr}"
        );
    }
    assert_eq!(
        sent.len(),
        2 * leads.len(),
        "an acknowledgement and an assignment a lead"
    );
}

/// Captures person `n`; a 503 is retried once by the "sender", as platforms do.
async fn capture_person(app: &TestApp, n: usize) -> (String, String) {
    let (status, body) = app.send(app.signed_json(&person(n))).await;
    let (status, body) = if status == StatusCode::SERVICE_UNAVAILABLE {
        app.send(app.signed_json(&person(n))).await
    } else {
        (status, body)
    };
    assert!(status.is_success(), "{status} {body}");
    let id = body["lead_id"].as_str().expect("lead_id").to_owned();
    (id, address(n))
}

#[tokio::test]
async fn dynamodb_throttling_during_capture_and_routing_delays_leads_but_loses_none() {
    let (app, proxy) = TestApp::behind_fault_proxy().await;
    // Capture's transaction throttled past the SDK's own retries: the sender is told 503 and
    // retries; the retry stores the lead.
    let capture_fault = proxy
        .fail("TransactWriteItems")
        .times(3)
        .with(Reply::throughput_exceeded());
    let (status, body) = app.send(app.signed_json(&person(1))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(capture_fault.served(), 3);
    let mut leads = vec![capture_person(&app, 1).await];
    leads.push(capture_person(&app, 2).await);

    // Then reads and writes throttled while enrich, route and notify run: the leads' reads
    // and the transactions (scores, assignments with rotations, email claims, emails recorded
    // sent with their events) past the SDK's three attempts, so messages fail and come back.
    let faults = [
        proxy
            .fail("GetItem")
            .times(4)
            .with(Reply::throughput_exceeded()),
        proxy
            .fail("TransactWriteItems")
            .times(4)
            .with(Reply::throughput_exceeded()),
    ];
    app.drain().await;
    for f in &faults {
        assert!(f.served() > 0, "each fault was met");
    }
    assert_each_lead_owned_acknowledged_and_assigned_once(&app, &leads).await;
}

#[tokio::test]
async fn sqs_throttling_of_captures_send_is_recovered_by_the_sweep_without_a_sender_retry() {
    let (app, proxy) = TestApp::behind_fault_proxy().await;
    let throttled = proxy
        .fail("SendMessage")
        .times(3)
        .with(Reply::sqs_throttling());
    // The lead is durable, so the sender is told so; its message could not be queued.
    let (status, body) = app.send(app.signed_json(&person(1))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(throttled.served(), 3, "the SDK tried three times");
    let id = body["lead_id"].as_str().expect("lead_id").to_owned();
    app.drain().await;
    assert_eq!(app.lead(&id).await.stage, Stage::Captured);
    // The escalation pass after the sweep's grace sends it on.
    app.clock.advance(chrono::Duration::minutes(3));
    assert_eq!(app.stack.escalate().await.unwrap().resent, 1);
    app.drain().await;
    assert_each_lead_owned_acknowledged_and_assigned_once(&app, &[(id, address(1))]).await;
}

/// Capture's write of a person's submission: the redelivery key, the lead, its event, the
/// delivery, then the person's key (one: `person` has an email and no phone).
const CAPTURE_WRITES: usize = 5;
const PERSON_KEY: usize = 4;

/// Two first submissions of one person racing: on DynamoDB the later one's write is usually
/// cancelled for the transaction in flight (`TransactionConflict`, no item to learn from), so
/// capture reads the person's keys after a pause and decides again.
#[tokio::test]
async fn a_transaction_conflict_on_captures_write_is_decided_again_on_what_is_read() {
    let (app, proxy) = TestApp::behind_fault_proxy().await;
    let conflict = proxy
        .fail("TransactWriteItems")
        .times(1)
        .with(Reply::transaction_conflict(CAPTURE_WRITES, PERSON_KEY));
    let before = proxy.requests();
    let leads = vec![capture_person(&app, 1).await];
    assert_eq!(conflict.served(), 1);
    assert_eq!(
        proxy.requests_since(&before).get("DynamoDB.BatchGetItem"),
        Some(&1),
        "the keys read once, after the conflict"
    );
    app.drain().await;
    assert_each_lead_owned_acknowledged_and_assigned_once(&app, &leads).await;
}

/// A taken key whose refusal carries no item (DynamoDB always returns it when asked; this is
/// the path if it ever did not): capture cannot tell whose the key is, so it reads the keys and
/// joins the person's open lead.
#[tokio::test]
async fn a_taken_key_refused_without_its_item_is_decided_again_on_what_is_read() {
    let (app, proxy) = TestApp::behind_fault_proxy().await;
    let (id, address) = capture_person(&app, 1).await;
    let refused =
        proxy
            .fail("TransactWriteItems")
            .times(1)
            .with(Reply::transaction_condition_failed(
                CAPTURE_WRITES,
                PERSON_KEY,
            ));
    let before = proxy.requests();
    let mut again = person(1);
    again["message"] = "Following up on my request".into();
    let (status, body) = app.send(app.signed_json(&again)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["joined"], true, "{body}");
    assert_eq!(body["lead_id"], id.as_str());
    assert_eq!(refused.served(), 1);
    assert_eq!(
        proxy.requests_since(&before).get("DynamoDB.BatchGetItem"),
        Some(&1),
        "the keys read once, after the refusal"
    );
    app.drain().await;
    assert_eq!(app.lead(&id).await.submissions, 2);
    assert_each_lead_owned_acknowledged_and_assigned_once(&app, &[(id, address)]).await;
}

#[tokio::test]
async fn a_transaction_conflict_on_the_routing_transaction_is_decided_again() {
    let (app, proxy) = TestApp::behind_fault_proxy().await;
    let leads = vec![capture_person(&app, 1).await];
    // Enrich only: the next transaction is route's (assignment and rotation).
    assert_eq!(app.stack.poll(QueueName::Captured, 0).await.unwrap(), 1);
    let conflict = proxy
        .fail("TransactWriteItems")
        .times(2)
        .with(Reply::transaction_conflict(2, 1));
    app.drain().await;
    assert_eq!(conflict.served(), 2);
    assert_each_lead_owned_acknowledged_and_assigned_once(&app, &leads).await;
    let lead = app.lead(&leads[0].0).await;
    assert_eq!(lead.round, 0, "one assignment, no reassignment");
}

#[tokio::test]
async fn a_lead_saved_by_someone_else_while_its_emails_go_out_keeps_each_email_once_and_ends_notified(
) {
    let (app, proxy) = TestApp::behind_fault_proxy().await;
    let leads = vec![capture_person(&app, 1).await];
    assert_eq!(app.stack.poll(QueueName::Captured, 0).await.unwrap(), 1);
    assert_eq!(app.stack.poll(QueueName::Scored, 0).await.unwrap(), 1);
    // The acknowledgement's record would save the lead with it; DynamoDB answers that the lead
    // changed since notify read it (a contact recorded, a CRM update). The record is written
    // without the lead's change, and the assignment's record then meets the lead's real newer
    // version too: the round is marked notified on the lead as stored.
    let moved = proxy
        .fail("TransactWriteItems")
        .where_body_contains(":mid")
        .times(1)
        .with(Reply::transaction_condition_failed(3, 0));
    app.drain().await;
    assert_eq!(moved.served(), 1);
    assert_each_lead_owned_acknowledged_and_assigned_once(&app, &leads).await;
    let lead = app.lead(&leads[0].0).await;
    assert!(lead.notified, "the round ends notified");
    assert!(
        lead.acknowledged_at.is_some(),
        "the acknowledgement's time is on the lead"
    );
    let emails = app.stack.deps.store.emails(&lead.lead_id).await.unwrap();
    assert!(
        emails.iter().all(|e| e.state == "sent"),
        "both emails recorded sent: {emails:?}"
    );
    assert_eq!(emails.len(), 2);
}

#[tokio::test]
async fn ses_throttling_delays_the_emails_and_each_is_sent_once() {
    let (app, proxy) = TestApp::behind_fault_proxy().await;
    let leads = vec![capture_person(&app, 1).await, capture_person(&app, 2).await];
    // More throttles than the SDK retries in one call: notify's message fails and comes back.
    let throttled = proxy
        .fail("SendEmail")
        .times(5)
        .with(Reply::ses_throttling());
    app.drain().await;
    assert_eq!(throttled.served(), 5);
    assert_each_lead_owned_acknowledged_and_assigned_once(&app, &leads).await;
}

#[tokio::test]
async fn a_poison_message_goes_to_the_dead_letter_queue_and_replay_completes_its_lead() {
    let (app, proxy) = TestApp::behind_fault_proxy().await;
    let poison = capture_person(&app, 1).await;
    let others = vec![capture_person(&app, 2).await, capture_person(&app, 3).await];
    // Every read of the poison lead fails, however often it is tried.
    let unreadable = proxy
        .fail("GetItem")
        .where_body_contains(&poison.0)
        .with(Reply::dynamodb_internal_error());
    app.drain().await;

    // The others went all the way; the poison lead stopped at capture, its message dead-lettered
    // after the redrive policy's 5 receives.
    assert_each_lead_owned_acknowledged_and_assigned_once(&app, &others).await;
    assert!(unreadable.served() >= 5, "{}", unreadable.served());
    let dlqs = &app.stack.dead_letter;
    let sqs = app.stack.deps.queues.client();
    let letters = dead_letter::list(sqs, dlqs, QueueName::Captured)
        .await
        .unwrap();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0].lead_id.as_deref(), Some(poison.0.as_str()));
    assert!(letters[0].receive_count >= 5, "{letters:?}");
    assert!(letters[0].sent_at.is_some() && letters[0].first_received_at.is_some());
    // Listing takes nothing out.
    assert_eq!(
        dead_letter::list(sqs, dlqs, QueueName::Captured)
            .await
            .unwrap()
            .len(),
        1
    );

    // The fault is fixed; the operator replays the dead-letter queue (the emulator has no move
    // task: the replay finds that out and moves the message itself).
    unreadable.lift();
    assert_eq!(app.lead(&poison.0).await.stage, Stage::Captured);
    let replayed = dead_letter::replay(
        &app.stack.deps.queues,
        dlqs,
        QueueName::Captured,
        ReplayMethod::Auto,
    )
    .await
    .unwrap();
    assert_eq!(replayed, Replayed::Moved { messages: 1 });
    assert!(dead_letter::list(sqs, dlqs, QueueName::Captured)
        .await
        .unwrap()
        .is_empty());
    app.drain().await;
    let all: Vec<_> = others.into_iter().chain([poison]).collect();
    assert_each_lead_owned_acknowledged_and_assigned_once(&app, &all).await;
}

#[tokio::test]
async fn two_hundred_identical_concurrent_deliveries_make_one_lead_and_one_acknowledgement() {
    let app = TestApp::with_immediate_retries().await;
    let started = Instant::now();
    let answers =
        futures::future::join_all((0..200).map(|_| app.send(app.signed_json(&person(1))))).await;
    let captured = started.elapsed();
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for (status, _) in &answers {
        *by_status.entry(status.as_u16()).or_default() += 1;
    }
    assert_eq!(
        by_status,
        BTreeMap::from([(201, 1), (200, 199)]),
        "one lead made, 199 redeliveries recognised"
    );
    let ids: std::collections::BTreeSet<&str> = answers
        .iter()
        .filter_map(|(_, b)| b["lead_id"].as_str())
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    app.drain().await;
    let id = ids.into_iter().next().unwrap().to_owned();
    assert_each_lead_owned_acknowledged_and_assigned_once(&app, &[(id, address(1))]).await;
    eprintln!(
        "200 identical deliveries: captured in {captured:?}, all done in {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn five_hundred_distinct_concurrent_deliveries_make_five_hundred_owned_acknowledged_leads() {
    let app = TestApp::with_immediate_retries().await;
    let started = Instant::now();
    let answers: Vec<(usize, StatusCode, serde_json::Value)> = futures::stream::iter(0..500)
        .map(|n| {
            let app = &app;
            async move {
                let (status, body) = app.send(app.signed_json(&person(n))).await;
                (n, status, body)
            }
        })
        .buffer_unordered(100)
        .collect()
        .await;
    let captured = started.elapsed();
    let mut leads = Vec::new();
    for (n, status, body) in answers {
        assert_eq!(status, StatusCode::CREATED, "person {n}: {body}");
        leads.push((body["lead_id"].as_str().unwrap().to_owned(), address(n)));
    }
    app.drain().await;
    let drained = started.elapsed();
    assert_each_lead_owned_acknowledged_and_assigned_once(&app, &leads).await;
    eprintln!(
        "500 distinct deliveries: captured in {captured:?}, drained at {drained:?}, checked at {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_emulator_outage_mid_flow_loses_no_lead_and_sends_no_email_twice() {
    let (app, proxy) = TestApp::behind_fault_proxy().await;
    let first = capture_person(&app, 1).await;
    // The first lead is scored; then the emulator goes down before it is routed.
    app.stack.poll(QueueName::Captured, 0).await.unwrap();
    let outage = proxy.go_down();
    let (status, body) = app.send(app.signed_json(&person(2))).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(
        app.stack.drain().await.is_err(),
        "the pollers see the outage and give up this round"
    );
    assert!(app.stack.escalate().await.is_err());
    outage.lift();
    // The emulator is back: the sender's retry stores the second lead, and the pipeline and
    // the schedule carry on where they stopped.
    let second = capture_person(&app, 2).await;
    app.drain().await;
    app.clock.advance(chrono::Duration::minutes(3));
    app.stack.escalate().await.unwrap();
    app.drain().await;
    assert!(outage.served() > 0);
    assert_each_lead_owned_acknowledged_and_assigned_once(&app, &[first, second]).await;
}

#[tokio::test]
async fn escalation_goes_on_when_the_sla_shards_record_cannot_be_read_or_written() {
    let (app, proxy) = TestApp::behind_fault_proxy().await;
    let id = app.routed_lead().await;
    let due = app.lead(&id).await.sla.unwrap().next_at.unwrap();
    app.clock.set(due);
    crate::escalation::forget_the_shards_record(&app).await;
    // The record's read throttled past the SDK's attempts: the configured shards are read.
    let unread = proxy
        .fail("GetItem")
        .where_body_contains("INDEX#sla-open")
        .times(3)
        .with(Reply::throughput_exceeded());
    let r = app.stack.escalate().await.unwrap();
    assert_eq!(unread.served(), 3);
    assert_eq!(r.reminded, 1, "the lead is reminded all the same: {r:?}");
    unread.lift();

    // Its first save (none was kept) throttled: the pass goes on, the next one saves it.
    let unsaved = proxy
        .fail("TransactWriteItems")
        .where_body_contains("INDEX#sla-open")
        .times(3)
        .with(Reply::throughput_exceeded());
    assert_eq!(app.stack.escalate().await.unwrap().due, 0);
    assert_eq!(unsaved.served(), 3);
    unsaved.lift();
    assert_eq!(app.stack.deps.store.sla_shard_record().await.unwrap(), None);
    app.stack.escalate().await.unwrap();
    let record = app
        .stack
        .deps
        .store
        .sla_shard_record()
        .await
        .unwrap()
        .unwrap();
    // A table without a record: every shard is read through the first hour.
    assert_eq!(
        (record.widest, record.narrowed_to),
        (leadrelay_domain::sla_shards::MAX_SHARDS, Some(8))
    );
}
