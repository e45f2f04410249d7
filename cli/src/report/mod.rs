//! `leadrelay report`: reading the history, and rendering the domain's report as terminal
//! tables, CSV files (one per table) or one self-contained HTML page. The numbers themselves
//! are computed in `leadrelay_domain::report`.

pub mod html;
pub mod read;
pub mod tables;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use leadrelay_domain::report::Report;

pub use tables::{tables, Table};

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn write(path: &Path, text: &str) -> Result<(), RenderError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| RenderError::Write {
            path: dir.to_owned(),
            source,
        })?;
    }
    std::fs::write(path, text).map_err(|source| RenderError::Write {
        path: path.to_owned(),
        source,
    })
}

/// A heading of what the report covers, e.g. "2026-03-01 → 2026-03-31 (UTC), team sales".
pub fn scope(r: &Report) -> String {
    let p = &r.params;
    let mut s = format!(
        "{} → {} (UTC)",
        p.since.format("%Y-%m-%d %H:%M"),
        p.until.format("%Y-%m-%d %H:%M")
    );
    for (k, v) in [
        ("team", &p.team),
        ("owner", &p.owner),
        ("source", &p.source),
    ] {
        if let Some(v) = v {
            let _ = write!(s, ", {k} {v}");
        }
    }
    s
}

/// Whether a cell holds a number-like value (right-aligned in the terminal).
fn numeric(cell: &str) -> bool {
    cell.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-') || cell == "never"
}

/// Terminal tables: each titled, its columns aligned.
pub fn text(r: &Report) -> String {
    let mut out = format!("Speed-to-lead report, {}\n", scope(r));
    for t in tables(r) {
        let _ = write!(out, "\n{}\n", t.title);
        if t.rows.is_empty() {
            out.push_str("  (none)\n");
            continue;
        }
        let widths: Vec<usize> = (0..t.columns.len())
            .map(|i| {
                t.rows
                    .iter()
                    .map(|row| row[i].text.chars().count())
                    .chain([t.columns[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[&str], header: bool| {
            let mut l = String::from(" ");
            for (i, c) in cells.iter().enumerate() {
                let pad = widths[i].saturating_sub(c.chars().count());
                // The lead-derived text (campaigns, reasons) has its control characters
                // replaced, so nothing printed can move the cursor or recolour the terminal.
                let c: String = c
                    .chars()
                    .map(|ch| if ch.is_control() { '?' } else { ch })
                    .collect();
                if i > 0 && !header && numeric(&c) {
                    let _ = write!(l, " {}{}", " ".repeat(pad), c);
                } else {
                    let _ = write!(l, " {}{}", c, " ".repeat(pad));
                }
            }
            l.trim_end().to_owned() + "\n"
        };
        let columns: Vec<&str> = t.columns.iter().map(String::as_str).collect();
        out.push_str(&line(&columns, true));
        for row in &t.rows {
            let cells: Vec<&str> = row.iter().map(|c| c.text.as_str()).collect();
            out.push_str(&line(&cells, false));
        }
    }
    out
}

/// One CSV cell: quoted when it holds a comma, quote or line break; text that a spreadsheet
/// would run as a formula (`=`, `+`, `-`, `@` not followed by a digit) is prefixed with `'`.
pub fn csv_cell(cell: &str) -> String {
    let mut chars = cell.chars();
    let first = chars.next();
    let second = chars.next();
    let formula = matches!(first, Some('=' | '@' | '\t' | '\r'))
        || (matches!(first, Some('+' | '-'))
            && !second.is_some_and(|c| c.is_ascii_digit() || c == ' '))
            && cell.len() > 1;
    let cell = if formula {
        format!("'{cell}")
    } else {
        cell.to_owned()
    };
    if cell.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", cell.replace('"', "\"\""))
    } else {
        cell
    }
}

/// The table as CSV: times in seconds, shares as fractions of 1 (the raw values), a
/// percentage sign or unit nowhere.
pub fn csv(t: &Table) -> String {
    let mut out = String::new();
    let header: Vec<String> = t.columns.iter().map(|c| csv_cell(c)).collect();
    out.push_str(&header.join(","));
    out.push_str("\r\n");
    for row in &t.rows {
        let cells: Vec<String> = row.iter().map(|c| csv_cell(&c.raw)).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    out
}

/// Writes one CSV file per table into `dir`; returns the files written.
pub fn write_csv(r: &Report, dir: &Path) -> Result<Vec<PathBuf>, RenderError> {
    let mut written = Vec::new();
    for t in tables(r) {
        let path = dir.join(format!("{}.csv", t.name));
        write(&path, &csv(&t))?;
        written.push(path);
    }
    Ok(written)
}

pub fn write_html(r: &Report, path: &Path) -> Result<(), RenderError> {
    write(path, &html::page(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("-5 pp"), "-5 pp");
        assert_eq!(csv_cell("+3 pp"), "+3 pp");
        assert_eq!(csv_cell("-"), "-");
    }
}
