//! Attribution: what brought a lead in. UTM parameters, ad click ids, the landing page and the
//! referrer, kept together as one [`Touch`].
//!
//! A delivery's explicit fields (`utm_source`, `gclid`, …) win; UTM parameters and click ids
//! found in the landing page's query string fill in the ones it did not give. URLs are kept
//! as given: a URL that cannot be read is still kept, it just contributes no parameters.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The click ids kept as attribution.
pub const CLICK_IDS: &[&str] = &["gclid", "fbclid", "msclkid", "li_fat_id", "ttclid"];

/// The UTM parameters kept as attribution, without their `utm_` prefix.
pub const UTM_KEYS: &[&str] = &["source", "medium", "campaign", "term", "content"];

/// Field names (after canonicalising: lower case, `-` and spaces as `_`) of the landing page.
pub const LANDING_PAGE_FIELDS: &[&str] = &["landing_page", "page_url"];
/// Field names of the referrer (both spellings: the HTTP header's and the dictionary's).
pub const REFERRER_FIELDS: &[&str] = &["referrer", "referer"];

/// One touch: where a lead came from at one conversion. Self-contained plain data, so a
/// person's first and last touch can be kept side by side by copying it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Touch {
    /// When it happened: the platform's submission time when it gives one, else arrival.
    pub at: DateTime<Utc>,
    /// The Leadrelay source it came in through (the key under `[sources]`).
    pub source: String,
    /// UTM parameters without the prefix: `source`, `medium`, `campaign`, `term`, `content`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub utm: BTreeMap<String, String>,
    /// `gclid`, `fbclid`, `msclkid`, `li_fat_id`, `ttclid`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub click_ids: BTreeMap<String, String>,
    /// The page the person landed on (or submitted from), as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landing_page: Option<String>,
    /// The page that sent them there, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referrer: Option<String>,
}

/// The attribution parameters a URL carries in its query string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UrlParams {
    pub utm: BTreeMap<String, String>,
    pub click_ids: BTreeMap<String, String>,
}

impl UrlParams {
    /// Adds the parameters not given yet: what was given explicitly wins.
    pub fn fill_missing(
        self,
        utm: &mut BTreeMap<String, String>,
        click_ids: &mut BTreeMap<String, String>,
    ) {
        for (k, v) in self.utm {
            utm.entry(k).or_insert(v);
        }
        for (k, v) in self.click_ids {
            click_ids.entry(k).or_insert(v);
        }
    }
}

/// What kind of attribution parameter a field name is: `Some(("utm", "source"))`,
/// `Some(("click_id", "gclid"))`, else `None`. Names are matched ignoring case, with `-` and
/// spaces as `_`.
pub fn parameter(name: &str) -> Option<(&'static str, &'static str)> {
    let c = name.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    if let Some(k) = c.strip_prefix("utm_") {
        return UTM_KEYS.iter().find(|u| **u == k).map(|u| ("utm", *u));
    }
    CLICK_IDS
        .iter()
        .find(|id| **id == c)
        .map(|id| ("click_id", *id))
}

/// The UTM parameters and click ids in a URL's query string. Absolute URLs, relative ones
/// (`/pricing?utm_source=x`) and ones without a scheme (`www.acme.io/?gclid=x`) are read; a URL
/// the parser refuses yields nothing. The first value of a parameter wins; empty ones are
/// skipped.
pub fn params_in_url(raw: &str) -> UrlParams {
    let mut out = UrlParams::default();
    let Some(url) = parse_url(raw.trim()) else {
        return out;
    };
    for (k, v) in url.query_pairs() {
        let v = v.trim();
        if v.is_empty() {
            continue;
        }
        let slot = match parameter(&k) {
            Some(("utm", key)) => out.utm.entry(key.to_owned()),
            Some((_, key)) => out.click_ids.entry(key.to_owned()),
            None => continue,
        };
        slot.or_insert_with(|| v.to_owned());
    }
    out
}

fn parse_url(raw: &str) -> Option<url::Url> {
    match url::Url::parse(raw) {
        Ok(u) => Some(u),
        Err(url::ParseError::RelativeUrlWithoutBase) => {
            // Only the query matters here; any base will do to read a relative URL.
            let base = url::Url::parse("https://relative.invalid/").ok()?;
            base.join(raw).ok()
        }
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn urls_yield_their_utm_parameters_and_click_ids() {
        // (url, utm, click ids)
        type Pairs<'a> = &'a [(&'a str, &'a str)];
        let cases: &[(&str, Pairs, Pairs)] = &[
            (
                "https://www.acme.io/pricing?utm_source=google&utm_medium=cpc&utm_campaign=spring%202026&gclid=Cj0KCQ",
                &[("source", "google"), ("medium", "cpc"), ("campaign", "spring 2026")],
                &[("gclid", "Cj0KCQ")],
            ),
            (
                "https://acme.io/?UTM_Source=LinkedIn&li_fat_id=abc-123&fbclid=IwAR&msclkid=m1&ttclid=t1#form",
                &[("source", "LinkedIn")],
                &[("li_fat_id", "abc-123"), ("fbclid", "IwAR"), ("msclkid", "m1"), ("ttclid", "t1")],
            ),
            // Relative, and without a scheme: still read.
            ("/landing?utm_term=robots+for+warehouses", &[("term", "robots for warehouses")], &[]),
            ("www.acme.io/demo?utm_content=hero", &[("content", "hero")], &[]),
            // Unknown parameters, empty values and unknown utm_ keys are ignored; the first value wins.
            (
                "https://acme.io/?utm_source=&utm_foo=x&ref=abc&utm_medium=email&utm_medium=social",
                &[("medium", "email")],
                &[],
            ),
            // No query, and URLs the parser refuses: nothing.
            ("https://acme.io/pricing", &[], &[]),
            ("http://exa mple.com/?utm_source=x", &[], &[]),
            ("https://[::1/?utm_source=x", &[], &[]),
            ("", &[], &[]),
        ];
        for (url, utm, click_ids) in cases {
            let p = params_in_url(url);
            assert_eq!(p.utm, map(utm), "utm of {url:?}");
            assert_eq!(p.click_ids, map(click_ids), "click ids of {url:?}");
        }
    }

    #[test]
    fn explicit_parameters_win_over_the_urls() {
        let mut utm = map(&[("source", "newsletter")]);
        let mut click_ids = map(&[("gclid", "explicit")]);
        params_in_url("https://acme.io/?utm_source=google&utm_medium=cpc&gclid=from-url&fbclid=f")
            .fill_missing(&mut utm, &mut click_ids);
        assert_eq!(utm, map(&[("source", "newsletter"), ("medium", "cpc")]));
        assert_eq!(click_ids, map(&[("gclid", "explicit"), ("fbclid", "f")]));
    }

    #[test]
    fn field_names_are_recognised_ignoring_case_and_dashes() {
        for (name, want) in [
            ("utm_source", Some(("utm", "source"))),
            ("UTM-Campaign", Some(("utm", "campaign"))),
            ("GCLID", Some(("click_id", "gclid"))),
            ("li-fat-id", Some(("click_id", "li_fat_id"))),
            ("utm_foo", None),
            ("utm", None),
            ("gclid_extra", None),
        ] {
            assert_eq!(parameter(name), want, "{name}");
        }
    }

    #[test]
    fn a_touch_stored_with_only_some_parts_reads_back() {
        let t: Touch =
            serde_json::from_str(r#"{"at":"2026-03-02T10:00:00Z","source":"json"}"#).unwrap();
        assert!(t.utm.is_empty() && t.landing_page.is_none());
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, r#"{"at":"2026-03-02T10:00:00Z","source":"json"}"#);
    }
}
