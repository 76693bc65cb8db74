//! kefu: WeChat Official Account customer-service conversations → nightly reports, QA
//! flags on bad agent replies, and user tags pushed back to WeChat.
//!
//! Data flows one way: `collector` (and `gen`) → `store` → jobs → outputs; `sql` reads
//! the store through DuckDB. `commands` is the shell behind the `kefu` binary.

pub mod cli;
pub mod collector;
pub mod commands;
pub mod config;
pub mod error;
pub mod gen;
pub mod jobs;
pub mod model;
pub mod outputs;
pub mod sql;
pub mod store;
pub mod text;
pub mod wechat;
