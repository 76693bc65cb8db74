//! The batch jobs: each a function from input tables to output tables, with a pure core
//! the tests drive directly and a short `run` that reads a date, calls it and replaces
//! that date's partition.

pub mod distinct;
pub mod qa;
pub mod segment;
pub mod sla;
pub mod tags;
pub mod topics;
