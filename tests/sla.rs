//! The sla job over a small store: turns bucketed by the user's day, transfers, the
//! kf greeting, unanswered turns and the window; and properties over generated months.

use std::fs;

use kefu::jobs::sla::{self, SlaConfig};
use kefu::model::Role;
use kefu::sql::{OutputFormat, SqlSession};
use proptest::prelude::*;

use crate::common::{dataset_with, date};

fn config() -> SlaConfig {
    SlaConfig {
        greetings: vec!["您好，我是青禾客服{agent_name}，很高兴为您服务～".into()],
        ..SlaConfig::default()
    }
}

#[test]
fn the_sla_job_writes_turns_sessions_and_daily_figures_a_manager_can_trust() {
    let dir = tempfile::tempdir().unwrap();
    let (dataset, lock) = dataset_with(dir.path(), "sla/conversations.jsonl");
    for day in ["2026-10-16", "2026-10-17", "2026-10-19"] {
        sla::run(&dataset, &lock, date(day), &config(), None).unwrap();
    }
    let session = SqlSession::open(&dataset).unwrap();
    let mut out = Vec::new();
    for query in [
        "SELECT dt, openid, coalesce(agent, '-') AS agent, answered_by, reply_dt, reply_s, business_reply_s, breach, censored \
         FROM turns ORDER BY first_user_ts",
        "SELECT dt, openid, agent, array_to_string(agents, '|') AS agents, first_response_s, business_first_response_s, accept_response_s, replies, user_messages, unanswered, window_breach \
         FROM sessions ORDER BY started_ts",
        "SELECT dt, coalesce(agent, '(all)') AS agent, sessions, turns, reply_p50_s, reply_p90_s, within_target_ratio, first_response_within_target_ratio, unanswered, window_breaches, censored \
         FROM sla_daily ORDER BY dt, agent NULLS FIRST",
    ] {
        session.run(query, OutputFormat::Csv, &mut out).unwrap();
    }
    insta::assert_snapshot!("sla_tables", String::from_utf8(out).unwrap());

    let file = dataset
        .partition_files("turns", date("2026-10-16"))
        .unwrap();
    let before = fs::read(&file[0]).unwrap();
    sla::run(&dataset, &lock, date("2026-10-16"), &config(), None).unwrap();
    let file = dataset
        .partition_files("turns", date("2026-10-16"))
        .unwrap();
    assert_eq!(
        fs::read(&file[0]).unwrap(),
        before,
        "a rerun writes the same bytes"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// On generated conversations: every user message is counted by exactly one
    /// session, turns of a conversation never overlap, and business time never
    /// exceeds wall-clock time.
    #[test]
    fn generated_conversations_cut_cleanly(seed in any::<u64>()) {
        let generated = kefu::gen::generate(&kefu::gen::GenConfig {
            users: 60,
            days: 5,
            seed,
            ..kefu::gen::GenConfig::default()
        });
        let zone = chrono_tz::Asia::Shanghai;
        let rules = config().rules(zone).unwrap();
        let start = kefu::gen::GenConfig::default().start;
        let (mut sessions, mut turns) = (Vec::new(), Vec::new());
        for offset in 0..8 {
            let day = start + chrono::Duration::days(offset);
            let (s, t) = sla::sessions_and_turns(&generated.events, &rules, zone, day, i64::MAX);
            sessions.extend(s);
            turns.extend(t);
        }
        let user_messages = generated
            .events
            .iter()
            .filter(|e| e.role == Role::User && e.kind != "event")
            .count() as u32;
        prop_assert_eq!(sessions.iter().map(|s| s.user_messages).sum::<u32>(), user_messages);
        turns.sort_by_key(|t| (t.openid.clone(), t.first_user_ts_ms));
        for pair in turns.windows(2) {
            if pair[0].openid == pair[1].openid {
                prop_assert!(pair[0].last_user_ts_ms < pair[1].first_user_ts_ms, "{:?}", pair);
            }
        }
        for turn in &turns {
            prop_assert!(turn.business_reply_s <= turn.reply_s, "{:?}", turn);
            prop_assert!(!(turn.breach && turn.censored));
        }
    }
}

/// Every query shipped in `sql/` runs against a store that has every job's tables.
#[test]
fn every_shipped_query_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (dataset, lock) = dataset_with(dir.path(), "sla/conversations.jsonl");
    let segmenter = kefu::text::segment::Segmenter::built_in().unwrap();
    let rules = kefu::jobs::qa::Rules::built_in();
    for day in ["2026-10-16", "2026-10-17", "2026-10-19"] {
        kefu::jobs::segment::run(&dataset, &lock, date(day), &segmenter).unwrap();
        kefu::jobs::qa::run(&dataset, &lock, date(day), &rules, &Default::default()).unwrap();
        sla::run(&dataset, &lock, date(day), &config(), None).unwrap();
    }
    let (first, last) = (date("2026-10-16"), date("2026-10-19"));
    let section = kefu::jobs::topics::TopicsSection::default();
    let taxonomy = kefu::jobs::topics::Taxonomy::built_in();
    kefu::jobs::topics::run_range(
        &dataset, &lock, first, first, &segmenter, &taxonomy, &section,
    )
    .unwrap();
    let tag_rules = kefu::jobs::tags::TagRules::built_in();
    kefu::jobs::tags::run_range(&dataset, &lock, first, last, &tag_rules, 730).unwrap();
    let session = SqlSession::open(&dataset).unwrap();
    let mut files: Vec<_> = fs::read_dir(crate::common::repo_file("sql"))
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .collect();
    files.sort();
    assert!(files.len() >= 8);
    for file in files {
        let sql = fs::read_to_string(&file).unwrap();
        let mut out = Vec::new();
        session
            .run(&sql, OutputFormat::Table, &mut out)
            .unwrap_or_else(|err| panic!("{}: {err:#}", file.display()));
        assert!(!out.is_empty(), "{}", file.display());
    }
}
