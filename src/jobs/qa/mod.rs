//! The qa job: flags on bad agent replies. Rules (`pipelines/rules/qa.toml`) match the
//! normalised matching view (`text::normalize`); flags report spans of the original
//! text, the folds the match needed, and the rules' version.

pub mod deflection;
pub mod matcher;
pub mod privacy;
pub mod rules;

pub use matcher::{Cancelled, Check, Hit};
pub use rules::{Category, Rules, Severity};
