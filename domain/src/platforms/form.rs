//! Our own URL-encoded form format (`kind = "form"`): the fields of
//! [`crate::intake::parse_form`], authenticated by the source's `auth` scheme, with the
//! source's configurable `honeypot`; one lead per delivery, deduplicated by `Idempotency-Key`
//! or the body's hash. A browser posting straight from a page is [`super::HtmlForm`]'s job.

use super::*;

pub struct Form<'a> {
    auth: OwnAuth,
    honeypot: Option<&'a str>,
}

impl<'a> Form<'a> {
    pub fn new(auth: impl Into<OwnAuth>, honeypot: Option<&'a str>) -> Self {
        Form {
            auth: auth.into(),
            honeypot,
        }
    }
}

impl Platform for Form<'_> {
    fn name(&self) -> &'static str {
        "form"
    }

    fn authenticate(&self, req: &Incoming, creds: &Credentials) -> Result<(), AuthError> {
        verify_own_auth(self.auth, req, creds)
    }

    fn check_content_type(&self, content_type: &str) -> Result<(), &'static str> {
        match content_type {
            "application/x-www-form-urlencoded" => Ok(()),
            _ => Err("application/x-www-form-urlencoded"),
        }
    }

    fn check_request(&self, req: &Incoming) -> Result<(), Refusal> {
        idempotency_key(req).map(drop)
    }

    fn parse(&self, req: &Incoming, _mapping: &FieldMapping) -> Result<Intake, IntakeError> {
        own_intake(req, crate::intake::parse_form(req.body, self.honeypot))
    }

    fn receipt(&self) -> Receipt {
        Receipt::OneLead
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configured_honeypot_flags_the_item() {
        let headers: Vec<(String, String)> = Vec::new();
        let req = Incoming {
            method: "POST",
            url: "https://h/x",
            headers: &headers,
            body: b"email=bot%40example.com&website=http%3A%2F%2Fspam",
            now: chrono::Utc::now(),
        };
        let Intake::Leads(items) = Form::new(AuthScheme::Token, Some("website"))
            .parse(&req, &FieldMapping::new())
            .unwrap()
        else {
            panic!("leads expected")
        };
        assert!(items[0].honeypot_filled);
        assert!(!items[0].custom.contains_key("website"));
        let p = Form::new(AuthScheme::Token, None);
        assert!(p
            .check_content_type("application/x-www-form-urlencoded")
            .is_ok());
        assert!(p.check_content_type("application/json").is_err());
    }
}
