//! `kefu import`

use anyhow::Result;

use super::{Context, LOCK_WAIT};
use crate::cli::ImportArgs;
use crate::collector::import::{import, ImportOptions};
use crate::store::Dataset;

pub fn run(context: &Context, args: &ImportArgs) -> Result<()> {
    let dataset = Dataset::open_or_create(&context.data, args.timezone.as_deref())?;
    let lock = dataset.lock("import", LOCK_WAIT)?;
    let options = ImportOptions {
        batch_lines: args.batch_lines.max(1),
        progress: context.progress,
    };
    let summary = import(&dataset, &lock, &args.inputs, &options)?;
    dataset.compact_events(&lock, summary.store.partitions.iter().copied())?;
    for (path, reason) in &summary.unreadable {
        eprintln!("kefu: {}: {reason}", path.display());
    }
    println!(
        "imported {} events from {} files; {} duplicates; {} quarantined",
        summary.imported, summary.files, summary.duplicates, summary.quarantined
    );
    if let Some(path) = &summary.quarantine_file {
        println!("quarantined inputs and their reasons: {}", path.display());
    }
    if summary.nothing_imported() {
        anyhow::bail!("nothing could be imported");
    }
    Ok(())
}
