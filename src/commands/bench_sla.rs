//! `kefu bench --sla`: the sla job over a generated dataset (10 M events by default
//! would be `--events 10000000`), timed in a child process so its peak memory is the
//! job's own and not the generator's.

use std::ffi::OsStr;
use std::time::Instant;

use anyhow::Result;

use super::{Context, LOCK_WAIT};
use crate::cli::BenchArgs;
use crate::jobs::sla;
use crate::store::Dataset;

pub fn run(context: &Context, args: &BenchArgs) -> Result<()> {
    if args.job_only {
        return job_only(context);
    }
    let generated = super::bench::generated_dataset(context, args, "--sla")?;
    let (root, summary) = (&generated.root, &generated.summary);
    eprintln!("running the sla job in a child process");

    let job = ["bench", "--sla", "--job-only"].map(OsStr::new);
    let (output, seconds, peak_mb) = super::bench::run_child(root, &job)?;
    anyhow::ensure!(
        output.status.success(),
        "the sla job failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    print!("{}", String::from_utf8_lossy(&output.stdout));
    println!(
        "sla job over {} events: {seconds:.1} s (child process, start to exit), peak memory {} (targets: under 30 s and 2,048 MB)",
        summary.store.written,
        peak_mb.map_or_else(|| "n/a".to_owned(), |mb| format!("{mb:.0} MB"))
    );
    Ok(())
}

/// The child: every day of the dataset, one after another, each parallel inside.
fn job_only(context: &Context) -> Result<()> {
    let dataset = Dataset::open(&context.data)?;
    let lock = dataset.lock("bench", LOCK_WAIT)?;
    let config = crate::config::PipelineConfig::built_in().sla;
    let as_of = sla::latest_event_ms(&dataset)?;
    let started = Instant::now();
    let days = dataset.partitions("events")?;
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        anyhow::bail!("the dataset at {} holds no events", context.data.display());
    };
    let summary = sla::run_range(&dataset, &lock, *first, *last, &config, as_of)?;
    println!(
        "{} days: {} sessions, {} turns ({} breaches, {} censored) in {:.1} s of job time",
        days.len(),
        summary.sessions,
        summary.turns,
        summary.breaches,
        summary.censored,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
