//! `kefu retention --keep 180d`: deletes whole day partitions older than the period
//! from events, the derived tables, quarantine and the reports beside the data. The
//! push log is kept at least 180 days whatever `--keep` says (an audit of what kefu
//! sent to WeChat). Safe from cron: it takes the dataset's write lock, removes only
//! `dt=` folders and `reports/YYYY-MM-DD` folders, and prints what it removed.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use chrono::{Duration, NaiveDate};

use super::{Context, LOCK_WAIT};
use crate::cli::RetentionArgs;
use crate::error::UsageError;
use crate::store::{Dataset, TABLES};

/// The push log's floor: it is the record of every tag call, kept ≥ 180 days.
pub const PUSH_LOG_MIN_DAYS: i64 = 180;

/// `180d`, `180` → 180 days.
pub fn parse_keep(text: &str) -> Result<i64> {
    let digits = text.trim().trim_end_matches(['d', 'D']);
    match digits.parse::<i64>() {
        Ok(days) if days >= 1 => Ok(days),
        _ => Err(
            UsageError::Invalid(format!("--keep {text}: give a number of days, e.g. 180d")).into(),
        ),
    }
}

/// `dt=YYYY-MM-DD` (or a bare date, for reports) folders under `dir` older than `cutoff`.
fn old_folders(dir: &Path, cutoff: NaiveDate) -> Result<Vec<PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut old = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let date = NaiveDate::parse_from_str(name.strip_prefix("dt=").unwrap_or(name), "%Y-%m-%d");
        if date.is_ok_and(|date| date < cutoff) && path.is_dir() {
            old.push(path);
        }
    }
    old.sort();
    Ok(old)
}

pub fn run(context: &Context, args: &RetentionArgs) -> Result<()> {
    let keep = parse_keep(&args.keep)?;
    let dataset = Dataset::open(&context.data)?;
    let _lock = dataset.lock("retention", LOCK_WAIT)?;
    let today = chrono::Utc::now()
        .with_timezone(&dataset.zone())
        .date_naive();
    let cutoff = today - Duration::days(keep);
    let push_cutoff = today - Duration::days(keep.max(PUSH_LOG_MIN_DAYS));
    let mut dirs: Vec<(PathBuf, NaiveDate)> = TABLES
        .iter()
        .map(|table| {
            let cut = if *table == "push_log" {
                push_cutoff
            } else {
                cutoff
            };
            (dataset.table_dir(table), cut)
        })
        .collect();
    dirs.push((dataset.quarantine_dir(), cutoff));
    let reports = context.reports_dir();
    dirs.push((reports, cutoff));
    let mut removed = 0;
    for (dir, cut) in dirs {
        for folder in old_folders(&dir, cut)? {
            fs::remove_dir_all(&folder)
                .with_context(|| format!("removing {}", folder.display()))?;
            println!("removed {}", folder.display());
            removed += 1;
        }
    }
    eprintln!(
        "kefu retention: kept {keep} days (before {cutoff} removed; push log kept from {push_cutoff}), {removed} folder(s) removed"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_periods_parse_and_nonsense_is_refused() {
        assert_eq!(parse_keep("180d").unwrap(), 180);
        assert_eq!(parse_keep("30").unwrap(), 30);
        assert!(parse_keep("0d").is_err());
        assert!(parse_keep("six months").is_err());
    }
}
