//! What enrich derives from the fields a lead gave: normalised email and its domain, free-mail,
//! disposable, role and validity flags, E.164 phone, country, and the name in both forms.

use super::lead::{Enrichment, LeadFields};
use super::normalize;

pub fn enrich(
    fields: &LeadFields,
    default_country: Option<&str>,
    extra_free_domains: &[String],
) -> Enrichment {
    let email = fields.email.as_deref().and_then(normalize::email);
    let email_domain = email
        .as_deref()
        .and_then(normalize::email_domain)
        .map(str::to_owned);
    let class = email
        .as_deref()
        .map(|e| normalize::classify_email(e, extra_free_domains))
        .unwrap_or_default();
    let given_region = fields.country.as_deref().and_then(normalize::region);
    let hint = given_region.or_else(|| default_country.and_then(normalize::region));
    let phone = fields
        .phone
        .as_deref()
        .and_then(|p| normalize::phone(p, hint));
    let country = given_region
        .map(normalize::region_code)
        .or_else(|| phone.as_ref().and_then(|p| p.region.clone()));
    let (first_name, last_name, full_name) = names(fields);
    let company_domain = corporate_domain(email_domain.as_deref(), class);
    let company = super::company::given_company(fields).or_else(|| company_domain.clone());
    Enrichment {
        email_invalid: fields.email.is_some() && email.is_none(),
        email,
        email_domain,
        free_email: class.free,
        disposable_email: class.disposable,
        role_email: class.role,
        phone_invalid: fields.phone.is_some() && !phone.as_ref().is_some_and(|p| p.valid),
        phone: phone.map(|p| p.e164),
        country,
        first_name,
        last_name,
        full_name,
        company,
        company_domain,
        // Company data comes from the provider, looked up by enrich (`company::apply`).
        company_size: None,
        industry: None,
        company_country: None,
        company_lookup: None,
        company_lookup_error: None,
    }
}

/// The company domain a lead's email gives, if any: what enrich would put in
/// `company_domain`, without the rest of the work (for deciding on a company lookup).
pub fn company_domain(fields: &LeadFields, extra_free_domains: &[String]) -> Option<String> {
    let email = fields.email.as_deref().and_then(normalize::email)?;
    let class = normalize::classify_email(&email, extra_free_domains);
    corporate_domain(normalize::email_domain(&email), class)
}

/// A corporate mailbox's domain is the company's; a free or throw-away one says nothing.
fn corporate_domain(domain: Option<&str>, class: normalize::EmailClass) -> Option<String> {
    domain
        .filter(|_| !class.free && !class.disposable)
        .map(str::to_owned)
}

fn names(f: &LeadFields) -> (Option<String>, Option<String>, Option<String>) {
    let clean = |s: &Option<String>| {
        s.as_deref()
            .map(normalize::clean_text)
            .filter(|s| !s.is_empty())
    };
    let (first, last, full) = (
        clean(&f.first_name),
        clean(&f.last_name),
        clean(&f.full_name),
    );
    match (first, last, full) {
        (None, None, Some(full)) => {
            let (first, last) = normalize::split_name(&full);
            (first, last, Some(full))
        }
        (first, last, None) => {
            let joined = [first.as_deref(), last.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            (first, last, (!joined.is_empty()).then_some(joined))
        }
        (first, last, full) => (first, last, full),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields() -> LeadFields {
        LeadFields::default()
    }

    #[test]
    fn email_is_normalised_and_classified() {
        let e = enrich(
            &LeadFields {
                email: Some(" Ana@Gmail.COM".into()),
                ..fields()
            },
            None,
            &[],
        );
        assert_eq!(e.email.as_deref(), Some("ana@gmail.com"));
        assert_eq!(e.email_domain.as_deref(), Some("gmail.com"));
        assert!(e.free_email);
        assert!(!e.email_invalid);
        let e = enrich(
            &LeadFields {
                email: Some("nope".into()),
                phone: Some("+14155552671".into()),
                ..fields()
            },
            None,
            &[],
        );
        assert!(e.email_invalid);
        assert_eq!(e.email, None);
    }

    #[test]
    fn email_flags_cover_free_disposable_role_and_invalid() {
        let extra = ["acme-partners.example".to_string()];
        // (given, stored, domain, free, disposable, role, invalid)
        for (given, stored, domain, free, disposable, role, invalid) in [
            (
                "Sales+eu@Acme.io",
                Some("sales+eu@acme.io"),
                Some("acme.io"),
                false,
                false,
                true,
                false,
            ),
            (
                "sam@Mailinator.com",
                Some("sam@mailinator.com"),
                Some("mailinator.com"),
                true,
                true,
                false,
                false,
            ),
            (
                "José@Bücher.example",
                Some("josé@xn--bcher-kva.example"),
                Some("xn--bcher-kva.example"),
                false,
                false,
                false,
                false,
            ),
            (
                "info@xn--bcher-kva.example",
                Some("info@xn--bcher-kva.example"),
                Some("xn--bcher-kva.example"),
                false,
                false,
                true,
                false,
            ),
            (
                "ana+leads@ACME-PARTNERS.example",
                Some("ana+leads@acme-partners.example"),
                Some("acme-partners.example"),
                true,
                false,
                false,
                false,
            ),
            ("ana@acme", None, None, false, false, false, true),
            ("info@", None, None, false, false, false, true),
        ] {
            let e = enrich(
                &LeadFields {
                    email: Some(given.into()),
                    ..fields()
                },
                None,
                &extra,
            );
            assert_eq!(e.email.as_deref(), stored, "{given:?}");
            assert_eq!(e.email_domain.as_deref(), domain, "{given:?}");
            assert_eq!(
                (
                    e.free_email,
                    e.disposable_email,
                    e.role_email,
                    e.email_invalid
                ),
                (free, disposable, role, invalid),
                "{given:?}"
            );
        }
        let none = enrich(&fields(), None, &[]);
        assert!(!none.email_invalid && !none.role_email && !none.disposable_email);
    }

    #[test]
    fn the_local_scoring_rules_mark_disposable_and_role_addresses_down() {
        use crate::scoring::score;
        use crate::test_support::{config, lead};
        let c = config();
        let reasons = |email: &str| {
            let mut l = lead();
            l.fields.email = Some(email.into());
            l.enrichment = Some(enrich(&l.fields, None, &c.enrichment.free_email_domains));
            let s = score(&l, &c.scoring, l.received_at);
            s.reasons.iter().map(|r| r.to_string()).collect::<Vec<_>>()
        };
        let r = reasons("sam@mailinator.com");
        assert!(r.contains(&"-30 disposable email".to_string()), "{r:?}");
        assert!(r.contains(&"-10 free-mail address".to_string()), "{r:?}");
        assert!(!r.iter().any(|r| r.contains("corporate")), "{r:?}");
        let r = reasons("Sales+eu@Acme.io");
        assert!(r.contains(&"-5 role address".to_string()), "{r:?}");
        assert!(r.contains(&"+20 corporate email".to_string()), "{r:?}");
        let r = reasons("ana.ferreira@northwind-logistics.com");
        assert!(
            !r.iter()
                .any(|r| r.contains("role") || r.contains("disposable")),
            "{r:?}"
        );
    }

    #[test]
    fn the_company_is_the_given_name_else_a_corporate_emails_domain() {
        // (email, company given, company domain, company)
        for (email, given, domain, company) in [
            ("ana@Acme.io", None, Some("acme.io"), Some("acme.io")),
            (
                "ana@acme.io",
                Some(" Acme  Robotics "),
                Some("acme.io"),
                Some("Acme Robotics"),
            ),
            ("info@acme.io", None, Some("acme.io"), Some("acme.io")),
            ("ana@gmail.com", None, None, None),
            ("ana@gmail.com", Some("Acme"), None, Some("Acme")),
            ("sam@mailinator.com", None, None, None),
            ("not an email", None, None, None),
        ] {
            let e = enrich(
                &LeadFields {
                    email: Some(email.into()),
                    phone: Some("+14155552671".into()),
                    company: given.map(str::to_owned),
                    ..fields()
                },
                None,
                &[],
            );
            assert_eq!(e.company_domain.as_deref(), domain, "{email}");
            assert_eq!(
                company_domain(
                    &LeadFields {
                        email: Some(email.into()),
                        ..fields()
                    },
                    &[]
                )
                .as_deref(),
                domain,
                "{email}"
            );
            assert_eq!(e.company.as_deref(), company, "{email} {given:?}");
            assert_eq!(e.company_lookup, None);
        }
    }

    #[test]
    fn enrichment_stored_before_the_new_flags_still_reads() {
        let old = r#"{"email":"ana@acme.io","email_domain":"acme.io","free_email":false,"email_invalid":false,"phone_invalid":false}"#;
        let e: Enrichment = serde_json::from_str(old).unwrap();
        assert!(!e.disposable_email && !e.role_email);
    }

    #[test]
    fn national_numbers_use_the_leads_country_then_the_sources() {
        let f = LeadFields {
            phone: Some("030 12345678".into()),
            country: Some("Germany".into()),
            ..fields()
        };
        assert_eq!(
            enrich(&f, Some("US"), &[]).phone.as_deref(),
            Some("+493012345678")
        );
        let f = LeadFields {
            phone: Some("030 12345678".into()),
            ..fields()
        };
        let e = enrich(&f, Some("DE"), &[]);
        assert_eq!(e.phone.as_deref(), Some("+493012345678"));
        assert_eq!(e.country.as_deref(), Some("DE"));
        let e = enrich(&f, None, &[]);
        assert!(e.phone_invalid);
        assert_eq!(e.phone, None);
    }

    #[test]
    fn names_are_completed_in_both_directions_and_kept_intact() {
        let e = enrich(
            &LeadFields {
                full_name: Some("José  Müller-Łukasiewicz".into()),
                ..fields()
            },
            None,
            &[],
        );
        assert_eq!(e.first_name.as_deref(), Some("José"));
        assert_eq!(e.last_name.as_deref(), Some("Müller-Łukasiewicz"));
        assert_eq!(e.full_name.as_deref(), Some("José Müller-Łukasiewicz"));
        let e = enrich(
            &LeadFields {
                first_name: Some("Ana".into()),
                last_name: Some("Costa".into()),
                ..fields()
            },
            None,
            &[],
        );
        assert_eq!(e.full_name.as_deref(), Some("Ana Costa"));
    }
}
