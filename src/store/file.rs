//! Writing and reading single Parquet files: the one place that sets kefu's Parquet
//! properties and the write-then-rename discipline.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

/// 128 k rows keeps a row group's text columns around 10 MB: big enough for zstd and
/// DuckDB's parallel scan, small enough that a day's file has several groups to skip.
const ROW_GROUP_ROWS: usize = 128 * 1024;

fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("3 is a valid zstd level"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by(format!("kefu {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Writes `batches` to `staging` and renames it to `target`, syncing both, so a reader
/// sees either no file or the whole file. An existing `target` is never replaced.
pub fn write_atomically(
    staging: &Path,
    target: &Path,
    schema: SchemaRef,
    batches: &[RecordBatch],
) -> Result<()> {
    if let Some(parent) = staging.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let file = File::create(staging).with_context(|| format!("creating {}", staging.display()))?;
    let mut writer = ArrowWriter::try_new(file, schema, Some(writer_properties()))
        .with_context(|| format!("starting the Parquet file {}", staging.display()))?;
    for batch in batches {
        writer
            .write(batch)
            .with_context(|| format!("writing {}", staging.display()))?;
    }
    let file = writer
        .into_inner()
        .with_context(|| format!("finishing {}", staging.display()))?;
    file.sync_all()
        .with_context(|| format!("syncing {}", staging.display()))?;
    super::durable_rename_new(staging, target)
}

/// Reads a whole Parquet file, or only the named columns.
pub fn read(path: &Path, columns: Option<&[&str]>) -> Result<Vec<RecordBatch>> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .with_context(|| format!("reading the Parquet footer of {}", path.display()))?;
    if let Some(columns) = columns {
        let schema = builder.parquet_schema();
        let indices: Vec<usize> = columns
            .iter()
            .map(|name| {
                schema
                    .root_schema()
                    .get_fields()
                    .iter()
                    .position(|field| field.name() == *name)
                    .with_context(|| format!("{} has no column {name}", path.display()))
            })
            .collect::<Result<_>>()?;
        let mask = ProjectionMask::roots(schema, indices);
        builder = builder.with_projection(mask);
    }
    let reader = builder
        .with_batch_size(64 * 1024)
        .build()
        .with_context(|| format!("reading {}", path.display()))?;
    reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .with_context(|| format!("decoding {}", path.display()))
}

/// A fresh file name for a partition: the write time first, so names sort in write
/// order. Two writers made in the same millisecond must not collide (a collision
/// would replace a file of acknowledged events), so the sequence is process-wide and
/// the pid separates processes.
pub fn part_name() -> PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let sequence = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let now = chrono::Utc::now();
    PathBuf::from(format!(
        "part-{}-{:06}-{:06}.parquet",
        now.format("%Y%m%dT%H%M%S%3fZ"),
        std::process::id() % 1_000_000,
        sequence % 1_000_000
    ))
}

/// Writes a small JSON state file (the pull's progress, pending erasures) whole or not
/// at all: a staging file synced, then renamed over the old one.
pub fn write_json_atomically(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let folder = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
    let staging = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(value)?;
    {
        use std::io::Write;
        let mut file = fs::File::create(&staging)
            .with_context(|| format!("creating {}", staging.display()))?;
        file.write_all(&bytes)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing {}", staging.display()))?;
    }
    fs::rename(&staging, path).with_context(|| format!("renaming {} into place", staging.display()))
}
