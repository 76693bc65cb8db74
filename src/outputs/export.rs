//! Tag audiences as files marketers open: one row per user holding the tag, with the
//! message that earned it, phone, ID and card numbers masked. CSV is UTF-8 with a BOM,
//! so Excel shows the Chinese instead of mojibake; times are local to the dataset.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;

use super::mask::mask;
use crate::model::{local_date, TagAssignment};
use crate::store::schema::{batch_to_tags, string_column};
use crate::store::Dataset;

/// One exported row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagExportRow {
    pub openid: String,
    pub tag: String,
    pub first_seen: String,
    pub last_seen: String,
    /// The latest message that earned the tag, masked.
    pub evidence: String,
}

pub const CSV_HEADER: [&str; 5] = ["openid", "tag", "first_seen", "last_seen", "evidence"];

/// The UTF-8 byte order mark: Excel reads a CSV without it as the local code page.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

fn local_time(ts_ms: i64, zone: Tz) -> String {
    zone.timestamp_millis_opt(ts_ms)
        .single()
        .map(|at| at.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// The assignments of `tag` in the snapshot of `date`, with their evidence text.
pub fn tag_rows(dataset: &Dataset, date: NaiveDate, tag: &str) -> Result<Vec<TagExportRow>> {
    Ok(rows_by_tag(dataset, date, Some(tag))?
        .remove(tag)
        .unwrap_or_default())
}

/// Every tag's rows in the snapshot of `date` (or one tag's), reading the evidence
/// messages once: only their days, only two columns.
pub fn rows_by_tag(
    dataset: &Dataset,
    date: NaiveDate,
    only: Option<&str>,
) -> Result<BTreeMap<String, Vec<TagExportRow>>> {
    let mut assignments: Vec<TagAssignment> = Vec::new();
    for batch in dataset.read_partition("tags", date)? {
        assignments.extend(
            batch_to_tags(&batch)?
                .into_iter()
                .filter(|a| only.is_none_or(|tag| a.tag == tag)),
        );
    }
    let zone = dataset.zone();
    let wanted: HashSet<&str> = assignments
        .iter()
        .map(|a| a.evidence_event_id.as_str())
        .collect();
    let mut dates: Vec<NaiveDate> = assignments
        .iter()
        .map(|a| local_date(a.last_seen_ts_ms, zone))
        .collect();
    dates.sort_unstable();
    dates.dedup();
    let mut text_of: HashMap<String, String> = HashMap::new();
    for day in dates {
        for batch in dataset.read_events_with(day, day, &["event_id", "text"])? {
            let (ids, texts) = (
                string_column(&batch, "event_id")?,
                string_column(&batch, "text")?,
            );
            for row in 0..batch.num_rows() {
                if wanted.contains(ids.value(row)) && texts.is_valid(row) {
                    text_of.insert(ids.value(row).to_owned(), texts.value(row).to_owned());
                }
            }
        }
    }
    let mut by_tag: BTreeMap<String, Vec<TagExportRow>> = BTreeMap::new();
    for a in assignments {
        let row = TagExportRow {
            evidence: text_of
                .get(&a.evidence_event_id)
                .map(|text| mask(text))
                .unwrap_or_default(),
            first_seen: local_time(a.first_seen_ts_ms, zone),
            last_seen: local_time(a.last_seen_ts_ms, zone),
            openid: a.openid,
            tag: a.tag.clone(),
        };
        by_tag.entry(a.tag).or_default().push(row);
    }
    Ok(by_tag)
}

/// Writes rows as CSV with a BOM and a header.
pub fn write_csv(rows: &[TagExportRow], out: impl Write) -> Result<()> {
    let mut out = out;
    out.write_all(BOM).context("writing the CSV")?;
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record(CSV_HEADER)?;
    for row in rows {
        writer.write_record([
            &row.openid,
            &row.tag,
            &row.first_seen,
            &row.last_seen,
            &row.evidence,
        ])?;
    }
    writer.flush().context("writing the CSV")?;
    Ok(())
}

/// Writes rows as one Parquet file, the same columns as the CSV.
pub fn write_parquet(rows: &[TagExportRow], path: &Path) -> Result<()> {
    let schema = Arc::new(Schema::new(
        CSV_HEADER
            .iter()
            .map(|name| Field::new(*name, DataType::Utf8, false))
            .collect::<Vec<_>>(),
    ));
    let column = |get: fn(&TagExportRow) -> &str| -> ArrayRef {
        Arc::new(rows.iter().map(|r| Some(get(r))).collect::<StringArray>())
    };
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            column(|r| &r.openid),
            column(|r| &r.tag),
            column(|r| &r.first_seen),
            column(|r| &r.last_seen),
            column(|r| &r.evidence),
        ],
    )?;
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema, None)?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(())
}
