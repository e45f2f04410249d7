//! The backstop: a poll of the ad platforms' APIs for leads their webhooks missed, against
//! local stand-ins of Meta's Graph API (`/{form_id}/leads`), the Google Ads API search over
//! `lead_form_submission_data` and LinkedIn's `leadFormResponses` by owner. Each stand-in
//! pages, records what it was asked, and fails when told to.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use http::StatusCode;
use leadrelay_domain::lead::{EventKind, Stage};
use serde_json::{json, Value};

use crate::platforms::{deliver, fixture};
use crate::support::*;

/// A request a stand-in was sent.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    query: String,
    headers: http::HeaderMap,
    body: String,
}

impl Seen {
    fn param(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

type Respond = Arc<dyn Fn(&Seen) -> (u16, String) + Send + Sync>;

/// A platform API on loopback: answers with `respond`, or with `fail` while it is set.
struct StandIn {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    fail: Arc<AtomicU16>,
}

impl StandIn {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The requests to paths ending so.
    fn asked(&self, path_end: &str) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| s.path.ends_with(path_end))
            .collect()
    }
}

async fn stand_in(respond: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static) -> StandIn {
    type St = (Respond, Arc<Mutex<Vec<Seen>>>, Arc<AtomicU16>);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let fail = Arc::new(AtomicU16::new(0));
    let respond: Respond = Arc::new(respond);
    let app = axum::Router::new()
        .fallback(
            |axum::extract::State((respond, seen, fail)): axum::extract::State<St>,
             method: http::Method,
             uri: http::Uri,
             headers: http::HeaderMap,
             body: String| async move {
                let s = Seen {
                    method: method.to_string(),
                    path: uri.path().to_owned(),
                    query: uri.query().unwrap_or_default().to_owned(),
                    headers,
                    body,
                };
                seen.lock().unwrap().push(s.clone());
                let failing = fail.load(Ordering::SeqCst);
                let (status, body) = if failing != 0 {
                    (failing, "{\"error\":\"down\"}".to_owned())
                } else {
                    respond(&s)
                };
                (StatusCode::from_u16(status).unwrap(), body)
            },
        )
        .with_state((respond, seen.clone(), fail.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    StandIn { url, seen, fail }
}

fn authorised(s: &Seen, token: &str) -> bool {
    s.header("authorization") == Some(&format!("Bearer {token}"))
}

// ------------------------------------------------------------------ Meta

const FORM: &str = "1298374650123456";
const OTHER_FORM: &str = "5550001112223";

fn meta_lead(id: &str, created: &str, email: &str, name: &str, form: &str) -> Value {
    json!({
        "id": id,
        "created_time": created,
        "form_id": form,
        "ad_id": "120208765432109876",
        "field_data": [
            {"name": "email", "values": [email]},
            {"name": "full_name", "values": [name]},
        ],
    })
}

/// Meta's Graph API: the single lead read (enrich) and `/{form}/leads` in two pages for
/// `FORM` (the webhook's lead, one it missed; then another it missed), one page for
/// `OTHER_FORM`.
async fn graph() -> StandIn {
    let captured_by_webhook: Value = serde_json::from_str(
        fixture("meta-graph-lead-response-unicode")["body"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    stand_in(move |s| {
        if !authorised(s, "local-page-token") {
            return (401, "{}".into());
        }
        let page = match (s.path.as_str(), s.param("after").as_deref()) {
            ("/v24.0/3841029384756102", _) => captured_by_webhook.clone(),
            (p, None) if p == format!("/v24.0/{FORM}/leads") => json!({
                "data": [
                    captured_by_webhook,
                    meta_lead("900000000000001", "2026-03-12T14:30:00+0000", "lea.martin@example.com", "Léa Martin", FORM),
                ],
                "paging": {
                    "cursors": {"before": "QVFI-b0", "after": "QVFI-c1"},
                    "next": format!("https://graph.facebook.com/v24.0/{FORM}/leads?after=QVFI-c1"),
                },
            }),
            (p, Some("QVFI-c1")) if p == format!("/v24.0/{FORM}/leads") => json!({
                "data": [
                    meta_lead("900000000000002", "2026-03-12T14:40:00+0000", "tom.weber@example.com", "Tom Weber", FORM),
                ],
                "paging": {"cursors": {"before": "QVFI-c1", "after": "QVFI-c2"}},
            }),
            (p, None) if p == format!("/v24.0/{OTHER_FORM}/leads") => json!({
                "data": [
                    meta_lead("900000000000003", "2026-03-12T14:50:00+0000", "ines.silva@example.com", "Inês Silva", OTHER_FORM),
                ],
                "paging": {"cursors": {"before": "x", "after": "y"}},
            }),
            _ => return (404, "{}".into()),
        };
        (200, page.to_string())
    })
    .await
}

async fn app_with_meta_backstop(api: &StandIn, forms: &[&str]) -> TestApp {
    let url = api.url.clone();
    let forms: Vec<String> = forms.iter().map(|f| format!("\"{f}\"")).collect();
    TestApp::with_config(move |c| {
        *c = c.replace(
            "verify_token = \"leadrelay-local-verify\"",
            &format!("verify_token = \"leadrelay-local-verify\"\naccess_token = \"local-page-token\"\napi_url = \"{url}\""),
        );
        c.push_str(&format!(
            "\n[sources.meta.backstop]\nforms = [{}]\nevery = \"15m\"\nfirst_lookback = \"7d\"\noverlap = \"1h\"\n",
            forms.join(", ")
        ));
    })
    .await
}

#[tokio::test]
async fn the_backstop_pages_through_a_meta_form_and_captures_only_the_leads_the_webhook_missed() {
    let api = graph().await;
    let app = app_with_meta_backstop(&api, &[FORM]).await;
    let (status, body) = deliver(&app, "meta-leadgen-basic", "meta").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let by_webhook = body["lead_id"].as_str().unwrap().to_owned();
    app.drain().await;

    app.clock.set(t("2026-03-12T16:00:00Z"));
    let report = app.stack.backstop().await.unwrap();
    assert_eq!(
        (
            report.polled,
            report.captured,
            report.duplicates,
            report.failed
        ),
        (1, 2, 1, 0),
        "{report:?}"
    );
    assert_eq!(
        app.items_with_entity("lead").await,
        3,
        "no second lead for the webhook's"
    );

    // Two pages: the second from the first's `after` cursor; leads created in the last 7 days.
    let asked = api.asked("/leads");
    assert_eq!(asked.len(), 2);
    assert_eq!(asked[0].param("after"), None);
    assert_eq!(asked[1].param("after").as_deref(), Some("QVFI-c1"));
    let since = (t("2026-03-12T16:00:00Z") - chrono::Duration::days(7)).timestamp() - 1;
    let filtering: Value = serde_json::from_str(&asked[0].param("filtering").unwrap()).unwrap();
    assert_eq!(
        filtering,
        json!([{"field": "time_created", "operator": "GREATER_THAN", "value": since}])
    );
    assert!(asked[0].param("fields").unwrap().contains("field_data"));

    // A lead only the poll found: arrived when the platform created it, marked as found.
    let found = &report.details[0].lead_ids;
    assert_eq!(found.len(), 2);
    let lead = app.lead(&found[0]).await;
    assert_eq!(lead.external_id.as_deref(), Some("900000000000001"));
    assert_eq!(lead.received_at, t("2026-03-12T14:30:00Z"));
    assert_eq!(lead.submitted_at, Some(t("2026-03-12T14:30:00Z")));
    let timeline = app.stack.deps.store.timeline(&found[0]).await.unwrap();
    let captured = &timeline[0];
    assert_eq!(captured.kind, EventKind::Captured);
    assert_eq!(captured.actor, "backstop");
    assert_eq!(captured.at, t("2026-03-12T14:30:00Z"));
    assert!(
        captured.summary.contains("found by the backstop"),
        "{}",
        captured.summary
    );

    // It goes the whole way, like any lead; the webhook's lead is emailed once.
    app.drain().await;
    assert_eq!(app.lead(&found[0]).await.stage, Stage::Routed);
    assert_eq!(app.emails_to("lea.martin@example.com").await.len(), 1);
    assert_eq!(app.emails_to("tom.weber@example.com").await.len(), 1);
    assert_eq!(app.emails_to("jose.mueller@example.com").await.len(), 1);
    assert_eq!(app.lead(&by_webhook).await.stage, Stage::Routed);
    let webhook_timeline = app.stack.deps.store.timeline(&by_webhook).await.unwrap();
    assert!(webhook_timeline.iter().all(|e| e.actor != "backstop"));
}

#[tokio::test]
async fn the_next_poll_asks_from_the_watermark_less_the_overlap_and_captures_nothing_twice() {
    let api = graph().await;
    let app = app_with_meta_backstop(&api, &[FORM]).await;
    app.clock.set(t("2026-03-12T16:00:00Z"));
    let first = app.stack.backstop().await.unwrap();
    assert_eq!(first.captured, 3);

    app.clock.set(t("2026-03-12T16:10:00Z"));
    assert_eq!(
        app.stack.backstop().await.unwrap().polled,
        0,
        "not due before 15 minutes"
    );
    app.clock.set(t("2026-03-12T16:15:00Z"));
    let second = app.stack.backstop().await.unwrap();
    assert_eq!(
        (second.polled, second.captured, second.duplicates),
        (1, 0, 3)
    );
    let asked = api.asked("/leads");
    let filtering: Value = serde_json::from_str(&asked[2].param("filtering").unwrap()).unwrap();
    assert_eq!(
        filtering[0]["value"],
        t("2026-03-12T15:00:00Z").timestamp() - 1,
        "the last watermark (16:00) less the overlap (1h)"
    );
    assert_eq!(app.items_with_entity("lead").await, 3);
}

#[tokio::test]
async fn a_failing_api_leaves_the_watermark_and_the_next_poll_catches_up_while_other_forms_go_on() {
    let api = graph().await;
    let app = app_with_meta_backstop(&api, &[FORM, OTHER_FORM]).await;
    app.clock.set(t("2026-03-12T16:00:00Z"));
    // Both forms fail: nothing captured, both reported as retryable, no watermark.
    api.fail.store(503, Ordering::SeqCst);
    let report = app.stack.backstop().await.unwrap();
    assert_eq!((report.polled, report.failed, report.captured), (2, 2, 0));
    assert!(report.details.iter().all(|p| p.retryable == Some(true)));
    assert!(report.details[0].error.as_deref().unwrap().contains("503"));
    assert_eq!(app.items_with_entity("lead").await, 0);
    assert_eq!(
        app.stack
            .deps
            .store
            .backstop_watermark("meta", FORM)
            .await
            .unwrap(),
        None
    );

    // Back up: the next poll asks the whole first window again and finds every lead.
    api.fail.store(0, Ordering::SeqCst);
    app.clock.set(t("2026-03-12T16:15:00Z"));
    let report = app.stack.backstop().await.unwrap();
    assert_eq!(
        (report.polled, report.failed, report.captured),
        (2, 0, 4),
        "{report:?}"
    );
    let mark = app
        .stack
        .deps
        .store
        .backstop_watermark("meta", FORM)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mark.through, t("2026-03-12T16:15:00Z"));
    assert_eq!(mark.last_error, None);

    // A refused token is not retryable: reported as needing a fix; the watermark stays.
    app.clock.set(t("2026-03-12T16:30:00Z"));
    api.fail.store(401, Ordering::SeqCst);
    let report = app.stack.backstop().await.unwrap();
    assert_eq!(report.failed, 2);
    assert!(
        report.details.iter().all(|p| p.retryable == Some(false)),
        "{report:?}"
    );
    let mark = app
        .stack
        .deps
        .store
        .backstop_watermark("meta", FORM)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(mark.through, t("2026-03-12T16:15:00Z"), "unchanged");
    assert!(mark.last_error.unwrap().contains("401"));
}

#[tokio::test]
async fn an_unreadable_answer_on_one_form_does_not_stop_the_others() {
    let api = graph().await;
    let garbage = stand_in(|_| (200, "<html>not json</html>".into())).await;
    // The second source's API answers garbage; a second Meta source with its own form.
    let url = api.url.clone();
    let bad = garbage.url.clone();
    let app = TestApp::with_config(move |c| {
        *c = c.replace(
            "verify_token = \"leadrelay-local-verify\"",
            &format!("verify_token = \"leadrelay-local-verify\"\naccess_token = \"local-page-token\"\napi_url = \"{url}\""),
        );
        c.push_str(&format!(
            "\n[sources.meta.backstop]\nforms = [\"{FORM}\"]\n\n[sources.meta-brand-b]\nkind = \"meta\"\nsecret = \"s\"\naccess_token = \"t\"\napi_url = \"{bad}\"\n\n[sources.meta-brand-b.backstop]\nforms = [\"{OTHER_FORM}\"]\n"
        ));
    })
    .await;
    app.clock.set(t("2026-03-12T16:00:00Z"));
    let report = app.stack.backstop().await.unwrap();
    assert_eq!(
        (report.polled, report.failed, report.captured),
        (2, 1, 3),
        "{report:?}"
    );
    let failed = report.details.iter().find(|p| p.error.is_some()).unwrap();
    assert_eq!(failed.source, "meta-brand-b");
    assert_eq!(
        failed.retryable,
        Some(false),
        "an unreadable answer needs a fix"
    );
    assert!(failed.error.as_deref().unwrap().contains("cannot be read"));
    assert!(
        !failed.error.as_deref().unwrap().contains("html"),
        "the answer itself is not repeated"
    );
}

// ------------------------------------------------------------------ Google Ads

const WEBHOOK_LEAD_ID: &str = "Ck9DUkF5aF9sZWFkXzd4M2ZLcFEyMDI2MDMxNDA5MjE0NA";

fn google_row(id: &str, submitted: &str, email: &str, name: &str) -> Value {
    json!({"leadFormSubmissionData": {
        "resourceName": format!("customers/1234567890/leadFormSubmissionData/{id}"),
        "id": id,
        "asset": "customers/1234567890/assets/48213957720",
        "campaign": "customers/1234567890/campaigns/21938475012",
        "adGroup": "customers/1234567890/adGroups/162039485721",
        "adGroupAd": "customers/1234567890/adGroupAds/162039485721~702938475612",
        "gclid": "EAIaIQobChMIq7Lm9v2RjQMVx0pHAR0aTw3EAAYASAAEgL8YfD_BwE",
        "submissionDateTime": submitted,
        "leadFormSubmissionFields": [
            {"fieldType": "FULL_NAME", "fieldValue": name},
            {"fieldType": "EMAIL", "fieldValue": email},
        ],
        "customLeadFormSubmissionFields": [
            {"questionText": "How many robots do you operate?", "fieldValue": "11-50"},
        ],
    }})
}

async fn google_ads() -> StandIn {
    stand_in(|s| {
        if !authorised(s, "local-google-oauth") {
            return (401, "{}".into());
        }
        google_search(s)
    })
    .await
}

/// The Google Ads API's search over `lead_form_submission_data` for customer 1234567890, in two
/// pages, for a request already authorised.
fn google_search(s: &Seen) -> (u16, String) {
    if s.header("developer-token") != Some("local-dev-token") {
        return (401, "{}".into());
    }
    if s.method != "POST" || s.path != "/v21/customers/1234567890/googleAds:search" {
        return (404, "{}".into());
    }
    let body: Value = serde_json::from_str(&s.body).unwrap();
    let page = match body["pageToken"].as_str() {
        None => json!({
            "results": [
                google_row(WEBHOOK_LEAD_ID, "2026-03-14 02:21:44-07:00", "priya.raman@acme-robotics.io", "Priya Raman"),
                google_row("Ck9-second", "2026-03-14 09:30:00+00:00", "omar.haddad@example.com", "Omar Haddad"),
            ],
            "nextPageToken": "page-2",
            "fieldMask": "leadFormSubmissionData.id",
        }),
        Some("page-2") => json!({
            "results": [
                google_row("Ck9-third", "2026-03-14 09:40:00+00:00", "mia.klein@example.com", "Mia Klein"),
                // Older than the window: asked for only for the account's time zone.
                google_row("Ck9-too-old", "2026-03-06 09:40:00+00:00", "old@example.com", "Old Lead"),
            ],
        }),
        Some(_) => return (400, "{}".into()),
    };
    (200, page.to_string())
}

/// Google's OAuth token endpoint (`/token`) and the Ads API on one stand-in. Each refresh with
/// the right client and refresh token mints the next access token (`minted-1`, `minted-2`,
/// ...) for an hour; the search takes only the latest. While `revoked` is set the endpoint
/// answers as Google does for a revoked refresh token.
async fn google_ads_with_oauth() -> (StandIn, Arc<std::sync::atomic::AtomicBool>) {
    let (api, revoked, _) = google_ads_with_oauth_and_revocation().await;
    (api, revoked)
}

/// As [`google_ads_with_oauth`], with a second switch: while `access_revoked` is set the API
/// refuses every access token minted so far (a user revoked the grant's tokens; Google does
/// so too when the user's password changes), and takes the next one minted.
async fn google_ads_with_oauth_and_revocation() -> (
    StandIn,
    Arc<std::sync::atomic::AtomicBool>,
    Arc<std::sync::atomic::AtomicBool>,
) {
    let minted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let revoked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let refused = revoked.clone();
    let access_revoked = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let refused_up_to = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (access_refused, refused_through) = (access_revoked.clone(), refused_up_to.clone());
    let api = stand_in(move |s| {
        if s.path == "/token" {
            let form: Vec<(String, String)> = form_urlencoded::parse(s.body.as_bytes())
                .into_owned()
                .collect();
            let expected = [
                ("grant_type", "refresh_token"),
                ("client_id", "local-client.apps.googleusercontent.com"),
                ("client_secret", "local-client-secret"),
                ("refresh_token", "local-refresh-token"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()));
            if refused.load(Ordering::SeqCst) || form != expected || s.method != "POST" {
                return (
                    400,
                    json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}).to_string(),
                );
            }
            let n = minted.fetch_add(1, Ordering::SeqCst) + 1;
            return (
                200,
                json!({"access_token": format!("minted-{n}"), "expires_in": 3599, "scope": "https://www.googleapis.com/auth/adwords", "token_type": "Bearer"}).to_string(),
            );
        }
        let n = minted.load(Ordering::SeqCst);
        if access_refused.swap(false, Ordering::SeqCst) {
            refused_through.store(n, Ordering::SeqCst);
        }
        if n <= refused_through.load(Ordering::SeqCst) || !authorised(s, &format!("minted-{n}")) {
            return (401, "{}".into());
        }
        google_search(s)
    })
    .await;
    (api, revoked, access_revoked)
}

async fn app_with_google_oauth_backstop(api: &StandIn) -> TestApp {
    let url = api.url.clone();
    TestApp::with_config(move |c| {
        *c = c.replace(
            "secret = \"gk-7Hq2pXvL9sR4tW1z\"",
            &format!("secret = \"gk-7Hq2pXvL9sR4tW1z\"\napi_url = \"{url}\""),
        );
        c.push_str(&format!(
            "\n[sources.google.backstop]\ncustomer_ids = [\"123-456-7890\"]\ndeveloper_token = \"local-dev-token\"\nevery = \"15m\"\nfirst_lookback = \"7d\"\n\
             [sources.google.backstop.oauth]\nclient_id = \"local-client.apps.googleusercontent.com\"\nclient_secret = \"local-client-secret\"\nrefresh_token = \"local-refresh-token\"\ntoken_url = \"{url}/token\"\n"
        ));
    })
    .await
}

#[tokio::test]
async fn a_google_backstop_mints_its_access_token_from_the_refresh_token_and_again_only_when_it_expires(
) {
    let (api, _) = google_ads_with_oauth().await;
    let app = app_with_google_oauth_backstop(&api).await;
    app.clock.set(t("2026-03-14T10:00:00Z"));
    let report = app.stack.backstop().await.unwrap();
    assert_eq!((report.captured, report.failed), (3, 0), "{report:?}");
    assert_eq!(api.asked("/token").len(), 1);
    let searches = api.asked(":search");
    assert_eq!(searches.len(), 2, "two pages");
    assert!(searches.iter().all(|s| authorised(s, "minted-1")));

    // Twenty minutes on: the next poll is due and the token still good.
    app.clock.set(t("2026-03-14T10:20:00Z"));
    let report = app.stack.backstop().await.unwrap();
    assert_eq!((report.polled, report.failed), (1, 0), "{report:?}");
    assert_eq!(
        api.asked("/token").len(),
        1,
        "the token minted at 10:00 is kept"
    );
    assert_eq!(api.asked(":search").len(), 4);

    // An hour after it was minted the token has expired: a new one, and the search takes it.
    app.clock.set(t("2026-03-14T11:00:00Z"));
    let report = app.stack.backstop().await.unwrap();
    assert_eq!((report.polled, report.failed), (1, 0), "{report:?}");
    assert_eq!(api.asked("/token").len(), 2);
    assert!(authorised(api.asked(":search").last().unwrap(), "minted-2"));
    assert_eq!(
        app.items_with_entity("lead").await,
        3,
        "nothing captured twice"
    );
}

#[tokio::test]
async fn an_access_token_the_api_refuses_before_its_time_is_dropped_and_the_next_poll_mints_another(
) {
    let (api, _, access_revoked) = google_ads_with_oauth_and_revocation().await;
    let app = app_with_google_oauth_backstop(&api).await;
    app.clock.set(t("2026-03-14T10:00:00Z"));
    let report = app.stack.backstop().await.unwrap();
    assert_eq!((report.captured, report.failed), (3, 0), "{report:?}");

    // Twenty minutes on, the token (good for another half hour) is refused.
    access_revoked.store(true, Ordering::SeqCst);
    app.clock.set(t("2026-03-14T10:20:00Z"));
    let report = app.stack.backstop().await.unwrap();
    assert_eq!(report.failed, 1, "{report:?}");
    assert!(report.details[0].error.as_deref().unwrap().contains("401"));
    assert_eq!(api.asked("/token").len(), 1);

    // The next poll does not present it again: it mints another, and goes on.
    app.clock.set(t("2026-03-14T10:35:00Z"));
    let report = app.stack.backstop().await.unwrap();
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(api.asked("/token").len(), 2);
    assert!(authorised(api.asked(":search").last().unwrap(), "minted-2"));
}

#[tokio::test]
async fn a_revoked_refresh_token_fails_the_poll_as_needing_a_new_grant_and_leaves_the_watermark() {
    let (api, revoked) = google_ads_with_oauth().await;
    let app = app_with_google_oauth_backstop(&api).await;
    revoked.store(true, Ordering::SeqCst);
    app.clock.set(t("2026-03-14T10:00:00Z"));
    let report = app.stack.backstop().await.unwrap();
    assert_eq!((report.polled, report.failed), (1, 1), "{report:?}");
    let polled = &report.details[0];
    assert_eq!(polled.retryable, Some(false), "only a new grant helps");
    let error = polled.error.as_deref().unwrap();
    assert!(
        error.contains("invalid_grant") && error.contains("authorise again"),
        "{error}"
    );
    assert!(
        !format!("{report:?}").contains("local-"),
        "no secret in the report: {report:?}"
    );
    assert!(api.asked(":search").is_empty(), "no token, no search");
    assert_eq!(
        app.stack
            .deps
            .store
            .backstop_watermark("google", "123-456-7890")
            .await
            .unwrap(),
        None
    );

    // Granted again: the next poll asks the whole first window and finds every lead.
    revoked.store(false, Ordering::SeqCst);
    app.clock.set(t("2026-03-14T10:15:00Z"));
    let report = app.stack.backstop().await.unwrap();
    assert_eq!((report.captured, report.failed), (3, 0), "{report:?}");
}

#[tokio::test]
async fn a_google_webhook_arriving_after_the_backstop_found_its_lead_is_a_duplicate() {
    let api = google_ads().await;
    let url = api.url.clone();
    let app = TestApp::with_config(move |c| {
        *c = c.replace(
            "secret = \"gk-7Hq2pXvL9sR4tW1z\"",
            &format!("secret = \"gk-7Hq2pXvL9sR4tW1z\"\naccess_token = \"local-google-oauth\"\napi_url = \"{url}\""),
        );
        c.push_str("\n[sources.google.backstop]\ncustomer_ids = [\"123-456-7890\"]\nlogin_customer_id = \"111-222-3333\"\ndeveloper_token = \"local-dev-token\"\nfirst_lookback = \"7d\"\n");
    })
    .await;
    app.clock.set(t("2026-03-14T10:00:00Z"));
    let report = app.stack.backstop().await.unwrap();
    assert_eq!(
        (report.captured, report.duplicates, report.failed),
        (3, 0, 0),
        "{report:?}"
    );
    let asked = api.seen();
    assert_eq!(asked.len(), 2, "two pages");
    assert_eq!(asked[0].header("login-customer-id"), Some("1112223333"));
    let query: Value = serde_json::from_str(&asked[0].body).unwrap();
    let gaql = query["query"].as_str().unwrap();
    assert!(gaql.contains("FROM lead_form_submission_data"), "{gaql}");
    assert!(
        gaql.contains("lead_form_submission_data.lead_form_submission_fields"),
        "{gaql}"
    );
    assert!(
        gaql.contains("submission_date_time >= '2026-03-06 20:00:00'"),
        "7 days back less the time-zone margin: {gaql}"
    );
    let second: Value = serde_json::from_str(&asked[1].body).unwrap();
    assert_eq!(second["pageToken"], "page-2");

    let ids = &report.details[0].lead_ids;
    let priya = app.lead(&ids[0]).await;
    assert_eq!(priya.external_id.as_deref(), Some(WEBHOOK_LEAD_ID));
    assert_eq!(
        priya.received_at,
        t("2026-03-14T09:21:44Z"),
        "the submission time, in UTC"
    );
    assert_eq!(
        priya.campaign.get("ad_id").map(String::as_str),
        Some("702938475612")
    );
    assert_eq!(
        priya.campaign.get("form_id").map(String::as_str),
        Some("48213957720")
    );

    // Google's webhook for the same lead comes late: the same dedupe key, so no second lead.
    let (status, body) = deliver(&app, "google-lead-basic", "google").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["duplicates"], 1, "{body}");
    assert_eq!(body["lead_id"], ids[0].as_str());
    assert_eq!(app.items_with_entity("lead").await, 3);
    app.drain().await;
    assert_eq!(app.emails_to("priya.raman@acme-robotics.io").await.len(), 1);
}

// ------------------------------------------------------------------ LinkedIn

fn linkedin_response(id: &str, submitted_ms: i64, email: &str) -> Value {
    json!({
        "id": id,
        "submittedAt": submitted_ms,
        "testLead": false,
        "leadType": "SPONSORED",
        "owner": {"sponsoredAccount": "urn:li:sponsoredAccount:509381726"},
        "versionedLeadGenFormUrn": "urn:li:versionedLeadGenForm:(urn:li:leadGenForm:71039482,3)",
        "formResponse": {"answers": [
            {"questionId": 1, "answerDetails": {"textQuestionAnswer": {"answer": email}}},
            {"questionId": 2, "answerDetails": {"textQuestionAnswer": {"answer": "Noah Fischer"}}},
        ]},
    })
}

#[tokio::test]
async fn the_linkedin_backstop_pages_by_start_over_an_accounts_lead_form_responses() {
    let march_17 = t("2026-03-17T12:00:00Z").timestamp_millis();
    let api = stand_in(move |s| {
        if !authorised(s, "local-linkedin-token") || s.header("linkedin-version").is_none() {
            return (401, "{}".into());
        }
        let page = match s.param("start").as_deref() {
            Some("0") => json!({
                "elements": [
                    linkedin_response("aaaa-1", march_17, "noah.fischer@example.com"),
                    linkedin_response("aaaa-2", march_17 + 60_000, "emma.berg@example.com"),
                ],
                "paging": {"start": 0, "count": 100, "total": 3},
            }),
            Some("2") => json!({
                "elements": [linkedin_response("aaaa-3", march_17 + 120_000, "liam.ng@example.com")],
                "paging": {"start": 2, "count": 100, "total": 3},
            }),
            _ => return (400, "{}".into()),
        };
        (200, page.to_string())
    })
    .await;
    let url = api.url.clone();
    let app = TestApp::with_config(move |c| {
        *c = c.replace(
            "secret = \"Lk9vQ2xR7tYw3ZpA\"",
            &format!("secret = \"Lk9vQ2xR7tYw3ZpA\"\naccess_token = \"local-linkedin-token\"\napi_url = \"{url}\"\nmapping = {{ \"1\" = \"email\", \"2\" = \"full_name\" }}"),
        );
        c.push_str("\n[sources.linkedin.backstop]\naccounts = [\"urn:li:sponsoredAccount:509381726\"]\n");
    })
    .await;
    app.clock.set(t("2026-03-17T13:00:00Z"));
    let report = app.stack.backstop().await.unwrap();
    assert_eq!((report.captured, report.failed), (3, 0), "{report:?}");
    let asked = api.seen();
    assert_eq!(asked.len(), 2);
    assert_eq!(asked[0].param("q").as_deref(), Some("owner"));
    assert_eq!(
        asked[0].param("owner").as_deref(),
        Some("(sponsoredAccount:urn:li:sponsoredAccount:509381726)")
    );
    assert!(asked[0]
        .query
        .contains("owner=(sponsoredAccount:urn%3Ali%3AsponsoredAccount%3A509381726)"));
    assert_eq!(
        asked[0].param("leadType").as_deref(),
        Some("(leadType:SPONSORED)")
    );
    let from = t("2026-03-10T13:00:00Z").timestamp_millis();
    let to = t("2026-03-17T13:00:00Z").timestamp_millis();
    assert_eq!(
        asked[0].param("submittedAtTimeRange"),
        Some(format!("(start:{from},end:{to})"))
    );
    assert_eq!(asked[1].param("start").as_deref(), Some("2"));
    assert_eq!(asked[0].header("x-restli-protocol-version"), Some("2.0.0"));

    let lead = app.lead(&report.details[0].lead_ids[0]).await;
    assert_eq!(lead.email(), Some("noah.fischer@example.com"));
    assert_eq!(lead.received_at, t("2026-03-17T12:00:00Z"));
    assert_eq!(lead.external_id.as_deref(), Some("aaaa-1"));
}
