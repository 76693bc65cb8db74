//! The modules under fuzz, compiled from kefu's own source files so the fuzzer tests
//! exactly the code the collector runs, without building DuckDB and polars.

#[path = "../../src/model.rs"]
pub mod model;

pub mod collector;
