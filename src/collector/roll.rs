//! Moving closed log segments into the Parquet store. A segment is deleted only after
//! its events are in Parquet; a crash in between replays it, and the store's
//! deduplication by `event_id` makes the replay write nothing twice.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use super::message::parse_message;
use super::wal::read_segment;
use crate::model::Source;
use crate::store::{AppendSummary, Dataset, EventWriter, Quarantine, QuarantineRecord};

/// A partition with more files than this is compacted during the roll, so a collector
/// rolling every minute leaves a few files a day, not 1,440.
const COMPACT_OVER_FILES: usize = 24;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RollSummary {
    pub segments: u64,
    pub records: u64,
    pub stored: AppendSummary,
    pub quarantined: u64,
}

/// Stores the events of `segments` (oldest first). Takes the dataset's writer lock for
/// the duration, waiting up to `lock_wait` for a nightly run or an import to finish.
pub fn roll(dataset: &Dataset, segments: &[PathBuf], lock_wait: Duration) -> Result<RollSummary> {
    let mut summary = RollSummary::default();
    if segments.is_empty() {
        return Ok(summary);
    }
    let lock = dataset.lock("kefu serve (log roll)", lock_wait)?;
    let mut quarantine = Quarantine::new(&dataset.quarantine_dir(), "callback");
    let mut events = Vec::new();
    for path in segments {
        let (records, bad) = read_segment(path)?;
        summary.segments += 1;
        summary.records += records.len() as u64;
        let file = path.display().to_string();
        for (line, reason, bytes) in bad {
            quarantine.put(&QuarantineRecord::new(
                "callback",
                &file,
                Some(line),
                reason,
                &bytes,
            ))?;
        }
        for (index, record) in records.into_iter().enumerate() {
            match parse_message(
                record.body.as_bytes(),
                Some(record.received_ms),
                Source::Callback,
            ) {
                Ok(event) => events.push(event),
                // The body parsed before it was acknowledged, so this only happens when
                // the parser changed in between; keep it for a replay after a fix.
                Err(err) => quarantine.put(&QuarantineRecord::new(
                    "callback",
                    &file,
                    Some(index as u64 + 1),
                    err.to_string(),
                    record.body.as_bytes(),
                ))?,
            }
        }
    }
    summary.quarantined = quarantine.count();
    quarantine.finish()?;
    let mut writer = EventWriter::new(dataset, &lock);
    summary.stored = writer.append(events).context("storing logged callbacks")?;
    let crowded: Vec<_> = summary
        .stored
        .partitions
        .iter()
        .copied()
        .filter(|date| {
            dataset
                .partition_files("events", *date)
                .is_ok_and(|files| files.len() > COMPACT_OVER_FILES)
        })
        .collect();
    if !crowded.is_empty() {
        dataset.compact_events(&lock, crowded)?;
    }
    Ok(summary)
}
