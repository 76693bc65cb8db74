//! The event schema v1, defined once, and the conversions between `Event` rows and
//! Arrow record batches. Every other module that touches event columns goes through here.

use std::sync::{Arc, LazyLock};

use anyhow::{anyhow, Context, Result};
use arrow::array::{
    Array, ArrayRef, RecordBatch, StringArray, StringBuilder, TimestampMillisecondArray,
    TimestampMillisecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::model::{Event, Role, Source};

mod push_log;
mod qa;
mod sla;
mod tags;
mod topics;

pub use push_log::{batch_to_push_calls, push_calls_to_batch, push_log_schema};
pub use qa::{batch_to_qa_flags, qa_flags_schema, qa_flags_to_batch};
pub use sla::{
    sessions_schema, sessions_to_batch, sla_daily_schema, sla_daily_to_batch, turns_schema,
    turns_to_batch,
};
pub use tags::{batch_to_tags, tags_schema, tags_to_batch};
pub use topics::{top_questions_schema, top_questions_to_batch, topics_schema, topics_to_batch};

/// Bumped when a column changes meaning; written to the manifest.
pub const SCHEMA_VERSION: u32 = 1;

/// Arrow's type for every timestamp kefu stores: milliseconds, UTC.
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

static EVENTS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("event_id", DataType::Utf8, false),
        Field::new("account", DataType::Utf8, true),
        Field::new("openid", DataType::Utf8, false),
        Field::new("role", DataType::Utf8, false),
        Field::new("agent", DataType::Utf8, true),
        Field::new("kind", DataType::Utf8, false),
        Field::new("event", DataType::Utf8, true),
        Field::new("text", DataType::Utf8, true),
        Field::new("media_id", DataType::Utf8, true),
        Field::new("extra", DataType::Utf8, true),
        Field::new("ts", timestamp_type(), false),
        Field::new("received_ts", timestamp_type(), true),
        Field::new("source", DataType::Utf8, false),
    ]))
});

/// The `events` table's schema. The partition column `dt` lives in the path, not the file.
pub fn events_schema() -> SchemaRef {
    EVENTS_SCHEMA.clone()
}

static TOKENS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("event_id", DataType::Utf8, false),
        Field::new(
            "tokens",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            false,
        ),
    ]))
});

/// The `tokens` table (DESIGN.md): the words of each text message; `dt` is the path's.
pub fn tokens_schema() -> SchemaRef {
    TOKENS_SCHEMA.clone()
}

/// Builds a `tokens` batch from (event_id, words) rows, in the order given.
pub fn tokens_to_batch<'a, W>(rows: impl IntoIterator<Item = (&'a str, W)>) -> Result<RecordBatch>
where
    W: IntoIterator<Item = &'a str>,
{
    use arrow::array::ListBuilder;
    let mut event_id = StringBuilder::new();
    let mut tokens = ListBuilder::new(StringBuilder::new()).with_field(Arc::new(Field::new(
        "item",
        DataType::Utf8,
        true,
    )));
    for (id, words) in rows {
        event_id.append_value(id);
        for word in words {
            tokens.values().append_value(word);
        }
        tokens.append(true);
    }
    let columns: Vec<ArrayRef> = vec![Arc::new(event_id.finish()), Arc::new(tokens.finish())];
    RecordBatch::try_new(tokens_schema(), columns).context("building a tokens batch")
}

/// Reads a `tokens` batch back as (event_id, words) rows borrowing from the batch.
pub fn tokens_of(batch: &RecordBatch) -> Result<Vec<(&str, Vec<&str>)>> {
    let event_id = string_column(batch, "event_id")?;
    let lists = batch
        .column_by_name("tokens")
        .and_then(|column| column.as_any().downcast_ref::<arrow::array::ListArray>())
        .ok_or_else(|| anyhow!("tokens batch has no list column tokens"))?;
    let words = lists
        .values()
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| anyhow!("tokens column items are not utf8"))?;
    let offsets = lists.value_offsets();
    Ok((0..batch.num_rows())
        .map(|row| {
            let (start, end) = (offsets[row] as usize, offsets[row + 1] as usize);
            (
                event_id.value(row),
                (start..end).map(|i| words.value(i)).collect(),
            )
        })
        .collect())
}

/// Builds one record batch from events, in the order given.
pub fn events_to_batch(events: &[Event]) -> Result<RecordBatch> {
    let n = events.len();
    let mut event_id = StringBuilder::with_capacity(n, n * 34);
    let mut account = StringBuilder::with_capacity(n, n * 16);
    let mut openid = StringBuilder::with_capacity(n, n * 28);
    let mut role = StringBuilder::with_capacity(n, n * 5);
    let mut agent = StringBuilder::with_capacity(n, n * 8);
    let mut kind = StringBuilder::with_capacity(n, n * 5);
    let mut event = StringBuilder::with_capacity(n, n * 4);
    let mut text = StringBuilder::with_capacity(n, n * 48);
    let mut media_id = StringBuilder::with_capacity(n, n * 4);
    let mut extra = StringBuilder::with_capacity(n, n * 8);
    let mut ts = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut received_ts = TimestampMillisecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut source = StringBuilder::with_capacity(n, n * 6);
    for e in events {
        event_id.append_value(&e.event_id);
        account.append_option(e.account.as_deref());
        openid.append_value(&e.openid);
        role.append_value(e.role.as_str());
        agent.append_option(e.agent.as_deref());
        kind.append_value(&e.kind);
        event.append_option(e.event.as_deref());
        text.append_option(e.text.as_deref());
        media_id.append_option(e.media_id.as_deref());
        extra.append_option(e.extra.as_deref());
        ts.append_value(e.ts_ms);
        received_ts.append_option(e.received_ts_ms);
        source.append_value(e.source.as_str());
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(event_id.finish()),
        Arc::new(account.finish()),
        Arc::new(openid.finish()),
        Arc::new(role.finish()),
        Arc::new(agent.finish()),
        Arc::new(kind.finish()),
        Arc::new(event.finish()),
        Arc::new(text.finish()),
        Arc::new(media_id.finish()),
        Arc::new(extra.finish()),
        Arc::new(ts.finish()),
        Arc::new(received_ts.finish()),
        Arc::new(source.finish()),
    ];
    RecordBatch::try_new(events_schema(), columns).context("building an events record batch")
}

pub fn string_column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    batch
        .column_by_name(name)
        .ok_or_else(|| anyhow!("events batch has no column {name}"))?
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| anyhow!("events column {name} is not utf8"))
}

pub fn timestamp_column<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a TimestampMillisecondArray> {
    batch
        .column_by_name(name)
        .ok_or_else(|| anyhow!("events batch has no column {name}"))?
        .as_any()
        .downcast_ref::<TimestampMillisecondArray>()
        .ok_or_else(|| anyhow!("events column {name} is not a millisecond timestamp"))
}

pub(super) fn optional(column: &StringArray, row: usize) -> Option<String> {
    column.is_valid(row).then(|| column.value(row).to_string())
}

/// Turns a batch read from the store back into events.
pub fn batch_to_events(batch: &RecordBatch) -> Result<Vec<Event>> {
    let event_id = string_column(batch, "event_id")?;
    let account = string_column(batch, "account")?;
    let openid = string_column(batch, "openid")?;
    let role = string_column(batch, "role")?;
    let agent = string_column(batch, "agent")?;
    let kind = string_column(batch, "kind")?;
    let event = string_column(batch, "event")?;
    let text = string_column(batch, "text")?;
    let media_id = string_column(batch, "media_id")?;
    let extra = string_column(batch, "extra")?;
    let ts = timestamp_column(batch, "ts")?;
    let received_ts = timestamp_column(batch, "received_ts")?;
    let source = string_column(batch, "source")?;
    (0..batch.num_rows())
        .map(|row| {
            Ok(Event {
                event_id: event_id.value(row).to_string(),
                account: optional(account, row),
                openid: openid.value(row).to_string(),
                role: Role::parse(role.value(row))
                    .ok_or_else(|| anyhow!("unknown role {:?} in the store", role.value(row)))?,
                agent: optional(agent, row),
                kind: kind.value(row).to_string(),
                event: optional(event, row),
                text: optional(text, row),
                media_id: optional(media_id, row),
                extra: optional(extra, row),
                ts_ms: ts.value(row),
                received_ts_ms: received_ts.is_valid(row).then(|| received_ts.value(row)),
                source: Source::parse(source.value(row)).ok_or_else(|| {
                    anyhow!("unknown source {:?} in the store", source.value(row))
                })?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Event {
        Event {
            event_id: "m:1".into(),
            account: Some("gh_1".into()),
            openid: "o1".into(),
            role: Role::User,
            agent: None,
            kind: "text".into(),
            event: None,
            text: Some("在吗".into()),
            media_id: None,
            extra: Some("{\"MsgDataId\":\"x\"}".into()),
            ts_ms: 1_700_000_000_000,
            received_ts_ms: Some(1_700_000_000_500),
            source: Source::Callback,
        }
    }

    #[test]
    fn events_round_trip_through_a_batch() {
        let mut second = sample();
        second.event_id = "h:ab".into();
        second.account = None;
        second.received_ts_ms = None;
        second.role = Role::Agent;
        second.agent = Some("kf2001@gh_1".into());
        let events = vec![sample(), second];
        let batch = events_to_batch(&events).unwrap();
        assert_eq!(batch.schema(), events_schema());
        assert_eq!(batch_to_events(&batch).unwrap(), events);
    }
}
