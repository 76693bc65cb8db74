//! `kefu run PIPELINE.toml --date D | --from D --to D`: the night's jobs, one after
//! another (each parallel inside), over the dates asked. Everything the jobs read is
//! validated before the first one starts; a failing job stops the run with exit 1 and
//! names the job and day.

use std::time::Instant;

use anyhow::{Context as _, Result};
use chrono::NaiveDate;
use indicatif::{ProgressBar, ProgressStyle};

use super::{Context, LOCK_WAIT};
use crate::cli::RunArgs;
use crate::config::PipelineConfig;
use crate::error::UsageError;
use crate::jobs::qa::{self, Reviews, Rules};
use crate::jobs::{segment, sla};
use crate::store::Dataset;
use crate::text::segment::Segmenter;

/// The jobs in dependency order. topics and tags (issue 7) and the report (issue 8)
/// join this list when they exist.
const JOBS: [&str; 3] = ["segment", "qa", "sla"];

fn dates(args: &RunArgs) -> Result<Vec<NaiveDate>> {
    let (from, to) = match (args.date, args.from, args.to) {
        (Some(date), None, None) => (date, date),
        (None, Some(from), Some(to)) if from <= to => (from, to),
        (None, Some(from), Some(to)) => {
            return Err(UsageError::Invalid(format!("--from {from} is after --to {to}")).into())
        }
        _ => {
            return Err(UsageError::Invalid(
                "say which days to run: --date YYYY-MM-DD, or --from and --to".into(),
            )
            .into())
        }
    };
    Ok(from.iter_days().take_while(|day| *day <= to).collect())
}

fn selected_jobs(args: &RunArgs) -> Result<Vec<&'static str>> {
    if args.jobs.is_empty() {
        return Ok(JOBS.to_vec());
    }
    for job in &args.jobs {
        if !JOBS.contains(&job.as_str()) {
            return Err(UsageError::Invalid(format!(
                "unknown job `{job}`; the jobs are {}",
                JOBS.join(", ")
            ))
            .into());
        }
    }
    Ok(JOBS
        .into_iter()
        .filter(|job| args.jobs.iter().any(|asked| asked == job))
        .collect())
}

fn parse_as_of(text: &str) -> Result<i64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|at| at.timestamp_millis())
        .map_err(|err| {
            UsageError::Invalid(format!(
                "--as-of {text}: {err}; give an RFC 3339 instant such as 2026-10-31T23:59:59+08:00"
            ))
            .into()
        })
}

pub fn run(context: &Context, args: &RunArgs) -> Result<()> {
    if args.out.is_some() {
        return Err(UsageError::NotYetAvailable("run --out (the report)".into()).into());
    }
    // Everything a job reads is checked before any job starts.
    let dates = dates(args)?;
    let jobs = selected_jobs(args)?;
    let as_of = args.as_of.as_deref().map(parse_as_of).transpose()?;
    let config = PipelineConfig::load(&args.pipeline)?;
    let segmenter = if jobs.contains(&"segment") {
        Some(Segmenter::load(
            &config.segment.userdict,
            &config.segment.stopwords,
        )?)
    } else {
        None
    };
    let (rules, reviews) = if jobs.contains(&"qa") {
        (
            Some(Rules::load(&config.qa.rules)?),
            Some(Reviews::load(&config.qa.reviews)?),
        )
    } else {
        (None, None)
    };
    let dataset = Dataset::open(&context.data)?;
    config.sla.rules(dataset.zone())?;
    let lock = dataset.lock("run", LOCK_WAIT)?;

    let (first, last) = (dates[0], dates[dates.len() - 1]);
    eprintln!(
        "kefu run: {} from {first} to {last} ({} days), jobs {}",
        args.pipeline.display(),
        dates.len(),
        jobs.join(", ")
    );
    let mut timings = Vec::new();
    for job in jobs {
        let started = Instant::now();
        let bar = progress(context.progress, job, dates.len());
        let summary = match job {
            "segment" => {
                let segmenter = segmenter.as_ref().expect("loaded above");
                let mut total = segment::SegmentSummary::default();
                for day in &dates {
                    let done = segment::run(&dataset, &lock, *day, segmenter)
                        .with_context(|| format!("job segment, {day}"))?;
                    total.messages += done.messages;
                    total.tokens += done.tokens;
                    bar.inc(1);
                }
                format!("{} messages, {} words", total.messages, total.tokens)
            }
            "qa" => {
                let (rules, reviews) = (
                    rules.as_ref().expect("loaded"),
                    reviews.as_ref().expect("loaded"),
                );
                let (mut replies, mut flags) = (0, 0);
                for day in &dates {
                    let done = qa::run(&dataset, &lock, *day, rules, reviews)
                        .with_context(|| format!("job qa, {day}"))?;
                    replies += done.replies;
                    flags += done.flags;
                    bar.inc(1);
                }
                format!("{replies} replies, {flags} flags (rules {})", rules.version)
            }
            "sla" => {
                let done = sla::run_range(&dataset, &lock, first, last, &config.sla, as_of)
                    .with_context(|| format!("job sla, {first} to {last}"))?;
                bar.inc(dates.len() as u64);
                format!(
                    "{} sessions, {} turns, {} breaches, {} censored",
                    done.sessions, done.turns, done.breaches, done.censored
                )
            }
            _ => unreachable!("selected_jobs only returns known jobs"),
        };
        bar.finish_and_clear();
        let seconds = started.elapsed().as_secs_f64();
        eprintln!("  {job:<8} {seconds:>6.1}s  {summary}");
        timings.push((job, seconds));
    }
    let total: f64 = timings.iter().map(|(_, s)| s).sum();
    eprintln!("kefu run: done in {total:.1}s");
    Ok(())
}

/// A bar on a terminal; nothing under cron, where the per-job lines are the log.
fn progress(show: bool, job: &str, days: usize) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(days as u64);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>8} [{bar:30}] {pos}/{len} days")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(job.to_owned());
    bar
}
