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
use crate::jobs::tags::{self, TagRules};
use crate::jobs::topics::{self, Taxonomy};
use crate::jobs::{segment, sla};
use crate::outputs::report;
use crate::store::{Dataset, JobRecord, RunRecord, WriteLock};
use crate::text::segment::Segmenter;

/// The jobs in dependency order (topics reads what segment wrote). The report (issue 8)
/// joins this list when it exists.
const JOBS: [&str; 5] = ["segment", "qa", "sla", "topics", "tags"];

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
    // Everything a job reads is checked before any job starts.
    let dates = dates(args)?;
    let jobs = selected_jobs(args)?;
    let as_of = args.as_of.as_deref().map(parse_as_of).transpose()?;
    let config = PipelineConfig::load(&args.pipeline)?;
    let segmenter = if jobs.contains(&"segment") || jobs.contains(&"topics") {
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
    let taxonomy = jobs
        .contains(&"topics")
        .then(|| Taxonomy::load(&config.topics.taxonomy))
        .transpose()?;
    let tag_rules = jobs
        .contains(&"tags")
        .then(|| TagRules::load(&config.tags.rules))
        .transpose()?;
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
    let started_at = chrono::Utc::now();
    let mut done_jobs: Vec<JobRecord> = Vec::new();
    let loaded = Loaded {
        segmenter: segmenter.as_ref(),
        rules: rules.as_ref(),
        reviews: reviews.as_ref(),
        taxonomy: taxonomy.as_ref(),
        tag_rules: tag_rules.as_ref(),
        config: &config,
    };
    let mut outcome = Ok(());
    for job in jobs {
        let started = Instant::now();
        let bar = progress(context.progress, job, dates.len());
        let result = run_job(job, &dataset, &lock, &dates, &loaded, as_of, &bar);
        bar.finish_and_clear();
        match result {
            Ok(summary) => {
                let seconds = started.elapsed().as_secs_f64();
                eprintln!("  {job:<8} {seconds:>6.1}s  {summary}");
                done_jobs.push(JobRecord {
                    job: job.to_owned(),
                    seconds,
                    summary,
                });
            }
            Err(err) => {
                outcome = Err(err);
                break;
            }
        }
    }
    // The run is logged whether it worked or not: a failed night must show.
    dataset.record_run(&RunRecord {
        started: started_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        finished: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        pipeline: args.pipeline.display().to_string(),
        from: first.to_string(),
        to: last.to_string(),
        jobs: done_jobs.clone(),
        outcome: match &outcome {
            Ok(()) => "ok".to_owned(),
            Err(err) => format!("failed: {err:#}"),
        },
    })?;
    outcome?;
    let total: f64 = done_jobs.iter().map(|job| job.seconds).sum();
    eprintln!("kefu run: jobs done in {total:.1}s");

    if let Some(days) = config.privacy.forget_unsubscribed_after_days {
        let mut gone = super::forget::long_unsubscribed(&dataset, days)?;
        // Users whose callbacks still wait in the collector's log wait for tomorrow.
        if dataset.wal_mentions(&gone)? > 0 {
            gone.retain(|openid| {
                dataset
                    .wal_mentions(&std::iter::once(openid.clone()).collect())
                    .is_ok_and(|pending| pending == 0)
            });
        }
        if !gone.is_empty() {
            let reason = format!("unsubscribed more than {days} days ago");
            let (summary, _, audit) =
                super::forget::erase(context, &dataset, &lock, &gone, &reason)?;
            eprintln!(
                "kefu run: erased {} user(s) {reason} ({} partition(s) rewritten; {})",
                gone.len(),
                summary.partitions_rewritten,
                audit.display()
            );
        }
    }

    // The report for each day, from what the jobs just wrote; the edited queries in
    // the repository's sql/ folder (beside the pipeline's folder) when it has them.
    let started = Instant::now();
    let out_root = args.out.clone().unwrap_or_else(|| context.reports_dir());
    let sql_dir = PipelineConfig::sql_dir(&args.pipeline);
    let session = crate::sql::SqlSession::open(&dataset)?;
    for day in &dates {
        let written = report::write_report_with(
            &dataset,
            &session,
            *day,
            &out_root,
            Some(&sql_dir),
            &config.sla,
        )
        .with_context(|| format!("writing the report for {day}"))?;
        println!("{}", written.join("index.html").display());
    }
    eprintln!(
        "kefu run: {} report(s) in {:.1}s under {}",
        dates.len(),
        started.elapsed().as_secs_f64(),
        out_root.display()
    );
    Ok(())
}

/// What the jobs read, loaded and checked before the first one starts.
struct Loaded<'a> {
    segmenter: Option<&'a Segmenter>,
    rules: Option<&'a Rules>,
    reviews: Option<&'a Reviews>,
    taxonomy: Option<&'a Taxonomy>,
    tag_rules: Option<&'a TagRules>,
    config: &'a PipelineConfig,
}

/// Runs one job over the dates and returns its one-line summary.
fn run_job(
    job: &str,
    dataset: &Dataset,
    lock: &WriteLock,
    dates: &[NaiveDate],
    loaded: &Loaded,
    as_of: Option<i64>,
    bar: &ProgressBar,
) -> Result<String> {
    let (first, last) = (dates[0], dates[dates.len() - 1]);
    Ok(match job {
        "segment" => {
            let segmenter = loaded.segmenter.expect("loaded for segment");
            let (mut messages, mut words) = (0, 0);
            for day in dates {
                let done = segment::run(dataset, lock, *day, segmenter)
                    .with_context(|| format!("job segment, {day}"))?;
                messages += done.messages;
                words += done.tokens;
                bar.inc(1);
            }
            format!("{messages} messages, {words} words")
        }
        "qa" => {
            let rules = loaded.rules.expect("loaded for qa");
            let reviews = loaded.reviews.expect("loaded for qa");
            let (mut replies, mut flags) = (0, 0);
            for day in dates {
                let done = qa::run(dataset, lock, *day, rules, reviews)
                    .with_context(|| format!("job qa, {day}"))?;
                replies += done.replies;
                flags += done.flags;
                bar.inc(1);
            }
            format!("{replies} replies, {flags} flags (rules {})", rules.version)
        }
        "sla" => {
            let done = sla::run_range(dataset, lock, first, last, &loaded.config.sla, as_of)
                .with_context(|| format!("job sla, {first} to {last}"))?;
            bar.inc(dates.len() as u64);
            format!(
                "{} sessions, {} turns, {} breaches, {} censored",
                done.sessions, done.turns, done.breaches, done.censored
            )
        }
        "topics" => {
            let segmenter = loaded.segmenter.expect("loaded for topics");
            let taxonomy = loaded.taxonomy.expect("loaded for topics");
            let done = topics::run_range(
                dataset,
                lock,
                first,
                last,
                segmenter,
                taxonomy,
                &loaded.config.topics,
            )
            .with_context(|| format!("job topics, {first} to {last}"))?;
            bar.inc(dates.len() as u64);
            format!(
                "{} user messages, {} term rows ({} rising), {} question groups",
                done.messages, done.term_rows, done.rising, done.questions
            )
        }
        "tags" => {
            let rules = loaded.tag_rules.expect("loaded for tags");
            let done = tags::run_range(
                dataset,
                lock,
                first,
                last,
                rules,
                loaded.config.tags.lookback_days,
            )
            .with_context(|| format!("job tags, {first} to {last}"))?;
            bar.inc(dates.len() as u64);
            format!(
                "{} tags held by {} users on {last}, {} opted out (rules {})",
                done.assignments, done.users_tagged, done.opted_out, rules.version
            )
        }
        _ => unreachable!("selected_jobs only returns known jobs"),
    })
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
