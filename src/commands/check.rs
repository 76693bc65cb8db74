//! `kefu check PIPELINE.toml`: everything a night's run would read, checked without
//! running anything — the pipeline file, dictionaries, QA rules and reviews, the
//! taxonomy, the tag rules, the business calendar, and the report's SQL (against the
//! dataset's tables when there is one). Every problem is reported at once; exit 2 if
//! there is any, so a pre-deploy step or cron can stop on it.

use std::path::PathBuf;

use anyhow::Result;

use super::Context;
use crate::cli::CheckArgs;
use crate::config::PipelineConfig;
use crate::error::UsageError;
use crate::jobs::qa::{Reviews, Rules};
use crate::jobs::tags::TagRules;
use crate::jobs::topics::Taxonomy;
use crate::sql::{read_sql_file, SqlSession};
use crate::store::{parse_zone, Dataset, DEFAULT_TIMEZONE};
use crate::text::segment::Segmenter;

pub fn run(context: &Context, args: &CheckArgs) -> Result<()> {
    let mut problems: Vec<String> = Vec::new();
    let mut checked = 0;
    let mut note = |what: &str, outcome: Result<String>| {
        checked += 1;
        match outcome {
            Ok(detail) => println!("ok       {what}{detail}"),
            Err(err) => {
                println!("PROBLEM  {what}");
                problems.push(format!("{err:#}"));
            }
        }
    };
    let config = match PipelineConfig::load(&args.pipeline) {
        Ok(config) => {
            note(&args.pipeline.display().to_string(), Ok(String::new()));
            config
        }
        Err(err) => {
            // The file itself is unreadable or names missing files: nothing more can
            // be checked against it.
            return Err(err);
        }
    };
    note(
        "[segment] dictionaries",
        Segmenter::load(&config.segment.userdict, &config.segment.stopwords).map(|_| String::new()),
    );
    note(
        "[qa] rules",
        Rules::load(&config.qa.rules)
            .map(|rules| format!(" ({} rules, version {})", rules.rules.len(), rules.version)),
    );
    note(
        "[qa] reviews",
        Reviews::load(&config.qa.reviews).map(|_| String::new()),
    );
    note(
        "[topics] taxonomy",
        Taxonomy::load(&config.topics.taxonomy)
            .map(|taxonomy| format!(" ({} categories)", taxonomy.categories.len())),
    );
    note(
        "[tags] rules",
        TagRules::load(&config.tags.rules)
            .map(|rules| format!(" ({} tags, version {})", rules.tags.len(), rules.version)),
    );
    let dataset = Dataset::open(&context.data).ok();
    let zone = match &dataset {
        Some(dataset) => dataset.zone(),
        None => parse_zone(DEFAULT_TIMEZONE)?,
    };
    note(
        "[sla] calendar, greetings and targets",
        config
            .sla
            .rules(zone)
            .map(|_| format!(" (zone {})", zone.name())),
    );

    let sql_dir = PipelineConfig::sql_dir(&args.pipeline);
    let session = match &dataset {
        Some(dataset) => Some(SqlSession::open(dataset)?),
        None => None,
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&sql_dir)
        .map(|entries| entries.flatten().map(|entry| entry.path()).collect())
        .unwrap_or_default();
    files.retain(|path| path.extension().is_some_and(|e| e == "sql"));
    files.sort();
    for file in files {
        let outcome = read_sql_file(&file).and_then(|sql| match &session {
            // Planning binds every table and column without reading the data.
            Some(session) => {
                match session.query(&format!("EXPLAIN {}", sql.trim().trim_end_matches(';'))) {
                    Ok(_) => Ok(String::new()),
                    // A table no job has written yet cannot be planned against; that
                    // is the dataset's state, not a mistake in the query.
                    Err(err) if crate::sql::is_missing_table(&err) => {
                        Ok(" (not planned: it reads a table no job has written yet)".to_owned())
                    }
                    Err(err) => Err(anyhow::anyhow!("{}: {err}", file.display())),
                }
            }
            None => Ok(" (read; no dataset at --data to plan it against)".to_owned()),
        });
        note(&file.display().to_string(), outcome);
    }
    if problems.is_empty() {
        println!("\n{checked} checked, no problems");
        Ok(())
    } else {
        Err(UsageError::Invalid(format!(
            "{} problem(s) in {checked} checked:\n{}",
            problems.len(),
            problems.join("\n")
        ))
        .into())
    }
}
