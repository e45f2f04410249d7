//! `leadrelay score` and `leadrelay route --dry-run`: what the pipeline would decide for a
//! lead, from the same pure rules the functions use, without storing or sending anything.

use anyhow::{Context, Result};
use leadrelay_domain::lead::Lead;
use leadrelay_domain::platforms::PlatformLead;
use leadrelay_domain::Config;
use leadrelay_domain::{enrichment, intake, routing, scoring};

/// A lead file (a JSON object of fields, as the `json` source takes it), enriched and scored.
pub fn scored_lead(config: &Config, file: &str, source: &str) -> Result<Lead> {
    let body = std::fs::read(file).with_context(|| format!("reading {file}"))?;
    let submission = intake::parse_json(&body).with_context(|| file.to_owned())?;
    let mut lead = Lead::from_delivery_item(
        "(preview)",
        source,
        "(preview)",
        chrono::Utc::now(),
        PlatformLead::from_submission(submission, String::new()),
    );
    let default_country = config
        .source(source)
        .and_then(|s| s.default_country.as_deref());
    lead.enrichment = Some(enrichment::enrich(
        &lead.fields,
        default_country,
        &config.enrichment.free_email_domains,
    ));
    lead.score = Some(scoring::score(&lead, &config.scoring, lead.received_at));
    Ok(lead)
}

pub fn score_report(lead: &Lead) -> String {
    let mut out = String::new();
    if let Some(s) = &lead.score {
        out.push_str(&format!(
            "score {} → tier {} (fit {}, intent {})",
            s.points, s.tier, s.fit, s.intent
        ));
        if let Some(g) = &s.grade {
            out.push_str(&format!(", grade {g}"));
        }
        if let Some(q) = &s.qualification {
            out.push_str(&format!(", {}", q.to_uppercase()));
        }
        out.push('\n');
        for r in &s.reasons {
            out.push_str(&format!(
                "  {r}  [{}]\n",
                format!("{:?}", r.dimension).to_lowercase()
            ));
        }
        if s.reasons.is_empty() {
            out.push_str("  no scoring rule matched\n");
        }
    }
    if let Some(e) = &lead.enrichment {
        let flags: Vec<&str> = [
            (e.free_email, "free-mail"),
            (e.disposable_email, "disposable email"),
            (e.role_email, "role address"),
            (e.email_invalid, "email invalid"),
            (e.phone_invalid, "phone invalid"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        out.push_str(&format!(
            "enriched: email {}, phone {}, country {}{}\n",
            e.email.as_deref().unwrap_or("-"),
            e.phone.as_deref().unwrap_or("-"),
            e.country.as_deref().unwrap_or("-"),
            if flags.is_empty() {
                String::new()
            } else {
                format!("; {}", flags.join(", "))
            }
        ));
    }
    out
}

/// The routing trace: which rule, which team, who could take it, who was skipped and why, who
/// would be picked — the decision route makes, on `states` (the teams' rotations), without
/// assigning anything.
pub fn route_report(
    config: &Config,
    lead: &Lead,
    states: &std::collections::BTreeMap<String, routing::TeamState>,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let mut out = score_report(lead);
    let at = routing::Situation {
        now,
        states,
        account: None,
    };
    match routing::decide(lead, config, &at) {
        Ok(d) => {
            out.push_str("route (dry run: nothing assigned):\n");
            for line in &d.trace {
                out.push_str(&format!("  {line}\n"));
            }
        }
        Err(e) => {
            out.push_str("route (dry run):\n");
            for line in e.why.split("; ") {
                out.push_str(&format!("  {line}\n"));
            }
            out.push_str(&format!(
                "  nobody can take it: the lead would be unassigned and the manager of team {} told\n",
                e.team
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_names_the_rule_team_candidates_and_reasons() {
        let config = Config::from_path(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../infra/config/local.toml"
        )))
        .unwrap();
        let dir = std::env::temp_dir().join(format!("leadrelay-preview-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("lead.json");
        std::fs::write(&file, r#"{"email":"cto@globex.example","job_title":"CTO","message":"demo please","employees":5000}"#).unwrap();
        let lead = scored_lead(&config, file.to_str().unwrap(), "json").unwrap();
        let trace = route_report(&config, &lead, &Default::default(), lead.received_at);
        assert!(trace.contains("+30 asked for a demo"), "{trace}");
        assert!(
            trace.contains("rule enterprise-size matched → team enterprise"),
            "{trace}"
        );
        assert!(trace.contains("team enterprise candidates:"), "{trace}");
        assert!(trace.contains("dana") && trace.contains("emil"), "{trace}");
        std::fs::remove_dir_all(dir).ok();
    }
}
