use std::collections::BTreeMap;

use chrono::Duration;
use futures::future::join_all;
use leadrelay_aws::queue::QueueName;
use leadrelay_aws::store::StoreError;
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
    // A router that lost the race until its time budget ran out hands its message back, and
    // SQS delivers it again: do what the redelivery does. How many lose that long depends on
    // the machine's speed, never on what the routers decide.
    for (id, r) in ids.iter().zip(results) {
        match r {
            Ok(_) => {}
            Err(leadrelay_route::RouteError::Store(StoreError::Conflict)) => {
                leadrelay_route::route_lead(&app.stack.deps, id.clone())
                    .await
                    .expect("a redelivered lead is routed");
            }
            Err(e) => panic!("lead {id} not routed: {e}"),
        }
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
