//! `kefu bench --text`: the text jobs' throughput against bare jieba-rs, measured in
//! one run on the same text so the ratio survives a noisy shared machine. Rounds
//! alternate baseline and jobs, and the median of each is reported.
//!
//! The jobs run as the nightly run calls them, one day at a time through their pure
//! cores, so they do each day's repeated messages once (`jobs::distinct`) and the
//! segment job cuts each recurring clause once (`ClauseMemo`). How much that saves
//! depends on how repetitive the text is, so the same comparison is made a second time
//! on the distinct messages alone, where only the clauses still recur.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Result;
use chrono::NaiveDate;
use rayon::prelude::*;

use crate::cli::BenchArgs;
use crate::gen::generate;
use crate::jobs::distinct::{self, Distinct};
use crate::jobs::qa::{hits_of_replies, Rules};
use crate::jobs::segment::segment_texts;
use crate::model::Role;
use crate::text::normalize::view_text;
use crate::text::segment::Segmenter;

fn median(mut seconds: Vec<f64>) -> f64 {
    seconds.sort_by(f64::total_cmp);
    seconds[seconds.len() / 2]
}

/// One day's messages: (event_id, text) rows for the segment job, and the indexes of
/// the agent and bot replies among them for the qa job.
#[derive(Default)]
struct Day {
    texts: Vec<(String, String)>,
    roles: Vec<Role>,
}

impl Day {
    fn replies(&self) -> impl Iterator<Item = (&str, Role)> {
        self.texts
            .iter()
            .zip(&self.roles)
            .filter(|(_, role)| **role != Role::User)
            .map(|((_, text), role)| (text.as_str(), *role))
    }

    fn chars(&self) -> usize {
        self.texts.iter().map(|(_, t)| t.chars().count()).sum()
    }

    fn reply_chars(&self) -> usize {
        self.replies().map(|(t, _)| t.chars().count()).sum()
    }

    /// The rows whose text no earlier row of the day had.
    fn first_occurrences(&self) -> Day {
        let distinct = Distinct::of(self.texts.iter().map(|(_, text)| text.as_str()));
        let mut first = Day::default();
        for ((row, role), &at) in self.texts.iter().zip(&self.roles).zip(&distinct.key_of_row) {
            // Keys are numbered in order of first appearance.
            if at as usize == first.texts.len() {
                first.texts.push(row.clone());
                first.roles.push(*role);
            }
        }
        first
    }
}

/// Seconds of each phase in one round over `days`.
struct Round {
    bare: f64,
    view: f64,
    segment: f64,
    qa: f64,
    flags: usize,
}

fn round(days: &[Day], segmenter: &Segmenter, rules: &Rules) -> Round {
    let all = || days.iter().flat_map(|day| &day.texts);
    let texts: Vec<&str> = all().map(|(_, text)| text.as_str()).collect();
    let started = Instant::now();
    let tokens: usize = texts
        .par_iter()
        .with_min_len(256)
        .map(|text| segmenter.bare_cut(text))
        .sum();
    let bare = started.elapsed().as_secs_f64();
    std::hint::black_box(tokens);

    let started = Instant::now();
    let viewed: usize = texts
        .par_iter()
        .with_min_len(256)
        .map(|text| view_text(text).len())
        .sum();
    let view = started.elapsed().as_secs_f64();
    std::hint::black_box(viewed);

    // The nightly work: for each day, the segment job over every message, then the
    // qa job over the replies (each builds its own matching view).
    let (mut segment, mut qa, mut flags) = (0.0, 0.0, 0);
    for day in days {
        let started = Instant::now();
        let segmented = segment_texts(segmenter, &day.texts);
        segment += started.elapsed().as_secs_f64();
        std::hint::black_box(segmented.len());
        let started = Instant::now();
        let hits = hits_of_replies(rules, day.replies());
        qa += started.elapsed().as_secs_f64();
        flags += hits.iter().map(<[_]>::len).sum::<usize>();
    }
    Round {
        bare,
        view,
        segment,
        qa,
        flags,
    }
}

/// Runs the rounds and prints the table, with the text jobs' ratio to bare `cut`.
fn measure(title: &str, days: &[Day], segmenter: &Segmenter, rules: &Rules, rounds: usize) {
    let (mut bare, mut view, mut segment, mut qa, mut jobs) =
        (vec![], vec![], vec![], vec![], vec![]);
    let mut flags = 0;
    for _ in 0..rounds.max(1) {
        let round = round(days, segmenter, rules);
        bare.push(round.bare);
        view.push(round.view);
        segment.push(round.segment);
        qa.push(round.qa);
        jobs.push(round.segment + round.qa);
        flags = round.flags;
    }
    let (bare, view, segment, qa, jobs) = (
        median(bare),
        median(view),
        median(segment),
        median(qa),
        median(jobs),
    );
    let chars: usize = days.iter().map(Day::chars).sum();
    let reply_chars: usize = days.iter().map(Day::reply_chars).sum();
    let messages: usize = days.iter().map(|day| day.texts.len()).sum();
    let rate = |chars: usize, seconds: f64| chars as f64 / seconds.max(1e-9) / 1e6;
    println!(
        "\n{title}: {messages} messages, {:.1} M chars ({:.1} M in agent/bot replies)",
        chars as f64 / 1e6,
        reply_chars as f64 / 1e6
    );
    println!(
        "{:<46} {:>9} {:>12}",
        "phase (median round)", "seconds", "M chars/s"
    );
    for (name, seconds, counted) in [
        ("bare jieba-rs cut, all messages", bare, chars),
        ("matching view only, all messages", view, chars),
        ("segment job (view + cut + stopwords)", segment, chars),
        ("qa job on agent/bot replies", qa, reply_chars),
        ("normalise + segment + qa (the text jobs)", jobs, chars),
    ] {
        println!("{name:<46} {seconds:>9.2} {:>12.2}", rate(counted, seconds));
    }
    println!(
        "ratio: the text jobs run at {:.2}× bare jieba-rs cut on the same text (target ≥ 0.75); {flags} flags",
        bare / jobs
    );
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let config = super::bench::config_for_events(args.events);
    let generated = generate(&config);
    let mut by_day: BTreeMap<NaiveDate, Day> = BTreeMap::new();
    for event in generated.events {
        if !matches!(event.role, Role::User | Role::Agent | Role::Bot) {
            continue;
        }
        let date = event.local_date(config.zone);
        let Some(text) = event.text.filter(|t| !t.trim().is_empty()) else {
            continue;
        };
        let day = by_day.entry(date).or_default();
        day.texts.push((event.event_id, text));
        day.roles.push(event.role);
    }
    // As the segment job reads them: sorted by event_id.
    let mut days: Vec<Day> = by_day.into_values().collect();
    for day in &mut days {
        let mut rows: Vec<((String, String), Role)> =
            day.texts.drain(..).zip(day.roles.drain(..)).collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        (day.texts, day.roles) = rows.into_iter().unzip();
    }
    let segmenter = Segmenter::built_in()?;
    let rules = Rules::built_in();
    // Each day's first occurrence of every text: no message left to share, only the
    // clauses they have in common, and bare cut gets the same text.
    let distinct_days: Vec<Day> = days.iter().map(Day::first_occurrences).collect();
    let messages: usize = days.iter().map(|day| day.texts.len()).sum();
    let distinct_messages: usize = distinct_days.iter().map(|day| day.texts.len()).sum();
    eprintln!(
        "kefu bench --text: {} days of messages from {} users, {} threads, {} rounds; {:.1}% of messages repeat a message of the same day",
        days.len(),
        config.users,
        rayon::current_num_threads(),
        args.rounds,
        distinct::repeated_share(messages, distinct_messages) * 100.0
    );
    measure(
        "all messages, as the nightly run sees them",
        &days,
        &segmenter,
        &rules,
        args.rounds,
    );

    measure(
        "distinct messages only (no message repeats; clauses still do)",
        &distinct_days,
        &segmenter,
        &rules,
        args.rounds,
    );
    let checked = distinct_days
        .iter()
        .flat_map(Day::replies)
        .filter(|(text, _)| rules.might_match(&view_text(text)))
        .count();
    let replies = distinct_days.iter().flat_map(Day::replies).count();
    println!(
        "{checked} of {replies} distinct replies ({:.1}%) passed the quick scan and got the full check",
        checked as f64 * 100.0 / replies.max(1) as f64
    );
    Ok(())
}
