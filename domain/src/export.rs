//! The exported lead: the flat schema a CRM sync or a warehouse load consumes
//! (`leadrelay leads --json`, one lead per line). Field names are stable; new fields may be
//! added, none renamed.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::lead::{Lead, Stage};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportedLead {
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
}

pub fn export(lead: &Lead) -> ExportedLead {
    let e = lead.enrichment.as_ref();
    let f = &lead.fields;
    let touch = lead.attribution.as_ref();
    let status = match lead.stage {
        Stage::PendingFetch => "pending_fetch".to_owned(),
        _ => lead.status.as_str().to_owned(),
    };
    ExportedLead {
        lead_id: lead.lead_id.clone(),
        source: lead.source.clone(),
        external_id: lead.external_id.clone(),
        received_at: lead.received_at,
        submitted_at: lead.submitted_at,
        status,
        is_test: lead.is_test,
        is_spam: lead.is_spam,
        email: lead.email().map(str::to_owned),
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
        score: lead.score.as_ref().map(|s| s.points),
        tier: lead.score.as_ref().map(|s| s.tier.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::lead;

    #[test]
    fn every_documented_field_is_exported_even_when_empty() {
        let v = serde_json::to_value(export(&lead())).unwrap();
        for key in [
            "lead_id",
            "source",
            "external_id",
            "received_at",
            "submitted_at",
            "status",
            "is_test",
            "is_spam",
            "email",
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
        ] {
            assert!(v.get(key).is_some(), "{key} missing");
        }
        assert_eq!(v["status"], "new");
        assert_eq!(v["full_name"], "Ana Costa");
    }
}
