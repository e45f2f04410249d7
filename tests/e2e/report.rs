//! The speed-to-lead report over what the pipeline really wrote, and over a seeded history
//! read back from the table.

use chrono::Duration;
use leadrelay_cli::report::read;
use leadrelay_domain::report::{self, sample, Elapsed, Params};

use crate::support::{t, TestApp};

fn params(since: &str, until: &str) -> Params {
    Params {
        since: t(since),
        until: t(until),
        now: t(until),
        team: None,
        owner: None,
        source: None,
    }
}

#[tokio::test]
async fn the_report_measures_a_lead_the_pipeline_carried_and_its_owner_contacted() {
    let app = TestApp::new().await;
    let id = app.routed_lead_worked_after(Duration::minutes(3)).await;
    let deps = &app.stack.deps;
    let history = read::history(
        &deps.store,
        t("2026-03-02T00:00:00Z"),
        t("2026-03-03T00:00:00Z"),
    )
    .await
    .unwrap();
    assert_eq!(history.len(), 1);
    let r = report::build(
        &history,
        &deps.config,
        &params("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z"),
        None,
    );
    let s = &r.speed.overall;
    assert_eq!(r.real_leads, 1);
    // The manual clock stood still through the pipeline: acknowledged and assigned at arrival.
    assert_eq!(s.acknowledged.wall.p50, Some(Elapsed::Secs(0)));
    assert_eq!(s.assigned.wall.p50, Some(Elapsed::Secs(0)));
    assert_eq!(s.contacted.wall.p50, Some(Elapsed::Secs(180)));
    assert_eq!(s.human.wall.p50, Some(Elapsed::Secs(180)));
    assert_eq!((r.sla.overall.met, r.sla.overall.breached), (1, 0));
    let owner = app.lead(&id).await.assignment.unwrap().owner_id;
    let share = r.fairness.owners.iter().find(|o| o.owner == owner).unwrap();
    assert_eq!(share.assigned, 1);
}

#[tokio::test]
async fn a_seeded_history_reads_back_to_the_same_report() {
    let app = TestApp::new().await;
    let deps = &app.stack.deps;
    let end = t("2026-03-02T10:00:00Z");
    let spec = sample::Spec::realistic(&deps.config, end, 3, 60);
    let generated = sample::generate(&deps.config, &spec);
    let written = read::seed(&deps.store, generated.clone()).await.unwrap();
    assert_eq!(written, 60);
    let since = end - Duration::weeks(3);
    let stored = read::history(&deps.store, since, end).await.unwrap();
    assert_eq!(stored.len(), 60);
    let p = Params {
        since,
        until: end,
        now: end,
        team: None,
        owner: None,
        source: None,
    };
    let from_memory = report::build(&generated, &deps.config, &p, None);
    let from_table = report::build(&stored, &deps.config, &p, None);
    assert_eq!(
        serde_json::to_value(&from_table).unwrap(),
        serde_json::to_value(&from_memory).unwrap()
    );
    assert!(from_table.sla.overall.met > 0);
}
