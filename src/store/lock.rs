//! The single-writer lock on `data/.lock`: every command that writes holds it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// Held for as long as the writer lives; the OS releases it if the process dies, so a
/// killed import never leaves the dataset locked.
#[derive(Debug)]
pub struct WriteLock {
    _file: File,
    path: PathBuf,
}

impl WriteLock {
    pub fn acquire(root: &Path, command: &str, wait: Duration) -> Result<WriteLock> {
        let path = root.join(".lock");
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("opening the lock file {}", path.display()))?;
        let started = Instant::now();
        let mut told = false;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {
                    let holder = holder(&mut file);
                    if started.elapsed() >= wait {
                        anyhow::bail!(
                            "another kefu command is writing to {} ({holder}); \
                             wait for it to finish, or check that no stuck process holds {}",
                            root.display(),
                            path.display()
                        );
                    }
                    if !told {
                        tracing::warn!("waiting for the dataset lock ({holder})");
                        told = true;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(TryLockError::Error(err)) => {
                    return Err(err).with_context(|| format!("locking {}", path.display()));
                }
            }
        }
        file.set_len(0)?;
        file.rewind()?;
        writeln!(
            file,
            "pid {} running `kefu {command}` since {}",
            std::process::id(),
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )
        .with_context(|| format!("writing {}", path.display()))?;
        Ok(WriteLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn holder(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.rewind().and_then(|_| file.read_to_string(&mut text));
    let text = text.trim();
    if text.is_empty() {
        "held by another process".to_string()
    } else {
        text.to_string()
    }
}
