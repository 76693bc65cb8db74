//! `kefu export tag TAG [--out FILE] [--date D]`.

use std::io::Write;

use anyhow::{Context as _, Result};

use super::Context;
use crate::cli::ExportCommand;
use crate::error::UsageError;
use crate::outputs::export::{tag_rows, write_csv, write_parquet};
use crate::store::schema::batch_to_tags;
use crate::store::Dataset;

pub fn run(context: &Context, command: &ExportCommand) -> Result<()> {
    let ExportCommand::Tag { tag, out, date } = command;
    let dataset = Dataset::open(&context.data)?;
    let written = dataset.partitions("tags")?;
    let date = match date {
        Some(date) if written.contains(date) => *date,
        Some(date) => {
            return Err(UsageError::Invalid(format!(
            "no tags snapshot for {date}: run `kefu run PIPELINE --date {date} --jobs tags` first"
        ))
            .into())
        }
        None => *written.last().ok_or_else(|| {
            UsageError::Invalid(
                "no tags snapshot yet: run `kefu run PIPELINE --date D` (the tags job) first"
                    .into(),
            )
        })?,
    };
    let rows = tag_rows(&dataset, date, tag)?;
    match out {
        Some(path) if path.extension().is_some_and(|e| e == "parquet") => {
            write_parquet(&rows, path)?;
        }
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            let mut writer = std::io::BufWriter::new(file);
            write_csv(&rows, &mut writer)?;
            writer.flush()?;
        }
        None => write_csv(&rows, std::io::stdout().lock())?,
    }
    eprintln!(
        "{} users hold {tag} on {date}{}",
        rows.len(),
        out.as_ref()
            .map(|path| format!(" → {}", path.display()))
            .unwrap_or_default()
    );
    if rows.is_empty() {
        let mut held: Vec<String> = Vec::new();
        for batch in dataset.read_partition("tags", date)? {
            held.extend(batch_to_tags(&batch)?.into_iter().map(|row| row.tag));
        }
        held.sort();
        held.dedup();
        eprintln!(
            "(tag names are exact; held on {date}: {})",
            if held.is_empty() {
                "none".to_owned()
            } else {
                held.join(", ")
            }
        );
    }
    Ok(())
}
