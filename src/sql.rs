//! DuckDB over the store: a view per table, with `local_ts` added where there is a
//! `ts`, and the runner behind `kefu sql` and the report queries.

use std::path::Path;

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use chrono::{Duration, NaiveDate, Offset, TimeZone};
use duckdb::Connection;

use crate::store::{Dataset, TABLES};

/// An in-memory DuckDB with one view per table present in the dataset.
pub struct SqlSession {
    connection: Connection,
    tables: Vec<&'static str>,
}

/// Output formats of `kefu sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Table,
    Csv,
    Json,
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// UTC offsets of the dataset's zone over `from..=to`, as (start of validity, seconds
/// east of UTC) segments. DuckDB's bundled build has no ICU, so kefu supplies them.
fn offset_segments(zone: chrono_tz::Tz, from: NaiveDate, to: NaiveDate) -> Vec<(i64, i32)> {
    let start = from
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp();
    let end = to
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp();
    let mut segments: Vec<(i64, i32)> = Vec::new();
    // Zones change offset on quarter hours at the finest.
    let mut at = start;
    while at <= end {
        let offset = zone
            .offset_from_utc_datetime(
                &chrono::DateTime::from_timestamp(at, 0)
                    .expect("in range")
                    .naive_utc(),
            )
            .fix()
            .local_minus_utc();
        if segments.last().is_none_or(|(_, last)| *last != offset) {
            segments.push((at, offset));
        }
        at += 15 * 60;
    }
    segments
}

impl SqlSession {
    pub fn open(dataset: &Dataset) -> Result<SqlSession> {
        let connection = Connection::open_in_memory().context("starting DuckDB")?;
        let mut session = SqlSession {
            connection,
            tables: Vec::new(),
        };
        session.create_views(dataset)?;
        if let Some(latest) = dataset.partitions("events")?.last() {
            session.set_report_date(*latest)?;
        }
        Ok(session)
    }

    /// Sets the day the `sql/day_*.sql` queries read (`getvariable('report_date')`).
    pub fn set_report_date(&self, date: NaiveDate) -> Result<()> {
        self.connection
            .execute_batch(&format!("SET VARIABLE report_date = DATE '{date}'"))
            .context("setting report_date")
    }

    /// The DuckDB connection, for typed queries (`query_map`) beside the Arrow ones.
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    pub fn tables(&self) -> &[&'static str] {
        &self.tables
    }

    fn create_views(&mut self, dataset: &Dataset) -> Result<()> {
        // The zone's offsets over the whole span of the data, a day of margin each side.
        let mut first: Option<NaiveDate> = None;
        let mut last: Option<NaiveDate> = None;
        for table in TABLES {
            let dates = dataset.partitions(table)?;
            if let (Some(a), Some(b)) = (dates.first(), dates.last()) {
                first = Some(first.map_or(*a, |f| f.min(*a)));
                last = Some(last.map_or(*b, |l| l.max(*b)));
            }
        }
        let segments = match (first, last) {
            (Some(first), Some(last)) => offset_segments(
                dataset.zone(),
                first - Duration::days(1),
                last + Duration::days(2),
            ),
            _ => Vec::new(),
        };
        let local_ts = match segments.as_slice() {
            [] | [_] => {
                let offset = segments.first().map_or(0, |(_, offset)| *offset);
                format!("CAST(t.ts AS TIMESTAMP) + TO_SECONDS({offset})")
            }
            _ => {
                let mut sql = String::from(
                    "CREATE TEMP TABLE kefu_zone_offsets (from_utc TIMESTAMP, offset_s INTEGER);\nINSERT INTO kefu_zone_offsets VALUES ",
                );
                let rows: Vec<String> = segments
                    .iter()
                    .map(|(at, offset)| format!("(TO_TIMESTAMP({at})::TIMESTAMP, {offset})"))
                    .collect();
                sql.push_str(&rows.join(", "));
                self.connection
                    .execute_batch(&sql)
                    .context("loading the time zone's offsets into DuckDB")?;
                "CAST(t.ts AS TIMESTAMP) + TO_SECONDS((SELECT offset_s FROM kefu_zone_offsets z \
                 WHERE z.from_utc <= CAST(t.ts AS TIMESTAMP) ORDER BY z.from_utc DESC LIMIT 1))"
                    .to_string()
            }
        };

        for table in TABLES {
            if dataset.partitions(table)?.is_empty() {
                continue;
            }
            let glob = dataset.table_dir(table).join("*").join("*.parquet");
            let source = format!(
                "read_parquet({}, hive_partitioning = true, hive_types = {{'dt': DATE}}, union_by_name = true)",
                quote_literal(&glob.display().to_string())
            );
            let has_ts = {
                let mut statement = self
                    .connection
                    .prepare(&format!("DESCRIBE SELECT * FROM {source}"))
                    .with_context(|| format!("reading the schema of {table}"))?;
                let names: Vec<String> = statement
                    .query_map([], |row| row.get::<_, String>(0))?
                    .collect::<std::result::Result<_, _>>()?;
                names.iter().any(|name| name == "ts")
            };
            let select = if has_ts {
                format!("SELECT t.*, {local_ts} AS local_ts FROM {source} t")
            } else {
                format!("SELECT * FROM {source}")
            };
            self.connection
                .execute_batch(&format!("CREATE VIEW {table} AS {select}"))
                .with_context(|| format!("creating the view {table}"))?;
            self.tables.push(table);
        }
        Ok(())
    }

    /// Runs one query and returns its result as Arrow batches with their schema.
    pub fn query(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let mut statement = self.connection.prepare(sql).map_err(|err| {
            let hint = if self.tables.is_empty() {
                " (the dataset holds no tables yet)".to_string()
            } else {
                format!(" (views: {})", self.tables.join(", "))
            };
            anyhow::anyhow!("{err}{hint}")
        })?;
        let arrow = statement.query_arrow([])?;
        let schema = arrow.get_schema();
        let batches: Vec<RecordBatch> = arrow.collect();
        Ok((schema, batches))
    }

    /// Runs a query and writes its result to `out` in the chosen format.
    pub fn run(&self, sql: &str, format: OutputFormat, out: &mut dyn std::io::Write) -> Result<()> {
        let (schema, batches) = self.query(sql)?;
        write_result(&schema, &batches, format, out)
    }
}

/// Whether a query failed only because it reads a table no job has written yet
/// (DuckDB: "Table with name … does not exist").
pub fn is_missing_table(err: &anyhow::Error) -> bool {
    let message = err.to_string();
    message.contains("Table with name") && message.contains("does not exist")
}

pub fn write_result(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: OutputFormat,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    match format {
        OutputFormat::Table => {
            let table = if batches.is_empty() {
                arrow::util::pretty::pretty_format_batches(&[RecordBatch::new_empty(
                    schema.clone(),
                )])?
            } else {
                arrow::util::pretty::pretty_format_batches(batches)?
            };
            writeln!(out, "{table}")?;
        }
        OutputFormat::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            if batches.is_empty() {
                writer.write(&RecordBatch::new_empty(schema.clone()))?;
            }
            for batch in batches {
                writer.write(batch)?;
            }
        }
        OutputFormat::Json => {
            let mut writer = arrow::json::ArrayWriter::new(out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            writer.write_batches(&refs)?;
            writer.finish()?;
            let out = writer.into_inner();
            writeln!(out)?;
        }
    }
    Ok(())
}

/// Reads a SQL file for `kefu sql FILE`, naming the file when it cannot.
pub fn read_sql_file(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("reading the SQL file {}", path.display()))
}
