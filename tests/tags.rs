//! The tags job scored against `kefu gen`'s planted traits, the snapshot's rules
//! (expiry, opt-outs, unsubscribes) on a small history, and the tag export as a golden
//! CSV.

use std::collections::{HashMap, HashSet};

use kefu::jobs::tags::{self, TagRules};
use kefu::model::Role;
use kefu::outputs::export::{tag_rows, write_csv, BOM};
use kefu::store::schema::batch_to_tags;

use crate::common::{dataset_with, date, lock, new_dataset, repo_file};

fn rules() -> TagRules {
    TagRules::load(&repo_file("pipelines/rules/tags.toml")).unwrap()
}

#[test]
fn generated_traits_are_tagged_precisely_and_denials_and_opt_outs_never() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = new_dataset(dir.path());
    let lock = lock(&dataset);
    let config = kefu::gen::GenConfig {
        users: 2500,
        days: 30,
        seed: 5,
        ..kefu::gen::GenConfig::default()
    };
    let generated = kefu::commands::generate_into(&dataset, &lock, &config, false).unwrap();
    let events = dataset
        .read_event_rows(config.start, config.start + chrono::Duration::days(40))
        .unwrap();
    let last = events
        .iter()
        .map(|e| e.local_date(dataset.zone()))
        .max()
        .unwrap();
    let rules = rules();
    tags::run_range(&dataset, &lock, last, last, &rules, 730).unwrap();
    let mut held: HashSet<(String, String)> = HashSet::new();
    for batch in dataset.read_partition("tags", last).unwrap() {
        for row in batch_to_tags(&batch).unwrap() {
            held.insert((row.openid, row.tag));
        }
    }
    let unsubscribed: HashSet<&str> = events
        .iter()
        .filter(|e| e.role == Role::System && e.event.as_deref() == Some("unsubscribe"))
        .map(|e| e.openid.as_str())
        .collect();
    let mut expected = HashSet::new();
    for user in &generated.truth.users {
        let excluded = user.opted_out || unsubscribed.contains(user.openid.as_str());
        for tag in &user.traits {
            if !excluded {
                expected.insert((user.openid.clone(), tag.clone()));
            }
        }
        for tag in &user.traits {
            if excluded {
                assert!(
                    !held.contains(&(user.openid.clone(), tag.clone())),
                    "{} opted out or unsubscribed but holds {tag}",
                    user.openid
                );
            }
        }
        for tag in &user.denied {
            assert!(
                !held.contains(&(user.openid.clone(), tag.clone())),
                "{} denied {tag} and was tagged with it",
                user.openid
            );
        }
    }
    let true_positives = held.intersection(&expected).count() as f64;
    let precision = true_positives / held.len() as f64;
    let recall = true_positives / expected.len() as f64;
    eprintln!(
        "tags vs gen truth: {} expected, {} held, precision {precision:.3}, recall {recall:.3}",
        expected.len(),
        held.len()
    );
    assert!(
        expected.len() > 500,
        "the month plants enough traits to score"
    );
    assert!(precision >= 0.95, "precision {precision:.3}");
    assert!(recall >= 0.9, "recall {recall:.3}");
}

#[test]
fn a_snapshot_keeps_what_is_in_force_and_drops_lapsed_opted_out_and_unsubscribed() {
    let rules = rules();
    let sensitive = rules.tags.iter().position(|t| t.name == "敏感肌").unwrap();
    let price = rules
        .tags
        .iter()
        .position(|t| t.name == "价格敏感")
        .unwrap();
    assert_eq!(rules.tags[sensitive].expires_days, Some(365));
    assert_eq!(rules.tags[price].expires_days, None);
    const DAY: i64 = 86_400_000;
    let now = 1_800_000_000_000;
    let evidence = |tag, id: &str, days_ago: i64| tags::Evidence {
        tag,
        event_id: id.into(),
        ts_ms: now - days_ago * DAY,
    };
    let mut users: HashMap<&str, tags::UserHistory> = HashMap::new();
    users.insert(
        "oRecent",
        tags::UserHistory {
            evidence: vec![
                evidence(sensitive, "e1", 400),
                evidence(sensitive, "e2", 10),
            ],
            ..Default::default()
        },
    );
    users.insert(
        "oLapsed",
        tags::UserHistory {
            evidence: vec![evidence(sensitive, "e3", 366), evidence(price, "e4", 366)],
            ..Default::default()
        },
    );
    users.insert(
        "oOptedOut",
        tags::UserHistory {
            evidence: vec![evidence(price, "e5", 20)],
            opted_out_ms: Some(now - 5 * DAY),
            ..Default::default()
        },
    );
    users.insert(
        "oBack",
        tags::UserHistory {
            evidence: vec![evidence(price, "e6", 30)],
            subscriptions: vec![(now - 9 * DAY, false), (now - 2 * DAY, true)],
            ..Default::default()
        },
    );
    users.insert(
        "oGone",
        tags::UserHistory {
            evidence: vec![evidence(price, "e7", 30)],
            subscriptions: vec![(now - 9 * DAY, false)],
            ..Default::default()
        },
    );
    let rows = tags::snapshot(&rules, &users, now);
    let held: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| {
            (
                r.openid.as_str(),
                r.tag.as_str(),
                r.evidence_event_id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        held,
        vec![
            ("oBack", "价格敏感", "e6"),
            ("oLapsed", "价格敏感", "e4"),
            ("oRecent", "敏感肌", "e2"),
        ]
    );
    let recent = rows.iter().find(|r| r.openid == "oRecent").unwrap();
    assert_eq!(
        recent.first_seen_ts_ms,
        now - 10 * DAY,
        "lapsed evidence is not first_seen"
    );
    assert_eq!(recent.expires_ts_ms, Some(now - 10 * DAY + 365 * DAY));
    // Ten days earlier the opted-out user still held the tag (the opt-out came later),
    // and the user who came back was away.
    let earlier = tags::snapshot(&rules, &users, now - 8 * DAY);
    assert!(earlier.iter().any(|r| r.openid == "oOptedOut"));
    assert!(!earlier.iter().any(|r| r.openid == "oBack"));
}

#[test]
fn a_tag_export_is_excel_ready_csv_with_numbers_masked() {
    let dir = tempfile::tempdir().unwrap();
    let (dataset, lock) = dataset_with(dir.path(), "topics/conversations.jsonl");
    let day = date("2026-10-12");
    tags::run_range(&dataset, &lock, day, day, &rules(), 730).unwrap();
    let mut csv = Vec::new();
    write_csv(&tag_rows(&dataset, day, "敏感肌").unwrap(), &mut csv).unwrap();
    assert!(csv.starts_with(BOM), "a BOM, so Excel reads UTF-8");
    let text = String::from_utf8(csv[BOM.len()..].to_vec()).unwrap();
    assert!(!text.contains("13812345678"));
    insta::assert_snapshot!("tag_export_sensitive_skin", text);
    let mut csv = Vec::new();
    write_csv(&tag_rows(&dataset, day, "学生").unwrap(), &mut csv).unwrap();
    let text = String::from_utf8(csv).unwrap();
    assert!(!text.contains("110105199003071239"), "{text}");
}
