//! The report's numbers pinned on a small known history (Monday 2 March 2026, ISO week 10;
//! "now" is a day later):
//!
//! | lead | source | owner      | arrived (UTC) | acknowledged | contacted      | SLA due | then                  |
//! |------|--------|------------|---------------|--------------|----------------|---------|-----------------------|
//! | l1   | json   | ana        | 10:00         | +30 s        | +3 min         | 10:15   | qualified, converted  |
//! | l2   | json   | ben        | 10:00         | +60 s        | +10 min        | 10:15   | disqualified no_budget|
//! | l3   | form   | chen       | 10:00         | (no email)   | +60 min        | 10:15   | reminded, escalated   |
//! | l4   | form   | ana        | 10:00         | never        | never          | 10:15   | open                  |
//! | l5   | json   | -          | 10:00         | spam         |                |         |                       |
//! | l6   | json   | dana (Berlin hours, open 08:00 UTC) | 07:00 | +20 s | 08:30 (90 min; 30 business) | 09:00 | |

use chrono::{DateTime, Duration, Utc};

use super::*;
use crate::lead::{Assignment, EventKind, LeadEvent, SlaState};
use crate::test_support::config;
use stats::Elapsed::{Never, Secs};

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn ev(lead: &str, at: DateTime<Utc>, kind: EventKind, summary: &str) -> LeadEvent {
    LeadEvent {
        lead_id: lead.into(),
        event_id: format!("{lead}-{}", at.timestamp_millis()),
        at,
        kind,
        actor: "test".into(),
        summary: summary.into(),
        before: None,
        after: None,
        expires_at: None,
    }
}

fn status(lead: &str, at: DateTime<Utc>, from: &str, to: &str) -> LeadEvent {
    ev(lead, at, EventKind::StatusChanged, "status").changing(from, to)
}

struct Known {
    id: &'static str,
    source: &'static str,
    arrived: DateTime<Utc>,
    owner: Option<(&'static str, &'static str)>,
    email: bool,
}

fn lead(k: &Known) -> (Lead, Vec<LeadEvent>) {
    let mut l = Lead::new(k.id, k.source, "d", k.arrived);
    if k.email {
        l.fields.email = Some(format!("{}@example.com", k.id));
    }
    l.stage = crate::lead::Stage::Routed;
    l.notified = true;
    let mut events = vec![ev(k.id, k.arrived, EventKind::Captured, "captured")];
    if let Some((owner, team)) = k.owner {
        let at = k.arrived + Duration::seconds(5);
        l.assignment = Some(Assignment {
            owner_id: owner.into(),
            owner_name: owner.into(),
            owner_email: format!("{owner}@sales.example.com"),
            manager_email: "m@sales.example.com".into(),
            team: team.into(),
            reason: "test".into(),
            assigned_at: at,
        });
        l.sla = Some(SlaState {
            started_at: k.arrived,
            due_at: k.arrived + Duration::minutes(15),
            next_step: None,
            next_at: None,
            contacted_at: None,
            escalations: Vec::new(),
            steps_at: Vec::new(),
        });
        events.push(ev(
            k.id,
            at,
            EventKind::Routed,
            &format!("assigned to {owner}: team {team} candidates: {owner} (weight 1, load 0.00); picked {owner} (lowest load after this lead); SLA due 2026-03-02T10:15:00Z"),
        ));
    }
    (l, events)
}

fn contact(h: &mut (Lead, Vec<LeadEvent>), at: DateTime<Utc>) {
    h.0.status = LeadStatus::Working;
    h.0.sla.as_mut().unwrap().contacted_at = Some(at);
    let id = h.0.lead_id.clone();
    h.1.push(ev(&id, at, EventKind::Contacted, "contacted").changing("new", "working"));
}

fn ack(h: &mut (Lead, Vec<LeadEvent>), after: i64) {
    let id = h.0.lead_id.clone();
    let at = h.0.received_at + Duration::seconds(after);
    h.1.push(ev(
        &id,
        at,
        EventKind::EmailSent,
        "acknowledgement email sent to the lead",
    ));
}

fn history() -> Vec<(Lead, Vec<LeadEvent>)> {
    let ten = t("2026-03-02T10:00:00Z");
    let known = |id, source, owner, email| Known {
        id,
        source,
        arrived: ten,
        owner,
        email,
    };
    let mut l1 = lead(&known("l1", "json", Some(("ana", "sales")), true));
    ack(&mut l1, 30);
    contact(&mut l1, ten + Duration::minutes(3));
    l1.1.push(status(
        "l1",
        t("2026-03-02T11:00:00Z"),
        "working",
        "qualified",
    ));
    l1.1.push(status(
        "l1",
        t("2026-03-03T09:00:00Z"),
        "qualified",
        "converted",
    ));
    l1.0.status = LeadStatus::Converted;
    l1.0.utm.insert("utm_campaign".into(), "spring".into());

    let mut l2 = lead(&known("l2", "json", Some(("ben", "sales")), true));
    ack(&mut l2, 60);
    // Routing passed two owners over on this one.
    l2.1[1].summary = "assigned to ben: team sales candidates: ben (weight 1, load 0.00); ana skipped: away until 2026-03-09 10:00 UTC; chen skipped: at capacity (1/1 this day); picked ben (lowest load after this lead); SLA due 2026-03-02T10:15:00Z".into();
    contact(&mut l2, ten + Duration::minutes(10));
    l2.1.push(status(
        "l2",
        t("2026-03-02T12:00:00Z"),
        "working",
        "disqualified",
    ));
    l2.0.status = LeadStatus::Disqualified;
    l2.0.status_reason = Some("no_budget".into());

    let mut l3 = lead(&known("l3", "form", Some(("chen", "sales")), false));
    l3.1.push(ev(
        "l3",
        ten + Duration::seconds(450),
        EventKind::Reminded,
        "owner chen reminded",
    ));
    l3.1.push(ev(
        "l3",
        ten + Duration::minutes(15),
        EventKind::Escalated,
        "escalated",
    ));
    contact(&mut l3, ten + Duration::minutes(60));

    let l4 = lead(&known("l4", "form", Some(("ana", "sales")), true));

    let mut l5 = lead(&known("l5", "json", None, true));
    l5.0.is_spam = true;

    let mut l6 = lead(&Known {
        id: "l6",
        source: "json",
        arrived: t("2026-03-02T07:00:00Z"),
        owner: Some(("dana", "enterprise")),
        email: true,
    });
    ack(&mut l6, 20);
    l6.0.sla.as_mut().unwrap().due_at = t("2026-03-02T09:00:00Z");
    contact(&mut l6, t("2026-03-02T08:30:00Z"));

    vec![l1, l2, l3, l4, l5, l6]
}

fn params() -> Params {
    Params {
        since: t("2026-03-01T00:00:00Z"),
        until: t("2026-03-03T10:00:00Z"),
        now: t("2026-03-03T10:00:00Z"),
        team: None,
        owner: None,
        source: None,
    }
}

fn report() -> Report {
    build(&history(), &config(), &params(), None)
}

#[test]
fn spam_counts_as_a_lead_in_the_funnel_but_not_in_speed_or_sla() {
    let r = report();
    assert_eq!((r.leads, r.real_leads), (6, 5));
    assert_eq!(r.speed.overall.leads, 5);
    let json = r
        .funnel
        .by_source
        .iter()
        .find(|s| s.source == "json")
        .unwrap();
    assert_eq!((json.leads, json.spam, json.real()), (4, 1, 3));
}

#[test]
fn time_to_first_contact_percentiles_are_nearest_rank_with_never_slowest() {
    let c = &report().speed.overall.contacted.wall;
    // 180, 600, 3600, 5400, never
    assert_eq!(c.n, 5);
    assert_eq!(c.p50, Some(Secs(3600)));
    assert_eq!(c.p90, Some(Never));
    assert_eq!(c.p95, Some(Never));
    assert_eq!(c.bands, [1, 1, 0, 2, 0, 1]);
    assert_eq!(c.share(3), 0.4);
}

#[test]
fn business_hours_count_only_the_owners_open_hours() {
    let r = report();
    let c = &r.speed.overall.contacted.business;
    // l6 arrived at 07:00 UTC, Berlin opens 08:00 UTC: 90 minutes wall, 30 in business hours.
    assert_eq!(c.p50, Some(Secs(1800)));
    assert_eq!(c.bands, [1, 1, 1, 1, 0, 1]);
    let dana = r.speed.by_owner.iter().find(|o| o.key == "dana").unwrap();
    assert_eq!(dana.contacted.wall.p50, Some(Secs(5400)));
    assert_eq!(dana.contacted.business.p50, Some(Secs(1800)));
}

#[test]
fn the_system_part_and_the_human_part_are_measured_apart() {
    let s = report().speed.overall;
    // Acknowledgement: only leads with an address (l3 has none): 20, 30, 60, never.
    assert_eq!(s.acknowledged.wall.n, 4);
    assert_eq!(s.acknowledged.wall.p50, Some(Secs(30)));
    assert_eq!(s.acknowledged.wall.p95, Some(Never));
    // Assignment: 5 s after arrival for every real lead.
    assert_eq!(s.assigned.wall.p95, Some(Secs(5)));
    // Human: assigned → contact: 175, 595, 3595, 5395, never.
    assert_eq!(s.human.wall.n, 5);
    assert_eq!(s.human.wall.p50, Some(Secs(3595)));
    assert_eq!(s.human.wall.bands, [1, 1, 1, 1, 0, 1]);
}

#[test]
fn speed_is_broken_down_by_owner_team_source_and_week() {
    let s = report().speed;
    let keys = |rows: &[SpeedRow]| rows.iter().map(|r| r.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&s.by_owner), ["ana", "ben", "chen", "dana"]);
    assert_eq!(keys(&s.by_team), ["enterprise", "sales"]);
    assert_eq!(keys(&s.by_source), ["form", "json"]);
    assert_eq!(keys(&s.by_week), ["2026-W10"]);
    let ana = &s.by_owner[0];
    // 180 s and never: P50 is the first (rank 1 of 2).
    assert_eq!(ana.contacted.wall.p50, Some(Secs(180)));
    assert_eq!(ana.contacted.wall.p90, Some(Never));
}

#[test]
fn sla_share_met_breaches_and_time_over() {
    let s = report().sla;
    let o = &s.overall;
    assert_eq!((o.leads, o.met, o.breached, o.pending), (5, 3, 2, 0));
    assert_eq!(o.share_met(), 0.6);
    // l3 45 min late; l4 still open at now, 23 h 45 min past due.
    assert_eq!(o.worst_over, Some(85_500));
    assert_eq!(o.mean_over, Some((2700 + 85_500) / 2));
    assert_eq!((o.reminders, o.escalations, o.reassignments), (1, 1, 0));
    let chen = s.by_owner.iter().find(|r| r.key == "chen").unwrap();
    assert_eq!((chen.breached, chen.reminders, chen.escalations), (1, 1, 1));
    let sales = s.by_team.iter().find(|r| r.key == "sales").unwrap();
    assert_eq!((sales.met, sales.breached, sales.escalations), (2, 2, 1));
}

#[test]
fn an_open_lead_not_yet_due_is_pending_not_met() {
    let mut p = params();
    p.now = t("2026-03-02T10:05:00Z");
    let h = history();
    let r = build(&h[3..4], &config(), &p, None);
    assert_eq!((r.sla.overall.pending, r.sla.overall.met), (1, 0));
}

#[test]
fn a_reassignment_is_a_breach_of_the_owner_who_let_it_lapse() {
    let mut h = history();
    let (l, events) = &mut h[3];
    // ana let l4 lapse; it went to chen, who called back in time on the new clock.
    l.previous_owners = vec!["ana".into()];
    let at = t("2026-03-02T10:20:00Z");
    events.push(ev("l4", at, EventKind::Reassigned, "reassigning").changing("ana", ""));
    events.push(ev(
        "l4",
        at,
        EventKind::Routed,
        "assigned to chen: reassigning",
    ));
    l.assignment.as_mut().unwrap().owner_id = "chen".into();
    let sla = l.sla.as_mut().unwrap();
    sla.due_at = at + Duration::minutes(15);
    sla.contacted_at = Some(at + Duration::minutes(5));
    let r = build(&h, &config(), &params(), None);
    let ana = r.sla.by_owner.iter().find(|r| r.key == "ana").unwrap();
    assert_eq!(ana.reassignments, 1);
    assert_eq!(
        r.sla.overall.breached, 2,
        "l3, and l4 through its first owner"
    );
    // Both assignments count for fairness: ana 1 (l1) + 1 (l4), chen 1 (l3) + 1 (l4).
    let share = |o: &str| {
        r.fairness
            .owners
            .iter()
            .find(|s| s.owner == o)
            .unwrap()
            .assigned
    };
    assert_eq!((share("ana"), share("chen")), (2, 2));
}

#[test]
fn each_owners_share_is_set_against_their_weight_with_skips_by_reason() {
    let f = report().fairness;
    let row = |o: &str| f.owners.iter().find(|s| s.owner == o).unwrap().clone();
    let ana = row("ana");
    assert_eq!((ana.assigned, ana.share), (2, 0.5));
    assert!((ana.expected - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(ana.skipped.get("away"), Some(&1));
    assert_eq!(row("chen").skipped.get("at capacity"), Some(&1));
    assert_eq!((row("dana").share, row("dana").expected), (1.0, 0.5));
    assert_eq!(row("emil").assigned, 0);
    // Per week as well.
    assert!(f
        .weekly
        .iter()
        .any(|w| w.owner == "ben" && w.week == "2026-W10" && w.share == 0.25));
}

#[test]
fn the_funnel_counts_each_stage_reached_and_disqualification_reasons() {
    let f = report().funnel;
    let json = f.by_source.iter().find(|s| s.source == "json").unwrap();
    assert_eq!((json.worked, json.qualified, json.converted), (3, 1, 1));
    assert_eq!(json.disqualified.get("no_budget"), Some(&1));
    let form = f.by_source.iter().find(|s| s.source == "form").unwrap();
    assert_eq!((form.leads, form.worked, form.qualified), (2, 1, 0));
    let spring = f
        .by_campaign
        .iter()
        .find(|c| c.campaign.as_deref() == Some("spring"))
        .unwrap();
    assert_eq!((spring.source.as_str(), spring.converted), ("json", 1));
}

#[test]
fn conversion_rates_per_transition_and_time_between_stages() {
    let steps = report().funnel.overall.steps;
    let got: Vec<(usize, usize)> = steps.iter().map(|s| (s.entered, s.reached)).collect();
    assert_eq!(got, [(5, 4), (4, 1), (1, 1)]);
    assert_eq!(steps[0].rate(), 0.8);
    // new → working: 180, 600, 3600, 5400: nearest-rank median is rank 2.
    assert_eq!(steps[0].median, Some(600));
    // working 10:03 → qualified 11:00; qualified 11:00 → converted 09:00 next day.
    assert_eq!(steps[1].median, Some(57 * 60));
    assert_eq!(steps[2].median, Some(22 * 3600));
}

#[test]
fn conversion_is_split_by_the_speed_band_of_first_contact() {
    let b = report().funnel.by_speed_band;
    let counts: Vec<(usize, usize)> = b.iter().map(|b| (b.leads, b.converted)).collect();
    assert_eq!(counts, [(1, 1), (1, 0), (0, 0), (2, 0), (0, 0), (1, 0)]);
}

#[test]
fn filters_keep_one_team_owner_or_source_and_the_period_is_half_open() {
    let h = history();
    let mut p = params();
    p.team = Some("enterprise".into());
    assert_eq!(build(&h, &config(), &p, None).leads, 1);
    let mut p = params();
    p.owner = Some("ana".into());
    assert_eq!(build(&h, &config(), &p, None).leads, 2);
    let mut p = params();
    p.source = Some("form".into());
    assert_eq!(build(&h, &config(), &p, None).leads, 2);
    let mut p = params();
    p.until = t("2026-03-02T10:00:00Z");
    assert_eq!(build(&h, &config(), &p, None).leads, 1, "only l6, at 07:00");
}

#[test]
fn now_lists_open_leads_by_age_and_owner_and_the_oldest_uncontacted() {
    let n = report().now;
    let owners: Vec<(&str, [usize; 4], usize)> = n
        .open_by_owner
        .iter()
        .map(|r| (r.owner.as_str(), r.ages, r.uncontacted))
        .collect();
    assert_eq!(
        owners,
        [
            ("ana", [0, 0, 1, 0], 1),
            ("chen", [0, 0, 1, 0], 0),
            ("dana", [0, 0, 1, 0], 0)
        ]
    );
    assert_eq!(n.oldest_uncontacted.len(), 1);
    assert_eq!(n.oldest_uncontacted[0].lead_id, "l4");
    assert!(n.stuck.is_empty());
}

#[test]
fn a_parked_lead_and_one_waiting_past_the_grace_are_listed_as_stuck() {
    let mut h = history();
    h[3].0.parked = Some(crate::sweep::Parked {
        at: t("2026-03-02T10:01:00Z"),
        step: crate::sweep::Step::Notify,
        reason: "template error".into(),
        message: None,
    });
    h[2].0.stage = crate::lead::Stage::Scored;
    h[2].0.status = LeadStatus::New;
    let stuck = build(&h, &config(), &params(), None).now.stuck;
    let states: Vec<&str> = stuck.iter().map(|s| s.state.as_str()).collect();
    // Oldest first; the same age goes by lead id.
    assert_eq!(states, ["waiting for route", "parked at notify"]);
    assert_eq!(stuck[1].reason.as_deref(), Some("template error"));
}

#[test]
fn spend_gives_cost_per_lead_and_per_qualified_lead_by_source_and_month() {
    let spend = Spend::parse("json,2026-03,300\nform,2026-03,100\njson,2026-05,999").unwrap();
    let rows = build(&history(), &config(), &params(), Some(&spend))
        .spend
        .unwrap();
    let json = rows
        .iter()
        .find(|r| r.source == "json" && r.month == "total")
        .unwrap();
    // Three real json leads (spam left out), one qualified; May is outside the period.
    assert_eq!((json.amount, json.leads, json.qualified), (300.0, 3, 1));
    assert_eq!(json.per_lead(), Some(100.0));
    assert_eq!(json.per_qualified(), Some(300.0));
    let form = rows
        .iter()
        .find(|r| r.source == "form" && r.month == "2026-03")
        .unwrap();
    assert_eq!((form.per_lead(), form.per_qualified()), (Some(50.0), None));
}

#[test]
fn without_a_timeline_the_lead_record_still_gives_assignment_and_contact() {
    let h: Vec<(Lead, Vec<LeadEvent>)> = history()
        .into_iter()
        .map(|(l, _)| (l, Vec::new()))
        .collect();
    let r = build(&h, &config(), &params(), None);
    let c = &r.speed.overall.contacted.wall;
    assert_eq!(c.bands, [1, 1, 0, 2, 0, 1]);
    assert_eq!(r.speed.overall.assigned.wall.p50, Some(Secs(5)));
}

#[test]
fn the_owner_and_skips_are_read_back_from_what_the_router_writes() {
    let cfg = config();
    let mut l = crate::test_support::lead();
    l.score = Some(crate::lead::Score {
        points: 70,
        fit: 40,
        intent: 30,
        tier: "hot".into(),
        grade: None,
        qualification: None,
        scored_at: None,
        reasons: Vec::new(),
    });
    let now = l.received_at;
    let mut states = BTreeMap::new();
    let mut sales = crate::routing::TeamState::default();
    sales.owners.entry("ana".into()).or_default().away_until = Some(now + Duration::days(7));
    states.insert("sales".to_owned(), sales);
    let d = crate::routing::decide(
        &l,
        &cfg,
        &crate::routing::Situation {
            now,
            states: &states,
            account: None,
        },
    )
    .unwrap();
    let owner = d.owner.id.clone();
    let clock = crate::ManualClock::new(now);
    let e = l.assign(&d, &cfg, now, &clock);
    assert_eq!(facts::routed_owner(&e.summary), Some(owner.as_str()));
    assert_eq!(
        facts::skipped_owners(&e.summary),
        [("ana".to_owned(), "away".to_owned())]
    );
}
