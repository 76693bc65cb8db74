//! The topics job: term and category counts per day, their trend against the previous
//! week, and the day's most asked questions.

mod job;
mod questions;
mod taxonomy;
mod trend;

pub use job::{
    count_day, run_range, topic_rows, DayCounts, DayMessage, TopicsSection, TopicsSummary,
};
pub use questions::{is_question, top_questions, QuestionSettings};
pub use taxonomy::{Category, Taxonomy};
pub use trend::{assess, Trend, TrendSettings};
