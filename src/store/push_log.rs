//! The push log (`data/push_log/dt=D/`), irreplaceable like `events`: it is how kefu
//! knows which WeChat tags it created and whom it put in them. A push appends each call
//! to a journal (`journal-<push_id>.jsonl`, synced per line, so a crash loses at most
//! the call in flight); when the push ends the journal is sealed into a Parquet part
//! for the `push_log` SQL view. A journal left by a killed push is read like a part
//! and sealed by the next push.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::NaiveDate;

use super::schema::{batch_to_push_calls, push_calls_to_batch, push_log_schema};
use super::{file, Dataset, WriteLock};
use crate::model::PushCall;

const TABLE: &str = "push_log";

/// An open journal of one push.
pub struct PushJournal {
    path: PathBuf,
    file: File,
    date: NaiveDate,
}

impl Dataset {
    /// Starts the journal of push `push_id` of the snapshot `date`.
    pub fn open_push_journal(
        &self,
        _lock: &WriteLock,
        date: NaiveDate,
        push_id: &str,
    ) -> Result<PushJournal> {
        let dir = self.partition_dir(TABLE, date);
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("journal-{push_id}.jsonl"));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(PushJournal { path, file, date })
    }

    /// Every call ever logged, sealed or still in a journal, with the snapshot date it
    /// pushed, in the order made.
    pub fn read_push_log(&self) -> Result<Vec<(NaiveDate, PushCall)>> {
        let mut calls = Vec::new();
        for date in self.partitions(TABLE)? {
            for path in self.partition_files(TABLE, date)? {
                for batch in file::read(&path, None)? {
                    calls.extend(batch_to_push_calls(&batch)?.into_iter().map(|c| (date, c)));
                }
            }
            for path in journals(&self.partition_dir(TABLE, date))? {
                calls.extend(read_journal(&path)?.into_iter().map(|c| (date, c)));
            }
        }
        calls.sort_by(|(_, a), (_, b)| a.push_id.cmp(&b.push_id).then(a.seq.cmp(&b.seq)));
        Ok(calls)
    }

    /// Seals the journals a killed push left behind.
    pub fn seal_push_journals(&self, _lock: &WriteLock) -> Result<u64> {
        let mut sealed = 0;
        for date in self.partitions(TABLE)? {
            for path in journals(&self.partition_dir(TABLE, date))? {
                self.seal(date, &path)?;
                sealed += 1;
            }
        }
        Ok(sealed)
    }

    fn seal(&self, date: NaiveDate, journal: &Path) -> Result<()> {
        let calls = read_journal(journal)?;
        if !calls.is_empty() {
            let name = file::part_name();
            let batch = push_calls_to_batch(&calls)?;
            file::write_atomically(
                &self.scratch_dir().join(&name),
                &self.partition_dir(TABLE, date).join(&name),
                push_log_schema(),
                &[batch],
            )
            .with_context(|| format!("sealing {}", journal.display()))?;
        }
        fs::remove_file(journal).with_context(|| format!("removing {}", journal.display()))
    }
}

impl PushJournal {
    /// Appends a call and syncs it before the push goes on.
    pub fn append(&mut self, call: &PushCall) -> Result<()> {
        let mut line = serde_json::to_vec(call)?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|()| self.file.sync_data())
            .with_context(|| format!("writing {}", self.path.display()))
    }

    /// Seals the journal into a Parquet part.
    pub fn finish(self, dataset: &Dataset) -> Result<()> {
        drop(self.file);
        dataset.seal(self.date, &self.path)
    }
}

fn journals(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.extension().is_some_and(|ext| ext == "jsonl")
                && path
                    .file_name()
                    .and_then(|name| name.to_str())
                    .is_some_and(|name| name.starts_with("journal-"))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// The calls of a journal. A last line without its newline was torn by a crash: the
/// call's answer was never recorded, so the call counts as not made.
fn read_journal(path: &Path) -> Result<Vec<PushCall>> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut calls = Vec::new();
    let mut reader = BufReader::new(file);
    let mut line = String::new();
    let mut number = 0;
    loop {
        line.clear();
        if reader
            .read_line(&mut line)
            .with_context(|| format!("reading {}", path.display()))?
            == 0
        {
            break;
        }
        number += 1;
        if !line.ends_with('\n') {
            tracing::warn!("{}: skipping a torn last line", path.display());
            break;
        }
        let call = serde_json::from_str(line.trim_end())
            .with_context(|| format!("{}:{number}: not a push log record", path.display()))?;
        calls.push(call);
    }
    Ok(calls)
}

/// Salted hashes of forgotten users whose openids the push log still holds because
/// WeChat still has them in a kefu tag: the next push untags them, then pseudonymises.
const PENDING_FORGETS: &str = "forget-pending.json";

impl Dataset {
    pub fn pending_forgets(&self) -> Result<std::collections::BTreeSet<String>> {
        let path = self.table_dir(TABLE).join(PENDING_FORGETS);
        match fs::read_to_string(&path) {
            Ok(text) => {
                serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
            Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn set_pending_forgets(
        &self,
        _lock: &WriteLock,
        hashes: &std::collections::BTreeSet<String>,
    ) -> Result<()> {
        let path = self.table_dir(TABLE).join(PENDING_FORGETS);
        if hashes.is_empty() {
            return match fs::remove_file(&path) {
                Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
                    Err(err).with_context(|| format!("removing {}", path.display()))
                }
                _ => Ok(()),
            };
        }
        file::write_json_atomically(&path, hashes)
    }

    /// Replaces openids in every push log row by their pseudonyms; each partition that
    /// names one is rewritten whole and swapped in. Returns the rows changed.
    pub fn pseudonymise_push_log(
        &self,
        lock: &WriteLock,
        pseudonyms: &std::collections::HashMap<String, String>,
    ) -> Result<u64> {
        if pseudonyms.is_empty() {
            return Ok(0);
        }
        self.seal_push_journals(lock)?;
        let mut changed = 0;
        for date in self.partitions(TABLE)? {
            let mut calls = Vec::new();
            for path in self.partition_files(TABLE, date)? {
                for batch in file::read(&path, None)? {
                    calls.extend(batch_to_push_calls(&batch)?);
                }
            }
            let mut touched = 0;
            for call in &mut calls {
                let mut row_changed = false;
                for openid in &mut call.openids {
                    if let Some(pseudonym) = pseudonyms.get(openid.as_str()) {
                        *openid = pseudonym.clone();
                        row_changed = true;
                    }
                }
                touched += u64::from(row_changed);
            }
            if touched == 0 {
                continue;
            }
            changed += touched;
            let name = file::part_name();
            let staging_dir = self
                .scratch_dir()
                .join(format!("pseudonymise-push_log-dt={date}"));
            let staging_file = self
                .scratch_dir()
                .join(format!(".pseudonymise-dt={date}-{}", name.display()));
            file::write_atomically(
                &staging_file,
                &staging_dir.join(&name),
                push_log_schema(),
                &[push_calls_to_batch(&calls)?],
            )?;
            let live = self.partition_dir(TABLE, date);
            super::swap_dirs(&staging_dir, &live)?;
            fs::remove_dir_all(&staging_dir)
                .with_context(|| format!("removing the old files of {}", live.display()))?;
        }
        Ok(changed)
    }
}
