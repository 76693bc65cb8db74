//! The segment job: every text message of a day cut into words (`tokens` table) for
//! the topics and tags jobs. QA matches phrases on the normalised text instead, since
//! jieba splits some of the phrases it looks for (STYLE.md).

use std::sync::{Mutex, PoisonError};

use anyhow::Result;
use chrono::NaiveDate;
use rayon::prelude::*;

use super::distinct::{self, Distinct};
use crate::model::Role;
use crate::store::schema::{tokens_schema, tokens_to_batch};
use crate::store::{Dataset, WriteLock};
use crate::text::segment::{ClauseMemo, Segmenter, Words};

/// What one day's run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SegmentSummary {
    pub messages: u64,
    pub chars: u64,
    pub tokens: u64,
}

/// The words of each row of a day's text messages, cut once per distinct text.
pub struct Segmented<'a> {
    rows: &'a [(String, String)],
    words: Vec<Words>,
    words_of_row: Vec<u32>,
}

impl<'a> Segmented<'a> {
    /// Each row's event_id and words, in row order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &Words)> + '_ {
        self.rows
            .iter()
            .zip(&self.words_of_row)
            .map(|((event_id, _), &at)| (event_id.as_str(), &self.words[at as usize]))
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The share of rows whose text an earlier row already had.
    pub fn repeated_share(&self) -> f64 {
        distinct::repeated_share(self.rows.len(), self.words.len())
    }
}

/// The pure core: (event_id, text) rows to their words, in parallel over chunks big
/// enough that rayon's overhead stays small next to jieba's work. Each worker keeps
/// the clauses it has cut (`ClauseMemo`); it is the only one to lock its memo, so the
/// lock is never waited on.
pub fn segment_texts<'a>(segmenter: &Segmenter, texts: &'a [(String, String)]) -> Segmented<'a> {
    let distinct = Distinct::of(texts.iter().map(|(_, text)| text.as_str()));
    let memos: Vec<Mutex<ClauseMemo>> = (0..rayon::current_num_threads())
        .map(|_| Mutex::default())
        .collect();
    let words = distinct
        .keys
        .par_iter()
        .with_min_len(256)
        .map(|text| {
            let worker = rayon::current_thread_index().unwrap_or(0) % memos.len();
            let mut memo = memos[worker].lock().unwrap_or_else(PoisonError::into_inner);
            segmenter.words_remembering(text, &mut memo)
        })
        .collect();
    Segmented {
        rows: texts,
        words,
        words_of_row: distinct.key_of_row,
    }
}

/// Segments the text messages (users', agents' and the bot's) stored for `date` and
/// replaces that date's `tokens` partition. Rows are sorted by event_id, so a rerun
/// writes the same file.
pub fn run(
    dataset: &Dataset,
    lock: &WriteLock,
    date: NaiveDate,
    segmenter: &Segmenter,
) -> Result<SegmentSummary> {
    let mut texts: Vec<(String, String)> = dataset
        .read_event_rows(date, date)?
        .into_iter()
        .filter(|event| matches!(event.role, Role::User | Role::Agent | Role::Bot))
        .filter_map(|event| {
            let text = event.text.filter(|text| !text.trim().is_empty())?;
            Some((event.event_id, text))
        })
        .collect();
    texts.sort();
    let rows = segment_texts(segmenter, &texts);
    let summary = SegmentSummary {
        messages: rows.len() as u64,
        chars: texts
            .iter()
            .map(|(_, text)| text.chars().count() as u64)
            .sum(),
        tokens: rows.iter().map(|(_, words)| words.len() as u64).sum(),
    };
    let batch = tokens_to_batch(rows.iter().map(|(id, words)| (id, words.iter())))?;
    dataset.replace_partition(lock, "tokens", date, tokens_schema(), &[batch])?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_texts_are_cut_once_and_every_row_gets_the_words_of_its_own_text() {
        let segmenter = Segmenter::built_in().unwrap();
        let rows: Vec<(String, String)> = [
            ("e1", "在吗"),
            ("e2", "我是敏感肌，这款能用吗"),
            ("e3", "在吗"),
            ("e4", "支持七天无理由吗"),
            ("e5", "我是敏感肌，这款能用吗"),
        ]
        .into_iter()
        .map(|(id, text)| (id.to_owned(), text.to_owned()))
        .collect();
        let segmented = segment_texts(&segmenter, &rows);
        assert_eq!(segmented.len(), 5);
        for ((id, words), (row_id, text)) in segmented.iter().zip(&rows) {
            assert_eq!(id, row_id);
            assert_eq!(*words, segmenter.words(text), "{text}");
        }
        assert!((segmented.repeated_share() - 0.4).abs() < 1e-9);
    }
}
