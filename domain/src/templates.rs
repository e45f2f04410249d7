//! Email templates: which file renders an email, and rendering it with MiniJinja.
//!
//! # Files
//!
//! A template set is a tree of files, the same shape for the built-in set (the repository's
//! `templates/`, compiled in) and for an operator's directory laid over it:
//!
//! ```text
//! <kind>.txt, <kind>.html                      the default of an email kind
//! <kind>.<lang>.txt, <kind>.<lang>.html        the default in a language ("de", "fr", …)
//! teams/<team>/<kind>[.<lang>].{txt,html}      for leads owned by that team
//! sources/<source>/<kind>[.<lang>].{txt,html}  for leads that came in through that source
//! _<name>.txt, _<name>.html                    partials and layouts, for {% include %} / {% extends %}
//! ```
//!
//! `<kind>` is one of [`KINDS`]. A `.txt` and its `.html` always come as a pair, so one email
//! never mixes two languages or two teams' wording. The first line of every kind's `.txt` is
//! its subject: `Subject: …` (a template too, on one line). Dot-files and `*.md` are skipped.
//!
//! # Which file
//!
//! The most specific pair that exists: source and language, source, team and language, team,
//! language, default ([`candidates`]).
//!
//! # Escaping
//!
//! `.html` templates escape every value (`&`, `<`, `>`, `"`, `'`) unless it is marked `|safe`;
//! `.txt` templates and subjects do not escape. The subject is made header-safe after rendering
//! (one line, no control characters). An absent value (`none`) prints as nothing.

use std::collections::{BTreeMap, BTreeSet};

use minijinja::value::Serde;
use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

use super::email_context::EmailContext;
use super::escape::{header_safe, html_escape};
use crate::config::Config;

include!(concat!(env!("OUT_DIR"), "/builtin_templates.rs"));

pub use super::email_context::KINDS;

/// One file of a template set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateFile {
    /// Its path inside the set, `/`-separated: `teams/sales/assignment.de.txt`.
    pub path: String,
    /// Where it came from, for messages: the file on disk, or `built-in templates/<path>`.
    pub origin: String,
    pub source: String,
}

impl TemplateFile {
    /// The built-in set, compiled from the repository's `templates/`.
    pub fn builtin() -> Vec<TemplateFile> {
        BUILTIN_TEMPLATES
            .iter()
            .map(|(path, source)| TemplateFile {
                path: (*path).to_owned(),
                origin: format!("built-in templates/{path}"),
                source: (*source).to_owned(),
            })
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// A file that cannot be used: its name or place, its syntax, or it fails to render.
    #[error("{origin}: {message}")]
    Invalid { origin: String, message: String },
    /// Rendering an email failed.
    #[error("rendering {template}: {message}")]
    Render { template: String, message: String },
}

/// What picks the template of one email.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Selector<'a> {
    /// The source the lead came in through.
    pub source: &'a str,
    /// The team that owns the lead (or, unassigned, the fallback team).
    pub team: Option<&'a str>,
    /// The lead's language, a primary subtag ("de").
    pub language: Option<&'a str>,
}

/// The template stems to try for an email, most specific first: source and language, source,
/// team and language, team, language, default. A stem names a `.txt`/`.html` pair.
pub fn candidates(kind: &str, s: &Selector) -> Vec<String> {
    let scopes = [
        Some(format!("sources/{}/", s.source)),
        s.team.map(|t| format!("teams/{t}/")),
        Some(String::new()),
    ];
    let mut out = Vec::new();
    for scope in scopes.into_iter().flatten() {
        if let Some(lang) = s.language {
            out.push(format!("{scope}{kind}.{lang}"));
        }
        out.push(format!("{scope}{kind}"));
    }
    out
}

/// An email as its templates rendered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The stem of the pair that rendered it: `teams/enterprise/assignment.de`.
    pub template: String,
    /// Header-safe.
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// A checked template set, ready to render.
pub struct Templates {
    env: Environment<'static>,
    /// The stems with both files, by kind.
    stems: BTreeSet<String>,
    /// Template name in the environment → where the file came from.
    origins: BTreeMap<String, String>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("stems", &self.stems)
            .finish_non_exhaustive()
    }
}

/// The name of a kind template's subject in the environment.
fn subject_name(stem: &str) -> String {
    format!("{stem}.txt#subject")
}

/// What a path in a template set is.
#[derive(Debug, PartialEq, Eq)]
enum Entry {
    /// Not a template (a README, an editor's dot-file).
    Skipped,
    /// `_<name>.txt` / `_<name>.html`: included or extended by others.
    Partial,
    /// A kind's text or HTML; the stem is the path without the extension.
    Kind { stem: String, text: bool },
}

fn classify(path: &str, config: &Config) -> Result<Entry, String> {
    let parts: Vec<&str> = path.split('/').collect();
    let file = *parts.last().expect("split yields one part at least");
    if parts.iter().any(|p| p.starts_with('.')) || file.ends_with(".md") {
        return Ok(Entry::Skipped);
    }
    let (stem_name, text) = match file.rsplit_once('.') {
        Some((stem, "txt")) => (stem, true),
        Some((stem, "html")) => (stem, false),
        _ => return Err("templates end in .txt or .html".into()),
    };
    let folder = &parts[..parts.len() - 1];
    if stem_name.starts_with('_') {
        return if folder.is_empty() {
            Ok(Entry::Partial)
        } else {
            Err("partials (`_<name>`) live at the top of the templates folder".into())
        };
    }
    match folder {
        [] => {}
        ["teams", team] if config.teams.contains_key(*team) => {}
        ["teams", team] => return Err(format!("no team is called {team:?} in {}", config.origin)),
        ["sources", source] if config.sources.contains_key(*source) => {}
        ["sources", source] => {
            return Err(format!(
                "no source is called {source:?} in {}",
                config.origin
            ))
        }
        _ => {
            return Err(
                "templates live at the top, in teams/<team>/ or in sources/<source>/".into(),
            )
        }
    }
    let (kind, lang) = match stem_name.split_once('.') {
        Some((kind, lang)) => (kind, Some(lang)),
        None => (stem_name, None),
    };
    if !KINDS.contains(&kind) {
        return Err(format!(
            "{kind:?} is not an email kind (one of {})",
            KINDS.join(", ")
        ));
    }
    if let Some(lang) = lang {
        if !((2..=3).contains(&lang.len()) && lang.bytes().all(|b| b.is_ascii_lowercase())) {
            return Err(format!(
                "{lang:?} is not a language: use its 2- or 3-letter code in lower case (\"de\")"
            ));
        }
    }
    Ok(Entry::Kind {
        stem: path
            .rsplit_once('.')
            .expect("has an extension")
            .0
            .to_owned(),
        text,
    })
}

/// Splits a kind's text template into its subject line and its body; the body keeps a blank
/// first line so error line numbers match the file.
fn split_subject(source: &str) -> Option<(&str, String)> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let (first, rest) = source.split_once('\n').unwrap_or((source, ""));
    let subject = first.trim_end_matches('\r').strip_prefix("Subject:")?;
    Some((subject.trim(), format!("\n{rest}")))
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // An absent value prints as nothing, however deep the lookup (`sla.due.time` without an
    // SLA): a lead's email is never held back by a missing field. Misspelt names are caught
    // before that, at start-up ([`Templates::check`]).
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("the default delimiters are valid"),
    );
    env.set_auto_escape_callback(|name| {
        if name.ends_with(".html") {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    // MiniJinja's HTML escaping also writes `/` as `&#x2f;`, which turns every link into an
    // entity-encoded URL (a spam-filter signal, and unreadable in the source). The five
    // characters below are what element content and quoted attributes need.
    env.set_formatter(|out, state, value| {
        if value.is_none() {
            return Ok(());
        }
        match (state.auto_escape(), value.as_str()) {
            (AutoEscape::Html, Some(s)) if !value.is_safe() => {
                out.write_str(&html_escape(s)).map_err(Into::into)
            }
            _ => minijinja::escape_formatter(out, state, value),
        }
    });
    env
}

impl Templates {
    /// Checks a set and makes it ready: every name known and in its place, pairs complete,
    /// every default present, every file parses, and every kind template renders a sample
    /// email with no undefined variable. Errors name the file.
    pub fn build(
        files: impl IntoIterator<Item = TemplateFile>,
        config: &Config,
    ) -> Result<Self, TemplateError> {
        let invalid = |origin: &str, message: String| TemplateError::Invalid {
            origin: origin.to_owned(),
            message,
        };
        let mut env = environment();
        let mut origins = BTreeMap::new();
        // Per stem, where its .txt and its .html came from.
        let mut halves: BTreeMap<String, [Option<String>; 2]> = BTreeMap::new();
        for f in files {
            let entry = classify(&f.path, config).map_err(|m| invalid(&f.origin, m))?;
            let (name, source) = match entry {
                Entry::Skipped => continue,
                Entry::Partial => (f.path.clone(), f.source),
                Entry::Kind { stem, text } => {
                    let half = if text { 0 } else { 1 };
                    halves.entry(stem.clone()).or_default()[half] = Some(f.origin.clone());
                    if text {
                        let (subject, body) = split_subject(&f.source).ok_or_else(|| {
                            invalid(
                                &f.origin,
                                "the first line must be the subject: `Subject: …`".into(),
                            )
                        })?;
                        let subject = subject.to_owned();
                        env.add_template_owned(subject_name(&stem), subject)
                            .map_err(|e| invalid(&f.origin, describe(&e)))?;
                        origins.insert(subject_name(&stem), f.origin.clone());
                        (f.path.clone(), body)
                    } else {
                        (f.path.clone(), f.source)
                    }
                }
            };
            env.add_template_owned(name.clone(), source)
                .map_err(|e| invalid(&f.origin, describe(&e)))?;
            origins.insert(name, f.origin);
        }
        for (stem, [text, html]) in &halves {
            match (text, html) {
                (Some(_), Some(_)) => {}
                (Some(origin), None) => {
                    return Err(invalid(origin, format!("{stem}.html is missing beside it")))
                }
                (None, Some(origin)) => {
                    return Err(invalid(origin, format!("{stem}.txt is missing beside it")))
                }
                (None, None) => unreachable!("a stem is recorded with one of its halves"),
            }
        }
        for kind in KINDS {
            if !halves.contains_key(kind) {
                return Err(invalid(
                    "templates",
                    format!("no default {kind}.txt and {kind}.html"),
                ));
            }
        }
        let templates = Templates {
            env,
            stems: halves.into_keys().collect(),
            origins,
        };
        templates.check()?;
        Ok(templates)
    }

    /// Renders every pair with a sample email in which every value is present, refusing any
    /// undefined variable: a misspelt name fails here, at start-up, not in a lead's email.
    fn check(&self) -> Result<(), TemplateError> {
        let mut strict = self.env.clone();
        strict.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        for stem in &self.stems {
            let kind = stem
                .rsplit('/')
                .next()
                .and_then(|f| f.split('.').next())
                .unwrap_or_default();
            let sample = EmailContext::sample(kind);
            render_pair(&strict, stem, &sample).map_err(|e| TemplateError::Invalid {
                origin: self.origin_of(&e, stem),
                message: describe(&e),
            })?;
        }
        Ok(())
    }

    /// The file an error is in: the template it names (an include, a layout) or the stem's.
    fn origin_of(&self, e: &minijinja::Error, stem: &str) -> String {
        e.name()
            .and_then(|n| self.origins.get(n))
            .or_else(|| self.origins.get(&format!("{stem}.txt")))
            .cloned()
            .unwrap_or_else(|| stem.to_owned())
    }

    /// The stem that renders an email: the first of its [`candidates`] that exists.
    pub fn choose(&self, kind: &str, s: &Selector) -> String {
        candidates(kind, s)
            .into_iter()
            .find(|stem| self.stems.contains(stem))
            .unwrap_or_else(|| kind.to_owned())
    }

    /// Renders an email from the templates its selector picks.
    pub fn render(&self, s: &Selector, ctx: &EmailContext) -> Result<Rendered, TemplateError> {
        let stem = self.choose(ctx.kind, s);
        render_pair(&self.env, &stem, ctx).map_err(|e| TemplateError::Render {
            template: self.origin_of(&e, &stem),
            message: describe(&e),
        })
    }
}

fn render_pair(
    env: &Environment<'static>,
    stem: &str,
    ctx: &EmailContext,
) -> Result<Rendered, minijinja::Error> {
    let values = Value::from(Serde(ctx));
    let subject = header_safe(
        &env.get_template(&subject_name(stem))?
            .render(values.clone())?,
    );
    let text = env
        .get_template(&format!("{stem}.txt"))?
        .render(values.clone())?
        .trim_start_matches(['\r', '\n'])
        .to_owned();
    let html = env
        .get_template(&format!("{stem}.html"))?
        .render(minijinja::context! { subject => subject.as_str(), ..values })?;
    Ok(Rendered {
        template: stem.to_owned(),
        subject,
        text,
        html,
    })
}

/// A MiniJinja error in one line: what and where.
fn describe(e: &minijinja::Error) -> String {
    let what = match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    };
    match (e.name(), e.line()) {
        (Some(name), Some(line)) => format!("{what} (in {name} line {line})"),
        _ => what,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::config;

    fn file(path: &str, source: &str) -> TemplateFile {
        TemplateFile {
            path: path.into(),
            origin: format!("overrides/{path}"),
            source: source.into(),
        }
    }

    /// The built-in set with `extra` laid over it, as the loader does.
    fn with(extra: &[(&str, &str)]) -> Result<Templates, TemplateError> {
        let mut files: BTreeMap<String, TemplateFile> = TemplateFile::builtin()
            .into_iter()
            .map(|f| (f.path.clone(), f))
            .collect();
        for (path, source) in extra {
            files.insert((*path).into(), file(path, source));
        }
        Templates::build(files.into_values(), &config())
    }

    const SEL: Selector = Selector {
        source: "form",
        team: Some("sales"),
        language: Some("de"),
    };

    #[test]
    fn the_most_specific_template_comes_first() {
        assert_eq!(
            candidates("assignment", &SEL),
            [
                "sources/form/assignment.de",
                "sources/form/assignment",
                "teams/sales/assignment.de",
                "teams/sales/assignment",
                "assignment.de",
                "assignment",
            ]
        );
    }

    #[test]
    fn without_a_team_or_a_language_those_levels_are_left_out() {
        let s = Selector {
            source: "json",
            team: None,
            language: None,
        };
        assert_eq!(
            candidates("unassigned", &s),
            ["sources/json/unassigned", "unassigned"]
        );
    }

    #[test]
    fn each_level_wins_over_the_ones_below_it() {
        let pair = |stem: &str| {
            [
                (format!("{stem}.txt"), format!("Subject: {stem}\nbody")),
                (format!("{stem}.html"), "<p>html</p>".to_owned()),
            ]
        };
        // From the least specific up: each added pair becomes the choice.
        let levels = [
            "assignment.de",
            "teams/sales/assignment",
            "teams/sales/assignment.de",
            "sources/form/assignment",
            "sources/form/assignment.de",
        ];
        let mut extra: Vec<(String, String)> = Vec::new();
        assert_eq!(with(&[]).unwrap().choose("assignment", &SEL), "assignment");
        for level in levels {
            extra.extend(pair(level));
            let refs: Vec<(&str, &str)> = extra
                .iter()
                .map(|(p, s)| (p.as_str(), s.as_str()))
                .collect();
            assert_eq!(with(&refs).unwrap().choose("assignment", &SEL), level);
        }
    }

    #[test]
    fn another_team_source_or_language_does_not_apply() {
        let t = with(&[
            ("teams/enterprise/assignment.txt", "Subject: x\n"),
            ("teams/enterprise/assignment.html", ""),
            ("sources/json/assignment.txt", "Subject: x\n"),
            ("sources/json/assignment.html", ""),
            ("assignment.fr.txt", "Subject: x\n"),
            ("assignment.fr.html", ""),
        ])
        .unwrap();
        assert_eq!(t.choose("assignment", &SEL), "assignment");
    }

    #[test]
    fn a_bad_file_is_refused_naming_it_and_the_problem() {
        let err = |extra: &[(&str, &str)]| with(extra).unwrap_err().to_string();
        assert_eq!(
            err(&[("teams/sales/assignment.txt", "Subject: x\n{% if %}")]),
            "overrides/teams/sales/assignment.txt: syntax error: unexpected end of block (in teams/sales/assignment.txt line 2)"
        );
        assert_eq!(
            err(&[("teams/sales/assignment.txt", "Hi {{ owner.name }}")]),
            "overrides/teams/sales/assignment.txt: the first line must be the subject: `Subject: …`"
        );
        assert_eq!(
            err(&[("teams/sales/assignment.txt", "Subject: x\n")]),
            "overrides/teams/sales/assignment.txt: teams/sales/assignment.html is missing beside it"
        );
        assert_eq!(
            err(&[("teams/nobody/assignment.txt", "Subject: x\n")]),
            "overrides/teams/nobody/assignment.txt: no team is called \"nobody\" in local.toml"
        );
        assert_eq!(
            err(&[("acknowledgment.txt", "Subject: x\n")]),
            "overrides/acknowledgment.txt: \"acknowledgment\" is not an email kind (one of acknowledgement, assignment, reminder, escalation, unassigned)"
        );
        assert_eq!(
            err(&[("acknowledgement.de-AT.txt", "Subject: x\n")]),
            "overrides/acknowledgement.de-AT.txt: \"de-AT\" is not a language: use its 2- or 3-letter code in lower case (\"de\")"
        );
    }

    #[test]
    fn a_misspelt_variable_is_refused_at_start_up() {
        let e = with(&[
            ("assignment.txt", "Subject: New lead\nHi {{ ownr.name }}"),
            ("assignment.html", "<p>hi</p>"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("overrides/assignment.txt: undefined value"),
            "{e}"
        );
    }

    #[test]
    fn readmes_and_dot_files_are_not_templates() {
        assert!(with(&[("README.md", "# notes"), (".DS_Store", "\0")]).is_ok());
    }
}
