//! Normalising what people type: emails, phone numbers, countries, names. Pure functions;
//! normalising twice gives what normalising once gave.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use phonenumber::country::Id as Region;
use phonenumber::Mode;

/// An email address, trimmed and lower-cased, or `None` when it is not a usable address.
pub fn email(raw: &str) -> Option<String> {
    let e = raw.trim().to_lowercase();
    // The parser accepts quoted local parts and comments; a lead's address must be a plain
    // mailbox we can send to.
    if e.len() > 254
        || e.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"')
    {
        return None;
    }
    let (_, domain) = e.rsplit_once('@')?;
    if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
        return None;
    }
    email_address::EmailAddress::is_valid(&e).then_some(e)
}

/// The domain part of a normalised email.
pub fn email_domain(email: &str) -> Option<&str> {
    email.rsplit_once('@').map(|(_, d)| d)
}

fn builtin_free_domains() -> &'static BTreeSet<&'static str> {
    static SET: OnceLock<BTreeSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        include_str!("../../data/free_email_domains.txt")
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect()
    })
}

/// Whether a domain belongs to a consumer mailbox provider.
pub fn is_free_email_domain(domain: &str, extra: &[String]) -> bool {
    builtin_free_domains().contains(domain) || extra.iter().any(|d| d.eq_ignore_ascii_case(domain))
}

/// A country code or common English name to an ISO 3166-1 alpha-2 region.
pub fn region(raw: &str) -> Option<Region> {
    let t = raw.trim();
    if t.len() == 2 {
        return t.to_ascii_uppercase().parse().ok();
    }
    let code = match t.to_lowercase().as_str() {
        "united states" | "united states of america" | "usa" => "US",
        "united kingdom" | "great britain" | "england" | "uk" => "GB",
        "germany" | "deutschland" => "DE",
        "france" => "FR",
        "spain" | "españa" => "ES",
        "italy" | "italia" => "IT",
        "netherlands" | "the netherlands" | "nederland" => "NL",
        "austria" | "österreich" => "AT",
        "switzerland" | "schweiz" | "suisse" => "CH",
        "canada" => "CA",
        "australia" => "AU",
        "ireland" => "IE",
        "india" => "IN",
        "brazil" | "brasil" => "BR",
        "mexico" | "méxico" => "MX",
        "japan" => "JP",
        "sweden" => "SE",
        "norway" => "NO",
        "denmark" => "DK",
        "finland" => "FI",
        "poland" | "polska" => "PL",
        "portugal" => "PT",
        "belgium" => "BE",
        _ => return None,
    };
    code.parse().ok()
}

/// The region's two-letter code.
pub fn region_code(r: Region) -> String {
    r.as_ref().to_owned()
}

/// A phone number parsed with libphonenumber's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    pub e164: String,
    pub region: Option<String>,
}

/// Parses a phone number; national formats need a region. `None` when it is not a valid number.
pub fn phone(raw: &str, region: Option<Region>) -> Option<Phone> {
    let t = raw.trim();
    if t.is_empty() || t.len() > 64 {
        return None;
    }
    let n = phonenumber::parse(region, t).ok()?;
    if !n.is_valid() {
        return None;
    }
    Some(Phone {
        e164: n.format().mode(Mode::E164).to_string(),
        region: n.country().id().map(region_code),
    })
}

/// Splits a full name into first and last: the first word, and the rest.
pub fn split_name(full: &str) -> (Option<String>, Option<String>) {
    let mut words = full.split_whitespace();
    let first = words.next().map(str::to_owned);
    let rest: Vec<&str> = words.collect();
    let last = (!rest.is_empty()).then(|| rest.join(" "));
    (first, last)
}

/// Collapses runs of white space and trims; keeps every other character as given.
pub fn clean_text(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        for (raw, want) in [
            ("  Ana.Costa@Example.COM ", Some("ana.costa@example.com")),
            ("ana+leads@example.com", Some("ana+leads@example.com")),
            ("not-an-email", None),
            ("a@b", None),
            ("a b@example.com", None),
            ("", None),
            ("\"quoted\"@example.com", None),
            ("a@example.com\r\nBcc: x@evil.com", None),
        ] {
            assert_eq!(email(raw).as_deref(), want, "{raw:?}");
        }
    }

    #[test]
    fn free_mail_is_recognised_and_extendable() {
        assert!(is_free_email_domain("gmail.com", &[]));
        assert!(!is_free_email_domain("acme-robotics.io", &[]));
        assert!(is_free_email_domain("example.org", &["Example.org".into()]));
    }

    #[test]
    fn phones_become_e164_with_the_country_for_national_numbers() {
        let de = region("DE");
        for (raw, r, want) in [
            ("+49 30 12345678", None, Some("+493012345678")),
            ("030 12345678", de, Some("+493012345678")),
            ("030 12345678", None, None),
            ("(415) 555-2671", region("US"), Some("+14155552671")),
            ("+1 415 555 2671", de, Some("+14155552671")),
            ("12", de, None),
            ("call me", de, None),
        ] {
            assert_eq!(phone(raw, r).map(|p| p.e164).as_deref(), want, "{raw:?}");
        }
        assert_eq!(
            phone("+49 30 12345678", None).unwrap().region.as_deref(),
            Some("DE")
        );
    }

    #[test]
    fn countries_are_codes_or_common_names() {
        assert_eq!(region("de").map(region_code).as_deref(), Some("DE"));
        assert_eq!(region("Germany").map(region_code).as_deref(), Some("DE"));
        assert_eq!(region("Atlantis"), None);
    }

    #[test]
    fn names_split_on_the_first_word_and_keep_unicode() {
        assert_eq!(
            split_name("José Müller-Łukasiewicz"),
            (Some("José".into()), Some("Müller-Łukasiewicz".into()))
        );
        assert_eq!(
            split_name("María José  de la Cruz"),
            (Some("María".into()), Some("José de la Cruz".into()))
        );
        assert_eq!(split_name("Cher"), (Some("Cher".into()), None));
        assert_eq!(split_name("   "), (None, None));
    }

    proptest! {
        #[test]
        fn normalising_an_email_twice_equals_once(s in "\\PC{0,40}") {
            if let Some(once) = email(&s) {
                prop_assert_eq!(email(&once), Some(once.clone()));
            }
        }

        #[test]
        fn normalising_a_phone_twice_equals_once(s in "[+0-9 ()-]{0,20}") {
            if let Some(once) = phone(&s, region("US")) {
                prop_assert_eq!(phone(&once.e164, None).map(|p| p.e164), Some(once.e164.clone()));
            }
        }
    }
}
