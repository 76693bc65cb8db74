//! Tests of `turns.rs`, kept beside it to keep that file about the code.
use super::*;
use crate::jobs::sla::calendar::CalendarConfig;
use crate::model::Source;

const KF1: &str = "kf2001@gh_test";
const KF2: &str = "kf2002@gh_test";

fn rules() -> SlaRules {
    SlaRules {
        session_gap_ms: 30 * 60 * 1000,
        greetings: greeting_patterns(&[
            "您好，我是青禾客服{agent_name}，很高兴为您服务～".to_owned()
        ])
        .unwrap(),
        calendar: Calendar::new(&CalendarConfig::default(), chrono_tz::Asia::Shanghai).unwrap(),
        acknowledgements: crate::jobs::sla::SlaConfig::default().acknowledgements(),
    }
}

/// `at` is a Shanghai wall time on Thursday 24 September 2026 ("11:50"), or a full
/// RFC 3339 instant.
fn ts(at: &str) -> i64 {
    let full = if at.len() == 5 {
        format!("2026-09-24T{at}:00+08:00")
    } else {
        at.to_owned()
    };
    DateTime::parse_from_rfc3339(&full)
        .unwrap()
        .timestamp_millis()
}

fn event(at: &str, role: Role, agent: Option<&str>, what: &str) -> Event {
    let system = role == Role::System;
    Event {
        event_id: format!("{at}{what}"),
        account: None,
        openid: "oU".into(),
        role,
        agent: agent.map(str::to_owned),
        kind: if system { "event" } else { "text" }.into(),
        event: system.then(|| what.to_owned()),
        text: (!system).then(|| what.to_owned()),
        media_id: None,
        extra: None,
        ts_ms: ts(at),
        received_ts_ms: None,
        source: Source::Import,
    }
}

fn user(at: &str, text: &str) -> Event {
    event(at, Role::User, None, text)
}
fn agent(at: &str, kf: &str, text: &str) -> Event {
    event(at, Role::Agent, Some(kf), text)
}
fn bot(at: &str, text: &str) -> Event {
    event(at, Role::Bot, None, text)
}
fn system(at: &str, kf: &str, name: &str) -> Event {
    event(at, Role::System, Some(kf), name)
}

fn run(events: &[Event], as_of: &str) -> (Vec<Session>, Vec<Turn>) {
    let refs: Vec<&Event> = events.iter().collect();
    let rules = rules();
    conversation("oU", &messages(&refs, &rules), &rules, ts(as_of))
}

#[test]
fn a_burst_is_one_turn_timed_from_its_first_message_and_the_bot_does_not_end_it() {
    let (sessions, turns) = run(
        &[
            user("10:00", "在吗"),
            user("10:00", "订单还没到"),
            bot("10:00", "您好，客服马上就到"),
            user("10:02", "人呢"),
            system("10:03", KF1, "kf_create_session"),
            agent("10:03", KF1, "您好，我是青禾客服小青，很高兴为您服务～"),
            agent("10:05", KF1, "帮您查了，今天下午到"),
            agent("10:06", KF1, "还有别的问题吗"),
        ],
        "11:00",
    );
    assert_eq!(turns.len(), 1);
    let turn = &turns[0];
    assert_eq!(turn.answered_by, AnsweredBy::Agent);
    assert_eq!(turn.agent.as_deref(), Some(KF1));
    assert_eq!(
        turn.reply_s,
        Some(300),
        "from the first message, not the nudge"
    );
    assert_eq!(
        (turn.last_user_ts_ms, turn.breach, turn.censored),
        (ts("10:02"), false, false)
    );
    let session = &sessions[0];
    assert_eq!(
        session.first_response_s,
        Some(300),
        "the greeting is the bot's"
    );
    assert_eq!(session.accept_response_s, Some(120));
    assert_eq!(
        (session.replies, session.user_messages, session.unanswered),
        (2, 3, 0)
    );
}

#[test]
fn a_transfer_credits_the_agent_who_replied_and_lists_both() {
    let (sessions, turns) = run(
        &[
            user("10:00", "加盟怎么收费"),
            system("10:01", KF1, "kf_create_session"),
            system("10:04", KF2, "kf_switch_session"),
            agent("10:06", KF2, "加盟费3万"),
            system("10:20", KF2, "kf_close_session"),
        ],
        "11:00",
    );
    assert_eq!(turns[0].agent.as_deref(), Some(KF2));
    assert_eq!(sessions[0].agent.as_deref(), Some(KF1));
    assert_eq!(sessions[0].agents, [KF1, KF2]);
    assert_eq!(
        sessions[0].accept_response_s, None,
        "the accepting agent never replied"
    );
    assert_eq!(sessions[0].ended_ts_ms, ts("10:20"));
}

#[test]
fn silence_longer_than_the_gap_starts_a_new_session_without_kf_events() {
    let (sessions, turns) = run(
        &[
            user("10:00", "积分怎么用"),
            agent("10:01", KF1, "下单时抵扣"),
            user("10:20", "积分能转给家人用吗"),
            agent("10:21", KF1, "不客气"),
            user("11:00", "还有个问题"),
            agent("11:02", KF1, "您说"),
        ],
        "12:00",
    );
    assert_eq!(sessions.len(), 2);
    assert_eq!(turns.len(), 3);
    assert_eq!(sessions[1].first_response_s, Some(120));
}

#[test]
fn an_unanswered_turn_is_censored_until_its_window_has_passed_then_a_breach() {
    let events = [user("2026-09-24T20:00:00+08:00", "退款呢")];
    let (_, turns) = run(&events, "2026-09-25T20:00:00+08:00");
    assert_eq!(
        (turns[0].answered_by, turns[0].breach, turns[0].censored),
        (AnsweredBy::None, false, true)
    );
    let (sessions, turns) = run(&events, "2026-09-26T20:00:01+08:00");
    assert_eq!((turns[0].breach, turns[0].censored), (true, false));
    assert!(sessions[0].window_breach);
    assert_eq!(sessions[0].unanswered, 1);
}

#[test]
fn a_bot_reply_keeps_the_window_open_but_answers_nothing() {
    let (_, turns) = run(
        &[
            user("21:00", "在吗"),
            bot("21:00", "客服下班了，明早9点回复您"),
        ],
        "2026-09-28T00:00:00+08:00",
    );
    assert_eq!(
        (turns[0].answered_by, turns[0].breach, turns[0].censored),
        (AnsweredBy::Bot, false, false)
    );
}

#[test]
fn a_reply_in_a_later_session_still_keeps_the_earlier_turn_inside_the_window() {
    let (sessions, turns) = run(
        &[
            user("10:00", "在吗"),
            user("11:00", "怎么没人"),
            agent("11:05", KF1, "抱歉，刚看到"),
        ],
        "2026-09-28T00:00:00+08:00",
    );
    assert_eq!(sessions.len(), 2);
    assert_eq!(turns[0].answered_by, AnsweredBy::None);
    assert!(
        !turns[0].breach,
        "WeChat's window is per user: 11:05 reached them"
    );
    assert_eq!(turns[1].reply_s, Some(300));
}

#[test]
fn a_reply_across_the_lunch_break_counts_business_time_apart() {
    let (_, turns) = run(
        &[
            user("11:50", "发票怎么开"),
            agent("13:40", KF1, "订单页点开票"),
        ],
        "15:00",
    );
    assert_eq!(turns[0].reply_s, Some(110 * 60));
    assert_eq!(turns[0].business_reply_s, Some(20 * 60));
}

#[test]
fn a_reply_after_48_hours_is_a_breach_even_though_answered() {
    let (_, turns) = run(
        &[
            user("2026-09-24T10:00:00+08:00", "还没发货？"),
            agent("2026-09-26T10:00:01+08:00", KF1, "今天发"),
        ],
        "2026-09-30T00:00:00+08:00",
    );
    assert_eq!(turns[0].answered_by, AnsweredBy::Agent);
    assert!(turns[0].breach);
}

#[test]
fn thanks_after_an_answer_closes_the_turn_instead_of_opening_one() {
    let (sessions, turns) = run(
        &[
            user("10:00", "积分怎么用"),
            agent("10:01", KF1, "下单时抵扣"),
            user("10:02", "好的，谢谢啦～"),
            user("10:03", "谢谢，那积分会过期吗？"),
        ],
        "2026-09-30T00:00:00+08:00",
    );
    assert_eq!(
        turns.len(),
        2,
        "the thanks opens no turn; the question does"
    );
    assert_eq!(turns[1].first_user_ts_ms, ts("10:03"));
    assert!(turns[1].breach, "that question was never answered");
    assert_eq!(sessions[0].user_messages, 3);
}
