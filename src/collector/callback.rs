//! The callback protocol without HTTP (wechat-spec.md §1): URL verification, signature
//! and replay checks, decryption with key rotation, and parsing into an event. The
//! server in `server.rs` is plumbing around these functions.

use serde::Deserialize;

use super::config::CollectorConfig;
use super::crypto::{self, AesKey};
use super::message::{self, MessageError};
use crate::model::{Event, Source};

/// The query string WeChat sends; every field optional so a missing one is a clear 403.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct CallbackQuery {
    pub signature: Option<String>,
    pub timestamp: Option<String>,
    pub nonce: Option<String>,
    pub echostr: Option<String>,
    pub encrypt_type: Option<String>,
    pub msg_signature: Option<String>,
    pub openid: Option<String>,
}

/// Why a request is refused. `Forbidden` stores nothing; `BadRequest` keeps the raw
/// request in quarantine, since it came signed from WeChat and may be a parser gap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("bad request: {0}")]
    BadRequest(String),
}

impl Rejection {
    /// A short label for the `rejected` metric.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::Forbidden(reason) => reason,
            Rejection::BadRequest(_) => "bad_request",
        }
    }
}

/// The secrets of one account, parsed once at start-up.
pub struct Protocol {
    token: String,
    appid: Option<String>,
    /// Current key first, then the previous one during a rotation.
    keys: Vec<AesKey>,
    replay_window_s: i64,
}

/// A verified POST: the plaintext message XML and the event it is.
#[derive(Debug)]
pub struct Accepted {
    pub plaintext: String,
    pub event: Event,
    /// True when the previous key decrypted it (worth a log line: the rotation is live).
    pub used_previous_key: bool,
}

impl Protocol {
    pub fn new(config: &CollectorConfig) -> anyhow::Result<Protocol> {
        let mut keys = Vec::new();
        for key in [&config.encoding_aes_key, &config.previous_encoding_aes_key]
            .into_iter()
            .flatten()
        {
            keys.push(AesKey::from_encoding_aes_key(key)?);
        }
        Ok(Protocol {
            token: config.token.clone().unwrap_or_default(),
            appid: config.appid.clone(),
            keys,
            replay_window_s: i64::try_from(config.replay_window_s).unwrap_or(i64::MAX),
        })
    }

    /// Safe and compatible mode are accepted only when a key is configured.
    pub fn encrypted(&self) -> bool {
        !self.keys.is_empty()
    }

    /// GET URL verification: the echostr, unchanged, when the signature matches. A 公众号
    /// sends it in the clear even in safe mode (the encrypted variant is WeCom's).
    pub fn verify_url(&self, query: &CallbackQuery, now_s: i64) -> Result<String, Rejection> {
        self.check_signature(query, now_s)?;
        query.echostr.clone().ok_or(Rejection::BadRequest(
            "no echostr in the verification request".into(),
        ))
    }

    fn check_signature(&self, query: &CallbackQuery, now_s: i64) -> Result<i64, Rejection> {
        let (Some(signature), Some(timestamp), Some(nonce)) =
            (&query.signature, &query.timestamp, &query.nonce)
        else {
            return Err(Rejection::Forbidden("missing_signature"));
        };
        if !crypto::signature_matches(signature, &[&self.token, timestamp, nonce]) {
            return Err(Rejection::Forbidden("bad_signature"));
        }
        let sent_s: i64 = timestamp
            .parse()
            .map_err(|_| Rejection::Forbidden("bad_timestamp"))?;
        if (now_s - sent_s).abs() > self.replay_window_s {
            return Err(Rejection::Forbidden("replay_window"));
        }
        Ok(sent_s)
    }

    /// A POST: checks the signatures and the replay window, decrypts when the query
    /// says `encrypt_type=aes`, checks the appid and parses the message.
    pub fn accept(
        &self,
        query: &CallbackQuery,
        body: &[u8],
        now_s: i64,
        received_ms: i64,
    ) -> Result<Accepted, Rejection> {
        self.check_signature(query, now_s)?;
        let aes = query
            .encrypt_type
            .as_deref()
            .is_some_and(|kind| kind.eq_ignore_ascii_case("aes"));
        let (plaintext, used_previous_key) = if aes {
            self.decrypt_body(query, body)?
        } else {
            let text = std::str::from_utf8(body)
                .map_err(|_| Rejection::BadRequest("the body is not UTF-8".into()))?;
            (text.to_string(), false)
        };
        let event =
            message::parse_message(plaintext.as_bytes(), Some(received_ms), Source::Callback)
                .map_err(|err| match err {
                    MessageError::Encrypted if !self.encrypted() => Rejection::BadRequest(
                        "an encrypted (safe-mode) body, but no encoding_aes_key is configured"
                            .into(),
                    ),
                    other => Rejection::BadRequest(other.to_string()),
                })?;
        Ok(Accepted {
            plaintext,
            event,
            used_previous_key,
        })
    }

    fn decrypt_body(
        &self,
        query: &CallbackQuery,
        body: &[u8],
    ) -> Result<(String, bool), Rejection> {
        if !self.encrypted() {
            return Err(Rejection::BadRequest(
                "encrypt_type=aes, but no encoding_aes_key is configured".into(),
            ));
        }
        let encrypt = message::encrypted_field(body)
            .map_err(|err| Rejection::BadRequest(err.to_string()))?
            .ok_or_else(|| {
                Rejection::BadRequest("encrypt_type=aes but no <Encrypt> in the body".into())
            })?;
        let (Some(msg_signature), Some(timestamp), Some(nonce)) =
            (&query.msg_signature, &query.timestamp, &query.nonce)
        else {
            return Err(Rejection::Forbidden("missing_msg_signature"));
        };
        if !crypto::signature_matches(msg_signature, &[&self.token, timestamp, nonce, &encrypt]) {
            return Err(Rejection::Forbidden("bad_msg_signature"));
        }
        let mut last_error = String::new();
        for (index, key) in self.keys.iter().enumerate() {
            match crypto::decrypt(key, &encrypt) {
                Ok(decrypted) => {
                    if let Some(appid) = &self.appid {
                        if &decrypted.appid != appid {
                            // A wrong key can still unpad by chance; the appid tells.
                            last_error = format!(
                                "the decrypted message is for appid {:?}, not this account",
                                decrypted.appid
                            );
                            continue;
                        }
                    }
                    return Ok((decrypted.message, index > 0));
                }
                Err(err) => last_error = err.to_string(),
            }
        }
        Err(Rejection::BadRequest(format!(
            "cannot decrypt: {last_error}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(key: Option<&str>) -> CollectorConfig {
        let mut text = String::from("token = \"AAAAA\"\nappid = \"wx5823bf96d3bd56c7\"\n");
        if let Some(key) = key {
            text.push_str(&format!("encoding_aes_key = \"{key}\"\n"));
        }
        CollectorConfig::parse(&text, |_| None).unwrap()
    }

    /// wechat-spec.md V1: the official URL verification example.
    #[test]
    fn url_verification_echoes_echostr_for_the_official_example() {
        let protocol = Protocol::new(&config(None)).unwrap();
        let query = CallbackQuery {
            signature: Some("f464b24fc39322e44b38aa78f5edd27bd1441696".into()),
            timestamp: Some("1714036504".into()),
            nonce: Some("1514711492".into()),
            echostr: Some("4375120948345356249".into()),
            ..Default::default()
        };
        assert_eq!(
            protocol.verify_url(&query, 1_714_036_504 + 10).unwrap(),
            "4375120948345356249"
        );
        assert_eq!(
            protocol.verify_url(&query, 1_714_036_504 + 3600),
            Err(Rejection::Forbidden("replay_window"))
        );
        let tampered = CallbackQuery {
            nonce: Some("1514711493".into()),
            ..query
        };
        assert_eq!(
            protocol.verify_url(&tampered, 1_714_036_504),
            Err(Rejection::Forbidden("bad_signature"))
        );
    }
}
