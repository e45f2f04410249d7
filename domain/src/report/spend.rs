//! Ad spend per source and month, from a small CSV the user writes:
//!
//! ```text
//! source,month,amount
//! google,2026-03,1200.50
//! meta,2026-03,800
//! ```
//!
//! A header line is optional; blank lines and lines starting with `#` are ignored. Two lines
//! for the same source and month add up.

use std::collections::BTreeMap;

/// What went wrong reading a spend file, with the line to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpendError {
    #[error("line {line}: expected source,month,amount")]
    Columns { line: usize },
    #[error("line {line}: month {given:?} is not YYYY-MM")]
    Month { line: usize, given: String },
    #[error("line {line}: amount {given:?} is not a non-negative number")]
    Amount { line: usize, given: String },
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Spend {
    /// (source, "YYYY-MM") → amount.
    pub amounts: BTreeMap<(String, String), f64>,
}

fn is_month(m: &str) -> bool {
    let b = m.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b[..4].iter().chain(&b[5..]).all(u8::is_ascii_digit)
        && (1..=12).contains(&m[5..].parse::<u32>().unwrap_or(0))
}

impl Spend {
    pub fn parse(text: &str) -> Result<Spend, SpendError> {
        let mut amounts = BTreeMap::new();
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            let l = raw.trim();
            if l.is_empty() || l.starts_with('#') {
                continue;
            }
            let cols: Vec<&str> = l.split(',').map(|c| c.trim().trim_matches('"')).collect();
            if cols.len() != 3 || cols[0].is_empty() {
                return Err(SpendError::Columns { line });
            }
            if line == 1 && cols[0].eq_ignore_ascii_case("source") {
                continue;
            }
            if !is_month(cols[1]) {
                return Err(SpendError::Month {
                    line,
                    given: cols[1].to_owned(),
                });
            }
            let amount: f64 = cols[2]
                .parse()
                .ok()
                .filter(|a: &f64| a.is_finite() && *a >= 0.0)
                .ok_or_else(|| SpendError::Amount {
                    line,
                    given: cols[2].to_owned(),
                })?;
            *amounts
                .entry((cols[0].to_owned(), cols[1].to_owned()))
                .or_insert(0.0) += amount;
        }
        Ok(Spend { amounts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spend_lines_for_the_same_source_and_month_add_up_and_the_header_is_optional() {
        let s = Spend::parse("source,month,amount\ngoogle,2026-03,100.5\n\n# note\ngoogle,2026-03,50\nmeta,2026-04,20\n").unwrap();
        assert_eq!(s.amounts[&("google".into(), "2026-03".into())], 150.5);
        assert_eq!(s.amounts.len(), 2);
        assert_eq!(Spend::parse("meta,2026-04,20").unwrap().amounts.len(), 1);
    }

    #[test]
    fn a_bad_spend_line_is_named_with_its_number() {
        assert_eq!(
            Spend::parse("google,2026-13,1").unwrap_err().to_string(),
            "line 1: month \"2026-13\" is not YYYY-MM"
        );
        assert_eq!(
            Spend::parse("source,month,amount\ngoogle,2026-03,-5"),
            Err(SpendError::Amount {
                line: 2,
                given: "-5".into()
            })
        );
        assert_eq!(
            Spend::parse("google;2026-03;5"),
            Err(SpendError::Columns { line: 1 })
        );
    }
}
