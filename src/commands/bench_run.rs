//! `kefu bench --run`: `kefu run pipelines/nightly.toml` over a generated month (1 M
//! events by default), every job and the reports, in a child process so the wall time
//! and peak memory are the run's own. Run it from the repository (it uses the shipped
//! pipeline file).

use std::ffi::OsStr;
use std::path::Path;
use std::time::Instant;

use anyhow::Result;

use super::{generate_into, Context, LOCK_WAIT};
use crate::cli::BenchArgs;
use crate::error::UsageError;
use crate::store::Dataset;

const PIPELINE: &str = "pipelines/nightly.toml";

pub fn run(context: &Context, args: &BenchArgs) -> Result<()> {
    if !Path::new(PIPELINE).exists() {
        return Err(UsageError::Invalid(format!(
            "kefu bench --run uses {PIPELINE}: run it from the repository's folder"
        ))
        .into());
    }
    let scratch = super::bench::scratch_dir(args)?;
    let config = super::bench::config_for_events(args.events);
    let root = scratch.path().join("data");
    let dataset = Dataset::open_or_create(&root, None)?;
    let started = Instant::now();
    let summary = {
        let lock = dataset.lock("bench", LOCK_WAIT)?;
        generate_into(&dataset, &lock, &config, context.progress)?
    };
    let days = dataset.partitions("events")?;
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        anyhow::bail!("the generated dataset holds no events");
    };
    eprintln!(
        "kefu bench --run: {} events ({} users × {} days) generated and stored in {:.0}s; running `kefu run {PIPELINE} --from {first} --to {last}` in a child process",
        summary.store.written,
        config.users,
        config.days,
        started.elapsed().as_secs_f64()
    );
    let (from, to) = (first.to_string(), last.to_string());
    let reports = scratch.path().join("reports");
    let run = [
        OsStr::new("run"),
        OsStr::new(PIPELINE),
        OsStr::new("--from"),
        OsStr::new(&from),
        OsStr::new("--to"),
        OsStr::new(&to),
        OsStr::new("--out"),
        reports.as_os_str(),
    ];
    let (output, seconds, peak_mb) = super::bench::run_child(&root, &run)?;
    let log = String::from_utf8_lossy(&output.stderr);
    anyhow::ensure!(output.status.success(), "kefu run failed:\n{log}");
    for line in log
        .lines()
        .filter(|line| line.starts_with("  ") || line.contains("report(s)"))
    {
        println!("{}", line.trim_end());
    }
    println!(
        "kefu run over {} events, {} days: {seconds:.1} s wall (child process, start to exit), peak memory {}, {} threads",
        summary.store.written,
        days.len(),
        peak_mb.map_or_else(|| "n/a".to_owned(), |mb| format!("{mb:.0} MB")),
        rayon::current_num_threads()
    );
    Ok(())
}
