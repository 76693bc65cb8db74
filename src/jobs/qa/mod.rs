//! The qa job: flags on bad agent replies. Rules (`pipelines/rules/qa.toml`) match the
//! normalised matching view (`text::normalize`); flags report spans of the original
//! text, the folds the match needed, and the rules' version.

pub mod deflection;
pub mod job;
pub mod matcher;
pub mod privacy;
pub mod reviews;
pub mod rules;

pub use job::{flag_replies, hits_of_replies, run, QaSummary, ReplyHits};
pub use matcher::{Cancelled, Check, Hit};
pub use reviews::Reviews;
pub use rules::{Category, Rules, Severity};
