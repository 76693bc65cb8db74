//! The errors a caller branches on. Everything else is `anyhow` with context.

use std::path::{Path, PathBuf};

/// A mistake in how kefu was called or configured: the command exits with code 2
/// (cron and CI tell "fix the call" from "the run failed", which exits 1).
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("no kefu dataset at {root} (no kefu.json): create one with `kefu gen` or `kefu import`, or point --data / KEFU_DATA at an existing one")]
    NoDataset { root: PathBuf },
    #[error("the dataset at {root} uses time zone {dataset}, but this run asked for {asked}: a dataset's zone is fixed when it is created")]
    ZoneMismatch {
        root: PathBuf,
        dataset: String,
        asked: String,
    },
    #[error("{0}")]
    Invalid(String),
}

/// The 1-based line of a byte offset in a config or rule file, for `file:line` errors.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Problems found in a rule or config file, each as `file:line: reason`, so one run
/// reports every mistake at once.
pub struct Problems<'a> {
    path: &'a Path,
    source: &'a str,
    pub found: Vec<String>,
}

impl<'a> Problems<'a> {
    pub fn new(path: &'a Path, source: &'a str) -> Problems<'a> {
        Problems {
            path,
            source,
            found: Vec::new(),
        }
    }

    /// Parses the source as TOML; a syntax or type error is a usage error at its line.
    pub fn parse_toml<T: serde::de::DeserializeOwned>(&mut self) -> anyhow::Result<T> {
        toml::from_str(self.source).map_err(|err| {
            let reason = err.message().to_owned();
            self.at(err.span().unwrap_or(0..0), reason);
            UsageError::Invalid(self.found.join("\n")).into()
        })
    }

    /// Compiles a regex from the file; an invalid one is recorded at its line as
    /// `{owner}invalid {what} regex: …` and gives None, so checking goes on.
    pub fn regex(
        &mut self,
        source: &toml::Spanned<String>,
        owner: &str,
        what: &str,
    ) -> Option<regex::Regex> {
        match regex::Regex::new(source.get_ref()) {
            Ok(regex) => Some(regex),
            Err(err) => {
                self.at(source.span(), format!("{owner}invalid {what} regex: {err}"));
                None
            }
        }
    }

    /// Records a problem at a byte span of the source.
    pub fn at(&mut self, span: std::ops::Range<usize>, reason: impl std::fmt::Display) {
        let line = line_of(self.source, span.start);
        self.found
            .push(format!("{}:{line}: {reason}", self.path.display()));
    }
}

/// Exit codes that cron can act on (DESIGN.md).
pub mod exit_code {
    pub const OK: i32 = 0;
    pub const FAILURE: i32 = 1;
    pub const USAGE: i32 = 2;
}

/// Maps an error chain to its exit code: a usage error anywhere in the chain is a 2.
pub fn exit_code_for(err: &anyhow::Error) -> i32 {
    if err.chain().any(|cause| cause.is::<UsageError>()) {
        exit_code::USAGE
    } else {
        exit_code::FAILURE
    }
}
