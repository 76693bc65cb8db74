//! `kefu bench`: throughput and peak memory of gen, Parquet write and import at a
//! given size, all measured in one run so ratios survive a noisy shared machine.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Output;
use std::time::Instant;

use anyhow::{Context as _, Result};

use super::{Context, LOCK_WAIT};
use crate::cli::BenchArgs;
use crate::collector::import::to_import_line;
use crate::gen::{generate, GenConfig};
use crate::sql::SqlSession;
use crate::store::{Dataset, EventWriter};

/// Peak resident memory since the last reset, from the kernel (Linux only).
fn peak_rss_mb() -> Option<f64> {
    vm_hwm_mb(&fs::read_to_string("/proc/self/status").ok()?)
}

/// The peak resident memory line of a `/proc/<pid>/status` text.
fn vm_hwm_mb(status: &str) -> Option<f64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Runs `kefu --data DATA -q ARGS…` as a child and returns its output, its wall time
/// and its peak memory, so a phase's memory is its own and not the benchmark's.
pub(super) fn run_child(data: &Path, args: &[&OsStr]) -> Result<(Output, f64, Option<f64>)> {
    let started = Instant::now();
    let child = std::process::Command::new(std::env::current_exe()?)
        .arg("--data")
        .arg(data)
        .arg("-q")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("running kefu as a child")?;
    let status_path = format!("/proc/{}/status", child.id());
    let sampler = std::thread::spawn(move || {
        // VmHWM only grows, so the last reading before exit is the child's peak (to
        // within the 20 ms between readings).
        let mut peak = None;
        while let Ok(status) = fs::read_to_string(&status_path) {
            peak = vm_hwm_mb(&status).or(peak);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        peak
    });
    let output = child.wait_with_output()?;
    let seconds = started.elapsed().as_secs_f64();
    Ok((output, seconds, sampler.join().ok().flatten()))
}

/// The benchmark's scratch folder: under `--dir` if given, else the system's temporary
/// folder; removed when dropped.
pub(super) fn scratch_dir(args: &BenchArgs) -> Result<tempfile::TempDir> {
    match &args.dir {
        Some(dir) => {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            Ok(tempfile::tempdir_in(dir)?)
        }
        None => Ok(tempfile::tempdir()?),
    }
}

/// A generator config whose month holds about `events` events: the user count is
/// sized from a small pilot, so a run lands near the target.
pub(super) fn config_for_events(events: u64) -> GenConfig {
    let pilot = generate(&GenConfig {
        users: 2_000,
        ..GenConfig::default()
    });
    let per_user = pilot.events.len() as f64 / 2_000.0;
    GenConfig {
        users: ((events as f64 / per_user).ceil() as u32).max(1),
        ..GenConfig::default()
    }
}

/// A generated dataset in a scratch folder, for the benchmarks of jobs.
pub(super) struct GeneratedDataset {
    /// Removed when dropped.
    pub scratch: tempfile::TempDir,
    pub root: std::path::PathBuf,
    pub dataset: Dataset,
    pub summary: super::gen::GenSummary,
}

/// Generates about `--events` events into a fresh dataset and says so on stderr.
pub(super) fn generated_dataset(
    context: &Context,
    args: &BenchArgs,
    what: &str,
) -> Result<GeneratedDataset> {
    let scratch = scratch_dir(args)?;
    let config = config_for_events(args.events);
    let root = scratch.path().join("data");
    let dataset = Dataset::open_or_create(&root, None)?;
    let started = Instant::now();
    let summary = {
        let lock = dataset.lock("bench", LOCK_WAIT)?;
        super::generate_into(&dataset, &lock, &config, context.progress)?
    };
    eprintln!(
        "kefu bench {what}: {} events ({} users × {} days) generated and stored in {:.0}s",
        summary.store.written,
        config.users,
        config.days,
        started.elapsed().as_secs_f64()
    );
    Ok(GeneratedDataset {
        scratch,
        root,
        dataset,
        summary,
    })
}

/// Resets the peak so each phase reports its own (writing 5 to clear_refs does that).
fn reset_peak_rss() {
    let _ = fs::write("/proc/self/clear_refs", "5");
}

struct Phase {
    name: &'static str,
    events: u64,
    seconds: f64,
    peak_mb: Option<f64>,
}

fn measure<T>(name: &'static str, f: impl FnOnce() -> Result<(u64, T)>) -> Result<(Phase, T)> {
    reset_peak_rss();
    let started = Instant::now();
    let (events, value) = f()?;
    let seconds = started.elapsed().as_secs_f64();
    Ok((
        Phase {
            name,
            events,
            seconds,
            peak_mb: peak_rss_mb(),
        },
        value,
    ))
}

pub fn run(_context: &Context, args: &BenchArgs) -> Result<()> {
    if args.collector {
        return super::bench_collector::run(args);
    }
    if args.text {
        return super::bench_text::run(args);
    }
    if args.run {
        return super::bench_run::run(_context, args);
    }
    if args.audience {
        return super::bench_audience::run(_context, args);
    }
    if args.sla {
        return super::bench_sla::run(_context, args);
    }
    let scratch = scratch_dir(args)?;
    let config = config_for_events(args.events);
    eprintln!(
        "kefu bench: {} target events ({} users × {} days), {} threads, scratch {}",
        args.events,
        config.users,
        config.days,
        rayon::current_num_threads(),
        scratch.path().display()
    );

    let mut phases = Vec::new();
    let (phase, generated) = measure("gen (in memory)", || {
        let generated = generate(&config);
        Ok((generated.events.len() as u64, generated))
    })?;
    phases.push(phase);
    let events = generated.events;

    let write_root = scratch.path().join("written");
    let dataset = Dataset::open_or_create(&write_root, None)?;
    let (phase, ()) = measure("parquet write (dedupe + zstd)", || {
        let lock = dataset.lock("bench", LOCK_WAIT)?;
        let summary = EventWriter::new(&dataset, &lock).append(events.clone())?;
        Ok((summary.written, ()))
    })?;
    phases.push(phase);

    let jsonl = scratch.path().join("events.jsonl");
    {
        let mut out = BufWriter::new(File::create(&jsonl)?);
        for event in &events {
            out.write_all(to_import_line(event).as_bytes())?;
            out.write_all(b"\n")?;
        }
        out.flush()?;
    }
    let jsonl_mb = fs::metadata(&jsonl)?.len() as f64 / 1e6;
    let events_count = events.len() as u64;
    drop(events);

    // The import runs as a child `kefu import`, so its peak memory is its own and not
    // the generator's; that peak is what shows whether import streams.
    let import_root = scratch.path().join("imported");
    let imported = Dataset::open_or_create(&import_root, None)?;
    for (name, expect_new) in [
        ("import JSONL (child process)", true),
        ("re-import same file (all duplicates)", false),
    ] {
        let import = [OsStr::new("import"), jsonl.as_os_str()];
        let (output, seconds, child_peak_mb) = run_child(&import_root, &import)?;
        anyhow::ensure!(
            output.status.success(),
            "kefu import failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let imported_now = stdout.contains("imported 0 events");
        anyhow::ensure!(
            imported_now != expect_new,
            "unexpected import result: {stdout}"
        );
        phases.push(Phase {
            name,
            events: events_count,
            seconds,
            peak_mb: child_peak_mb,
        });
    }

    let (phase, ()) = measure("duckdb count over the store", || {
        let session = SqlSession::open(&imported)?;
        let rows: i64 =
            session
                .connection()
                .query_row("SELECT count(*) FROM events", [], |row| row.get(0))?;
        Ok((rows as u64, ()))
    })?;
    phases.push(phase);

    println!(
        "{:<40} {:>10} {:>9} {:>12} {:>10}",
        "phase", "events", "seconds", "events/s", "peak MB"
    );
    for phase in &phases {
        println!(
            "{:<40} {:>10} {:>9.2} {:>12.0} {:>10}",
            phase.name,
            phase.events,
            phase.seconds,
            phase.events as f64 / phase.seconds.max(1e-9),
            phase
                .peak_mb
                .map(|mb| format!("{mb:.0}"))
                .unwrap_or_else(|| "n/a".into())
        );
    }
    let store_mb: f64 = imported.table_stats("events")?.bytes as f64 / 1e6;
    println!(
        "JSONL input {jsonl_mb:.0} MB → Parquet {store_mb:.0} MB ({:.1}× smaller)",
        jsonl_mb / store_mb.max(1e-9)
    );
    Ok(())
}
