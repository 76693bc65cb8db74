//! Erasing users: every row that names them, in the events and every derived table,
//! and every quarantined record that mentions them. Each affected partition is
//! rewritten whole and swapped in (as a job's output is), so a reader sees the old
//! partition or the new one, never a half-erased one.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use arrow::array::{Array, BooleanArray, RecordBatch};
use arrow::compute::filter_record_batch;

use super::schema::string_column;
use super::{file, Dataset, WriteLock};

/// What erasing did, by table: rows removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ForgetSummary {
    pub rows_removed: BTreeMap<String, u64>,
    pub partitions_rewritten: u64,
    pub quarantine_records_removed: u64,
    /// The users' message texts, so the caller can find copies outside the store
    /// (reports). Held in memory only.
    pub texts: HashSet<String>,
}

/// A dataset's salt, read once, for hashing many openids.
pub struct UserHasher {
    salt: String,
}

impl UserHasher {
    pub fn hash(&self, openid: &str) -> String {
        use sha2::{Digest, Sha256};
        let salted = format!("{}:{openid}", self.salt);
        hex::encode(&Sha256::digest(salted.as_bytes())[..12])
    }
}

/// Tables whose rows carry the user's openid.
const BY_OPENID: [&str; 5] = ["events", "qa_flags", "sessions", "turns", "tags"];

impl Dataset {
    /// What gives users their pseudonyms in the audit and push logs: a salted SHA-256
    /// of the openid. The salt is made once per dataset and never printed, so a hash
    /// cannot be checked against a guessed openid by anyone without the dataset.
    pub fn user_hasher(&self) -> Result<UserHasher> {
        let path = self.root().join(".audit-salt");
        let salt = match fs::read_to_string(&path) {
            Ok(salt) => salt.trim().to_owned(),
            Err(_) => {
                let salt = hex::encode(rand::random::<[u8; 16]>());
                fs::write(&path, &salt).with_context(|| format!("writing {}", path.display()))?;
                salt
            }
        };
        Ok(UserHasher { salt })
    }

    /// Lines of the collector's write-ahead log that mention any of the users: those
    /// are not in Parquet yet, and the log is the collector's to change.
    pub fn wal_mentions(&self, openids: &HashSet<String>) -> Result<u64> {
        let dir = self.root().join("wal");
        let mut found = 0;
        if dir.exists() {
            for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
                let path = entry?.path();
                let text = fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                found += text
                    .lines()
                    .filter(|line| openids.iter().any(|id| line.contains(id.as_str())))
                    .count() as u64;
            }
        }
        Ok(found)
    }

    /// Removes every row naming one of `openids`; returns what was removed.
    pub fn forget(&self, lock: &WriteLock, openids: &HashSet<String>) -> Result<ForgetSummary> {
        let mut summary = ForgetSummary::default();
        let mut event_ids: HashSet<String> = HashSet::new();
        let mut texts: HashSet<String> = HashSet::new();
        for table in BY_OPENID {
            let removed = self.rewrite_table(lock, table, &mut summary, |batch| {
                let openid = string_column(batch, "openid")?;
                if table == "events" {
                    let (ids, text) = (
                        string_column(batch, "event_id")?,
                        string_column(batch, "text")?,
                    );
                    for row in 0..batch.num_rows() {
                        if openids.contains(openid.value(row)) {
                            event_ids.insert(ids.value(row).to_owned());
                            if text.is_valid(row) {
                                texts.insert(text.value(row).trim().to_owned());
                            }
                        }
                    }
                }
                Ok((0..batch.num_rows())
                    .map(|row| Some(!openids.contains(openid.value(row))))
                    .collect())
            })?;
            summary.rows_removed.insert(table.to_owned(), removed);
        }
        // Rows that name the users only through their messages.
        let removed = self.rewrite_table(lock, "tokens", &mut summary, |batch| {
            let ids = string_column(batch, "event_id")?;
            Ok((0..batch.num_rows())
                .map(|row| Some(!event_ids.contains(ids.value(row))))
                .collect())
        })?;
        summary.rows_removed.insert("tokens".to_owned(), removed);
        let removed = self.rewrite_table(lock, "top_questions", &mut summary, |batch| {
            let example = string_column(batch, "example")?;
            Ok((0..batch.num_rows())
                .map(|row| Some(!texts.contains(example.value(row).trim())))
                .collect())
        })?;
        summary
            .rows_removed
            .insert("top_questions".to_owned(), removed);
        summary.quarantine_records_removed = self.forget_in_quarantine(openids)?;
        summary.texts = texts;
        Ok(summary)
    }

    /// Filters every partition of `table` with `keep`, rewriting only those that lose
    /// rows. Returns the rows removed.
    fn rewrite_table(
        &self,
        lock: &WriteLock,
        table: &str,
        summary: &mut ForgetSummary,
        mut keep: impl FnMut(&RecordBatch) -> Result<BooleanArray>,
    ) -> Result<u64> {
        let mut removed = 0;
        for date in self.partitions(table)? {
            let mut batches = Vec::new();
            for path in self.partition_files(table, date)? {
                batches.extend(file::read(&path, None)?);
            }
            let Some(schema) = batches.first().map(RecordBatch::schema) else {
                continue;
            };
            let mut kept = Vec::with_capacity(batches.len());
            let mut lost = 0;
            for batch in &batches {
                let mask = keep(batch)?;
                let filtered = filter_record_batch(batch, &mask)
                    .with_context(|| format!("filtering {table} dt={date}"))?;
                lost += (batch.num_rows() - filtered.num_rows()) as u64;
                kept.push(filtered);
            }
            if lost > 0 {
                self.replace_partition(lock, table, date, schema, &kept)
                    .with_context(|| format!("rewriting {table} dt={date}"))?;
                summary.partitions_rewritten += 1;
                removed += lost;
            }
        }
        Ok(removed)
    }

    /// Quarantined records (JSON lines) that mention the users, removed file by file.
    fn forget_in_quarantine(&self, openids: &HashSet<String>) -> Result<u64> {
        let mut removed = 0;
        let mut stack = vec![self.quarantine_dir()];
        while let Some(dir) = stack.pop() {
            if !dir.exists() {
                continue;
            }
            for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
                let path = entry?.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    removed += rewrite_without(&path, openids)?;
                }
            }
        }
        Ok(removed)
    }
}

/// Rewrites a text file without the lines mentioning any of `openids` (via a temporary
/// file and a rename); returns how many lines went.
fn rewrite_without(path: &Path, openids: &HashSet<String>) -> Result<u64> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let (gone, kept): (Vec<&str>, Vec<&str>) = text
        .lines()
        .partition(|line| openids.iter().any(|id| line.contains(id.as_str())));
    if gone.is_empty() {
        return Ok(0);
    }
    let staging = path.with_extension("forget.tmp");
    let mut body = kept.join("\n");
    if !body.is_empty() {
        body.push('\n');
    }
    fs::write(&staging, body).with_context(|| format!("writing {}", staging.display()))?;
    fs::rename(&staging, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(gone.len() as u64)
}
