//! What enrich derives from the fields a lead gave: normalised email and its domain, free-mail
//! and validity flags, E.164 phone, country, and the name in both forms.

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
    let free_email = email_domain
        .as_deref()
        .is_some_and(|d| normalize::is_free_email_domain(d, extra_free_domains));
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
    Enrichment {
        email_invalid: fields.email.is_some() && email.is_none(),
        email,
        email_domain,
        free_email,
        phone_invalid: fields.phone.is_some() && phone.is_none(),
        phone: phone.map(|p| p.e164),
        country,
        first_name,
        last_name,
        full_name,
    }
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
