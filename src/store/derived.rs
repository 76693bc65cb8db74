//! Derived tables (`data/derived/<table>/dt=…`): a job's output for a date replaces the
//! whole partition at once, so a rerun gives the same files and a reader never sees half
//! of one run and half of another.

use std::fs;

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use chrono::NaiveDate;

use super::{durable_rename, file, swap_dirs, Dataset, WriteLock};

/// Every replaced partition holds one file of this name: same inputs, same bytes.
const PART_NAME: &str = "part-0.parquet";

impl Dataset {
    /// Replaces `table`'s partition for `date` with `batches` (an empty list leaves an
    /// empty partition, which says "the job ran and found nothing").
    pub fn replace_partition(
        &self,
        _lock: &WriteLock,
        table: &str,
        date: NaiveDate,
        schema: SchemaRef,
        batches: &[RecordBatch],
    ) -> Result<()> {
        let staging_dir = self
            .scratch_dir()
            .join(format!("replace-{table}-dt={date}"));
        if staging_dir.exists() {
            fs::remove_dir_all(&staging_dir)
                .with_context(|| format!("clearing {}", staging_dir.display()))?;
        }
        let staging_file = self
            .scratch_dir()
            .join(format!(".replace-{table}-dt={date}.parquet"));
        file::write_atomically(&staging_file, &staging_dir.join(PART_NAME), schema, batches)?;
        let live = self.partition_dir(table, date);
        if live.exists() {
            swap_dirs(&staging_dir, &live)?;
            // After the swap the staging path holds the previous run's files.
            fs::remove_dir_all(&staging_dir)
                .with_context(|| format!("removing the old files of {}", live.display()))?;
        } else {
            if let Some(parent) = live.parent() {
                fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            durable_rename(&staging_dir, &live)?;
        }
        Ok(())
    }

    /// Every batch of one partition of a table.
    pub fn read_partition(&self, table: &str, date: NaiveDate) -> Result<Vec<RecordBatch>> {
        let mut batches = Vec::new();
        for path in self.partition_files(table, date)? {
            batches.extend(file::read(&path, None)?);
        }
        Ok(batches)
    }
}
