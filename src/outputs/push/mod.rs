//! `kefu tags push`: makes WeChat's tags match a `tags` snapshot, for the tags kefu
//! manages (those it created, recorded in the push log). [`plan`] is the pure diff;
//! [`apply`] makes the calls.

mod apply;
mod plan;

use anyhow::Result;
use chrono::NaiveDate;

pub use apply::{apply, PushReport};
pub use plan::{plan, render, Ledger, Plan, TagPlan};

use crate::error::UsageError;
use crate::store::schema::batch_to_tags;
use crate::store::Dataset;

/// The plan for pushing `date`'s snapshot, from the snapshot and the whole push log.
pub fn plan_for(dataset: &Dataset, date: NaiveDate) -> Result<(Plan, Ledger)> {
    if !dataset.partition_dir("tags", date).exists() {
        return Err(UsageError::Invalid(format!(
            "no tags snapshot for {date}: run `kefu run pipelines/nightly.toml --date {date}` first"
        ))
        .into());
    }
    let mut snapshot = Vec::new();
    for batch in dataset.read_partition("tags", date)? {
        snapshot.extend(batch_to_tags(&batch)?);
    }
    let ledger = Ledger::replay(&dataset.read_push_log()?, date);
    Ok((plan(date, &snapshot, &ledger), ledger))
}

/// What [`settle_forgotten`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    pub rows: u64,
    /// Forgotten users WeChat still holds in a kefu tag, waiting for the next push.
    pub awaiting: u64,
}

/// Pseudonymises, in the push log, the forgotten users (`Dataset::pending_forgets`)
/// that no kefu tag on WeChat holds any more; the rest wait for the push that untags
/// them.
pub fn settle_forgotten(dataset: &Dataset, lock: &crate::store::WriteLock) -> Result<Settled> {
    let mut pending = dataset.pending_forgets()?;
    if pending.is_empty() {
        return Ok(Settled::default());
    }
    let calls = dataset.read_push_log()?;
    let ledger = Ledger::replay(&calls, chrono::Utc::now().date_naive());
    let held: std::collections::BTreeSet<&str> = ledger
        .members
        .values()
        .flatten()
        .map(String::as_str)
        .collect();
    let hasher = dataset.user_hasher()?;
    let mut pseudonyms = std::collections::HashMap::new();
    let mut awaiting = std::collections::BTreeSet::new();
    for (_, call) in &calls {
        for openid in &call.openids {
            if openid.starts_with(FORGOTTEN_PREFIX) || pseudonyms.contains_key(openid) {
                continue;
            }
            let hash = hasher.hash(openid);
            if !pending.contains(&hash) {
                continue;
            }
            if held.contains(openid.as_str()) {
                awaiting.insert(hash);
            } else {
                pseudonyms.insert(openid.clone(), format!("{FORGOTTEN_PREFIX}{hash}"));
            }
        }
    }
    let rows = dataset.pseudonymise_push_log(lock, &pseudonyms)?;
    // Done: pseudonymised now, or never in the push log at all.
    pending.retain(|hash| awaiting.contains(hash));
    dataset.set_pending_forgets(lock, &pending)?;
    Ok(Settled {
        rows,
        awaiting: awaiting.len() as u64,
    })
}

/// How a forgotten user's openid reads in the push log.
pub const FORGOTTEN_PREFIX: &str = "forgotten:";
