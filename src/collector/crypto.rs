//! WeChat callback signatures and message encryption: the WXBizMsgCrypt scheme
//! (wechat-spec.md §1.4–1.6), AES-256-CBC with WeChat's own padding and layout.
//!
//! Pure functions, no I/O. The callback handler checks `signature` or `msg_signature`
//! with [`signature_matches`], opens `<Encrypt>` with [`decrypt`], checks the AppID with
//! [`Decrypted::check_appid`], and seals a reply with [`encrypt_with_fresh_random`] and
//! [`signature`]. Every vector of spec §1.9 is a test at the bottom of this file.

use std::fmt;

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::Engine;
use rand::distr::Alphanumeric;
use rand::Rng;
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

/// WeChat pads PKCS#7-style to the key length (32), not to the AES block size (16), so
/// pad values run 1..=32 and the `cbc` crate's `Pkcs7` rejects real messages (V9 has
/// pad 22). Padding is therefore added and stripped here by hand.
const PAD_BLOCK: usize = 32;
/// Length of the random prefix of the plaintext.
const RANDOM_LEN: usize = 16;
/// Random prefix plus the 4-byte big-endian message length.
const HEADER_LEN: usize = RANDOM_LEN + 4;
/// Length of an EncodingAESKey as the WeChat console shows it.
const ENCODING_AES_KEY_LEN: usize = 43;

/// Standard base64 that tolerates non-zero trailing bits. EncodingAESKeys usually end in
/// such bits (`…ABCDEFG` + `=`), which the crate's strict `STANDARD` engine rejects
/// with `InvalidLastSymbol`; the official samples decode leniently. `Encrypt` texts use
/// it too, for the same parity: tampering is caught by `msg_signature`, not by base64.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// Why a key or an `Encrypt` text was refused. `BadKey` is a configuration error;
/// `BadBase64` and `BadCiphertextLength` are malformed input whatever the key; a wrong
/// key surfaces as `BadPadding`, `BadLength` or `NotUtf8`, depending on where the
/// garbage first shows, so during key rotation retry the previous key on those three.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The configured EncodingAESKey is unusable; the reason never includes the key.
    #[error("bad EncodingAESKey: {0}")]
    BadKey(String),
    #[error("the Encrypt text is not base64")]
    BadBase64(#[source] base64::DecodeError),
    /// AES-CBC needs a positive multiple of 16 bytes.
    #[error("the ciphertext is {0} bytes, not a positive multiple of 16")]
    BadCiphertextLength(usize),
    /// The last plaintext byte is not a valid pad (1..=32, all pad bytes equal); the
    /// usual result of a wrong key or a tampered ciphertext.
    #[error("bad padding after decryption (wrong key or tampered ciphertext)")]
    BadPadding,
    /// The declared layout does not fit in the plaintext.
    #[error("the plaintext is {have} bytes but its layout needs {need}")]
    BadLength { need: usize, have: usize },
    /// Names the part: "message" or "appid".
    #[error("the decrypted {0} is not UTF-8")]
    NotUtf8(&'static str),
    #[error("the message is for appid {found:?}, not {expected:?}")]
    AppidMismatch { expected: String, found: String },
}

/// SHA-1 hex (lowercase) of the parts sorted as whole strings and joined without a
/// separator. URL verification and plain POSTs sign `[token, timestamp, nonce]`; safe
/// mode signs `[token, timestamp, nonce, encrypt]` with the Encrypt text exactly as
/// received, and a reply signs its own `[token, TimeStamp, Nonce, Encrypt]`.
pub fn signature(parts: &[&str]) -> String {
    let mut sorted = parts.to_vec();
    // `str` orders bytewise, which is WeChat's order for these ASCII strings; an
    // Encrypt text starting with `+` sorts first (V8).
    sorted.sort_unstable();
    let mut hasher = Sha1::new();
    for part in sorted {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Whether `expected_hex` is the [`signature`] of `parts`. Compared in constant time
/// (hygiene, not a WeChat requirement) and case-insensitively: WeChat sends lowercase,
/// and uppercase hex names the same digest.
pub fn signature_matches(expected_hex: &str, parts: &[&str]) -> bool {
    let actual = signature(parts);
    let expected = expected_hex.to_ascii_lowercase();
    actual.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// The 32-byte AES key behind an EncodingAESKey; the IV is its first 16 bytes.
/// `Debug` prints `AesKey(..)` so the key cannot reach a log.
#[derive(Clone)]
pub struct AesKey([u8; 32]);

impl AesKey {
    /// Parses the 43-character EncodingAESKey from the WeChat console:
    /// `base64_decode(key + "=")`, exactly 32 bytes. The text is taken as given (trim
    /// a trailing newline when reading it from a file).
    pub fn from_encoding_aes_key(encoding_aes_key: &str) -> Result<AesKey, CryptoError> {
        if encoding_aes_key.len() != ENCODING_AES_KEY_LEN {
            return Err(CryptoError::BadKey(format!(
                "expected {ENCODING_AES_KEY_LEN} characters, got {}",
                encoding_aes_key.len()
            )));
        }
        let bytes = LENIENT
            .decode(format!("{encoding_aes_key}="))
            .map_err(|_| CryptoError::BadKey("not base64".to_owned()))?;
        // 43 characters plus "=" always decode to 32 bytes; checked rather than trusted.
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| CryptoError::BadKey("does not decode to 32 bytes".to_owned()))?;
        Ok(AesKey(key))
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.0[..16]);
        iv
    }
}

impl fmt::Debug for AesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesKey(..)")
    }
}

/// An opened `Encrypt` text: the inner XML or JSON body, and the receive id it was
/// sealed for (the AppID for an Official Account, the CorpID for WeCom).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    /// Kept byte for byte, line breaks included (the official samples contain `\n`).
    pub message: String,
    pub appid: String,
}

impl Decrypted {
    /// Refuses a message sealed for another account (the official samples' -40005):
    /// the key alone does not prove the message is ours if accounts share a key.
    pub fn check_appid(&self, expected: &str) -> Result<(), CryptoError> {
        if self.appid == expected {
            Ok(())
        } else {
            Err(CryptoError::AppidMismatch {
                expected: expected.to_owned(),
                found: self.appid.clone(),
            })
        }
    }
}

/// Opens an `Encrypt` text: base64 → AES-256-CBC → strip the 32-block padding → split
/// `random(16) | msg_len(u32 BE) | msg | appid`. Does not check the signature or the
/// AppID; do both.
pub fn decrypt(key: &AesKey, encrypt_b64: &str) -> Result<Decrypted, CryptoError> {
    let ciphertext = LENIENT
        .decode(encrypt_b64)
        .map_err(CryptoError::BadBase64)?;
    let plaintext = decrypt_blocks(key, &ciphertext)?;
    let full = strip_padding(&plaintext)?;
    let Layout { message, appid, .. } = split_full(full)?;
    Ok(Decrypted {
        message: String::from_utf8(message.to_vec())
            .map_err(|_| CryptoError::NotUtf8("message"))?,
        appid: String::from_utf8(appid.to_vec()).map_err(|_| CryptoError::NotUtf8("appid"))?,
    })
}

/// Seals `message` for `appid` with a caller-chosen random prefix, which makes the
/// output reproducible for the test vectors; replies use [`encrypt_with_fresh_random`].
///
/// # Panics
/// If `message` is 4 GiB or longer (its length must fit the u32 header); WeChat
/// messages are a few kilobytes.
pub fn encrypt(key: &AesKey, message: &str, appid: &str, random16: [u8; 16]) -> String {
    let msg_len = u32::try_from(message.len()).expect("a WeChat message is shorter than 4 GiB");
    let mut full = Vec::with_capacity(HEADER_LEN + message.len() + appid.len() + PAD_BLOCK);
    full.extend_from_slice(&random16);
    full.extend_from_slice(&msg_len.to_be_bytes());
    full.extend_from_slice(message.as_bytes());
    full.extend_from_slice(appid.as_bytes());
    // 1..=32: an aligned plaintext gets a whole block of 32s, so stripping is unambiguous.
    let pad = PAD_BLOCK - full.len() % PAD_BLOCK;
    // pad ≤ 32, so the cast is exact.
    full.resize(full.len() + pad, pad as u8);
    let ciphertext = Aes256CbcEnc::new(&key.0.into(), &key.iv().into())
        .encrypt_padded_vec_mut::<NoPadding>(&full);
    STANDARD.encode(ciphertext)
}

/// [`encrypt`] with a fresh random prefix. The prefix is 16 ASCII alphanumerics, as in
/// the official samples: any bytes are legal, but this is what every decoder has seen.
pub fn encrypt_with_fresh_random(key: &AesKey, message: &str, appid: &str) -> String {
    let mut rng = rand::rng();
    let mut random16 = [0u8; RANDOM_LEN];
    for byte in &mut random16 {
        *byte = rng.sample(Alphanumeric);
    }
    encrypt(key, message, appid, random16)
}

/// AES-256-CBC without padding; the caller strips WeChat's padding.
fn decrypt_blocks(key: &AesKey, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(16) {
        return Err(CryptoError::BadCiphertextLength(ciphertext.len()));
    }
    Aes256CbcDec::new(&key.0.into(), &key.iv().into())
        .decrypt_padded_vec_mut::<NoPadding>(ciphertext)
        .map_err(|_| CryptoError::BadCiphertextLength(ciphertext.len()))
}

/// Removes the 1..=32 pad bytes, checking that they all carry the pad value. (wechatpy
/// trusts the last byte blindly; checking catches most wrong keys here.)
fn strip_padding(plaintext: &[u8]) -> Result<&[u8], CryptoError> {
    let pad = usize::from(*plaintext.last().ok_or(CryptoError::BadPadding)?);
    if pad == 0 || pad > PAD_BLOCK || pad > plaintext.len() {
        return Err(CryptoError::BadPadding);
    }
    let (full, padding) = plaintext.split_at(plaintext.len() - pad);
    if padding.iter().any(|&byte| usize::from(byte) != pad) {
        return Err(CryptoError::BadPadding);
    }
    Ok(full)
}

/// The parts of an unpadded plaintext.
#[derive(Debug, PartialEq, Eq)]
struct Layout<'a> {
    random: &'a [u8],
    message: &'a [u8],
    appid: &'a [u8],
}

/// Splits `random(16) | msg_len(u32 BE) | msg | appid`, checking lengths before slicing.
fn split_full(full: &[u8]) -> Result<Layout<'_>, CryptoError> {
    if full.len() < HEADER_LEN {
        return Err(CryptoError::BadLength {
            need: HEADER_LEN,
            have: full.len(),
        });
    }
    let (random, rest) = full.split_at(RANDOM_LEN);
    let (len_bytes, rest) = rest.split_at(4);
    let msg_len = u32::from_be_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
    // u32 → usize is lossless on the 32- and 64-bit targets kefu builds for.
    let msg_len = msg_len as usize;
    if msg_len > rest.len() {
        return Err(CryptoError::BadLength {
            need: HEADER_LEN.saturating_add(msg_len),
            have: full.len(),
        });
    }
    let (message, appid) = rest.split_at(msg_len);
    Ok(Layout {
        random,
        message,
        appid,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// Spec §1.9, verbatim copy of /work/shared/wechat-test-vectors.json.
    const VECTORS: &str = include_str!("../../fixtures/wechat-test-vectors.json");

    /// Every field a vector may carry. A new field fails the test until it is checked.
    const KNOWN_FIELDS: [&str; 25] = [
        "id",
        "kind",
        "source",
        "note",
        "token",
        "timestamp",
        "nonce",
        "echostr",
        "expected_signature",
        "encoding_aes_key",
        "receive_id",
        "random",
        "plaintext",
        "expected_encrypt",
        "expected_decryption",
        "msg_signature",
        "url_signature",
        "encrypt",
        "reply_plaintext",
        "reply_random",
        "reply_timestamp",
        "reply_nonce",
        "expected_reply_encrypt",
        "expected_reply_msg_signature",
        "negative",
    ];
    const KNOWN_DECRYPTION_FIELDS: [&str; 7] = [
        "ct_bytes",
        "full_bytes",
        "pad",
        "random",
        "msg_len",
        "msg",
        "receive_id",
    ];

    const ZERO_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const SAMPLE_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    /// One vector under check; collects failures so one run reports all of them.
    struct Check<'a> {
        vector: &'a Value,
        id: &'a str,
        failures: &'a mut Vec<String>,
    }

    impl<'a> Check<'a> {
        fn fail(&mut self, what: String) {
            self.failures.push(format!("{}: {what}", self.id));
        }

        fn field(&mut self, name: &str) -> Option<&'a str> {
            let value = self.vector.get(name).and_then(Value::as_str);
            if value.is_none() {
                self.fail(format!("missing string field {name}"));
            }
            value
        }

        fn optional(&self, name: &str) -> Option<&'a str> {
            self.vector.get(name).and_then(Value::as_str)
        }

        fn eq<T: PartialEq + fmt::Debug>(&mut self, what: &str, got: T, want: T) {
            if got != want {
                self.fail(format!("{what}: got {got:?}, want {want:?}"));
            }
        }

        fn key(&mut self) -> Option<AesKey> {
            let text = self.field("encoding_aes_key")?;
            match AesKey::from_encoding_aes_key(text) {
                Ok(key) => Some(key),
                Err(err) => {
                    self.fail(format!("key: {err}"));
                    None
                }
            }
        }

        fn random16(&mut self, name: &str) -> Option<[u8; 16]> {
            let text = self.field(name)?;
            let random: Option<[u8; 16]> = text.as_bytes().try_into().ok();
            if random.is_none() {
                self.fail(format!("{name} is not 16 bytes"));
            }
            random
        }
    }

    fn load_vectors() -> Vec<Value> {
        let parsed: Value = serde_json::from_str(VECTORS).expect("vectors are JSON");
        parsed.as_array().expect("vectors are a JSON array").clone()
    }

    /// `[token, timestamp, nonce]` against `field`.
    fn check_url_signature(c: &mut Check, field: &str) {
        let (Some(token), Some(timestamp), Some(nonce), Some(expected)) = (
            c.field("token"),
            c.field("timestamp"),
            c.field("nonce"),
            c.field(field),
        ) else {
            return;
        };
        c.eq(
            field,
            signature(&[token, timestamp, nonce]),
            expected.to_owned(),
        );
        c.eq(
            "signature_matches",
            signature_matches(expected, &[token, timestamp, nonce]),
            true,
        );
    }

    /// Fixed-random encryption reproduces `expected_encrypt` byte for byte.
    fn check_fixed_encrypt(c: &mut Check) {
        let (Some(key), Some(random), Some(plaintext), Some(appid), Some(expected)) = (
            c.key(),
            c.random16("random"),
            c.field("plaintext"),
            c.field("receive_id"),
            c.field("expected_encrypt"),
        ) else {
            return;
        };
        c.eq(
            "encrypt",
            encrypt(&key, plaintext, appid, random),
            expected.to_owned(),
        );
        check_decryption(c, &key, expected);
    }

    /// `msg_signature` over the inbound Encrypt, then the decryption details.
    fn check_inbound(c: &mut Check) {
        let (
            Some(key),
            Some(token),
            Some(timestamp),
            Some(nonce),
            Some(msg_signature),
            Some(encrypt_b64),
        ) = (
            c.key(),
            c.field("token"),
            c.field("timestamp"),
            c.field("nonce"),
            c.field("msg_signature"),
            c.field("encrypt"),
        )
        else {
            return;
        };
        let parts = [token, timestamp, nonce, encrypt_b64];
        c.eq("msg_signature", signature(&parts), msg_signature.to_owned());
        c.eq(
            "msg_signature matches",
            signature_matches(msg_signature, &parts),
            true,
        );
        check_decryption(c, &key, encrypt_b64);
    }

    /// Every number of `expected_decryption`, through the private steps, then the
    /// public `decrypt` and `check_appid`.
    fn check_decryption(c: &mut Check, key: &AesKey, encrypt_b64: &str) {
        let Some(want) = c.vector.get("expected_decryption") else {
            c.fail("missing expected_decryption".to_owned());
            return;
        };
        for name in want.as_object().map(|o| o.keys()).into_iter().flatten() {
            if !KNOWN_DECRYPTION_FIELDS.contains(&name.as_str()) {
                c.fail(format!("unchecked expected_decryption field {name}"));
            }
        }
        let number = |name: &str| want.get(name).and_then(Value::as_u64).map(|n| n as usize);
        let text = |name: &str| want.get(name).and_then(Value::as_str);

        let ciphertext = LENIENT
            .decode(encrypt_b64)
            .expect("vector Encrypt is base64");
        c.eq("ct_bytes", Some(ciphertext.len()), number("ct_bytes"));
        let plaintext = match decrypt_blocks(key, &ciphertext) {
            Ok(plaintext) => plaintext,
            Err(err) => return c.fail(format!("decrypt_blocks: {err}")),
        };
        c.eq(
            "pad",
            plaintext.last().map(|&b| usize::from(b)),
            number("pad"),
        );
        let full = match strip_padding(&plaintext) {
            Ok(full) => full,
            Err(err) => return c.fail(format!("strip_padding: {err}")),
        };
        c.eq("full_bytes", Some(full.len()), number("full_bytes"));
        match split_full(full) {
            Ok(Layout {
                random,
                message,
                appid,
            }) => {
                c.eq("random", Some(random), text("random").map(str::as_bytes));
                c.eq("msg_len", Some(message.len()), number("msg_len"));
                c.eq("msg", Some(message), text("msg").map(str::as_bytes));
                c.eq(
                    "receive_id",
                    Some(appid),
                    text("receive_id").map(str::as_bytes),
                );
            }
            Err(err) => c.fail(format!("split_full: {err}")),
        }
        match decrypt(key, encrypt_b64) {
            Ok(decrypted) => {
                c.eq("message", Some(decrypted.message.as_str()), text("msg"));
                if let Some(receive_id) = c.field("receive_id") {
                    c.eq("appid", decrypted.appid.as_str(), receive_id);
                    c.eq("check_appid", decrypted.check_appid(receive_id), Ok(()));
                }
            }
            Err(err) => c.fail(format!("decrypt: {err}")),
        }
    }

    /// Fields that may accompany any kind: the URL signature of a safe-mode request,
    /// the reply encryption and its signature, and a negative signature case.
    fn check_extras(c: &mut Check) {
        if c.optional("url_signature").is_some() {
            check_url_signature(c, "url_signature");
        }
        if c.optional("expected_reply_encrypt").is_some() {
            if let (Some(key), Some(random), Some(plaintext), Some(appid), Some(expected)) = (
                c.key(),
                c.random16("reply_random"),
                c.field("reply_plaintext"),
                c.field("receive_id"),
                c.field("expected_reply_encrypt"),
            ) {
                let sealed = encrypt(&key, plaintext, appid, random);
                c.eq("reply encrypt", sealed.as_str(), expected);
                match decrypt(&key, expected) {
                    Ok(opened) => {
                        c.eq("reply round trip", opened.message.as_str(), plaintext);
                        c.eq("reply appid", opened.appid.as_str(), appid);
                    }
                    Err(err) => c.fail(format!("reply decrypt: {err}")),
                }
            }
        }
        if let Some(expected) = c.optional("expected_reply_msg_signature") {
            // V8/V9 sign their reply_encrypt; V13's reply is its expected_encrypt.
            let sealed = c
                .optional("expected_reply_encrypt")
                .or_else(|| c.optional("expected_encrypt"));
            if let (Some(token), Some(timestamp), Some(nonce), Some(sealed)) = (
                c.field("token"),
                c.field("reply_timestamp"),
                c.field("reply_nonce"),
                sealed,
            ) {
                let parts = [token, timestamp, nonce, sealed];
                c.eq(
                    "reply msg_signature",
                    signature(&parts),
                    expected.to_owned(),
                );
            } else {
                c.fail("reply signature without its inputs".to_owned());
            }
        }
        if let Some(negative) = c.optional("negative") {
            // The only negative form so far: "... with nonce N must fail ...".
            let bad_nonce = negative
                .split("nonce ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next());
            if let (
                Some(bad_nonce),
                Some(token),
                Some(timestamp),
                Some(nonce),
                Some(expected),
                Some(encrypt_b64),
            ) = (
                bad_nonce,
                c.field("token"),
                c.field("timestamp"),
                c.field("nonce"),
                c.field("msg_signature"),
                c.field("encrypt"),
            ) {
                c.eq("negative nonce differs", bad_nonce != nonce, true);
                c.eq(
                    "negative signature matches",
                    signature_matches(expected, &[token, timestamp, bad_nonce, encrypt_b64]),
                    false,
                );
            } else {
                c.fail(format!("unrecognised negative {negative:?}"));
            }
        }
    }

    #[test]
    fn every_spec_vector_passes() {
        let vectors = load_vectors();
        let mut failures = Vec::new();
        let mut checked = Vec::new();
        for vector in &vectors {
            let id = vector.get("id").and_then(Value::as_str).unwrap_or("?");
            let mut c = Check {
                vector,
                id,
                failures: &mut failures,
            };
            for name in vector.as_object().map(|o| o.keys()).into_iter().flatten() {
                if !KNOWN_FIELDS.contains(&name.as_str()) {
                    c.fail(format!("unchecked field {name}"));
                }
            }
            let Some(kind) = c.field("kind") else {
                continue;
            };
            // V10's kind carries a parenthetical note; the kind proper is its first word.
            match kind.split_whitespace().next().unwrap_or("") {
                "url_verify_signature" | "plain_post_signature" => {
                    check_url_signature(&mut c, "expected_signature")
                }
                "encrypt_fixed_random" => check_fixed_encrypt(&mut c),
                "decrypt"
                | "decrypt_compat_mode_body"
                | "decrypt_safe_mode_json"
                | "decrypt_safe_mode_xml"
                | "decrypt_encrypted_echostr"
                | "encrypted_echostr" => check_inbound(&mut c),
                _ => {
                    c.fail(format!("unknown kind {kind:?}"));
                    continue;
                }
            }
            check_extras(&mut c);
            checked.push(id.to_owned());
        }
        assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
        let want: Vec<String> = (1..=14).map(|n| format!("V{n}")).collect();
        assert_eq!(checked, want);
    }

    fn sample_key() -> AesKey {
        AesKey::from_encoding_aes_key(SAMPLE_KEY).expect("sample key parses")
    }

    /// V6's Encrypt text (official Python sample, key SAMPLE_KEY, pad 2).
    fn v6_encrypt() -> String {
        let vectors = load_vectors();
        vectors[5]["encrypt"]
            .as_str()
            .expect("V6 encrypt")
            .to_owned()
    }

    #[test]
    fn round_trip_restores_message_and_appid_for_every_pad_value() {
        let key = sample_key();
        let appid = "wx0123456789abcdef";
        let mut pads_seen = [false; PAD_BLOCK + 1];
        for len in 0..=70 {
            let message = "消".repeat(len / 3) + &"x".repeat(len % 3);
            let sealed = encrypt_with_fresh_random(&key, &message, appid);
            let ciphertext = STANDARD.decode(&sealed).expect("our output is base64");
            let plaintext = decrypt_blocks(&key, &ciphertext).expect("decrypts");
            pads_seen[usize::from(*plaintext.last().expect("not empty"))] = true;
            let opened = decrypt(&key, &sealed).expect("round trip");
            assert_eq!(opened.message, message);
            assert_eq!(opened.appid, appid);
            assert_eq!(opened.check_appid(appid), Ok(()));
        }
        assert!(
            pads_seen[1..].iter().all(|&seen| seen),
            "pads 1..=32 all occur"
        );
    }

    #[test]
    fn aligned_plaintext_gets_a_whole_block_of_padding() {
        let key = sample_key();
        // 20-byte header + 26 + 18-byte appid = 64, a multiple of 32.
        let sealed = encrypt(&key, &"a".repeat(26), "wx0123456789abcdef", [b'r'; 16]);
        let ciphertext = STANDARD.decode(&sealed).expect("base64");
        assert_eq!(ciphertext.len(), 96);
        let plaintext = decrypt_blocks(&key, &ciphertext).expect("decrypts");
        assert!(plaintext[64..].iter().all(|&b| b == 32));
    }

    #[test]
    fn fresh_random_prefix_is_alphanumeric_and_differs() {
        let key = sample_key();
        let first = encrypt_with_fresh_random(&key, "hi", "wx1");
        let second = encrypt_with_fresh_random(&key, "hi", "wx1");
        assert_ne!(first, second);
        let plaintext =
            decrypt_blocks(&key, &STANDARD.decode(&first).expect("base64")).expect("decrypts");
        assert!(plaintext[..16].iter().all(u8::is_ascii_alphanumeric));
    }

    #[test]
    fn wrong_key_is_an_error_not_a_panic() {
        let encrypt_b64 = v6_encrypt();
        let zero_key = AesKey::from_encoding_aes_key(ZERO_KEY).expect("zero key parses");
        assert!(decrypt(&zero_key, &encrypt_b64).is_err());
        for _ in 0..200 {
            let mut rng = rand::rng();
            let text: String = (0..ENCODING_AES_KEY_LEN)
                .map(|_| char::from(rng.sample(Alphanumeric)))
                .collect();
            let key = AesKey::from_encoding_aes_key(&text).expect("random key parses");
            assert!(decrypt(&key, &encrypt_b64).is_err());
        }
    }

    #[test]
    fn tampered_ciphertext_fails_signature_and_decryption() {
        let key = sample_key();
        let original = LENIENT.decode(v6_encrypt()).expect("base64");

        // Flipping bit 0 of the second-to-last block flips bit 0 of the last plaintext
        // byte: pad 2 becomes 3, which the pad bytes do not repeat.
        let mut tail = original.clone();
        let at = tail.len() - 17;
        tail[at] ^= 0x01;
        let tampered = STANDARD.encode(&tail);
        assert_eq!(decrypt(&key, &tampered), Err(CryptoError::BadPadding));
        assert!(!signature_matches(
            "5d197aaffba7e9b25a30732f161a50dee96bd5fa",
            &["spamtest", "1409735669", "1320562132", &tampered],
        ));

        // Flipping the top bit of the first block flips the top bit of msg_len.
        let mut head = original;
        head[0] ^= 0x80;
        assert!(matches!(
            decrypt(&key, &STANDARD.encode(&head)),
            Err(CryptoError::BadLength { .. })
        ));
    }

    #[test]
    fn truncated_or_broken_base64_is_refused() {
        let key = sample_key();
        let encrypt_b64 = v6_encrypt();
        let short_by_one = &encrypt_b64[..encrypt_b64.len() - 1];
        assert!(matches!(
            decrypt(&key, short_by_one),
            Err(CryptoError::BadBase64(_))
        ));
        let short_by_quad = &encrypt_b64[..encrypt_b64.len() - 4];
        assert_eq!(
            decrypt(&key, short_by_quad),
            Err(CryptoError::BadCiphertextLength(318))
        );
        assert_eq!(decrypt(&key, ""), Err(CryptoError::BadCiphertextLength(0)));
        assert!(matches!(
            decrypt(&key, "not base64!"),
            Err(CryptoError::BadBase64(_))
        ));
    }

    #[test]
    fn padding_must_be_1_to_32_equal_bytes() {
        let mut block = vec![b'x'; 64];
        *block.last_mut().expect("not empty") = 0;
        assert_eq!(strip_padding(&block), Err(CryptoError::BadPadding));
        *block.last_mut().expect("not empty") = 33;
        assert_eq!(strip_padding(&block), Err(CryptoError::BadPadding));
        *block.last_mut().expect("not empty") = 2;
        assert_eq!(strip_padding(&block), Err(CryptoError::BadPadding));
        block[62] = 2;
        assert_eq!(strip_padding(&block).map(<[u8]>::len), Ok(62));
        assert_eq!(strip_padding(&[]), Err(CryptoError::BadPadding));
    }

    #[test]
    fn short_plaintext_is_a_length_error() {
        assert_eq!(
            split_full(&[0u8; 19]),
            Err(CryptoError::BadLength { need: 20, have: 19 })
        );
        let mut full = vec![0u8; 16];
        full.extend_from_slice(&5u32.to_be_bytes());
        full.extend_from_slice(b"abc");
        assert_eq!(
            split_full(&full),
            Err(CryptoError::BadLength { need: 25, have: 23 })
        );
    }

    #[test]
    fn bad_encoding_aes_keys_are_refused() {
        for text in [
            "",
            &SAMPLE_KEY[..42],
            &format!("{SAMPLE_KEY}="),
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF!",
            "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF=",
        ] {
            assert!(
                matches!(
                    AesKey::from_encoding_aes_key(text),
                    Err(CryptoError::BadKey(_))
                ),
                "{text:?}"
            );
        }
    }

    #[test]
    fn zero_key_decodes_to_zero_bytes_and_sample_key_needs_leniency() {
        let zero = AesKey::from_encoding_aes_key(ZERO_KEY).expect("parses");
        assert_eq!(zero.0, [0u8; 32]);
        // The reason for LENIENT: the strict engine refuses the official sample key.
        assert!(STANDARD.decode(format!("{SAMPLE_KEY}=")).is_err());
        assert_eq!(sample_key().iv(), sample_key().0[..16]);
    }

    #[test]
    fn signature_mismatch_is_false_and_case_is_ignored() {
        let parts = ["AAAAA", "1714036504", "1514711492"];
        let good = "f464b24fc39322e44b38aa78f5edd27bd1441696";
        assert!(signature_matches(good, &parts));
        assert!(signature_matches(&good.to_ascii_uppercase(), &parts));
        assert!(!signature_matches(
            "f464b24fc39322e44b38aa78f5edd27bd1441697",
            &parts
        ));
        assert!(!signature_matches(&good[..39], &parts));
        assert!(!signature_matches("", &parts));
        assert!(!signature_matches(
            good,
            &["AAAAA", "1714036504", "1514711493"]
        ));
        // Order of the inputs does not matter: they are sorted.
        assert!(signature_matches(
            good,
            &["1514711492", "AAAAA", "1714036504"]
        ));
    }

    #[test]
    fn appid_mismatch_is_reported() {
        let opened = decrypt(&sample_key(), &v6_encrypt()).expect("V6 decrypts");
        assert_eq!(
            opened.check_appid("wx0000000000000000"),
            Err(CryptoError::AppidMismatch {
                expected: "wx0000000000000000".to_owned(),
                found: "wx2c2769f8efd9abc2".to_owned(),
            })
        );
    }

    #[test]
    fn debug_of_aes_key_does_not_leak() {
        let key = sample_key();
        let shown = format!("{key:?} {key:#?}");
        assert_eq!(format!("{key:?}"), "AesKey(..)");
        assert!(!shown.contains(&hex::encode(key.0)));
        assert!(!shown.contains("abcdef"));
        let error = AesKey::from_encoding_aes_key(&SAMPLE_KEY[..42]).expect_err("too short");
        assert!(!error.to_string().contains("abcdef"));
    }
}
