//! Sources: everything that turns what WeChat (or a vendor export) sent into events of
//! the v1 schema. The callback collector (`kefu serve`) is the only async code.

pub mod callback;
pub mod config;
pub mod crypto;
pub mod import;
pub mod message;
pub mod msgrecord;
pub mod pull;
pub mod roll;
pub mod server;
pub mod wal;
