//! The backstop: a scheduled poll of an ad platform's API for leads its webhooks missed
//! (`[sources.<name>.backstop]`). Which forms (Meta), customers (Google Ads) or sponsored
//! accounts (LinkedIn) are asked, how often, how far back the first time, and how much each
//! poll overlaps the one before.

use std::time::Duration;

use serde::Deserialize;

use super::durations::humantime_serde;
use super::{Config, ConfigError, SourceKind};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackstopConfig {
    /// Meta: the lead form ids asked (`GET /{form_id}/leads`).
    #[serde(default)]
    pub forms: Vec<String>,
    /// Google Ads: the customer ids asked (ten digits, dashes allowed).
    #[serde(default)]
    pub customer_ids: Vec<String>,
    /// Google Ads: the manager account the access is through (`login-customer-id`), if any.
    #[serde(default)]
    pub login_customer_id: Option<String>,
    /// Google Ads: the developer token (a secret reference: `ssm:/name`, `env:NAME` or the
    /// value), read with the platform tokens.
    #[serde(default)]
    pub developer_token: Option<String>,
    /// Google Ads: the OAuth client and refresh token the backstop mints its access tokens
    /// from (each lasts an hour), in place of the source's `access_token`.
    #[serde(default)]
    pub oauth: Option<OAuthConfig>,
    /// LinkedIn: the sponsored ad account ids asked (`urn:li:sponsoredAccount:<id>` or the id).
    #[serde(default)]
    pub accounts: Vec<String>,
    /// How often each form or account is asked (default 15 minutes).
    #[serde(default = "default_every", with = "humantime_serde")]
    pub every: Duration,
    /// How far back the first poll of a form or account asks (default 7 days: redelivery keys
    /// of leads captured before the backstop ran last 7 days).
    #[serde(default = "default_first_lookback", with = "humantime_serde")]
    pub first_lookback: Duration,
    /// How far before the last poll's end the next one starts again (default 1 hour), for leads
    /// the platform makes visible late.
    #[serde(default = "default_overlap", with = "humantime_serde")]
    pub overlap: Duration,
}

/// `[sources.<name>.backstop.oauth]`: an OAuth 2.0 client (a Google Cloud "web application"
/// or "desktop" client) and the refresh token a user with access to the accounts granted it
/// (scope `https://www.googleapis.com/auth/adwords`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthConfig {
    pub client_id: String,
    /// A secret reference (`ssm:/name`, `env:NAME` or the value).
    pub client_secret: String,
    /// A secret reference.
    pub refresh_token: String,
    /// The token endpoint (default Google's), for a proxy or a test server.
    #[serde(default = "default_token_url")]
    pub token_url: String,
}

/// Google's OAuth 2.0 token endpoint.
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";

fn default_token_url() -> String {
    GOOGLE_TOKEN_URL.to_owned()
}

fn default_every() -> Duration {
    Duration::from_secs(15 * 60)
}

fn default_first_lookback() -> Duration {
    Duration::from_secs(7 * 86_400)
}

fn default_overlap() -> Duration {
    Duration::from_secs(3600)
}

/// The oldest lead each platform's API still serves: the backstop never asks further back.
pub fn retrievable_for(kind: SourceKind) -> Option<Duration> {
    let days = match kind {
        SourceKind::Meta => 90,
        // Google Ads keeps lead form submission data for 30 days in the UI, 60 in the API.
        SourceKind::Google => 60,
        SourceKind::LinkedIn => 90,
        _ => return None,
    };
    Some(Duration::from_secs(days * 86_400))
}

impl BackstopConfig {
    /// The forms, customers or accounts asked, as configured.
    pub fn targets(&self, kind: SourceKind) -> &[String] {
        match kind {
            SourceKind::Meta => &self.forms,
            SourceKind::Google => &self.customer_ids,
            SourceKind::LinkedIn => &self.accounts,
            _ => &[],
        }
    }
}

/// A Google Ads customer id as the API's path wants it: digits only.
pub fn customer_id_digits(id: &str) -> Option<String> {
    let digits: String = id.chars().filter(|c| *c != '-').collect();
    (digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// A LinkedIn sponsored account as its URN.
pub fn sponsored_account_urn(id: &str) -> Option<String> {
    let digits = id.strip_prefix("urn:li:sponsoredAccount:").unwrap_or(id);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("urn:li:sponsoredAccount:{digits}"))
}

impl Config {
    pub(super) fn validate_backstop(&self) -> Result<(), ConfigError> {
        for (name, source) in &self.sources {
            let Some(b) = &source.backstop else { continue };
            let key = format!("sources.{name}.backstop");
            let kind = source.kind;
            let Some(horizon) = retrievable_for(kind) else {
                return Err(self.invalid(
                    key,
                    "a backstop polls Meta, Google Ads or LinkedIn; this source's platform has none",
                ));
            };
            let (list, others): (&str, [(&str, bool); 2]) = match kind {
                SourceKind::Meta => (
                    "forms",
                    [
                        ("customer_ids", !b.customer_ids.is_empty()),
                        ("accounts", !b.accounts.is_empty()),
                    ],
                ),
                SourceKind::Google => (
                    "customer_ids",
                    [
                        ("forms", !b.forms.is_empty()),
                        ("accounts", !b.accounts.is_empty()),
                    ],
                ),
                _ => (
                    "accounts",
                    [
                        ("forms", !b.forms.is_empty()),
                        ("customer_ids", !b.customer_ids.is_empty()),
                    ],
                ),
            };
            if let Some((other, _)) = others.iter().find(|(_, set)| *set) {
                return Err(self.invalid(
                    format!("{key}.{other}"),
                    format!("not a setting of this platform's backstop (it takes {list})"),
                ));
            }
            let targets = b.targets(kind);
            if targets.is_empty() {
                return Err(self.invalid(format!("{key}.{list}"), "name at least one"));
            }
            for t in targets {
                let ok = match kind {
                    SourceKind::Meta => !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()),
                    SourceKind::Google => customer_id_digits(t).is_some(),
                    _ => sponsored_account_urn(t).is_some(),
                };
                if !ok {
                    let want = match kind {
                        SourceKind::Meta => "a form id is digits",
                        SourceKind::Google => "a customer id is ten digits (dashes allowed)",
                        _ => "an account is urn:li:sponsoredAccount:<digits> or the digits",
                    };
                    return Err(self.invalid(format!("{key}.{list}"), format!("{t:?}: {want}")));
                }
            }
            if kind != SourceKind::Google
                && (b.login_customer_id.is_some()
                    || b.developer_token.is_some()
                    || b.oauth.is_some())
            {
                return Err(self.invalid(
                    key,
                    "login_customer_id, developer_token and oauth are Google Ads settings",
                ));
            }
            if kind == SourceKind::Google {
                if let Some(id) = &b.login_customer_id {
                    if customer_id_digits(id).is_none() {
                        return Err(self.invalid(
                            format!("{key}.login_customer_id"),
                            format!("{id:?}: a customer id is ten digits (dashes allowed)"),
                        ));
                    }
                }
                if b.developer_token.is_none() {
                    return Err(self.invalid(
                        format!("{key}.developer_token"),
                        "the Google Ads API needs a developer token (a secret reference)",
                    ));
                }
                // Neither oauth nor an access token is checked once the environment's
                // overrides are read (`validate_backstop_credentials`): the token may come
                // from LEADRELAY_<SOURCE>_ACCESS_TOKEN.
                let access_token = self.sources[name].access_token.is_some();
                match &b.oauth {
                    Some(_) if access_token => {
                        return Err(self.invalid(
                            format!("{key}.oauth"),
                            format!("the backstop mints its access tokens from oauth: remove sources.{name}.access_token"),
                        ));
                    }
                    Some(o) => {
                        if o.client_id.trim().is_empty() {
                            return Err(
                                self.invalid(format!("{key}.oauth.client_id"), "must not be empty")
                            );
                        }
                        let url = url::Url::parse(&o.token_url).ok().filter(|u| {
                            u.scheme() == "https"
                                || (u.scheme() == "http"
                                    && matches!(
                                        u.host_str(),
                                        Some("localhost" | "127.0.0.1" | "[::1]")
                                    ))
                        });
                        if url.is_none() {
                            return Err(self.invalid(
                                format!("{key}.oauth.token_url"),
                                format!("{:?}: an https URL (http only on loopback)", o.token_url),
                            ));
                        }
                    }
                    None => {}
                }
            }
            if b.every < Duration::from_secs(60) {
                return Err(self.invalid(format!("{key}.every"), "must be at least 1 minute"));
            }
            if b.first_lookback > horizon {
                return Err(self.invalid(
                    format!("{key}.first_lookback"),
                    format!(
                        "the platform serves leads for {} days; ask at most that far back",
                        horizon.as_secs() / 86_400
                    ),
                ));
            }
            if b.first_lookback < b.every {
                return Err(self.invalid(
                    format!("{key}.first_lookback"),
                    "must not be shorter than every",
                ));
            }
            if b.overlap > Duration::from_secs(86_400) {
                return Err(self.invalid(format!("{key}.overlap"), "must be at most 1 day"));
            }
        }
        Ok(())
    }
}

impl Config {
    /// A Google backstop has a way to an access token: its `oauth`, or the source's
    /// `access_token` from the file or the environment. Run once the overrides are read.
    pub(super) fn validate_backstop_credentials(&self) -> Result<(), ConfigError> {
        for (name, source) in &self.sources {
            let Some(b) = &source.backstop else { continue };
            if source.kind == SourceKind::Google
                && b.oauth.is_none()
                && self.source_access_token_ref(name).is_none()
            {
                return Err(self.invalid(
                    format!("sources.{name}.backstop.oauth"),
                    format!(
                        "the Google Ads API needs an OAuth client and refresh token (or an access token, which lasts an hour: sources.{name}.access_token or {})",
                        Config::source_env_var(name, "ACCESS_TOKEN")
                    ),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::LOCAL;
    use super::*;

    fn with_backstop(source: &str, kind: &str, table: &str) -> Result<Config, String> {
        let text = LOCAL.replacen(
            &format!("[sources.{source}]\nkind = \"{kind}\"\n"),
            &format!("[sources.{source}.backstop]\n{table}\n\n[sources.{source}]\nkind = \"{kind}\"\naccess_token = \"t\"\n"),
            1,
        );
        assert_ne!(text, LOCAL, "{source} is in the example");
        Config::from_toml(&text, "local.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn a_meta_backstop_names_its_forms_and_takes_the_defaults() {
        let c = with_backstop("meta", "meta", "forms = [\"1234567890\"]").unwrap();
        let b = c.sources["meta"].backstop.as_ref().unwrap();
        assert_eq!(b.targets(SourceKind::Meta), ["1234567890"]);
        assert_eq!(b.every, Duration::from_secs(900));
        assert_eq!(b.first_lookback, Duration::from_secs(7 * 86_400));
        assert_eq!(b.overlap, Duration::from_secs(3600));
    }

    #[test]
    fn a_backstop_without_targets_or_with_another_platforms_settings_is_refused() {
        let e = with_backstop("meta", "meta", "every = \"5m\"").unwrap_err();
        assert!(
            e.contains("sources.meta.backstop.forms: name at least one"),
            "{e}"
        );
        let e = with_backstop("meta", "meta", "accounts = [\"1\"]").unwrap_err();
        assert!(
            e.contains("sources.meta.backstop.accounts: not a setting"),
            "{e}"
        );
        let e = with_backstop("tally", "tally", "forms = [\"1\"]").unwrap_err();
        assert!(
            e.contains("sources.tally.backstop: a backstop polls"),
            "{e}"
        );
    }

    #[test]
    fn google_asks_at_most_sixty_days_back_and_needs_a_developer_token() {
        let e = with_backstop(
            "google",
            "google",
            "customer_ids = [\"123-456-7890\"]\ndeveloper_token = \"d\"\nfirst_lookback = \"61days\"",
        )
        .unwrap_err();
        assert!(e.contains("sources.google.backstop.first_lookback"), "{e}");
        assert!(e.contains("60 days"), "{e}");
        let e = with_backstop("google", "google", "customer_ids = [\"123-456-7890\"]").unwrap_err();
        assert!(e.contains("developer_token"), "{e}");
        let e = with_backstop(
            "google",
            "google",
            "customer_ids = [\"12345\"]\ndeveloper_token = \"d\"",
        )
        .unwrap_err();
        assert!(e.contains("ten digits"), "{e}");
        with_backstop(
            "google",
            "google",
            "customer_ids = [\"123-456-7890\"]\ndeveloper_token = \"d\"\nfirst_lookback = \"60days\"",
        )
        .unwrap();
    }

    /// A Google backstop with `table`, the source without an access token.
    fn google_without_access_token(table: &str) -> Result<Config, String> {
        let text = LOCAL.replacen(
            "[sources.google]\nkind = \"google\"\n",
            &format!("[sources.google.backstop]\ncustomer_ids = [\"123-456-7890\"]\ndeveloper_token = \"d\"\n{table}\n\n[sources.google]\nkind = \"google\"\n"),
            1,
        );
        Config::from_toml(&text, "local.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn a_google_backstop_mints_tokens_from_an_oauth_client_or_takes_an_access_token_never_both() {
        let oauth = "oauth = { client_id = \"123.apps.googleusercontent.com\", client_secret = \"ssm:/leadrelay/secrets/backstop/google-client-secret\", refresh_token = \"ssm:/leadrelay/secrets/backstop/google-refresh-token\" }";
        let c = google_without_access_token(oauth).unwrap();
        let o = c.sources["google"]
            .backstop
            .as_ref()
            .unwrap()
            .oauth
            .as_ref()
            .unwrap();
        assert_eq!(o.token_url, GOOGLE_TOKEN_URL);
        assert_eq!(o.client_id, "123.apps.googleusercontent.com");

        let e = google_without_access_token("").unwrap_err();
        assert!(
            e.contains("sources.google.backstop.oauth: the Google Ads API needs"),
            "{e}"
        );
        assert!(e.contains("LEADRELAY_GOOGLE_ACCESS_TOKEN"), "{e}");
        // An access token from the environment will do.
        let text = LOCAL.replacen(
            "[sources.google]\nkind = \"google\"\n",
            "[sources.google.backstop]\ncustomer_ids = [\"123-456-7890\"]\ndeveloper_token = \"d\"\n\n[sources.google]\nkind = \"google\"\n",
            1,
        );
        let env = |name: &str| {
            (name == "LEADRELAY_GOOGLE_ACCESS_TOKEN").then(|| std::ffi::OsString::from("ya29.x"))
        };
        Config::from_toml_with_env(&text, "local.toml", &env).unwrap();
        let e = with_backstop(
            "google",
            "google",
            &format!("customer_ids = [\"123-456-7890\"]\ndeveloper_token = \"d\"\n{oauth}"),
        )
        .unwrap_err();
        assert!(e.contains("remove sources.google.access_token"), "{e}");
        let e = google_without_access_token(
            "oauth = { client_id = \"c\", client_secret = \"s\", refresh_token = \"r\", token_url = \"http://oauth.example.com/token\" }",
        )
        .unwrap_err();
        assert!(e.contains("sources.google.backstop.oauth.token_url"), "{e}");
        google_without_access_token(
            "oauth = { client_id = \"c\", client_secret = \"s\", refresh_token = \"r\", token_url = \"http://127.0.0.1:4010/token\" }",
        )
        .unwrap();
        let e = with_backstop(
            "meta",
            "meta",
            "forms = [\"1\"]\noauth = { client_id = \"c\", client_secret = \"s\", refresh_token = \"r\" }",
        )
        .unwrap_err();
        assert!(e.contains("Google Ads settings"), "{e}");
    }

    #[test]
    fn linkedin_accounts_are_urns_or_digits() {
        let c = with_backstop(
            "linkedin",
            "linkedin",
            "accounts = [\"urn:li:sponsoredAccount:507404993\", \"42\"]",
        )
        .unwrap();
        assert_eq!(
            sponsored_account_urn(&c.sources["linkedin"].backstop.as_ref().unwrap().accounts[1]),
            Some("urn:li:sponsoredAccount:42".into())
        );
        let e = with_backstop("linkedin", "linkedin", "accounts = [\"acme\"]").unwrap_err();
        assert!(e.contains("sources.linkedin.backstop.accounts"), "{e}");
    }

    #[test]
    fn polling_more_often_than_every_minute_is_refused() {
        let e = with_backstop("meta", "meta", "forms = [\"1\"]\nevery = \"10s\"").unwrap_err();
        assert!(e.contains("sources.meta.backstop.every"), "{e}");
    }
}
