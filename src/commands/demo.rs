//! `kefu demo`: the README's first command. Generates a sample month into a fresh
//! folder, runs what kefu has, and shows where everything went.

use std::fs;
use std::path::Path;

use anyhow::{Context as _, Result};

use super::{generate_into, Context, LOCK_WAIT};
use crate::cli::DemoArgs;
use crate::config::PipelineConfig;
use crate::error::UsageError;
use crate::gen::GenConfig;
use crate::gen::{ReplyTruth, UserTruth};
use crate::jobs::qa::{self, Reviews, Rules};
use crate::jobs::segment::{self, SegmentSummary};
use crate::jobs::sla;
use crate::jobs::tags::{self, TagRules};
use crate::jobs::topics::{self, Taxonomy};
use crate::model::QaFlag;
use crate::outputs::mask::masked_span;
use crate::outputs::report;
use crate::sql::{OutputFormat, SqlSession};
use crate::store::schema::{batch_to_qa_flags, batch_to_tags};
use crate::store::Dataset;
use crate::text::segment::Segmenter;

/// Marks a folder as made by `kefu demo`, so a rerun may replace it and nothing else.
const MARKER: &str = ".kefu-demo";

fn prepare_fresh(out: &Path) -> Result<()> {
    if out.exists() {
        let is_empty = fs::read_dir(out)
            .with_context(|| format!("listing {}", out.display()))?
            .next()
            .is_none();
        if !is_empty {
            if !out.join(MARKER).exists() {
                return Err(UsageError::Invalid(format!(
                    "{} exists and was not made by kefu demo; choose another folder with --out",
                    out.display()
                ))
                .into());
            }
            fs::remove_dir_all(out)
                .with_context(|| format!("removing the earlier demo in {}", out.display()))?;
        }
    }
    fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    fs::write(out.join(MARKER), "made by `kefu demo`; safe to delete\n")
        .with_context(|| format!("writing {}", out.join(MARKER).display()))
}

pub fn run(context: &Context, args: &DemoArgs) -> Result<()> {
    prepare_fresh(&args.out)?;
    let data = args.out.join("data");
    let dataset = Dataset::open_or_create(&data, None)?;
    let lock = dataset.lock("demo", LOCK_WAIT)?;
    let config = GenConfig {
        users: args.users,
        zone: dataset.zone(),
        ..GenConfig::default()
    };
    let summary = generate_into(&dataset, &lock, &config, context.progress)?;
    let segment_started = std::time::Instant::now();
    let segmenter = Segmenter::built_in()?;
    let mut segmented = SegmentSummary::default();
    for day in dataset.partitions("events")? {
        let day_summary = segment::run(&dataset, &lock, day, &segmenter)?;
        segmented.messages += day_summary.messages;
        segmented.chars += day_summary.chars;
        segmented.tokens += day_summary.tokens;
    }
    let segment_s = segment_started.elapsed().as_secs_f64();
    let qa_started = std::time::Instant::now();
    let rules = Rules::built_in();
    let mut qa_flags: Vec<QaFlag> = Vec::new();
    for day in dataset.partitions("events")? {
        qa::run(&dataset, &lock, day, &rules, &Reviews::default())?;
        for batch in dataset.read_partition("qa_flags", day)? {
            qa_flags.extend(batch_to_qa_flags(&batch)?);
        }
    }
    let qa_s = qa_started.elapsed().as_secs_f64();
    let sla_started = std::time::Instant::now();
    let sla_config = PipelineConfig::built_in().sla;
    let as_of = sla::latest_event_ms(&dataset)?;
    let days = dataset.partitions("events")?;
    let turns = match (days.first(), days.last()) {
        (Some(first), Some(last)) => {
            sla::run_range(&dataset, &lock, *first, *last, &sla_config, as_of)?.turns
        }
        _ => 0,
    };
    let sla_s = sla_started.elapsed().as_secs_f64();
    let audience_started = std::time::Instant::now();
    let pipeline = PipelineConfig::built_in();
    let tag_rules = TagRules::built_in();
    let mut tag_score = None;
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        topics::run_range(
            &dataset,
            &lock,
            *first,
            *last,
            &segmenter,
            &Taxonomy::built_in(),
            &pipeline.topics,
        )?;
        tags::run_range(
            &dataset,
            &lock,
            *first,
            *last,
            &tag_rules,
            pipeline.tags.lookback_days,
        )?;
        tag_score = Some(score_tags(&dataset, *last, &summary.truth.users)?);
    }
    let audience_s = audience_started.elapsed().as_secs_f64();
    // The report for the month's last whole day (events after it are only the tail
    // of late sessions and unsubscribes).
    let report_day = config.start + chrono::Duration::days(i64::from(config.days) - 1);
    let sql_dir = Path::new("sql");
    let report_dir = report::write_report(
        &dataset,
        report_day,
        &args.out.join("reports"),
        sql_dir.is_dir().then_some(sql_dir),
        &pipeline.sla,
    )?;
    drop(lock);

    println!(
        "kefu demo: {} users of 公众号 {} over {} days from {} ({} events, generated in {:.1}s, stored in {:.1}s)\n",
        config.users,
        config.account,
        config.days,
        config.start,
        summary.store.written,
        summary.generate_s,
        summary.write_s
    );
    let session = SqlSession::open(&dataset)?;
    let mut stdout = std::io::stdout().lock();
    println!("What the month holds, by who wrote it and what kind:");
    session.run(
        "SELECT role, kind, count(*) AS events, count(DISTINCT openid) AS users \
         FROM events GROUP BY ALL ORDER BY events DESC LIMIT 12",
        OutputFormat::Table,
        &mut stdout,
    )?;
    println!("\nCustomer messages by local hour (the night's backlog answered when agents start at 9, an evening peak):");
    let mut statement = session.connection().prepare(
        "SELECT hour(local_ts) AS hour, count(*) AS messages FROM events \
         WHERE role = 'user' GROUP BY 1 ORDER BY 1",
    )?;
    let hours: Vec<(i64, i64)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<std::result::Result<_, _>>()?;
    let peak = hours.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
    for (hour, messages) in &hours {
        let width = (*messages as f64 / peak as f64 * 50.0).round() as usize;
        println!("  {hour:02}:00 {:<50} {messages}", "█".repeat(width));
    }
    let planted_flags = summary
        .truth
        .replies
        .iter()
        .filter(|r| r.expected == "flag")
        .count();
    println!(
        "\nPlanted for the jobs to find: {} bad agent replies, {} hard negatives, {} users with traits, {} topic spikes ({}).",
        planted_flags,
        summary.truth.replies.len() - planted_flags,
        summary.truth.users.iter().filter(|u| !u.traits.is_empty()).count(),
        summary.truth.spikes.len(),
        summary
            .truth
            .spikes
            .iter()
            .map(|s| format!("{} {} ×{}", s.date, s.question, s.factor))
            .collect::<Vec<_>>()
            .join("; ")
    );
    println!(
        "\nSegmented {} text messages ({} characters) into {} words in {segment_s:.1}s. What customers wrote about most:",
        segmented.messages, segmented.chars, segmented.tokens
    );
    session.run(
        "SELECT word, count(*) AS mentions, count(DISTINCT e.openid) AS users \
         FROM (SELECT event_id, unnest(tokens) AS word FROM tokens) t JOIN events e USING (event_id) \
         WHERE e.role = 'user' GROUP BY word ORDER BY mentions DESC, word LIMIT 15",
        OutputFormat::Table,
        &mut stdout,
    )?;
    let planted = score_against_truth(&summary.truth.replies, &qa_flags);
    println!(
        "\nQA checked every agent reply in {qa_s:.1}s: {} flags. Of the {} planted bad replies it found {}; \
         of the {} hard negatives it flagged {}.",
        qa_flags.len(),
        planted.planted,
        planted.found,
        planted.hard_negatives,
        planted.false_alarms
    );
    print_flags_by_rule(&qa_flags);
    println!(
        "\nResponse times: {turns} turns cut into sessions in {sla_s:.1}s. Per agent over the month \
         (reply seconds from the customer's first message; on target = within 30 business minutes):"
    );
    session.run(
        "SELECT coalesce(agent, '(nobody)') AS agent, count(*) AS turns, \
         round(quantile_cont(reply_s, 0.5)) AS reply_p50_s, round(quantile_cont(reply_s, 0.9)) AS reply_p90_s, \
         round(avg(CASE WHEN business_reply_s <= 1800 THEN 1 ELSE 0 END) FILTER (WHERE NOT censored), 3) AS on_target, \
         count(*) FILTER (WHERE breach) AS window_breaches \
         FROM turns GROUP BY ALL ORDER BY turns DESC",
        OutputFormat::Table,
        &mut stdout,
    )?;
    println!(
        "\nTopics and tags in {audience_s:.1}s. Words and categories that rose against their previous week \
         (at least 10 messages, double the week's mean, a new high, and unlikely by chance):"
    );
    session.run(
        "SELECT dt, coalesce(term, '(all ' || category || ')') AS topic, category, count, \
         round(count / (trend + 1)) AS week_mean FROM topics WHERE rising ORDER BY dt, count DESC",
        OutputFormat::Table,
        &mut stdout,
    )?;
    println!("\nThe most asked questions on each spike day:");
    for spike in &summary.truth.spikes {
        session.run(
            &format!(
                "SELECT dt, example, count, users, category FROM top_questions \
                 WHERE dt = DATE '{}' ORDER BY count DESC LIMIT 3",
                spike.date
            ),
            OutputFormat::Table,
            &mut stdout,
        )?;
    }
    if let Some(score) = tag_score {
        println!(
            "\nTags on {}: {} held; against the planted traits {} right, {} wrong, {} missed \
             (precision {:.3}, recall {:.3}); denied traits tagged: {}; opted-out or unsubscribed users tagged: {}.",
            score.date,
            score.held,
            score.right,
            score.held - score.right,
            score.expected - score.right,
            score.right as f64 / score.held.max(1) as f64,
            score.right as f64 / score.expected.max(1) as f64,
            score.denied_tagged,
            score.excluded_tagged,
        );
        session.run(
            &format!(
                "SELECT tag, count(*) AS users FROM tags WHERE dt = DATE '{}' GROUP BY tag ORDER BY users DESC",
                score.date
            ),
            OutputFormat::Table,
            &mut stdout,
        )?;
        println!(
            "Export one for marketing:  cargo run -- --data {} export tag 敏感肌 --out 敏感肌.csv",
            data.display()
        );
    }
    println!("\nWritten:");
    println!("  events   {}", dataset.table_dir("events").display());
    println!("  tokens   {}", dataset.table_dir("tokens").display());
    println!("  qa_flags {}", dataset.table_dir("qa_flags").display());
    println!(
        "  sla      {} (and sessions, turns)",
        dataset.table_dir("sla_daily").display()
    );
    println!(
        "  topics   {} (and top_questions)",
        dataset.table_dir("topics").display()
    );
    println!("  tags     {}", dataset.table_dir("tags").display());
    println!("  truth    {}", dataset.root().join("truth").display());
    println!(
        "\nTry:  cargo run -- --data {} sql -e \"SELECT agent, count(*) FROM events WHERE role = 'agent' GROUP BY 1\"",
        data.display()
    );
    println!("      cargo run -- --data {} status", data.display());
    println!(
        "\nThe report for {report_day} (open it in a browser; summary.md, report.json, qa_flags.csv and tags/*.csv beside it):"
    );
    println!("{}", report_dir.join("index.html").display());
    Ok(())
}

/// How the QA rules did on the generator's planted replies.
pub struct PlantedScore {
    pub planted: usize,
    pub found: usize,
    pub hard_negatives: usize,
    pub false_alarms: usize,
}

pub fn score_against_truth(truth: &[ReplyTruth], flags: &[QaFlag]) -> PlantedScore {
    let flagged: std::collections::HashSet<&str> =
        flags.iter().map(|flag| flag.event_id.as_str()).collect();
    let (bad, clean): (Vec<&ReplyTruth>, Vec<&ReplyTruth>) =
        truth.iter().partition(|reply| reply.expected == "flag");
    PlantedScore {
        planted: bad.len(),
        found: bad
            .iter()
            .filter(|r| flagged.contains(r.event_id.as_str()))
            .count(),
        hard_negatives: clean.len(),
        false_alarms: clean
            .iter()
            .filter(|r| flagged.contains(r.event_id.as_str()))
            .count(),
    }
}

/// Flags per rule with one example each. Examples are masked: a privacy flag's match is
/// the very number that must not be shown.
fn print_flags_by_rule(flags: &[QaFlag]) {
    use std::collections::{BTreeMap, BTreeSet};
    // (category, rule) → (flags, agents, the first flag as the example)
    let mut by_rule: BTreeMap<(&str, &str), (usize, BTreeSet<&str>, &QaFlag)> = BTreeMap::new();
    for flag in flags {
        let entry = by_rule
            .entry((flag.category.as_str(), flag.rule_id.as_str()))
            .or_insert((0, Default::default(), flag));
        entry.0 += 1;
        entry.1.insert(flag.agent.as_deref().unwrap_or("(bot)"));
    }
    let mut rows: Vec<_> = by_rule.into_iter().collect();
    rows.sort_by(|a, b| b.1 .0.cmp(&a.1 .0).then(a.0.cmp(&b.0)));
    println!(
        "  {:<11} {:<24} {:>5} {:>6}  example",
        "category", "rule", "flags", "agents"
    );
    for ((category, rule), (count, agents, example)) in rows {
        println!(
            "  {category:<11} {rule:<24} {count:>5} {:>6}  {}",
            agents.len(),
            masked_span(
                &example.text,
                example.start_char as usize,
                example.end_char as usize
            )
        );
    }
}

/// How the tags job did against the generator's planted traits on the last day.
struct TagScore {
    date: chrono::NaiveDate,
    held: usize,
    expected: usize,
    right: usize,
    denied_tagged: usize,
    excluded_tagged: usize,
}

fn score_tags(dataset: &Dataset, date: chrono::NaiveDate, users: &[UserTruth]) -> Result<TagScore> {
    use std::collections::HashSet;
    let mut held = HashSet::new();
    for batch in dataset.read_partition("tags", date)? {
        for row in batch_to_tags(&batch)? {
            held.insert((row.openid, row.tag));
        }
    }
    let mut score = TagScore {
        date,
        held: held.len(),
        expected: 0,
        right: 0,
        denied_tagged: 0,
        excluded_tagged: 0,
    };
    for user in users {
        let holds = |tag: &String| held.contains(&(user.openid.clone(), tag.clone()));
        score.denied_tagged += user.denied.iter().filter(|tag| holds(tag)).count();
        if user.opted_out || user.unsubscribed {
            score.excluded_tagged += user.traits.iter().filter(|tag| holds(tag)).count();
            continue;
        }
        score.expected += user.traits.len();
        score.right += user.traits.iter().filter(|tag| holds(tag)).count();
    }
    Ok(score)
}
