//! The qa job: flags on bad agent replies. Its detectors work on the normalised
//! matching view (`text::normalize`) and report spans in the original text.

pub mod privacy;
