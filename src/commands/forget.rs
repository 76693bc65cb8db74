//! `kefu forget OPENID…`: erases users — their events, every derived row that names
//! them, quarantined records, and the reports that quote them — and records what was
//! done in `data/audit.jsonl` without the removed content (the users appear there only
//! as salted hashes). Their tags leave the snapshots, so the next `kefu tags push`
//! removes them from WeChat.

use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::{Context, LOCK_WAIT};
use crate::cli::ForgetArgs;
use crate::store::{Dataset, ForgetSummary, WriteLock};

/// Report folders (beside the data) with a file that names a user or quotes one of
/// their messages; removed whole, to be rebuilt by `kefu run --date D`.
fn reports_mentioning(
    reports: &Path,
    openids: &HashSet<String>,
    texts: &HashSet<String>,
) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let Ok(days) = fs::read_dir(reports) else {
        return Ok(found);
    };
    // Short texts (好的, 谢谢) would match every report; a quote worth hiding is longer.
    let quotes: Vec<&String> = texts.iter().filter(|t| t.chars().count() >= 6).collect();
    for day in days {
        let day = day?.path();
        if !day.is_dir() {
            continue;
        }
        let mut stack = vec![day.clone()];
        let mut mentions = false;
        while let Some(dir) = stack.pop() {
            for entry in fs::read_dir(&dir)? {
                let path = entry?.path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(text) = fs::read_to_string(&path) {
                    mentions |= openids.iter().any(|id| text.contains(id.as_str()))
                        || quotes.iter().any(|quote| text.contains(quote.as_str()));
                }
            }
        }
        if mentions {
            found.push(day);
        }
    }
    found.sort();
    Ok(found)
}

/// Erases `openids` from the store and the reports and appends the audit record;
/// `reason` says why (a deletion request, or unsubscribed long ago). Returns what was
/// removed, the report folders removed and the audit file.
pub(super) fn erase(
    context: &Context,
    dataset: &Dataset,
    lock: &WriteLock,
    openids: &HashSet<String>,
    reason: &str,
) -> Result<(ForgetSummary, Vec<PathBuf>, PathBuf)> {
    let summary = dataset.forget(lock, openids)?;
    let reports = context.reports_dir();
    let stale = reports_mentioning(&reports, openids, &summary.texts)?;
    for day in &stale {
        fs::remove_dir_all(day).with_context(|| format!("removing {}", day.display()))?;
    }

    let hasher = dataset.user_hasher()?;
    let hashes: Vec<String> = openids.iter().map(|id| hasher.hash(id)).collect();
    // The push log keeps an openid until WeChat no longer holds the user in a kefu tag
    // (the next push untags them, their tags having left the snapshot); then, and now
    // for everyone else, only the pseudonym.
    let mut pending = dataset.pending_forgets()?;
    pending.extend(hashes.iter().cloned());
    dataset.set_pending_forgets(lock, &pending)?;
    let push_log = crate::outputs::push::settle_forgotten(dataset, lock)?;
    let record = serde_json::json!({
        "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "command": "forget",
        "reason": reason,
        "users": openids.len(),
        "user_hashes": hashes,
        "rows_removed": summary.rows_removed,
        "partitions_rewritten": summary.partitions_rewritten,
        "quarantine_records_removed": summary.quarantine_records_removed,
        "push_log_rows_pseudonymised": push_log.rows,
        "awaiting_untag_on_wechat": push_log.awaiting,
        "reports_removed": stale.iter().filter_map(|d| d.file_name()?.to_str().map(str::to_owned)).collect::<Vec<_>>(),
    });
    let audit = dataset.root().join("audit.jsonl");
    let mut file = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&audit)
        .with_context(|| format!("opening {}", audit.display()))?;
    writeln!(file, "{record}")?;
    file.sync_all()?;

    if push_log.awaiting > 0 {
        println!(
            "push log       {} user(s) still in kefu tags on WeChat: the next `kefu tags push --apply` untags them, then keeps only their pseudonym",
            push_log.awaiting
        );
    }
    Ok((summary, stale, audit))
}

pub fn run(context: &Context, args: &ForgetArgs) -> Result<()> {
    let openids: HashSet<String> = args.openids.iter().map(|id| id.trim().to_owned()).collect();
    let dataset = Dataset::open(&context.data)?;
    let lock = dataset.lock("forget", LOCK_WAIT)?;
    let pending = dataset.wal_mentions(&openids)?;
    anyhow::ensure!(
        pending == 0,
        "{pending} callback(s) of these users are still in the collector's write-ahead log ({}); nothing was erased. Let the collector roll them into Parquet (or stop it), then run kefu forget again",
        dataset.root().join("wal").display()
    );
    let (summary, stale, audit) = erase(context, &dataset, &lock, &openids, "request")?;
    for (table, rows) in &summary.rows_removed {
        if *rows > 0 {
            println!("{table:<14} {rows} row(s) removed");
        }
    }
    println!(
        "quarantine     {} record(s) removed",
        summary.quarantine_records_removed
    );
    for day in &stale {
        println!(
            "report         {} removed (rebuild: kefu run PIPELINE --date {})",
            day.display(),
            day.file_name().and_then(|n| n.to_str()).unwrap_or("")
        );
    }
    eprintln!(
        "kefu forget: {} user(s) erased, {} partition(s) rewritten; recorded in {}",
        openids.len(),
        summary.partitions_rewritten,
        audit.display()
    );
    Ok(())
}

/// Users whose latest subscription event is an unsubscribe older than `days` (WeChat
/// asks that their data not be kept), for `[privacy] forget_unsubscribed_after_days`.
pub(super) fn long_unsubscribed(dataset: &Dataset, days: u32) -> Result<HashSet<String>> {
    use arrow::array::Array;
    let partitions = dataset.partitions("events")?;
    let (Some(first), Some(last)) = (partitions.first(), partitions.last()) else {
        return Ok(HashSet::new());
    };
    let cutoff_ms =
        (chrono::Utc::now() - chrono::Duration::days(i64::from(days))).timestamp_millis();
    let mut latest: std::collections::HashMap<String, (i64, bool)> =
        std::collections::HashMap::new();
    for batch in dataset.read_events_with(*first, *last, &["openid", "event", "ts"])? {
        let openid = crate::store::schema::string_column(&batch, "openid")?;
        let event = crate::store::schema::string_column(&batch, "event")?;
        let ts = crate::store::schema::timestamp_column(&batch, "ts")?;
        for row in 0..batch.num_rows() {
            if event.is_null(row) {
                continue;
            }
            let subscribed = match event.value(row) {
                "subscribe" => true,
                "unsubscribe" => false,
                _ => continue,
            };
            let entry = latest
                .entry(openid.value(row).to_owned())
                .or_insert((i64::MIN, true));
            if ts.value(row) >= entry.0 {
                *entry = (ts.value(row), subscribed);
            }
        }
    }
    Ok(latest
        .into_iter()
        .filter(|(_, (at, subscribed))| !subscribed && *at < cutoff_ms)
        .map(|(openid, _)| openid)
        .collect())
}
