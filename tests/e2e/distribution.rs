use std::collections::BTreeMap;

use chrono::Duration;
use futures::future::join_all;
use leadrelay_aws::queue::QueueName;
use leadrelay_domain::clock::Clock;
use leadrelay_domain::lead::EventKind;

use crate::support::*;

/// Captures `n` plain leads and runs enrich on them: they wait, scored, for route.
async fn scored_leads(app: &TestApp, n: usize, tag: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..n {
        let lead = serde_json::json!({ "email": format!("{tag}{i}@example.org") });
        ids.push(app.capture(app.signed_json(&lead)).await);
    }
    while app.stack.poll(QueueName::Captured, 0).await.unwrap() > 0 {}
    ids
}

async fn owners_of(app: &TestApp, ids: &[String]) -> BTreeMap<String, usize> {
    let mut per_owner = BTreeMap::new();
    for id in ids {
        let owner = app.lead(id).await.assignment.expect("routed").owner_id;
        *per_owner.entry(owner).or_default() += 1;
    }
    per_owner
}

#[tokio::test]
async fn fifty_leads_routed_at_once_respect_weights_and_caps_exactly_and_are_never_double_assigned()
{
    let app = TestApp::with_config(|c| {
        *c = c
            .replace(
                "email = \"ana.costa@sales.example.com\"\n",
                "email = \"ana.costa@sales.example.com\"\nweight = 2\n",
            )
            .replace(
                "email = \"chen.wei@sales.example.com\"\n",
                "email = \"chen.wei@sales.example.com\"\nmax_per_day = 8\n",
            );
    })
    .await;
    let ids = scored_leads(&app, 50, "rush").await;
    // Fifty routers at once over one team.
    let results = join_all(
        ids.iter()
            .map(|id| leadrelay_route::route_lead(&app.stack.deps, id.clone())),
    )
    .await;
    for r in results {
        r.expect("every lead is routed");
    }
    app.drain().await;

    let per = owners_of(&app, &ids).await;
    let (ana, ben, chen) = (per["ana"], per["ben"], per["chen"]);
    assert_eq!(ana + ben + chen, 50, "{per:?}");
    assert_eq!(chen, 8, "capped at 8 a day: {per:?}");
    assert!(
        (ana as i64 - 2 * ben as i64).abs() <= 2,
        "2:1 between ana and ben: {per:?}"
    );
    for id in &ids {
        let routed = app
            .stack
            .deps
            .store
            .timeline(id)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.kind == EventKind::Routed)
            .count();
        assert_eq!(routed, 1, "lead {id} routed {routed} times");
    }
    let rotation = app.stack.deps.store.rotation("sales").await.unwrap();
    let counted: u64 = rotation.owners.values().map(|o| o.assigned).sum();
    assert_eq!(counted, 50, "the rotation counted each lead once");
}

#[tokio::test]
async fn an_owner_away_gets_no_leads_and_back_takes_a_fair_share_not_a_burst() {
    let app = TestApp::new().await;
    let until = app.clock.now() + Duration::days(7);
    leadrelay_route::set_away(&app.stack.deps, "ana", Some(until))
        .await
        .unwrap();
    let away = scored_leads(&app, 6, "away").await;
    app.drain().await;
    let per = owners_of(&app, &away).await;
    assert_eq!(per.get("ana"), None, "{per:?}");
    assert_eq!((per["ben"], per["chen"]), (3, 3));
    let reason = app.lead(&away[0]).await.assignment.unwrap().reason;
    assert!(
        reason.contains("ana skipped: away until 2026-03-09 10:00 UTC"),
        "{reason}"
    );

    leadrelay_route::set_away(&app.stack.deps, "ana", None)
        .await
        .unwrap();
    let back = scored_leads(&app, 6, "back").await;
    app.drain().await;
    let per = owners_of(&app, &back).await;
    assert_eq!(
        per.get("ana"),
        Some(&2),
        "her share, not the 3 she missed: {per:?}"
    );
}

#[tokio::test]
async fn a_lead_from_a_configured_account_goes_to_its_owner() {
    let app = TestApp::with_config(|c| {
        *c = c.replace(
            "fallback_team = \"sales\"",
            "fallback_team = \"sales\"\naccounts = [{ domain = \"northwind-logistics.com\", owner = \"emil\" }]",
        );
    })
    .await;
    let id = app.capture(app.signed_json(&ana())).await;
    app.drain().await;
    let a = app.lead(&id).await.assignment.unwrap();
    assert_eq!(
        (a.owner_id.as_str(), a.team.as_str()),
        ("emil", "enterprise")
    );
    assert_eq!(
        a.reason,
        "configured account northwind-logistics.com → emil"
    );
}

#[tokio::test]
async fn an_account_is_learned_from_the_domains_earlier_lead() {
    let app = TestApp::with_config(|c| {
        *c = c.replace(
            "fallback_team = \"sales\"",
            "fallback_team = \"sales\"\nlearn_accounts_for = \"90d\"",
        );
    })
    .await;
    let first = app
        .capture(app.signed_json(&serde_json::json!({ "email": "li@globex.example" })))
        .await;
    app.drain().await;
    let owner = app.lead(&first).await.assignment.unwrap().owner_id;
    app.clock.advance(Duration::days(10));
    let mut later = Vec::new();
    for who in ["mo", "ng", "oz"] {
        let id = app
            .capture(
                app.signed_json(&serde_json::json!({ "email": format!("{who}@globex.example") })),
            )
            .await;
        app.drain().await;
        later.push(app.lead(&id).await.assignment.unwrap());
    }
    for a in &later {
        assert_eq!(a.owner_id, owner, "{}", a.reason);
        assert!(
            a.reason.starts_with("account globex.example learned: "),
            "{}",
            a.reason
        );
    }
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
    let kinds: Vec<EventKind> = app
        .stack
        .deps
        .store
        .timeline(&id)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind)
        .collect();
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

#[tokio::test]
async fn the_dry_run_prints_the_routing_trace_on_the_live_rotation_and_assigns_nothing() {
    let app = TestApp::new().await;
    leadrelay_route::set_away(
        &app.stack.deps,
        "ben",
        Some(app.clock.now() + Duration::days(2)),
    )
    .await
    .unwrap();
    let before = app.stack.deps.store.rotation("sales").await.unwrap();
    let dir = std::env::temp_dir().join(format!("leadrelay-dry-run-{}", ulid::Ulid::new()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("lead.json");
    std::fs::write(
        &file,
        r#"{"email":"vp@initech.example","job_title":"VP Sales","message":"demo?"}"#,
    )
    .unwrap();
    let config = &app.stack.deps.config;
    let lead = leadrelay_cli::dry_run::scored_lead(config, file.to_str().unwrap(), "json").unwrap();
    let states = app
        .stack
        .deps
        .store
        .rotations(config.teams.keys().map(String::as_str))
        .await
        .unwrap();
    let trace = leadrelay_cli::dry_run::route_report(config, &lead, &states, app.clock.now());
    assert!(
        trace.contains("route (dry run: nothing assigned):"),
        "{trace}"
    );
    assert!(trace.contains("team sales candidates: "), "{trace}");
    assert!(trace.contains("ben skipped: away until"), "{trace}");
    assert!(trace.contains("picked "), "{trace}");
    assert_eq!(
        app.stack.deps.store.rotation("sales").await.unwrap(),
        before,
        "nothing counted"
    );
    std::fs::remove_dir_all(dir).ok();
}
