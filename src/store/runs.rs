//! The run log (`data/runs.jsonl`): one line per `kefu run`, ok or failed, so `kefu
//! status` can say what last ran and an operator can see a night that failed.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use super::Dataset;

/// One job of a run: its name, seconds, and its one-line summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub job: String,
    pub seconds: f64,
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub started: String,
    pub finished: String,
    pub pipeline: String,
    pub from: String,
    pub to: String,
    pub jobs: Vec<JobRecord>,
    /// "ok", or "failed: " and the error.
    pub outcome: String,
}

impl Dataset {
    fn runs_path(&self) -> PathBuf {
        self.root().join("runs.jsonl")
    }

    /// Appends a run to the log and syncs it.
    pub fn record_run(&self, run: &RunRecord) -> Result<()> {
        let path = self.runs_path();
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        let mut line = serde_json::to_vec(run)?;
        line.push(b'\n');
        file.write_all(&line)
            .and_then(|()| file.sync_data())
            .with_context(|| format!("writing {}", path.display()))
    }

    /// The latest run in the log, if any; a torn last line (a crash mid-write) is
    /// skipped.
    pub fn last_run(&self) -> Result<Option<RunRecord>> {
        let path = self.runs_path();
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(text
            .lines()
            .rev()
            .find_map(|line| serde_json::from_str(line).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(outcome: &str) -> RunRecord {
        RunRecord {
            started: "2026-10-17T01:00:00Z".into(),
            finished: "2026-10-17T01:00:05Z".into(),
            pipeline: "pipelines/nightly.toml".into(),
            from: "2026-10-16".into(),
            to: "2026-10-16".into(),
            jobs: vec![JobRecord {
                job: "qa".into(),
                seconds: 1.5,
                summary: "9 flags".into(),
            }],
            outcome: outcome.into(),
        }
    }

    #[test]
    fn the_last_whole_line_is_the_last_run() {
        let dir = tempfile::tempdir().unwrap();
        let dataset = Dataset::open_or_create(&dir.path().join("data"), None).unwrap();
        assert_eq!(dataset.last_run().unwrap(), None);
        dataset.record_run(&record("ok")).unwrap();
        dataset
            .record_run(&record("failed: job qa, 2026-10-16: disk full"))
            .unwrap();
        // A crash in the middle of a write leaves a torn line behind.
        std::fs::OpenOptions::new()
            .append(true)
            .open(dataset.root().join("runs.jsonl"))
            .unwrap()
            .write_all(br#"{"started": "2026-"#)
            .unwrap();
        let last = dataset.last_run().unwrap().unwrap();
        assert_eq!(last.outcome, "failed: job qa, 2026-10-16: disk full");
    }
}
