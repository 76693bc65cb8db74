//! The sla job: sessions, turns and response times (DESIGN.md's SLA rules), in wall
//! clock and business time.

pub mod calendar;
pub mod daily;
pub mod job;
pub mod turns;

pub use job::{cut, latest_event_ms, run, run_range, sessions_and_turns, SlaConfig, SlaSummary};
