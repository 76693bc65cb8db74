//! The sla job's tables: `sessions`, `turns` and `sla_daily` (DESIGN.md). `dt` lives in
//! the partition path; it is the local date of the session's or turn's first user
//! message.

use std::sync::{Arc, LazyLock};

use anyhow::{Context, Result};
use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, ListBuilder, RecordBatch,
    StringArray, StringBuilder, TimestampMillisecondArray, UInt32Array,
};
use arrow::datatypes::{DataType, Date32Type, Field, Schema, SchemaRef};

use super::timestamp_type;
use crate::model::{Session, SlaDaily, Turn};

fn text(name: &str, nullable: bool) -> Field {
    Field::new(name, DataType::Utf8, nullable)
}

fn stamp(name: &str, nullable: bool) -> Field {
    Field::new(name, timestamp_type(), nullable)
}

fn seconds(name: &str) -> Field {
    Field::new(name, DataType::Int64, true)
}

fn count(name: &str) -> Field {
    Field::new(name, DataType::UInt32, false)
}

static SESSIONS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        text("session_id", false),
        text("openid", false),
        text("agent", true),
        Field::new(
            "agents",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            false,
        ),
        stamp("started_ts", false),
        stamp("ended_ts", false),
        stamp("first_user_ts", true),
        stamp("first_response_ts", true),
        seconds("first_response_s"),
        seconds("business_first_response_s"),
        seconds("accept_response_s"),
        count("replies"),
        count("user_messages"),
        count("unanswered"),
        Field::new("window_breach", DataType::Boolean, false),
    ]))
});

static TURNS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        text("session_id", false),
        text("openid", false),
        text("agent", true),
        text("answered_by", false),
        stamp("first_user_ts", false),
        stamp("last_user_ts", false),
        stamp("reply_ts", true),
        Field::new("reply_dt", DataType::Date32, true),
        seconds("reply_s"),
        seconds("business_reply_s"),
        Field::new("breach", DataType::Boolean, false),
        Field::new("censored", DataType::Boolean, false),
    ]))
});

static SLA_DAILY_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    let figure = |name: &str| Field::new(name, DataType::Float64, true);
    Arc::new(Schema::new(vec![
        text("agent", true),
        count("sessions"),
        count("turns"),
        figure("first_response_p50_s"),
        figure("first_response_p90_s"),
        figure("reply_p50_s"),
        figure("reply_p90_s"),
        figure("reply_p95_s"),
        figure("within_target_ratio"),
        figure("first_response_within_target_ratio"),
        count("unanswered"),
        count("window_breaches"),
        count("censored"),
    ]))
});

pub fn sessions_schema() -> SchemaRef {
    SESSIONS_SCHEMA.clone()
}

pub fn turns_schema() -> SchemaRef {
    TURNS_SCHEMA.clone()
}

pub fn sla_daily_schema() -> SchemaRef {
    SLA_DAILY_SCHEMA.clone()
}

fn strings<T>(rows: &[T], get: impl Fn(&T) -> Option<&str>) -> ArrayRef {
    Arc::new(rows.iter().map(get).collect::<StringArray>())
}

fn stamps<T>(rows: &[T], get: impl Fn(&T) -> Option<i64>) -> ArrayRef {
    Arc::new(
        rows.iter()
            .map(get)
            .collect::<TimestampMillisecondArray>()
            .with_timezone("UTC"),
    )
}

fn ints<T>(rows: &[T], get: impl Fn(&T) -> Option<i64>) -> ArrayRef {
    Arc::new(rows.iter().map(get).collect::<Int64Array>())
}

fn counts<T>(rows: &[T], get: impl Fn(&T) -> u32) -> ArrayRef {
    Arc::new(UInt32Array::from_iter_values(rows.iter().map(get)))
}

fn flags<T>(rows: &[T], get: impl Fn(&T) -> bool) -> ArrayRef {
    Arc::new(
        rows.iter()
            .map(|row| Some(get(row)))
            .collect::<BooleanArray>(),
    )
}

fn figures<T>(rows: &[T], get: impl Fn(&T) -> Option<f64>) -> ArrayRef {
    Arc::new(rows.iter().map(get).collect::<Float64Array>())
}

pub fn sessions_to_batch(rows: &[Session]) -> Result<RecordBatch> {
    let mut agents = ListBuilder::new(StringBuilder::new()).with_field(Arc::new(Field::new(
        "item",
        DataType::Utf8,
        true,
    )));
    for row in rows {
        for agent in &row.agents {
            agents.values().append_value(agent);
        }
        agents.append(true);
    }
    let columns = vec![
        strings(rows, |r| Some(&r.session_id)),
        strings(rows, |r| Some(&r.openid)),
        strings(rows, |r| r.agent.as_deref()),
        Arc::new(agents.finish()) as ArrayRef,
        stamps(rows, |r| Some(r.started_ts_ms)),
        stamps(rows, |r| Some(r.ended_ts_ms)),
        stamps(rows, |r| r.first_user_ts_ms),
        stamps(rows, |r| r.first_response_ts_ms),
        ints(rows, |r| r.first_response_s),
        ints(rows, |r| r.business_first_response_s),
        ints(rows, |r| r.accept_response_s),
        counts(rows, |r| r.replies),
        counts(rows, |r| r.user_messages),
        counts(rows, |r| r.unanswered),
        flags(rows, |r| r.window_breach),
    ];
    RecordBatch::try_new(sessions_schema(), columns).context("building a sessions batch")
}

pub fn turns_to_batch(rows: &[Turn]) -> Result<RecordBatch> {
    let columns = vec![
        strings(rows, |r| Some(&r.session_id)),
        strings(rows, |r| Some(&r.openid)),
        strings(rows, |r| r.agent.as_deref()),
        strings(rows, |r| Some(r.answered_by.as_str())),
        stamps(rows, |r| Some(r.first_user_ts_ms)),
        stamps(rows, |r| Some(r.last_user_ts_ms)),
        stamps(rows, |r| r.reply_ts_ms),
        Arc::new(
            rows.iter()
                .map(|r| r.reply_dt.map(Date32Type::from_naive_date))
                .collect::<Date32Array>(),
        ) as ArrayRef,
        ints(rows, |r| r.reply_s),
        ints(rows, |r| r.business_reply_s),
        flags(rows, |r| r.breach),
        flags(rows, |r| r.censored),
    ];
    RecordBatch::try_new(turns_schema(), columns).context("building a turns batch")
}

pub fn sla_daily_to_batch(rows: &[SlaDaily]) -> Result<RecordBatch> {
    let columns = vec![
        strings(rows, |r| r.agent.as_deref()),
        counts(rows, |r| r.sessions),
        counts(rows, |r| r.turns),
        figures(rows, |r| r.first_response_p50_s),
        figures(rows, |r| r.first_response_p90_s),
        figures(rows, |r| r.reply_p50_s),
        figures(rows, |r| r.reply_p90_s),
        figures(rows, |r| r.reply_p95_s),
        figures(rows, |r| r.within_target_ratio),
        figures(rows, |r| r.first_response_within_target_ratio),
        counts(rows, |r| r.unanswered),
        counts(rows, |r| r.window_breaches),
        counts(rows, |r| r.censored),
    ];
    RecordBatch::try_new(sla_daily_schema(), columns).context("building a sla_daily batch")
}
