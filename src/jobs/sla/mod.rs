//! The sla job: sessions, turns and response times (DESIGN.md's SLA rules), in wall
//! clock and business time.

pub mod calendar;
pub mod daily;
pub mod turns;
