//! Conditions on a lead's attributes, shared by scoring and routing rules:
//! `{ field = "country", one_of = ["DE", "AT", "CH"] }`.

use serde::Deserialize;

use super::lead::Lead;

/// One test on one field. Exactly one of the tests is set.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    pub field: String,
    /// Equal, ignoring case for text; `true`/`false` for flags; a number for numbers.
    #[serde(default)]
    pub equals: Option<toml::Value>,
    /// Equal to one of these, ignoring case.
    #[serde(default)]
    pub one_of: Option<Vec<String>>,
    /// Starts with, ignoring case.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Ends with, ignoring case (e.g. an email domain's `.de`).
    #[serde(default)]
    pub suffix: Option<String>,
    /// Contains, ignoring case (e.g. "demo" in the message).
    #[serde(default)]
    pub contains: Option<String>,
    /// The field is present (true) or absent (false).
    #[serde(default)]
    pub present: Option<bool>,
    /// Numeric: at least.
    #[serde(default)]
    pub gte: Option<f64>,
    /// Numeric: at most.
    #[serde(default)]
    pub lte: Option<f64>,
    /// A country code in one of the configuration's `[regions]` ("dach", "emea", …).
    #[serde(default)]
    pub in_region: Option<String>,
    /// The region's countries, filled in from `[regions]` when the configuration is loaded.
    #[serde(skip)]
    pub region_countries: Vec<String>,
}

/// A field's value as conditions see it.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Text(String),
    Number(f64),
    Flag(bool),
}

/// The fields conditions can name, besides `attributes.<name>` and `utm_<name>`.
pub const FIELDS: &[&str] = &[
    "source",
    "email",
    "email_domain",
    "free_email",
    "disposable_email",
    "role_email",
    "email_invalid",
    "phone",
    "phone_invalid",
    "country",
    "company",
    "company_domain",
    "company_size",
    "industry",
    "company_country",
    "company_lookup",
    "job_title",
    "message",
    "full_name",
    "first_name",
    "last_name",
    "score",
    "fit",
    "intent",
    "tier",
    "grade",
    "qualification",
    "submissions",
    "status",
];

/// Looks a field up on a lead. Normalised values win over what was typed.
pub fn field(lead: &Lead, name: &str) -> Option<FieldValue> {
    use FieldValue::*;
    let e = lead.enrichment.as_ref();
    let f = &lead.fields;
    let text = |s: Option<&String>| s.filter(|s| !s.is_empty()).map(|s| Text(s.clone()));
    match name {
        "source" => Some(Text(lead.source.clone())),
        "email" => lead.email().map(|s| Text(s.to_owned())),
        "email_domain" => text(e.and_then(|e| e.email_domain.as_ref())),
        "free_email" => e.map(|e| Flag(e.free_email)),
        "disposable_email" => e.map(|e| Flag(e.disposable_email)),
        "role_email" => e.map(|e| Flag(e.role_email)),
        "email_invalid" => e.map(|e| Flag(e.email_invalid)),
        "phone" => text(e.and_then(|e| e.phone.as_ref()).or(f.phone.as_ref())),
        "phone_invalid" => e.map(|e| Flag(e.phone_invalid)),
        "country" => text(e.and_then(|e| e.country.as_ref()).or(f.country.as_ref())),
        "company" => text(f.company.as_ref()),
        "company_domain" => text(e.and_then(|e| e.company_domain.as_ref())),
        "company_size" => e.and_then(|e| e.company_size).map(|n| Number(n.into())),
        "industry" => text(e.and_then(|e| e.industry.as_ref())),
        "company_country" => text(e.and_then(|e| e.company_country.as_ref())),
        "company_lookup" => e
            .and_then(|e| e.company_lookup)
            .map(|l| Text(l.as_str().to_owned())),
        "job_title" => text(f.job_title.as_ref()),
        "message" => text(f.message.as_ref()),
        "full_name" => lead.display_name().map(Text),
        "first_name" => lead.first_name().map(|s| Text(s.to_owned())),
        "last_name" => text(
            e.and_then(|e| e.last_name.as_ref())
                .or(f.last_name.as_ref()),
        ),
        "score" => lead.score.as_ref().map(|s| Number(s.points.into())),
        "fit" => lead.score.as_ref().map(|s| Number(s.fit.into())),
        "intent" => lead.score.as_ref().map(|s| Number(s.intent.into())),
        "tier" => lead.score.as_ref().map(|s| Text(s.tier.clone())),
        "grade" => lead.score.as_ref().and_then(|s| s.grade.clone()).map(Text),
        "qualification" => lead
            .score
            .as_ref()
            .and_then(|s| s.qualification.clone())
            .map(Text),
        "submissions" => Some(Number(lead.submissions.into())),
        "status" => Some(Text(lead.status.as_str().to_owned())),
        other => {
            if let Some(key) = other.strip_prefix("utm_") {
                text(lead.utm.get(key))
            } else {
                let key = other.strip_prefix("attributes.").unwrap_or(other);
                text(lead.attributes.get(key))
            }
        }
    }
}

impl Condition {
    fn tests_set(&self) -> usize {
        [
            self.equals.is_some(),
            self.one_of.is_some(),
            self.prefix.is_some(),
            self.suffix.is_some(),
            self.contains.is_some(),
            self.present.is_some(),
            self.gte.is_some() || self.lte.is_some(),
            self.in_region.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count()
    }

    /// Checks the condition is well formed; the message says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.field.is_empty() {
            return Err("field must not be empty".into());
        }
        let known = FIELDS.contains(&self.field.as_str())
            || self.field.starts_with("utm_")
            || self.field.starts_with("attributes.");
        if !known {
            return Err(format!(
                "unknown field {:?}; use one of {} or attributes.<name>",
                self.field,
                FIELDS.join(", ")
            ));
        }
        match self.tests_set() {
            1 => {}
            0 => {
                return Err(
                    "needs one test: equals, one_of, prefix, suffix, contains, present, gte, lte or in_region"
                        .into(),
                )
            }
            _ => return Err("has more than one test; split it into several conditions".into()),
        }
        if let Some(v) = &self.equals {
            if !matches!(
                v,
                toml::Value::String(_)
                    | toml::Value::Boolean(_)
                    | toml::Value::Integer(_)
                    | toml::Value::Float(_)
            ) {
                return Err("equals takes text, a number or true/false".into());
            }
        }
        Ok(())
    }

    pub fn matches(&self, lead: &Lead) -> bool {
        let value = field(lead, &self.field);
        if let Some(want) = self.present {
            return value.is_some() == want;
        }
        let Some(value) = value else { return false };
        let text = match &value {
            FieldValue::Text(s) => s.to_lowercase(),
            FieldValue::Number(n) => n.to_string(),
            FieldValue::Flag(b) => b.to_string(),
        };
        if let Some(want) = &self.equals {
            return match (want, &value) {
                (toml::Value::Boolean(w), FieldValue::Flag(b)) => w == b,
                (toml::Value::Integer(w), FieldValue::Number(n)) => (*w as f64) == *n,
                (toml::Value::Float(w), FieldValue::Number(n)) => w == n,
                (toml::Value::String(w), _) => w.to_lowercase() == text,
                _ => false,
            };
        }
        if let Some(set) = &self.one_of {
            return set.iter().any(|w| w.to_lowercase() == text);
        }
        if self.in_region.is_some() {
            return self
                .region_countries
                .iter()
                .any(|c| c.to_lowercase() == text);
        }
        if let Some(p) = &self.prefix {
            return text.starts_with(&p.to_lowercase());
        }
        if let Some(s) = &self.suffix {
            return text.ends_with(&s.to_lowercase());
        }
        if let Some(c) = &self.contains {
            return text.contains(&c.to_lowercase());
        }
        let number = match value {
            FieldValue::Number(n) => Some(n),
            FieldValue::Text(s) => s.trim().parse::<f64>().ok(),
            FieldValue::Flag(_) => None,
        };
        match number {
            Some(n) => self.gte.is_none_or(|g| n >= g) && self.lte.is_none_or(|l| n <= l),
            None => false,
        }
    }
}

/// True when every condition holds.
pub fn all(conditions: &[Condition], lead: &Lead) -> bool {
    conditions.iter().all(|c| c.matches(lead))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::lead;

    fn cond(toml_text: &str) -> Condition {
        let c: Condition = toml::from_str(toml_text).unwrap();
        c.validate().unwrap();
        c
    }

    #[test]
    fn text_tests_ignore_case() {
        let mut l = lead();
        l.fields.country = Some("de".into());
        l.fields.message = Some("Can we book a DEMO next week?".into());
        assert!(cond("field = 'country'\none_of = ['DE', 'AT']").matches(&l));
        assert!(cond("field = 'message'\ncontains = 'demo'").matches(&l));
        assert!(!cond("field = 'message'\ncontains = 'ebook'").matches(&l));
        assert!(cond("field = 'source'\nequals = 'JSON'").matches(&l));
    }

    #[test]
    fn absent_fields_only_match_present_false() {
        let l = lead();
        assert!(!cond("field = 'company'\nequals = 'x'").matches(&l));
        assert!(cond("field = 'company'\npresent = false").matches(&l));
        assert!(!cond("field = 'company'\npresent = true").matches(&l));
    }

    #[test]
    fn numeric_ranges_read_numbers_in_attributes() {
        let mut l = lead();
        l.attributes.insert("employees".into(), "250".into());
        assert!(cond("field = 'attributes.employees'\ngte = 200").matches(&l));
        assert!(!cond("field = 'attributes.employees'\ngte = 500").matches(&l));
    }

    #[test]
    fn company_data_from_the_provider_can_be_tested() {
        use crate::company::CompanyLookup;
        use crate::lead::Enrichment;
        let mut l = lead();
        l.enrichment = Some(Enrichment {
            company_domain: Some("acme.io".into()),
            company_size: Some(250),
            industry: Some("Software".into()),
            company_country: Some("DE".into()),
            company_lookup: Some(CompanyLookup::Found),
            ..Enrichment::default()
        });
        assert!(cond("field = 'company_size'\ngte = 200").matches(&l));
        assert!(!cond("field = 'company_size'\ngte = 1000").matches(&l));
        assert!(cond("field = 'company_size'\nequals = 250").matches(&l));
        assert!(cond("field = 'industry'\none_of = ['software', 'saas']").matches(&l));
        assert!(cond("field = 'company_country'\nequals = 'de'").matches(&l));
        assert!(cond("field = 'company_domain'\nsuffix = '.io'").matches(&l));
        assert!(cond("field = 'company_lookup'\nequals = 'found'").matches(&l));
        // Without a lookup the fields are absent.
        l.enrichment = Some(Enrichment::default());
        assert!(cond("field = 'company_size'\npresent = false").matches(&l));
        assert!(!cond("field = 'company_size'\nlte = 10").matches(&l));
        assert!(cond("field = 'company_lookup'\npresent = false").matches(&l));
    }

    #[test]
    fn malformed_conditions_say_what_is_wrong() {
        let c: Condition = toml::from_str("field = 'country'").unwrap();
        assert!(c.validate().unwrap_err().contains("needs one test"));
        let c: Condition = toml::from_str("field = 'colour'\nequals = 'red'").unwrap();
        assert!(c.validate().unwrap_err().contains("unknown field"));
        let c: Condition = toml::from_str("field = 'tier'\nequals = 'hot'\nprefix = 'h'").unwrap();
        assert!(c.validate().unwrap_err().contains("more than one test"));
    }
}
