//! The event every source produces and every job reads: one row of the `events` table
//! (DESIGN.md, event schema v1), with the identity rule that makes imports idempotent.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Who wrote a message. Stored as its lowercase name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    User,
    /// A human customer-service agent (a kf account).
    Agent,
    /// An automatic reply: keyword replies, the kf greeting, after-hours notices.
    Bot,
    /// Events: subscribe, menu clicks, kf session changes.
    System,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::User, Role::Agent, Role::Bot, Role::System];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Agent => "agent",
            Role::Bot => "bot",
            Role::System => "system",
        }
    }

    pub fn parse(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == name)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an event came from. `import` covers every file given to `kefu import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Callback,
    Msgrecord,
    Import,
    Gen,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Callback => "callback",
            Source::Msgrecord => "msgrecord",
            Source::Import => "import",
            Source::Gen => "gen",
        }
    }

    pub fn parse(name: &str) -> Option<Source> {
        [
            Source::Callback,
            Source::Msgrecord,
            Source::Import,
            Source::Gen,
        ]
        .into_iter()
        .find(|source| source.as_str() == name)
    }
}

/// One message or event, as stored. Timestamps are epoch milliseconds in UTC, the unit
/// of the Parquet column, so no conversion happens between a source and the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub event_id: String,
    pub account: Option<String>,
    pub openid: String,
    pub role: Role,
    pub agent: Option<String>,
    /// text, image, voice, …, or the source's own type when kefu does not know it.
    pub kind: String,
    pub event: Option<String>,
    pub text: Option<String>,
    pub media_id: Option<String>,
    /// A JSON object with every field of the source that has no column of its own.
    pub extra: Option<String>,
    pub ts_ms: i64,
    pub received_ts_ms: Option<i64>,
    pub source: Source,
}

/// The separator of the content hash: a control character no source puts in a field.
const UNIT_SEPARATOR: char = '\u{1f}';

impl Event {
    /// The id of a WeChat message that carries a MsgId: retries and re-imports of the
    /// same message collapse onto it.
    pub fn message_id(msg_id: &str) -> String {
        format!("m:{msg_id}")
    }

    /// The content id of an event without MsgId: `h:` + the first 16 bytes of SHA-256
    /// over the identifying fields joined by U+001F, null as the empty string.
    #[allow(clippy::too_many_arguments)]
    pub fn content_id(
        account: Option<&str>,
        openid: &str,
        ts_ms: i64,
        role: Role,
        kind: &str,
        event: Option<&str>,
        text: Option<&str>,
    ) -> String {
        let mut hasher = Sha256::new();
        let ts = ts_ms.to_string();
        let fields = [
            account.unwrap_or(""),
            openid,
            &ts,
            role.as_str(),
            kind,
            event.unwrap_or(""),
            text.unwrap_or(""),
        ];
        let mut separator = [0u8; 4];
        let separator = UNIT_SEPARATOR.encode_utf8(&mut separator).as_bytes();
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                hasher.update(separator);
            }
            hasher.update(field.as_bytes());
        }
        let digest = hasher.finalize();
        format!("h:{}", hex::encode(&digest[..16]))
    }

    /// DESIGN.md's identity rule in one place: `m:<MsgId>` when the source gave one,
    /// else the content id.
    #[allow(clippy::too_many_arguments)]
    pub fn identity(
        msg_id: Option<&str>,
        account: Option<&str>,
        openid: &str,
        ts_ms: i64,
        role: Role,
        kind: &str,
        event: Option<&str>,
        text: Option<&str>,
    ) -> String {
        match msg_id {
            Some(id) => Event::message_id(id),
            None => Event::content_id(account, openid, ts_ms, role, kind, event, text),
        }
    }

    /// Computes the content id from this event's own fields.
    pub fn computed_content_id(&self) -> String {
        Event::content_id(
            self.account.as_deref(),
            &self.openid,
            self.ts_ms,
            self.role,
            &self.kind,
            self.event.as_deref(),
            self.text.as_deref(),
        )
    }

    pub fn ts(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.ts_ms).unwrap_or(DateTime::UNIX_EPOCH)
    }

    /// The local date that names this event's partition.
    pub fn local_date(&self, zone: Tz) -> NaiveDate {
        local_date(self.ts_ms, zone)
    }
}

/// The local calendar date of an instant in the dataset's zone.
pub fn local_date(ts_ms: i64, zone: Tz) -> NaiveDate {
    DateTime::from_timestamp_millis(ts_ms)
        .unwrap_or(DateTime::UNIX_EPOCH)
        .with_timezone(&zone)
        .date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_id_is_sha256_prefix_over_unit_separated_fields() {
        let id = Event::content_id(
            Some("gh_1"),
            "o1",
            1_700_000_000_000,
            Role::Agent,
            "text",
            None,
            Some("您好"),
        );
        let mut hasher = Sha256::new();
        hasher.update(
            "gh_1\u{1f}o1\u{1f}1700000000000\u{1f}agent\u{1f}text\u{1f}\u{1f}您好".as_bytes(),
        );
        let expected = format!("h:{}", hex::encode(&hasher.finalize()[..16]));
        assert_eq!(id, expected);
        assert_eq!(id.len(), 2 + 32);
    }

    #[test]
    fn content_id_distinguishes_null_fields_by_position() {
        let a = Event::content_id(None, "o1", 0, Role::User, "text", Some("x"), None);
        let b = Event::content_id(None, "o1", 0, Role::User, "text", None, Some("x"));
        assert_ne!(a, b);
    }

    #[test]
    fn local_date_follows_the_zone() {
        // 2026-03-01 17:30 UTC is already 2026-03-02 in Shanghai.
        let ts = DateTime::parse_from_rfc3339("2026-03-01T17:30:00Z")
            .unwrap()
            .timestamp_millis();
        assert_eq!(
            local_date(ts, chrono_tz::Asia::Shanghai),
            NaiveDate::from_ymd_opt(2026, 3, 2).unwrap()
        );
        assert_eq!(
            local_date(ts, chrono_tz::UTC),
            NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
        );
    }
}

/// One row of `qa_flags` (DESIGN.md): a rule's match in an agent reply, with what a QA
/// lead needs to judge it without opening the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QaFlag {
    pub event_id: String,
    pub ts_ms: i64,
    pub account: Option<String>,
    pub openid: String,
    pub agent: Option<String>,
    pub rule_id: String,
    pub category: String,
    pub severity: String,
    /// The span as the agent wrote it.
    pub matched: String,
    /// Unicode scalar offsets into `text`, end exclusive.
    pub start_char: u32,
    pub end_char: u32,
    pub text: String,
    /// The user message(s) the reply answered; None when the reply answered nothing.
    pub context: Option<String>,
    /// The folds the match needed ("inserted symbols removed, traditional folded"), or
    /// None when it matched as written.
    pub normalisation: Option<String>,
    pub rules_version: String,
    /// confirmed or false_positive, carried from the review file; None until reviewed.
    pub verdict: Option<String>,
}

/// Who ended a turn (`turns.answered_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnsweredBy {
    Agent,
    /// Only the bot replied (it keeps WeChat's window open, but answers nothing).
    Bot,
    None,
}

impl AnsweredBy {
    pub fn as_str(self) -> &'static str {
        match self {
            AnsweredBy::Agent => "agent",
            AnsweredBy::Bot => "bot",
            AnsweredBy::None => "none",
        }
    }
}

/// One row of `turns` (DESIGN.md): the user's message(s) and the human reply they got,
/// or did not. Every turn is a row; nothing is pre-averaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    pub session_id: String,
    pub openid: String,
    /// The agent who answered; None if nobody did.
    pub agent: Option<String>,
    pub answered_by: AnsweredBy,
    pub first_user_ts_ms: i64,
    pub last_user_ts_ms: i64,
    pub reply_ts_ms: Option<i64>,
    /// The local date of the reply, for workload by the day work was done (the row's
    /// `dt` is the day the customer asked).
    pub reply_dt: Option<chrono::NaiveDate>,
    /// Wall-clock seconds from the first user message to the human reply.
    pub reply_s: Option<i64>,
    /// The same span counted only inside the business calendar.
    pub business_reply_s: Option<i64>,
    /// No agent or bot reply within 48 h of the last user message.
    pub breach: bool,
    /// Unanswered, and its 48 h reach past the data end: neither breach nor on time yet.
    pub censored: bool,
}

/// One row of `sessions` (DESIGN.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub session_id: String,
    pub openid: String,
    /// The first agent who took the session.
    pub agent: Option<String>,
    /// Every agent who took part, in order (transfers add to it).
    pub agents: Vec<String>,
    pub started_ts_ms: i64,
    pub ended_ts_ms: i64,
    pub first_user_ts_ms: Option<i64>,
    pub first_response_ts_ms: Option<i64>,
    /// Customer-perceived: first user message → first human reply.
    pub first_response_s: Option<i64>,
    /// The same span counted only inside the business calendar.
    pub business_first_response_s: Option<i64>,
    /// Agent-attributable: kf_create_session accept → that agent's first reply.
    pub accept_response_s: Option<i64>,
    /// Human replies in the session.
    pub replies: u32,
    pub user_messages: u32,
    /// Turns nobody answered.
    pub unanswered: u32,
    /// Any of its turns breached the 48-hour window.
    pub window_breach: bool,
}

/// One row of `sla_daily` (DESIGN.md): a day's figures for one agent, or for everyone
/// when `agent` is None. Turns and sessions are bucketed by their first user message.
#[derive(Debug, Clone, PartialEq)]
pub struct SlaDaily {
    pub agent: Option<String>,
    pub sessions: u32,
    pub turns: u32,
    pub first_response_p50_s: Option<f64>,
    pub first_response_p90_s: Option<f64>,
    pub reply_p50_s: Option<f64>,
    pub reply_p90_s: Option<f64>,
    pub reply_p95_s: Option<f64>,
    /// Turns answered within target / turns not censored (an unanswered turn is a miss).
    pub within_target_ratio: Option<f64>,
    /// Sessions whose first human reply came within the first-response target /
    /// sessions with a customer message (a session never answered is a miss).
    pub first_response_within_target_ratio: Option<f64>,
    pub unanswered: u32,
    pub window_breaches: u32,
    pub censored: u32,
}

/// One row of `topics` (DESIGN.md): a term's day, or a whole category's when `term` is
/// None. Counts are user messages (a word said twice in one message counts once).
#[derive(Debug, Clone, PartialEq)]
pub struct TopicRow {
    pub term: Option<String>,
    /// The taxonomy category of the term; None for a term no category claims.
    pub category: Option<String>,
    pub count: u32,
    pub users: u32,
    /// 1 = the day's top term by score (category rows: by count).
    pub rank: u32,
    /// jieba's TF-IDF weight of the term over the day's user messages; None on
    /// category rows.
    pub score: Option<f64>,
    /// count / the mean count of the previous days in the window − 1; None without
    /// enough baseline days or with a zero baseline.
    pub trend: Option<f64>,
    /// A rise unlikely to be chance: big enough, and improbable under the baseline rate.
    pub rising: bool,
}

/// One row of `top_questions` (DESIGN.md): near-identical user questions of a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopQuestion {
    /// The group's most common wording, as a user wrote it.
    pub example: String,
    pub count: u32,
    pub users: u32,
    pub category: Option<String>,
}

/// One row of `tags` (DESIGN.md): a tag a user holds on the snapshot's date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagAssignment {
    pub openid: String,
    pub tag: String,
    pub rule_id: String,
    /// The latest message that earned it.
    pub evidence_event_id: String,
    pub first_seen_ts_ms: i64,
    pub last_seen_ts_ms: i64,
    /// When the tag lapses unless earned again; None for tags that never expire.
    pub expires_ts_ms: Option<i64>,
}

/// One row of `push_log`: a WeChat tag call kefu made and what WeChat answered, or an
/// intent written just before a call that creates a tag (so a push that died between
/// the call and its answer knows the tag it finds is its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushCall {
    pub ts_ms: i64,
    /// One per `kefu tags push --apply`; sorts by start time.
    pub push_id: String,
    /// The call's place within its push.
    pub seq: i64,
    /// `create`, `adopt`, `batchtagging` or `batchuntagging`.
    pub call: String,
    /// `intent`, `ok` or `failed`.
    pub outcome: String,
    pub tag: String,
    pub tag_id: Option<i64>,
    pub openids: Vec<String>,
    /// WeChat's errcode; 0 for ok and intents.
    pub errcode: i64,
    pub errmsg: String,
}
