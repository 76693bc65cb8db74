//! `kefu pull` against the fake WeChat: every record once, resumable, callbacks not
//! doubled, the token cached across runs.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use chrono::TimeZone;
use kefu::collector::pull::{pull, PullOptions, PullState};
use kefu::model::{Event, Role, Source};
use kefu::store::{Dataset, EventWriter};
use kefu::wechat::{Client, ClientConfig, Credentials};

use crate::common::{date, kefu_binary, lock, new_dataset};
use crate::fake_wechat::{FakeConfig, FakeWechat, Record};

pub const RECORDS_PER_DAY: i64 = 25_000;

fn day_start(day: &str) -> i64 {
    chrono_tz::Asia::Shanghai
        .from_local_datetime(&date(day).and_hms_opt(0, 0, 0).unwrap())
        .unwrap()
        .timestamp()
}

/// A day of chat records: users asking, agents answering half a minute later, and a
/// session accepted and closed now and then. Every record is distinct.
pub fn day_of_records(day: &str, per_day: i64) -> Vec<Record> {
    let start = day_start(day);
    (0..per_day)
        .map(|k| {
            let openid = format!("oFake{:05}", k % 3000);
            let time = start + k * 86_399 / per_day;
            let worker = format!("kf200{}@gh_test", k % 5 + 1);
            let (opercode, text) = match k % 50 {
                0 => (1001, String::new()),
                49 => (1004, String::new()),
                n if n % 2 == 1 => (2003, format!("{day} 第{k}号订单什么时候发货？")),
                _ => (2002, format!("您好，{day} 的订单{k}今天下午发出")),
            };
            Record {
                openid,
                opercode,
                text,
                time,
                worker,
            }
        })
        .collect()
}

/// The client settings for a fake at `base`: retries 10 ms apart, so tests stay quick.
pub fn quick_config(base: &str) -> ClientConfig {
    ClientConfig {
        api_base: base.to_owned(),
        backoff: Duration::from_millis(10),
        ..ClientConfig::default()
    }
}

/// A client with the fake's credentials, its token cache in `state`.
pub fn client_with(config: ClientConfig, state: &Path) -> Client {
    let defaults = FakeConfig::default();
    Client::new(
        config,
        Credentials::new(defaults.appid, defaults.secret),
        state,
    )
    .unwrap()
}

pub fn client(fake: &FakeWechat, state: &Path) -> Client {
    client_with(quick_config(&fake.base_url), state)
}

fn state_dir(dataset: &Dataset) -> std::path::PathBuf {
    kefu::wechat::state_dir(dataset)
}

/// The stored msgrecord rows, counted by (openid, ts, text or event).
fn stored_records(dataset: &Dataset, from: &str, to: &str) -> BTreeMap<(String, i64, String), u32> {
    let mut counts = BTreeMap::new();
    for event in dataset.read_event_rows(date(from), date(to)).unwrap() {
        if event.source == Source::Msgrecord {
            let key = (
                event.openid.clone(),
                event.ts_ms / 1000,
                event
                    .text
                    .clone()
                    .or(event.event.clone())
                    .unwrap_or_default(),
            );
            *counts.entry(key).or_insert(0) += 1;
        }
    }
    counts
}

fn getmsglist_calls(fake: &FakeWechat) -> Vec<serde_json::Value> {
    fake.calls()
        .into_iter()
        .filter(|call| call.path.ends_with("getmsglist"))
        .map(|call| call.body)
        .collect()
}

#[test]
fn a_three_day_pull_lands_every_record_once_and_leaves_callbacks_single() {
    let fake = FakeWechat::start(FakeConfig::default());
    let days = ["2026-11-01", "2026-11-02", "2026-11-03"];
    let mut all = Vec::new();
    for day in days {
        all.extend(day_of_records(day, RECORDS_PER_DAY));
    }
    fake.add_records(all.clone());

    let dir = tempfile::tempdir().unwrap();
    let dataset = new_dataset(dir.path());
    // 400 user messages of the first day already came through the callback, stamped
    // a second before msgrecord has them.
    let callbacks: Vec<Event> = all
        .iter()
        .filter(|record| record.opercode == 2003)
        .take(400)
        .enumerate()
        .map(|(i, record)| Event {
            event_id: Event::message_id(&format!("{}", 24_000_000 + i)),
            account: Some("gh_test".into()),
            openid: record.openid.clone(),
            role: Role::User,
            agent: None,
            kind: "text".into(),
            event: None,
            text: Some(record.text.clone()),
            media_id: None,
            extra: None,
            ts_ms: (record.time - 1) * 1000,
            received_ts_ms: None,
            source: Source::Callback,
        })
        .collect();
    {
        let lock = lock(&dataset);
        EventWriter::new(&dataset, &lock).append(callbacks).unwrap();
    }

    let client = client(&fake, &state_dir(&dataset));
    let summary = pull(
        &dataset,
        &client,
        date(days[0]),
        date(days[2]),
        &PullOptions::default(),
    )
    .unwrap();
    assert_eq!(summary.windows, 3);
    assert_eq!(summary.records, 3 * RECORDS_PER_DAY as u64);
    assert_eq!(summary.callback_repeats, 400);
    assert_eq!(summary.stored, 3 * RECORDS_PER_DAY as u64 - 400);
    // 25,000 a day at 10,000 a page: three pages a window.
    let calls = getmsglist_calls(&fake);
    assert_eq!(calls.len(), 9, "{calls:?}");
    for call in &calls {
        let span = call["endtime"].as_i64().unwrap() - call["starttime"].as_i64().unwrap();
        assert!(span <= 86_400, "a window over 24 h: {call}");
        assert!(call["number"].as_i64().unwrap() <= 10_000);
    }

    let stored = stored_records(&dataset, days[0], days[2]);
    assert_eq!(stored.len() as u64, 3 * RECORDS_PER_DAY as u64 - 400);
    assert!(
        stored.values().all(|count| *count == 1),
        "a record stored twice"
    );
    let events = dataset
        .read_event_rows(date(days[0]), date(days[2]))
        .unwrap();
    let user_rows = events.iter().filter(|e| e.role == Role::User).count() as i64;
    // 24 of every 50 records are user messages; the 400 callbacks stand in for theirs.
    assert_eq!(user_rows, 3 * 24 * RECORDS_PER_DAY / 50, "user rows");
    let agents = events
        .iter()
        .filter(|e| e.role == Role::Agent && e.agent.is_some())
        .count();
    assert!(agents > 30_000);
    let sessions = events
        .iter()
        .filter(|e| e.event.as_deref() == Some("kf_create_session"))
        .count() as i64;
    assert_eq!(sessions, 3 * RECORDS_PER_DAY / 50);

    // A second pull of the same days asks WeChat nothing: each day is complete.
    let again = pull(
        &dataset,
        &client,
        date(days[0]),
        date(days[2]),
        &PullOptions::default(),
    )
    .unwrap();
    assert_eq!((again.skipped, again.pages, again.stored), (3, 0, 0));
    // With --refresh it asks again and still stores nothing twice.
    let refresh = PullOptions {
        refresh: true,
        ..PullOptions::default()
    };
    let refreshed = pull(&dataset, &client, date(days[0]), date(days[0]), &refresh).unwrap();
    assert_eq!((refreshed.stored, refreshed.callback_repeats), (0, 400));
    assert_eq!(refreshed.duplicates, RECORDS_PER_DAY as u64 - 400);
    // One token for everything: the cache on disk served the later calls.
    assert_eq!(fake.token_calls(), 1);
}

#[test]
fn a_pull_killed_mid_way_resumes_without_gaps_or_duplicates() {
    let fake = FakeWechat::start(FakeConfig::default());
    let days = ["2026-11-01", "2026-11-02", "2026-11-03"];
    let mut all = Vec::new();
    for day in days {
        all.extend(day_of_records(day, 12_000));
    }
    fake.add_records(all);
    fake.set_delay("getmsglist", Duration::from_millis(150));
    let dir = tempfile::tempdir().unwrap();
    let dataset = new_dataset(dir.path());
    let data = dataset.root().to_str().unwrap().to_owned();
    let defaults = FakeConfig::default();
    let run = || {
        let mut command = std::process::Command::new(kefu_binary());
        command
            .args(["--data", &data, "pull", "--from", days[0], "--to", days[2]])
            .env("KEFU_WECHAT_API_BASE", &fake.base_url)
            .env("KEFU_WECHAT_APPID", &defaults.appid)
            .env("KEFU_WECHAT_SECRET", &defaults.secret)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        command
    };
    // Two pages a day; killed once the second day's first page was asked for.
    let mut child = run().spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while getmsglist_calls(&fake).len() < 4 {
        assert!(Instant::now() < deadline, "the pull never got to day 2");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let before = getmsglist_calls(&fake).len();
    let state = PullState::load(&dataset).unwrap();
    assert!(state.windows.values().any(|w| w.complete), "day 1 was done");
    assert!(state.windows.len() < 3 || state.windows.values().any(|w| !w.complete));

    let output = run().output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let resumed: Vec<serde_json::Value> = getmsglist_calls(&fake).split_off(before);
    let first_day = day_start(days[0]);
    assert!(
        resumed
            .iter()
            .all(|call| call["starttime"].as_i64() != Some(first_day)),
        "the finished day was pulled again: {resumed:?}"
    );
    let stored = stored_records(&dataset, days[0], days[2]);
    assert_eq!(stored.len(), 3 * 12_000, "a gap");
    assert!(stored.values().all(|count| *count == 1), "a duplicate");
}

#[test]
fn a_slow_wechat_times_out_every_try_and_the_pull_says_so() {
    let fake = FakeWechat::start(FakeConfig::default());
    fake.add_records(day_of_records("2026-11-01", 10));
    fake.set_delay("getmsglist", Duration::from_millis(1500));
    let dir = tempfile::tempdir().unwrap();
    let dataset = new_dataset(dir.path());
    let config = ClientConfig {
        timeout: Duration::from_millis(200),
        attempts: 2,
        ..quick_config(&fake.base_url)
    };
    let client = client_with(config, &state_dir(&dataset));
    let started = Instant::now();
    let err = pull(
        &dataset,
        &client,
        date("2026-11-01"),
        date("2026-11-01"),
        &PullOptions::default(),
    )
    .unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("still failing after 2 attempts") && message.contains("timed out"),
        "{message}"
    );
    assert!(message.contains("pulling 2026-11-01"), "{message}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "each try is cut at its timeout"
    );
    assert_eq!(getmsglist_calls(&fake).len(), 2);
    // Nothing was stored and nothing marked done: the next pull starts the day again.
    assert!(!PullState::load(&dataset)
        .unwrap()
        .windows
        .values()
        .any(|w| w.complete));
}
