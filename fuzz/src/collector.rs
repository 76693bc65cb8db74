#[path = "../../src/collector/crypto.rs"]
pub mod crypto;
#[path = "../../src/collector/message.rs"]
pub mod message;
