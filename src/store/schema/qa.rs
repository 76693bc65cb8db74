//! The `qa_flags` table.

use std::sync::{Arc, LazyLock};

use anyhow::{anyhow, Context, Result};
use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampMillisecondArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::{optional, string_column, timestamp_column, timestamp_type};
use crate::model::QaFlag;

static QA_FLAGS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let text = |name: &str, nullable: bool| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        text("event_id", false),
        Field::new("ts", timestamp_type(), false),
        text("account", true),
        text("openid", false),
        text("agent", true),
        text("rule_id", false),
        text("category", false),
        text("severity", false),
        text("matched", false),
        Field::new("start_char", DataType::UInt32, false),
        Field::new("end_char", DataType::UInt32, false),
        text("text", false),
        text("context", true),
        text("normalisation", true),
        text("rules_version", false),
        text("verdict", true),
    ]))
});

/// The `qa_flags` table (DESIGN.md); `dt` is the path's.
pub fn qa_flags_schema() -> SchemaRef {
    QA_FLAGS_SCHEMA.clone()
}

/// Builds a `qa_flags` batch, in the order given.
pub fn qa_flags_to_batch(flags: &[QaFlag]) -> Result<RecordBatch> {
    let strings = |get: fn(&QaFlag) -> Option<&str>| -> ArrayRef {
        Arc::new(flags.iter().map(get).collect::<StringArray>())
    };
    let ts = TimestampMillisecondArray::from_iter_values(flags.iter().map(|f| f.ts_ms))
        .with_timezone("UTC");
    let columns: Vec<ArrayRef> = vec![
        strings(|f| Some(&f.event_id)),
        Arc::new(ts),
        strings(|f| f.account.as_deref()),
        strings(|f| Some(&f.openid)),
        strings(|f| f.agent.as_deref()),
        strings(|f| Some(&f.rule_id)),
        strings(|f| Some(&f.category)),
        strings(|f| Some(&f.severity)),
        strings(|f| Some(&f.matched)),
        Arc::new(UInt32Array::from_iter_values(
            flags.iter().map(|f| f.start_char),
        )),
        Arc::new(UInt32Array::from_iter_values(
            flags.iter().map(|f| f.end_char),
        )),
        strings(|f| Some(&f.text)),
        strings(|f| f.context.as_deref()),
        strings(|f| f.normalisation.as_deref()),
        strings(|f| Some(&f.rules_version)),
        strings(|f| f.verdict.as_deref()),
    ];
    RecordBatch::try_new(qa_flags_schema(), columns).context("building a qa_flags batch")
}

/// Reads `qa_flags` rows back (for backtests and reports).
pub fn batch_to_qa_flags(batch: &RecordBatch) -> Result<Vec<QaFlag>> {
    let column = |name: &str| string_column(batch, name);
    let (event_id, account, openid, agent) = (
        column("event_id")?,
        column("account")?,
        column("openid")?,
        column("agent")?,
    );
    let (rule_id, category, severity, matched) = (
        column("rule_id")?,
        column("category")?,
        column("severity")?,
        column("matched")?,
    );
    let (text, context, normalisation, rules_version, verdict) = (
        column("text")?,
        column("context")?,
        column("normalisation")?,
        column("rules_version")?,
        column("verdict")?,
    );
    let ts = timestamp_column(batch, "ts")?;
    let offsets = |name: &str| {
        batch
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<UInt32Array>())
            .ok_or_else(|| anyhow!("qa_flags column {name} is not u32"))
    };
    let (start_char, end_char) = (offsets("start_char")?, offsets("end_char")?);
    Ok((0..batch.num_rows())
        .map(|row| QaFlag {
            event_id: event_id.value(row).to_owned(),
            ts_ms: ts.value(row),
            account: optional(account, row),
            openid: openid.value(row).to_owned(),
            agent: optional(agent, row),
            rule_id: rule_id.value(row).to_owned(),
            category: category.value(row).to_owned(),
            severity: severity.value(row).to_owned(),
            matched: matched.value(row).to_owned(),
            start_char: start_char.value(row),
            end_char: end_char.value(row),
            text: text.value(row).to_owned(),
            context: optional(context, row),
            normalisation: optional(normalisation, row),
            rules_version: rules_version.value(row).to_owned(),
            verdict: optional(verdict, row),
        })
        .collect())
}
