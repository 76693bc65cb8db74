//! `kefu pull`: walks a date range through WeChat's msgrecord API in windows of one
//! local day (never more than the API's 24 h; a 25-hour DST day is split), pages each
//! window with the msgid cursor, and stores the records as `source = msgrecord`.
//!
//! Resumable: after every stored page the window's cursor is written to
//! `data/wechat/pull.json`, so a pull killed at window k page p restarts there. A page
//! stored but not yet recorded is simply fetched again, and the store's dedupe by
//! `event_id` keeps it from becoming a second row.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::{NaiveDate, TimeZone, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use super::message::parse_message;
use super::msgrecord::{record_to_event, CallbackIndex};
use super::wal::read_segment;
use crate::model::{Event, Source};
use crate::store::{schema::batch_to_events, Dataset, EventWriter};
use crate::wechat::api::{get_msg_list, MAX_RECORDS_PER_CALL, MAX_WINDOW_S};
use crate::wechat::Client;

/// One query window: `start_s..=end_s` in Unix seconds, inside one local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub date: NaiveDate,
    pub start_s: i64,
    pub end_s: i64,
}

/// The windows covering the local days `from..=to`. Each ends one second before the
/// next begins: msgrecord's bounds are inclusive.
pub fn windows(from: NaiveDate, to: NaiveDate, zone: chrono_tz::Tz) -> Vec<Window> {
    let midnight = |date: NaiveDate| -> i64 {
        let naive = date.and_hms_opt(0, 0, 0).expect("midnight exists");
        // A zone that skips midnight starts the day at the first instant that exists.
        zone.from_local_datetime(&naive)
            .earliest()
            .or_else(|| {
                zone.from_local_datetime(&(naive + chrono::Duration::hours(1)))
                    .earliest()
            })
            .map(|at| at.timestamp())
            .unwrap_or_else(|| naive.and_utc().timestamp())
    };
    let mut windows = Vec::new();
    let mut date = from;
    while date <= to {
        let (start, end) = (midnight(date), midnight(date + chrono::Duration::days(1)));
        let mut at = start;
        while at < end {
            let until = (at + MAX_WINDOW_S).min(end);
            windows.push(Window {
                date,
                start_s: at,
                end_s: until - 1,
            });
            at = until;
        }
        date += chrono::Duration::days(1);
    }
    windows
}

/// How far each window got, in `data/wechat/pull.json`, keyed by the window's start.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullState {
    pub windows: BTreeMap<i64, WindowState>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowState {
    pub date: String,
    pub end_s: i64,
    /// The msgid to ask for next.
    pub cursor: i64,
    /// Every page fetched and the window over when it was fetched: nothing more to get.
    pub complete: bool,
    pub records: u64,
    pub stored: u64,
    /// Rows dropped because a stored callback already holds the message.
    pub callback_repeats: u64,
    pub pulled_at: String,
}

impl PullState {
    pub fn path(dataset: &Dataset) -> PathBuf {
        crate::wechat::state_dir(dataset).join("pull.json")
    }

    pub fn load(dataset: &Dataset) -> Result<PullState> {
        let path = PullState::path(dataset);
        match fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).with_context(|| {
                format!(
                    "reading {}: remove it to pull every window again",
                    path.display()
                )
            }),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(PullState::default()),
            Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
        }
    }

    fn save(&self, dataset: &Dataset) -> Result<()> {
        let path = PullState::path(dataset);
        crate::store::file::write_json_atomically(&path, self)
    }

    /// The latest window that finished, for `kefu status`.
    pub fn last_complete(&self) -> Option<&WindowState> {
        self.windows.values().rev().find(|window| window.complete)
    }
}

#[derive(Debug, Clone)]
pub struct PullOptions {
    /// Pull windows again that an earlier pull completed.
    pub refresh: bool,
    pub progress: bool,
    /// Records asked for per call (the API's maximum unless a test wants small pages).
    pub page_size: i64,
    /// How long to wait for the dataset lock before each page is stored.
    pub lock_wait: Duration,
}

impl Default for PullOptions {
    fn default() -> PullOptions {
        PullOptions {
            refresh: false,
            progress: false,
            page_size: MAX_RECORDS_PER_CALL,
            lock_wait: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PullSummary {
    pub windows: u64,
    /// Windows an earlier pull had completed, skipped.
    pub skipped: u64,
    pub pages: u64,
    pub records: u64,
    pub stored: u64,
    /// Records already stored by an earlier pull.
    pub duplicates: u64,
    pub callback_repeats: u64,
}

/// Pulls `from..=to`. The dataset lock is held only while a page is stored, so the
/// collector's log roll goes on during a long pull.
pub fn pull(
    dataset: &Dataset,
    client: &Client,
    from: NaiveDate,
    to: NaiveDate,
    options: &PullOptions,
) -> Result<PullSummary> {
    if to < from {
        bail!("--to {to} is before --from {from}");
    }
    let mut state = PullState::load(dataset)?;
    let windows = windows(from, to, dataset.zone());
    let bar = if options.progress {
        let bar = ProgressBar::new(windows.len() as u64);
        bar.set_style(
            ProgressStyle::with_template("pull {bar:30} {pos}/{len} windows  {msg}")
                .expect("a valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut summary = PullSummary::default();
    for window in windows {
        bar.set_message(window.date.to_string());
        summary.windows += 1;
        let previous = state.windows.get(&window.start_s).cloned();
        if previous.as_ref().is_some_and(|w| w.complete) && !options.refresh {
            summary.skipped += 1;
            bar.inc(1);
            continue;
        }
        let mut progress = match previous {
            Some(previous) if !previous.complete => previous,
            _ => WindowState {
                date: window.date.to_string(),
                end_s: window.end_s,
                cursor: 1,
                ..WindowState::default()
            },
        };
        let mut callbacks = callback_index(dataset, window)?;
        loop {
            let requested_at = Utc::now().timestamp();
            let page = get_msg_list(
                client,
                window.start_s,
                window.end_s,
                progress.cursor,
                options.page_size,
            )
            .with_context(|| {
                format!(
                    "pulling {} (window {}..{}, msgid {})",
                    window.date, window.start_s, window.end_s, progress.cursor
                )
            })?;
            summary.pages += 1;
            let received = Utc::now().timestamp_millis();
            let returned = page.recordlist.len() as u64;
            let mut events: Vec<Event> = Vec::with_capacity(page.recordlist.len());
            for record in &page.recordlist {
                let event = record_to_event(record, received);
                if callbacks.absorbs(&event) {
                    progress.callback_repeats += 1;
                    summary.callback_repeats += 1;
                } else {
                    events.push(event);
                }
            }
            {
                let lock = dataset.lock("pull", options.lock_wait)?;
                let stored = EventWriter::new(dataset, &lock)
                    .append(events)
                    .with_context(|| format!("storing chat records of {}", window.date))?;
                progress.records += returned;
                progress.stored += stored.written;
                summary.records += returned;
                summary.stored += stored.written;
                summary.duplicates += stored.duplicates;
                let full = returned as i64 >= options.page_size;
                if full {
                    if page.msgid <= progress.cursor {
                        bail!(
                            "msgrecord returned a full page of {} but cursor {} after {}: stopping rather than loop",
                            window.date, page.msgid, progress.cursor
                        );
                    }
                    progress.cursor = page.msgid;
                } else {
                    // A window still open when fetched may get more records: it stays
                    // incomplete, and the next pull resumes at its cursor.
                    progress.complete = window.end_s < requested_at;
                    if !progress.complete && page.msgid > progress.cursor {
                        progress.cursor = page.msgid;
                    }
                }
                progress.pulled_at = Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                state.windows.insert(window.start_s, progress.clone());
                state.save(dataset)?;
                if !full {
                    break;
                }
            }
        }
        tracing::info!(
            "pulled {}: {} records, {} stored, {} already from callbacks",
            window.date,
            progress.records,
            progress.stored,
            progress.callback_repeats
        );
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(summary)
}

/// The callback user messages that may repeat a record of `window`: stored ones
/// within a day either side, and those still in the collector's write-ahead log.
fn callback_index(dataset: &Dataset, window: Window) -> Result<CallbackIndex> {
    let mut index = CallbackIndex::default();
    let margin_ms = super::msgrecord::CALLBACK_TOLERANCE_MS;
    let (lo, hi) = (
        window.start_s * 1000 - margin_ms,
        window.end_s * 1000 + 1000 + margin_ms,
    );
    let days = window.date.pred_opt().unwrap_or(window.date)
        ..=window.date.succ_opt().unwrap_or(window.date);
    for batch in dataset.read_events(*days.start(), *days.end())? {
        for event in batch_to_events(&batch)? {
            if (lo..=hi).contains(&event.ts_ms) {
                index.add(&event);
            }
        }
    }
    let wal = dataset.root().join("wal");
    if wal.is_dir() {
        let mut segments: Vec<PathBuf> = fs::read_dir(&wal)
            .with_context(|| format!("listing {}", wal.display()))?
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "log"))
            .collect();
        segments.sort();
        for path in segments {
            let (records, _unreadable) = read_segment(&path)?;
            for record in records {
                if let Ok(event) = parse_message(
                    record.body.as_bytes(),
                    Some(record.received_ms),
                    Source::Callback,
                ) {
                    if (lo..=hi).contains(&event.ts_ms) {
                        index.add(&event);
                    }
                }
            }
        }
    }
    Ok(index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_one_window_ending_a_second_before_the_next() {
        let zone: chrono_tz::Tz = "Asia/Shanghai".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        let all = windows(day, day + chrono::Duration::days(2), zone);
        assert_eq!(all.len(), 3);
        // 2026-11-01 00:00 +08:00
        assert_eq!(all[0].start_s, 1_793_462_400);
        for pair in all.windows(2) {
            assert_eq!(pair[0].end_s + 1, pair[1].start_s);
            assert!(pair[0].end_s - pair[0].start_s < MAX_WINDOW_S);
        }
    }

    #[test]
    fn a_25_hour_day_is_split_to_stay_within_24_hours() {
        let zone: chrono_tz::Tz = "Europe/Berlin".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
        let all = windows(day, day, zone);
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].end_s - all[0].start_s + 1, 25 * 3600);
        assert!(all.iter().all(|w| w.end_s - w.start_s < MAX_WINDOW_S));
    }
}
