//! Our own signature scheme under attack: a captured delivery replayed late, the old
//! `<timestamp>.<body>` ambiguity, and a replayed body under a fresh `Idempotency-Key`. Each is
//! refused `401`, and nothing is stored or emailed.

use chrono::Duration;
use http::{Request, StatusCode};
use leadrelay_domain::clock::Clock;

use crate::support::*;

const SIGNED_FORM_SECRET: &str = "signed-form-secret";

/// The local stack with a form source signed with `hmac` that does not require the timestamp,
/// as a sender that cannot send one would have it.
async fn with_signed_form() -> TestApp {
    TestApp::with_config(|c| {
        c.push_str(&format!(
            "\n[sources.signed_form]\nkind = \"html_form\"\nauth = \"hmac\"\nsecret = \"{SIGNED_FORM_SECRET}\"\n"
        ))
    })
    .await
}

/// Drains the pipeline, then checks the table holds exactly `items` items and no email went out
/// beyond `emails`.
async fn assert_nothing_more(app: &TestApp, items: usize, emails: usize) {
    app.drain().await;
    assert_eq!(app.items().await.len(), items, "nothing more is stored");
    assert_eq!(
        app.sent_emails().await.len(),
        emails,
        "nothing more is emailed"
    );
}

fn without(mut req: Request<Vec<u8>>, header: &str) -> Request<Vec<u8>> {
    req.headers_mut().remove(header);
    req
}

#[tokio::test]
async fn a_replay_after_the_tolerance_is_refused_and_stores_nothing() {
    let app = TestApp::new().await;
    // A delivery captured on its way, replayed six minutes later: as it was, and without the
    // timestamp the json source requires.
    let signed_at = app.clock.now();
    let captured = || app.signed_json_at(&ana(), signed_at, None);
    app.clock.advance(Duration::minutes(6));
    let (status, body) = app.send(captured()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "unauthorized");
    assert!(body.get("delivery_id").is_none(), "{body}");
    let (status, body) = app.send(without(captured(), "x-leadrelay-timestamp")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("X-Leadrelay-Timestamp"),
        "{body}"
    );
    // A delivery its sender signed without a timestamp could be replayed whenever: the source
    // requires one, so it is refused however it is signed.
    let raw = serde_json::to_vec(&ana()).unwrap();
    let untimed = Request::post("/v1/webhooks/json")
        .header("content-type", "application/json")
        .header("x-leadrelay-signature", sign(JSON_SECRET, None, None, &raw))
        .body(raw)
        .unwrap();
    assert_eq!(app.send(untimed).await.0, StatusCode::UNAUTHORIZED);
    assert_nothing_more(&app, 0, 0).await;
}

#[tokio::test]
async fn the_timestamp_prefix_trick_is_refused() {
    let app = with_signed_form().await;
    let form = b"x=1&email=ana.ferreira%40northwind-logistics.com&first_name=Ana".to_vec();
    let ts = app.clock.now().timestamp().to_string();
    let signature = sign(SIGNED_FORM_SECRET, Some(&ts), None, &form);
    // An hour later the timestamp is stale; the old scheme's MAC over `<ts>.<body>` was also
    // the timestamp-less MAC of the body `<ts>.` + body, which still reads as Ana's form.
    app.clock.advance(Duration::hours(1));
    let mut prefixed = format!("{ts}.").into_bytes();
    prefixed.extend_from_slice(&form);
    let forged = Request::post("/v1/webhooks/signed_form")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-leadrelay-signature", &signature)
        .body(prefixed)
        .unwrap();
    let (status, body) = app.send(forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"], "unauthorized");
    // Nor does the timestamp pass for an Idempotency-Key.
    let moved = Request::post("/v1/webhooks/signed_form")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("idempotency-key", &ts)
        .header("x-leadrelay-signature", &signature)
        .body(form.clone())
        .unwrap();
    assert_eq!(app.send(moved).await.0, StatusCode::UNAUTHORIZED);
    assert_nothing_more(&app, 0, 0).await;
    // The sender's own delivery, on time, is taken: the source does not require a timestamp.
    let unstamped = Request::post("/v1/webhooks/signed_form")
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "x-leadrelay-signature",
            sign(SIGNED_FORM_SECRET, None, None, &form),
        )
        .body(form)
        .unwrap();
    assert_eq!(app.send(unstamped).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn a_fresh_idempotency_key_on_a_replayed_body_makes_no_new_lead() {
    let app = TestApp::new().await;
    let keyed = || app.signed_json_with_key(&ana(), "order-1");
    let unkeyed = || app.signed_json(&ana());
    let lead = app.capture(keyed()).await;
    app.drain().await;
    let items = app.items().await.len();
    let emails = app.sent_emails().await.len();
    assert!(emails > 0, "the lead was acknowledged and assigned");
    // Within the tolerance, the captured delivery with a fresh key, with its key dropped, and
    // a body signed without a key given one.
    let mut fresh = keyed();
    fresh
        .headers_mut()
        .insert("idempotency-key", "order-2".parse().unwrap());
    let mut added = unkeyed();
    added
        .headers_mut()
        .insert("idempotency-key", "order-3".parse().unwrap());
    for replayed in [fresh, without(keyed(), "idempotency-key"), added] {
        let (status, body) = app.send(replayed).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"], "unauthorized");
    }
    assert_nothing_more(&app, items, emails).await;
    // The sender's own retry, under its signed key, is the same lead.
    let (status, body) = app.send(keyed()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["lead_id"], lead.as_str());
}
