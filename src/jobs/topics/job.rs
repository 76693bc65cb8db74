//! The topics job: what customers asked about each day. Reads the user messages and
//! their words (the `tokens` table), counts terms and taxonomy categories, scores terms
//! with jieba's TF-IDF, tests each against the previous days for a rise, and groups
//! near-identical questions. Writes `topics` and `top_questions`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use arrow::array::Array;
use chrono::{Duration, NaiveDate};
use serde::Deserialize;

use super::questions::{top_questions, QuestionSettings};
use super::trend::{assess, TrendSettings};
use super::Taxonomy;
use crate::model::{TopQuestion, TopicRow};
use crate::store::schema::{
    string_column, tokens_of, top_questions_schema, top_questions_to_batch, topics_schema,
    topics_to_batch,
};
use crate::store::{Dataset, WriteLock};
use crate::text::normalize::view_text;
use crate::text::segment::Segmenter;

/// `[topics]` of the pipeline file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TopicsSection {
    /// Default `rules/topics.toml`.
    pub taxonomy: PathBuf,
    /// Term rows kept per day, the best scored first (rising terms are always kept).
    /// Default 200.
    pub keep_terms: usize,
    /// A term said in fewer messages than this on the day gets no row. Default 2.
    pub min_term_count: u32,
    /// Shorter terms get no row (single characters like 快, 但 say little alone); they
    /// still count toward categories. Default 2.
    pub min_term_chars: usize,
    pub trend: TrendSettings,
    pub questions: QuestionSettings,
}

impl Default for TopicsSection {
    fn default() -> TopicsSection {
        TopicsSection {
            taxonomy: PathBuf::from("rules/topics.toml"),
            keep_terms: 200,
            min_term_count: 2,
            min_term_chars: 2,
            trend: TrendSettings::default(),
            questions: QuestionSettings::default(),
        }
    }
}

/// One user text message and its words.
pub struct DayMessage<'a> {
    pub openid: &'a str,
    pub text: &'a str,
    pub words: Vec<&'a str>,
}

/// A day's counts: messages and distinct users per term and per category.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct DayCounts {
    pub terms: HashMap<String, (u32, u32)>,
    /// Indexed like the taxonomy's categories.
    pub categories: Vec<(u32, u32)>,
}

/// Counts a day's messages; a word said twice in one message counts once.
pub fn count_day(messages: &[DayMessage], taxonomy: &Taxonomy) -> DayCounts {
    let mut terms: HashMap<&str, (u32, HashSet<&str>)> = HashMap::new();
    let mut categories: Vec<(u32, HashSet<&str>)> =
        vec![(0, HashSet::new()); taxonomy.categories.len()];
    let mut category_of: HashMap<&str, Option<usize>> = HashMap::new();
    for message in messages {
        let mut words: Vec<&str> = message.words.clone();
        words.sort_unstable();
        words.dedup();
        let mut in_categories: Vec<usize> = Vec::new();
        for word in words {
            let entry = terms.entry(word).or_default();
            entry.0 += 1;
            entry.1.insert(message.openid);
            let category = *category_of
                .entry(word)
                .or_insert_with(|| taxonomy.category_of(word));
            if let Some(category) = category {
                if !in_categories.contains(&category) {
                    in_categories.push(category);
                }
            }
        }
        for category in in_categories {
            categories[category].0 += 1;
            categories[category].1.insert(message.openid);
        }
    }
    DayCounts {
        terms: terms
            .into_iter()
            .map(|(term, (count, users))| (term.to_owned(), (count, users.len() as u32)))
            .collect(),
        categories: categories
            .into_iter()
            .map(|(count, users)| (count, users.len() as u32))
            .collect(),
    }
}

/// The pure core: a day's `topics` rows from its counts, the previous days' counts
/// (those with data) and the day's TF-IDF keywords. Term rows first, best scored
/// first; then one row per category (`term` None), most messages first.
pub fn topic_rows(
    today: &DayCounts,
    baseline: &[&DayCounts],
    keywords: &[(String, f64)],
    taxonomy: &Taxonomy,
    section: &TopicsSection,
) -> Vec<TopicRow> {
    let score_of: HashMap<&str, f64> = keywords
        .iter()
        .map(|(word, weight)| (word.as_str(), *weight))
        .collect();
    let mut terms: Vec<(&str, u32, u32, Option<f64>)> = today
        .terms
        .iter()
        .filter(|(term, (count, _))| {
            *count >= section.min_term_count && term.chars().count() >= section.min_term_chars
        })
        .map(|(term, (count, users))| {
            (
                term.as_str(),
                *count,
                *users,
                score_of.get(term.as_str()).copied(),
            )
        })
        .collect();
    terms.sort_by(|a, b| {
        b.3.unwrap_or(-1.0)
            .total_cmp(&a.3.unwrap_or(-1.0))
            .then_with(|| b.1.cmp(&a.1))
            .then_with(|| a.0.cmp(b.0))
    });
    let mut rows = Vec::new();
    for (position, (term, count, users, score)) in terms.into_iter().enumerate() {
        let history: Vec<u32> = baseline
            .iter()
            .map(|day| day.terms.get(term).map_or(0, |(count, _)| *count))
            .collect();
        let trend = assess(count, &history, &section.trend);
        if position >= section.keep_terms && !trend.rising {
            continue;
        }
        rows.push(TopicRow {
            term: Some(term.to_owned()),
            category: taxonomy
                .category_of(term)
                .map(|c| taxonomy.categories[c].name.clone()),
            count,
            users,
            rank: position as u32 + 1,
            score,
            trend: trend.change,
            rising: trend.rising,
        });
    }
    let mut categories: Vec<(usize, u32, u32)> = today
        .categories
        .iter()
        .enumerate()
        .map(|(index, (count, users))| (index, *count, *users))
        .collect();
    categories.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (position, (index, count, users)) in categories.into_iter().enumerate() {
        let history: Vec<u32> = baseline
            .iter()
            .map(|day| day.categories.get(index).map_or(0, |(count, _)| *count))
            .collect();
        if count == 0 && history.iter().all(|previous| *previous == 0) {
            continue;
        }
        let trend = assess(count, &history, &section.trend);
        rows.push(TopicRow {
            term: None,
            category: Some(taxonomy.categories[index].name.clone()),
            count,
            users,
            rank: position as u32 + 1,
            score: None,
            trend: trend.change,
            rising: trend.rising,
        });
    }
    rows
}

/// What a run over a range did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TopicsSummary {
    pub messages: u64,
    pub term_rows: u64,
    pub rising: u64,
    pub questions: u64,
}

/// One stored user text message: openid, text, words.
type StoredMessage = (String, String, Vec<String>);

/// A day's user text messages with their words, or None when the segment job has not
/// written the day (then the day has no data, which is not the same as no messages).
fn load_day(dataset: &Dataset, day: NaiveDate) -> Result<Option<Vec<StoredMessage>>> {
    if !dataset.partition_dir("tokens", day).exists() {
        return Ok(None);
    }
    let mut words_of: HashMap<String, Vec<String>> = HashMap::new();
    for batch in dataset.read_partition("tokens", day)? {
        for (event_id, words) in tokens_of(&batch)? {
            words_of.insert(
                event_id.to_owned(),
                words.into_iter().map(str::to_owned).collect(),
            );
        }
    }
    let mut messages = Vec::new();
    for batch in dataset.read_events_with(day, day, &["event_id", "openid", "role", "text"])? {
        let (event_id, openid, role, text) = (
            string_column(&batch, "event_id")?,
            string_column(&batch, "openid")?,
            string_column(&batch, "role")?,
            string_column(&batch, "text")?,
        );
        for row in 0..batch.num_rows() {
            if role.value(row) != "user" || text.is_null(row) {
                continue;
            }
            // A text message the segment job skipped (blank) has no words entry.
            if let Some(words) = words_of.remove(event_id.value(row)) {
                messages.push((
                    openid.value(row).to_owned(),
                    text.value(row).to_owned(),
                    words,
                ));
            }
        }
    }
    messages.sort();
    Ok(Some(messages))
}

/// Writes `topics` and `top_questions` for every date in `from..=to`; the days before
/// `from` that the trend's baseline needs are read, not written.
pub fn run_range(
    dataset: &Dataset,
    lock: &WriteLock,
    from: NaiveDate,
    to: NaiveDate,
    segmenter: &Segmenter,
    taxonomy: &Taxonomy,
    section: &TopicsSection,
) -> Result<TopicsSummary> {
    let mut summary = TopicsSummary::default();
    let baseline_days = section.trend.baseline_days as usize;
    let mut window: VecDeque<Option<DayCounts>> = VecDeque::new();
    let first = from - Duration::days(i64::from(section.trend.baseline_days));
    for day in first.iter_days().take_while(|day| *day <= to) {
        let loaded = load_day(dataset, day).with_context(|| format!("reading {day}"))?;
        if day < from {
            let counts = loaded.map(|rows| count_day(&day_messages(&rows), taxonomy));
            window.push_back(counts);
            continue;
        }
        let rows = loaded.ok_or_else(|| {
            anyhow!("no tokens for {day}: run the segment job for it first (kefu run PIPELINE --date {day} --jobs segment,topics)")
        })?;
        let messages = day_messages(&rows);
        let counts = count_day(&messages, taxonomy);
        let document: Vec<String> = messages.iter().map(|m| view_text(m.text)).collect();
        let keywords = segmenter.keywords(&document.join("。"));
        let baseline: Vec<&DayCounts> = window.iter().flatten().collect();
        let topics = topic_rows(&counts, &baseline, &keywords, taxonomy, section);
        let questions: Vec<TopQuestion> = top_questions(
            messages.iter().map(|m| (m.openid, m.text)),
            taxonomy,
            &section.questions,
        );
        summary.messages += messages.len() as u64;
        summary.term_rows += topics.iter().filter(|row| row.term.is_some()).count() as u64;
        summary.rising += topics.iter().filter(|row| row.rising).count() as u64;
        summary.questions += questions.len() as u64;
        dataset.replace_partition(
            lock,
            "topics",
            day,
            topics_schema(),
            &[topics_to_batch(&topics)?],
        )?;
        dataset.replace_partition(
            lock,
            "top_questions",
            day,
            top_questions_schema(),
            &[top_questions_to_batch(&questions)?],
        )?;
        window.push_back(Some(counts));
        while window.len() > baseline_days {
            window.pop_front();
        }
    }
    Ok(summary)
}

fn day_messages(rows: &[StoredMessage]) -> Vec<DayMessage<'_>> {
    rows.iter()
        .map(|(openid, text, words)| DayMessage {
            openid,
            text,
            words: words.iter().map(String::as_str).collect(),
        })
        .collect()
}
