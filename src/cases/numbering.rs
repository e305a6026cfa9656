//! Unified case numbers (五统一: one numbering format across the bureau), e.g.
//! `柳城管罚〔2026〕第000123号`.
//!
//! The store owns the sequence (one counter per year, allocated in the same transaction that
//! inserts the case); this module only formats and parses, so the format is one setting.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The numbering format: `{agency}{category}〔{year}〕第{seq:0digits}号`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CaseNumbering {
    /// Agency abbreviation (机关代字), e.g. `柳城管`.
    pub agency: String,
    /// Document category character (类别), `罚` for penalty cases.
    pub category: String,
    /// Digits the sequence is zero-padded to.
    pub digits: usize,
}

impl Default for CaseNumbering {
    fn default() -> Self {
        CaseNumbering {
            agency: "柳城管".to_string(),
            category: "罚".to_string(),
            digits: 6,
        }
    }
}

/// A case number that does not match the configured format.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{number}` is not a case number in the format {agency}{category}〔YYYY〕第N号")]
pub struct BadCaseNumber {
    /// The text that failed to parse.
    pub number: String,
    /// Expected agency abbreviation.
    pub agency: String,
    /// Expected category.
    pub category: String,
}

impl CaseNumbering {
    /// Formats the number for `year`'s `seq`-th case.
    pub fn format(&self, year: i32, seq: u64) -> String {
        format!(
            "{}{}〔{year}〕第{seq:0width$}号",
            self.agency,
            self.category,
            width = self.digits
        )
    }

    /// Parses a number back into `(year, seq)`.
    pub fn parse(&self, number: &str) -> Result<(i32, u64), BadCaseNumber> {
        let bad = || BadCaseNumber {
            number: number.to_string(),
            agency: self.agency.clone(),
            category: self.category.clone(),
        };
        let rest = number
            .strip_prefix(self.agency.as_str())
            .and_then(|r| r.strip_prefix(self.category.as_str()))
            .and_then(|r| r.strip_prefix('〔'))
            .ok_or_else(bad)?;
        let (year, rest) = rest.split_once('〕').ok_or_else(bad)?;
        let seq = rest
            .strip_prefix('第')
            .and_then(|r| r.strip_suffix('号'))
            .ok_or_else(bad)?;
        let all_digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
        if year.len() != 4 || !all_digits(year) || !all_digits(seq) {
            return Err(bad());
        }
        let year = year.parse::<i32>().map_err(|_| bad())?;
        let seq = seq.parse::<u64>().map_err(|_| bad())?;
        Ok((year, seq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let n = CaseNumbering::default();
        let text = n.format(2026, 123);
        assert_eq!(text, "柳城管罚〔2026〕第000123号");
        assert_eq!(n.parse(&text), Ok((2026, 123)));
        // Sequences longer than the padding still round-trip.
        let long = n.format(2026, 12_345_678);
        assert_eq!(n.parse(&long), Ok((2026, 12_345_678)));
    }

    #[test]
    fn rejects_foreign_formats() {
        let n = CaseNumbering::default();
        for bad in [
            "",
            "柳城管罚〔2026〕第号",
            "柳城管罚(2026)第000123号",
            "南城管罚〔2026〕第000123号",
            "柳城管罚〔26〕第000123号",
            "柳城管罚〔2026〕第00x123号",
            "柳城管罚〔2026〕第000123",
        ] {
            assert!(n.parse(bad).is_err(), "{bad} should not parse");
        }
    }
}
