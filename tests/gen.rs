//! `kefu gen`: deterministic, realistic, and honest about what it planted.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, Timelike, Weekday};
use kefu::gen::{generate, GenConfig};
use kefu::model::Role;

fn month(users: u32, seed: u64) -> kefu::gen::Generated {
    generate(&GenConfig {
        users,
        seed,
        ..GenConfig::default()
    })
}

#[test]
fn the_same_seed_gives_the_same_data_and_another_seed_does_not() {
    let a = month(300, 7);
    let b = month(300, 7);
    assert_eq!(a.events, b.events);
    assert_eq!(a.truth.users, b.truth.users);
    assert_eq!(a.truth.replies, b.truth.replies);
    assert_eq!(a.truth.spikes, b.truth.spikes);
    let c = month(300, 8);
    assert_ne!(a.events, c.events);
}

#[test]
fn a_month_looks_like_a_real_account() {
    let config = GenConfig {
        users: 3000,
        ..GenConfig::default()
    };
    let generated = generate(&config);
    let events = &generated.events;
    let zone = config.zone;
    let local = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .unwrap()
            .with_timezone(&zone)
    };

    // Traffic: the evening peak beats the small hours several times over.
    let mut by_hour = [0u32; 24];
    let (mut weekday, mut weekend) = (0u32, 0u32);
    for e in events.iter().filter(|e| e.role == Role::User) {
        let t = local(e.ts_ms);
        by_hour[t.hour() as usize] += 1;
        if matches!(t.weekday(), Weekday::Sat | Weekday::Sun) {
            weekend += 1
        } else {
            weekday += 1
        }
    }
    assert!(
        by_hour[21] > 5 * by_hour[3],
        "evening {} vs night {}",
        by_hour[21],
        by_hour[3]
    );
    assert!(
        by_hour[21] > by_hour[12],
        "the evening peak is the day's highest"
    );
    // 2026-10-12 is a Monday: 30 days hold 22 weekdays and 8 weekend days.
    let (per_weekday, per_weekend_day) = (f64::from(weekday) / 22.0, f64::from(weekend) / 8.0);
    assert!(
        per_weekend_day > 0.0 && per_weekend_day < per_weekday,
        "weekends are quieter: {per_weekend_day:.0} vs {per_weekday:.0} a day"
    );

    let count =
        |pred: &dyn Fn(&kefu::model::Event) -> bool| events.iter().filter(|e| pred(e)).count();
    for name in [
        "kf_create_session",
        "kf_close_session",
        "kf_switch_session",
        "subscribe",
        "unsubscribe",
        "CLICK",
        "VIEW",
    ] {
        assert!(
            count(&|e| e.event.as_deref() == Some(name)) > 0,
            "{name} events"
        );
    }
    assert!(count(&|e| e.kind == "image" && e.media_id.is_some()) > 0);
    assert!(
        count(&|e| e.kind == "voice" && e.text.is_some()) > 0,
        "voice with recognition"
    );
    assert!(count(&|e| e.role == Role::Bot) > 0);

    // Agents differ: several of them, at different median speeds.
    let agents: HashSet<_> = events
        .iter()
        .filter(|e| e.role == Role::Agent)
        .filter_map(|e| e.agent.clone())
        .collect();
    assert!(agents.len() >= 4, "{agents:?}");

    // Some users get no human reply at all within 48 h of their last message.
    let mut last_user: HashMap<&str, i64> = HashMap::new();
    let mut last_agent: HashMap<&str, i64> = HashMap::new();
    for e in events {
        match e.role {
            Role::User => {
                last_user
                    .entry(&e.openid)
                    .and_modify(|t| *t = (*t).max(e.ts_ms))
                    .or_insert(e.ts_ms);
            }
            Role::Agent => {
                last_agent
                    .entry(&e.openid)
                    .and_modify(|t| *t = (*t).max(e.ts_ms))
                    .or_insert(e.ts_ms);
            }
            _ => {}
        }
    }
    let unanswered = last_user
        .iter()
        .filter(|(u, t)| last_agent.get(*u).is_none_or(|a| a < *t))
        .count();
    assert!(
        unanswered > 0,
        "some users' last messages are never answered"
    );

    // Bursts: users often send two messages within a minute.
    let mut user_times: Vec<(&str, i64)> = events
        .iter()
        .filter(|e| e.role == Role::User)
        .map(|e| (e.openid.as_str(), e.ts_ms))
        .collect();
    user_times.sort();
    let bursts = user_times
        .windows(2)
        .filter(|w| w[0].0 == w[1].0 && w[1].1 - w[0].1 < 60_000)
        .count();
    assert!(bursts > 100, "{bursts} bursts");
}

#[test]
fn the_truth_matches_the_events() {
    let generated = month(3000, 42);
    let by_id: HashMap<_, _> = generated
        .events
        .iter()
        .map(|e| (e.event_id.as_str(), e))
        .collect();

    let categories: HashSet<_> = generated
        .truth
        .replies
        .iter()
        .filter(|r| r.expected == "flag")
        .map(|r| r.category.as_str())
        .collect();
    for category in ["promise", "rude", "absolute", "privacy", "deflection"] {
        assert!(categories.contains(category), "a planted {category} reply");
    }
    assert!(generated
        .truth
        .replies
        .iter()
        .any(|r| r.expected == "clean"));
    for reply in &generated.truth.replies {
        let event = by_id
            .get(reply.event_id.as_str())
            .expect("the planted reply is an event");
        assert_eq!(event.role, Role::Agent);
        assert_eq!(event.text.as_deref(), Some(reply.text.as_str()));
        assert_eq!(event.agent.as_deref(), Some(reply.agent.as_str()));
    }

    let tagged: Vec<_> = generated
        .truth
        .users
        .iter()
        .filter(|u| !u.traits.is_empty())
        .collect();
    assert!(tagged.len() > 300, "{} users with traits", tagged.len());
    for user in &generated.truth.users {
        for (tag, event_id) in &user.evidence {
            assert!(user.traits.contains(tag));
            let event = by_id.get(event_id.as_str()).expect("evidence is an event");
            assert_eq!(event.openid, user.openid);
            assert_eq!(event.role, Role::User);
        }
        for tag in &user.traits {
            assert!(
                user.evidence.iter().any(|(t, _)| t == tag),
                "{tag} has evidence"
            );
            assert!(
                !user.denied.contains(tag),
                "a user never both holds and denies {tag}"
            );
        }
    }
    assert!(generated.truth.users.iter().any(|u| !u.denied.is_empty()));
    assert!(generated.truth.users.iter().any(|u| u.opted_out));

    // Each planted spike really multiplies its question on its day.
    assert!(!generated.truth.spikes.is_empty());
    for spike in &generated.truth.spikes {
        let per_day = |day: chrono::NaiveDate| {
            generated
                .events
                .iter()
                .filter(|e| e.text.as_deref() == Some(spike.question.as_str()))
                .filter(|e| kefu::model::local_date(e.ts_ms, chrono_tz::Asia::Shanghai) == day)
                .count() as f64
        };
        let on_day = per_day(spike.date);
        let before: f64 = (1..=7)
            .map(|d| per_day(spike.date - chrono::Duration::days(d)))
            .sum::<f64>()
            / 7.0;
        assert!(
            on_day >= 2.0 * before.max(1.0),
            "{}: {on_day} on the day vs {before:.1}/day before",
            spike.question
        );
    }
}
