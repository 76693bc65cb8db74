//! The pipeline file (`pipelines/nightly.toml`): one struct per section, every key
//! documented and optional. The file describes the pipeline; flags describe a run.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::error::{line_of, UsageError};
use crate::jobs::sla::SlaConfig;
use crate::jobs::tags::TagsSection;
use crate::jobs::topics::TopicsSection;

/// `[segment]`: the dictionaries the segment job loads.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SegmentSection {
    /// Domain words jieba keeps whole. Default `dict/userdict.txt`.
    pub userdict: PathBuf,
    /// Words the topics and tags jobs ignore. Default `dict/stopwords.txt`.
    pub stopwords: PathBuf,
}

impl Default for SegmentSection {
    fn default() -> SegmentSection {
        SegmentSection {
            userdict: PathBuf::from("dict/userdict.txt"),
            stopwords: PathBuf::from("dict/stopwords.txt"),
        }
    }
}

/// `[qa]`: the rule file and the reviewers' verdicts.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct QaSection {
    /// Default `rules/qa.toml`.
    pub rules: PathBuf,
    /// Default `rules/qa-reviews.csv`; a missing file is no reviews yet.
    pub reviews: PathBuf,
}

impl Default for QaSection {
    fn default() -> QaSection {
        QaSection {
            rules: PathBuf::from("rules/qa.toml"),
            reviews: PathBuf::from("rules/qa-reviews.csv"),
        }
    }
}

/// `[privacy]`: what kefu erases on its own.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacySection {
    /// Erase users (as `kefu forget` does) once they have been unsubscribed this many
    /// days, at the end of each `kefu run`. Default: never.
    pub forget_unsubscribed_after_days: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineConfig {
    pub segment: SegmentSection,
    pub qa: QaSection,
    pub sla: SlaConfig,
    pub topics: TopicsSection,
    pub tags: TagsSection,
    pub privacy: PrivacySection,
}

impl PipelineConfig {
    /// Reads a pipeline file; relative paths in it resolve against its folder.
    pub fn load(path: &Path) -> Result<PipelineConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the pipeline file {}", path.display()))?;
        let mut config = PipelineConfig::parse(&path.display().to_string(), &text)?;
        let base = path.parent().unwrap_or(Path::new("."));
        for relative in [
            &mut config.segment.userdict,
            &mut config.segment.stopwords,
            &mut config.qa.rules,
            &mut config.qa.reviews,
            &mut config.topics.taxonomy,
            &mut config.tags.rules,
        ] {
            if relative.is_relative() {
                *relative = base.join(&*relative);
            }
        }
        // A file the pipeline names but that is not there is a configuration mistake:
        // say so for all of them at once, before any job starts. The review file may be
        // missing (no reviews yet).
        let missing: Vec<String> = [
            ("[segment] userdict", &config.segment.userdict),
            ("[segment] stopwords", &config.segment.stopwords),
            ("[qa] rules", &config.qa.rules),
            ("[topics] taxonomy", &config.topics.taxonomy),
            ("[tags] rules", &config.tags.rules),
        ]
        .into_iter()
        .filter(|(_, file)| !file.exists())
        .map(|(key, file)| {
            format!(
                "{}: {key} = {} does not exist",
                path.display(),
                file.display()
            )
        })
        .collect();
        if !missing.is_empty() {
            return Err(UsageError::Invalid(missing.join("\n")).into());
        }
        Ok(config)
    }

    /// Parses pipeline-file text; `name` names it in errors, which give the line.
    pub fn parse(name: &str, text: &str) -> Result<PipelineConfig> {
        toml::from_str(text).map_err(|err| {
            let line = err.span().map_or(0, |span| line_of(text, span.start));
            UsageError::Invalid(format!("{name}:{line}: {}", err.message())).into()
        })
    }

    /// The repository's `sql/` folder for a pipeline file in `pipelines/`: the queries
    /// `kefu run`'s report and `kefu check` read.
    pub fn sql_dir(pipeline: &Path) -> PathBuf {
        pipeline
            .parent()
            .and_then(Path::parent)
            .map_or_else(|| PathBuf::from("sql"), |root| root.join("sql"))
    }

    /// The shipped `pipelines/nightly.toml`, compiled in, for `kefu demo`.
    pub fn built_in() -> PipelineConfig {
        PipelineConfig::parse(
            "pipelines/nightly.toml (built in)",
            include_str!("../pipelines/nightly.toml"),
        )
        .expect("the shipped pipeline file is valid: a test loads it")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_pipeline_file_loads_and_its_paths_resolve_beside_it() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/nightly.toml");
        let config = PipelineConfig::load(&path).unwrap();
        assert!(config.qa.rules.exists() && config.segment.userdict.exists());
        assert_eq!(config.sla.session_gap_min, 30);
        assert_eq!(config.sla.greetings.len(), 8);
        assert_eq!(config.sla.calendar.make_up_workdays.len(), 2);
        assert_eq!(PipelineConfig::built_in().sla, config.sla);
    }

    #[test]
    fn a_mistyped_key_names_the_file_and_line() {
        let err = PipelineConfig::parse("nightly.toml", "[sla]\nsession_gap = 30\n").unwrap_err();
        assert_eq!(crate::error::exit_code_for(&err), 2);
        let message = err.to_string();
        assert!(
            message.starts_with("nightly.toml:2: unknown field `session_gap`"),
            "{message}"
        );
    }
}
