//! The tags job: the tags each user holds on a date, as a snapshot. Evidence is found
//! once per message over the whole look-back; each date's snapshot then keeps what is
//! in force that day, so a tag that lapsed, or a user who opted out or unsubscribed,
//! drops out and the push removes it from WeChat.

use std::collections::HashMap;

use anyhow::{Context, Result};
use arrow::array::{Array, RecordBatch};
use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use rayon::prelude::*;
use serde::Deserialize;

use super::TagRules;
use crate::model::TagAssignment;
use crate::store::schema::{string_column, tags_schema, tags_to_batch, timestamp_column};
use crate::store::{Dataset, WriteLock};

const DAY_MS: i64 = 86_400_000;

/// `[tags]` of the pipeline file.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TagsSection {
    /// Default `rules/tags.toml`.
    pub rules: std::path::PathBuf,
    /// How far back evidence, opt-outs and unsubscribes are read. Default 730 days:
    /// a tag without `expires_days` holds as long as its evidence is inside this.
    pub lookback_days: u32,
}

impl Default for TagsSection {
    fn default() -> TagsSection {
        TagsSection {
            rules: std::path::PathBuf::from("rules/tags.toml"),
            lookback_days: 730,
        }
    }
}

/// A user message that earned a tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub tag: usize,
    pub event_id: String,
    pub ts_ms: i64,
}

/// What one user said and did that the snapshot needs, in time order.
#[derive(Debug, Default, Clone)]
pub struct UserHistory {
    pub evidence: Vec<Evidence>,
    /// The first message asking to stop marketing.
    pub opted_out_ms: Option<i64>,
    /// Subscribe (true) and unsubscribe (false) events.
    pub subscriptions: Vec<(i64, bool)>,
}

/// One message as the tags job sees it.
pub struct Message<'a> {
    pub openid: &'a str,
    pub event_id: &'a str,
    pub role: &'a str,
    pub event: Option<&'a str>,
    pub text: Option<&'a str>,
    pub ts_ms: i64,
}

/// The pure core, part one: each user's evidence, opt-out and subscription history.
pub fn histories<'a>(rules: &TagRules, messages: &[Message<'a>]) -> HashMap<&'a str, UserHistory> {
    let judged: Vec<(Vec<usize>, bool)> = messages
        .par_iter()
        .with_min_len(512)
        .map(|message| match (message.role, message.text) {
            ("user", Some(text)) if !text.trim().is_empty() => rules.read_message(text),
            _ => (Vec::new(), false),
        })
        .collect();
    let mut users: HashMap<&str, UserHistory> = HashMap::new();
    for (message, (earned, opts_out)) in messages.iter().zip(judged) {
        let subscription = match message.event {
            Some("subscribe") => Some(true),
            Some("unsubscribe") => Some(false),
            _ => None,
        };
        if earned.is_empty() && !opts_out && subscription.is_none() {
            continue;
        }
        let user = users.entry(message.openid).or_default();
        user.evidence.extend(earned.into_iter().map(|tag| Evidence {
            tag,
            event_id: message.event_id.to_owned(),
            ts_ms: message.ts_ms,
        }));
        if opts_out {
            user.opted_out_ms = Some(
                user.opted_out_ms
                    .map_or(message.ts_ms, |at| at.min(message.ts_ms)),
            );
        }
        if let Some(subscribed) = subscription {
            user.subscriptions.push((message.ts_ms, subscribed));
        }
    }
    for user in users.values_mut() {
        user.evidence
            .sort_by(|a, b| (a.ts_ms, &a.event_id).cmp(&(b.ts_ms, &b.event_id)));
        user.subscriptions.sort();
    }
    users
}

/// The pure core, part two: every assignment in force at `end_ms` (the end of the
/// snapshot's day), sorted by tag then openid.
pub fn snapshot(
    rules: &TagRules,
    users: &HashMap<&str, UserHistory>,
    end_ms: i64,
) -> Vec<TagAssignment> {
    let mut rows = Vec::new();
    for (openid, user) in users {
        if rules.listed_opt_out(openid) || user.opted_out_ms.is_some_and(|at| at < end_ms) {
            continue;
        }
        let unsubscribed = user
            .subscriptions
            .iter()
            .rev()
            .find(|(at, _)| *at < end_ms)
            .is_some_and(|(_, subscribed)| !subscribed);
        if unsubscribed {
            continue;
        }
        for (index, tag) in rules.tags.iter().enumerate() {
            let lapse_ms = tag.expires_days.map(|days| i64::from(days) * DAY_MS);
            let in_force: Vec<&Evidence> = user
                .evidence
                .iter()
                .filter(|e| e.tag == index && e.ts_ms < end_ms)
                .filter(|e| lapse_ms.is_none_or(|lapse| e.ts_ms + lapse > end_ms))
                .collect();
            if in_force.len() < tag.min_evidence as usize {
                continue;
            }
            let (first, last) = (in_force[0], in_force[in_force.len() - 1]);
            rows.push(TagAssignment {
                openid: (*openid).to_owned(),
                tag: tag.name.clone(),
                rule_id: tag.id.clone(),
                evidence_event_id: last.event_id.clone(),
                first_seen_ts_ms: first.ts_ms,
                last_seen_ts_ms: last.ts_ms,
                expires_ts_ms: lapse_ms.map(|lapse| last.ts_ms + lapse),
            });
        }
    }
    rows.sort_by(|a, b| (&a.tag, &a.openid).cmp(&(&b.tag, &b.openid)));
    rows
}

/// The first millisecond after `date` ends in the dataset's zone.
pub fn end_of_day_ms(date: NaiveDate, zone: Tz) -> i64 {
    let next = (date + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists");
    next.and_local_timezone(zone)
        .earliest()
        .expect("a local midnight maps to an instant")
        .timestamp_millis()
}

/// What a run over a range did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TagsSummary {
    pub messages: u64,
    /// Assignments in the last day's snapshot.
    pub assignments: u64,
    pub users_tagged: u64,
    pub opted_out: u64,
}

const COLUMNS: [&str; 7] = ["event_id", "openid", "role", "event", "text", "ts", "kind"];

fn messages_of(batch: &RecordBatch) -> Result<Vec<Message<'_>>> {
    let (event_id, openid, role, event, text) = (
        string_column(batch, "event_id")?,
        string_column(batch, "openid")?,
        string_column(batch, "role")?,
        string_column(batch, "event")?,
        string_column(batch, "text")?,
    );
    let ts = timestamp_column(batch, "ts")?;
    Ok((0..batch.num_rows())
        .map(|row| Message {
            openid: openid.value(row),
            event_id: event_id.value(row),
            role: role.value(row),
            event: event.is_valid(row).then(|| event.value(row)),
            text: text.is_valid(row).then(|| text.value(row)),
            ts_ms: ts.value(row),
        })
        .collect())
}

/// Writes the `tags` snapshot of every date in `from..=to`, reading events from
/// `lookback_days` before `from`.
pub fn run_range(
    dataset: &Dataset,
    lock: &WriteLock,
    from: NaiveDate,
    to: NaiveDate,
    rules: &TagRules,
    lookback_days: u32,
) -> Result<TagsSummary> {
    let zone = dataset.zone();
    let batches = dataset
        .read_events_with(
            from - Duration::days(i64::from(lookback_days)),
            to,
            &COLUMNS,
        )
        .context("reading events for the tags job")?;
    let mut messages = Vec::new();
    for batch in &batches {
        messages.extend(messages_of(batch)?);
    }
    let users = histories(rules, &messages);
    let mut summary = TagsSummary {
        messages: messages.len() as u64,
        ..TagsSummary::default()
    };
    let days: Vec<NaiveDate> = from.iter_days().take_while(|day| *day <= to).collect();
    let snapshots: Vec<(NaiveDate, Vec<TagAssignment>)> = days
        .par_iter()
        .map(|day| (*day, snapshot(rules, &users, end_of_day_ms(*day, zone))))
        .collect();
    for (day, rows) in &snapshots {
        let batch = tags_to_batch(rows)?;
        dataset.replace_partition(lock, "tags", *day, tags_schema(), &[batch])?;
    }
    if let Some((day, rows)) = snapshots.last() {
        summary.assignments = rows.len() as u64;
        let mut tagged: Vec<&str> = rows.iter().map(|row| row.openid.as_str()).collect();
        tagged.sort_unstable();
        tagged.dedup();
        summary.users_tagged = tagged.len() as u64;
        let end = end_of_day_ms(*day, zone);
        summary.opted_out = users
            .values()
            .filter(|user| user.opted_out_ms.is_some_and(|at| at < end))
            .count() as u64;
    }
    Ok(summary)
}
