//! Decrypting arbitrary `<Encrypt>` text never panics, and whatever is encrypted comes
//! back unchanged.
#![no_main]

use kefu_fuzz::collector::crypto::{decrypt, encrypt, AesKey};
use libfuzzer_sys::fuzz_target;

const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";

fuzz_target!(|data: &[u8]| {
    let key = AesKey::from_encoding_aes_key(KEY).expect("a valid key");
    let text = String::from_utf8_lossy(data);
    let _ = decrypt(&key, &text);
    let encrypted = encrypt(&key, &text, "wx5823bf96d3bd56c7", [b'a'; 16]);
    let decrypted = decrypt(&key, &encrypted).expect("own ciphertext decrypts");
    assert_eq!(decrypted.message, text);
    assert_eq!(decrypted.appid, "wx5823bf96d3bd56c7");
});
