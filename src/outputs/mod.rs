//! What kefu hands to people: reports and exports. Everything that leaves the store for
//! a person goes through `mask` first.

pub mod export;
pub mod mask;
pub mod push;
pub mod report;
