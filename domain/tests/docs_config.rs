//! Every configuration example in the documentation parses and validates.
//!
//! The docs teach configuration by example, and an example that no longer parses teaches the
//! reader something false. This test reads every ```` ```toml ```` fenced block in `README.md`
//! and `docs/*.md` and runs it through `Config::from_toml`, the same parse and validation the
//! functions do at start-up.
//!
//! - A block that has every required top-level section (`[email]`, `[links]`, `[sources]`,
//!   `[teams]`, `[routing]`, `[scoring]`, `[sla]`) is a whole configuration and is parsed as
//!   it is.
//! - Any other block is a fragment. It is deep-merged over `infra/config/local.toml`: tables
//!   merge key by key, and any other value (arrays of tables included, such as
//!   `[[routing.rules]]`) replaces the one in `local.toml`. So a fragment may refer to the
//!   teams, owners, tiers and calendars of `local.toml`, and must be valid with them.
//! - A block that is deliberately not valid configuration (one that shows an error, or a
//!   single line out of context) is fenced as ```` ```toml,ignore ```` and skipped. Keep
//!   those rare: prefer writing the example so that it parses.
//!
//! A failure names the doc file, the line of the block's opening fence and the error.

use std::path::{Path, PathBuf};

use leadrelay_domain::config::Config;
use toml::{Table, Value};

/// Top-level sections without a default: a block with all of them is a whole configuration.
const REQUIRED_SECTIONS: [&str; 7] = [
    "email", "links", "sources", "teams", "routing", "scoring", "sla",
];

struct Block {
    file: String,
    /// 1-based line of the opening fence.
    line: usize,
    text: String,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn doc_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ is readable")
        .map(|entry| entry.expect("docs/ entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The ```toml blocks of one Markdown file, without those marked `toml,ignore`. Fences follow
/// CommonMark: three or more backticks (or tildes), an info string without backticks (so
/// ```` ```toml ```` in running text is inline code, not a fence), closed by a run of the same
/// character at least as long. Fences may be indented (inside a list item); the fence's
/// indentation is removed from the block's lines.
fn toml_blocks(file: &str, markdown: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut lines = markdown.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let Some((indent, marker, info)) = opening_fence(line) else {
            continue;
        };
        let mut body = Vec::new();
        for (_, inner) in lines.by_ref() {
            if closes(inner, &marker) {
                break;
            }
            let cut = inner.len() - inner.trim_start().len();
            body.push(&inner[cut.min(indent)..]);
        }
        let mut words = info.split([',', ' ']).filter(|w| !w.is_empty());
        if words.next() != Some("toml") || words.any(|w| w == "ignore") {
            continue;
        }
        blocks.push(Block {
            file: file.to_owned(),
            line: index + 1,
            text: body.join("\n"),
        });
    }
    blocks
}

/// An opening code fence: its indentation, its marker (```` ``` ````, `~~~~`, ...) and its
/// info string.
fn opening_fence(line: &str) -> Option<(usize, String, &str)> {
    let trimmed = line.trim_start();
    let indent = line.len() - trimmed.len();
    let c = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = trimmed.chars().take_while(|x| *x == c).count();
    let info = trimmed[len..].trim();
    if len < 3 || (c == '`' && info.contains('`')) {
        return None;
    }
    Some((indent, c.to_string().repeat(len), info))
}

fn closes(line: &str, marker: &str) -> bool {
    let trimmed = line.trim();
    let c = marker.chars().next().unwrap_or('`');
    trimmed.len() >= marker.len() && trimmed.chars().all(|x| x == c)
}

/// Lays `fragment` over `base`: tables merge key by key; any other value replaces.
fn merge(base: &mut Table, fragment: Table) {
    for (key, value) in fragment {
        match (base.get_mut(&key), value) {
            (Some(Value::Table(base_table)), Value::Table(fragment_table)) => {
                merge(base_table, fragment_table)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Parses one block as a whole configuration or as a fragment over `local.toml`.
fn check(block: &Block, local: &Table) -> Result<(), String> {
    let table: Table = toml::from_str(&block.text).map_err(|e| format!("not TOML: {e}"))?;
    let whole = REQUIRED_SECTIONS.iter().all(|key| table.contains_key(*key));
    let text = if whole {
        block.text.clone()
    } else {
        let mut merged = local.clone();
        merge(&mut merged, table);
        toml::to_string(&merged).map_err(|e| format!("cannot write the merged TOML: {e}"))?
    };
    let origin = format!("{} line {}", block.file, block.line);
    Config::from_toml(&text, &origin).map(|_| ()).map_err(|e| {
        // Errors name the origin themselves, except those about the environment.
        let e = e.to_string();
        let e = e
            .strip_prefix(&format!("{origin}: "))
            .unwrap_or(&e)
            .to_owned();
        if whole {
            e
        } else {
            format!("{e} (the fragment merged over infra/config/local.toml)")
        }
    })
}

#[test]
fn every_config_example_in_the_docs_parses() {
    let root = repo_root();
    let local_text = std::fs::read_to_string(root.join("infra/config/local.toml"))
        .expect("infra/config/local.toml is readable");
    let local: Table = toml::from_str(&local_text).expect("infra/config/local.toml is TOML");

    let mut checked = 0;
    let mut failures = Vec::new();
    for path in doc_files(&root) {
        let name = path
            .strip_prefix(&root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let markdown = std::fs::read_to_string(&path).expect("doc file is readable");
        for block in toml_blocks(&name, &markdown) {
            checked += 1;
            if let Err(error) = check(&block, &local) {
                failures.push(format!("{} line {}: {error}", block.file, block.line));
            }
        }
    }

    assert!(
        checked > 0,
        "found no ```toml blocks: is the docs path right?"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} config examples do not parse:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_block_reader_finds_indented_blocks_and_skips_ignored_ones_and_inline_code() {
    let markdown = "text\n\n  ```toml\n  [a]\n  b = 1\n  ```\n\n```toml,ignore\nbad\n```\n\n\
                    ```` ```toml ```` in running text\n\n```sh\nx\n```\n\n````toml\nc = 2\n````\n";
    let blocks = toml_blocks("x.md", markdown);
    let found: Vec<(usize, &str)> = blocks.iter().map(|b| (b.line, b.text.as_str())).collect();
    assert_eq!(found, [(3, "[a]\nb = 1"), (18, "c = 2")]);
}
