//! The collector's write-ahead log (`data/wal/`): a callback is acknowledged to WeChat
//! only once its body is on disk here. One thread owns the open segment and commits in
//! groups — every request that arrived while the previous fsync ran shares the next one —
//! so durability costs one fsync per batch, not per callback.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

/// One logged callback: the plaintext message XML (decrypted if it came encrypted) and
/// when kefu received it. Parsing it again on roll gives the same event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WalRecord {
    pub received_ms: i64,
    pub body: String,
}

/// Most requests one commit takes; bounds the latency of the first in a burst.
const MAX_GROUP: usize = 4096;

enum Request {
    Append {
        line: Vec<u8>,
        done: oneshot::Sender<io::Result<()>>,
    },
    /// Close the open segment so the roller may take it.
    Rotate {
        done: oneshot::Sender<io::Result<()>>,
    },
}

/// Figures the roller and `/metrics` read.
#[derive(Debug, Default)]
pub struct WalStats {
    /// Bytes in segments not yet rolled into Parquet.
    pub bytes: AtomicU64,
    /// Records appended since the last rotation.
    pub pending_records: AtomicU64,
    /// Sequence number of the segment being written; every lower one is closed.
    pub open_sequence: AtomicU64,
}

/// A handle to the log writer thread; cheap to clone into every request handler.
#[derive(Clone)]
pub struct Wal {
    requests: mpsc::Sender<Request>,
    dir: PathBuf,
    stats: Arc<WalStats>,
}

impl Wal {
    /// Starts the writer. Segments already in `dir` (a crash's leftovers) stay closed,
    /// for the roller to replay; new records go to a new segment after them.
    pub fn open(dir: &Path) -> Result<Wal> {
        fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let existing = segments(dir)?;
        let next = existing.last().map_or(1, |(seq, _)| seq + 1);
        let stats = Arc::new(WalStats::default());
        let leftover: u64 = existing
            .iter()
            .filter_map(|(_, path)| fs::metadata(path).ok())
            .map(|meta| meta.len())
            .sum();
        stats.bytes.store(leftover, Ordering::Relaxed);
        stats.open_sequence.store(next, Ordering::Relaxed);
        let (requests, receiver) = mpsc::channel();
        let writer = Writer {
            dir: dir.to_path_buf(),
            file: None,
            stats: stats.clone(),
        };
        thread::Builder::new()
            .name("kefu-wal".into())
            .spawn(move || writer.run(receiver))
            .context("starting the write-ahead log thread")?;
        Ok(Wal {
            requests,
            dir: dir.to_path_buf(),
            stats,
        })
    }

    /// Appends a record and returns once it is on disk (fsync'd).
    pub async fn append(&self, record: &WalRecord) -> Result<()> {
        let mut line = serde_json::to_vec(record).context("encoding a log record")?;
        line.push(b'\n');
        let (done, wait) = oneshot::channel();
        self.requests
            .send(Request::Append { line, done })
            .map_err(|_| anyhow::anyhow!("the write-ahead log thread has stopped"))?;
        wait.await
            .map_err(|_| anyhow::anyhow!("the write-ahead log thread has stopped"))?
            .context("writing the write-ahead log")
    }

    /// Closes the open segment; afterwards `closed_segments` lists it.
    pub async fn rotate(&self) -> Result<()> {
        let (done, wait) = oneshot::channel();
        self.requests
            .send(Request::Rotate { done })
            .map_err(|_| anyhow::anyhow!("the write-ahead log thread has stopped"))?;
        wait.await
            .map_err(|_| anyhow::anyhow!("the write-ahead log thread has stopped"))?
            .context("rotating the write-ahead log")
    }

    /// Segments no longer written to, oldest first: what the roller may move to Parquet.
    pub fn closed_segments(&self) -> Result<Vec<PathBuf>> {
        let open = self.stats.open_sequence.load(Ordering::Acquire);
        Ok(segments(&self.dir)?
            .into_iter()
            .filter(|(seq, _)| *seq < open)
            .map(|(_, path)| path)
            .collect())
    }

    /// Deletes segments whose records are safely in Parquet.
    pub fn trim(&self, rolled: &[PathBuf]) -> Result<()> {
        for path in rolled {
            let size = fs::metadata(path).map(|meta| meta.len()).unwrap_or(0);
            fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
            self.stats.bytes.fetch_sub(
                size.min(self.stats.bytes.load(Ordering::Relaxed)),
                Ordering::Relaxed,
            );
        }
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .with_context(|| format!("syncing {}", self.dir.display()))
    }

    pub fn stats(&self) -> &WalStats {
        &self.stats
    }
}

/// The segments in `dir`, by sequence number.
fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let path = entry?.path();
        let sequence = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_prefix("wal-"))
            .and_then(|name| name.strip_suffix(".log"))
            .and_then(|number| number.parse::<u64>().ok());
        if let Some(sequence) = sequence {
            found.push((sequence, path));
        }
    }
    found.sort();
    Ok(found)
}

fn segment_path(dir: &Path, sequence: u64) -> PathBuf {
    dir.join(format!("wal-{sequence:012}.log"))
}

/// A log line that does not parse: its 1-based line number, why, and its bytes.
pub type UnreadableRecord = (u64, String, Vec<u8>);

/// Reads a closed segment. A last line without its newline is a write that was torn by
/// a crash before its fsync finished, so it was never acknowledged: it is skipped. Any
/// other unreadable line is returned as (line number, reason, bytes) for quarantine.
pub fn read_segment(path: &Path) -> Result<(Vec<WalRecord>, Vec<UnreadableRecord>)> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = BufReader::new(file);
    let mut records = Vec::new();
    let mut bad = Vec::new();
    let mut line = Vec::new();
    let mut number = 0u64;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("reading {}", path.display()))?;
        if read == 0 {
            break;
        }
        number += 1;
        if line.last() != Some(&b'\n') {
            tracing::warn!(
                "{}: skipping a torn last record ({read} bytes) that was never acknowledged",
                path.display()
            );
            break;
        }
        match serde_json::from_slice::<WalRecord>(&line[..line.len() - 1]) {
            Ok(record) => records.push(record),
            Err(err) => bad.push((
                number,
                format!("unreadable log record: {err}"),
                line.clone(),
            )),
        }
    }
    Ok((records, bad))
}

struct Writer {
    dir: PathBuf,
    file: Option<File>,
    stats: Arc<WalStats>,
}

impl Writer {
    fn run(mut self, receiver: mpsc::Receiver<Request>) {
        while let Ok(first) = receiver.recv() {
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match receiver.try_recv() {
                    Ok(request) => group.push(request),
                    Err(_) => break,
                }
            }
            let mut appends: Vec<(Vec<u8>, oneshot::Sender<io::Result<()>>)> = Vec::new();
            for request in group {
                match request {
                    Request::Append { line, done } => appends.push((line, done)),
                    Request::Rotate { done } => {
                        self.commit(std::mem::take(&mut appends));
                        let _ = done.send(self.rotate());
                    }
                }
            }
            self.commit(appends);
        }
        // Every handle is gone: the server has shut down; the open segment is synced.
    }

    /// Writes the group, syncs once, and answers every request with the outcome.
    fn commit(&mut self, appends: Vec<(Vec<u8>, oneshot::Sender<io::Result<()>>)>) {
        if appends.is_empty() {
            return;
        }
        let mut buffer = Vec::with_capacity(appends.iter().map(|(line, _)| line.len()).sum());
        for (line, _) in &appends {
            buffer.extend_from_slice(line);
        }
        let outcome = self.write_and_sync(&buffer);
        if outcome.is_ok() {
            self.stats
                .bytes
                .fetch_add(buffer.len() as u64, Ordering::Relaxed);
            self.stats
                .pending_records
                .fetch_add(appends.len() as u64, Ordering::Relaxed);
        }
        for (_, done) in appends {
            let result = match &outcome {
                Ok(()) => Ok(()),
                Err(err) => Err(io::Error::new(err.kind(), err.to_string())),
            };
            let _ = done.send(result);
        }
    }

    fn write_and_sync(&mut self, buffer: &[u8]) -> io::Result<()> {
        if self.file.is_none() {
            let sequence = self.stats.open_sequence.load(Ordering::Acquire);
            let path = segment_path(&self.dir, sequence);
            let file = OpenOptions::new().create(true).append(true).open(&path)?;
            // The new name must survive a crash too, or its records would vanish with it.
            File::open(&self.dir)?.sync_all()?;
            self.file = Some(file);
        }
        let file = self.file.as_mut().expect("opened just above");
        file.write_all(buffer)?;
        file.sync_data()
    }

    /// Closes the open segment (if anything was written) and moves on to the next number.
    fn rotate(&mut self) -> io::Result<()> {
        if let Some(file) = self.file.take() {
            file.sync_all()?;
            self.stats.open_sequence.fetch_add(1, Ordering::AcqRel);
        }
        self.stats.pending_records.store(0, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(i: i64) -> WalRecord {
        WalRecord {
            received_ms: 1_760_000_000_000 + i,
            body: format!("<xml><MsgId>{i}</MsgId>\n</xml>"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_appends_land_once_each_and_rotation_closes_the_segment() {
        let dir = tempfile::tempdir().unwrap();
        let wal = Wal::open(dir.path()).unwrap();
        let mut tasks = Vec::new();
        for i in 0..200 {
            let wal = wal.clone();
            tasks.push(tokio::spawn(async move { wal.append(&record(i)).await }));
        }
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert!(
            wal.closed_segments().unwrap().is_empty(),
            "the open segment is not closed"
        );
        wal.rotate().await.unwrap();
        let closed = wal.closed_segments().unwrap();
        assert_eq!(closed.len(), 1);
        let (records, bad) = read_segment(&closed[0]).unwrap();
        assert!(bad.is_empty());
        let mut ids: Vec<i64> = records
            .iter()
            .map(|r| r.received_ms - 1_760_000_000_000)
            .collect();
        ids.sort();
        assert_eq!(ids, (0..200).collect::<Vec<_>>());
        assert_eq!(
            records[0].body.lines().count(),
            2,
            "line breaks inside a body survive"
        );

        wal.trim(&closed).unwrap();
        assert!(wal.closed_segments().unwrap().is_empty());
        assert_eq!(wal.stats().bytes.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_torn_last_line_is_skipped_and_a_garbled_one_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal-000000000001.log");
        let good = serde_json::to_string(&record(1)).unwrap();
        fs::write(
            &path,
            format!("{good}\nnot json\n{good}\n{{\"received_ms\":1,\"bo"),
        )
        .unwrap();
        let (records, bad) = read_segment(&path).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].0, 2);
    }

    #[tokio::test]
    async fn leftover_segments_are_closed_and_new_records_go_after_them() {
        let dir = tempfile::tempdir().unwrap();
        let leftover = segment_path(dir.path(), 7);
        fs::write(
            &leftover,
            format!("{}\n", serde_json::to_string(&record(1)).unwrap()),
        )
        .unwrap();
        let wal = Wal::open(dir.path()).unwrap();
        assert_eq!(wal.closed_segments().unwrap(), vec![leftover]);
        wal.append(&record(2)).await.unwrap();
        assert!(segment_path(dir.path(), 8).exists());
    }
}
