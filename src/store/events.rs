//! The `events` table: appending with deduplication by `event_id`, reading a date
//! range, and compacting a partition's small files into one.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;

use anyhow::{Context, Result};
use arrow::array::{Array, RecordBatch, StringArray};
use chrono::NaiveDate;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

use super::schema::{batch_to_events, events_schema, events_to_batch};
use super::{file, swap_dirs, Dataset, WriteLock};
use crate::model::Event;

const TABLE: &str = "events";

/// How many partitions' id sets an import keeps in memory. A day's ids are a few MB;
/// a file spanning years still runs in bounded memory, reloading a day when it returns.
const CACHED_PARTITIONS: usize = 32;

/// What one append did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct AppendSummary {
    pub written: u64,
    /// Events whose `event_id` was already stored, or repeated within the batch.
    pub duplicates: u64,
    pub partitions: BTreeSet<NaiveDate>,
}

impl AppendSummary {
    pub fn add(&mut self, other: AppendSummary) {
        self.written += other.written;
        self.duplicates += other.duplicates;
        self.partitions.extend(other.partitions);
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CompactSummary {
    pub partitions: u64,
    pub files_before: u64,
    pub rows: u64,
}

/// A 128-bit digest of an event id: a quarter of the memory of the string, and a false
/// match needs ~2^64 ids.
fn id_key(event_id: &str) -> u128 {
    let digest = Sha256::digest(event_id.as_bytes());
    u128::from_le_bytes(digest[..16].try_into().expect("sha256 has 32 bytes"))
}

/// Appends events to the store. Deduplication happens here, against what each partition
/// already holds, so a second import or a retry never stores a second row.
pub struct EventWriter<'a> {
    dataset: &'a Dataset,
    _lock: &'a WriteLock,
    known: HashMap<NaiveDate, HashSet<u128>>,
    /// Partitions in the order they were last used, for evicting id sets.
    recency: Vec<NaiveDate>,
}

impl<'a> EventWriter<'a> {
    /// The lock is borrowed to prove the caller is the dataset's one writer.
    pub fn new(dataset: &'a Dataset, lock: &'a WriteLock) -> EventWriter<'a> {
        EventWriter {
            dataset,
            _lock: lock,
            known: HashMap::new(),
            recency: Vec::new(),
        }
    }

    /// Stores the events that are new, one new file per partition touched. Within the
    /// batch the first copy of an id wins, as does the copy already stored.
    pub fn append(&mut self, events: Vec<Event>) -> Result<AppendSummary> {
        let zone = self.dataset.zone();
        let mut by_date: BTreeMap<NaiveDate, Vec<Event>> = BTreeMap::new();
        for event in events {
            by_date
                .entry(event.local_date(zone))
                .or_default()
                .push(event);
        }
        let mut summary = AppendSummary::default();
        let mut to_write = Vec::new();
        for (date, events) in by_date {
            self.load_known(date)?;
            let known = self.known.get_mut(&date).expect("loaded just above");
            let before = events.len() as u64;
            let mut fresh: Vec<Event> = events
                .into_iter()
                .filter(|event| known.insert(id_key(&event.event_id)))
                .collect();
            summary.duplicates += before - fresh.len() as u64;
            if fresh.is_empty() {
                continue;
            }
            fresh.sort_by(|a, b| {
                a.ts_ms
                    .cmp(&b.ts_ms)
                    .then_with(|| a.event_id.cmp(&b.event_id))
            });
            summary.written += fresh.len() as u64;
            summary.partitions.insert(date);
            to_write.push((date, file::part_name(), fresh));
        }
        // Encoding and zstd dominate; partitions are independent, so they go in parallel.
        let dataset = self.dataset;
        to_write
            .into_par_iter()
            .try_for_each(|(date, name, events)| -> Result<()> {
                let batch = events_to_batch(&events)?;
                let staging = dataset.scratch_dir().join(&name);
                let target = dataset.partition_dir(TABLE, date).join(&name);
                file::write_atomically(&staging, &target, events_schema(), &[batch])
                    .with_context(|| format!("writing events for {date}"))
            })?;
        Ok(summary)
    }

    fn load_known(&mut self, date: NaiveDate) -> Result<()> {
        self.recency.retain(|d| *d != date);
        self.recency.push(date);
        if self.known.contains_key(&date) {
            return Ok(());
        }
        let mut ids = HashSet::new();
        for path in self.dataset.partition_files(TABLE, date)? {
            for batch in file::read(&path, Some(&["event_id"]))? {
                let column = batch
                    .column(0)
                    .as_any()
                    .downcast_ref::<StringArray>()
                    .with_context(|| format!("{}: event_id is not utf8", path.display()))?;
                ids.extend(column.iter().flatten().map(id_key));
            }
        }
        self.known.insert(date, ids);
        while self.recency.len() > CACHED_PARTITIONS {
            let oldest = self.recency.remove(0);
            self.known.remove(&oldest);
        }
        Ok(())
    }
}

impl Dataset {
    /// Every event whose partition date is in `from..=to`, in stored order per partition.
    pub fn read_events(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<RecordBatch>> {
        self.read_event_files(from, to, None)
    }

    /// The same with only the named columns decoded (a job that never looks at `extra`
    /// skips it).
    pub fn read_events_with(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        columns: &[&str],
    ) -> Result<Vec<RecordBatch>> {
        self.read_event_files(from, to, Some(columns))
    }

    /// The files of the range decoded in parallel; batches come back in partition and
    /// file order.
    fn read_event_files(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        columns: Option<&[&str]>,
    ) -> Result<Vec<RecordBatch>> {
        let mut paths = Vec::new();
        for date in self.partitions(TABLE)? {
            if (from..=to).contains(&date) {
                paths.extend(self.partition_files(TABLE, date)?);
            }
        }
        let parts: Vec<Vec<RecordBatch>> = paths
            .par_iter()
            .map(|path| file::read(path, columns))
            .collect::<Result<_>>()?;
        Ok(parts.into_iter().flatten().collect())
    }

    /// The same as rows; for tests and small ranges.
    pub fn read_event_rows(&self, from: NaiveDate, to: NaiveDate) -> Result<Vec<Event>> {
        let mut events = Vec::new();
        for batch in self.read_events(from, to)? {
            events.extend(batch_to_events(&batch)?);
        }
        Ok(events)
    }

    /// Merges the files of each given partition that has more than one into a single
    /// file, sorted by time. The new partition folder is swapped in with one atomic
    /// rename, so a reader sees the old files or the new one, never both.
    pub fn compact_events(
        &self,
        _lock: &WriteLock,
        dates: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<CompactSummary> {
        let dates: Vec<NaiveDate> = dates.into_iter().collect();
        let results: Vec<Option<(u64, u64)>> = dates
            .par_iter()
            .map(|date| self.compact_partition(*date))
            .collect::<Result<_>>()?;
        let mut summary = CompactSummary::default();
        for (files, rows) in results.into_iter().flatten() {
            summary.partitions += 1;
            summary.files_before += files;
            summary.rows += rows;
        }
        Ok(summary)
    }

    fn compact_partition(&self, date: NaiveDate) -> Result<Option<(u64, u64)>> {
        let files = self.partition_files(TABLE, date)?;
        if files.len() < 2 {
            return Ok(None);
        }
        let mut events = Vec::new();
        for path in &files {
            for batch in file::read(path, None)? {
                events.extend(batch_to_events(&batch)?);
            }
        }
        // Appends already dedupe; this keeps a hand-copied file from doubling rows.
        let mut seen = HashSet::with_capacity(events.len());
        events.retain(|event| seen.insert(id_key(&event.event_id)));
        events.sort_by(|a, b| {
            a.ts_ms
                .cmp(&b.ts_ms)
                .then_with(|| a.event_id.cmp(&b.event_id))
        });
        let rows = events.len() as u64;

        let name = file::part_name();
        let staging_dir = self.scratch_dir().join(format!("compact-dt={date}"));
        // Partitions compact in parallel and may share a name made in the same
        // millisecond, so the staging file carries the date too.
        let staging_file = self
            .scratch_dir()
            .join(format!(".compact-dt={date}-{}", name.display()));
        let batch = events_to_batch(&events)?;
        file::write_atomically(
            &staging_file,
            &staging_dir.join(&name),
            events_schema(),
            &[batch],
        )?;
        let live_dir = self.partition_dir(TABLE, date);
        swap_dirs(&staging_dir, &live_dir)?;
        // After the swap the staging path holds the old files.
        fs::remove_dir_all(&staging_dir)
            .with_context(|| format!("removing the old files of {}", live_dir.display()))?;
        Ok(Some((files.len() as u64, rows)))
    }
}
