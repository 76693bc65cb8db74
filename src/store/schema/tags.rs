//! The tags job's table: `tags` (DESIGN.md), a snapshot per date; `dt` is the path's.

use std::sync::{Arc, LazyLock};

use anyhow::{anyhow, Context, Result};
use arrow::array::{Array, ArrayRef, RecordBatch, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::{string_column, timestamp_column, timestamp_type};
use crate::model::TagAssignment;

static TAGS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let text = |name: &str| Field::new(name, DataType::Utf8, false);
    Arc::new(Schema::new(vec![
        text("openid"),
        text("tag"),
        text("rule_id"),
        text("evidence_event_id"),
        Field::new("first_seen_ts", timestamp_type(), false),
        Field::new("last_seen_ts", timestamp_type(), false),
        Field::new("expires_ts", timestamp_type(), true),
    ]))
});

pub fn tags_schema() -> SchemaRef {
    TAGS_SCHEMA.clone()
}

pub fn tags_to_batch(rows: &[TagAssignment]) -> Result<RecordBatch> {
    let strings = |get: fn(&TagAssignment) -> &str| -> ArrayRef {
        Arc::new(rows.iter().map(|r| Some(get(r))).collect::<StringArray>())
    };
    let stamps = |get: fn(&TagAssignment) -> Option<i64>| -> ArrayRef {
        Arc::new(
            rows.iter()
                .map(get)
                .collect::<TimestampMillisecondArray>()
                .with_timezone("UTC"),
        )
    };
    let columns: Vec<ArrayRef> = vec![
        strings(|r| &r.openid),
        strings(|r| &r.tag),
        strings(|r| &r.rule_id),
        strings(|r| &r.evidence_event_id),
        stamps(|r| Some(r.first_seen_ts_ms)),
        stamps(|r| Some(r.last_seen_ts_ms)),
        stamps(|r| r.expires_ts_ms),
    ];
    RecordBatch::try_new(tags_schema(), columns).context("building a tags batch")
}

/// Reads `tags` rows back (for the export and the push).
pub fn batch_to_tags(batch: &RecordBatch) -> Result<Vec<TagAssignment>> {
    let (openid, tag, rule_id, evidence) = (
        string_column(batch, "openid")?,
        string_column(batch, "tag")?,
        string_column(batch, "rule_id")?,
        string_column(batch, "evidence_event_id")?,
    );
    let (first, last, expires) = (
        timestamp_column(batch, "first_seen_ts")?,
        timestamp_column(batch, "last_seen_ts")?,
        timestamp_column(batch, "expires_ts")?,
    );
    (0..batch.num_rows())
        .map(|row| {
            if first.is_null(row) || last.is_null(row) {
                return Err(anyhow!(
                    "tags row {row} has no first_seen_ts or last_seen_ts"
                ));
            }
            Ok(TagAssignment {
                openid: openid.value(row).to_owned(),
                tag: tag.value(row).to_owned(),
                rule_id: rule_id.value(row).to_owned(),
                evidence_event_id: evidence.value(row).to_owned(),
                first_seen_ts_ms: first.value(row),
                last_seen_ts_ms: last.value(row),
                expires_ts_ms: expires.is_valid(row).then(|| expires.value(row)),
            })
        })
        .collect()
}
