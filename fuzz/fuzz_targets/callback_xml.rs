//! Any body WeChat (or an attacker who has the token) can post must parse or be refused
//! with an error, never panic.
#![no_main]

use kefu_fuzz::collector::message::{encrypted_field, parse_message};
use kefu_fuzz::model::Source;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = encrypted_field(body);
    if let Ok(event) = parse_message(body, Some(0), Source::Callback) {
        assert!(!event.openid.trim().is_empty());
        assert!(event.event_id.starts_with("m:") || event.event_id.starts_with("h:"));
    }
});
