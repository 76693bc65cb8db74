//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveDate;
use kefu::model::{Event, Role, Source};
use kefu::store::{Dataset, WriteLock};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A file of the repository (rules, dictionaries, SQL), as shipped.
pub fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub fn new_dataset(dir: &Path) -> Dataset {
    Dataset::open_or_create(&dir.join("data"), None).expect("a new dataset")
}

/// A dataset holding the fixture conversation (16 events on 2026-10-12 and -13).
pub fn fixture_dataset(dir: &Path) -> Dataset {
    let dataset = new_dataset(dir);
    let lock = lock(&dataset);
    kefu::collector::import::import(
        &dataset,
        &lock,
        &[fixtures().join("import/conversation.jsonl")],
        &kefu::collector::import::ImportOptions::default(),
    )
    .expect("the fixture conversation imports");
    dataset
}

/// A fresh dataset holding one fixture file (a path under `fixtures/`), with its lock.
pub fn dataset_with(dir: &Path, fixture: &str) -> (Dataset, WriteLock) {
    let dataset = new_dataset(dir);
    let lock = lock(&dataset);
    kefu::collector::import::import(
        &dataset,
        &lock,
        &[fixtures().join(fixture)],
        &kefu::collector::import::ImportOptions::default(),
    )
    .expect("the fixture imports");
    (dataset, lock)
}

pub fn lock(dataset: &Dataset) -> WriteLock {
    dataset
        .lock("test", Duration::from_secs(5))
        .expect("the dataset lock")
}

pub fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

/// A user text message at an RFC 3339 instant.
pub fn user_text(openid: &str, at: &str, text: &str) -> Event {
    let ts_ms = chrono::DateTime::parse_from_rfc3339(at)
        .unwrap()
        .timestamp_millis();
    let mut event = Event {
        event_id: String::new(),
        account: Some("gh_7a3c9e51d2f0".into()),
        openid: openid.into(),
        role: Role::User,
        agent: None,
        kind: "text".into(),
        event: None,
        text: Some(text.into()),
        media_id: None,
        extra: None,
        ts_ms,
        received_ts_ms: None,
        source: Source::Import,
    };
    event.event_id = event.computed_content_id();
    event
}

pub fn kefu_binary() -> &'static str {
    env!("CARGO_BIN_EXE_kefu")
}
