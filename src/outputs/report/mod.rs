//! The nightly report, `reports/D/`: `index.html` (one self-contained file: inline CSS
//! and SVG, nothing fetched), `summary.md`, `report.json` (every figure), and the
//! exports `qa_flags.csv` and `tags/<tag>.csv` (UTF-8 with BOM).
//!
//! Every figure comes from a `sql/day_*.sql` file run through DuckDB with
//! `report_date` set, so what the report says and what `kefu sql` says cannot differ.
//! Every string leaves through `mask`: phone, ID and card numbers never reach a file.

mod charts;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use chrono::NaiveDate;
use minijinja::{context, Environment};
use serde::Serialize;
use serde_json::{Map, Value};

use super::export::{rows_by_tag, write_csv, BOM};
use super::mask::mask;
use crate::jobs::sla::SlaConfig;
use crate::sql::SqlSession;
use crate::store::Dataset;

/// The report's queries, in the order the report shows them, with the shipped text
/// used when the pipeline's `sql/` folder does not hold the file.
const QUERIES: [(&str, &str); 10] = [
    (
        "day_headline",
        include_str!("../../../sql/day_headline.sql"),
    ),
    (
        "day_volume_by_hour",
        include_str!("../../../sql/day_volume_by_hour.sql"),
    ),
    (
        "day_first_response",
        include_str!("../../../sql/day_first_response.sql"),
    ),
    ("day_agents", include_str!("../../../sql/day_agents.sql")),
    (
        "day_qa_flags",
        include_str!("../../../sql/day_qa_flags.sql"),
    ),
    ("day_topics", include_str!("../../../sql/day_topics.sql")),
    (
        "day_categories",
        include_str!("../../../sql/day_categories.sql"),
    ),
    (
        "day_top_questions",
        include_str!("../../../sql/day_top_questions.sql"),
    ),
    ("day_tags", include_str!("../../../sql/day_tags.sql")),
    (
        "qa_rule_precision",
        include_str!("../../../sql/qa_rule_precision.sql"),
    ),
];

/// Everything in `report.json`: the date, the targets the figures are held to, and
/// each query's rows by the query's name.
#[derive(Debug, Serialize)]
pub struct ReportData {
    pub date: NaiveDate,
    pub timezone: String,
    pub first_response_target_s: i64,
    pub reply_target_s: i64,
    pub sections: BTreeMap<String, Vec<Map<String, Value>>>,
}

/// Runs the report's queries for `date` in `session` (one session serves every day
/// of a run); `sql_dir` may hold edited versions.
pub fn gather(
    dataset: &Dataset,
    session: &SqlSession,
    date: NaiveDate,
    sql_dir: Option<&Path>,
    sla: &SlaConfig,
) -> Result<ReportData> {
    session.set_report_date(date)?;
    let mut sections = BTreeMap::new();
    for (name, shipped) in QUERIES {
        let edited = sql_dir
            .map(|dir| dir.join(format!("{name}.sql")))
            .filter(|path| path.exists());
        let sql = match &edited {
            Some(path) => crate::sql::read_sql_file(path)?,
            None => shipped.to_owned(),
        };
        let rows = if session.tables().is_empty() {
            Vec::new()
        } else {
            rows_of(session, &sql).with_context(|| {
                format!(
                    "report query {}",
                    edited.map_or_else(
                        || format!("{name}.sql (built in)"),
                        |p| p.display().to_string()
                    )
                )
            })?
        };
        sections.insert(name.to_owned(), rows);
    }
    Ok(ReportData {
        date,
        timezone: dataset.zone().name().to_owned(),
        first_response_target_s: sla.targets.first_response_s,
        reply_target_s: sla.targets.reply_s,
        sections,
    })
}

/// A query's rows as JSON objects, every string masked. A query over a table the
/// dataset does not have yet (no tags job run) gives no rows rather than failing.
fn rows_of(session: &SqlSession, sql: &str) -> Result<Vec<Map<String, Value>>> {
    let (_, batches) = match session.query(sql) {
        Ok(result) => result,
        Err(err) if crate::sql::is_missing_table(&err) => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    // Explicit nulls: a figure that is missing says so in report.json.
    let mut writer = arrow::json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, arrow::json::writer::JsonArray>(Vec::new());
    for batch in &batches {
        writer.write(batch)?;
    }
    writer.finish()?;
    let bytes = writer.into_inner();
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<Map<String, Value>> = serde_json::from_slice(&bytes)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|(key, value)| match value {
                    Value::String(text) => (key, Value::String(mask(&text))),
                    other => (key, other),
                })
                .collect()
        })
        .collect())
}

fn number(row: &Map<String, Value>, key: &str) -> Option<f64> {
    row.get(key).and_then(Value::as_f64)
}

fn text<'a>(row: &'a Map<String, Value>, key: &str) -> &'a str {
    row.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A QA flag's text cut around the matched span, for `<mark>` in the HTML.
#[derive(Debug, Serialize)]
struct FlagView {
    agent: String,
    rule_id: String,
    category: String,
    severity: String,
    at: String,
    before: String,
    matched: String,
    after: String,
    context: String,
}

fn flag_views(rows: &[Map<String, Value>]) -> Vec<FlagView> {
    rows.iter()
        .map(|row| {
            let chars: Vec<char> = text(row, "text").chars().collect();
            let start = (number(row, "start_char").unwrap_or(0.0) as usize).min(chars.len());
            let end = (number(row, "end_char").unwrap_or(0.0) as usize).clamp(start, chars.len());
            FlagView {
                agent: text(row, "agent").to_owned(),
                rule_id: text(row, "rule_id").to_owned(),
                category: text(row, "category").to_owned(),
                severity: text(row, "severity").to_owned(),
                at: text(row, "at").to_owned(),
                before: chars[..start].iter().collect(),
                matched: chars[start..end].iter().collect(),
                after: chars[end..].iter().collect(),
                context: text(row, "context").to_owned(),
            }
        })
        .collect()
}

/// One headline figure: the day, the previous week's mean, and whether the change is
/// good news (for the colour; None when neither).
#[derive(Debug, Serialize)]
struct Kpi {
    label: &'static str,
    value: String,
    previous: String,
    change: String,
    good: Option<bool>,
}

/// A headline figure's label, its `day_headline` column, how it prints, and whether
/// higher is better (None: neither).
type Figure = (&'static str, &'static str, fn(f64) -> String, Option<bool>);

fn kpis(data: &ReportData) -> Vec<Kpi> {
    let rows = &data.sections["day_headline"];
    let day = rows.iter().find(|r| text(r, "period") == "day");
    let week = rows
        .iter()
        .find(|r| text(r, "period") == "previous_7_days_mean");
    let figures: [Figure; 8] = [
        (
            "Customer messages",
            "user_messages",
            |v| format!("{v:.0}"),
            None,
        ),
        ("Customers", "users", |v| format!("{v:.0}"), None),
        ("Sessions", "sessions", |v| format!("{v:.0}"), None),
        (
            "First response p50",
            "first_response_p50_s",
            charts::duration,
            Some(false),
        ),
        ("Reply p90", "reply_p90_s", charts::duration, Some(false)),
        (
            "Answered within target",
            "within_target_ratio",
            |v| format!("{:.1}%", v * 100.0),
            Some(true),
        ),
        (
            "48-hour window breaches",
            "window_breaches",
            |v| format!("{v:.0}"),
            Some(false),
        ),
        ("QA flags", "qa_flags", |v| format!("{v:.0}"), Some(false)),
    ];
    figures
        .into_iter()
        .map(|(label, column, format, higher_is_better)| {
            let value = day.and_then(|r| number(r, column));
            let previous = week.and_then(|r| number(r, column));
            let (change, good) = match (value, previous) {
                (Some(v), Some(p)) if p.abs() > f64::EPSILON => {
                    let ratio = v / p - 1.0;
                    let good = higher_is_better
                        .filter(|_| ratio.abs() >= 0.05)
                        .map(|higher| (ratio > 0.0) == higher);
                    (format!("{:+.0}%", ratio * 100.0), good)
                }
                _ => (String::new(), None),
            };
            Kpi {
                label,
                value: value.map_or_else(|| "–".to_owned(), format),
                previous: previous.map_or_else(|| "–".to_owned(), format),
                change,
                good,
            }
        })
        .collect()
}

fn environment() -> Result<Environment<'static>> {
    let mut env = Environment::new();
    env.add_filter("duration", |seconds: Option<f64>| {
        seconds.map_or_else(String::new, charts::duration)
    });
    env.add_template("index.html", include_str!("index.html.j2"))?;
    env.add_template("summary.md", include_str!("summary.md.j2"))?;
    Ok(env)
}

/// The HTML page for the gathered figures.
pub fn render_html(data: &ReportData) -> Result<String> {
    let env = environment()?;
    let sections = &data.sections;
    Ok(env.get_template("index.html")?.render(context! {
        date => data.date.to_string(),
        timezone => data.timezone,
        kpis => kpis(data),
        volume_chart => charts::volume_by_hour(&sections["day_volume_by_hour"]),
        first_response_chart => charts::first_response(&sections["day_first_response"], data.first_response_target_s),
        first_response_target => charts::duration(data.first_response_target_s as f64),
        reply_target => charts::duration(data.reply_target_s as f64),
        agents => sections["day_agents"],
        flags => flag_views(&sections["day_qa_flags"]),
        topics => sections["day_topics"],
        categories => sections["day_categories"],
        questions => sections["day_top_questions"],
        tags => sections["day_tags"],
        precision => sections["qa_rule_precision"],
    })?)
}

/// The Markdown summary: the headline and the lists, for chat and e-mail.
pub fn render_markdown(data: &ReportData) -> Result<String> {
    let env = environment()?;
    let sections = &data.sections;
    Ok(env.get_template("summary.md")?.render(context! {
        date => data.date.to_string(),
        kpis => kpis(data),
        agents => sections["day_agents"],
        flags => sections["day_qa_flags"].len(),
        topics => sections["day_topics"],
        questions => sections["day_top_questions"],
        tags => sections["day_tags"],
    })?)
}

/// Writes `out_root/D/` whole: into a scratch folder first, then swapped in, so a
/// reader never sees half a report and a rerun replaces the old one.
pub fn write_report(
    dataset: &Dataset,
    date: NaiveDate,
    out_root: &Path,
    sql_dir: Option<&Path>,
    sla: &SlaConfig,
) -> Result<PathBuf> {
    let session = SqlSession::open(dataset)?;
    write_report_with(dataset, &session, date, out_root, sql_dir, sla)
}

/// The same with an open session, for a run writing many days.
pub fn write_report_with(
    dataset: &Dataset,
    session: &SqlSession,
    date: NaiveDate,
    out_root: &Path,
    sql_dir: Option<&Path>,
    sla: &SlaConfig,
) -> Result<PathBuf> {
    let data = gather(dataset, session, date, sql_dir, sla)?;
    let staging = out_root.join(format!(".{date}.tmp"));
    if staging.exists() {
        fs::remove_dir_all(&staging).with_context(|| format!("clearing {}", staging.display()))?;
    }
    fs::create_dir_all(staging.join("tags"))
        .with_context(|| format!("creating {}", staging.display()))?;
    let write = |name: &str, bytes: &[u8]| {
        fs::write(staging.join(name), bytes)
            .with_context(|| format!("writing {}", staging.join(name).display()))
    };
    write("index.html", render_html(&data)?.as_bytes())?;
    write("summary.md", render_markdown(&data)?.as_bytes())?;
    write(
        "report.json",
        serde_json::to_string_pretty(&data)?.as_bytes(),
    )?;
    write("qa_flags.csv", &flags_csv(&data.sections["day_qa_flags"])?)?;
    for (tag, rows) in rows_by_tag(dataset, date, None)? {
        if tag.is_empty() || tag.contains(['/', '\\']) || tag.starts_with('.') {
            continue;
        }
        let mut csv = Vec::new();
        write_csv(&rows, &mut csv)?;
        write(&format!("tags/{tag}.csv"), &csv)?;
    }
    let live = out_root.join(date.to_string());
    if live.exists() {
        fs::remove_dir_all(&live).with_context(|| format!("replacing {}", live.display()))?;
    }
    fs::rename(&staging, &live)
        .with_context(|| format!("moving the report into {}", live.display()))?;
    Ok(live)
}

/// The day's flags for a QA lead's spreadsheet, masked like the rest.
fn flags_csv(rows: &[Map<String, Value>]) -> Result<Vec<u8>> {
    const COLUMNS: [&str; 10] = [
        "at",
        "agent",
        "rule_id",
        "category",
        "severity",
        "matched",
        "text",
        "context",
        "verdict",
        "start_char",
    ];
    let mut out = BOM.to_vec();
    {
        let mut writer = csv::Writer::from_writer(&mut out);
        writer.write_record(COLUMNS)?;
        for row in rows {
            let record: Vec<String> = COLUMNS
                .iter()
                .map(|column| match row.get(*column) {
                    Some(Value::String(text)) => text.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                })
                .collect();
            writer.write_record(&record)?;
        }
        writer.flush()?;
    }
    Ok(out)
}

/// The latest day a report can be made for: the latest events partition.
pub fn latest_day(dataset: &Dataset) -> Result<NaiveDate> {
    dataset
        .partitions("events")?
        .last()
        .copied()
        .ok_or_else(|| anyhow!("the dataset holds no events"))
}
