use std::collections::BTreeMap;

use chrono::Duration;
use leadrelay_domain::clock::Clock;

use crate::support::*;

#[tokio::test]
async fn ten_leads_over_a_team_of_three_are_split_4_3_3_in_order() {
    let app = TestApp::new().await;
    let mut ids = Vec::new();
    for i in 0..10 {
        let lead = serde_json::json!({ "email": format!("lead{i}@example.org"), "full_name": format!("Lead {i}") });
        ids.push(app.capture(app.signed_json(&lead)).await);
    }
    app.drain().await;
    let mut per_owner: BTreeMap<String, usize> = BTreeMap::new();
    for id in &ids {
        let owner = app
            .lead(id)
            .await
            .assignment
            .expect("every lead gets an owner")
            .owner_id;
        *per_owner.entry(owner).or_default() += 1;
    }
    let mut counts: Vec<usize> = per_owner.values().copied().collect();
    counts.sort_unstable();
    assert_eq!(counts, vec![3, 3, 4], "{per_owner:?}");
    assert_eq!(
        per_owner.keys().cloned().collect::<Vec<_>>(),
        vec!["ana", "ben", "chen"]
    );
}

#[tokio::test]
async fn a_matching_rule_sends_the_lead_to_its_team_and_says_why() {
    let app = TestApp::new().await;
    let mut lead = ana();
    lead["employees"] = 5000.into();
    let id = app.capture(app.signed_json(&lead)).await;
    app.drain().await;
    let a = app.lead(&id).await.assignment.unwrap();
    assert_eq!(a.team, "enterprise");
    assert!(
        a.reason.starts_with(
            "rule enterprise-size matched → team enterprise; team enterprise candidates: "
        ),
        "{}",
        a.reason
    );
    assert!(
        a.reason.contains(&format!("picked {}", a.owner_id)),
        "{}",
        a.reason
    );
}

#[tokio::test]
async fn inactive_owners_get_no_leads_and_the_reason_names_them() {
    let app = TestApp::with_config(|c| {
        *c = c.replace(
            "email = \"ben.okafor@sales.example.com\"\n",
            "email = \"ben.okafor@sales.example.com\"\nactive = false\n",
        );
    })
    .await;
    let mut reasons = Vec::new();
    for i in 0..4 {
        let id = app
            .capture(app.signed_json(&serde_json::json!({ "email": format!("p{i}@example.org") })))
            .await;
        app.drain().await;
        let a = app.lead(&id).await.assignment.unwrap();
        assert_ne!(a.owner_id, "ben");
        reasons.push(a.reason);
    }
    assert!(
        reasons.iter().all(|r| r.contains("ben skipped: inactive")),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn a_duplicated_route_message_does_not_cost_an_owner_their_turn() {
    use leadrelay_aws::queue::{LeadMessage, QueueName};
    let app = TestApp::new().await;
    let lead = |i: usize| serde_json::json!({ "email": format!("dup{i}@example.org") });
    let first = app.capture(app.signed_json(&lead(1))).await;
    app.drain().await;
    let second = app.capture(app.signed_json(&lead(2))).await;
    // Enrich runs, then SQS hands route the same message twice, in one batch.
    app.stack.poll(QueueName::Captured, 0).await.unwrap();
    app.stack
        .deps
        .queues
        .send(
            QueueName::Scored,
            &LeadMessage {
                lead_id: second.clone(),
            },
        )
        .await
        .unwrap();
    app.drain().await;
    let third = app.capture(app.signed_json(&lead(3))).await;
    app.drain().await;
    let owners = [
        app.lead(&first).await.assignment.unwrap().owner_id,
        app.lead(&second).await.assignment.unwrap().owner_id,
        app.lead(&third).await.assignment.unwrap().owner_id,
    ];
    let mut owners = owners.to_vec();
    owners.sort();
    assert_eq!(
        owners,
        ["ana", "ben", "chen"],
        "one lead each: the duplicate took no turn"
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
