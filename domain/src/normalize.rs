//! Normalising what people type: emails, phone numbers, countries, names. Pure functions;
//! normalising twice gives what normalising once gave.

use std::borrow::Cow;

pub use phonenumber::country::Id as Region;
use phonenumber::Mode;

/// An email address, validated and normalised, or `None` when it is not a usable address.
///
/// The stored form is trimmed, with the local part lower-cased (`Ana+Leads` becomes
/// `ana+leads`; the `+tag` is kept) and the domain in its ASCII form as UTS #46 gives it:
/// lower-cased, and an internationalised domain in punycode (`Bücher.example` becomes
/// `xn--bcher-kva.example`). That is the form mail servers and Amazon SES accept, the form the
/// classification lists use, and one form however the domain was typed. Normalising twice gives
/// what normalising once gave.
pub fn email(raw: &str) -> Option<String> {
    let t = raw.trim();
    // The parser accepts quoted local parts and comments; a lead's address must be a plain
    // mailbox we can send to.
    if t.len() > 254
        || t.chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"')
    {
        return None;
    }
    let (local, domain) = t.rsplit_once('@')?;
    let domain = ascii_domain(domain)?;
    if !domain.contains('.') {
        return None;
    }
    let e = format!("{}@{domain}", local.to_lowercase());
    (e.len() <= 254 && email_address::EmailAddress::is_valid(&e)).then_some(e)
}

/// A domain in its ASCII form (UTS #46, strict): lower-cased, Unicode labels in punycode.
/// `None` when it is not a valid host name (empty labels, a leading or trailing dot or hyphen,
/// characters not allowed in host names, labels or names too long, broken punycode).
pub fn ascii_domain(domain: &str) -> Option<String> {
    if domain.is_empty() || domain.starts_with('.') || domain.ends_with('.') {
        return None;
    }
    idna::domain_to_ascii_strict(domain).ok()
}

/// The domain part of a normalised email.
pub fn email_domain(email: &str) -> Option<&str> {
    email.rsplit_once('@').map(|(_, d)| d)
}

/// The local part of an email without its `+tag` (`sales+eu` gives `sales`).
pub fn local_part_base(local: &str) -> &str {
    local.split_once('+').map_or(local, |(base, _)| base)
}

/// A normalised email without the `+tag` in its local part, to tell one mailbox however it
/// was tagged: `ana+leads@acme.io` gives `ana@acme.io`. Provider-specific rules (Gmail
/// ignoring dots) are left alone: they are not true of every domain.
pub fn email_base(email: &str) -> Option<String> {
    let (local, domain) = email.rsplit_once('@')?;
    Some(format!("{}@{domain}", local_part_base(local)))
}

/// One of the lists under domain/data (one entry a line, `#` comments, kept sorted by
/// scripts/refresh-email-lists), compiled by domain/build.rs into a finite-state set (the `fst`
/// crate): a lookup walks at most one state a byte of what it looks up, with nothing built or
/// allocated at run time. The three sets take 139 KB of the binary where the files' text and
/// an index of where each entry starts took 294 KB (docs/development.md).
struct ListSet {
    set: &'static [u8],
    /// The file as written, for the tests of its form.
    #[cfg(test)]
    text: &'static str,
}

impl ListSet {
    fn contains(&self, item: &str) -> bool {
        // Opening a set reads its header and nothing else; the bytes are what fst wrote at
        // build time, so it fails only on a broken build, and then nothing is listed.
        fst::Set::new(self.set).is_ok_and(|set| set.contains(item))
    }

    #[cfg(test)]
    fn entries(&self) -> Vec<String> {
        use fst::Streamer;
        let set = fst::Set::new(self.set).expect("the build wrote a set");
        let mut stream = set.stream();
        let mut entries = Vec::new();
        while let Some(entry) = stream.next() {
            entries.push(String::from_utf8(entry.to_vec()).expect("the files are UTF-8"));
        }
        entries
    }
}

include!(concat!(env!("OUT_DIR"), "/email_lists.rs"));

/// A domain as the lists hold it; the common case (already ASCII lower-case) is not copied.
fn lookup_form(domain: &str) -> Option<Cow<'_, str>> {
    if domain
        .bytes()
        .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.'))
    {
        Some(Cow::Borrowed(domain))
    } else {
        ascii_domain(domain).map(Cow::Owned)
    }
}

/// Whether a domain belongs to a consumer mailbox provider: the built-in list
/// (domain/data/free_email_domains.txt), a disposable-mail service (those are free mailboxes
/// too), or one of the configuration's `extra` domains. Domains compare in their ASCII form.
pub fn is_free_email_domain(domain: &str, extra: &[String]) -> bool {
    let Some(d) = lookup_form(domain) else {
        return false;
    };
    FREE_EMAIL_DOMAINS.contains(&d)
        || is_disposable_email_domain(&d)
        || extra
            .iter()
            .any(|x| lookup_form(x.trim()).is_some_and(|x| x == d))
}

/// Whether a domain, or a domain it is a subdomain of, is a disposable (throw-away) mail
/// service (domain/data/disposable_email_domains.txt): `mailinator.com`, `x.mailinator.com`.
pub fn is_disposable_email_domain(domain: &str) -> bool {
    let Some(d) = lookup_form(domain) else {
        return false;
    };
    let mut rest: &str = &d;
    // The domain, then each parent that still has a dot: never the bare top-level domain.
    while rest.contains('.') {
        if DISPOSABLE_EMAIL_DOMAINS.contains(rest) {
            return true;
        }
        rest = rest.split_once('.').map_or("", |(_, parent)| parent);
    }
    false
}

/// Whether a local part names a role rather than a person (`info`, `sales`, `no-reply`, …;
/// domain/data/role_email_local_parts.txt), ignoring case and any `+tag`.
pub fn is_role_local_part(local: &str) -> bool {
    let base = local_part_base(local.trim());
    if base.is_empty() {
        return false;
    }
    if base.bytes().any(|b| b.is_ascii_uppercase()) {
        ROLE_EMAIL_LOCAL_PARTS.contains(&base.to_lowercase())
    } else {
        ROLE_EMAIL_LOCAL_PARTS.contains(base)
    }
}

/// What an address says about who is behind it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmailClass {
    /// A consumer mailbox provider (disposable services included): says nothing of an employer.
    pub free: bool,
    /// A throw-away mailbox.
    pub disposable: bool,
    /// A shared mailbox for a role (`info@`, `sales+eu@`), not a person.
    pub role: bool,
}

/// Classifies a normalised email (see [`email`]); `extra_free` are the configuration's own
/// free-mail domains.
pub fn classify_email(email: &str, extra_free: &[String]) -> EmailClass {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return EmailClass::default();
    };
    EmailClass {
        free: is_free_email_domain(domain, extra_free),
        disposable: is_disposable_email_domain(domain),
        role: is_role_local_part(local),
    }
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

const TIMEZONE_COUNTRIES: &str = include_str!("../data/timezone_countries.tsv");

/// The country an IANA time zone is in (`Europe/Vienna` → AT), from tzdata's `zone.tab`: where
/// a person whose platform gives only their time zone most likely is.
pub fn timezone_region(tz: &str) -> Option<Region> {
    let tz = tz.trim();
    TIMEZONE_COUNTRIES
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.split_once('\t').filter(|(zone, _)| *zone == tz))
        .and_then(|(_, country)| country.parse().ok())
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
    /// libphonenumber knows the number as assigned. A number of plausible length in a range it
    /// does not know (a new range, a territory's range dialled under its parent's code, a
    /// fictional range) is still given in E.164, flagged as not valid, never dropped.
    pub valid: bool,
}

/// Parses a phone number; national formats need a region. `None` when it cannot be read as a
/// number of plausible length at all.
pub fn phone(raw: &str, region: Option<Region>) -> Option<Phone> {
    let t = raw.trim();
    if t.is_empty() || t.len() > 64 {
        return None;
    }
    let n = phonenumber::parse(region, t).ok()?;
    let e164 = n.format().mode(Mode::E164).to_string();
    let digits = e164.len().saturating_sub(1);
    let valid = n.is_valid();
    // E.164 allows at most 15 digits; shorter than 8 with the country code is not a subscriber.
    if !valid && !(8..=15).contains(&digits) {
        return None;
    }
    // An invalid number is kept only if it reads back as itself: some short ones do not
    // (`6700000` read in the US is `+16700000`, which reads as `+16706700000`), and a stored
    // number that changes when read again would split one person in two.
    if !valid
        && phonenumber::parse(None, &e164)
            .map(|again| again.format().mode(Mode::E164).to_string())
            .ok()
            != Some(e164.clone())
    {
        return None;
    }
    Some(Phone {
        e164,
        region: n.country().id().map(region_code),
        valid,
    })
}

/// The national significant number of an E.164 number (`+14155552671` → `4155552671`): the
/// digits as people type them at home, without trunk prefix or formatting.
pub fn national_number(e164: &str) -> Option<String> {
    let n = phonenumber::parse(None, e164).ok()?;
    Some(n.national().value().to_string())
}

/// Builds now what the first lead would otherwise wait for: libphonenumber's patterns and
/// metadata, built on first use (the North American region's, the commonest). A Lambda calls
/// it during init, which is not billed against a request's latency.
pub fn prime() {
    let _ = phone("+14155552671", None);
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

/// A field name as matched: trimmed, lower-case, `-` and spaces as `_`.
pub fn canonical(key: &str) -> String {
    key.trim().to_ascii_lowercase().replace(['-', ' '], "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    #[test]
    fn a_number_that_would_read_back_as_another_is_not_a_phone() {
        assert_eq!(phone("6700000", region("US")), None);
    }

    #[test]
    fn a_time_zone_names_its_country() {
        assert_eq!(
            timezone_region("Europe/Vienna").map(region_code).as_deref(),
            Some("AT")
        );
        assert_eq!(
            timezone_region(" America/Sao_Paulo ")
                .map(region_code)
                .as_deref(),
            Some("BR")
        );
        assert_eq!(timezone_region("UTC"), None);
        assert_eq!(timezone_region("Europe"), None);
    }

    #[test]
    fn emails_are_validated_and_normalised() {
        for (raw, want) in [
            ("  Ana.Costa@Example.COM ", Some("ana.costa@example.com")),
            // Plus-addressing is kept in the stored address.
            ("ana+leads@example.com", Some("ana+leads@example.com")),
            ("Sales+EU@Acme.IO", Some("sales+eu@acme.io")),
            // Upper-case domains, and IDN domains in Unicode or punycode: one ASCII form.
            ("ana@ACME-ROBOTICS.IO", Some("ana@acme-robotics.io")),
            ("José@Bücher.example", Some("josé@xn--bcher-kva.example")),
            ("josé@BÜCHER.example", Some("josé@xn--bcher-kva.example")),
            (
                "info@xn--bcher-kva.example",
                Some("info@xn--bcher-kva.example"),
            ),
            (
                "INFO@XN--BCHER-KVA.EXAMPLE",
                Some("info@xn--bcher-kva.example"),
            ),
            ("müller@münchen.de", Some("müller@xn--mnchen-3ya.de")),
            ("user@例え.jp", Some("user@xn--r8jz45g.jp")),
            // Unicode local parts are lower-cased as Unicode.
            ("ÉLODIE@exemple.fr", Some("élodie@exemple.fr")),
            ("o'brien@example.ie", Some("o'brien@example.ie")),
            ("not-an-email", None),
            ("a@b", None),
            ("a b@example.com", None),
            ("", None),
            ("@example.com", None),
            ("ana@", None),
            ("ana@@example.com", None),
            ("ana@.example.com", None),
            ("ana@example.com.", None),
            ("ana@exa mple.com", None),
            ("ana@-acme.io", None),
            ("ana@acme_robotics.io", None),
            ("ana@xn--zz.example", None),
            ("ana..costa@example.com", None),
            ("\"quoted\"@example.com", None),
            ("a@example.com\r\nBcc: x@evil.com", None),
            ("ana@[127.0.0.1]", None),
        ] {
            assert_eq!(email(raw).as_deref(), want, "{raw:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(email(&long), None);
    }

    #[test]
    fn plus_tags_are_stripped_for_the_base_address() {
        for (e, want) in [
            ("ana+leads@acme.io", "ana@acme.io"),
            ("ana@acme.io", "ana@acme.io"),
            ("sales+eu+de@acme.io", "sales@acme.io"),
        ] {
            assert_eq!(email_base(e).as_deref(), Some(want), "{e:?}");
        }
        assert_eq!(email_base("nope"), None);
    }

    #[test]
    fn emails_are_classified() {
        let extra = ["Example.org".to_string(), "Bücher.example".to_string()];
        // (raw address, free, disposable, role)
        for (raw, free, disposable, role) in [
            ("ana@gmail.com", true, false, false),
            ("Ana@GMAIL.COM", true, false, false),
            ("jo.student@gmail.com", true, false, false),
            ("ana@web.de", true, false, false),
            ("ana@yahoo.co.jp", true, false, false),
            ("ana@hey.com", true, false, false),
            ("ana@acme-robotics.io", false, false, false),
            ("ana.ferreira@northwind-logistics.com", false, false, false),
            // Disposable services are free mail too, and so are their subdomains.
            ("sam@mailinator.com", true, true, false),
            ("Sam@MAILINATOR.COM", true, true, false),
            ("sam@eu.mailinator.com", true, true, false),
            ("sam@amailinator.com", false, false, false),
            ("sam@mailinator.com.acme.io", false, false, false),
            ("sam@10minutemail.com", true, true, false),
            // Role addresses, before any +tag and whatever the case.
            ("Sales+eu@Acme.io", false, false, true),
            ("info@acme.io", false, false, true),
            ("no-reply@acme.io", false, false, true),
            ("noreply@acme.io", false, false, true),
            ("postmaster@acme.io", false, false, true),
            ("hello@acme.io", false, false, true),
            ("info@gmail.com", true, false, true),
            ("salesman@acme.io", false, false, false),
            ("ana+sales@acme.io", false, false, false),
            // IDN domains compare in ASCII form, so the configuration may name either form.
            ("info@xn--bcher-kva.example", true, false, true),
            ("José@Bücher.example", true, false, false),
            ("ana@example.org", true, false, false),
        ] {
            let e = email(raw).unwrap_or_else(|| panic!("{raw:?} should be valid"));
            let want = EmailClass {
                free,
                disposable,
                role,
            };
            assert_eq!(classify_email(&e, &extra), want, "{raw:?}");
        }
        assert_eq!(classify_email("nope", &extra), EmailClass::default());
    }

    #[test]
    fn domain_lookups_take_any_case_or_form() {
        assert!(is_free_email_domain("gmail.com", &[]));
        assert!(is_free_email_domain("GMail.Com", &[]));
        assert!(!is_free_email_domain("acme-robotics.io", &[]));
        assert!(is_free_email_domain("example.org", &["Example.org".into()]));
        assert!(is_free_email_domain(
            "xn--bcher-kva.example",
            &["bücher.example".into()]
        ));
        assert!(is_free_email_domain(
            "bücher.example",
            &["xn--bcher-kva.example".into()]
        ));
        assert!(is_disposable_email_domain("mailinator.com"));
        assert!(is_disposable_email_domain("Mailinator.COM"));
        assert!(!is_disposable_email_domain("com"));
        assert!(!is_disposable_email_domain(""));
        assert!(!is_disposable_email_domain("gmail.com"));
        assert!(is_role_local_part("Sales+eu"));
        assert!(is_role_local_part(" info "));
        assert!(!is_role_local_part("+info"));
        assert!(!is_role_local_part("ana"));
    }

    #[test]
    fn every_listed_entry_is_found_and_nothing_between_entries_is() {
        for list in [
            &FREE_EMAIL_DOMAINS,
            &DISPOSABLE_EMAIL_DOMAINS,
            &ROLE_EMAIL_LOCAL_PARTS,
        ] {
            let entries = list.entries();
            let written = list
                .text
                .lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'));
            assert!(entries.iter().map(String::as_str).eq(written));
            for entry in &entries {
                assert!(list.contains(entry), "{entry:?}");
                assert!(!entry.starts_with('#') && !entry.is_empty(), "{entry:?}");
                // A string that sorts just after the entry: between it and the next one.
                assert!(!list.contains(&format!("{entry}\u{1}")), "{entry:?}");
            }
            assert!(!list.contains(""));
            assert!(!list.contains("~~~ sorts after every entry"));
        }
    }

    /// The data files are generated by scripts/refresh-email-lists; a hand edit or a broken
    /// refresh that leaves them unsorted, duplicated or not lower-case fails here.
    #[test]
    fn the_list_files_are_sorted_lower_case_and_sizeable() {
        for (name, text, min) in [
            ("free_email_domains.txt", FREE_EMAIL_DOMAINS.text, 1_000),
            (
                "disposable_email_domains.txt",
                DISPOSABLE_EMAIL_DOMAINS.text,
                5_000,
            ),
            (
                "role_email_local_parts.txt",
                ROLE_EMAIL_LOCAL_PARTS.text,
                200,
            ),
        ] {
            assert!(text.starts_with("# "), "{name} should name its origin");
            let entries: Vec<&str> = text
                .lines()
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .collect();
            assert!(entries.len() >= min, "{name}: {} entries", entries.len());
            for w in entries.windows(2) {
                assert!(w[0] < w[1], "{name}: {:?} then {:?}", w[0], w[1]);
            }
            for e in &entries {
                assert!(
                    e.bytes()
                        .all(|b| b.is_ascii_graphic() && !b.is_ascii_uppercase()),
                    "{name}: {e:?}"
                );
            }
        }
        for d in FREE_EMAIL_DOMAINS.entries() {
            assert_eq!(ascii_domain(&d), Some(d.clone()), "free: {d:?}");
        }
        for r in [
            "info",
            "sales",
            "support",
            "admin",
            "contact",
            "hello",
            "office",
            "marketing",
            "billing",
            "noreply",
            "no-reply",
            "team",
            "jobs",
            "careers",
            "hr",
            "press",
            "webmaster",
            "postmaster",
            "abuse",
            "enquiries",
        ] {
            assert!(is_role_local_part(r), "{r}");
        }
    }

    #[test]
    fn numbers_in_ranges_libphonenumber_does_not_know_are_kept_in_e164_and_flagged() {
        // 06 39 … is Mayotte's range (+262 639), dialled here under France's code.
        let p = phone("06 39 98 12 34", region("FR")).unwrap();
        assert_eq!((p.e164.as_str(), p.valid), ("+33639981234", false));
        let p = phone("06 12 34 56 78", region("FR")).unwrap();
        assert_eq!((p.e164.as_str(), p.valid), ("+33612345678", true));
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
        fn normalising_an_address_like_string_twice_equals_once(
            s in "[ ]?[A-Za-zÀ-ÿ0-9._+'-]{1,12}@[A-Za-zÄÖÜäöüß0-9.-]{1,12}\\.[A-Za-z]{2,4}[ ]?"
        ) {
            if let Some(once) = email(&s) {
                prop_assert_eq!(email(&once), Some(once.clone()));
            }
        }

        #[test]
        fn classifying_is_stable_under_renormalising(
            local in prop::sample::select(vec![
                "ana", "Ana.Costa", "INFO", "Sales+EU", "no-reply", "José", "jo+x",
            ]),
            domain in prop::sample::select(vec![
                "Gmail.com", "GMAIL.COM", "mailinator.com", "Eu.Mailinator.COM", "Acme.io",
                "Bücher.example", "XN--BCHER-KVA.example", "web.de", "münchen.de",
            ]),
            pad in "[ ]{0,2}",
        ) {
            let raw = format!("{pad}{local}@{domain}{pad}");
            let once = email(&raw).expect("valid");
            let twice = email(&once).expect("still valid");
            prop_assert_eq!(&twice, &once);
            prop_assert_eq!(classify_email(&twice, &[]), classify_email(&once, &[]));
            prop_assert_eq!(
                classify_email(&once, &[]),
                classify_email(&raw.trim().to_lowercase(), &[]),
                "classifying a normalised address should match its lower-cased raw form"
            );
        }

        #[test]
        fn normalising_a_phone_twice_equals_once(s in "[+0-9 ()-]{0,20}") {
            if let Some(once) = phone(&s, region("US")) {
                prop_assert_eq!(phone(&once.e164, None).map(|p| p.e164), Some(once.e164.clone()));
            }
        }
    }
}
