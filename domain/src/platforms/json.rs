//! Our own JSON format: a JSON object of the lead's fields (see [`crate::intake::parse_json`]),
//! authenticated by the source's `auth` scheme (an `X-Leadrelay-Signature` HMAC or a
//! `?token=`), one lead per delivery, deduplicated by `Idempotency-Key` or the body's hash.

use super::*;

pub struct Json {
    auth: OwnAuth,
}

impl Json {
    pub fn new(auth: impl Into<OwnAuth>) -> Self {
        Json { auth: auth.into() }
    }
}

impl Platform for Json {
    fn name(&self) -> &'static str {
        "json"
    }

    fn authenticate(&self, req: &Incoming, creds: &Credentials) -> Result<(), AuthError> {
        verify_own_auth(self.auth, req, creds)
    }

    fn check_content_type(&self, content_type: &str) -> Result<(), &'static str> {
        let ct = content_type;
        if ct == "application/json" || (ct.starts_with("application/") && ct.ends_with("+json")) {
            Ok(())
        } else {
            Err("application/json")
        }
    }

    fn check_request(&self, req: &Incoming) -> Result<(), Refusal> {
        idempotency_key(req).map(drop)
    }

    fn parse(&self, req: &Incoming, _mapping: &FieldMapping) -> Result<Intake, IntakeError> {
        own_intake(req, crate::intake::parse_json(req.body))
    }

    fn receipt(&self) -> Receipt {
        Receipt::OneLead
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sign;

    fn incoming<'a>(headers: &'a [(String, String)], body: &'a [u8], url: &'a str) -> Incoming<'a> {
        Incoming {
            method: "POST",
            url,
            headers,
            body,
            now: chrono::Utc::now(),
        }
    }

    #[test]
    fn one_lead_keyed_by_the_idempotency_key_or_the_body_hash() {
        let body = br#"{"email":"ana@acme.io"}"#;
        let none: Vec<(String, String)> = Vec::new();
        let Intake::Leads(items) = Json::new(AuthScheme::Hmac)
            .parse(&incoming(&none, body, "https://h/x"), &FieldMapping::new())
            .unwrap()
        else {
            panic!("leads expected")
        };
        assert_eq!(items.len(), 1);
        assert!(items[0].dedupe_key.starts_with("sha256:"));
        assert_eq!(items[0].fields.email.as_deref(), Some("ana@acme.io"));
        let keyed = vec![("idempotency-key".to_owned(), " k1 ".to_owned())];
        assert_eq!(
            idempotency_key(&incoming(&keyed, body, "https://h/x")).unwrap(),
            "key:k1"
        );
        let blank = vec![("idempotency-key".to_owned(), " ".to_owned())];
        let refused = Json::new(AuthScheme::Hmac)
            .check_request(&incoming(&blank, body, "https://h/x"))
            .unwrap_err();
        assert_eq!(refused.code, "bad_idempotency_key");
    }

    #[test]
    fn the_source_auth_scheme_decides_the_check() {
        let secret = Secret::new("s3cret");
        let creds = Credentials {
            secret: Some(&secret),
            ..Default::default()
        };
        let body = br#"{"email":"ana@acme.io"}"#;
        let none: Vec<(String, String)> = Vec::new();
        let token = Json::new(AuthScheme::Token);
        assert!(token
            .authenticate(&incoming(&none, body, "https://h/x?token=s3cret"), &creds)
            .is_ok());
        assert!(token
            .authenticate(&incoming(&none, body, "https://h/x?token=nope"), &creds)
            .is_err());
        let now = chrono::Utc::now();
        let signed = vec![(
            "x-leadrelay-signature".to_owned(),
            sign(&secret, None, None, body),
        )];
        let mut req = incoming(&signed, body, "https://h/x");
        req.now = now;
        assert!(Json::new(AuthScheme::Hmac)
            .authenticate(&req, &creds)
            .is_ok());
        assert!(Json::new(AuthScheme::Hmac)
            .authenticate(&incoming(&none, body, "https://h/x"), &creds)
            .is_err());
    }

    #[test]
    fn a_signed_source_takes_only_the_idempotency_key_and_timestamp_it_signed() {
        let secret = Secret::new("s3cret");
        let creds = Credentials {
            secret: Some(&secret),
            ..Default::default()
        };
        let body = br#"{"email":"ana@acme.io"}"#;
        let now = chrono::Utc::now();
        let ts = now.timestamp().to_string();
        let headers = |sig: String, ts: Option<&str>, key: Option<&str>| {
            let mut h = vec![("x-leadrelay-signature".to_owned(), sig)];
            h.extend(ts.map(|t| ("x-leadrelay-timestamp".to_owned(), t.to_owned())));
            h.extend(key.map(|k| ("idempotency-key".to_owned(), k.to_owned())));
            h
        };
        let strict = Json::new(OwnAuth {
            scheme: AuthScheme::Hmac,
            require_timestamp: true,
        });
        let check = |p: &Json, h: &[(String, String)]| {
            let mut req = incoming(h, body, "https://h/x");
            req.now = now;
            p.authenticate(&req, &creds)
        };
        let keyed = sign(&secret, Some(&ts), Some("k1"), body);
        assert!(check(&strict, &headers(keyed.clone(), Some(&ts), Some("k1"))).is_ok());
        assert_eq!(
            check(&strict, &headers(keyed, Some(&ts), Some("k2"))),
            Err(AuthError::BadSignature)
        );
        let untimed = sign(&secret, None, None, body);
        assert_eq!(
            check(&strict, &headers(untimed.clone(), None, None)),
            Err(AuthError::Missing("X-Leadrelay-Timestamp header"))
        );
        assert!(check(&Json::new(AuthScheme::Hmac), &headers(untimed, None, None)).is_ok());
    }

    #[test]
    fn json_and_json_suffixed_types_are_taken() {
        let p = Json::new(AuthScheme::Hmac);
        assert!(p.check_content_type("application/json").is_ok());
        assert!(p.check_content_type("application/vnd.lead+json").is_ok());
        assert_eq!(p.check_content_type("text/plain"), Err("application/json"));
    }
}
