//! The only module that knows paths: the dataset root, its manifest and lock, the
//! Parquet tables under it, and the quarantine. See DESIGN.md, "Data layout".

mod derived;
mod events;
pub mod file;
mod forget;
mod lock;
mod manifest;
mod push_log;
mod quarantine;
mod runs;
pub mod schema;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono::NaiveDate;
use chrono_tz::Tz;

pub use events::{AppendSummary, CompactSummary, EventWriter};
pub use forget::{ForgetSummary, UserHasher};
pub use lock::WriteLock;
pub use manifest::{Manifest, DEFAULT_TIMEZONE};
pub use push_log::PushJournal;
pub use quarantine::{read_records as read_quarantine, Quarantine, QuarantineRecord};
pub use runs::{JobRecord, RunRecord};

use crate::error::UsageError;

/// The tables a dataset may hold, each a Hive-partitioned folder of Parquet files.
pub const TABLES: [&str; 10] = [
    "events",
    "tokens",
    "qa_flags",
    "sessions",
    "turns",
    "sla_daily",
    "topics",
    "top_questions",
    "tags",
    "push_log",
];

/// An opened dataset: its root folder and the manifest fixed when it was created.
#[derive(Debug, Clone)]
pub struct Dataset {
    root: PathBuf,
    manifest: Manifest,
    zone: Tz,
}

impl Dataset {
    /// Opens an existing dataset; the error says how to make one when there is none.
    pub fn open(root: &Path) -> Result<Dataset> {
        let manifest = Manifest::read(root)?.ok_or_else(|| UsageError::NoDataset {
            root: root.to_path_buf(),
        })?;
        Dataset::from_manifest(root, manifest)
    }

    /// Opens the dataset at `root`, creating it when absent. A `timezone` that differs
    /// from the one the dataset was created with is refused: partitions are named by
    /// local date, so two zones in one dataset would split days inconsistently.
    pub fn open_or_create(root: &Path, timezone: Option<&str>) -> Result<Dataset> {
        if let Some(name) = timezone {
            parse_zone(name)?;
        }
        let manifest = match Manifest::read(root)? {
            Some(manifest) => {
                if let Some(asked) = timezone {
                    if asked != manifest.timezone {
                        return Err(UsageError::ZoneMismatch {
                            root: root.to_path_buf(),
                            dataset: manifest.timezone.clone(),
                            asked: asked.to_string(),
                        }
                        .into());
                    }
                }
                manifest
            }
            None => {
                let manifest = Manifest::new(timezone.unwrap_or(DEFAULT_TIMEZONE));
                fs::create_dir_all(root)
                    .with_context(|| format!("creating the data folder {}", root.display()))?;
                manifest.write(root)?;
                manifest
            }
        };
        Dataset::from_manifest(root, manifest)
    }

    fn from_manifest(root: &Path, manifest: Manifest) -> Result<Dataset> {
        let zone = parse_zone(&manifest.timezone)
            .with_context(|| format!("reading the manifest {}", Manifest::path(root).display()))?;
        Ok(Dataset {
            root: root.to_path_buf(),
            manifest,
            zone,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The zone that turns instants into partition dates.
    pub fn zone(&self) -> Tz {
        self.zone
    }

    /// Takes the dataset's single-writer lock, waiting up to `wait` for another writer.
    pub fn lock(&self, command: &str, wait: std::time::Duration) -> Result<WriteLock> {
        let lock = WriteLock::acquire(&self.root, command, wait)?;
        // Whatever a killed writer left half-done lives only here; no reader looks in it.
        let scratch = self.scratch_dir();
        if scratch.exists() {
            fs::remove_dir_all(&scratch)
                .with_context(|| format!("clearing {}", scratch.display()))?;
        }
        Ok(lock)
    }

    /// `events` and `push_log` are irreplaceable and sit at the top; every other table
    /// can be rebuilt from them and lives under `derived/` (DESIGN.md, "Data layout").
    pub fn table_dir(&self, table: &str) -> PathBuf {
        match table {
            "events" | "push_log" => self.root.join(table),
            derived => self.root.join("derived").join(derived),
        }
    }

    pub fn partition_dir(&self, table: &str, date: NaiveDate) -> PathBuf {
        self.table_dir(table).join(format!("dt={date}"))
    }

    /// Where writers stage files before renaming them into place. It sits outside every
    /// table folder so that no glob over a table ever matches a half-written file.
    pub fn scratch_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub fn quarantine_dir(&self) -> PathBuf {
        self.root.join("quarantine")
    }

    /// The dates of a table's partitions, oldest first.
    pub fn partitions(&self, table: &str) -> Result<Vec<NaiveDate>> {
        let dir = self.table_dir(table);
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut dates = Vec::new();
        for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
            let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
            let name = entry.file_name();
            let Some(date) = name
                .to_str()
                .and_then(|name| name.strip_prefix("dt="))
                .and_then(|date| NaiveDate::parse_from_str(date, "%Y-%m-%d").ok())
            else {
                continue;
            };
            dates.push(date);
        }
        dates.sort();
        Ok(dates)
    }

    /// The Parquet files of one partition in the order they were written (their names
    /// start with the write time), so "the copy stored first wins" can be honoured.
    pub fn partition_files(&self, table: &str, date: NaiveDate) -> Result<Vec<PathBuf>> {
        let dir = self.partition_dir(table, date);
        if !dir.exists() {
            return Ok(Vec::new());
        }
        let mut files = Vec::new();
        for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
            let path = entry
                .with_context(|| format!("listing {}", dir.display()))?
                .path();
            if path.extension().is_some_and(|ext| ext == "parquet") {
                files.push(path);
            }
        }
        files.sort();
        Ok(files)
    }
}

/// Parses an IANA zone name, as a usage error naming the bad value.
pub fn parse_zone(name: &str) -> Result<Tz> {
    name.parse::<Tz>().map_err(|_| {
        UsageError::Invalid(format!(
            "unknown time zone {name:?}: use an IANA name such as Asia/Shanghai"
        ))
        .into()
    })
}

/// Renames `from` to `to` and makes the rename durable by syncing the target's folder.
pub(crate) fn durable_rename(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to)
        .with_context(|| format!("renaming {} to {}", from.display(), to.display()))?;
    sync_parent(to)
}

/// Like [`durable_rename`], but refuses to replace an existing file: a new data file
/// that landed on an old one's name would silently drop the old one's rows.
pub(crate) fn durable_rename_new(from: &Path, to: &Path) -> Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    use rustix::io::Errno;
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Ok(()) => {}
        Err(Errno::EXIST) => bail!(
            "{} already exists; refusing to replace it with {}",
            to.display(),
            from.display()
        ),
        // File systems without renameat2 flags: check, then rename.
        Err(Errno::INVAL | Errno::NOSYS) if !to.exists() => fs::rename(from, to)
            .with_context(|| format!("renaming {} to {}", from.display(), to.display()))?,
        Err(error) => {
            return Err(error)
                .with_context(|| format!("renaming {} to {}", from.display(), to.display()))
        }
    }
    sync_parent(to)
}

fn sync_parent(to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        fs::File::open(parent)
            .and_then(|dir| dir.sync_all())
            .with_context(|| format!("syncing the folder {}", parent.display()))?;
    }
    Ok(())
}

/// Exchanges two folders atomically (Linux `renameat2(RENAME_EXCHANGE)`). Where the
/// file system cannot, falls back to two renames with a moment of an absent partition,
/// which a reader sees as a missing day, never as duplicate rows.
pub(crate) fn swap_dirs(a: &Path, b: &Path) -> Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(()),
        Err(_) => {
            let parked = a.with_extension("old");
            fs::rename(b, &parked).with_context(|| format!("moving {} aside", b.display()))?;
            fs::rename(a, b).with_context(|| format!("moving {} into place", a.display()))?;
            fs::rename(&parked, a).with_context(|| format!("parking {}", parked.display()))?;
            Ok(())
        }
    }
}

/// What one table holds, from file listings and Parquet footers (no data is read).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TableStats {
    pub partitions: u64,
    pub first: Option<NaiveDate>,
    pub last: Option<NaiveDate>,
    pub files: u64,
    pub rows: u64,
    pub bytes: u64,
    pub last_write: Option<std::time::SystemTime>,
}

impl Dataset {
    pub fn table_stats(&self, table: &str) -> Result<TableStats> {
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let dates = self.partitions(table)?;
        let mut stats = TableStats {
            partitions: dates.len() as u64,
            first: dates.first().copied(),
            last: dates.last().copied(),
            ..TableStats::default()
        };
        for date in dates {
            for path in self.partition_files(table, date)? {
                let file =
                    fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
                let meta = file
                    .metadata()
                    .with_context(|| format!("reading {}", path.display()))?;
                stats.files += 1;
                stats.bytes += meta.len();
                if let Ok(modified) = meta.modified() {
                    stats.last_write = Some(stats.last_write.map_or(modified, |t| t.max(modified)));
                }
                let reader = SerializedFileReader::new(file)
                    .with_context(|| format!("reading the Parquet footer of {}", path.display()))?;
                stats.rows += reader.metadata().file_metadata().num_rows() as u64;
            }
        }
        Ok(stats)
    }

    /// Quarantine files and how many inputs they hold.
    pub fn quarantine_stats(&self) -> Result<(u64, u64)> {
        let dir = self.quarantine_dir();
        let (mut files, mut records) = (0u64, 0u64);
        if !dir.exists() {
            return Ok((0, 0));
        }
        let mut stack = vec![dir];
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
                let path = entry?.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|ext| ext == "jsonl") {
                    files += 1;
                    let text = fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    records += text.lines().count() as u64;
                }
            }
        }
        Ok((files, records))
    }
}
