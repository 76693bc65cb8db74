//! The sla job's shell: read the events around a date, cut every conversation into
//! sessions and turns (in parallel), fold the day into `sla_daily`, and replace the
//! date's three partitions.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use arrow::array::{Array, RecordBatch, StringArray};
use chrono::{Duration, NaiveDate};
use chrono_tz::Tz;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde::Deserialize;

use super::calendar::{Calendar, CalendarConfig};
use super::daily::{daily, Targets};
use super::turns::{
    conversation, greeting_patterns, messages, speaker, Acknowledgements, Message, SlaRules,
};
use crate::model::{local_date, Event, Role, Session, Turn};
use crate::store::schema::{
    sessions_schema, sessions_to_batch, sla_daily_schema, sla_daily_to_batch, turns_schema,
    turns_to_batch,
};
use crate::store::schema::{string_column, timestamp_column};
use crate::store::{Dataset, WriteLock};

/// `[sla]` of the pipeline file.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SlaConfig {
    /// Minutes of silence after which a user message starts a new session, where no
    /// kf_create_session / kf_close_session bound it. Default 30.
    pub session_gap_min: u32,
    /// The automatic greeting the kf system sends as the agent when a session is
    /// accepted; `{agent_name}` stands for any name. Such a message is the bot's, so it
    /// never counts as a human first response. Default: none.
    pub greetings: Vec<String>,
    /// Words that make a short user message right after a human reply a closing
    /// acknowledgement (好的谢谢) rather than a new question; it opens no turn.
    /// Default: thanks and okay words.
    pub acknowledgement_words: Vec<String>,
    /// Words that make a message a question after all (谢谢，那积分会过期吗).
    pub question_words: Vec<String>,
    /// Longer messages are never acknowledgements. Default 20 characters.
    pub acknowledgement_max_chars: usize,
    pub targets: Targets,
    pub calendar: CalendarConfig,
}

impl Default for SlaConfig {
    fn default() -> SlaConfig {
        let words = |list: &[&str]| list.iter().map(|w| w.to_string()).collect();
        SlaConfig {
            session_gap_min: 30,
            greetings: Vec::new(),
            acknowledgement_words: words(&[
                "谢谢",
                "多谢",
                "感谢",
                "谢啦",
                "辛苦",
                "麻烦你了",
                "好的",
                "好嘞",
                "收到",
                "明白",
                "知道了",
                "了解",
                "ok",
                "嗯嗯",
                "行",
            ]),
            question_words: words(&[
                "?",
                "？",
                "吗",
                "么",
                "呢",
                "怎么",
                "什么",
                "多少",
                "几",
                "能不能",
                "可不可以",
                "是不是",
                "有没有",
                "哪",
                "为啥",
                "为什么",
                "还没",
            ]),
            acknowledgement_max_chars: 20,
            targets: Targets::default(),
            calendar: CalendarConfig::default(),
        }
    }
}

impl SlaConfig {
    pub fn rules(&self, zone: Tz) -> Result<SlaRules> {
        Ok(SlaRules {
            session_gap_ms: i64::from(self.session_gap_min) * 60_000,
            greetings: greeting_patterns(&self.greetings)
                .context("[sla] greetings: a template does not compile")?,
            calendar: Calendar::new(&self.calendar, zone).context("[sla.calendar]")?,
            acknowledgements: self.acknowledgements(),
        })
    }

    pub fn acknowledgements(&self) -> Acknowledgements {
        Acknowledgements {
            words: self
                .acknowledgement_words
                .iter()
                .map(|w| w.to_lowercase())
                .collect(),
            question_words: self.question_words.clone(),
            max_chars: self.acknowledgement_max_chars,
        }
    }
}

/// What a run over one or more days found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SlaSummary {
    pub sessions: u64,
    pub turns: u64,
    pub answered: u64,
    pub breaches: u64,
    pub censored: u64,
}

/// The pure core: conversations (openid → messages, in any order) cut into sessions
/// and turns in parallel, with the data end `as_of_ms`. Rows come back sorted by time.
pub fn cut_conversations(
    conversations: FxHashMap<&str, Vec<Message>>,
    rules: &SlaRules,
    as_of_ms: i64,
) -> (Vec<Session>, Vec<Turn>) {
    let conversations: Vec<(&str, Vec<Message>)> = conversations.into_iter().collect();
    let cut: Vec<(Vec<Session>, Vec<Turn>)> = conversations
        .into_par_iter()
        .with_min_len(64)
        .map(|(openid, mut messages)| {
            // Stable: messages of the same millisecond keep the store's order.
            messages.sort_by_key(|m| m.ts_ms);
            conversation(openid, &messages, rules, as_of_ms)
        })
        .collect();
    let mut sessions = Vec::new();
    let mut turns = Vec::new();
    for (conversation_sessions, conversation_turns) in cut {
        sessions.extend(conversation_sessions);
        turns.extend(conversation_turns);
    }
    sessions
        .sort_by(|a, b| (a.started_ts_ms, &a.session_id).cmp(&(b.started_ts_ms, &b.session_id)));
    turns.sort_by(|a, b| {
        (a.first_user_ts_ms, &a.session_id).cmp(&(b.first_user_ts_ms, &b.session_id))
    });
    (sessions, turns)
}

/// [`cut_conversations`] over event rows (tests, small inputs).
pub fn cut(events: &[Event], rules: &SlaRules, as_of_ms: i64) -> (Vec<Session>, Vec<Turn>) {
    let mut sorted: Vec<&Event> = events.iter().filter(|e| e.ts_ms <= as_of_ms).collect();
    sorted.sort_by(|a, b| (a.ts_ms, &a.event_id).cmp(&(b.ts_ms, &b.event_id)));
    let mut conversations: FxHashMap<&str, Vec<Message>> = FxHashMap::default();
    for (event, message) in sorted.iter().zip(messages(&sorted, rules)) {
        conversations
            .entry(&event.openid)
            .or_default()
            .push(message);
    }
    cut_conversations(conversations, rules, as_of_ms)
}

/// The messages of Arrow event batches, by openid, borrowing the batches' strings.
/// Batches are classified in parallel (the greeting and acknowledgement tests are most
/// of the work), then grouped by user in store order.
fn conversations_of_batches<'a>(
    batches: &'a [RecordBatch],
    rules: &SlaRules,
    as_of_ms: i64,
) -> Result<FxHashMap<&'a str, Vec<Message<'a>>>> {
    let classified: Vec<Vec<(&'a str, Message<'a>)>> = batches
        .par_iter()
        .map(|batch| messages_of_batch(batch, rules, as_of_ms))
        .collect::<Result<_>>()?;
    let mut conversations: FxHashMap<&str, Vec<Message>> = FxHashMap::default();
    for (openid, message) in classified.into_iter().flatten() {
        conversations.entry(openid).or_default().push(message);
    }
    Ok(conversations)
}

fn messages_of_batch<'a>(
    batch: &'a RecordBatch,
    rules: &SlaRules,
    as_of_ms: i64,
) -> Result<Vec<(&'a str, Message<'a>)>> {
    let text = |name: &str| string_column(batch, name);
    let (openid, role, agent) = (text("openid")?, text("role")?, text("agent")?);
    let (kind, event, body) = (text("kind")?, text("event")?, text("text")?);
    let ts = timestamp_column(batch, "ts")?;
    let optional =
        |column: &'a StringArray, row: usize| column.is_valid(row).then(|| column.value(row));
    let mut messages = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let ts_ms = ts.value(row);
        if ts_ms > as_of_ms {
            continue;
        }
        let role = Role::parse(role.value(row))
            .with_context(|| format!("unknown role {:?} in the store", role.value(row)))?;
        let message = Message {
            ts_ms,
            speaker: speaker(
                role,
                kind.value(row),
                optional(event, row),
                optional(body, row),
                rules,
            ),
            agent: optional(agent, row),
        };
        messages.push((openid.value(row), message));
    }
    Ok(messages)
}

/// The sessions and turns whose first user message falls on `date` (local). `events`
/// should reach a day before `date` (sessions started the evening before) and two
/// days after (late replies and the 48-hour window).
pub fn sessions_and_turns(
    events: &[Event],
    rules: &SlaRules,
    zone: Tz,
    date: NaiveDate,
    as_of_ms: i64,
) -> (Vec<Session>, Vec<Turn>) {
    let (sessions, turns) = cut(events, rules, as_of_ms);
    let on_date = |ts: i64| local_date(ts, zone) == date;
    (
        sessions
            .into_iter()
            .filter(|s| s.first_user_ts_ms.is_some_and(on_date))
            .collect(),
        turns
            .into_iter()
            .filter(|t| on_date(t.first_user_ts_ms))
            .collect(),
    )
}

/// The data end when none is given: the latest event stored, so a rerun on the same
/// data gives the same answer whatever the wall clock says.
pub fn latest_event_ms(dataset: &Dataset) -> Result<Option<i64>> {
    let Some(last) = dataset.partitions("events")?.last().copied() else {
        return Ok(None);
    };
    let mut latest = None;
    for batch in dataset.read_events_with(last, last, &["ts"])? {
        let ts = timestamp_column(&batch, "ts")?;
        latest = latest.max(ts.values().iter().copied().max());
    }
    Ok(latest)
}

/// The event columns the job reads; `extra` (often the biggest) is never decoded.
const SLA_COLUMNS: [&str; 7] = ["openid", "role", "agent", "kind", "event", "text", "ts"];

/// Days handled per read: the events of a window plus three days of margin are held
/// at once, which bounds memory (under 2 GB at 10 M events a month) while reading each
/// partition about 1.5 times.
const WINDOW_DAYS: i64 = 6;

/// Replaces the `sessions`, `turns` and `sla_daily` partitions of every date from
/// `from` to `to`, a window of days per read.
pub fn run_range(
    dataset: &Dataset,
    lock: &WriteLock,
    from: NaiveDate,
    to: NaiveDate,
    config: &SlaConfig,
    as_of_ms: Option<i64>,
) -> Result<SlaSummary> {
    let rules = config.rules(dataset.zone())?;
    let zone = dataset.zone();
    let as_of_ms = match as_of_ms {
        Some(at) => at,
        None => latest_event_ms(dataset)?.unwrap_or(i64::MAX),
    };
    let mut summary = SlaSummary::default();
    let mut start = from;
    while start <= to {
        let end = (start + Duration::days(WINDOW_DAYS - 1)).min(to);
        let batches = dataset.read_events_with(
            start - Duration::days(1),
            end + Duration::days(2),
            &SLA_COLUMNS,
        )?;
        let conversations = conversations_of_batches(&batches, &rules, as_of_ms)?;
        let (sessions, turns) = cut_conversations(conversations, &rules, as_of_ms);
        drop(batches);
        // Rows of the window's days, by day, moved rather than copied.
        let mut by_day: BTreeMap<NaiveDate, (Vec<Session>, Vec<Turn>)> = BTreeMap::new();
        for session in sessions {
            let Some(first) = session.first_user_ts_ms else {
                continue;
            };
            by_day
                .entry(local_date(first, zone))
                .or_default()
                .0
                .push(session);
        }
        for turn in turns {
            by_day
                .entry(local_date(turn.first_user_ts_ms, zone))
                .or_default()
                .1
                .push(turn);
        }
        // Every day of the window gets its partitions, empty or not; the days are
        // independent, so they are encoded and written in parallel.
        let days: Vec<(NaiveDate, Vec<Session>, Vec<Turn>)> = start
            .iter_days()
            .take_while(|day| *day <= end)
            .map(|day| {
                let (sessions, turns) = by_day.remove(&day).unwrap_or_default();
                (day, sessions, turns)
            })
            .collect();
        days.par_iter().try_for_each(|(day, sessions, turns)| {
            write_day(dataset, lock, *day, sessions, turns, config)
        })?;
        for (_, day_sessions, day_turns) in &days {
            summary.sessions += day_sessions.len() as u64;
            summary.turns += day_turns.len() as u64;
            summary.answered += day_turns.iter().filter(|t| t.reply_s.is_some()).count() as u64;
            summary.breaches += day_turns.iter().filter(|t| t.breach).count() as u64;
            summary.censored += day_turns.iter().filter(|t| t.censored).count() as u64;
        }
        start = end.succ_opt().expect("a date before 2100");
    }
    Ok(summary)
}

/// Replaces `date`'s `sessions`, `turns` and `sla_daily` partitions.
pub fn run(
    dataset: &Dataset,
    lock: &WriteLock,
    date: NaiveDate,
    config: &SlaConfig,
    as_of_ms: Option<i64>,
) -> Result<SlaSummary> {
    run_range(dataset, lock, date, date, config, as_of_ms)
}

fn write_day(
    dataset: &Dataset,
    lock: &WriteLock,
    date: NaiveDate,
    sessions: &[Session],
    turns: &[Turn],
    config: &SlaConfig,
) -> Result<()> {
    let figures = daily(turns, sessions, &config.targets)?;
    dataset.replace_partition(
        lock,
        "sessions",
        date,
        sessions_schema(),
        &[sessions_to_batch(sessions)?],
    )?;
    dataset.replace_partition(
        lock,
        "turns",
        date,
        turns_schema(),
        &[turns_to_batch(turns)?],
    )?;
    dataset.replace_partition(
        lock,
        "sla_daily",
        date,
        sla_daily_schema(),
        &[sla_daily_to_batch(&figures)?],
    )?;
    Ok(())
}
