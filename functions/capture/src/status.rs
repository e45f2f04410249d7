//! Lead status changes: `POST /v1/leads/{id}/status` for a CRM (bearer token), and
//! [`change_status`] for the operator's `leadrelay lead status` — the same rule for both.

use chrono::{DateTime, NaiveDate, Utc};
use http::{Request, Response, StatusCode};
use leadrelay_aws::store::{Change, StoreError};
use leadrelay_aws::Deps;
use leadrelay_domain::lead::{EventKind, Lead, LeadStatus};
use leadrelay_domain::lifecycle::{self, StatusChange, TransitionError};
use leadrelay_domain::timeline;
use serde::Deserialize;

use crate::{header, json, json_error, Body};

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("no lead {0}")]
    NoSuchLead(String),
    #[error(transparent)]
    Refused(#[from] TransitionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Moves a lead to another status, if the lifecycle allows it; records who did it, with the
/// status before and after, on the timeline. Returns the lead as saved and its old status.
pub async fn change_status(
    deps: &Deps,
    lead_id: &str,
    change: &StatusChange,
    actor: &str,
) -> Result<(Lead, LeadStatus), StatusError> {
    let now = deps.clock.now();
    let reasons = &deps.config.lifecycle.disqualify_reasons;
    let outcome = deps
        .store
        .modify_lead(lead_id, |lead| {
            let before = lead.status;
            if let Err(e) = lifecycle::check(lead, change, reasons, now) {
                return Change::Keep(Err(e));
            }
            let clock_was_open = lead.sla.as_ref().is_some_and(|s| s.is_open());
            lifecycle::apply(lead, change, now);
            let mut summary = format!("status {before} → {}", change.to);
            if let Some(r) = &change.reason {
                summary.push_str(&format!(" (reason: {r})"));
            }
            if let Some(at) = change.recycle_at {
                summary.push_str(&format!(
                    "; resurfaces {}",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ));
            }
            if clock_was_open {
                let minutes = (now - lead.received_at).num_minutes();
                summary.push_str(&format!(
                    "; first contact {minutes} min after arrival, SLA clock stopped"
                ));
            }
            let event = timeline::event(
                deps.clock.as_ref(),
                &lead.lead_id,
                EventKind::StatusChanged,
                actor,
                summary,
            )
            .changing(before.as_str(), change.to.as_str());
            Change::Save(vec![event], Ok(before))
        })
        .await?;
    match outcome {
        None => Err(StatusError::NoSuchLead(lead_id.to_owned())),
        Some((lead, Ok(before))) => Ok((lead, before)),
        Some((_, Err(e))) => Err(e.into()),
    }
}

/// What a CRM posts.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusRequest {
    status: String,
    #[serde(default)]
    reason: Option<String>,
    /// RFC 3339, or a date (midnight UTC).
    #[serde(default)]
    recycle_at: Option<String>,
    /// Who made the change in the CRM, for the timeline ("hubspot:workflow-12", "jane@…").
    #[serde(default)]
    actor: Option<String>,
}

/// Parses an RFC 3339 instant or a plain date (taken as midnight UTC).
pub fn parse_when(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        })
}

pub async fn handle(deps: &Deps, lead_id: &str, req: Request<Body>) -> Response<String> {
    let Some(token) = deps.secrets.crm() else {
        return json_error(
            StatusCode::NOT_FOUND,
            "not_enabled",
            "status updates are not enabled: set crm.token",
        );
    };
    let given = header(&req, "authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim);
    if leadrelay_domain::auth::verify_token(token, given).is_err() {
        return json_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authorization: Bearer <crm token> is missing or wrong",
        );
    }
    let body: StatusRequest = match serde_json::from_slice(req.body()) {
        Ok(b) => b,
        Err(e) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "malformed_body",
                &format!("the body must be JSON like {{\"status\": \"working\"}}: {e}"),
            )
        }
    };
    let to: LeadStatus = match body.status.parse() {
        Ok(s) => s,
        Err(m) => return json_error(StatusCode::UNPROCESSABLE_ENTITY, "unknown_status", &m),
    };
    let recycle_at = match body.recycle_at.as_deref().map(|s| (s, parse_when(s))) {
        None => None,
        Some((_, Some(t))) => Some(t),
        Some((s, None)) => {
            return json_error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_recycle_at",
                &format!("recycle_at {s:?} is neither RFC 3339 nor YYYY-MM-DD"),
            )
        }
    };
    let actor = match body.actor.as_deref().map(str::trim) {
        Some(a) if !a.is_empty() => format!("crm:{}", a.chars().take(80).collect::<String>()),
        _ => "crm".to_owned(),
    };
    let change = StatusChange {
        to,
        reason: body.reason,
        recycle_at,
    };
    match change_status(deps, lead_id, &change, &actor).await {
        Ok((lead, before)) => {
            tracing::info!(lead_id, from = %before, to = %lead.status, "status changed by the CRM");
            json(
                StatusCode::OK,
                serde_json::json!({
                    "lead_id": lead.lead_id,
                    "status": lead.status.as_str(),
                    "previous_status": before.as_str(),
                }),
            )
        }
        Err(StatusError::NoSuchLead(_)) => {
            json_error(StatusCode::NOT_FOUND, "unknown_lead", "no such lead")
        }
        Err(StatusError::Refused(e @ TransitionError::NotAllowed { .. }))
        | Err(StatusError::Refused(e @ TransitionError::Unchanged(_))) => {
            json_error(StatusCode::CONFLICT, "illegal_transition", &e.to_string())
        }
        Err(StatusError::Refused(e)) => json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_change",
            &e.to_string(),
        ),
        Err(StatusError::Store(e)) => {
            tracing::error!(lead_id, error = %e, "status not changed");
            crate::intake::unavailable(Some(lead_id))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycle_dates_take_instants_and_plain_dates() {
        assert_eq!(
            parse_when("2026-06-01"),
            Some("2026-06-01T00:00:00Z".parse().unwrap())
        );
        assert_eq!(
            parse_when("2026-06-01T09:30:00+02:00"),
            Some("2026-06-01T07:30:00Z".parse().unwrap())
        );
        assert_eq!(parse_when("next june"), None);
    }
}
