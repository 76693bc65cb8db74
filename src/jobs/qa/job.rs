//! The qa job: every agent (and, where a rule asks, bot) reply of a day checked against
//! the rules, written to `qa_flags` with the user message it answered.

use std::collections::BTreeMap;

use anyhow::Result;
use chrono::NaiveDate;
use chrono_tz::Tz;
use rayon::prelude::*;

use super::matcher::Hit;
use super::reviews::Reviews;
use super::Rules;
use crate::jobs::distinct::{self, Distinct};
use crate::model::{Event, QaFlag, Role};
use crate::store::schema::{qa_flags_schema, qa_flags_to_batch};
use crate::store::{Dataset, WriteLock};

/// The most user messages quoted as a flag's context: a burst of ten nudges adds
/// nothing the last few do not say.
const CONTEXT_MESSAGES: usize = 3;

/// What one day's run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct QaSummary {
    pub replies: u64,
    pub chars: u64,
    pub flags: u64,
    /// Flags a reviewer already marked false positive (they stay in the table).
    pub false_positives: u64,
    pub by_category: BTreeMap<String, u64>,
}

/// A reply to check and the user turn it answered.
struct Reply<'a> {
    event: &'a Event,
    text: &'a str,
    context: Option<String>,
}

/// Pairs each reply with the user messages it answered: those since the previous
/// reply in the conversation, or, for a second reply in a row, the same ones again.
fn replies_with_context(events: &[Event]) -> Vec<Reply<'_>> {
    let mut by_user: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for event in events {
        by_user.entry(&event.openid).or_default().push(event);
    }
    let mut replies = Vec::new();
    for conversation in by_user.values_mut() {
        conversation.sort_by(|a, b| (a.ts_ms, &a.event_id).cmp(&(b.ts_ms, &b.event_id)));
        let mut pending: Vec<&str> = Vec::new();
        let mut answered: Option<String> = None;
        for event in conversation.iter() {
            let Some(text) = event.text.as_deref().filter(|t| !t.trim().is_empty()) else {
                continue;
            };
            match event.role {
                Role::User => pending.push(text),
                Role::Agent | Role::Bot => {
                    if !pending.is_empty() {
                        let recent = &pending[pending.len().saturating_sub(CONTEXT_MESSAGES)..];
                        answered = Some(recent.join("\n"));
                        pending.clear();
                    }
                    replies.push(Reply {
                        event,
                        text,
                        context: answered.clone(),
                    });
                }
                Role::System => {}
            }
        }
    }
    replies
}

/// The hits of a list of replies, checked once per distinct (text, role) and shared by
/// the rows that repeat it.
pub struct ReplyHits {
    hits: Vec<Vec<Hit>>,
    hits_of_row: Vec<u32>,
}

impl ReplyHits {
    /// Each row's hits, in row order.
    pub fn iter(&self) -> impl Iterator<Item = &[Hit]> + '_ {
        self.hits_of_row
            .iter()
            .map(|&at| self.hits[at as usize].as_slice())
    }

    /// The share of rows that repeat an earlier row's text and author.
    pub fn repeated_share(&self) -> f64 {
        distinct::repeated_share(self.hits_of_row.len(), self.hits.len())
    }
}

/// Checks the (text, role) replies in parallel, each distinct one once.
pub fn hits_of_replies<'t>(
    rules: &Rules,
    replies: impl IntoIterator<Item = (&'t str, Role)>,
) -> ReplyHits {
    let distinct = Distinct::of(replies);
    let hits = distinct
        .keys
        .par_iter()
        .with_min_len(64)
        .map(|(text, role)| rules.hits(text, *role))
        .collect();
    ReplyHits {
        hits,
        hits_of_row: distinct.key_of_row,
    }
}

/// The pure core: the flags for the replies among `events` whose local date is
/// `date` (earlier events only give context), sorted so a rerun writes the same rows.
pub fn flag_replies(
    rules: &Rules,
    reviews: &Reviews,
    events: &[Event],
    zone: Tz,
    date: NaiveDate,
) -> (Vec<QaFlag>, QaSummary) {
    let replies: Vec<Reply> = replies_with_context(events)
        .into_iter()
        .filter(|reply| reply.event.local_date(zone) == date)
        .collect();
    let hits = hits_of_replies(
        rules,
        replies.iter().map(|reply| (reply.text, reply.event.role)),
    );
    let mut flags: Vec<QaFlag> = replies
        .iter()
        .zip(hits.iter())
        .flat_map(|(reply, hits)| {
            hits.iter().cloned().map(move |hit| QaFlag {
                event_id: reply.event.event_id.clone(),
                ts_ms: reply.event.ts_ms,
                account: reply.event.account.clone(),
                openid: reply.event.openid.clone(),
                agent: reply.event.agent.clone(),
                verdict: reviews
                    .verdict(&reply.event.event_id, &hit.rule_id)
                    .map(str::to_owned),
                rule_id: hit.rule_id,
                category: hit.category.as_str().to_owned(),
                severity: hit.severity.as_str().to_owned(),
                matched: hit.matched,
                start_char: hit.start_char as u32,
                end_char: hit.end_char as u32,
                text: reply.text.to_owned(),
                context: reply.context.clone(),
                normalisation: Some(hit.normalisation).filter(|n| !n.is_empty()),
                rules_version: rules.version.clone(),
            })
        })
        .collect();
    flags.sort_by(|a, b| {
        (a.ts_ms, &a.event_id, a.start_char, &a.rule_id).cmp(&(
            b.ts_ms,
            &b.event_id,
            b.start_char,
            &b.rule_id,
        ))
    });
    let mut summary = QaSummary {
        replies: replies.len() as u64,
        chars: replies.iter().map(|r| r.text.chars().count() as u64).sum(),
        flags: flags.len() as u64,
        ..QaSummary::default()
    };
    for flag in &flags {
        *summary
            .by_category
            .entry(flag.category.clone())
            .or_default() += 1;
        if flag.verdict.as_deref() == Some(super::reviews::FALSE_POSITIVE) {
            summary.false_positives += 1;
        }
    }
    (flags, summary)
}

/// Checks the replies stored for `date` and replaces that date's `qa_flags` partition.
/// The day before is read too, so a reply just after midnight still gets the question
/// asked just before it.
pub fn run(
    dataset: &Dataset,
    lock: &WriteLock,
    date: NaiveDate,
    rules: &Rules,
    reviews: &Reviews,
) -> Result<QaSummary> {
    let events = dataset.read_event_rows(date.pred_opt().unwrap_or(date), date)?;
    let (flags, summary) = flag_replies(rules, reviews, &events, dataset.zone(), date);
    let batch = qa_flags_to_batch(&flags)?;
    dataset.replace_partition(lock, "qa_flags", date, qa_flags_schema(), &[batch])?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_reply_is_checked_once_per_author_and_every_row_gets_its_hits() {
        let rules = Rules::built_in();
        let promise = "亲，终身免费哦";
        let rows = [
            (promise, Role::Agent),
            // The shipped rules read agents only: the bot's same words are not flagged.
            (promise, Role::Bot),
            (promise, Role::Agent),
            ("好的，马上为您查询", Role::Agent),
        ];
        let hits = hits_of_replies(&rules, rows);
        let per_row: Vec<Vec<&str>> = hits
            .iter()
            .map(|hits| hits.iter().map(|hit| hit.rule_id.as_str()).collect())
            .collect();
        assert_eq!(
            per_row,
            [
                vec!["promise.lifetime"],
                vec![],
                vec!["promise.lifetime"],
                vec![]
            ]
        );
        for ((text, role), row_hits) in rows.iter().zip(hits.iter()) {
            assert_eq!(row_hits, rules.hits(text, *role), "{text} by {role}");
        }
        assert!((hits.repeated_share() - 0.25).abs() < 1e-9);
    }
}
