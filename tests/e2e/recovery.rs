//! Leads that stop moving are found and moved on: the sweep in the escalation pass, parking of
//! permanent failures, the send/record window of an email, stale escalation messages.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use leadrelay_aws::queue::{NotifyMessage, QueueName, Queues};
use leadrelay_aws::sweep;
use leadrelay_aws::Deps;
use leadrelay_domain::clock::Clock;
use leadrelay_domain::emails::EmailKind;
use leadrelay_domain::lead::{EventKind, Stage};
use leadrelay_domain::sweep::Step;

use crate::support::{ana, TestApp};

const ANA: &str = "ana.ferreira@northwind-logistics.com";

/// The app's dependencies with the captured queue gone: every send to it fails.
fn without_captured_queue(app: &TestApp) -> Deps {
    let mut broken = app.stack.deps.clone();
    let q = &app.stack.deps.queues;
    broken.queues = Queues::new(
        q.client().clone(),
        format!("{}-gone", q.url(QueueName::Captured)),
        q.url(QueueName::Scored).to_owned(),
        q.url(QueueName::Notify).to_owned(),
    );
    broken
}

fn minutes(n: i64) -> chrono::Duration {
    chrono::Duration::minutes(n)
}

#[tokio::test]
async fn a_lead_stored_while_its_queue_was_down_is_acknowledged_within_grace_and_one_sweep_without_a_sender_retry(
) {
    let app = TestApp::new().await;
    let broken = without_captured_queue(&app);
    let r = leadrelay_capture::handle(&broken, app.signed_json(&ana())).await;
    assert_eq!(r.status(), http::StatusCode::CREATED, "{}", r.body());
    let id: serde_json::Value = serde_json::from_str(r.body()).unwrap();
    let id = id["lead_id"].as_str().unwrap().to_owned();
    app.drain().await;
    assert_eq!(
        app.lead(&id).await.stage,
        Stage::Captured,
        "its message was lost"
    );

    // Within the grace (2 minutes) the sweep leaves it alone: it may still be on its way.
    app.clock.advance(minutes(1));
    assert_eq!(app.stack.escalate().await.unwrap().resent, 0);
    let now = app.clock.now();
    let stuck = sweep::stuck(&app.stack.deps, now + minutes(1))
        .await
        .unwrap();
    assert_eq!(stuck.waiting.len(), 1, "the operator sees it waiting");
    assert_eq!(stuck.waiting[0].step, Step::Enrich);

    // The escalation schedule runs every minute: the pass after the grace sends it on.
    app.clock.advance(minutes(2));
    assert_eq!(app.stack.escalate().await.unwrap().resent, 1);
    app.drain().await;
    let lead = app.lead(&id).await;
    assert_eq!(lead.stage, Stage::Routed);
    assert!(lead.notified, "its emails are out");
    assert_eq!(app.emails_to(ANA).await.len(), 1, "acknowledged once");
    let owner = lead.assignment.unwrap().owner_email;
    assert_eq!(app.emails_to(&owner).await.len(), 1, "owner told once");
    assert!(app.event_kinds(&id).await.contains(&EventKind::Resent));

    // Done: later passes leave it be, and nothing is stuck.
    app.clock.advance(minutes(5));
    assert_eq!(app.stack.escalate().await.unwrap().resent, 0);
    let stuck = sweep::stuck(&app.stack.deps, app.clock.now())
        .await
        .unwrap();
    assert!(stuck.waiting.is_empty() && stuck.parked.is_empty());
}

#[tokio::test]
async fn a_routed_lead_whose_notify_message_was_lost_gets_its_emails_from_the_sweep() {
    let app = TestApp::new().await;
    let id = app.capture(app.signed_json(&ana())).await;
    app.stack.poll(QueueName::Captured, 0).await.unwrap();
    app.stack.poll(QueueName::Scored, 0).await.unwrap();
    // The notify message is lost (a dead-letter queue, a purge): consumed unhandled.
    let sqs = app.stack.deps.queues.client();
    let url = app.stack.deps.queues.url(QueueName::Notify);
    let got = sqs.receive_message().queue_url(url).send().await.unwrap();
    for m in got.messages.unwrap_or_default() {
        sqs.delete_message()
            .queue_url(url)
            .receipt_handle(m.receipt_handle.unwrap())
            .send()
            .await
            .unwrap();
    }
    assert!(!app.lead(&id).await.notified);
    app.clock.advance(minutes(3));
    assert_eq!(app.stack.escalate().await.unwrap().resent, 1);
    app.drain().await;
    assert_eq!(app.emails_to(ANA).await.len(), 1);
    assert!(app.lead(&id).await.notified);
}

#[tokio::test]
async fn a_permanent_failure_parks_the_lead_and_stuck_retry_completes_it_after_the_fix() {
    let app = TestApp::new().await;
    // SES refuses the sender (no longer verified): every email of the lead fails the same way.
    let ses = aws_sdk_ses::Client::new(&app.stack.sdk);
    ses.delete_identity()
        .identity(&app.sender)
        .send()
        .await
        .unwrap();
    let id = app.capture(app.signed_json(&ana())).await;
    app.drain().await;
    let lead = app.lead(&id).await;
    let parked = lead
        .parked
        .as_ref()
        .expect("parked, not retried into a dead-letter queue");
    assert_eq!(parked.step, Step::Notify);
    assert!(app.event_kinds(&id).await.contains(&EventKind::Parked));
    assert!(app.sent_emails().await.is_empty());
    let dlq_empty = app.stack.poll(QueueName::Notify, 0).await.unwrap() == 0;
    assert!(dlq_empty, "the message is done with, not redelivered");

    // The sweep leaves a parked lead alone; the operator sees it.
    app.clock.advance(minutes(5));
    assert_eq!(app.stack.escalate().await.unwrap().resent, 0);
    let stuck = sweep::stuck(&app.stack.deps, app.clock.now())
        .await
        .unwrap();
    assert_eq!(stuck.parked.len(), 1);
    assert_eq!(stuck.parked[0].lead_id, id);
    assert!(stuck.waiting.is_empty(), "parked leads are listed once");

    // The fix, then `leadrelay stuck --retry`.
    ses.verify_email_identity()
        .email_address(&app.sender)
        .send()
        .await
        .unwrap();
    let sent = sweep::unpark(&app.stack.deps, &id, "operator")
        .await
        .unwrap();
    assert!(sent.is_some());
    app.drain().await;
    assert_eq!(app.emails_to(ANA).await.len(), 1);
    let lead = app.lead(&id).await;
    assert!(lead.parked.is_none() && lead.notified);
    assert_eq!(
        app.sent_emails().await.len(),
        2,
        "acknowledgement and assignment, once each"
    );
    let stuck = sweep::stuck(&app.stack.deps, app.clock.now())
        .await
        .unwrap();
    assert!(stuck.parked.is_empty());
}

#[tokio::test]
async fn an_escalation_message_of_an_earlier_round_sends_nothing() {
    let app = TestApp::new().await;
    let id = app.routed_lead().await;
    let before = app.sent_emails().await.len();
    let stale = NotifyMessage::Escalation {
        lead_id: id.clone(),
        step: 0,
        round: 1,
    };
    leadrelay_notify::notify(&app.stack.deps, stale)
        .await
        .unwrap();
    assert_eq!(
        app.sent_emails().await.len(),
        before,
        "another round's step"
    );
    let current = NotifyMessage::Escalation {
        lead_id: id.clone(),
        step: 0,
        round: 0,
    };
    leadrelay_notify::notify(&app.stack.deps, current)
        .await
        .unwrap();
    assert_eq!(
        app.sent_emails().await.len(),
        before + 1,
        "this round's reminder"
    );
}

/// The policy (docs/architecture.md, invariant 3): at least once. A crash after SES accepted
/// an email and before it was recorded sends it again, once the claim lapses; never before.
#[tokio::test]
async fn an_email_sent_but_not_recorded_before_a_crash_goes_again_only_after_its_claim_lapses() {
    let app = TestApp::new().await;
    let deps = &app.stack.deps;
    let id = app.capture(app.signed_json(&ana())).await;
    app.stack.poll(QueueName::Captured, 0).await.unwrap();
    app.stack.poll(QueueName::Scored, 0).await.unwrap();
    // Notify claims the acknowledgement and SES accepts it; then the process dies.
    let lead = app.lead(&id).await;
    let now = app.clock.now();
    let ack = leadrelay_notify::compose(deps, &lead, &EmailKind::Acknowledgement, now)
        .unwrap()
        .unwrap();
    let key = EmailKind::Acknowledgement.key();
    let claim = deps.store.claim_email(&id, &key, now).await.unwrap();
    assert_eq!(claim, leadrelay_aws::store::EmailClaim::Claimed);
    deps.mailer
        .as_ref()
        .expect("a mailer")
        .send(&ack)
        .await
        .unwrap();

    // Its message comes back while the claim holds: the owner is told, the lead is not
    // acknowledged a second time.
    app.drain().await;
    assert_eq!(app.emails_to(ANA).await.len(), 1);
    let owner = lead.assignment.clone().unwrap().owner_email;
    assert_eq!(app.emails_to(&owner).await.len(), 1);
    assert!(
        !app.lead(&id).await.notified,
        "the acknowledgement is not recorded"
    );

    // The claim lapses (2 minutes); the sweep sends the lead to notify again.
    app.clock.advance(minutes(3));
    assert_eq!(app.stack.escalate().await.unwrap().resent, 1);
    app.drain().await;
    assert_eq!(
        app.emails_to(ANA).await.len(),
        2,
        "the one duplicate the policy allows"
    );
    assert_eq!(
        app.emails_to(&owner).await.len(),
        1,
        "recorded emails never go twice"
    );
    assert!(app.lead(&id).await.notified);
}

#[tokio::test]
async fn one_unreadable_lead_in_the_index_never_holds_back_the_escalation_of_others() {
    let app = TestApp::new().await;
    let id = app.routed_lead().await;
    let due = app.lead(&id).await.sla.unwrap().next_at.unwrap();
    // An item in the index that no longer decodes (written by hand: no release writes this).
    let bad: HashMap<String, AttributeValue> = [
        ("pk", "LEAD#01JBROKEN0000000000000000"),
        ("sk", "LEAD"),
        ("entity", "lead"),
        ("stage", "teleported"),
        ("sla_shard", "shard-0"),
        ("sla_next_at", "2026-03-02T10:00:00.000Z"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), AttributeValue::S(v.to_owned())))
    .collect();
    app.stack
        .deps
        .store
        .client()
        .put_item()
        .table_name(app.stack.deps.store.table())
        .set_item(Some(bad))
        .send()
        .await
        .unwrap();
    app.clock.set(due);
    let report = app.stack.escalate().await.unwrap();
    assert_eq!(report.unreadable, 1);
    assert_eq!(
        report.reminded, 1,
        "the readable lead is reminded all the same"
    );
    let stuck = sweep::stuck(&app.stack.deps, app.clock.now())
        .await
        .unwrap();
    assert_eq!(
        stuck.unreadable,
        vec!["LEAD#01JBROKEN0000000000000000/LEAD".to_owned()]
    );
}
