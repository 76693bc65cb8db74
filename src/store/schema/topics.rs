//! The topics job's tables: `topics` and `top_questions` (DESIGN.md); `dt` is the path's.

use std::sync::{Arc, LazyLock};

use anyhow::{Context, Result};
use arrow::array::{ArrayRef, BooleanArray, Float64Array, RecordBatch, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::model::{TopQuestion, TopicRow};

static TOPICS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("term", DataType::Utf8, true),
        Field::new("category", DataType::Utf8, true),
        Field::new("count", DataType::UInt32, false),
        Field::new("users", DataType::UInt32, false),
        Field::new("rank", DataType::UInt32, false),
        Field::new("score", DataType::Float64, true),
        Field::new("trend", DataType::Float64, true),
        Field::new("rising", DataType::Boolean, false),
    ]))
});

static TOP_QUESTIONS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("example", DataType::Utf8, false),
        Field::new("count", DataType::UInt32, false),
        Field::new("users", DataType::UInt32, false),
        Field::new("category", DataType::Utf8, true),
    ]))
});

pub fn topics_schema() -> SchemaRef {
    TOPICS_SCHEMA.clone()
}

pub fn top_questions_schema() -> SchemaRef {
    TOP_QUESTIONS_SCHEMA.clone()
}

pub fn topics_to_batch(rows: &[TopicRow]) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            rows.iter()
                .map(|r| r.term.as_deref())
                .collect::<StringArray>(),
        ),
        Arc::new(
            rows.iter()
                .map(|r| r.category.as_deref())
                .collect::<StringArray>(),
        ),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.count))),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.users))),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.rank))),
        Arc::new(rows.iter().map(|r| r.score).collect::<Float64Array>()),
        Arc::new(rows.iter().map(|r| r.trend).collect::<Float64Array>()),
        Arc::new(
            rows.iter()
                .map(|r| Some(r.rising))
                .collect::<BooleanArray>(),
        ),
    ];
    RecordBatch::try_new(topics_schema(), columns).context("building a topics batch")
}

pub fn top_questions_to_batch(rows: &[TopQuestion]) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            rows.iter()
                .map(|r| Some(r.example.as_str()))
                .collect::<StringArray>(),
        ),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.count))),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.users))),
        Arc::new(
            rows.iter()
                .map(|r| r.category.as_deref())
                .collect::<StringArray>(),
        ),
    ];
    RecordBatch::try_new(top_questions_schema(), columns).context("building a top_questions batch")
}
