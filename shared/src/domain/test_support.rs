//! Fixtures for the domain's unit tests.

use crate::config::Config;

use super::lead::{Assignment, Lead, LeadFields, LeadStatus, Stage};

pub fn config() -> Config {
    Config::from_toml(
        include_str!("../../../infra/config/local.toml"),
        "local.toml",
    )
    .unwrap()
}

pub fn lead() -> Lead {
    Lead {
        lead_id: "01JLEAD0000000000000000000".into(),
        source: "json".into(),
        received_at: "2026-03-02T10:00:00Z".parse().unwrap(),
        delivery_id: "01JDELIVERY000000000000000".into(),
        stage: Stage::Captured,
        status: LeadStatus::New,
        is_spam: false,
        is_test: false,
        fields: LeadFields {
            email: Some("ana@acme.io".into()),
            first_name: Some("Ana".into()),
            last_name: Some("Costa".into()),
            ..Default::default()
        },
        utm: Default::default(),
        attributes: Default::default(),
        external_id: None,
        submitted_at: None,
        click_ids: Default::default(),
        campaign: Default::default(),
        phone_country_hint: None,
        enrichment: None,
        score: None,
        assignment: None,
        sla: None,
        routing_claimed_at: None,
        version: 0,
    }
}

pub fn assignment_for(lead: &Lead) -> Assignment {
    Assignment {
        owner_id: "rui".into(),
        owner_name: "Rui Almeida".into(),
        owner_email: "rui@sales.example.com".into(),
        manager_email: "marta@sales.example.com".into(),
        team: "sales".into(),
        reason: "test".into(),
        assigned_at: lead.received_at,
    }
}
