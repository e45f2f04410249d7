//! Fixtures for the domain's unit tests.

use crate::config::Config;

use super::lead::{Assignment, Lead, LeadFields};
use super::templates::{TemplateFile, Templates};

pub fn config() -> Config {
    Config::from_toml(include_str!("../../infra/config/local.toml"), "local.toml").unwrap()
}

/// The built-in templates, checked against the local configuration.
pub fn templates() -> Templates {
    Templates::build(TemplateFile::builtin(), &config()).unwrap()
}

pub fn lead() -> Lead {
    Lead {
        fields: LeadFields {
            email: Some("ana@acme.io".into()),
            first_name: Some("Ana".into()),
            last_name: Some("Costa".into()),
            ..Default::default()
        },
        ..Lead::new(
            "01JLEAD0000000000000000000",
            "json",
            "01JDELIVERY000000000000000",
            "2026-03-02T10:00:00Z".parse().unwrap(),
        )
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
