//! The review loop: QA teams mark flags confirmed or false positive in
//! `pipelines/rules/qa-reviews.csv` (event_id, rule_id, verdict, reviewer, note), and
//! every later run carries the verdict into `qa_flags.verdict`.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::error::UsageError;

pub const CONFIRMED: &str = "confirmed";
pub const FALSE_POSITIVE: &str = "false_positive";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewRow {
    event_id: String,
    rule_id: String,
    verdict: String,
    #[allow(dead_code)]
    reviewer: String,
    #[allow(dead_code)]
    #[serde(default)]
    note: String,
}

/// Verdicts by (event_id, rule_id); a later line overrides an earlier one, so a
/// reviewer corrects a verdict by appending.
#[derive(Debug, Default)]
pub struct Reviews {
    verdicts: HashMap<(String, String), String>,
}

impl Reviews {
    /// Reads a review file; a missing file is no reviews yet. A bad line is a usage
    /// error naming the file and line, since a silently skipped verdict would put a
    /// known false positive back into the report.
    pub fn load(path: &Path) -> Result<Reviews> {
        if !path.exists() {
            return Ok(Reviews::default());
        }
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Reviews::parse(path, &bytes)
    }

    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Reviews> {
        // Excel saves CSV with a BOM; the header must still be found.
        let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(bytes);
        let invalid = |line: u64, reason: String| {
            UsageError::Invalid(format!("{}:{line}: {reason}", path.display()))
        };
        let headers = reader
            .headers()
            .map_err(|err| invalid(1, err.to_string()))?
            .clone();
        let mut verdicts = HashMap::new();
        for record in reader.records() {
            let record = record.map_err(|err| {
                invalid(
                    err.position().map_or(0, csv::Position::line),
                    err.to_string(),
                )
            })?;
            let line = record.position().map_or(0, csv::Position::line);
            let row: ReviewRow = record
                .deserialize(Some(&headers))
                .map_err(|err| invalid(line, err.to_string()))?;
            if row.verdict != CONFIRMED && row.verdict != FALSE_POSITIVE {
                return Err(invalid(
                    line,
                    format!(
                        "verdict `{}` is neither {CONFIRMED} nor {FALSE_POSITIVE}",
                        row.verdict
                    ),
                )
                .into());
            }
            verdicts.insert((row.event_id, row.rule_id), row.verdict);
        }
        Ok(Reviews { verdicts })
    }

    pub fn verdict(&self, event_id: &str, rule_id: &str) -> Option<&str> {
        self.verdicts
            .get(&(event_id.to_owned(), rule_id.to_owned()))
            .map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.verdicts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.verdicts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_read_and_a_later_line_wins() {
        let csv = "\u{feff}event_id,rule_id,verdict,reviewer,note\n\
                   m:1,promise.lifetime,confirmed,王敏,\n\
                   m:2,absolute.superlative,false_positive,王敏,\"quoted, the customer's words\"\n\
                   m:1,promise.lifetime,false_positive,李娜,second look\n";
        let reviews = Reviews::parse(Path::new("r.csv"), csv.as_bytes()).unwrap();
        assert_eq!(reviews.len(), 2);
        assert_eq!(
            reviews.verdict("m:1", "promise.lifetime"),
            Some(FALSE_POSITIVE)
        );
        assert_eq!(
            reviews.verdict("m:2", "absolute.superlative"),
            Some(FALSE_POSITIVE)
        );
        assert_eq!(reviews.verdict("m:2", "promise.lifetime"), None);
    }

    #[test]
    fn a_bad_verdict_names_the_line() {
        let csv = "event_id,rule_id,verdict,reviewer,note\nm:1,r,confirmed,a,\nm:2,r,maybe,a,\n";
        let err = Reviews::parse(Path::new("r.csv"), csv.as_bytes()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "r.csv:3: verdict `maybe` is neither confirmed nor false_positive"
        );
        assert_eq!(crate::error::exit_code_for(&err), 2);
    }
}
