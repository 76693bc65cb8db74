//! `data/quarantine/`: every input kefu could not parse, kept byte for byte with the
//! reason, so nothing a source sent is ever lost and a fixed parser can replay it.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use base64::Engine;
use chrono::Utc;
use serde::{Deserialize, Serialize};

/// One quarantined input, one JSON line in a quarantine file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantineRecord {
    /// When kefu set it aside (RFC 3339, UTC).
    pub quarantined_at: String,
    /// import, callback, msgrecord.
    pub source: String,
    /// The input file (or request path) it came from.
    pub file: String,
    /// 1-based line number within `file`, for line-oriented inputs.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<u64>,
    pub reason: String,
    /// The input itself when it is UTF-8 ...
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub raw: Option<String>,
    /// ... and base64 of its bytes when it is not.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub raw_base64: Option<String>,
}

impl QuarantineRecord {
    pub fn new(source: &str, file: &str, line: Option<u64>, reason: String, bytes: &[u8]) -> Self {
        let (raw, raw_base64) = match std::str::from_utf8(bytes) {
            Ok(text) => (Some(text.to_string()), None),
            Err(_) => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            ),
        };
        QuarantineRecord {
            quarantined_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            source: source.to_string(),
            file: file.to_string(),
            line,
            reason,
            raw,
            raw_base64,
        }
    }

    /// The original bytes, exactly as received.
    pub fn bytes(&self) -> Vec<u8> {
        match (&self.raw, &self.raw_base64) {
            (Some(text), _) => text.as_bytes().to_vec(),
            (None, Some(encoded)) => base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap_or_default(),
            (None, None) => Vec::new(),
        }
    }
}

/// Appends records to one file per run under `data/quarantine/dt=<today>/`. The file is
/// created on the first record only, so a clean run leaves nothing behind.
pub struct Quarantine {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
    count: u64,
}

impl Quarantine {
    /// Two quarantines opened in the same millisecond (the collector opens one per bad
    /// request) must not share a file, so the name carries a process-wide sequence.
    pub fn new(quarantine_dir: &Path, run_name: &str) -> Quarantine {
        use std::sync::atomic::{AtomicU64, Ordering};
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let now = Utc::now();
        let path = quarantine_dir
            .join(format!("dt={}", now.format("%Y-%m-%d")))
            .join(format!(
                "{run_name}-{}-{}-{}.jsonl",
                now.format("%H%M%S%3f"),
                std::process::id(),
                SEQUENCE.fetch_add(1, Ordering::Relaxed)
            ));
        Quarantine {
            path,
            writer: None,
            count: 0,
        }
    }

    pub fn put(&mut self, record: &QuarantineRecord) -> Result<()> {
        if self.writer.is_none() {
            if let Some(parent) = self.path.parent() {
                fs::create_dir_all(parent)
                    .with_context(|| format!("creating {}", parent.display()))?;
            }
            // Never truncate: an existing file holds records already acknowledged.
            let file = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&self.path)
                .with_context(|| format!("creating {}", self.path.display()))?;
            self.writer = Some(BufWriter::new(file));
        }
        let writer = self.writer.as_mut().expect("opened just above");
        serde_json::to_writer(&mut *writer, record)?;
        writer
            .write_all(b"\n")
            .with_context(|| format!("writing {}", self.path.display()))?;
        self.count += 1;
        Ok(())
    }

    /// Flushes and syncs: a quarantined input is as durable as an imported one.
    pub fn finish(mut self) -> Result<Option<PathBuf>> {
        match self.writer.take() {
            None => Ok(None),
            Some(writer) => {
                let file = writer
                    .into_inner()
                    .map_err(|err| err.into_error())
                    .with_context(|| format!("writing {}", self.path.display()))?;
                file.sync_all()
                    .with_context(|| format!("syncing {}", self.path.display()))?;
                Ok(Some(self.path))
            }
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads every record of one quarantine file (tests, `kefu status`).
pub fn read_records(path: &Path) -> Result<Vec<QuarantineRecord>> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .with_context(|| format!("{}:{}: not a quarantine record", path.display(), i + 1))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_utf8_input_is_kept_byte_for_byte() {
        let bytes = b"{\"openid\": \"o\xff\"}";
        let record = QuarantineRecord::new("import", "a.jsonl", Some(3), "bad".into(), bytes);
        assert!(record.raw.is_none());
        assert_eq!(record.bytes(), bytes);
        let utf8 = QuarantineRecord::new(
            "import",
            "a.jsonl",
            Some(4),
            "bad".into(),
            "在吗".as_bytes(),
        );
        assert_eq!(utf8.raw.as_deref(), Some("在吗"));
        assert_eq!(utf8.bytes(), "在吗".as_bytes());
    }
}
