use http::{Request, StatusCode};

use leadrelay_domain::Clock;

use crate::support::*;

#[tokio::test]
async fn a_bad_signature_gets_401_and_nothing_is_stored() {
    let app = TestApp::new().await;
    let mut req = app.signed_json(&ana());
    let ts = app.clock.now().timestamp().to_string();
    let forged = sign("wrong-secret", Some(&ts), None, req.body());
    req.headers_mut()
        .insert("x-leadrelay-signature", forged.parse().unwrap());
    let (status, body) = app.send(req).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");
    let mut unsigned = app.signed_json(&ana());
    unsigned.headers_mut().remove("x-leadrelay-signature");
    assert_eq!(app.send(unsigned).await.0, StatusCode::UNAUTHORIZED);
    let wrong_token = Request::post("/v1/webhooks/form?token=guess")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"email=a%40b.io".to_vec())
        .unwrap();
    assert_eq!(app.send(wrong_token).await.0, StatusCode::UNAUTHORIZED);
    assert!(app.items().await.is_empty());
}

#[tokio::test]
async fn a_timestamped_signature_is_accepted_within_five_minutes_only() {
    let app = TestApp::new().await;
    let raw = serde_json::to_vec(&ana()).unwrap();
    let ts = app.clock.now().timestamp().to_string();
    let req = |ts: &str| {
        Request::post("/v1/webhooks/json")
            .header("content-type", "application/json")
            .header("x-leadrelay-timestamp", ts)
            .header(
                "x-leadrelay-signature",
                sign(JSON_SECRET, Some(ts), None, &raw),
            )
            .body(raw.clone())
            .unwrap()
    };
    app.clock.advance(chrono::Duration::minutes(6));
    assert_eq!(app.send(req(&ts)).await.0, StatusCode::UNAUTHORIZED);
    app.clock.advance(chrono::Duration::minutes(-5));
    assert_eq!(app.send(req(&ts)).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn a_malformed_body_gets_400_and_the_raw_delivery_is_kept() {
    let app = TestApp::new().await;
    let raw = b"{\"email\": \"ana@example.com\", ".to_vec();
    let req = app.signed_bytes(raw.clone());
    let (status, body) = app.send(req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "malformed_body");
    assert!(body["message"].as_str().unwrap().contains("not valid JSON"));
    let delivery = app
        .stack
        .deps
        .store
        .get_delivery(body["delivery_id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delivery.body.as_deref().map(str::as_bytes), Some(&raw[..]));
    assert_eq!(delivery.outcome, "malformed_body");
    assert_eq!(app.items_with_entity("lead").await, 0);
}

#[tokio::test]
async fn a_body_that_is_not_a_lead_gets_422_and_is_kept() {
    let app = TestApp::new().await;
    let (status, body) = app
        .send(app.signed_json(&serde_json::json!({"first_name": "Ana", "company": "Acme"})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"], "not_a_lead");
    assert!(app
        .stack
        .deps
        .store
        .get_delivery(body["delivery_id"].as_str().unwrap())
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn unknown_sources_wrong_content_types_and_large_bodies_are_refused_clearly() {
    let app = TestApp::new().await;
    let mut req = app.signed_json(&ana());
    *req.uri_mut() = "/v1/webhooks/nope".parse().unwrap();
    let (status, body) = app.send(req).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_source"))
    );

    let mut req = app.signed_json(&ana());
    req.headers_mut()
        .insert("content-type", "text/plain".parse().unwrap());
    let (status, body) = app.send(req).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("unsupported_media_type")
        )
    );

    let big = vec![b' '; 256 * 1024 + 1];
    let req = app.signed_bytes(big);
    let (status, body) = app.send(req).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body_too_large"))
    );
    assert!(app.items().await.is_empty());
}

#[tokio::test]
async fn the_local_http_server_serves_the_same_routes() {
    let app = TestApp::new().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = leadrelay_cli::local::http::router(app.stack.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let body = serde_json::to_vec(&ana()).unwrap();
    let ts = app.clock.now().timestamp().to_string();
    let r = reqwest::Client::new()
        .post(format!("http://{addr}/v1/webhooks/json"))
        .header("content-type", "application/json")
        .header("x-leadrelay-timestamp", &ts)
        .header(
            "x-leadrelay-signature",
            sign(JSON_SECRET, Some(&ts), None, &body),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let id = r.json::<serde_json::Value>().await.unwrap()["lead_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.lead(&id).await.source, "json");
}

#[tokio::test]
async fn a_lead_keeps_its_landing_page_and_referrer_and_the_landing_pages_utms_count() {
    let app = TestApp::new().await;
    let mut body = ana();
    body["utm_source"] = "newsletter".into();
    body["landing_page"] =
        "https://www.acme-robotics.io/demo?utm_source=google&utm_term=agv&gclid=Cj0KCQ".into();
    body["referrer"] = "https://www.google.com/".into();
    let id = app.capture(app.signed_json(&body)).await;
    app.drain().await;
    let lead = app.lead(&id).await;
    let touch = lead.attribution.as_ref().expect("a touch");
    assert_eq!(touch.source, "json");
    assert_eq!(touch.at, lead.received_at);
    assert_eq!(touch.landing_page.as_deref(), body["landing_page"].as_str());
    assert_eq!(touch.referrer.as_deref(), Some("https://www.google.com/"));
    let utm = |k: &str| lead.utm.get(k).map(String::as_str);
    assert_eq!(utm("source"), Some("newsletter"), "the explicit field wins");
    assert_eq!(utm("term"), Some("agv"), "the landing page fills in");
    assert_eq!(utm("medium"), Some("cpc"));
    assert_eq!(touch.utm, lead.utm);
    assert_eq!(
        lead.click_ids.get("gclid").map(String::as_str),
        Some("Cj0KCQ")
    );
    let exported =
        serde_json::to_value(leadrelay_domain::export::export(&lead, app.clock.now())).unwrap();
    assert_eq!(exported["landing_page"], body["landing_page"]);
    assert_eq!(exported["referrer"], "https://www.google.com/");
    assert_eq!(exported["click_ids"]["gclid"], "Cj0KCQ");
}
