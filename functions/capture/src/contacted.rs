//! `GET /v1/leads/{id}/contacted?token=…`: the owner clicked "I've contacted this lead" in the
//! assignment email. Records first contact and stops the SLA clock at every level.

use http::{Request, Response, StatusCode};
use leadrelay_aws::store::Change;
use leadrelay_aws::Deps;
use leadrelay_domain::escape::html_escape;
use leadrelay_domain::links::{self, LinkError};

use crate::{query_param, Body};

pub async fn handle(deps: &Deps, lead_id: &str, req: Request<Body>) -> Response<String> {
    let now = deps.clock.now();
    let token = query_param(&req, "token").unwrap_or_default();
    let Some(key) = deps.secrets.link() else {
        tracing::error!("no link-signing key configured");
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Something went wrong on our side.",
            "Please try the link again later.",
        );
    };
    if let Err(e) = links::verify(key, lead_id, &token, now) {
        let (status, what) = match e {
            LinkError::Expired => (StatusCode::GONE, "This link has expired."),
            LinkError::Malformed | LinkError::BadSignature => {
                (StatusCode::FORBIDDEN, "This link is not valid.")
            }
        };
        tracing::info!(lead_id, reason = %e, "contacted link refused");
        return page(status, what, "Open the link from your latest assignment email, or ask your manager to record the contact.");
    }
    let result = deps
        .store
        .modify_lead(lead_id, |lead| {
            match lead.record_first_contact(now, deps.clock.as_ref()) {
                Some(event) => Change::Save(vec![event], true),
                None => Change::Keep(false),
            }
        })
        .await;
    match result {
        Ok(Some((lead, recorded))) => {
            let name = lead.display_name().unwrap_or_else(|| "this lead".into());
            if recorded {
                tracing::info!(lead_id, "first contact recorded");
                page(
                    StatusCode::OK,
                    &format!("Thanks, contact with {name} is recorded."),
                    "The SLA clock has stopped.",
                )
            } else {
                page(
                    StatusCode::OK,
                    &format!("Contact with {name} was already recorded."),
                    "Nothing else to do.",
                )
            }
        }
        Ok(None) => page(
            StatusCode::NOT_FOUND,
            "No such lead.",
            "It may have been erased.",
        ),
        Err(e) => {
            tracing::error!(lead_id, error = %e, "cannot record first contact");
            page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Something went wrong on our side.",
                "Please try the link again in a minute.",
            )
        }
    }
}

fn page(status: StatusCode, title: &str, detail: &str) -> Response<String> {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Leadrelay</title></head>\
         <body style=\"font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:560px;margin:4em auto\">\
         <h1 style=\"font-size:1.4em\">{}</h1><p>{}</p></body></html>",
        html_escape(title),
        html_escape(detail)
    );
    Response::builder()
        .status(status)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "no-store")
        .body(body)
        .expect("static headers are valid")
}
