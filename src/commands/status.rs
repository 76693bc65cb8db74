//! `kefu status`

use anyhow::Result;
use chrono::{DateTime, Utc};

use super::Context;
use crate::store::{Dataset, TABLES};

pub fn run(context: &Context) -> Result<()> {
    let dataset = Dataset::open(&context.data)?;
    let manifest = dataset.manifest();
    println!(
        "dataset {} (schema v{}, time zone {}, created {})",
        dataset.root().display(),
        manifest.schema_version,
        manifest.timezone,
        manifest.created_at.format("%Y-%m-%d %H:%M UTC")
    );
    println!(
        "{:<14} {:>10} {:>23} {:>6} {:>12} {:>10}  last write",
        "table", "partitions", "dates", "files", "rows", "MB"
    );
    for table in TABLES {
        let stats = dataset.table_stats(table)?;
        if stats.partitions == 0 {
            continue;
        }
        let dates = match (stats.first, stats.last) {
            (Some(first), Some(last)) => format!("{first}..{last}"),
            _ => String::new(),
        };
        let last_write = stats
            .last_write
            .map(|t| {
                DateTime::<Utc>::from(t)
                    .format("%Y-%m-%d %H:%M:%S UTC")
                    .to_string()
            })
            .unwrap_or_default();
        println!(
            "{:<14} {:>10} {:>23} {:>6} {:>12} {:>10.1}  {}",
            table,
            stats.partitions,
            dates,
            stats.files,
            stats.rows,
            stats.bytes as f64 / 1e6,
            last_write
        );
    }
    // Callbacks the collector acknowledged that are not in Parquet yet.
    let wal_dir = dataset.root().join("wal");
    if let Ok(entries) = std::fs::read_dir(&wal_dir) {
        let sizes: Vec<u64> = entries
            .flatten()
            .filter_map(|entry| entry.metadata().ok())
            .map(|meta| meta.len())
            .collect();
        println!(
            "collector log: {} segments, {:.1} MB not yet in Parquet ({})",
            sizes.len(),
            sizes.iter().sum::<u64>() as f64 / 1e6,
            wal_dir.display()
        );
    }
    match dataset.last_run()? {
        Some(run) => {
            let jobs: Vec<String> = run
                .jobs
                .iter()
                .map(|job| format!("{} {:.1}s", job.job, job.seconds))
                .collect();
            println!(
                "last run: {} → {}, {} over {}..{}: {} [{}]",
                run.started,
                run.finished,
                run.pipeline,
                run.from,
                run.to,
                run.outcome,
                jobs.join(", ")
            );
        }
        None => println!("last run: none (kefu run has not run on this dataset)"),
    }
    let pulls = crate::collector::pull::PullState::load(&dataset)?;
    match pulls.last_complete() {
        Some(window) => println!(
            "last pull: {} complete ({} records, {} stored, {} already from callbacks) at {}",
            window.date, window.records, window.stored, window.callback_repeats, window.pulled_at
        ),
        None => println!("last pull: none (kefu pull has not completed a day on this dataset)"),
    }
    let unfinished: Vec<&str> = pulls
        .windows
        .values()
        .filter(|window| !window.complete)
        .map(|window| window.date.as_str())
        .collect();
    if !unfinished.is_empty() {
        println!(
            "pull incomplete for {} (the next kefu pull resumes there)",
            unfinished.join(", ")
        );
    }
    print_pushes(&dataset)?;
    let (files, records) = dataset.quarantine_stats()?;
    if records > 0 {
        println!(
            "quarantine: {records} inputs in {files} files under {}",
            dataset.quarantine_dir().display()
        );
    } else {
        println!("quarantine: empty");
    }
    Ok(())
}

/// The last push of each of the latest 7 pushed dates: when, calls, failures.
fn print_pushes(dataset: &Dataset) -> Result<()> {
    use std::collections::BTreeMap;
    let mut last: BTreeMap<chrono::NaiveDate, (String, u64, u64, i64)> = BTreeMap::new();
    for (date, call) in dataset.read_push_log()? {
        if call.outcome == "intent" {
            continue;
        }
        let entry = last
            .entry(date)
            .or_insert_with(|| (call.push_id.clone(), 0, 0, call.ts_ms));
        if entry.0 != call.push_id {
            *entry = (call.push_id.clone(), 0, 0, call.ts_ms);
        }
        entry.1 += 1;
        entry.2 += u64::from(call.outcome == "failed");
        entry.3 = entry.3.max(call.ts_ms);
    }
    if last.is_empty() {
        println!("last push: none (kefu tags push --apply has not run on this dataset)");
    }
    for (date, (push_id, calls, failed, ts_ms)) in last.iter().rev().take(7) {
        let at = DateTime::<Utc>::from_timestamp_millis(*ts_ms)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default();
        println!("push of {date}: {calls} calls, {failed} failed, last at {at} (push {push_id})");
    }
    Ok(())
}
