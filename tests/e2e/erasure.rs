//! Erasure on request (docs/operating.md): everything of one person goes, found through the
//! person indexes, nothing of anyone else, and nothing of theirs comes back from a send that
//! was in flight.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use http::StatusCode;
use leadrelay_aws::store::{Erasure, ErasureReport, Recorded};
use leadrelay_domain::clock::Clock;
use leadrelay_domain::emails::EmailKind;
use leadrelay_domain::lead::Stage;
use leadrelay_domain::timeline;
use serde_json::json;

use crate::fault_proxy::Reply;
use crate::support::*;

const ANA_EMAIL: &str = "ana.ferreira@northwind-logistics.com";
/// Her address is a substring of this one: a substring match would erase Diana too.
const DIANA_EMAIL: &str = "diana.ferreira@northwind-logistics.com";

type Item = HashMap<String, AttributeValue>;

/// Ana's routed lead, a repeat submission and its redelivery, a refused delivery naming her,
/// and two other people: Diana, whose address contains Ana's, and Hannah.
struct History {
    ana: String,
    diana: String,
    hannah: String,
}

async fn history(app: &TestApp) -> History {
    let ana = app.routed_lead().await;
    let again =
        json!({"email": "ana.ferreira+again@northwind-logistics.com", "message": "pricing?"});
    app.send(app.signed_json(&again)).await;
    app.send(app.signed_json(&again)).await;
    let broken = format!(r#"{{"email": "{ANA_EMAIL}", "#).into_bytes();
    let (s, _) = app.send(app.signed_bytes(broken)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let diana = app
        .capture(app.signed_json(&json!({
            "email": DIANA_EMAIL,
            "full_name": "Diana Ferreira",
            "message": "Do you ship to Porto?"
        })))
        .await;
    let hannah = app
        .capture(app.form(
            "full_name=Hannah+Schmidt&email=hannah%40schmidt-lager.de&message=Hallo&website=",
        ))
        .await;
    app.drain().await;
    History { ana, diana, hannah }
}

/// Nothing of Ana is left in the whole table; Diana and Hannah are untouched.
async fn assert_only_ana_is_gone(app: &TestApp, h: &History, report: &ErasureReport) {
    assert_eq!(report.leads, vec![h.ana.clone()]);
    for kind in [
        "lead",
        "event",
        "email",
        "delivery",
        "idempotency",
        "person",
        "acknowledged",
    ] {
        assert!(
            report.items.get(kind).is_some_and(|n| *n > 0),
            "{kind}: {report:?}"
        );
    }
    let left = format!("{:?}", app.items().await)
        .to_lowercase()
        .replace(DIANA_EMAIL, "");
    for trace in ["ana.ferreira", "5552671", &h.ana.to_lowercase()] {
        assert!(!left.contains(trace), "{trace} is still in the table");
    }
    for other in [&h.diana, &h.hannah] {
        assert_eq!(app.lead(other).await.stage, Stage::Routed);
    }
    // Diana's delivery (her address contains Ana's) is kept.
    let diana = app.lead(&h.diana).await;
    let kept = app.stack.deps.store.get_delivery(&diana.delivery_id).await;
    assert!(kept.unwrap().is_some(), "Diana's delivery is hers to keep");
}

#[tokio::test]
async fn erasure_reads_the_person_indexes_removes_everything_of_the_person_and_nothing_of_anyone_else(
) {
    let (app, proxy) = TestApp::behind_fault_proxy().await;
    let h = history(&app).await;

    // No Scan: the table is never read whole.
    let no_scan = proxy.fail("Scan").with(Reply::unavailable());
    let who = Erasure::of(Some(ANA_EMAIL), None);
    let report = app.stack.deps.store.erase(&who).await.unwrap();
    assert_eq!(no_scan.served(), 0);
    no_scan.lift();
    assert_only_ana_is_gone(&app, &h, &report).await;

    // She comes back: captured fresh, as a new person, acknowledged again.
    let fresh = app.capture(app.signed_json(&ana())).await;
    assert_ne!(fresh, h.ana);
    app.drain().await;
    let lead = app.lead(&fresh).await;
    assert_eq!(lead.submissions, 1);
    assert_eq!(lead.person_id.as_deref(), Some(fresh.as_str()));
    assert_eq!(
        app.emails_to(ANA_EMAIL).await.len(),
        2,
        "one before, one now"
    );
}

/// Items written before the person indexes existed carry none of their attributes: the scan
/// finds them all the same, deliveries by what they carry, not by a substring of them.
#[tokio::test]
async fn erasure_by_scan_finds_items_written_before_the_indexes_by_their_parsed_fields() {
    let app = TestApp::new().await;
    let h = history(&app).await;
    let store = &app.stack.deps.store;
    for item in app.items().await {
        let indexed = ["person_by_email", "person_by_phone"]
            .iter()
            .any(|a| item.contains_key(*a));
        if indexed {
            store
                .client()
                .update_item()
                .table_name(store.table())
                .key("pk", item["pk"].clone())
                .key("sk", item["sk"].clone())
                .update_expression("REMOVE person_by_email, person_by_phone")
                .send()
                .await
                .unwrap();
        }
    }
    let who = Erasure::of(Some(ANA_EMAIL), None);
    let config = app.stack.deps.config.clone();
    let report = store
        .erase_scanning(
            &who,
            |s| config.source(s).and_then(|c| c.default_country.clone()),
            |d| leadrelay_capture::replay::identity_keys_in(&config, d),
        )
        .await
        .unwrap();
    assert_only_ana_is_gone(&app, &h, &report).await;
}

/// A broken item with nothing to say whose it is (read by the scan) is skipped and reported;
/// one the index names as hers is erased all the same.
#[tokio::test]
async fn an_unreadable_item_never_stops_an_erasure_and_is_reported() {
    let app = TestApp::new().await;
    let id = app.routed_lead().await;
    let store = &app.stack.deps.store;
    let put = |pk: &str, indexed: bool| {
        let mut item: Item = [
            ("pk", pk),
            ("sk", "LEAD"),
            ("entity", "lead"),
            ("stage", "teleported"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), AttributeValue::S(v.to_owned())))
        .collect();
        if indexed {
            use sha2::Digest;
            let hash = hex::encode(sha2::Sha256::digest(format!("email:{ANA_EMAIL}")));
            item.insert(
                "person_by_email".into(),
                AttributeValue::S(format!("PERSON#{hash}")),
            );
        }
        store
            .client()
            .put_item()
            .table_name(store.table())
            .set_item(Some(item))
            .send()
    };
    put("LEAD#01JBROKEN0000000000000000", false).await.unwrap();
    put("LEAD#01JBROKENHERS00000000000", true).await.unwrap();
    let who = Erasure::of(Some(ANA_EMAIL), None);

    let report = store.erase(&who).await.unwrap();
    assert_eq!(report.leads.len(), 2, "{report:?}");
    assert!(report.leads.contains(&id));
    assert_eq!(
        report.unreadable,
        vec!["LEAD#01JBROKENHERS00000000000/LEAD".to_owned()]
    );
    assert!(store.get_lead(&id).await.unwrap().is_none());

    let config = app.stack.deps.config.clone();
    let scanned = store
        .erase_scanning(
            &who,
            |_| None,
            |d| leadrelay_capture::replay::identity_keys_in(&config, d),
        )
        .await
        .unwrap();
    assert!(scanned.leads.is_empty());
    assert_eq!(
        scanned.unreadable,
        vec!["LEAD#01JBROKEN0000000000000000/LEAD".to_owned()]
    );
}

/// Notify has claimed the acknowledgement and SES has it when the person is erased: the
/// record it then writes (with its timeline event) finds the lead gone and writes nothing.
#[tokio::test]
async fn an_email_in_flight_when_its_person_is_erased_leaves_no_record_of_them() {
    let app = TestApp::new().await;
    let deps = &app.stack.deps;
    let id = app.capture(app.signed_json(&ana())).await;
    app.stack
        .poll(leadrelay_aws::queue::QueueName::Captured, 0)
        .await
        .unwrap();
    app.stack
        .poll(leadrelay_aws::queue::QueueName::Scored, 0)
        .await
        .unwrap();
    let lead = app.lead(&id).await;
    let now = app.clock.now();
    let ack = leadrelay_notify::compose(deps, &lead, &EmailKind::Acknowledgement, now)
        .unwrap()
        .unwrap();
    let key = EmailKind::Acknowledgement.key();
    deps.store.claim_email(&id, &key, now).await.unwrap();
    let message_id = deps
        .mailer
        .as_ref()
        .expect("a mailer")
        .send(&ack)
        .await
        .unwrap();

    let report = deps
        .store
        .erase(&Erasure::of(Some(ANA_EMAIL), None))
        .await
        .unwrap();
    assert_eq!(report.leads, vec![id.clone()]);

    let event = timeline::event(
        deps.clock.as_ref(),
        &id,
        leadrelay_domain::lead::EventKind::EmailSent,
        "notify",
        "acknowledgement email sent to the lead",
    );
    let recorded = deps
        .store
        .email_sent(&id, &key, &ack, &message_id, &event, now, None)
        .await
        .unwrap();
    assert_eq!(recorded, Recorded::LeadErased);
    let left = format!("{:?}", app.items().await).to_lowercase();
    assert!(!left.contains(&id.to_lowercase()), "nothing under her lead");
    assert!(!left.contains("ana.ferreira"), "her address is nowhere");

    // The message notify was working on comes back: the lead is gone, nothing is sent.
    app.drain().await;
    assert_eq!(app.emails_to(ANA_EMAIL).await.len(), 1);
}
