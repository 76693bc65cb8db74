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
#[path = "crypto_tests.rs"]
mod tests;
