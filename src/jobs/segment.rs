//! The segment job: every text message of a day cut into words (`tokens` table) for
//! the topics and tags jobs. QA matches phrases on the normalised text instead, since
//! jieba splits some of the phrases it looks for (STYLE.md).

use anyhow::Result;
use chrono::NaiveDate;
use rayon::prelude::*;

use crate::model::Role;
use crate::store::schema::{tokens_schema, tokens_to_batch};
use crate::store::{Dataset, WriteLock};
use crate::text::segment::{Segmenter, Words};

/// What one day's run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SegmentSummary {
    pub messages: u64,
    pub chars: u64,
    pub tokens: u64,
}

/// The pure core: (event_id, text) rows to (event_id, words), in parallel over chunks
/// big enough that rayon's overhead stays small next to jieba's work.
pub fn segment_texts<'a>(
    segmenter: &Segmenter,
    texts: &'a [(String, String)],
) -> Vec<(&'a str, Words)> {
    texts
        .par_iter()
        .with_min_len(256)
        .map(|(event_id, text)| (event_id.as_str(), segmenter.words(text)))
        .collect()
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
    let batch = tokens_to_batch(rows.iter().map(|(id, words)| (*id, words.iter())))?;
    dataset.replace_partition(lock, "tokens", date, tokens_schema(), &[batch])?;
    Ok(summary)
}
