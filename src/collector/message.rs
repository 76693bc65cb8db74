//! WeChat's inbound message and event XML (wechat-spec.md §2) → one v1 event.
//! Shared by `kefu import` of callback files and by the callback collector.

use anyhow::Result;
use quick_xml::events::Event as XmlEvent;
use quick_xml::Reader;
use serde_json::{Map, Value};

use crate::model::{Event, Role, Source};

/// Why a body is not a message kefu can store. The collector answers 400 and the
/// import quarantines; the text is the quarantine reason.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MessageError {
    #[error("not well-formed XML: {0}")]
    Xml(String),
    #[error("the root element is <{0}>, not <xml>")]
    Root(String),
    #[error("missing <{0}>")]
    Missing(&'static str),
    #[error("<{field}> is {value:?}, not {expected}")]
    BadValue {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("the body is encrypted (safe mode): decrypt it first (kefu serve does, with the EncodingAESKey)")]
    Encrypted,
}

/// A child element's content: leaf text, or nested elements kept as a JSON object.
enum Content {
    Text(String),
    Nested(Map<String, Value>),
}

impl Content {
    fn into_json(self) -> Value {
        match self {
            Content::Text(text) => Value::String(text),
            Content::Nested(map) => Value::Object(map),
        }
    }
}

/// Events whose documented names are uppercase; wechatpy lowercases every name before
/// dispatch, so sources differ, and kefu stores the documented spelling.
const UPPERCASE_EVENTS: [&str; 6] = [
    "SCAN",
    "LOCATION",
    "CLICK",
    "VIEW",
    "MASSSENDJOBFINISH",
    "TEMPLATESENDJOBFINISH",
];

/// Events whose documented names are lowercase.
const LOWERCASE_EVENTS: [&str; 5] = [
    "subscribe",
    "unsubscribe",
    "kf_create_session",
    "kf_close_session",
    "kf_switch_session",
];

/// Fields that become columns; every other field goes to `extra`.
const COLUMN_FIELDS: [&str; 11] = [
    "ToUserName",
    "FromUserName",
    "CreateTime",
    "MsgType",
    "Event",
    "Content",
    "Recognition",
    "MediaId",
    "MsgId",
    "KfAccount",
    "ToKfAccount",
];

/// Parses one plaintext callback body. `Encrypt` beside plaintext fields (compatible
/// mode) is dropped: it repeats the same message.
pub fn parse_message(
    xml: &[u8],
    received_ts_ms: Option<i64>,
    source: Source,
) -> Result<Event, MessageError> {
    let mut fields = parse_fields(xml)?;
    let has_field =
        |fields: &[(String, Content)], wanted: &str| fields.iter().any(|(name, _)| name == wanted);
    if !has_field(&fields, "MsgType") && has_field(&fields, "Encrypt") {
        return Err(MessageError::Encrypted);
    }

    let mut text_of = |name: &str| -> Option<String> {
        let position = fields.iter().position(|(field, _)| field == name)?;
        match fields.remove(position).1 {
            Content::Text(text) => Some(text),
            nested => {
                fields.insert(position, (name.to_string(), nested));
                None
            }
        }
    };

    let openid = text_of("FromUserName")
        .filter(|s| !s.trim().is_empty())
        .ok_or(MessageError::Missing("FromUserName"))?;
    let create_time = text_of("CreateTime").ok_or(MessageError::Missing("CreateTime"))?;
    // WeChat's CreateTime is Unix seconds; anything outside 2000–2100 is a broken or
    // hostile body (and a huge value would overflow the conversion to milliseconds).
    let seconds: i64 = create_time
        .trim()
        .parse()
        .ok()
        .filter(|seconds| (946_684_800..4_102_444_800).contains(seconds))
        .ok_or_else(|| MessageError::BadValue {
            field: "CreateTime",
            value: create_time.clone(),
            expected: "Unix seconds between 2000 and 2100",
        })?;
    let kind = text_of("MsgType")
        .map(|kind| kind.trim().to_lowercase())
        .filter(|kind| !kind.is_empty())
        .ok_or(MessageError::Missing("MsgType"))?;
    let account = text_of("ToUserName");
    let event = text_of("Event").map(|name| canonical_event_name(name.trim()));
    // Mass-send and template reports spell it MsgID.
    let msg_id = text_of("MsgId").or_else(|| text_of("MsgID"));
    let content = text_of("Content");
    let recognition = text_of("Recognition").filter(|text| !text.is_empty());
    let media_id = text_of("MediaId");
    let agent = text_of("KfAccount").or_else(|| text_of("ToKfAccount"));

    let text = match kind.as_str() {
        "voice" => recognition.clone(),
        "link" => {
            let field = |name: &str| {
                fields.iter().find_map(|(field, value)| match value {
                    Content::Text(text) if field == name && !text.is_empty() => Some(text.as_str()),
                    _ => None,
                })
            };
            match (field("Title"), field("Description")) {
                (Some(title), Some(description)) => Some(format!("{title}\n{description}")),
                (Some(one), None) | (None, Some(one)) => Some(one.to_string()),
                (None, None) => None,
            }
        }
        _ => content.clone(),
    };
    // A voice message's Content or a text message's Recognition would otherwise vanish.
    if kind == "voice" {
        if let Some(content) = content {
            fields.push(("Content".into(), Content::Text(content)));
        }
    } else if let Some(recognition) = recognition {
        fields.push(("Recognition".into(), Content::Text(recognition)));
    }

    let role = if kind == "event" {
        Role::System
    } else {
        Role::User
    };
    let msg_id = match msg_id {
        Some(id) => {
            let trimmed = id.trim();
            if trimmed.parse::<u64>().is_err() {
                return Err(MessageError::BadValue {
                    field: "MsgId",
                    value: id,
                    expected: "a 64-bit integer",
                });
            }
            Some(trimmed.to_string())
        }
        None => None,
    };

    let mut extra = Map::new();
    for (name, value) in fields {
        if name == "Encrypt" || COLUMN_FIELDS.contains(&name.as_str()) {
            continue;
        }
        extra.insert(name, value.into_json());
    }
    let extra = (!extra.is_empty()).then(|| Value::Object(extra).to_string());

    let ts_ms = seconds * 1000;
    let event_id = Event::identity(
        msg_id.as_deref(),
        account.as_deref(),
        &openid,
        ts_ms,
        role,
        &kind,
        event.as_deref(),
        text.as_deref(),
    );
    Ok(Event {
        event_id,
        account,
        openid,
        role,
        agent,
        kind,
        event,
        text,
        media_id,
        extra,
        ts_ms,
        received_ts_ms,
        source,
    })
}

/// The `<Encrypt>` field of a compatible- or safe-mode body, exactly as received (its
/// signature is computed over these characters).
pub fn encrypted_field(xml: &[u8]) -> Result<Option<String>, MessageError> {
    let fields = parse_fields(xml)?;
    Ok(fields.into_iter().find_map(|(name, value)| match value {
        Content::Text(text) if name == "Encrypt" => Some(text),
        _ => None,
    }))
}

fn canonical_event_name(name: &str) -> String {
    UPPERCASE_EVENTS
        .iter()
        .chain(LOWERCASE_EVENTS.iter())
        .find(|known| known.eq_ignore_ascii_case(name))
        .map(|known| known.to_string())
        .unwrap_or_else(|| name.to_string())
}

/// An element being read: its name, the children gathered so far, and its text.
type OpenElement = (String, Vec<(String, Content)>, String);

/// The children of the `<xml>` root in document order. quick-xml never resolves
/// external entities or DTDs, so the parser is XXE-safe.
fn parse_fields(xml: &[u8]) -> Result<Vec<(String, Content)>, MessageError> {
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    // The stack of open elements: name and the children gathered so far.
    let mut stack: Vec<OpenElement> = Vec::new();
    let mut root: Option<Vec<(String, Content)>> = None;
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|err| {
            MessageError::Xml(format!("at byte {}: {err}", reader.error_position()))
        })?;
        match event {
            XmlEvent::Start(start) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                if stack.is_empty() {
                    if root.is_some() {
                        return Err(MessageError::Xml("more than one root element".into()));
                    }
                    if name != "xml" {
                        return Err(MessageError::Root(name));
                    }
                }
                stack.push((name, Vec::new(), String::new()));
            }
            XmlEvent::Empty(start) => {
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                match stack.last_mut() {
                    Some((_, children, _)) => children.push((name, Content::Text(String::new()))),
                    None if name == "xml" => root = Some(Vec::new()),
                    None => return Err(MessageError::Root(name)),
                }
            }
            XmlEvent::Text(text) => {
                if let Some((_, _, content)) = stack.last_mut() {
                    let decoded = text
                        .decode()
                        .map_err(|err| MessageError::Xml(err.to_string()))?;
                    content.push_str(&decoded);
                }
            }
            XmlEvent::CData(data) => {
                if let Some((_, _, content)) = stack.last_mut() {
                    let decoded = data
                        .decode()
                        .map_err(|err| MessageError::Xml(err.to_string()))?;
                    content.push_str(&decoded);
                }
            }
            XmlEvent::GeneralRef(reference) => {
                let resolved = if reference.is_char_ref() {
                    reference
                        .resolve_char_ref()
                        .map_err(|err| MessageError::Xml(err.to_string()))?
                        .map(String::from)
                } else {
                    let name = reference
                        .decode()
                        .map_err(|err| MessageError::Xml(err.to_string()))?;
                    quick_xml::escape::resolve_predefined_entity(&name).map(String::from)
                };
                let resolved = resolved.ok_or_else(|| {
                    MessageError::Xml("an entity reference that is not predefined".into())
                })?;
                if let Some((_, _, content)) = stack.last_mut() {
                    content.push_str(&resolved);
                }
            }
            XmlEvent::End(_) => {
                let (name, children, text) = stack
                    .pop()
                    .ok_or_else(|| MessageError::Xml("unbalanced end tag".into()))?;
                match stack.last_mut() {
                    Some((_, siblings, _)) => {
                        let content = if children.is_empty() {
                            Content::Text(text)
                        } else {
                            let mut map = Map::new();
                            for (child, value) in children {
                                insert_repeated(&mut map, child, value.into_json());
                            }
                            Content::Nested(map)
                        };
                        siblings.push((name, content));
                    }
                    None => root = Some(children),
                }
            }
            XmlEvent::DocType(_) => {
                return Err(MessageError::Xml(
                    "a DOCTYPE is not allowed in a message".into(),
                ))
            }
            XmlEvent::Eof => break,
            XmlEvent::Decl(_) | XmlEvent::Comment(_) | XmlEvent::PI(_) => {}
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err(MessageError::Xml(
            "the document ends inside an element".into(),
        ));
    }
    root.ok_or_else(|| MessageError::Xml("no <xml> element".into()))
}

/// Repeated children (a list of `<item>`s) become an array instead of overwriting.
fn insert_repeated(map: &mut Map<String, Value>, name: String, value: Value) {
    match map.get_mut(&name) {
        None => {
            map.insert(name, value);
        }
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_cdata_and_repeated_children_are_kept() {
        let xml = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName>o1</FromUserName>\
            <CreateTime>1791793900</CreateTime><MsgType>event</MsgType><Event>pic_weixin</Event>\
            <EventKey>a&amp;b&#x4E2D;</EventKey><SendPicsInfo><Count>2</Count><PicList>\
            <item><PicMd5Sum>aa</PicMd5Sum></item><item><PicMd5Sum>bb</PicMd5Sum></item>\
            </PicList></SendPicsInfo></xml>";
        let event = parse_message(xml.as_bytes(), None, Source::Callback).unwrap();
        assert_eq!(event.role, Role::System);
        assert_eq!(event.event.as_deref(), Some("pic_weixin"));
        assert_eq!(
            event.extra.as_deref(),
            Some(
                r#"{"EventKey":"a&b中","SendPicsInfo":{"Count":"2","PicList":{"item":[{"PicMd5Sum":"aa"},{"PicMd5Sum":"bb"}]}}}"#
            )
        );
        assert_eq!(event.event_id, event.computed_content_id());
    }

    #[test]
    fn event_names_take_their_documented_case() {
        let xml = |name: &str| {
            format!("<xml><FromUserName>o1</FromUserName><CreateTime>1791793800</CreateTime><MsgType>EVENT</MsgType><Event>{name}</Event></xml>")
        };
        for (sent, stored) in [
            ("click", "CLICK"),
            ("Subscribe", "subscribe"),
            ("KF_CLOSE_SESSION", "kf_close_session"),
            ("user_get_card", "user_get_card"),
        ] {
            let event = parse_message(xml(sent).as_bytes(), None, Source::Callback).unwrap();
            assert_eq!(event.event.as_deref(), Some(stored));
            assert_eq!(event.kind, "event");
        }
    }

    /// Found by the callback_xml fuzz target: a CreateTime near i64::MAX overflowed.
    #[test]
    fn an_absurd_create_time_is_refused_not_overflowed() {
        for create_time in ["9223372036854775807", "-1", "99999999999", "1760257800.5"] {
            let xml = format!(
                "<xml><FromUserName>o1</FromUserName><CreateTime>{create_time}</CreateTime><MsgType>text</MsgType></xml>"
            );
            let err = parse_message(xml.as_bytes(), None, Source::Callback).unwrap_err();
            assert!(
                matches!(
                    err,
                    MessageError::BadValue {
                        field: "CreateTime",
                        ..
                    }
                ),
                "{err}"
            );
        }
    }

    #[test]
    fn a_doctype_or_a_foreign_root_is_refused() {
        let xxe = r#"<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><FromUserName>&x;</FromUserName></xml>"#;
        assert!(matches!(
            parse_message(xxe.as_bytes(), None, Source::Callback),
            Err(MessageError::Xml(_))
        ));
        let other = "<msg><FromUserName>o1</FromUserName></msg>";
        assert_eq!(
            parse_message(other.as_bytes(), None, Source::Callback),
            Err(MessageError::Root("msg".into()))
        );
        let bad_id = "<xml><FromUserName>o1</FromUserName><CreateTime>1791793800</CreateTime><MsgType>text</MsgType><MsgId>12ab</MsgId></xml>";
        assert!(matches!(
            parse_message(bad_id.as_bytes(), None, Source::Callback),
            Err(MessageError::BadValue { field: "MsgId", .. })
        ));
    }
}
