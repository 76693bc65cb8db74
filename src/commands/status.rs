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
