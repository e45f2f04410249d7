//! The operator's recovery commands, through the library functions the `leadrelay` command
//! calls: `dlq list` / `dlq replay` (`leadrelay_aws::dead_letter`) and `replay <delivery id>`
//! (`leadrelay_capture::replay`).

use std::sync::Arc;

use http::{Request, StatusCode};
use leadrelay_aws::dead_letter::{self, ReplayMethod, Replayed};
use leadrelay_aws::deps::Resources;
use leadrelay_aws::queue::{LeadMessage, NotifyMessage, QueueName};
use leadrelay_aws::Deps;
use leadrelay_capture::replay::{replay_delivery, ReplayError};
use leadrelay_domain::lead::Stage;
use leadrelay_domain::Config;

use crate::support::*;

const GRAVITY_TOKEN: &str = "gf_bearer_2c9e7a5f1d3b8064";
const GRAVITY_MAPPING: &str = r#""2" = "email", "3" = "phone", "#;

/// A Gravity Forms entry (field ids only: the source's mapping says which is the email).
fn gravity_entry() -> Request<Vec<u8>> {
    let body = serde_json::json!({
        "id": "1843", "form_id": "7", "date_created": "2026-03-02 09:58:03",
        "source_url": "https://www.acme-robotics.io/contact/",
        "1.3": "Rosa", "1.6": "Lind", "2": "rosa.lind@lind-freight.example",
        "3": "", "4": "Lind Freight", "5": "A demo, please.",
    });
    Request::post("/v1/webhooks/gravity-forms")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {GRAVITY_TOKEN}"))
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap()
}

/// The same table and queues as `app`, with another configuration: what the functions run
/// with after the operator deployed a fix.
async fn deps_with(app: &TestApp, config: &str) -> Deps {
    let deps = &app.stack.deps;
    let text = config.replace("leads@leadrelay.example.com", &app.sender);
    let resources = Resources {
        table: deps.store.table().to_owned(),
        captured_queue_url: deps.queues.url(QueueName::Captured).to_owned(),
        scored_queue_url: deps.queues.url(QueueName::Scored).to_owned(),
        notify_queue_url: deps.queues.url(QueueName::Notify).to_owned(),
        sla_shards: deps.store.sla_shards(),
    };
    let config = Config::from_toml(&text, "fixed config").unwrap();
    Deps::build(
        &app.stack.sdk,
        config,
        resources,
        Arc::new(app.clock.clone()),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_delivery_refused_for_a_bad_mapping_makes_its_lead_when_replayed_after_the_fix() {
    // The Gravity Forms source was set up without saying which field is the email.
    let app = TestApp::with_config(|c| *c = c.replace(GRAVITY_MAPPING, "")).await;
    let (status, body) = app.send(gravity_entry()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let delivery_id = body["delivery_id"].as_str().unwrap().to_owned();
    assert_eq!(app.items_with_entity("lead").await, 0);

    // Replayed before the fix, it is refused again and stays kept.
    let again = replay_delivery(&app.stack.deps, &delivery_id)
        .await
        .unwrap();
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    let kept = app
        .stack
        .deps
        .store
        .get_delivery(&delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.outcome, "not_a_lead");

    // The mapping is fixed; the replay makes the lead, which goes all the way.
    let fixed = deps_with(&app, LOCAL_CONFIG).await;
    let replayed = replay_delivery(&fixed, &delivery_id).await.unwrap();
    assert!(replayed.status.is_success(), "{replayed:?}");
    let [lead_id] = <[String; 1]>::try_from(replayed.lead_ids()).unwrap();
    app.drain().await;
    let lead = app.lead(&lead_id).await;
    assert_eq!(lead.stage, Stage::Routed);
    assert_eq!(lead.delivery_id, delivery_id);
    assert_eq!(
        lead.fields.email.as_deref(),
        Some("rosa.lind@lind-freight.example")
    );
    let kept = app
        .stack
        .deps
        .store
        .get_delivery(&delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.outcome, "accepted");
    assert_eq!(
        app.emails_to("rosa.lind@lind-freight.example").await.len(),
        1
    );

    // Replayed once more: the same lead, nothing new, no second email.
    let twice = replay_delivery(&fixed, &delivery_id).await.unwrap();
    assert_eq!(twice.lead_ids(), vec![lead_id.clone()], "{twice:?}");
    app.drain().await;
    assert_eq!(app.items_with_entity("lead").await, 1);
    assert_eq!(
        app.emails_to("rosa.lind@lind-freight.example").await.len(),
        1
    );
    assert_eq!(app.sent_emails().await.len(), 2);
}

#[tokio::test]
async fn replaying_a_delivery_that_made_its_lead_makes_no_new_lead_and_no_second_email() {
    let app = TestApp::new().await;
    let lead_id = app.routed_lead().await;
    let delivery_id = app.lead(&lead_id).await.delivery_id;
    let r = replay_delivery(&app.stack.deps, &delivery_id)
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.lead_ids(), vec![lead_id.clone()]);
    assert_eq!(r.body["duplicate"], true);
    app.drain().await;
    assert_eq!(app.items_with_entity("lead").await, 1);
    assert_eq!(
        app.sent_emails().await.len(),
        2,
        "one acknowledgement, one assignment"
    );
}

#[tokio::test]
async fn only_kept_deliveries_can_be_replayed_and_a_forged_one_is_never_kept() {
    let app = TestApp::new().await;
    let mut forged = app.signed_json(&ana());
    let ts = forged.headers()["x-leadrelay-timestamp"].to_str().unwrap();
    let bad = sign("wrong-secret", Some(ts), None, forged.body());
    forged
        .headers_mut()
        .insert("x-leadrelay-signature", bad.parse().unwrap());
    let (status, body) = app.send(forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.get("delivery_id").is_none(), "{body}");
    assert_eq!(app.items_with_entity("delivery").await, 0);
    let missing = replay_delivery(&app.stack.deps, "01NOSUCHDELIVERY").await;
    assert!(
        matches!(missing, Err(ReplayError::NotFound(_))),
        "{missing:?}"
    );
}

#[tokio::test]
async fn a_replay_of_a_dead_letter_whose_work_was_done_changes_nothing() {
    let app = TestApp::new().await;
    let lead_id = app.routed_lead().await;
    let before = app.lead(&lead_id).await;
    // Messages that failed after their work was done (a lost delete), one on each queue.
    let sqs = app.stack.deps.queues.client();
    let dlqs = &app.stack.dead_letter;
    let lead_message = serde_json::to_string(&LeadMessage {
        lead_id: lead_id.clone(),
    })
    .unwrap();
    let notify_message = serde_json::to_string(&NotifyMessage::Assigned {
        lead_id: lead_id.clone(),
    })
    .unwrap();
    for (q, body) in [
        (QueueName::Captured, &lead_message),
        (QueueName::Scored, &lead_message),
        (QueueName::Notify, &notify_message),
    ] {
        sqs.send_message()
            .queue_url(dlqs.url(q))
            .message_body(body)
            .send()
            .await
            .unwrap();
    }
    for q in QueueName::ALL {
        let letters = dead_letter::list(sqs, dlqs, q).await.unwrap();
        assert_eq!(letters.len(), 1, "{q:?}: {letters:?}");
        assert_eq!(letters[0].lead_id.as_deref(), Some(lead_id.as_str()));
    }
    for q in QueueName::ALL {
        let moved = dead_letter::replay(&app.stack.deps.queues, dlqs, q, ReplayMethod::Receive)
            .await
            .unwrap();
        assert_eq!(moved, Replayed::Moved { messages: 1 }, "{q:?}");
        assert!(dead_letter::list(sqs, dlqs, q).await.unwrap().is_empty());
    }
    app.drain().await;
    let after = app.lead(&lead_id).await;
    assert_eq!(after.assignment, before.assignment);
    assert_eq!(after.version, before.version, "nothing saved again");
    assert_eq!(app.sent_emails().await.len(), 2, "no email twice");
}

#[tokio::test]
async fn a_website_form_post_replayed_hours_later_is_read_as_it_arrived_and_makes_no_second_lead() {
    let app = TestApp::new().await;
    let path = format!(
        "{}/fixtures/sources/html_form-utm.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let f: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut req = Request::post("/v1/webhooks/html-form");
    for (k, v) in f["headers"].as_object().unwrap() {
        if !k.eq_ignore_ascii_case("content-length") {
            req = req.header(k, v.as_str().unwrap());
        }
    }
    // Without the time trap's field: the form's redelivery key is then the minute it came in.
    let body = f["body"]
        .as_str()
        .unwrap()
        .replace("&form_started_at=1773995835", "");
    app.clock.set(t("2026-03-20T08:38:02Z"));
    let req = req.body(body.into_bytes()).unwrap();
    let (status, body) = app.send(req).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let lead_id = body["lead_ids"][0].as_str().unwrap().to_owned();
    app.drain().await;
    let lead = app.lead(&lead_id).await;
    assert_eq!(lead.stage, Stage::Routed);
    let delivery_id = lead.delivery_id;
    let kept = app
        .stack
        .deps
        .store
        .get_delivery(&delivery_id)
        .await
        .unwrap()
        .unwrap();
    assert!(kept
        .referer
        .as_deref()
        .unwrap()
        .contains("utm_source=google"));

    // Its redelivery key rests on when it arrived: a replay hours later reads it at that time.
    app.clock.advance(chrono::Duration::hours(3));
    let r = replay_delivery(&app.stack.deps, &delivery_id)
        .await
        .unwrap();
    assert_eq!(r.lead_ids(), vec![lead_id.clone()], "{r:?}");
    app.drain().await;
    assert_eq!(app.items_with_entity("lead").await, 1);
    assert_eq!(
        app.lead(&lead_id).await.submissions,
        1,
        "not taken as a repeat submission"
    );
    assert_eq!(app.sent_emails().await.len(), 2);
}
