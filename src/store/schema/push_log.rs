//! The `push_log` table: one row per WeChat tag call and its result (and per intent
//! recorded before a call that creates something); `dt` is the pushed snapshot's date.

use std::sync::{Arc, LazyLock};

use anyhow::{anyhow, Context, Result};
use arrow::array::{
    Array, ArrayRef, Int64Array, ListArray, ListBuilder, RecordBatch, StringArray, StringBuilder,
    TimestampMillisecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::{string_column, timestamp_column, timestamp_type};
use crate::model::PushCall;

static PUSH_LOG_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let text = |name: &str| Field::new(name, DataType::Utf8, false);
    Arc::new(Schema::new(vec![
        Field::new("ts", timestamp_type(), false),
        text("push_id"),
        Field::new("seq", DataType::Int64, false),
        text("call"),
        text("outcome"),
        text("tag"),
        Field::new("tag_id", DataType::Int64, true),
        Field::new(
            "openids",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            false,
        ),
        Field::new("errcode", DataType::Int64, false),
        text("errmsg"),
    ]))
});

pub fn push_log_schema() -> SchemaRef {
    PUSH_LOG_SCHEMA.clone()
}

pub fn push_calls_to_batch(rows: &[PushCall]) -> Result<RecordBatch> {
    let strings = |get: fn(&PushCall) -> &str| -> ArrayRef {
        Arc::new(rows.iter().map(|r| Some(get(r))).collect::<StringArray>())
    };
    let mut openids = ListBuilder::new(StringBuilder::new()).with_field(Arc::new(Field::new(
        "item",
        DataType::Utf8,
        true,
    )));
    for row in rows {
        for openid in &row.openids {
            openids.values().append_value(openid);
        }
        openids.append(true);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            rows.iter()
                .map(|r| Some(r.ts_ms))
                .collect::<TimestampMillisecondArray>()
                .with_timezone("UTC"),
        ),
        strings(|r| &r.push_id),
        Arc::new(rows.iter().map(|r| Some(r.seq)).collect::<Int64Array>()),
        strings(|r| &r.call),
        strings(|r| &r.outcome),
        strings(|r| &r.tag),
        Arc::new(rows.iter().map(|r| r.tag_id).collect::<Int64Array>()),
        Arc::new(openids.finish()),
        Arc::new(rows.iter().map(|r| Some(r.errcode)).collect::<Int64Array>()),
        strings(|r| &r.errmsg),
    ];
    RecordBatch::try_new(push_log_schema(), columns).context("building a push_log batch")
}

pub fn batch_to_push_calls(batch: &RecordBatch) -> Result<Vec<PushCall>> {
    let int = |name: &str| -> Result<&Int64Array> {
        batch
            .column_by_name(name)
            .and_then(|column| column.as_any().downcast_ref::<Int64Array>())
            .ok_or_else(|| anyhow!("push_log batch has no int64 column {name}"))
    };
    let ts = timestamp_column(batch, "ts")?;
    let (push_id, call, outcome, tag, errmsg) = (
        string_column(batch, "push_id")?,
        string_column(batch, "call")?,
        string_column(batch, "outcome")?,
        string_column(batch, "tag")?,
        string_column(batch, "errmsg")?,
    );
    let (seq, tag_id, errcode) = (int("seq")?, int("tag_id")?, int("errcode")?);
    let lists = batch
        .column_by_name("openids")
        .and_then(|column| column.as_any().downcast_ref::<ListArray>())
        .ok_or_else(|| anyhow!("push_log batch has no list column openids"))?;
    let items = lists
        .values()
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| anyhow!("push_log openids are not utf8"))?;
    let offsets = lists.value_offsets();
    Ok((0..batch.num_rows())
        .map(|row| PushCall {
            ts_ms: ts.value(row),
            push_id: push_id.value(row).to_owned(),
            seq: seq.value(row),
            call: call.value(row).to_owned(),
            outcome: outcome.value(row).to_owned(),
            tag: tag.value(row).to_owned(),
            tag_id: tag_id.is_valid(row).then(|| tag_id.value(row)),
            openids: (offsets[row] as usize..offsets[row + 1] as usize)
                .map(|i| items.value(i).to_owned())
                .collect(),
            errcode: errcode.value(row),
            errmsg: errmsg.value(row).to_owned(),
        })
        .collect())
}
