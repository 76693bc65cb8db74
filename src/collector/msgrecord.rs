//! Chat records from WeChat's msgrecord API as events: the opercode map, and the rule
//! that drops a record repeating a callback kefu already stored.
//!
//! The dedupe key (DESIGN.md, "Identity and time"): a user record is the callback
//! message it repeats when both have the same openid and the same content — the text,
//! trimmed, or for media the placeholder msgrecord writes (`[image]`, `[voice]`,
//! `[video]`) — and their times are at most [`CALLBACK_TOLERANCE_MS`] apart. Both
//! sources stamp the message with WeChat's own time in whole seconds; the tolerance
//! covers one being taken when WeChat received the message and the other when it
//! logged it. Each stored callback absorbs at most one record, so a user who really
//! sent "好的" twice keeps both. The callback copy wins because it carries MsgId and
//! the media id.

use std::collections::HashMap;

use serde_json::json;

use crate::model::{Event, Role, Source};
use crate::wechat::api::MsgRecord;

/// How far apart a callback and its chat record may be stamped.
pub const CALLBACK_TOLERANCE_MS: i64 = 3_000;

/// What an opercode means (wechat-spec.md §3): who wrote it and which event it is;
/// None for a code the spec does not list.
fn classify(opercode: i64) -> Option<(Role, Option<&'static str>)> {
    Some(match opercode {
        2002 => (Role::Agent, None),
        2003 | 2001 => (Role::User, None),
        // A session waiting in the queue, not yet accepted by an agent.
        1000 => (Role::System, Some("kf_wait_session")),
        // Accepted by an agent, or opened by one: either way the session starts.
        1001 | 1002 => (Role::System, Some("kf_create_session")),
        // Transferred to, or grabbed by, another agent.
        1003 | 1005 => (Role::System, Some("kf_switch_session")),
        1004 => (Role::System, Some("kf_close_session")),
        _ => return None,
    })
}

/// The media placeholders msgrecord writes instead of content.
fn media_kind(text: &str) -> Option<&'static str> {
    match text.trim() {
        "[image]" => Some("image"),
        "[voice]" => Some("voice"),
        "[video]" => Some("video"),
        _ => None,
    }
}

/// One record as an event of the v1 schema. Every field of the record that has no
/// column of its own (opercode, the worker of a user message, a media placeholder) is
/// kept in `extra`.
pub fn record_to_event(record: &MsgRecord, received_ts_ms: i64) -> Event {
    let known = classify(record.opercode);
    let (role, event) = known.unwrap_or((Role::System, None));
    let worker = (!record.worker.is_empty()).then(|| record.worker.clone());
    let mut extra = json!({"opercode": record.opercode});
    let (kind, text) = if known.is_none() {
        extra["text"] = json!(record.text);
        (format!("opercode_{}", record.opercode), None)
    } else if event.is_some() {
        if !record.text.is_empty() {
            extra["text"] = json!(record.text);
        }
        ("event".to_owned(), None)
    } else if let Some(kind) = media_kind(&record.text) {
        extra["text"] = json!(record.text);
        (kind.to_owned(), None)
    } else {
        ("text".to_owned(), Some(record.text.clone()))
    };
    // The kf account belongs in `agent` on agent messages and session events; on a
    // user message it only says who received it.
    let agent = match role {
        Role::Agent | Role::System => worker,
        _ => {
            if let Some(worker) = worker {
                extra["worker"] = json!(worker);
            }
            None
        }
    };
    let ts_ms = record.time * 1000;
    let event_id = Event::identity(
        None,
        None,
        &record.openid,
        ts_ms,
        role,
        &kind,
        event,
        text.as_deref(),
    );
    Event {
        event_id,
        account: None,
        openid: record.openid.clone(),
        role,
        agent,
        kind,
        event: event.map(str::to_owned),
        text,
        media_id: None,
        extra: Some(extra.to_string()),
        ts_ms,
        received_ts_ms: Some(received_ts_ms),
        source: Source::Msgrecord,
    }
}

/// What a user message says, for matching across sources: the trimmed text, or the
/// placeholder of its media kind.
fn content_key(event: &Event) -> Option<String> {
    match event.kind.as_str() {
        "text" => event.text.as_deref().map(|text| text.trim().to_owned()),
        "image" => Some("[image]".into()),
        "voice" => Some("[voice]".into()),
        "video" | "shortvideo" => Some("[video]".into()),
        _ => None,
    }
}

/// The stored callback user messages of a window, by openid and content.
#[derive(Debug, Default)]
pub struct CallbackIndex {
    times: HashMap<(String, String), Vec<i64>>,
}

impl CallbackIndex {
    pub fn add(&mut self, event: &Event) {
        if event.source != Source::Callback || event.role != Role::User {
            return;
        }
        if let Some(key) = content_key(event) {
            self.times
                .entry((event.openid.clone(), key))
                .or_default()
                .push(event.ts_ms);
        }
    }

    pub fn len(&self) -> usize {
        self.times.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// True when `event` repeats a stored callback not yet claimed by another record;
    /// the callback is then claimed.
    pub fn absorbs(&mut self, event: &Event) -> bool {
        if event.role != Role::User {
            return false;
        }
        let Some(key) = content_key(event) else {
            return false;
        };
        let Some(times) = self.times.get_mut(&(event.openid.clone(), key)) else {
            return false;
        };
        let nearest = times
            .iter()
            .enumerate()
            .map(|(index, ts)| (index, (ts - event.ts_ms).abs()))
            .filter(|(_, gap)| *gap <= CALLBACK_TOLERANCE_MS)
            .min_by_key(|(_, gap)| *gap);
        match nearest {
            Some((index, _)) => {
                times.swap_remove(index);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(opercode: i64, text: &str, time: i64) -> MsgRecord {
        MsgRecord {
            openid: "oUser1".into(),
            opercode,
            text: text.into(),
            time,
            worker: "kf2001@gh_test".into(),
        }
    }

    #[test]
    fn opercodes_map_to_roles_agents_and_events() {
        let agent = record_to_event(&record(2002, "您好，请问有什么可以帮您？", 100), 0);
        assert_eq!(
            (agent.role, agent.agent.as_deref()),
            (Role::Agent, Some("kf2001@gh_test"))
        );
        assert_eq!(agent.ts_ms, 100_000);
        let user = record_to_event(&record(2003, "敏感肌适用吗", 100), 0);
        assert_eq!((user.role, user.agent.as_deref()), (Role::User, None));
        assert!(user.extra.as_deref().unwrap().contains("kf2001@gh_test"));
        let cases = [
            (1000, "kf_wait_session"),
            (1001, "kf_create_session"),
            (1002, "kf_create_session"),
            (1003, "kf_switch_session"),
            (1004, "kf_close_session"),
            (1005, "kf_switch_session"),
        ];
        for (opercode, name) in cases {
            let event = record_to_event(&record(opercode, "", 100), 0);
            assert_eq!(event.role, Role::System, "{opercode}");
            assert_eq!(event.event.as_deref(), Some(name), "{opercode}");
            assert_eq!(event.agent.as_deref(), Some("kf2001@gh_test"));
        }
        assert_eq!(record_to_event(&record(2001, "hi", 1), 0).role, Role::User);
        let unknown = record_to_event(&record(3107, "??", 1), 0);
        assert_eq!(
            (unknown.role, unknown.kind.as_str()),
            (Role::System, "opercode_3107")
        );
        assert!(unknown.extra.as_deref().unwrap().contains("??"));
        let image = record_to_event(&record(2003, "[image]", 1), 0);
        assert_eq!(
            (image.kind.as_str(), image.text.as_deref()),
            ("image", None)
        );
    }

    #[test]
    fn a_record_id_is_stable_so_a_second_pull_stores_nothing_new() {
        let a = record_to_event(&record(2003, "在吗", 100), 1);
        let b = record_to_event(&record(2003, "在吗", 100), 999);
        assert_eq!(a.event_id, b.event_id);
        assert!(a.event_id.starts_with("h:"));
    }

    fn callback(text: &str, ts_ms: i64) -> Event {
        let mut event = record_to_event(&record(2003, text, 0), 0);
        event.source = Source::Callback;
        event.ts_ms = ts_ms;
        event.event_id = "m:1".into();
        event
    }

    #[test]
    fn a_record_within_three_seconds_of_its_callback_is_absorbed_once() {
        let mut index = CallbackIndex::default();
        index.add(&callback("好的", 100_000));
        index.add(&callback("好的", 160_000));
        // Same text 2 s later: the callback's copy.
        assert!(index.absorbs(&record_to_event(&record(2003, " 好的", 102), 0)));
        // The same callback does not absorb a second record…
        assert!(!index.absorbs(&record_to_event(&record(2003, "好的", 101), 0)));
        // …a message 4 s from any callback is its own…
        assert!(!index.absorbs(&record_to_event(&record(2003, "好的", 164), 0)));
        // …and another text or another role never matches.
        assert!(!index.absorbs(&record_to_event(&record(2003, "不好", 160), 0)));
        assert!(!index.absorbs(&record_to_event(&record(2002, "好的", 160), 0)));
        assert!(index.absorbs(&record_to_event(&record(2003, "好的", 157), 0)));
    }
}
