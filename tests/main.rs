//! One integration-test binary (DuckDB and polars are linked once); one module per area.

mod cli;
mod collector;
mod common;
mod fake_wechat;
mod fake_wechat_spec;
mod gen;
mod import;
mod properties;
mod pull;
mod push;
mod qa;
mod report;
mod segment;
mod sla;
mod sql;
mod store;
mod tags;
mod topics;
