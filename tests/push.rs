//! `kefu tags push` against the fake WeChat: the minimal calls, a push that survives an
//! expired token and a busy WeChat, stops on the daily quota and completes on the next
//! run; bad users isolated; manual tags left alone; no secret anywhere.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::NaiveDate;
use kefu::model::TagAssignment;
use kefu::outputs::push::{apply, plan_for, settle_forgotten, PushReport};
use kefu::store::schema::{tags_schema, tags_to_batch};
use kefu::store::Dataset;
use kefu::wechat::ApiError;

use crate::common::{date, kefu_binary, lock, new_dataset};
use crate::fake_wechat::{FakeConfig, FakeWechat};
use crate::pull::{client, client_with, quick_config};

const TAGS: [&str; 7] = [
    "敏感肌",
    "干皮",
    "油皮",
    "宝妈",
    "学生党",
    "加盟意向",
    "价格敏感",
];
const DAY: &str = "2026-11-10";

/// 1,234 users over 7 tags: each user one tag, every fourth a second one.
fn snapshot(users: usize) -> Vec<TagAssignment> {
    let mut rows = Vec::new();
    for i in 0..users {
        let openid = format!("oUser{i:05}");
        let mut tags = vec![TAGS[i % 7]];
        if i % 4 == 0 {
            let second = TAGS[(i * 3 + 1) % 7];
            if second != tags[0] {
                tags.push(second);
            }
        }
        for tag in tags {
            rows.push(TagAssignment {
                openid: openid.clone(),
                tag: tag.into(),
                rule_id: format!("tag.{i}"),
                evidence_event_id: format!("h:{i:032x}"),
                first_seen_ts_ms: 1_793_000_000_000,
                last_seen_ts_ms: 1_793_000_000_000,
                expires_ts_ms: None,
            });
        }
    }
    rows
}

fn write_snapshot(dataset: &Dataset, day: NaiveDate, rows: &[TagAssignment]) {
    let lock = lock(dataset);
    let batch = tags_to_batch(rows).unwrap();
    dataset
        .replace_partition(&lock, "tags", day, tags_schema(), &[batch])
        .unwrap();
}

fn users_per_tag(rows: &[TagAssignment]) -> BTreeMap<String, BTreeSet<String>> {
    let mut by_tag: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in rows {
        by_tag
            .entry(row.tag.clone())
            .or_default()
            .insert(row.openid.clone());
    }
    by_tag
}

fn push(dataset: &Dataset, fake: &FakeWechat, day: NaiveDate) -> anyhow::Result<PushReport> {
    let lock = lock(dataset);
    dataset.seal_push_journals(&lock)?;
    let (plan, ledger) = plan_for(dataset, day)?;
    let client = client(fake, &kefu::wechat::state_dir(dataset));
    let report = apply(dataset, &lock, &client, &plan, &ledger)?;
    settle_forgotten(dataset, &lock)?;
    Ok(report)
}

/// WeChat's members of each tag, by name.
fn wechat_members(fake: &FakeWechat) -> BTreeMap<String, BTreeSet<String>> {
    fake.tags()
        .into_iter()
        .filter(|(id, _)| *id >= 100)
        .map(|(id, name)| (name, fake.tag_members(id)))
        .filter(|(_, members)| !members.is_empty())
        .collect()
}

fn api_calls(fake: &FakeWechat) -> Vec<crate::fake_wechat::Call> {
    fake.calls()
        .into_iter()
        .filter(|call| !call.path.contains("token"))
        .collect()
}

fn setup(users: usize) -> (tempfile::TempDir, Dataset, FakeWechat, Vec<TagAssignment>) {
    let fake = FakeWechat::start(FakeConfig::default());
    let rows = snapshot(users);
    fake.add_followers(
        rows.iter()
            .map(|row| row.openid.clone())
            .collect::<BTreeSet<_>>(),
    );
    let dir = tempfile::tempdir().unwrap();
    let dataset = new_dataset(dir.path());
    write_snapshot(&dataset, date(DAY), &rows);
    (dir, dataset, fake, rows)
}

#[test]
fn a_clean_push_of_1234_users_over_7_tags_makes_the_minimal_calls() {
    let (_dir, dataset, fake, rows) = setup(1234);
    let wanted = users_per_tag(&rows);
    assert_eq!(wanted.len(), 7);
    let minimal: usize = 7 + wanted
        .values()
        .map(|users| users.len().div_ceil(50))
        .sum::<usize>();

    let report = push(&dataset, &fake, date(DAY)).unwrap();
    let calls = api_calls(&fake);
    assert_eq!(
        calls.len(),
        minimal,
        "calls made: {:?}",
        calls.iter().map(|c| &c.path).collect::<Vec<_>>()
    );
    assert_eq!(report.calls as usize, minimal);
    assert!(calls.iter().all(|call| call.errcode == 0));
    assert_eq!(report.created.len(), 7);
    assert_eq!(wechat_members(&fake), wanted);

    // The same push again: WeChat already matches, nothing is called.
    let (plan, _) = plan_for(&dataset, date(DAY)).unwrap();
    assert_eq!(plan.calls(), 0);
    push(&dataset, &fake, date(DAY)).unwrap();
    assert_eq!(api_calls(&fake).len(), minimal);

    // The next day three users lapsed and one is new: two calls, nothing else.
    let next = date("2026-11-11");
    let mut later: Vec<TagAssignment> = rows
        .iter()
        .filter(|row| !["oUser00001", "oUser00015", "oUser00029"].contains(&row.openid.as_str()))
        .cloned()
        .collect();
    let mut newcomer = later[0].clone();
    newcomer.openid = "oUser09999".into();
    newcomer.tag = "干皮".into();
    fake.add_followers(["oUser09999".to_string()]);
    later.push(newcomer);
    write_snapshot(&dataset, next, &later);
    let report = push(&dataset, &fake, next).unwrap();
    // 00001, 00015 and 00029 hold 干皮 (i % 7 == 1) and nothing else (i % 4 != 0).
    assert_eq!((report.tagged, report.untagged, report.calls), (1, 3, 2));
    assert_eq!(wechat_members(&fake), users_per_tag(&later));
}

#[test]
fn a_push_survives_an_expired_token_and_busy_wechat_and_resumes_after_the_quota() {
    let (_dir, dataset, fake, rows) = setup(1234);
    // WeChat is busy twice on the first batch; the token expires after 3 good batches.
    fake.fail_next("batchtagging", -1, 2);
    fake.set_delay("batchtagging", Duration::from_millis(5));
    let pushing = {
        let dataset = dataset.clone();
        let base = fake.base_url.clone();
        std::thread::spawn(move || {
            let lock = lock(&dataset);
            let (plan, ledger) = plan_for(&dataset, date(DAY)).unwrap();
            let client = client_with(quick_config(&base), &kefu::wechat::state_dir(&dataset));
            apply(&dataset, &lock, &client, &plan, &ledger)
        })
    };
    let mut expired = false;
    let mut quota = false;
    while !pushing.is_finished() {
        let ok_batches = api_calls(&fake)
            .iter()
            .filter(|c| c.path.ends_with("batchtagging") && c.errcode == 0)
            .count();
        if !expired && ok_batches >= 3 {
            fake.expire_tokens();
            expired = true;
        }
        if !quota && ok_batches >= 12 {
            fake.fail_next("batchtagging", 45009, 1);
            quota = true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(
        expired && quota,
        "the push ended before the faults were injected"
    );
    let err = pushing.join().unwrap().unwrap_err();
    assert!(
        err.chain().any(|cause| matches!(
            cause.downcast_ref::<ApiError>(),
            Some(ApiError::DailyQuota { .. })
        )),
        "{err:#}"
    );
    assert!(format!("{err:#}").contains("45009"));
    let codes: Vec<i64> = api_calls(&fake).iter().map(|c| c.errcode).collect();
    assert!(codes.contains(&-1) && codes.contains(&42001), "{codes:?}");
    assert!(fake.token_calls() >= 2, "a new token after the expiry");
    // The log of the stopped push is sealed into Parquet for the SQL view.
    let parts = dataset.partition_files("push_log", date(DAY)).unwrap();
    assert_eq!(parts.len(), 1);

    let before = api_calls(&fake).len();
    push(&dataset, &fake, date(DAY)).unwrap();
    assert_eq!(wechat_members(&fake), users_per_tag(&rows));
    // Across both runs no user was sent twice in a call that succeeded, and the tags
    // created before the stop were not created again.
    let mut sent: BTreeMap<(i64, String), u32> = BTreeMap::new();
    for call in api_calls(&fake).iter().filter(|c| c.errcode == 0) {
        if call.path.ends_with("batchtagging") {
            let tag = call.body["tagid"].as_i64().unwrap();
            for openid in call.body["openid_list"].as_array().unwrap() {
                *sent
                    .entry((tag, openid.as_str().unwrap().to_owned()))
                    .or_default() += 1;
            }
        }
    }
    assert!(sent.values().all(|n| *n == 1), "a user was tagged twice");
    let creates = api_calls(&fake)
        .iter()
        .filter(|c| c.path.ends_with("tags/create"))
        .count();
    assert_eq!(creates, 7);
    assert!(api_calls(&fake).len() > before);
}

#[test]
fn bad_users_are_isolated_and_recorded_and_the_rest_are_tagged() {
    let fake = FakeWechat::start(FakeConfig::default());
    let mut rows = snapshot(50)
        .into_iter()
        .map(|mut row| {
            row.tag = "敏感肌".into();
            row
        })
        .collect::<Vec<_>>();
    rows.dedup_by(|a, b| a.openid == b.openid);
    let openids: BTreeSet<String> = rows.iter().map(|r| r.openid.clone()).collect();
    assert_eq!(openids.len(), 50);
    // oUser00007 unfollowed; oUser00021 belongs to another account; oUser00033
    // already holds 20 tags made by hand.
    fake.add_followers(openids.iter().filter(|o| *o != "oUser00007").cloned());
    fake.add_foreign("oUser00021");
    for n in 0..20 {
        let id = fake.create_manual_tag(&format!("手动{n}"));
        fake.tag_user_manually(id, "oUser00033");
    }
    let dir = tempfile::tempdir().unwrap();
    let dataset = new_dataset(dir.path());
    write_snapshot(&dataset, date(DAY), &rows);

    let report = push(&dataset, &fake, date(DAY)).unwrap();
    let mut rejected: Vec<(String, i64)> = report
        .rejected
        .iter()
        .map(|(_, o, c)| (o.clone(), *c))
        .collect();
    rejected.sort();
    assert_eq!(
        rejected,
        vec![
            ("oUser00007".into(), 40003),
            ("oUser00021".into(), 49003),
            ("oUser00033".into(), 45059)
        ]
    );
    assert_eq!(report.tagged, 47);
    let members = &wechat_members(&fake)["敏感肌"];
    assert_eq!(members.len(), 47);
    // Halving isolates each bad user in at most 2·⌈log2 50⌉ = 12 calls after the first:
    // far below one call per user.
    assert!(report.calls <= 1 + 3 * 12, "{} calls", report.calls);
    // Recorded in the push log, and not asked again when the same date is pushed again.
    let logged = dataset.read_push_log().unwrap();
    assert!(logged
        .iter()
        .any(|(_, c)| c.outcome == "failed" && c.openids == ["oUser00007"] && c.errcode == 40003));
    let before = api_calls(&fake).len();
    let again = push(&dataset, &fake, date(DAY)).unwrap();
    assert_eq!((again.calls, api_calls(&fake).len()), (0, before));
}

#[test]
fn a_name_taken_by_a_manual_tag_is_reported_and_never_touched() {
    let (_dir, dataset, fake, rows) = setup(100);
    let manual = fake.create_manual_tag("敏感肌");
    fake.tag_user_manually(manual, "oManual01");
    let report = push(&dataset, &fake, date(DAY)).unwrap();
    assert_eq!(report.conflicts, vec![("敏感肌".to_string(), Some(manual))]);
    assert_eq!(
        fake.tag_members(manual),
        BTreeSet::from(["oManual01".to_string()])
    );
    assert!(api_calls(&fake)
        .iter()
        .filter(|c| c.path.contains("members"))
        .all(|c| c.body["tagid"].as_i64() != Some(manual)));
    // The other six tags went through.
    let mut expected = users_per_tag(&rows);
    expected.remove("敏感肌");
    let mut held = wechat_members(&fake);
    held.remove("敏感肌");
    assert_eq!(held, expected);
}

#[test]
fn a_forgotten_user_is_untagged_by_the_next_push_and_then_kept_only_as_a_pseudonym() {
    let (_dir, dataset, fake, rows) = setup(60);
    push(&dataset, &fake, date(DAY)).unwrap();
    let gone = "oUser00003";
    let output = std::process::Command::new(kefu_binary())
        .args(["--data", dataset.root().to_str().unwrap(), "forget", gone])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("1 user(s) still in kefu tags on WeChat")
    );
    // Until WeChat lets go of the user the push log needs the openid to untag them.
    let mentions = |dataset: &Dataset| {
        dataset
            .read_push_log()
            .unwrap()
            .iter()
            .filter(|(_, c)| c.openids.iter().any(|o| o == gone))
            .count()
    };
    assert!(mentions(&dataset) > 0);
    assert_eq!(dataset.pending_forgets().unwrap().len(), 1);

    let report = push(&dataset, &fake, date(DAY)).unwrap();
    assert_eq!(report.untagged, 1);
    assert!(wechat_members(&fake)
        .values()
        .all(|members| !members.contains(gone)));
    assert_eq!(mentions(&dataset), 0, "the openid is still in the push log");
    let hash = dataset.user_hasher().unwrap().hash(gone);
    let pseudonymised = dataset
        .read_push_log()
        .unwrap()
        .iter()
        .filter(|(_, c)| c.openids.contains(&format!("forgotten:{hash}")))
        .count();
    assert_eq!(pseudonymised, 2, "tagged once, untagged once");
    assert!(dataset.pending_forgets().unwrap().is_empty());
    // Nothing more to do for anyone.
    let expected: Vec<TagAssignment> = rows.into_iter().filter(|r| r.openid != gone).collect();
    assert_eq!(wechat_members(&fake), users_per_tag(&expected));
    assert_eq!(plan_for(&dataset, date(DAY)).unwrap().0.calls(), 0);
}

#[test]
fn no_appid_or_secret_in_any_output_or_file_of_a_run() {
    let (dir, dataset, fake, _rows) = setup(120);
    fake.add_records(crate::pull::day_of_records(DAY, 300));
    let defaults = FakeConfig::default();
    let data = dataset.root().to_str().unwrap().to_owned();
    let kefu = |args: &[&str], base: &str, token_api: &str| {
        std::process::Command::new(kefu_binary())
            .args(["-vv", "--data", &data])
            .args(args)
            .env("RUST_LOG", "trace")
            .env("KEFU_WECHAT_API_BASE", base)
            .env("KEFU_WECHAT_TOKEN_API", token_api)
            .env("KEFU_WECHAT_APPID", &defaults.appid)
            .env("KEFU_WECHAT_SECRET", &defaults.secret)
            .env("KEFU_WECHAT_ATTEMPTS", "2")
            .env("KEFU_WECHAT_BACKOFF_MS", "10")
            .output()
            .unwrap()
    };
    let mut seen = String::new();
    let mut keep = |output: std::process::Output| {
        seen.push_str(&String::from_utf8_lossy(&output.stdout));
        seen.push_str(&String::from_utf8_lossy(&output.stderr));
        output.status.code()
    };
    let base = fake.base_url.clone();
    assert_eq!(
        keep(kefu(&["pull", "--from", DAY, "--to", DAY], &base, "stable")),
        Some(0)
    );
    assert_eq!(
        keep(kefu(&["tags", "push", "--date", DAY], &base, "stable")),
        Some(0)
    );
    assert_eq!(
        keep(kefu(
            &["tags", "push", "--date", DAY, "--apply"],
            &base,
            "stable"
        )),
        Some(0)
    );
    // The classic token API carries the secret in its query string: make it fail in
    // the network layer, where errors like to quote their URL…
    std::fs::remove_file(kefu::wechat::state_dir(&dataset).join("token.json")).unwrap();
    let closed = "http://127.0.0.1:9";
    let refused = kefu(
        &["pull", "--from", DAY, "--to", DAY, "--refresh"],
        closed,
        "token",
    );
    let refused_text = String::from_utf8_lossy(&refused.stderr).to_string();
    assert_eq!(keep(refused), Some(1));
    assert!(refused_text.contains("could not connect"), "{refused_text}");
    // …and answer a wrong secret.
    let wrong = std::process::Command::new(kefu_binary())
        .args([
            "-vv",
            "--data",
            &data,
            "pull",
            "--from",
            DAY,
            "--to",
            DAY,
            "--refresh",
        ])
        .env("RUST_LOG", "trace")
        .env("KEFU_WECHAT_API_BASE", &base)
        .env("KEFU_WECHAT_TOKEN_API", "token")
        .env("KEFU_WECHAT_APPID", &defaults.appid)
        .env("KEFU_WECHAT_SECRET", "wrong-secret-value-0042")
        .output()
        .unwrap();
    let wrong_text = String::from_utf8_lossy(&wrong.stderr).to_string();
    assert_eq!(keep(wrong), Some(1));
    assert!(wrong_text.contains("KEFU_WECHAT_SECRET"), "{wrong_text}");
    assert!(
        !wrong_text.contains("wrong-secret-value-0042"),
        "{wrong_text}"
    );

    for path in walk(dir.path()) {
        if let Ok(bytes) = std::fs::read(&path) {
            seen.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    assert!(
        seen.contains("batchtagging"),
        "the runs did the work:\n{seen}"
    );
    assert!(!seen.contains(&defaults.secret), "the secret leaked");
    assert!(!seen.contains(&defaults.appid), "the appid leaked");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}
