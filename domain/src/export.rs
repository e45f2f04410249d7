//! The exported lead: the flat schema a CRM sync or a warehouse load consumes
//! (`leadrelay leads`, one lead per line; docs/export-schema.md is the contract). Field names
//! are stable; new fields may be added (and [`SCHEMA_VERSION`] moves on), none renamed or
//! retyped.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::lead::{Lead, ScoreDimension, ScoreReason, Stage};

/// The schema's version, on every line: 1 had the fields up to `tier`; 2 added the email's
/// class, the score's grade, qualification and reasons, and the times (acknowledged,
/// assigned, first contact, SLA due and outcome).
pub const SCHEMA_VERSION: u32 = 2;

/// One reason of the score, as the scoring model gave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportedReason {
    pub points: i32,
    /// `fit` or `intent`.
    pub dimension: ScoreDimension,
    pub reason: String,
}

impl From<&ScoreReason> for ExportedReason {
    fn from(r: &ScoreReason) -> Self {
        ExportedReason {
            points: r.points,
            dimension: r.dimension,
            reason: r.reason.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportedLead {
    pub schema_version: u32,
    /// When the line was written: `sla_status` of an open clock is as of this instant.
    pub exported_at: DateTime<Utc>,
    pub lead_id: String,
    pub source: String,
    pub external_id: Option<String>,
    pub received_at: DateTime<Utc>,
    pub submitted_at: Option<DateTime<Utc>>,
    /// `pending_fetch` (details still to come), `new`, or `working` (first contact made).
    pub status: String,
    pub is_test: bool,
    pub is_spam: bool,
    /// Normalised (trimmed, lower-cased).
    pub email: Option<String>,
    /// `corporate`, `free` (a consumer mailbox) or `disposable` (a throw-away one); null until
    /// enrich has run or when there is no usable address.
    pub email_class: Option<String>,
    /// A role mailbox (info@, sales@, no-reply@) rather than a person's; null as `email_class`.
    pub email_role: Option<bool>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub full_name: Option<String>,
    /// E.164 when the number is valid.
    pub phone: Option<String>,
    /// As given.
    pub phone_raw: Option<String>,
    pub company: Option<String>,
    /// The domain of a corporate email.
    pub company_domain: Option<String>,
    /// Employees, from the company provider.
    pub company_size: Option<u32>,
    /// From the company provider.
    pub industry: Option<String>,
    /// The company's country, from the company provider.
    pub company_country: Option<String>,
    /// `found`, `not_found` or `failed`; null when no lookup was made.
    pub company_lookup: Option<String>,
    pub job_title: Option<String>,
    /// ISO 3166-1 alpha-2 when known.
    pub country: Option<String>,
    pub message: Option<String>,
    pub utm: BTreeMap<String, String>,
    pub click_ids: BTreeMap<String, String>,
    /// The page the person landed on, as given.
    pub landing_page: Option<String>,
    /// The page that sent them, as given.
    pub referrer: Option<String>,
    /// How the person first came (over all their leads) and most recently (repeat
    /// submissions joined to this lead): source, time, UTMs, click ids, landing page, referrer.
    pub first_touch: Option<super::attribution::Touch>,
    pub last_touch: Option<super::attribution::Touch>,
    /// form_id, campaign_id, adset_id, ad_id, page_id.
    pub campaign: BTreeMap<String, String>,
    /// Every other answer.
    pub custom: BTreeMap<String, String>,
    /// The owner's id.
    pub owner: Option<String>,
    pub team: Option<String>,
    pub score: Option<i32>,
    pub tier: Option<String>,
    /// Fit band and intent band together ("A1"), when the scoring model defines grades.
    pub grade: Option<String>,
    /// `sql` or `mql` when the points reach the model's thresholds.
    pub qualification: Option<String>,
    /// Why it scored what it did (empty until scored).
    pub score_reasons: Vec<ExportedReason>,
    /// When the acknowledgement email went to the person.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When the current owner got the lead (a later routing round's owner: that round's).
    pub assigned_at: Option<DateTime<Utc>>,
    /// First contact: the contacted link, or the first status change off `new`.
    pub first_contact_at: Option<DateTime<Utc>>,
    /// When first contact is due (the current round's SLA clock).
    pub sla_due_at: Option<DateTime<Utc>>,
    /// `met` (first contact by the due time), `breached` (after it, or none and it has
    /// passed), `open` (none yet, not due yet); null when no SLA clock ran.
    pub sla_status: Option<String>,
}

/// How the SLA clock of a lead came out, as of `now`.
fn sla_status(lead: &Lead, now: DateTime<Utc>) -> Option<&'static str> {
    let sla = lead.sla.as_ref()?;
    Some(match sla.contacted_at {
        Some(at) if at <= sla.due_at => "met",
        Some(_) => "breached",
        None if now > sla.due_at => "breached",
        None => "open",
    })
}

/// `corporate`, `free` or `disposable`, once enrich has a usable address.
fn email_class(lead: &Lead) -> Option<&'static str> {
    let e = lead.enrichment.as_ref().filter(|e| e.email.is_some())?;
    Some(if e.disposable_email {
        "disposable"
    } else if e.free_email {
        "free"
    } else {
        "corporate"
    })
}

/// The exported line of a lead, as of `now` (an open SLA clock past its due time is
/// `breached`).
pub fn export(lead: &Lead, now: DateTime<Utc>) -> ExportedLead {
    let e = lead.enrichment.as_ref();
    let f = &lead.fields;
    let touch = lead.attribution.as_ref();
    let status = match lead.stage {
        Stage::PendingFetch => "pending_fetch".to_owned(),
        _ => lead.status.as_str().to_owned(),
    };
    let score = lead.score.as_ref();
    ExportedLead {
        schema_version: SCHEMA_VERSION,
        exported_at: now,
        lead_id: lead.lead_id.clone(),
        source: lead.source.clone(),
        external_id: lead.external_id.clone(),
        received_at: lead.received_at,
        submitted_at: lead.submitted_at,
        status,
        is_test: lead.is_test,
        is_spam: lead.is_spam,
        email: lead.email().map(str::to_owned),
        email_class: email_class(lead).map(str::to_owned),
        email_role: email_class(lead).and(e.map(|e| e.role_email)),
        first_name: e
            .and_then(|e| e.first_name.clone())
            .or_else(|| f.first_name.clone()),
        last_name: e
            .and_then(|e| e.last_name.clone())
            .or_else(|| f.last_name.clone()),
        full_name: lead.display_name(),
        phone: e.and_then(|e| e.phone.clone()),
        phone_raw: f.phone.clone(),
        company: f.company.clone(),
        company_domain: e.and_then(|e| e.company_domain.clone()),
        company_size: e.and_then(|e| e.company_size),
        industry: e.and_then(|e| e.industry.clone()),
        company_country: e.and_then(|e| e.company_country.clone()),
        company_lookup: e
            .and_then(|e| e.company_lookup)
            .map(|l| l.as_str().to_owned()),
        job_title: f.job_title.clone(),
        country: e
            .and_then(|e| e.country.clone())
            .or_else(|| f.country.clone()),
        message: f.message.clone(),
        utm: lead.utm.clone(),
        click_ids: lead.click_ids.clone(),
        landing_page: touch.and_then(|t| t.landing_page.clone()),
        referrer: touch.and_then(|t| t.referrer.clone()),
        first_touch: lead.first_touch().cloned(),
        last_touch: lead.last_touch().cloned(),
        campaign: lead.campaign.clone(),
        custom: lead.attributes.clone(),
        owner: lead.assignment.as_ref().map(|a| a.owner_id.clone()),
        team: lead.assignment.as_ref().map(|a| a.team.clone()),
        score: score.map(|s| s.points),
        tier: score.map(|s| s.tier.clone()),
        grade: score.and_then(|s| s.grade.clone()),
        qualification: score.and_then(|s| s.qualification.clone()),
        score_reasons: score
            .map(|s| s.reasons.iter().map(ExportedReason::from).collect())
            .unwrap_or_default(),
        acknowledged_at: lead.acknowledged_at,
        assigned_at: lead.assignment.as_ref().map(|a| a.assigned_at),
        first_contact_at: lead.sla.as_ref().and_then(|s| s.contacted_at),
        sla_due_at: lead.sla.as_ref().map(|s| s.due_at),
        sla_status: sla_status(lead, now).map(str::to_owned),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lead::{Enrichment, Score, SlaState};
    use crate::test_support::{assignment_for, lead};

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    const NOW: &str = "2026-03-02T12:00:00Z";

    fn line(lead: &Lead) -> serde_json::Value {
        serde_json::to_value(export(lead, t(NOW))).unwrap()
    }

    /// The field names the contract (docs/export-schema.md) lists, in its order.
    const FIELDS: &[&str] = &[
        "schema_version",
        "exported_at",
        "lead_id",
        "source",
        "external_id",
        "received_at",
        "submitted_at",
        "status",
        "is_test",
        "is_spam",
        "email",
        "email_class",
        "email_role",
        "first_name",
        "last_name",
        "full_name",
        "phone",
        "phone_raw",
        "company",
        "company_domain",
        "company_size",
        "industry",
        "company_country",
        "company_lookup",
        "job_title",
        "country",
        "message",
        "utm",
        "click_ids",
        "landing_page",
        "referrer",
        "first_touch",
        "last_touch",
        "campaign",
        "custom",
        "owner",
        "team",
        "score",
        "tier",
        "grade",
        "qualification",
        "score_reasons",
        "acknowledged_at",
        "assigned_at",
        "first_contact_at",
        "sla_due_at",
        "sla_status",
    ];

    #[test]
    fn every_documented_field_is_exported_even_when_empty_and_no_other() {
        let v = line(&lead());
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = FIELDS.to_vec();
        expected.sort_unstable();
        let mut got = keys.clone();
        got.sort_unstable();
        assert_eq!(got, expected);
        assert_eq!(v["schema_version"], SCHEMA_VERSION);
        assert_eq!(v["status"], "new");
        assert_eq!(v["full_name"], "Ana Costa");
        for nothing_yet in [
            "email_class",
            "email_role",
            "score",
            "grade",
            "acknowledged_at",
            "assigned_at",
            "first_contact_at",
            "sla_due_at",
            "sla_status",
        ] {
            assert!(
                v[nothing_yet].is_null(),
                "{nothing_yet}: {}",
                v[nothing_yet]
            );
        }
        assert_eq!(v["score_reasons"], serde_json::json!([]));
    }

    #[test]
    fn the_contract_documents_every_field() {
        let doc = include_str!("../../docs/export-schema.md");
        for f in FIELDS {
            assert!(
                doc.contains(&format!("| `{f}`")),
                "{f} not in docs/export-schema.md"
            );
        }
    }

    fn enriched(free: bool, disposable: bool, role: bool) -> Lead {
        let mut l = lead();
        l.enrichment = Some(Enrichment {
            email: Some("ana@acme.io".into()),
            free_email: free,
            disposable_email: disposable,
            role_email: role,
            ..Default::default()
        });
        l
    }

    #[test]
    fn the_email_class_is_corporate_free_or_disposable_and_role_is_said_apart() {
        let v = line(&enriched(false, false, false));
        assert_eq!(
            (&v["email_class"], &v["email_role"]),
            (&"corporate".into(), &false.into())
        );
        let v = line(&enriched(true, false, true));
        assert_eq!(
            (&v["email_class"], &v["email_role"]),
            (&"free".into(), &true.into())
        );
        // Disposable services count as free mail too; the class says the narrower one.
        assert_eq!(
            line(&enriched(true, true, false))["email_class"],
            "disposable"
        );
        let mut unusable = enriched(false, false, false);
        unusable.enrichment.as_mut().unwrap().email = None;
        assert!(line(&unusable)["email_class"].is_null());
        assert!(line(&unusable)["email_role"].is_null());
    }

    #[test]
    fn the_score_comes_with_its_tier_grade_qualification_and_reasons() {
        let mut l = lead();
        l.score = Some(Score {
            points: 85,
            fit: 50,
            intent: 35,
            tier: "hot".into(),
            grade: Some("A1".into()),
            qualification: Some("sql".into()),
            scored_at: None,
            reasons: vec![ScoreReason {
                points: 30,
                dimension: ScoreDimension::Intent,
                reason: "asked for a demo".into(),
                undecayed: Some(40),
            }],
        });
        let v = line(&l);
        assert_eq!(v["score"], 85);
        assert_eq!(v["tier"], "hot");
        assert_eq!(v["grade"], "A1");
        assert_eq!(v["qualification"], "sql");
        assert_eq!(
            v["score_reasons"],
            serde_json::json!([{"points": 30, "dimension": "intent", "reason": "asked for a demo"}])
        );
    }

    fn routed(due: &str, contacted: Option<&str>) -> Lead {
        let mut l = lead();
        l.assignment = Some(assignment_for(&l));
        l.acknowledged_at = Some(t("2026-03-02T10:00:20Z"));
        l.sla = Some(SlaState {
            started_at: l.received_at,
            due_at: t(due),
            next_step: None,
            next_at: None,
            contacted_at: contacted.map(t),
            escalations: Vec::new(),
            steps_at: Vec::new(),
        });
        l
    }

    #[test]
    fn the_times_and_the_sla_outcome_come_from_the_lead_record() {
        let v = line(&routed(
            "2026-03-02T10:15:00Z",
            Some("2026-03-02T10:09:00Z"),
        ));
        assert_eq!(v["owner"], "rui");
        assert_eq!(v["team"], "sales");
        assert_eq!(v["acknowledged_at"], "2026-03-02T10:00:20Z");
        assert_eq!(v["assigned_at"], "2026-03-02T10:00:00Z");
        assert_eq!(v["first_contact_at"], "2026-03-02T10:09:00Z");
        assert_eq!(v["sla_due_at"], "2026-03-02T10:15:00Z");
        assert_eq!(v["sla_status"], "met");
        assert_eq!(v["exported_at"], "2026-03-02T12:00:00Z");
    }

    #[test]
    fn the_sla_is_met_on_time_breached_late_or_past_due_and_open_before() {
        let status = |due, contacted| line(&routed(due, contacted))["sla_status"].clone();
        // Contact exactly at the due time meets it.
        assert_eq!(
            status("2026-03-02T10:15:00Z", Some("2026-03-02T10:15:00Z")),
            "met"
        );
        assert_eq!(
            status("2026-03-02T10:15:00Z", Some("2026-03-02T10:15:01Z")),
            "breached"
        );
        // No contact: breached once the due time has passed (as of the export), else open.
        assert_eq!(status("2026-03-02T10:15:00Z", None), "breached");
        assert_eq!(status("2026-03-02T13:00:00Z", None), "open");
    }
}
