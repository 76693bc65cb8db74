//! Property tests: what holds for any input, not just the fixtures.

use kefu::collector::import::{parse_line, to_import_line};
use kefu::collector::message::parse_message;
use kefu::model::{Event, Role, Source};
use proptest::prelude::*;

fn role() -> impl Strategy<Value = Role> {
    prop::sample::select(Role::ALL.to_vec())
}

/// Text as chat really holds it: CJK, emoji, quotes, backslashes, newlines, control characters.
fn chat_text() -> impl Strategy<Value = String> {
    prop::string::string_regex("[a-zA-Z0-9 你好在吗退款😂🙏\"\\\\\n\t\u{1f}\u{0}，。！？]{0,40}")
        .unwrap()
}

prop_compose! {
    fn any_event()(
        openid in "o[A-Za-z0-9_-]{27}",
        role in role(),
        kind in prop::sample::select(vec!["text", "image", "voice", "event", "miniprogrampage"]),
        text in prop::option::of(chat_text()),
        agent in prop::option::of("kf[0-9]{4}@gh_[0-9a-f]{12}"),
        account in prop::option::of("gh_[0-9a-f]{12}"),
        event in prop::option::of("[a-zA-Z_]{1,20}"),
        media_id in prop::option::of("[A-Za-z0-9_-]{1,30}"),
        extra_value in prop::option::of(chat_text()),
        ts_ms in 946_684_800_000i64..4_102_444_800_000i64,
        received_ms in 946_684_800_000i64..4_102_444_800_000i64,
    ) -> Event {
        let extra = extra_value.map(|v| serde_json::json!({"note": v}).to_string());
        let mut e = Event {
            event_id: String::new(), account, openid, role, agent, kind: kind.to_string(), event,
            text, media_id, extra, ts_ms, received_ts_ms: Some(received_ms), source: Source::Import,
        };
        e.event_id = e.computed_content_id();
        e
    }
}

proptest! {
    #[test]
    fn an_exported_event_imports_unchanged(event in any_event()) {
        let line = to_import_line(&event);
        prop_assert!(!line.contains('\n'), "one event, one line");
        let back = parse_line(line.as_bytes(), 0).unwrap();
        prop_assert_eq!(back, event);
    }

    #[test]
    fn the_content_id_ignores_nothing_that_identifies_an_event(a in any_event(), text in chat_text()) {
        let mut b = a.clone();
        b.text = Some(text);
        // DESIGN.md hashes a null text as the empty string, so None and "" are one id.
        let same_text = a.text.as_deref().unwrap_or("") == b.text.as_deref().unwrap_or("");
        prop_assert_eq!(a.computed_content_id() == b.computed_content_id(), same_text);
    }

    #[test]
    fn any_text_in_cdata_comes_back_exactly(text in "[^\u{0}-\u{8}\u{b}\u{c}\u{e}-\u{1f}\u{fffe}\u{ffff}]{0,60}", msg_id in any::<u64>()) {
        prop_assume!(!text.contains("]]>"));
        let xml = format!(
            "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName>\
             <CreateTime>1791793800</CreateTime><MsgType><![CDATA[text]]></MsgType>\
             <Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>"
        );
        let event = parse_message(xml.as_bytes(), None, Source::Callback).unwrap();
        prop_assert_eq!(event.text.as_deref(), Some(text.as_str()));
        prop_assert_eq!(event.event_id, format!("m:{msg_id}"));
        prop_assert_eq!(event.extra, None);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_parsers(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_line(&bytes, 0);
        let _ = parse_message(&bytes, None, Source::Callback);
    }
}

proptest! {
    /// The view maps back: offsets increase, stay inside the original, and each view
    /// character comes from the original character it points at (after folding).
    #[test]
    fn the_matching_view_maps_back_to_what_was_written(
        written in "[终身免费終費級ＶＩＰvip 　\\-*😊，,。“”0-9１２a-zA-Z]{0,40}"
    ) {
        let normalized = kefu::text::normalize::normalize(&written);
        let original: Vec<char> = written.chars().collect();
        let view: Vec<char> = normalized.text.chars().collect();
        prop_assert_eq!(view.len(), normalized.source.len());
        prop_assert!(normalized.source.windows(2).all(|pair| pair[0] < pair[1]));
        for (c, index) in view.iter().zip(&normalized.source) {
            let from = original[*index];
            let refolded = kefu::text::normalize::normalize(&from.to_string()).text;
            prop_assert_eq!(refolded, c.to_string(), "{} came from {}", c, from);
        }
    }

    /// The segmenter's fast path gives the same view as the full normalisation, and a
    /// message gets the same view whether its traditional characters come first or not.
    #[test]
    fn the_view_text_fast_path_agrees_with_the_full_view(
        written in "[终身免费終費級會員日優惠券嗎ＶＩＰvip 　\\-*😊，,。“”0-9１２a-zA-Z]{0,40}"
    ) {
        let full = kefu::text::normalize::normalize(&written).text;
        prop_assert_eq!(kefu::text::normalize::view_text(&written), full.clone());
        let simplified: String = written.chars().map(|c| {
            kefu::text::normalize::normalize(&c.to_string()).text.chars().next().unwrap_or(' ')
        }).filter(|c| *c != ' ').collect();
        let full_without_noise: String = full.chars().filter(|c| *c != ' ').collect();
        prop_assert_eq!(full_without_noise, simplified);
    }

    /// Masked text keeps its length and holds no number the privacy detector would
    /// still call a leak, however the number was written.
    #[test]
    fn masked_text_holds_no_leak(
        before in "[您好，的电话是号码：]{0,8}",
        mobile in "1[3-9][0-9]{9}",
        separator in "[ \\-]{0,1}",
        after in "[，请联系他。]{0,6}",
    ) {
        let written = format!(
            "{before}{}{separator}{}{separator}{}{after}",
            &mobile[..3], &mobile[3..7], &mobile[7..]
        );
        let masked = kefu::outputs::mask::mask(&written);
        prop_assert_eq!(masked.chars().count(), written.chars().count());
        let view = kefu::text::normalize::normalize(&masked);
        prop_assert!(kefu::jobs::qa::privacy::find(&view.text).is_empty(), "{} → {}", written, masked);
        prop_assert!(masked.contains(&mobile[..3]) && masked.contains(&mobile[7..]));
    }
}
