//! From a delivery's body to the fields of a lead: JSON objects and URL-encoded forms. Limits
//! are explicit; every refusal names the problem.

use std::collections::BTreeMap;

use super::attribution::{self, LANDING_PAGE_FIELDS, REFERRER_FIELDS};
use super::lead::LeadFields;
use super::normalize::canonical;

/// Largest body capture accepts.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Longest value of any one field, in characters (the message and URLs may be longer).
pub const MAX_FIELD_CHARS: usize = 1_000;
pub const MAX_MESSAGE_CHARS: usize = 10_000;
/// Longest landing page or referrer URL, in characters (ad click ids make URLs long).
pub const MAX_URL_CHARS: usize = 4_000;
pub const MAX_FIELDS: usize = 200;
pub const MAX_KEY_CHARS: usize = 100;

/// The UTM parameters kept as attribution.
pub use super::attribution::UTM_KEYS;

/// A delivery's content, split into the lead's fields, attribution and everything else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Submission {
    pub fields: LeadFields,
    /// Given as fields, completed from the landing page's query string.
    pub utm: BTreeMap<String, String>,
    /// Given as fields, completed from the landing page's query string.
    pub click_ids: BTreeMap<String, String>,
    /// `landing_page` or `page_url`, as given.
    pub landing_page: Option<String>,
    /// `referrer` or `referer`, as given.
    pub referrer: Option<String>,
    pub attributes: BTreeMap<String, String>,
    /// The honeypot field was filled: a bot.
    pub is_spam: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    /// The body cannot be read at all (400).
    #[error("{0}")]
    Malformed(String),
    /// The body reads, but is not a lead (422).
    #[error("{0}")]
    NotALead(String),
}

impl IntakeError {
    /// A stable code for the JSON error body.
    pub fn code(&self) -> &'static str {
        match self {
            IntakeError::Malformed(_) => "malformed_body",
            IntakeError::NotALead(_) => "not_a_lead",
        }
    }
}

/// A JSON object of fields. Non-string values are kept as their JSON text.
pub fn parse_json(body: &[u8]) -> Result<Submission, IntakeError> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|e| IntakeError::Malformed(format!("body is not valid JSON: {e}")))?;
    let serde_json::Value::Object(map) = value else {
        return Err(IntakeError::Malformed(
            "body must be a JSON object of the lead's fields".into(),
        ));
    };
    let pairs = map.into_iter().filter_map(|(k, v)| {
        let text = match v {
            serde_json::Value::Null => return None,
            serde_json::Value::String(s) => s,
            other => other.to_string(),
        };
        Some((k, text))
    });
    collect(pairs, None)
}

/// `application/x-www-form-urlencoded`, as a plain HTML form posts it.
pub fn parse_form(body: &[u8], honeypot: Option<&str>) -> Result<Submission, IntakeError> {
    std::str::from_utf8(body)
        .map_err(|_| IntakeError::Malformed("form body is not valid UTF-8".into()))?;
    let pairs = form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned()));
    collect(pairs, honeypot)
}

fn collect(
    pairs: impl Iterator<Item = (String, String)>,
    honeypot: Option<&str>,
) -> Result<Submission, IntakeError> {
    let mut sub = Submission::default();
    let mut count = 0usize;
    for (key, value) in pairs {
        count += 1;
        if count > MAX_FIELDS {
            return Err(IntakeError::NotALead(format!(
                "more than {MAX_FIELDS} fields"
            )));
        }
        if key.chars().count() > MAX_KEY_CHARS {
            return Err(IntakeError::NotALead(format!(
                "a field name is longer than {MAX_KEY_CHARS} characters"
            )));
        }
        let c = canonical(&key);
        if honeypot.is_some_and(|h| canonical(h) == c) {
            sub.is_spam |= !value.trim().is_empty();
            continue;
        }
        let value = value.trim().to_owned();
        let is_url =
            LANDING_PAGE_FIELDS.contains(&c.as_str()) || REFERRER_FIELDS.contains(&c.as_str());
        let limit = if c == "message" {
            MAX_MESSAGE_CHARS
        } else if is_url {
            MAX_URL_CHARS
        } else {
            MAX_FIELD_CHARS
        };
        if value.chars().count() > limit {
            return Err(IntakeError::NotALead(format!(
                "field {key:?} is longer than {limit} characters"
            )));
        }
        if value.is_empty() {
            continue;
        }
        let f = &mut sub.fields;
        let slot = match c.as_str() {
            "email" | "e_mail" | "email_address" | "work_email" => &mut f.email,
            "name" | "full_name" | "fullname" | "your_name" => &mut f.full_name,
            "first_name" | "firstname" | "given_name" | "fname" => &mut f.first_name,
            "last_name" | "lastname" | "surname" | "family_name" | "lname" => &mut f.last_name,
            "phone" | "phone_number" | "telephone" | "tel" | "mobile" => &mut f.phone,
            "company" | "company_name" | "organization" | "organisation" => &mut f.company,
            "job_title" | "jobtitle" | "title" | "position" | "role" => &mut f.job_title,
            "country" | "country_code" => &mut f.country,
            "message" | "comments" | "comment" | "notes" | "enquiry" | "inquiry" => &mut f.message,
            "landing_page" | "page_url" => &mut sub.landing_page,
            "referrer" | "referer" => &mut sub.referrer,
            other => {
                let map = match attribution::parameter(other) {
                    Some(("utm", k)) => Some((&mut sub.utm, k)),
                    Some((_, k)) => Some((&mut sub.click_ids, k)),
                    None => None,
                };
                match map {
                    Some((map, k)) if !map.contains_key(k) => {
                        map.insert(k.to_owned(), value);
                    }
                    _ => {
                        sub.attributes.insert(key.trim().to_owned(), value);
                    }
                }
                continue;
            }
        };
        // The first value of a field wins; a later alias goes to the attributes.
        if slot.is_none() {
            *slot = Some(value);
        } else {
            sub.attributes.insert(key.trim().to_owned(), value);
        }
    }
    // Explicit fields win; the landing page's query string fills in the rest.
    if let Some(page) = &sub.landing_page {
        attribution::params_in_url(page).fill_missing(&mut sub.utm, &mut sub.click_ids);
    }
    if !sub.is_spam && sub.fields.email.is_none() && sub.fields.phone.is_none() {
        return Err(IntakeError::NotALead(
            "a lead needs an email or a phone number; neither was given".into(),
        ));
    }
    if let Some(email) = &sub.fields.email {
        if super::normalize::email(email).is_none() && sub.fields.phone.is_none() {
            return Err(IntakeError::NotALead(
                "email is not a valid address and no phone number was given".into(),
            ));
        }
    }
    Ok(sub)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_fields_map_onto_the_lead_and_the_rest_is_kept() {
        let s = parse_json(
            br#"{"email":" ana@acme.io ","first_name":"Ana","last_name":"Costa","phone":"+351 912 345 678",
                "company":"Acme","job_title":"CTO","country":"PT","message":"Demo please",
                "utm_source":"google","utm_campaign":"spring","employees":250,"newsletter":true,"note":null}"#,
        )
        .unwrap();
        assert_eq!(s.fields.email.as_deref(), Some("ana@acme.io"));
        assert_eq!(s.fields.first_name.as_deref(), Some("Ana"));
        assert_eq!(s.fields.job_title.as_deref(), Some("CTO"));
        assert_eq!(s.utm.get("source").map(String::as_str), Some("google"));
        assert_eq!(
            s.attributes.get("employees").map(String::as_str),
            Some("250")
        );
        assert_eq!(
            s.attributes.get("newsletter").map(String::as_str),
            Some("true")
        );
        assert!(!s.attributes.contains_key("note"));
        assert!(!s.is_spam);
    }

    #[test]
    fn forms_decode_plus_and_percent_and_honour_the_honeypot() {
        let s = parse_form(
            b"full_name=Hannah+Schmidt&email=hannah%40example.com&website=",
            Some("website"),
        )
        .unwrap();
        assert_eq!(s.fields.full_name.as_deref(), Some("Hannah Schmidt"));
        assert_eq!(s.fields.email.as_deref(), Some("hannah@example.com"));
        assert!(!s.is_spam);
        let bot = parse_form(
            b"email=bot%40example.com&website=http%3A%2F%2Fspam",
            Some("website"),
        )
        .unwrap();
        assert!(bot.is_spam);
    }

    #[test]
    fn bodies_that_are_not_leads_are_refused_with_the_reason() {
        assert!(matches!(
            parse_json(b"{not json"),
            Err(IntakeError::Malformed(_))
        ));
        assert!(matches!(
            parse_json(b"[1,2]"),
            Err(IntakeError::Malformed(_))
        ));
        let e = parse_json(br#"{"name":"Ana"}"#).unwrap_err();
        assert_eq!(e.code(), "not_a_lead");
        assert!(e.to_string().contains("email or a phone"));
        let e = parse_json(br#"{"email":"nope"}"#).unwrap_err();
        assert!(e.to_string().contains("not a valid address"));
        assert!(matches!(
            parse_form(&[0xff, 0xfe], None),
            Err(IntakeError::Malformed(_))
        ));
    }

    #[test]
    fn field_lengths_are_limited() {
        let long = "x".repeat(MAX_FIELD_CHARS + 1);
        let e = parse_json(format!(r#"{{"email":"a@b.io","company":"{long}"}}"#).as_bytes())
            .unwrap_err();
        assert_eq!(
            e,
            IntakeError::NotALead(format!(
                "field \"company\" is longer than {MAX_FIELD_CHARS} characters"
            ))
        );
    }

    #[test]
    fn landing_page_referrer_utms_and_click_ids_are_attribution() {
        fn pairs(p: &[(&str, &str)]) -> BTreeMap<String, String> {
            p.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
        }
        // (body, landing page, referrer, utm, click ids)
        type Case<'a> = (
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            &'a [(&'a str, &'a str)],
            &'a [(&'a str, &'a str)],
        );
        let cases: &[Case] = &[
            // The landing page's query counts.
            (
                r#"{"email":"a@b.io","landing_page":"https://acme.io/demo?utm_source=google&utm_medium=cpc&gclid=G1","referrer":"https://www.google.com/"}"#,
                Some("https://acme.io/demo?utm_source=google&utm_medium=cpc&gclid=G1"),
                Some("https://www.google.com/"),
                &[("source", "google"), ("medium", "cpc")],
                &[("gclid", "G1")],
            ),
            // Explicit fields win over the URL's; `page_url` and `referer` are aliases.
            (
                r#"{"email":"a@b.io","utm_source":"newsletter","gclid":"explicit","page_url":"https://acme.io/?utm_source=google&gclid=url&fbclid=F","referer":"https://news.example/"}"#,
                Some("https://acme.io/?utm_source=google&gclid=url&fbclid=F"),
                Some("https://news.example/"),
                &[("source", "newsletter")],
                &[("gclid", "explicit"), ("fbclid", "F")],
            ),
            // A malformed URL is kept as given and contributes nothing.
            (
                r#"{"email":"a@b.io","landing_page":"http://exa mple.com/?utm_source=x"}"#,
                Some("http://exa mple.com/?utm_source=x"),
                None,
                &[],
                &[],
            ),
            // A relative URL still carries its parameters.
            (
                r#"{"email":"a@b.io","Landing-Page":"/pricing?utm_campaign=spring&msclkid=M"}"#,
                Some("/pricing?utm_campaign=spring&msclkid=M"),
                None,
                &[("campaign", "spring")],
                &[("msclkid", "M")],
            ),
            // Click ids given as fields are attribution, not attributes.
            (
                r#"{"email":"a@b.io","li_fat_id":"L","ttclid":"T"}"#,
                None,
                None,
                &[],
                &[("li_fat_id", "L"), ("ttclid", "T")],
            ),
        ];
        for (body, landing, referrer, utm, click_ids) in cases {
            let s = parse_json(body.as_bytes()).unwrap();
            assert_eq!(s.landing_page.as_deref(), *landing, "{body}");
            assert_eq!(s.referrer.as_deref(), *referrer, "{body}");
            assert_eq!(s.utm, pairs(utm), "{body}");
            assert_eq!(s.click_ids, pairs(click_ids), "{body}");
            assert!(
                !s.attributes
                    .keys()
                    .any(|k| k.contains("clid") || k.contains("utm")),
                "{body}: {:?}",
                s.attributes
            );
        }
        let form = parse_form(
            b"email=a%40b.io&page_url=https%3A%2F%2Facme.io%2F%3Futm_medium%3Demail&referrer=https%3A%2F%2Fmail.example%2F",
            None,
        )
        .unwrap();
        assert_eq!(form.utm, pairs(&[("medium", "email")]));
        assert_eq!(form.referrer.as_deref(), Some("https://mail.example/"));
    }

    #[test]
    fn landing_pages_may_be_longer_than_other_fields() {
        let url = format!("https://acme.io/?gclid={}", "x".repeat(2_000));
        let body = serde_json::json!({"email": "a@b.io", "landing_page": url});
        let s = parse_json(body.to_string().as_bytes()).unwrap();
        assert_eq!(s.landing_page.as_deref(), Some(url.as_str()));
        let too_long =
            serde_json::json!({"email": "a@b.io", "referrer": "x".repeat(MAX_URL_CHARS + 1)});
        assert!(matches!(
            parse_json(too_long.to_string().as_bytes()),
            Err(IntakeError::NotALead(_))
        ));
    }

    #[test]
    fn a_phone_alone_is_a_lead() {
        assert!(parse_form(b"phone=%2B4930123456", None).is_ok());
    }
}
