//! `data/kefu.json`: what a dataset is, fixed when it is created.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::schema::SCHEMA_VERSION;

/// China's customer-service day; every 公众号 kefu has met so far runs on it.
pub const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The event schema version the dataset was written with.
    pub schema_version: u32,
    /// IANA zone that names partitions by local date; fixed for the dataset's life.
    pub timezone: String,
    pub created_at: DateTime<Utc>,
}

impl Manifest {
    pub fn new(timezone: &str) -> Manifest {
        Manifest {
            schema_version: SCHEMA_VERSION,
            timezone: timezone.to_string(),
            created_at: Utc::now(),
        }
    }

    pub fn path(root: &Path) -> PathBuf {
        root.join("kefu.json")
    }

    /// Reads the manifest, or `None` when the folder holds no dataset yet.
    pub fn read(root: &Path) -> Result<Option<Manifest>> {
        let path = Manifest::path(root);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
        };
        let manifest: Manifest = serde_json::from_str(&text)
            .with_context(|| format!("parsing the dataset manifest {}", path.display()))?;
        anyhow::ensure!(
            manifest.schema_version <= SCHEMA_VERSION,
            "{} was written by a newer kefu (schema version {}, this kefu knows {})",
            path.display(),
            manifest.schema_version,
            SCHEMA_VERSION
        );
        Ok(Some(manifest))
    }

    /// Writes the manifest through a temporary file, so a crash never leaves half of it.
    pub fn write(&self, root: &Path) -> Result<()> {
        let path = Manifest::path(root);
        let staging = root.join(".kefu.json.tmp");
        let text = serde_json::to_string_pretty(self)? + "\n";
        fs::write(&staging, text).with_context(|| format!("writing {}", staging.display()))?;
        super::durable_rename(&staging, &path)
    }
}
