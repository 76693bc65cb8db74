//! `kefu bench --audience`: the topics and tags jobs over a generated dataset (1 M
//! events by default), each timed over every day of it, with the segment job they
//! follow timed too for scale.

use std::time::Instant;

use anyhow::Result;

use super::{Context, LOCK_WAIT};
use crate::cli::BenchArgs;
use crate::config::PipelineConfig;
use crate::jobs::tags::TagRules;
use crate::jobs::topics::Taxonomy;
use crate::jobs::{segment, tags, topics};
use crate::text::segment::Segmenter;

pub fn run(context: &Context, args: &BenchArgs) -> Result<()> {
    let generated = super::bench::generated_dataset(context, args, "--audience")?;
    let dataset = &generated.dataset;
    let lock = dataset.lock("bench", LOCK_WAIT)?;
    let events = generated.summary.store.written;
    let days = dataset.partitions("events")?;
    let (Some(&first), Some(&last)) = (days.first(), days.last()) else {
        anyhow::bail!("the generated dataset holds no events");
    };
    let pipeline = PipelineConfig::built_in();
    let segmenter = Segmenter::built_in()?;
    let taxonomy = Taxonomy::built_in();
    let rules = TagRules::built_in();

    let started = Instant::now();
    let mut messages = 0;
    for day in &days {
        messages += segment::run(dataset, &lock, *day, &segmenter)?.messages;
    }
    let segment_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let topics = topics::run_range(
        dataset,
        &lock,
        first,
        last,
        &segmenter,
        &taxonomy,
        &pipeline.topics,
    )?;
    let topics_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let tagged = tags::run_range(
        dataset,
        &lock,
        first,
        last,
        &rules,
        pipeline.tags.lookback_days,
    )?;
    let tags_s = started.elapsed().as_secs_f64();

    let rate = |seconds: f64| events as f64 / seconds.max(1e-9) / 1e6;
    println!(
        "{events} events over {} days, {} threads",
        days.len(),
        rayon::current_num_threads()
    );
    println!(
        "segment  {segment_s:>6.2} s  {:>5.2} M events/s  ({messages} text messages; for scale)",
        rate(segment_s)
    );
    println!(
        "topics   {topics_s:>6.2} s  {:>5.2} M events/s  ({} user messages, {} term rows, {} rising, {} question groups)",
        rate(topics_s),
        topics.messages,
        topics.term_rows,
        topics.rising,
        topics.questions
    );
    println!(
        "tags     {tags_s:>6.2} s  {:>5.2} M events/s  ({} messages read, a snapshot for each of {} days; {} tags on the last)",
        rate(tags_s),
        tagged.messages,
        days.len(),
        tagged.assignments
    );
    Ok(())
}
