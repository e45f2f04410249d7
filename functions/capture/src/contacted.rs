//! The "I've contacted this lead" link in the owners' emails.
//!
//! `GET /v1/leads/{id}/contacted?token=…` only shows a confirmation page: mail scanners (Safe
//! Links, Proofpoint, Mimecast) fetch every link of an email as it arrives, so a GET must change
//! nothing (invariant 10 in docs/architecture.md). The page's button POSTs the token back to
//! `POST /v1/leads/{id}/contacted`, which records first contact and stops the SLA clock.
//!
//! The token is bound to the lead, the owner it was sent for and the routing round
//! ([`links`]): after a reassignment an earlier owner's link records nothing. The POST refuses
//! requests from other origins (the token in the form is the main defence; this is the second).

use http::{HeaderValue, Request, Response, StatusCode};
use leadrelay_aws::store::Change;
use leadrelay_aws::Deps;
use leadrelay_domain::escape::html_escape;
use leadrelay_domain::lead::Lead;
use leadrelay_domain::links::{self, Claim, LinkError};

use crate::{query_param, Body};

const TRY_LATEST: &str =
    "Open the link in your latest email about this lead, or ask your manager to record the contact.";

/// `GET`: the confirmation page. Changes nothing.
pub async fn show(deps: &Deps, lead_id: &str, req: Request<Body>) -> Response<String> {
    let token = query_param(&req, "token").unwrap_or_default();
    let claim = match verify(deps, lead_id, &token) {
        Ok(claim) => claim,
        Err(refusal) => return *refusal,
    };
    let lead = match deps.store.get_lead(lead_id).await {
        Ok(Some(lead)) => lead,
        Ok(None) => return no_such_lead(),
        Err(e) => {
            tracing::error!(lead_id, error = %e, "cannot read the lead of a contacted link");
            return try_again();
        }
    };
    if let Err(e) = current(&claim, &lead) {
        tracing::info!(lead_id, reason = %e, "contacted link shown for an earlier assignment");
        return superseded();
    }
    let name = name_of(&lead);
    if !lead.sla.as_ref().is_some_and(|s| s.is_open()) {
        return page(
            StatusCode::OK,
            &format!("Contact with {name} is already recorded."),
            "Nothing else to do.",
        );
    }
    let action = format!(
        "{}/v1/leads/{lead_id}/contacted",
        deps.config.links.base_url.trim_end_matches('/')
    );
    let form = format!(
        "<form method=\"post\" action=\"{}\">\
         <input type=\"hidden\" name=\"token\" value=\"{}\">\
         <button type=\"submit\" style=\"font-size:1em;background:#2563eb;color:#fff;border:0;padding:10px 16px;border-radius:4px;cursor:pointer\">Mark as contacted</button>\
         </form>",
        html_escape(&action),
        html_escape(&token)
    );
    render(
        StatusCode::OK,
        &format!("Have you contacted {name}?"),
        "Confirm to record first contact and stop the SLA clock.",
        &form,
    )
}

/// `POST` (the page's form, `token` in a URL-encoded body): records first contact.
pub async fn confirm(deps: &Deps, lead_id: &str, req: Request<Body>) -> Response<String> {
    if let Err(why) = same_origin(&req, &deps.config.links.base_url) {
        tracing::info!(lead_id, reason = why, "contacted confirmation refused");
        return page(
            StatusCode::FORBIDDEN,
            "This request did not come from the confirmation page.",
            "Nothing was recorded. Open the link in your email and press the button on the page it shows.",
        );
    }
    let token = form_urlencoded::parse(req.body())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let claim = match verify(deps, lead_id, &token) {
        Ok(claim) => claim,
        Err(refusal) => return *refusal,
    };
    let now = deps.clock.now();
    let result = deps
        .store
        .modify_lead(lead_id, |lead| {
            // Checked on the lead being saved: a reassignment that lands meanwhile wins.
            if current(&claim, lead).is_err() {
                return Change::Keep(Outcome::Superseded);
            }
            match lead.record_first_contact(now, deps.clock.as_ref()) {
                Some(event) => Change::Save(vec![event], Outcome::Recorded),
                None => Change::Keep(Outcome::AlreadyRecorded),
            }
        })
        .await;
    match result {
        Ok(Some((lead, outcome))) => {
            let name = name_of(&lead);
            match outcome {
                Outcome::Recorded => {
                    tracing::info!(lead_id, "first contact recorded");
                    page(
                        StatusCode::OK,
                        &format!("Thanks, contact with {name} is recorded."),
                        "The SLA clock has stopped.",
                    )
                }
                Outcome::AlreadyRecorded => page(
                    StatusCode::OK,
                    &format!("Contact with {name} was already recorded."),
                    "Nothing else to do.",
                ),
                Outcome::Superseded => {
                    tracing::info!(
                        lead_id,
                        "contacted link of an earlier assignment refused; nothing recorded"
                    );
                    superseded()
                }
            }
        }
        Ok(None) => no_such_lead(),
        Err(e) => {
            tracing::error!(lead_id, error = %e, "cannot record first contact");
            try_again()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Recorded,
    AlreadyRecorded,
    Superseded,
}

/// The token's signature and expiry; the refusal page otherwise.
fn verify(deps: &Deps, lead_id: &str, token: &str) -> Result<Claim, Box<Response<String>>> {
    let Some(key) = deps.secrets.link() else {
        tracing::error!("no link-signing key configured");
        return Err(Box::new(try_again()));
    };
    links::verify(key, lead_id, token, deps.clock.now()).map_err(|e| {
        tracing::info!(lead_id, reason = %e, "contacted link refused");
        Box::new(match e {
            LinkError::Expired => page(StatusCode::GONE, "This link has expired.", TRY_LATEST),
            LinkError::Outdated => page(
                StatusCode::GONE,
                "This link is from an older email.",
                &format!(
                    "Links in emails sent before an update of Leadrelay no longer record contact: \
                     they do not say which assignment they were sent for. Nothing was recorded. {TRY_LATEST}"
                ),
            ),
            LinkError::Superseded => superseded(),
            LinkError::Malformed | LinkError::BadSignature => {
                page(StatusCode::FORBIDDEN, "This link is not valid.", TRY_LATEST)
            }
        })
    })
}

fn current(claim: &Claim, lead: &Lead) -> Result<(), LinkError> {
    let owner = lead.assignment.as_ref().map(|a| a.owner_id.as_str());
    claim.check_current(owner, lead.round)
}

fn name_of(lead: &Lead) -> String {
    lead.display_name().unwrap_or_else(|| "this lead".into())
}

/// Whether a POST comes from the confirmation page itself. With `Sec-Fetch-Site`, only
/// `same-origin`; with `Origin`, only the origin of `links.base_url`. Clients that send
/// neither (not a browser) are let through: the token in the body is what authorizes them.
///
/// `Origin: null` is let through only together with `Sec-Fetch-Site: same-origin`: the page
/// says `Referrer-Policy: no-referrer`, and under that policy browsers send `Origin: null` on
/// the page's own form POST (Fetch's origin serialization); a sandboxed frame or another site
/// sending `null` is `cross-site`.
fn same_origin(req: &Request<Body>, base_url: &str) -> Result<(), &'static str> {
    let headers = req.headers();
    fn text(v: &HeaderValue) -> Result<&str, &'static str> {
        v.to_str().map(str::trim).map_err(|_| "unreadable header")
    }
    let site = headers.get("sec-fetch-site").map(text).transpose()?;
    if let Some(site) = site {
        if !site.eq_ignore_ascii_case("same-origin") {
            return Err("Sec-Fetch-Site is not same-origin");
        }
    }
    match headers.get(http::header::ORIGIN).map(text).transpose()? {
        None => Ok(()),
        Some("null") if site.is_some() => Ok(()),
        Some("null") => Err("Origin is null without Sec-Fetch-Site"),
        Some(origin) => match origin_of(base_url) {
            Some(ours) if ours.eq_ignore_ascii_case(origin) => Ok(()),
            _ => Err("Origin is not the links' base URL's"),
        },
    }
}

/// `scheme://host[:port]` of a URL, without a default port (as browsers send `Origin`).
fn origin_of(url: &str) -> Option<String> {
    let uri: http::Uri = url.trim().parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let host = uri.host()?.to_ascii_lowercase();
    let default = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    Some(match uri.port_u16() {
        Some(p) if p != default => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    })
}

fn superseded() -> Response<String> {
    page(
        StatusCode::CONFLICT,
        "This link is from an earlier assignment of the lead.",
        &format!(
            "The lead has since been passed to another owner or routed again, so this link no \
             longer records contact. Nothing was recorded. {TRY_LATEST}"
        ),
    )
}

fn no_such_lead() -> Response<String> {
    page(
        StatusCode::NOT_FOUND,
        "No such lead.",
        "It may have been erased.",
    )
}

fn try_again() -> Response<String> {
    page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Something went wrong on our side.",
        "Nothing was recorded. Please try again in a minute.",
    )
}

fn page(status: StatusCode, title: &str, detail: &str) -> Response<String> {
    render(status, title, detail, "")
}

/// A self-contained page (no scripts, images or other origins). `title` and `detail` are
/// escaped here; `extra` is markup the caller escaped.
fn render(status: StatusCode, title: &str, detail: &str, extra: &str) -> Response<String> {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>Leadrelay</title></head>\
         <body style=\"font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:560px;margin:4em auto;padding:0 1em\">\
         <h1 style=\"font-size:1.4em\">{}</h1><p>{}</p>{extra}</body></html>",
        html_escape(title),
        html_escape(detail)
    );
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    for (name, value) in [
        ("content-type", "text/html; charset=utf-8"),
        ("cache-control", "no-store"),
        ("x-frame-options", "DENY"),
        (
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
        ("referrer-policy", "no-referrer"),
        ("x-robots-tag", "noindex"),
        ("x-content-type-options", "nosniff"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(headers: &[(&str, &str)]) -> Request<Body> {
        let mut b = Request::post("/v1/leads/01J/contacted");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(Vec::new()).unwrap()
    }

    const BASE: &str = "https://api.example.com/";

    #[test]
    fn only_the_base_urls_origin_may_post_the_confirmation() {
        assert_eq!(same_origin(&post(&[]), BASE), Ok(()));
        assert_eq!(
            same_origin(&post(&[("origin", "https://api.example.com")]), BASE),
            Ok(())
        );
        assert_eq!(
            same_origin(
                &post(&[
                    ("origin", "https://API.example.com"),
                    ("sec-fetch-site", "same-origin")
                ]),
                BASE
            ),
            Ok(())
        );
        for refused in [
            vec![("origin", "https://evil.example")],
            vec![("origin", "http://api.example.com")],
            vec![("origin", "https://api.example.com:8443")],
            vec![("origin", "null")],
            vec![("sec-fetch-site", "cross-site")],
            vec![("sec-fetch-site", "same-site")],
            vec![("sec-fetch-site", "none")],
            vec![("origin", "null"), ("sec-fetch-site", "cross-site")],
        ] {
            assert!(same_origin(&post(&refused), BASE).is_err(), "{refused:?}");
        }
    }

    #[test]
    fn the_pages_own_post_under_no_referrer_sends_a_null_origin_and_is_accepted() {
        let r = post(&[("origin", "null"), ("sec-fetch-site", "same-origin")]);
        assert_eq!(same_origin(&r, BASE), Ok(()));
    }

    #[test]
    fn a_leads_name_on_the_page_is_escaped() {
        let r = page(
            StatusCode::OK,
            "Have you contacted <script>alert(1)</script> \"Bob\"?",
            "",
        );
        assert!(!r.body().contains("<script"), "{}", r.body());
        assert!(
            r.body()
                .contains("&lt;script&gt;alert(1)&lt;/script&gt; &quot;Bob&quot;"),
            "{}",
            r.body()
        );
    }

    #[test]
    fn an_origin_has_no_default_port_or_path() {
        assert_eq!(
            origin_of("https://abc.execute-api.eu-central-1.amazonaws.com/prod").as_deref(),
            Some("https://abc.execute-api.eu-central-1.amazonaws.com")
        );
        assert_eq!(
            origin_of("http://127.0.0.1:3000").as_deref(),
            Some("http://127.0.0.1:3000")
        );
        assert_eq!(
            origin_of("https://x.example:443").as_deref(),
            Some("https://x.example")
        );
        assert_eq!(origin_of("not a url"), None);
    }
}
