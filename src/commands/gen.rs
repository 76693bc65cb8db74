//! `kefu gen`

use std::time::Instant;

use anyhow::Result;
use indicatif::ProgressBar;

use super::{Context, LOCK_WAIT};
use crate::cli::GenArgs;
use crate::error::UsageError;
use crate::gen::{generate, write_truth, GenConfig, Truth};
use crate::store::{AppendSummary, Dataset, EventWriter, WriteLock};

/// What generating into a dataset did.
pub struct GenSummary {
    pub events: u64,
    pub store: AppendSummary,
    pub truth: Truth,
    pub generate_s: f64,
    pub write_s: f64,
}

/// Generates, stores the events (deduplicated, so a rerun adds nothing), compacts the
/// partitions touched and writes the truth beside the data.
pub fn generate_into(
    dataset: &Dataset,
    lock: &WriteLock,
    config: &GenConfig,
    progress: bool,
) -> Result<GenSummary> {
    let spinner = if progress {
        let bar = ProgressBar::new_spinner();
        bar.set_message(format!(
            "generating {} users × {} days",
            config.users, config.days
        ));
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    } else {
        ProgressBar::hidden()
    };
    let started = Instant::now();
    let generated = generate(config);
    let generate_s = started.elapsed().as_secs_f64();
    let events = generated.events.len() as u64;
    spinner.set_message(format!("writing {events} events to Parquet"));
    let started = Instant::now();
    let store = EventWriter::new(dataset, lock).append(generated.events)?;
    dataset.compact_events(lock, store.partitions.iter().copied())?;
    let write_s = started.elapsed().as_secs_f64();
    write_truth(dataset.root(), config, &generated.truth)?;
    spinner.finish_and_clear();
    Ok(GenSummary {
        events,
        store,
        truth: generated.truth,
        generate_s,
        write_s,
    })
}

pub fn config_from_args(args: &GenArgs, dataset: &Dataset) -> Result<GenConfig> {
    if args.days == 0 || args.users == 0 {
        return Err(UsageError::Invalid("--days and --users must be at least 1".into()).into());
    }
    for (name, share) in [
        ("--bad-reply-share", args.bad_reply_share),
        ("--hard-negative-share", args.hard_negative_share),
    ] {
        if !(0.0..=1.0).contains(&share) {
            return Err(UsageError::Invalid(format!(
                "{name} must be between 0 and 1, not {share}"
            ))
            .into());
        }
    }
    Ok(GenConfig {
        start: args.start,
        days: args.days,
        users: args.users,
        seed: args.seed,
        bad_reply_share: args.bad_reply_share,
        hard_negative_share: args.hard_negative_share,
        zone: dataset.zone(),
        ..GenConfig::default()
    })
}

pub fn run(context: &Context, args: &GenArgs) -> Result<()> {
    let dataset = Dataset::open_or_create(&context.data, args.timezone.as_deref())?;
    let config = config_from_args(args, &dataset)?;
    let lock = dataset.lock("gen", LOCK_WAIT)?;
    let summary = generate_into(&dataset, &lock, &config, context.progress)?;
    println!(
        "generated {} events ({} users, {} days from {}, seed {}) in {:.1}s; stored {} new, {} already present, in {:.1}s",
        summary.events,
        config.users,
        config.days,
        config.start,
        config.seed,
        summary.generate_s,
        summary.store.written,
        summary.store.duplicates,
        summary.write_s,
    );
    println!(
        "truth: {} users ({} with traits), {} planted replies, {} spikes → {}",
        summary.truth.users.len(),
        summary
            .truth
            .users
            .iter()
            .filter(|u| !u.traits.is_empty())
            .count(),
        summary.truth.replies.len(),
        summary.truth.spikes.len(),
        dataset.root().join("truth").display()
    );
    Ok(())
}
