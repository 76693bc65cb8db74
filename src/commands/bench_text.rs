//! `kefu bench --text`: the text jobs' throughput against bare jieba-rs, measured in
//! one run on the same text so the ratio survives a noisy shared machine. Rounds
//! alternate baseline and job, and the median of each is reported.

use std::time::Instant;

use anyhow::Result;
use rayon::prelude::*;

use crate::cli::BenchArgs;
use crate::gen::generate;
use crate::jobs::qa::Rules;
use crate::jobs::segment::segment_texts;
use crate::model::Role;
use crate::text::normalize::{normalize, view_text};
use crate::text::segment::Segmenter;

fn median(mut seconds: Vec<f64>) -> f64 {
    seconds.sort_by(f64::total_cmp);
    seconds[seconds.len() / 2]
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let config = super::bench::config_for_events(args.events);
    let generated = generate(&config);
    let messages: Vec<(String, String, Role)> = generated
        .events
        .into_iter()
        .filter_map(|event| {
            let text = event.text.filter(|t| !t.trim().is_empty())?;
            matches!(event.role, Role::User | Role::Agent | Role::Bot).then_some((
                event.event_id,
                text,
                event.role,
            ))
        })
        .collect();
    let texts: Vec<(String, String)> = messages
        .iter()
        .map(|(id, text, _)| (id.clone(), text.clone()))
        .collect();
    let replies: Vec<(&str, Role)> = messages
        .iter()
        .filter(|(_, _, role)| *role != Role::User)
        .map(|(_, text, role)| (text.as_str(), *role))
        .collect();
    let chars: usize = texts.iter().map(|(_, t)| t.chars().count()).sum();
    let reply_chars: usize = replies.iter().map(|(t, _)| t.chars().count()).sum();
    let segmenter = Segmenter::built_in()?;
    let rules = Rules::built_in();
    eprintln!(
        "kefu bench --text: {} messages ({} M chars; {} agent/bot replies, {:.1} M chars) from {} users, {} threads, {} rounds",
        texts.len(),
        chars as f64 / 1e6,
        replies.len(),
        reply_chars as f64 / 1e6,
        config.users,
        rayon::current_num_threads(),
        args.rounds
    );

    let (mut bare, mut normalise, mut job, mut qa_only) = (vec![], vec![], vec![], vec![]);
    let mut flags = 0;
    for _ in 0..args.rounds.max(1) {
        let started = Instant::now();
        let tokens: usize = texts
            .par_iter()
            .with_min_len(256)
            .map(|(_, text)| segmenter.bare_cut(text))
            .sum();
        bare.push(started.elapsed().as_secs_f64());
        std::hint::black_box(tokens);

        let started = Instant::now();
        let viewed: usize = texts
            .par_iter()
            .with_min_len(256)
            .map(|(_, text)| normalize(text).source.len())
            .sum();
        normalise.push(started.elapsed().as_secs_f64());
        std::hint::black_box(viewed);

        // The nightly work on this text: the segment job over every message, then the
        // qa job over the replies (it normalises them itself).
        let started = Instant::now();
        let rows = segment_texts(&segmenter, &texts);
        let qa_started = Instant::now();
        flags = replies
            .par_iter()
            .with_min_len(64)
            .map(|(text, role)| rules.hits(text, *role).len())
            .sum::<usize>();
        qa_only.push(qa_started.elapsed().as_secs_f64());
        job.push(started.elapsed().as_secs_f64());
        std::hint::black_box(rows);
    }
    let checked = replies
        .par_iter()
        .filter(|(text, _)| rules.might_match(&view_text(text)))
        .count();
    let (bare, normalise, job, qa_only) = (
        median(bare),
        median(normalise),
        median(job),
        median(qa_only),
    );
    let rate = |chars: usize, seconds: f64| chars as f64 / seconds.max(1e-9) / 1e6;
    println!(
        "{:<46} {:>9} {:>12}",
        "phase (median round)", "seconds", "M chars/s"
    );
    for (name, seconds, counted) in [
        ("bare jieba-rs cut, all messages", bare, chars),
        ("normalise only, all messages", normalise, chars),
        (
            "segment job (normalise + cut + stopwords)",
            job - qa_only,
            chars,
        ),
        ("qa job on agent/bot replies", qa_only, reply_chars),
        ("normalise + segment + qa (the text jobs)", job, chars),
    ] {
        println!("{name:<46} {seconds:>9.2} {:>12.2}", rate(counted, seconds));
    }
    println!(
        "ratio: the text jobs run at {:.2}× bare jieba-rs cut on the same text (target ≥ 0.75); {flags} flags",
        bare / job
    );
    println!(
        "{checked} of {} replies ({:.1}%) passed the quick scan and got the full check",
        replies.len(),
        checked as f64 * 100.0 / replies.len().max(1) as f64
    );
    Ok(())
}
