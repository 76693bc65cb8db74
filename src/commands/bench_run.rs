//! `kefu bench --run`: `kefu run pipelines/nightly.toml` over a generated month (1 M
//! events by default), every job and the reports, in a child process so the wall time
//! and peak memory are the run's own. Run it from the repository (it uses the shipped
//! pipeline file).

use std::ffi::OsStr;
use std::path::Path;

use anyhow::Result;

use super::Context;
use crate::cli::BenchArgs;
use crate::error::UsageError;

const PIPELINE: &str = "pipelines/nightly.toml";

pub fn run(context: &Context, args: &BenchArgs) -> Result<()> {
    if !Path::new(PIPELINE).exists() {
        return Err(UsageError::Invalid(format!(
            "kefu bench --run uses {PIPELINE}: run it from the repository's folder"
        ))
        .into());
    }
    let generated = super::bench::generated_dataset(context, args, "--run")?;
    let (dataset, summary) = (&generated.dataset, &generated.summary);
    let days = dataset.partitions("events")?;
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        anyhow::bail!("the generated dataset holds no events");
    };
    eprintln!("running `kefu run {PIPELINE} --from {first} --to {last}` in a child process");
    let (from, to) = (first.to_string(), last.to_string());
    let reports = generated.scratch.path().join("reports");
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
    let (output, seconds, peak_mb) = super::bench::run_child(&generated.root, &run)?;
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
