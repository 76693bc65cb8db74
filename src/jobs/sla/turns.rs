//! The pure core of the sla job: one conversation's events in, its sessions and turns
//! out, by DESIGN.md's rules (README "Response times" has them in words).
//!
//! - A session is bounded by kf_create_session / kf_close_session where they exist;
//!   otherwise a user message after `session_gap` of silence starts a new one.
//! - A turn runs from a user message after a human reply (or the session start) to the
//!   next human agent message; bot replies and system events neither end nor split it.
//! - `breach`: no agent or bot reply within 48 h of the turn's last user message,
//!   looked for across the whole conversation (WeChat's window is per user, not per
//!   session). Unanswered turns whose 48 h reach past `as_of` are `censored` instead.

use chrono::{DateTime, Utc};
use regex::RegexSet;

use super::calendar::Calendar;
use crate::model::{local_date, AnsweredBy, Event, Role, Session, Turn};

/// WeChat closes the customer-service window 48 hours after the user's last message.
pub const WINDOW_MS: i64 = 48 * 3600 * 1000;

/// What the core needs besides the events.
pub struct SlaRules {
    pub session_gap_ms: i64,
    /// The automatic kf greetings: an agent message matching one is the bot's.
    pub greetings: RegexSet,
    pub calendar: Calendar,
    pub acknowledgements: Acknowledgements,
}

/// A customer's "好的谢谢" after an answer closes the exchange; it asks nothing. Counted
/// as a turn, every resolved conversation would end in an unanswered turn and a window
/// "breach". So a short message right after a human reply that holds a thanks or
/// okay word and no question word belongs to the turn it closes and opens none.
#[derive(Debug, Clone)]
pub struct Acknowledgements {
    pub words: Vec<String>,
    pub question_words: Vec<String>,
    pub max_chars: usize,
}

impl Acknowledgements {
    /// Runs on every user message, so the length test comes first and only ASCII is
    /// lower-cased (OK, Ok); the word lists are lower case.
    pub fn matches(&self, text: &str) -> bool {
        let text = text.trim();
        if text.len() > self.max_chars * 4 || text.chars().count() > self.max_chars {
            return false;
        }
        let text = text.to_ascii_lowercase();
        self.words.iter().any(|w| text.contains(w.as_str()))
            && !self
                .question_words
                .iter()
                .any(|w| text.contains(w.as_str()))
    }
}

/// Turns greeting templates ("您好，我是青禾客服{agent_name}…") into whole-message
/// patterns; any `{placeholder}` stands for a short run of any text (a name, an order
/// number).
pub fn greeting_patterns(templates: &[String]) -> Result<RegexSet, regex::Error> {
    let placeholder = regex::Regex::new(r"\{[A-Za-z_]+\}").expect("a valid regex");
    let patterns = templates.iter().map(|template| {
        let parts: Vec<String> = placeholder
            .split(template.trim())
            .map(regex::escape)
            .collect();
        format!("^{}$", parts.join(".{1,24}"))
    });
    RegexSet::new(patterns)
}

/// Who wrote a message, as the SLA rules see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    /// `acknowledges`: the text is a closing thanks or okay (see `Acknowledgements`).
    User {
        acknowledges: bool,
    },
    Human,
    Bot,
    /// kf session events; everything else a system event says is ignored.
    Create,
    Switch,
    Close,
    Other,
}

/// Classifies one event from the columns the rules need.
pub fn speaker(
    role: Role,
    kind: &str,
    event: Option<&str>,
    text: Option<&str>,
    rules: &SlaRules,
) -> Speaker {
    let text = text.unwrap_or_default().trim();
    match role {
        Role::User if kind != "event" => Speaker::User {
            acknowledges: rules.acknowledgements.matches(text),
        },
        Role::User => Speaker::Other,
        Role::Bot => Speaker::Bot,
        Role::Agent if rules.greetings.is_match(text) => Speaker::Bot,
        Role::Agent => Speaker::Human,
        Role::System => match event {
            Some("kf_create_session") => Speaker::Create,
            Some("kf_switch_session") => Speaker::Switch,
            Some("kf_close_session") => Speaker::Close,
            _ => Speaker::Other,
        },
    }
}

/// One event as the SLA rules see it: when, who, and which agent. The job builds these
/// straight from Arrow columns, so a month of events costs a few dozen bytes each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    pub ts_ms: i64,
    pub speaker: Speaker,
    pub agent: Option<&'a str>,
}

/// The messages of events (for tests and small inputs).
pub fn messages<'a>(events: &[&'a Event], rules: &SlaRules) -> Vec<Message<'a>> {
    events
        .iter()
        .map(|e| Message {
            ts_ms: e.ts_ms,
            speaker: speaker(
                e.role,
                &e.kind,
                e.event.as_deref(),
                e.text.as_deref(),
                rules,
            ),
            agent: e.agent.as_deref(),
        })
        .collect()
}

struct OpenTurn {
    first_user: i64,
    last_user: i64,
}

struct OpenSession {
    session: Session,
    /// Opened or accepted through kf_create_session: only kf_close_session ends it.
    kf_bounded: bool,
    accept: Option<(i64, Option<String>)>,
    turn: Option<OpenTurn>,
    turns: Vec<Turn>,
}

impl OpenSession {
    fn start(openid: &str, ts: i64) -> OpenSession {
        OpenSession {
            session: Session {
                session_id: format!("{openid}@{ts}"),
                openid: openid.to_owned(),
                agent: None,
                agents: Vec::new(),
                started_ts_ms: ts,
                ended_ts_ms: ts,
                first_user_ts_ms: None,
                first_response_ts_ms: None,
                first_response_s: None,
                business_first_response_s: None,
                accept_response_s: None,
                replies: 0,
                user_messages: 0,
                unanswered: 0,
                window_breach: false,
            },
            kf_bounded: false,
            accept: None,
            turn: None,
            turns: Vec::new(),
        }
    }

    fn join(&mut self, agent: Option<&str>) {
        if let Some(agent) = agent {
            if self.session.agent.is_none() {
                self.session.agent = Some(agent.to_owned());
            }
            if self.session.agents.last().map(String::as_str) != Some(agent) {
                self.session.agents.push(agent.to_owned());
            }
        }
    }
}

/// Sessions and turns of one conversation: `openid`'s messages, sorted by time; those
/// after `as_of_ms` must already be left out.
pub fn conversation(
    openid: &str,
    messages: &[Message],
    rules: &SlaRules,
    as_of_ms: i64,
) -> (Vec<Session>, Vec<Turn>) {
    // Every agent or bot message keeps WeChat's window open.
    let window_replies: Vec<i64> = messages
        .iter()
        .filter(|m| matches!(m.speaker, Speaker::Human | Speaker::Bot))
        .map(|m| m.ts_ms)
        .collect();
    let (mut sessions, mut turns) = (Vec::new(), Vec::new());
    let mut open: Option<OpenSession> = None;
    let mut last_message: Option<i64> = None;
    let finish = |open: OpenSession, sessions: &mut Vec<Session>, turns: &mut Vec<Turn>| {
        let OpenSession {
            mut session,
            turn,
            turns: mut finished,
            ..
        } = open;
        if let Some(turn) = turn {
            finished.push(unanswered(&session, turn, &window_replies, as_of_ms));
        }
        session.unanswered = finished
            .iter()
            .filter(|t| t.answered_by != AnsweredBy::Agent)
            .count() as u32;
        session.window_breach = finished.iter().any(|t| t.breach);
        sessions.push(session);
        turns.extend(finished);
    };

    for message in messages {
        let ts = message.ts_ms;
        let agent = message.agent;
        match message.speaker {
            Speaker::Create => {
                let reuse = open
                    .as_ref()
                    .is_some_and(|s| s.accept.is_none() && !s.kf_bounded);
                if !reuse {
                    if let Some(done) = open.take() {
                        finish(done, &mut sessions, &mut turns);
                    }
                    open = Some(OpenSession::start(openid, ts));
                }
                let session = open.as_mut().expect("opened just above");
                session.kf_bounded = true;
                session.accept = Some((ts, agent.map(str::to_owned)));
                session.join(agent);
                session.session.ended_ts_ms = ts;
            }
            Speaker::Switch => {
                if let Some(session) = open.as_mut() {
                    session.join(agent);
                    session.session.ended_ts_ms = ts;
                }
            }
            Speaker::Close => {
                if let Some(mut done) = open.take() {
                    done.session.ended_ts_ms = ts;
                    finish(done, &mut sessions, &mut turns);
                }
            }
            Speaker::Other => {}
            Speaker::User { acknowledges: true }
                if open.as_ref().is_some_and(|s| {
                    s.turn.is_none()
                        && s.session.replies > 0
                        && last_message.is_none_or(|last| ts - last <= rules.session_gap_ms)
                }) =>
            {
                let session = open.as_mut().expect("checked by the guard");
                session.session.user_messages += 1;
                session.session.ended_ts_ms = ts;
                last_message = Some(ts);
            }
            Speaker::User { .. } => {
                let silent_too_long = |s: &OpenSession| {
                    !s.kf_bounded
                        && last_message.is_some_and(|last| ts - last > rules.session_gap_ms)
                };
                if open.as_ref().is_none_or(silent_too_long) {
                    if let Some(done) = open.take() {
                        finish(done, &mut sessions, &mut turns);
                    }
                    open = Some(OpenSession::start(openid, ts));
                }
                let session = open.as_mut().expect("opened just above");
                session.session.user_messages += 1;
                session.session.first_user_ts_ms.get_or_insert(ts);
                session.session.ended_ts_ms = ts;
                match session.turn.as_mut() {
                    Some(turn) => turn.last_user = ts,
                    None => {
                        session.turn = Some(OpenTurn {
                            first_user: ts,
                            last_user: ts,
                        })
                    }
                }
                last_message = Some(ts);
            }
            Speaker::Bot => {
                if let Some(session) = open.as_mut() {
                    session.session.ended_ts_ms = ts;
                }
                last_message = Some(ts);
            }
            Speaker::Human => {
                last_message = Some(ts);
                let Some(session) = open.as_mut() else {
                    // A message to a user outside any session (a follow-up days later)
                    // answers nothing.
                    continue;
                };
                session.join(agent);
                let s = &mut session.session;
                s.replies += 1;
                s.ended_ts_ms = ts;
                if s.first_user_ts_ms.is_some() && s.first_response_ts_ms.is_none() {
                    s.first_response_ts_ms = Some(ts);
                    s.first_response_s = s.first_user_ts_ms.map(|first| (ts - first) / 1000);
                    s.business_first_response_s = s
                        .first_user_ts_ms
                        .map(|first| rules.calendar.business_seconds(utc(first), utc(ts)));
                }
                if let Some((accepted, accepted_by)) = &session.accept {
                    if s.accept_response_s.is_none()
                        && ts >= *accepted
                        && (accepted_by.is_none() || accepted_by.as_deref() == agent)
                    {
                        s.accept_response_s = Some((ts - accepted) / 1000);
                    }
                }
                if let Some(turn) = session.turn.take() {
                    let business = rules
                        .calendar
                        .business_seconds(utc(turn.first_user), utc(ts));
                    let next_reply = first_reply_after(&window_replies, turn.last_user);
                    session.turns.push(Turn {
                        session_id: s.session_id.clone(),
                        openid: s.openid.clone(),
                        agent: agent.map(str::to_owned),
                        answered_by: AnsweredBy::Agent,
                        first_user_ts_ms: turn.first_user,
                        last_user_ts_ms: turn.last_user,
                        reply_ts_ms: Some(ts),
                        reply_dt: Some(local_date(ts, rules.calendar.zone())),
                        reply_s: Some((ts - turn.first_user) / 1000),
                        business_reply_s: Some(business),
                        breach: next_reply.is_none_or(|reply| reply - turn.last_user > WINDOW_MS),
                        censored: false,
                    });
                }
            }
        }
    }
    if let Some(done) = open.take() {
        finish(done, &mut sessions, &mut turns);
    }
    (sessions, turns)
}

fn utc(ts_ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ts_ms).unwrap_or_default()
}

/// The first agent or bot message at or after `ts` in the conversation (an auto-reply
/// often carries the same timestamp as the message it answers).
fn first_reply_after(window_replies: &[i64], ts: i64) -> Option<i64> {
    let at = window_replies.partition_point(|&reply| reply < ts);
    window_replies.get(at).copied()
}

/// A turn the session ended without a human reply.
fn unanswered(session: &Session, turn: OpenTurn, window_replies: &[i64], as_of_ms: i64) -> Turn {
    let next_reply = first_reply_after(window_replies, turn.last_user);
    let kept_open = next_reply.is_some_and(|reply| reply - turn.last_user <= WINDOW_MS);
    let censored = !kept_open && turn.last_user + WINDOW_MS > as_of_ms;
    // Only the bot replied: it kept the window open but answered nothing.
    let bot_replied = next_reply.is_some_and(|reply| reply <= session.ended_ts_ms);
    Turn {
        session_id: session.session_id.clone(),
        openid: session.openid.clone(),
        agent: None,
        answered_by: if bot_replied {
            AnsweredBy::Bot
        } else {
            AnsweredBy::None
        },
        first_user_ts_ms: turn.first_user,
        last_user_ts_ms: turn.last_user,
        reply_ts_ms: None,
        reply_dt: None,
        reply_s: None,
        business_reply_s: None,
        breach: !kept_open && !censored,
        censored,
    }
}

#[cfg(test)]
#[path = "turns_tests.rs"]
mod tests;
