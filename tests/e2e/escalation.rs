use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Duration;
use http::{Request, StatusCode};
use leadrelay_domain::lead::{EventKind, LeadStatus};

use leadrelay_domain::clock::Clock;

use crate::support::*;

async fn routed_lead(app: &TestApp) -> (String, leadrelay_domain::lead::Assignment) {
    let id = app.routed_lead().await;
    let owner = app.lead(&id).await.assignment.unwrap();
    (id, owner)
}

fn get(uri: &str) -> Request<Vec<u8>> {
    Request::get(uri).body(Vec::new()).unwrap()
}

#[tokio::test]
async fn a_lead_not_contacted_past_its_sla_escalates_to_the_manager_exactly_once() {
    let app = TestApp::new().await;
    let (id, owner) = routed_lead(&app).await;
    // Hot: 15 minutes. At 50 % the owner is reminded, at 100 % the manager is told.
    app.clock.advance(Duration::minutes(7));
    assert_eq!(app.stack.escalate().await.unwrap().due, 0);
    app.clock.advance(Duration::minutes(1));
    let r = app.stack.escalate().await.unwrap();
    assert_eq!((r.reminded, r.escalated), (1, 0));
    app.drain().await;
    let reminders = app.emails_to(&owner.owner_email).await;
    assert_eq!(reminders.len(), 2, "assignment and reminder: {reminders:?}");
    assert!(
        reminders[1].subject.starts_with("Reminder:"),
        "{}",
        reminders[1].subject
    );

    app.clock.advance(Duration::minutes(10));
    let r = app.stack.escalate().await.unwrap();
    assert_eq!((r.reminded, r.escalated), (0, 1));
    app.drain().await;
    // Later passes find nothing more to do.
    for _ in 0..3 {
        app.clock.advance(Duration::hours(1));
        assert_eq!(app.stack.escalate().await.unwrap().due, 0);
        app.drain().await;
    }
    let to_manager = app.emails_to(&owner.manager_email).await;
    assert_eq!(to_manager.len(), 1, "{to_manager:?}");
    assert!(
        to_manager[0].subject.starts_with("SLA breached"),
        "{}",
        to_manager[0].subject
    );
    assert!(
        to_manager[0]
            .body
            .contains("first contact was due 10:15 UTC, 3 minutes ago"),
        "{}",
        to_manager[0].body
    );
    let lead = app.lead(&id).await;
    let sla = lead.sla.unwrap();
    assert_eq!(sla.escalations.len(), 2);
    assert!(sla.next_at.is_none());
    let timeline = app.stack.deps.store.timeline(&id).await.unwrap();
    assert_eq!(
        timeline
            .iter()
            .filter(|e| e.kind == EventKind::Escalated)
            .count(),
        1
    );
}

#[tokio::test]
async fn a_lead_marked_contacted_in_time_does_not_escalate() {
    let app = TestApp::new().await;
    let (id, owner) = routed_lead(&app).await;
    let assignment = app.emails_to(&owner.owner_email).await.remove(0);
    let link = contacted_link(&assignment.body);
    app.clock.advance(Duration::minutes(5));
    let r = app.stack.http(contacted_post(&link, &[])).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.body());
    assert!(r.body().contains("recorded"));
    // Confirming again is harmless.
    let again = app.stack.http(contacted_post(&link, &[])).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert!(
        again.body().contains("already recorded"),
        "{}",
        again.body()
    );

    app.clock.advance(Duration::hours(3));
    assert_eq!(app.stack.escalate().await.unwrap().due, 0);
    app.drain().await;
    assert!(app.emails_to(&owner.manager_email).await.is_empty());
    assert_eq!(
        app.emails_to(&owner.owner_email).await.len(),
        1,
        "no reminder either"
    );
    let lead = app.lead(&id).await;
    assert_eq!(lead.status, LeadStatus::Working);
    assert_eq!(
        lead.sla.unwrap().contacted_at,
        Some(t("2026-03-02T10:05:00Z"))
    );
}

#[tokio::test]
async fn a_scanner_fetching_the_link_from_a_real_assignment_email_leaves_the_sla_running() {
    let app = TestApp::new().await;
    let (id, owner) = routed_lead(&app).await;
    let assignment = app.emails_to(&owner.owner_email).await.remove(0);
    let link = contacted_link(&assignment.body);
    assert!(link.contains("/contacted?token="), "{link}");
    // Safe Links, Proofpoint and Mimecast fetch every link as the email arrives, some more
    // than once, some with HEAD.
    for _ in 0..3 {
        let r = app.stack.http(get(&link)).await;
        assert_eq!(r.status(), StatusCode::OK, "{}", r.body());
        let h = r.headers();
        assert_eq!(h["content-type"], "text/html; charset=utf-8");
        assert_eq!(h["cache-control"], "no-store");
        assert_eq!(h["x-frame-options"], "DENY");
        assert!(h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-robots-tag"], "noindex");
        let page = r.body();
        assert!(page.contains("Have you contacted Ana Ferreira?"), "{page}");
        assert!(page.contains(">Mark as contacted</button>"), "{page}");
        assert!(page.contains("method=\"post\""), "{page}");
        assert!(!page.contains("<script"), "self-contained: {page}");
    }
    let head = Request::head(&link).body(Vec::new()).unwrap();
    assert_eq!(
        app.stack.http(head).await.status(),
        StatusCode::METHOD_NOT_ALLOWED
    );

    let lead = app.lead(&id).await;
    assert_eq!(lead.status, LeadStatus::New);
    let sla = lead.sla.unwrap();
    assert!(sla.is_open(), "{sla:?}");
    assert!(sla.contacted_at.is_none());
    assert!(!app.event_kinds(&id).await.contains(&EventKind::Contacted));
    // The ladder still runs: the owner is reminded at 50 % of the 15 minutes.
    app.clock.advance(Duration::minutes(8));
    assert_eq!(app.stack.escalate().await.unwrap().reminded, 1);
}

#[tokio::test]
async fn posting_the_confirmation_stops_the_clock() {
    let app = TestApp::new().await;
    let (id, owner) = routed_lead(&app).await;
    let link = contacted_link(&app.emails_to(&owner.owner_email).await[0].body);
    app.clock.advance(Duration::minutes(4));
    let page = app.stack.http(get(&link)).await;
    let (action, token) = confirmation_form(page.body());
    assert_eq!(action, link.split('?').next().unwrap());
    // As a browser posts the page's form: the page's origin, or `null` under its
    // `Referrer-Policy: no-referrer` (with `Sec-Fetch-Site: same-origin`).
    let r = app
        .stack
        .http(confirmation_post(
            &action,
            &token,
            &[("origin", LINKS_ORIGIN), ("sec-fetch-site", "same-origin")],
        ))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.body());
    assert!(
        r.body()
            .contains("Thanks, contact with Ana Ferreira is recorded."),
        "{}",
        r.body()
    );
    assert_eq!(r.headers()["cache-control"], "no-store");
    let again = app
        .stack
        .http(confirmation_post(
            &action,
            &token,
            &[("origin", "null"), ("sec-fetch-site", "same-origin")],
        ))
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    assert!(
        again.body().contains("already recorded"),
        "{}",
        again.body()
    );

    let lead = app.lead(&id).await;
    assert_eq!(lead.status, LeadStatus::Working);
    let sla = lead.sla.unwrap();
    assert!(!sla.is_open());
    assert_eq!(sla.contacted_at, Some(t("2026-03-02T10:04:00Z")));
    let kinds = app.event_kinds(&id).await;
    assert_eq!(
        kinds.iter().filter(|k| **k == EventKind::Contacted).count(),
        1
    );
    // The page now says so, without a button.
    let after = app.stack.http(get(&link)).await;
    assert_eq!(after.status(), StatusCode::OK);
    assert!(
        after.body().contains("already recorded"),
        "{}",
        after.body()
    );
    assert!(!after.body().contains("<form"), "{}", after.body());
    app.clock.advance(Duration::hours(3));
    assert_eq!(app.stack.escalate().await.unwrap().due, 0);
}

#[tokio::test]
async fn a_cross_origin_post_is_refused() {
    let app = TestApp::new().await;
    let (id, owner) = routed_lead(&app).await;
    let link = contacted_link(&app.emails_to(&owner.owner_email).await[0].body);
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("origin", "https://127.0.0.1:3000")],
        vec![("origin", "null")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("origin", "null"), ("sec-fetch-site", "cross-site")],
        vec![("origin", LINKS_ORIGIN), ("sec-fetch-site", "same-site")],
    ] {
        let r = app.stack.http(contacted_post(&link, &headers)).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{headers:?}");
        assert!(r.body().contains("Nothing was recorded"), "{}", r.body());
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    }
    let lead = app.lead(&id).await;
    assert_eq!(lead.status, LeadStatus::New);
    assert!(lead.sla.unwrap().is_open());
    assert!(!app.event_kinds(&id).await.contains(&EventKind::Contacted));
    // The same token from the page's own origin is accepted.
    let r = app
        .stack
        .http(contacted_post(&link, &[("origin", LINKS_ORIGIN)]))
        .await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.body());
}

/// A ladder that reassigns at 200 % (after the reminder and the manager's alert).
fn with_reassignment(c: &mut String) {
    *c = c.replace(
        "action = \"notify_manager\"",
        "action = \"notify_manager\"\n\n[[sla.escalation]]\nat_percent = 200\naction = \"reassign\"",
    );
}

#[tokio::test]
async fn the_previous_owners_link_after_a_reassignment_is_refused() {
    let app = TestApp::with_config(with_reassignment).await;
    let (id, first) = routed_lead(&app).await;
    let old_link = contacted_link(&app.emails_to(&first.owner_email).await[0].body);
    // Hot: 15 minutes; at 200 % the lead goes to the next owner with a fresh clock.
    for minutes in [8, 7, 15] {
        app.clock.advance(Duration::minutes(minutes));
        app.stack.escalate().await.unwrap();
        app.drain().await;
    }
    let lead = app.lead(&id).await;
    let second = lead.assignment.clone().expect("reassigned");
    assert_ne!(second.owner_id, first.owner_id);
    assert_eq!(lead.round, 1);

    // The first owner's link (assignment or reminder) shows the refusal and records nothing.
    let shown = app.stack.http(get(&old_link)).await;
    assert_eq!(shown.status(), StatusCode::CONFLICT, "{}", shown.body());
    assert!(!shown.body().contains("<form"), "{}", shown.body());
    let reminder = app.emails_to(&first.owner_email).await;
    assert_eq!(reminder.len(), 2, "assignment and reminder: {reminder:?}");
    for link in [old_link.clone(), contacted_link(&reminder[1].body)] {
        let r = app
            .stack
            .http(contacted_post(&link, &[("origin", LINKS_ORIGIN)]))
            .await;
        assert_eq!(r.status(), StatusCode::CONFLICT, "{}", r.body());
        assert!(
            r.body().contains("earlier assignment") && r.body().contains("Nothing was recorded"),
            "{}",
            r.body()
        );
        assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    }
    let lead = app.lead(&id).await;
    assert_eq!(lead.status, LeadStatus::New);
    assert!(
        lead.sla.as_ref().unwrap().is_open(),
        "the new owner's clock runs"
    );
    assert!(!app.event_kinds(&id).await.contains(&EventKind::Contacted));
    // The new owner is still reminded.
    app.clock.advance(Duration::minutes(8));
    assert_eq!(app.stack.escalate().await.unwrap().reminded, 1);
    app.drain().await;

    // The new owner's own link works.
    let new_link = contacted_link(&app.emails_to(&second.owner_email).await[0].body);
    let r = app.stack.http(contacted_post(&new_link, &[])).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.body());
    assert_eq!(app.lead(&id).await.status, LeadStatus::Working);
}

#[tokio::test]
async fn a_tampered_expired_or_outdated_contacted_link_is_refused() {
    let app = TestApp::new().await;
    let (id, owner) = routed_lead(&app).await;
    let link = contacted_link(&app.emails_to(&owner.owner_email).await[0].body);

    let other_lead = link.replace(&id, "01JZZZZZZZZZZZZZZZZZZZZZZZ");
    let mut forged = link.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let no_token = link.split('?').next().unwrap().to_owned();
    for bad in [&other_lead, &forged, &no_token] {
        assert_eq!(
            app.stack.http(get(bad)).await.status(),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            app.stack.http(contacted_post(bad, &[])).await.status(),
            StatusCode::FORBIDDEN
        );
    }

    // A genuine link of the first format (signed with only the lead id and expiry) names no
    // owner or round: refused, asking for the latest email.
    let expires = (app.clock.now() + Duration::days(7)).timestamp();
    let key = app.stack.deps.secrets.link().unwrap().expose().to_owned();
    let mut m = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(key.as_bytes()).unwrap();
    hmac::Mac::update(&mut m, format!("contacted:{id}:{expires}").as_bytes());
    let tag = hmac::Mac::finalize(m).into_bytes();
    let old = format!(
        "/v1/leads/{id}/contacted?token={expires}.{}",
        base64_url(&tag)
    );
    for r in [
        app.stack.http(get(&old)).await,
        app.stack.http(contacted_post(&old, &[])).await,
    ] {
        assert_eq!(r.status(), StatusCode::GONE, "{}", r.body());
        assert!(r.body().contains("older email"), "{}", r.body());
        assert!(r.body().contains("latest email"), "{}", r.body());
    }

    app.clock.advance(Duration::days(8));
    for r in [
        app.stack.http(get(&link)).await,
        app.stack.http(contacted_post(&link, &[])).await,
    ] {
        assert_eq!(r.status(), StatusCode::GONE);
        assert!(r.body().contains("expired"));
    }
    let lead = app.lead(&id).await;
    assert_eq!(lead.status, LeadStatus::New);
    assert!(lead.sla.unwrap().contacted_at.is_none());
}

/// Unpadded base64url, as tokens carry their tags.
fn base64_url(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[tokio::test]
async fn an_sla_counts_the_teams_business_hours_friday_evening_to_monday_morning() {
    let app = TestApp::new().await;
    // Friday 16:55 in Berlin; the enterprise team counts Berlin business hours (09:00–17:00).
    app.clock.set(t("2026-03-13T15:55:00Z"));
    let lead = serde_json::json!({ "email": "p.raman@globex.example", "message": "A demo, please", "employees": 5000 });
    let id = app.capture(app.signed_json(&lead)).await;
    app.drain().await;
    let l = app.lead(&id).await;
    assert_eq!(l.assignment.as_ref().unwrap().team, "enterprise");
    assert_eq!(l.score.as_ref().unwrap().tier, "warm", "a 1-hour SLA");
    let sla = l.sla.unwrap();
    assert_eq!(sla.started_at, t("2026-03-13T15:55:00Z"));
    assert_eq!(
        sla.due_at,
        t("2026-03-16T08:55:00Z"),
        "Monday 09:55 in Berlin"
    );

    app.clock.set(t("2026-03-14T12:00:00Z"));
    assert_eq!(
        app.stack.escalate().await.unwrap().due,
        0,
        "nothing over the weekend"
    );
    app.clock.set(t("2026-03-16T08:25:00Z"));
    assert_eq!(
        app.stack.escalate().await.unwrap().reminded,
        1,
        "half the business hour is gone on Monday 09:25"
    );
    app.clock.set(t("2026-03-16T08:55:00Z"));
    assert_eq!(app.stack.escalate().await.unwrap().escalated, 1);
}

#[tokio::test]
async fn the_whole_ladder_reminds_escalates_reassigns_once_then_tells_the_team_manager() {
    let app = TestApp::with_config(|c| {
        *c = c
            .replace("[sla.targets]", "[sla]\nmax_reassignments = 1\n\n[sla.targets]")
            .replace(
                "action = \"notify_manager\"",
                "action = \"notify_manager\"\n\n[[sla.escalation]]\nat_percent = 200\naction = \"reassign\"\n\n[[sla.escalation]]\nat_percent = 300\naction = \"notify_team_manager\"",
            );
    })
    .await;
    // Hot: a 15-minute SLA.
    let id = app.capture(app.signed_json(&ana())).await;
    app.drain().await;
    let first = app.lead(&id).await.assignment.unwrap();
    let pass = |minutes: i64| {
        let app = &app;
        async move {
            app.clock.advance(Duration::minutes(minutes));
            let r = app.stack.escalate().await.unwrap();
            app.drain().await;
            r
        }
    };
    assert_eq!(pass(8).await.reminded, 1);
    assert_eq!(pass(7).await.escalated, 1);
    assert_eq!(pass(15).await.reassigned, 1, "at 200 %");
    let lead = app.lead(&id).await;
    let second = lead.assignment.clone().unwrap();
    assert_ne!(
        second.owner_id, first.owner_id,
        "never back to who let it lapse"
    );
    assert_eq!(lead.previous_owners, vec![first.owner_id.clone()]);
    assert!(
        second.reason.contains("already let this lead lapse"),
        "{}",
        second.reason
    );
    assert_eq!(
        lead.sla.as_ref().unwrap().started_at,
        app.clock.now(),
        "a fresh clock"
    );
    assert_eq!(
        app.emails_to(&second.owner_email).await.len(),
        1,
        "the new owner is told"
    );

    // The second owner lets it lapse too: reminded, escalated, not passed on again (one hop
    // allowed), and the team's manager hears of it.
    assert_eq!(pass(8).await.reminded, 1);
    assert_eq!(pass(7).await.escalated, 1);
    assert_eq!(pass(15).await.reassigned, 0);
    assert_eq!(pass(15).await.escalated, 1);
    let team_manager = "marta.klein@sales.example.com";
    let to_team_manager: Vec<_> = app
        .emails_to(team_manager)
        .await
        .into_iter()
        .filter(|e| e.subject.starts_with("SLA breached"))
        .collect();
    // Marta manages both owners and the team: two owner-manager escalations and the team's.
    assert_eq!(to_team_manager.len(), 3, "{to_team_manager:?}");
    // Each step once: later passes do nothing.
    for _ in 0..3 {
        let r = pass(60).await;
        assert_eq!((r.reminded, r.escalated, r.reassigned), (0, 0, 0));
    }
    let kinds = app.event_kinds(&id).await;
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == EventKind::Reassigned)
            .count(),
        1
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == EventKind::Reminded).count(),
        2
    );
}

/// A routed lead on a shard of the eight that a count of two no longer writes (lead ids are
/// random: three in four land beyond shard 1).
async fn lead_beyond_shard_1(app: &TestApp) -> (String, leadrelay_domain::lead::Assignment) {
    for i in 0..20 {
        let mut person = ana();
        // Another person each time: the same one would be joined to the first lead.
        person["email"] = format!("ana.{i}@northwind-logistics.com").into();
        person["phone"] = format!("(415) 555-{:04}", 3000 + i).into();
        let id = app.capture(app.signed_json(&person)).await;
        app.drain().await;
        if leadrelay_aws::store::sla_shard_of(&id, 8) >= 2 {
            return (id.clone(), app.lead(&id).await.assignment.unwrap());
        }
    }
    panic!("no lead beyond shard 1 in 20");
}

/// The app's dependencies as functions deployed with `SlaShards` = `shards` build them.
fn with_sla_shards(app: &TestApp, shards: u32) -> leadrelay_aws::Deps {
    let mut deps = app.stack.deps.clone();
    deps.store = leadrelay_aws::store::Store::new(
        app.stack.deps.store.client().clone(),
        app.stack.deps.store.table(),
        shards,
        app.stack.deps.store.sweep_grace(),
        None,
    );
    deps
}

/// One escalation pass of functions built as `deps`, at the app's time.
async fn pass(deps: &leadrelay_aws::Deps, app: &TestApp) -> leadrelay_escalate::PassReport {
    leadrelay_escalate::run_pass(deps, app.clock.now())
        .await
        .unwrap()
}

/// The key of a lead's item.
fn lead_key(id: &str) -> std::collections::HashMap<String, AttributeValue> {
    [("pk", format!("LEAD#{id}")), ("sk", "LEAD".to_owned())]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), AttributeValue::S(v)))
        .collect()
}

/// The index's item attribute `sla_shard` of a lead, as stored.
async fn indexed_shard(app: &TestApp, id: &str) -> Option<String> {
    let key = lead_key(id);
    let item = app
        .stack
        .deps
        .store
        .client()
        .get_item()
        .table_name(app.stack.deps.store.table())
        .set_key(Some(key))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    item.get("sla_shard").map(|v| v.as_s().unwrap().clone())
}

#[tokio::test]
async fn leads_indexed_before_sla_shards_was_lowered_still_escalate_and_the_old_shards_retire() {
    let app = TestApp::new().await;
    assert_eq!(app.stack.deps.store.sla_shards(), 8);
    let (id, owner) = lead_beyond_shard_1(&app).await;
    assert_eq!(app.stack.escalate().await.unwrap().due, 0);

    // The operator lowers SlaShards to 2: the functions now write two shards only.
    let narrow = with_sla_shards(&app, 2);
    app.clock.advance(Duration::minutes(8));
    let r = pass(&narrow, &app).await;
    assert!(r.reminded >= 1, "{r:?}");
    app.drain().await;
    let reminders = app.emails_to(&owner.owner_email).await;
    assert!(
        reminders.iter().any(|e| e.subject.starts_with("Reminder:")),
        "the lead on a retired shard is reminded: {reminders:?}"
    );
    assert_eq!(app.lead(&id).await.sla.unwrap().escalations.len(), 1);
    let shard = indexed_shard(&app, &id).await.expect("still timed");
    assert!(
        ["shard-0", "shard-1"].contains(&shard.as_str()),
        "saved onto the new shards: {shard}"
    );
    let record = narrow.store.sla_shard_record().await.unwrap().unwrap();
    assert_eq!(record.widest, 8, "the old shards are still read");
    assert!(record.narrowed_at.is_some());

    // Past the SLA and the hour's grace: the last step is taken, nothing is left on the old
    // shards, and they are no longer read.
    app.clock.advance(Duration::hours(2));
    let r = pass(&narrow, &app).await;
    assert!(r.escalated >= 1, "{r:?}");
    app.drain().await;
    assert_eq!(app.lead(&id).await.sla.unwrap().escalations.len(), 2);
    assert_eq!(
        app.emails_to(&owner.manager_email).await.len(),
        r.escalated,
        "one email to the manager per lead escalated"
    );
    // Read afresh, as a new environment would.
    let record = with_sla_shards(&app, 2)
        .store
        .sla_shard_record()
        .await
        .unwrap()
        .unwrap();
    assert_eq!((record.widest, record.narrowed_at), (2, None));
}

#[tokio::test]
async fn an_old_shard_is_read_as_long_as_a_lead_waits_on_it() {
    // An eight-hour SLA: the first step (at half) comes long after the narrowing's grace.
    let app = TestApp::with_config(|c| *c = c.replace(r#"hot = "15m""#, r#"hot = "8h""#)).await;
    let (id, owner) = lead_beyond_shard_1(&app).await;
    assert_eq!(app.stack.escalate().await.unwrap().due, 0);
    let narrow = with_sla_shards(&app, 2);
    for _ in 0..3 {
        assert_eq!(pass(&narrow, &app).await.due, 0);
        app.clock.advance(Duration::minutes(90));
    }
    // Past the grace, the empty shards above the lead's are forgotten; its own is still read.
    let shard = leadrelay_aws::store::sla_shard_of(&id, 8);
    let record = narrow.store.sla_shard_record().await.unwrap().unwrap();
    assert_eq!(
        (record.widest, record.narrowed_to),
        (shard + 1, Some(2)),
        "the lead's shard is still read, hours later"
    );

    app.clock.advance(Duration::hours(1));
    let r = pass(&narrow, &app).await;
    assert!(r.reminded >= 1, "{r:?}");
    app.drain().await;
    let sla = app.lead(&id).await.sla.unwrap();
    assert_eq!(sla.escalations.len(), 1, "reminded: {sla:?}");
    let reminders = app.emails_to(&owner.owner_email).await;
    assert!(
        reminders.iter().any(|e| e.subject.starts_with("Reminder:")),
        "{reminders:?}"
    );
}

/// The key of the SLA shards record's item.
fn shards_record_key() -> std::collections::HashMap<String, AttributeValue> {
    [("pk", "INDEX#sla-open"), ("sk", "SHARDS")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), AttributeValue::S(v.to_owned())))
        .collect()
}

/// Deletes the SLA shards record, as on a table no pass of this release has run on.
pub async fn forget_the_shards_record(app: &TestApp) {
    let key = shards_record_key();
    let store = &app.stack.deps.store;
    store
        .client()
        .delete_item()
        .table_name(store.table())
        .set_key(Some(key))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_table_without_a_record_reads_every_shard_through_the_first_hour_then_forgets_the_empty_ones(
) {
    let app = TestApp::new().await;
    // Deployed with two shards onto a table indexed by a release that kept no record.
    forget_the_shards_record(&app).await;
    let narrow = with_sla_shards(&app, 2);
    assert_eq!(pass(&narrow, &app).await.due, 0);
    let record = narrow.store.sla_shard_record().await.unwrap().unwrap();
    assert_eq!(
        (record.widest, record.narrowed_to),
        (leadrelay_domain::sla_shards::MAX_SHARDS, Some(2))
    );

    // A function of the deploy still running with the old count of eight indexes a lead after
    // that first pass.
    let (id, owner) = lead_beyond_shard_1(&app).await;
    app.clock.advance(Duration::minutes(8));
    let r = pass(&narrow, &app).await;
    assert!(r.reminded >= 1, "{r:?}");
    assert_eq!(app.lead(&id).await.sla.unwrap().escalations.len(), 1);

    // Past the hour: the last step is taken on the new shards, and the empty old ones are no
    // longer read.
    app.clock.advance(Duration::hours(2));
    let r = pass(&narrow, &app).await;
    assert!(r.escalated >= 1, "{r:?}");
    app.drain().await;
    assert_eq!(app.emails_to(&owner.manager_email).await.len(), r.escalated);
    let record = with_sla_shards(&app, 2)
        .store
        .sla_shard_record()
        .await
        .unwrap()
        .unwrap();
    assert_eq!((record.widest, record.narrowed_at), (2, None));
}

/// Indexes a lead on `shard`, as a function with a wider count than any pass ran with would.
async fn index_on_shard(app: &TestApp, id: &str, shard: u32) {
    let key = lead_key(id);
    let store = &app.stack.deps.store;
    store
        .client()
        .update_item()
        .table_name(store.table())
        .set_key(Some(key))
        .update_expression("SET sla_shard = :s")
        .expression_attribute_values(":s", AttributeValue::S(format!("shard-{shard}")))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn a_lead_indexed_beyond_every_recorded_count_is_found_and_escalated() {
    let app = TestApp::new().await;
    let (id, owner) = routed_lead(&app).await;
    // SlaShards raised to 16 and rolled back to 8 before any pass ran with 16: a function with
    // 16 had indexed the lead on shard 12.
    index_on_shard(&app, &id, 12).await;
    assert_eq!(indexed_shard(&app, &id).await.as_deref(), Some("shard-12"));
    // No pass has looked beyond the record yet (the local stack's new table starts with a look
    // at its making, in real time, ahead of this test's clock).
    let store = &app.stack.deps.store;
    let made = store.sla_shard_record().await.unwrap().unwrap();
    assert!(made.looked_beyond_at.is_some());
    let never_looked = leadrelay_domain::sla_shards::ShardRecord::written_with(8);
    assert!(store
        .put_sla_shard_record(&never_looked, Some(&made))
        .await
        .unwrap());
    app.clock.advance(Duration::minutes(8));
    let deployed = with_sla_shards(&app, 8);
    let r = pass(&deployed, &app).await;
    assert!(r.reminded >= 1, "{r:?}");
    assert_eq!(app.lead(&id).await.sla.unwrap().escalations.len(), 1);
    let record = deployed.store.sla_shard_record().await.unwrap().unwrap();
    assert_eq!((record.widest, record.narrowed_to), (13, Some(8)));
    assert_eq!(record.looked_beyond_at, Some(app.clock.now()));

    app.clock.advance(Duration::hours(2));
    let r = pass(&deployed, &app).await;
    assert!(r.escalated >= 1, "{r:?}");
    app.drain().await;
    assert_eq!(app.emails_to(&owner.manager_email).await.len(), r.escalated);
    let record = with_sla_shards(&app, 8)
        .store
        .sla_shard_record()
        .await
        .unwrap()
        .unwrap();
    assert_eq!((record.widest, record.narrowed_at), (8, None));
}

#[tokio::test]
async fn a_shards_record_out_of_bounds_reads_every_shard_and_is_reported() {
    let app = TestApp::new().await;
    let (id, _) = lead_beyond_shard_1(&app).await;
    put_shards_record(&app, AttributeValue::N("100000".into())).await;
    let narrow = with_sla_shards(&app, 2);
    app.clock.advance(Duration::minutes(8));
    let r = pass(&narrow, &app).await;
    assert_eq!(r.unreadable, 1, "{r:?}");
    assert!(r.reminded >= 1, "{r:?}");
    assert_eq!(app.lead(&id).await.sla.unwrap().escalations.len(), 1);
    // The operator's view of what waits reads every shard there can be, as the pass does.
    let waiting = with_sla_shards(&app, 2).store.timed_leads().await.unwrap();
    assert!(waiting.leads.iter().any(|l| l.lead_id == id));
    // Nor does the CLI save leads on shards no pass reads.
    let cli = cli_resources(&app)
        .with_recorded_sla_shards(app.stack.deps.store.client())
        .await;
    assert!(
        matches!(
            cli,
            Err(leadrelay_aws::deps::RecordedShardsError::OutOfBounds)
        ),
        "{cli:?}"
    );
}

/// Stores a shards record whose `widest` is `widest`, as an operator's edit might.
async fn put_shards_record(app: &TestApp, widest: AttributeValue) {
    let mut item = shards_record_key();
    item.insert("entity".into(), AttributeValue::S("sla-shards".into()));
    item.insert("widest".into(), widest);
    let store = &app.stack.deps.store;
    store
        .client()
        .put_item()
        .table_name(store.table())
        .set_item(Some(item))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn an_unreadable_shards_record_reads_every_shard_and_is_reported() {
    let app = TestApp::new().await;
    let (id, _) = lead_beyond_shard_1(&app).await;
    put_shards_record(&app, AttributeValue::S("sixteen".into())).await;
    let narrow = with_sla_shards(&app, 2);
    app.clock.advance(Duration::minutes(8));
    let r = pass(&narrow, &app).await;
    assert_eq!(r.unreadable, 1, "{r:?}");
    assert!(r.reminded >= 1, "{r:?}");
    assert_eq!(app.lead(&id).await.sla.unwrap().escalations.len(), 1);
}

/// The CLI's resources without `LEADRELAY_SLA_SHARDS`, before the record is read.
fn cli_resources(app: &TestApp) -> leadrelay_aws::deps::Resources {
    leadrelay_aws::deps::Resources {
        table: app.stack.deps.store.table().to_owned(),
        captured_queue_url: String::new(),
        scored_queue_url: String::new(),
        notify_queue_url: String::new(),
        sla_shards: leadrelay_aws::deps::DEFAULT_SLA_SHARDS,
    }
}

#[tokio::test]
async fn the_cli_without_a_count_writes_with_the_one_escalate_last_ran_with() {
    let app = TestApp::new().await;
    let unset = cli_resources(&app);
    let client = app.stack.deps.store.client();
    let as_made = unset
        .clone()
        .with_recorded_sla_shards(client)
        .await
        .unwrap();
    assert_eq!(as_made.sla_shards, 8);

    // The deployment runs with two shards now; escalate has noted the narrowing.
    pass(&with_sla_shards(&app, 2), &app).await;
    let cli = unset.with_recorded_sla_shards(client).await.unwrap();
    assert_eq!(cli.sla_shards, 2);
}
