//! `kefu pull --from D --to D`

use anyhow::Result;

use super::Context;
use crate::cli::PullArgs;
use crate::collector::pull::{pull, PullOptions};
use crate::store::Dataset;

pub fn run(context: &Context, args: &PullArgs) -> Result<()> {
    use crate::wechat::{Client, ClientConfig, Credentials};
    let (config, credentials) = (ClientConfig::from_env()?, Credentials::from_env()?);
    // A source, like import and the collector: the first pull creates the dataset.
    let dataset = Dataset::open_or_create(&context.data, None)?;
    let client = Client::new(config, credentials, &crate::wechat::state_dir(&dataset))?;
    let options = PullOptions {
        refresh: args.refresh,
        progress: context.progress,
        ..PullOptions::default()
    };
    let summary = pull(&dataset, &client, args.from, args.to, &options)?;
    println!(
        "pulled {}..{}: {} windows ({} complete from an earlier pull, skipped), {} pages, {} records",
        args.from, args.to, summary.windows, summary.skipped, summary.pages, summary.records
    );
    println!(
        "stored {} new events; {} were already stored from the callback, {} by an earlier pull",
        summary.stored, summary.callback_repeats, summary.duplicates
    );
    Ok(())
}
