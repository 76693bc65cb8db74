//! The fake WeChat against `wechat-spec.md`: tokens (§6), getmsglist (§3), tags (§5),
//! injected quota and busy errors (§8, §9), over real HTTP.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::fake_wechat::{FakeConfig, FakeWechat, Record};

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Sends a request and waits for it. kefu builds reqwest without its `blocking`
/// feature (it would change shared features and rebuild polars), so tests drive the
/// async client on a runtime of their own.
fn send(request: reqwest::RequestBuilder) -> reqwest::Result<reqwest::Response> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move { request.send().await })
}

fn answer(request: reqwest::RequestBuilder) -> Value {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status(),
            200,
            "WeChat answers errors with HTTP 200"
        );
        response.json().await.unwrap()
    })
}

fn get(url: &str) -> Value {
    answer(http().get(url))
}

fn post(url: &str, body: &Value) -> Value {
    answer(http().post(url).json(body))
}

fn errcode(answer: &Value) -> i64 {
    answer["errcode"].as_i64().unwrap_or(0)
}

fn stable_token(fake: &FakeWechat, force_refresh: bool) -> Value {
    let config = FakeConfig::default();
    post(
        &format!("{}/cgi-bin/stable_token", fake.base_url),
        &json!({"grant_type": "client_credential", "appid": config.appid, "secret": config.secret, "force_refresh": force_refresh}),
    )
}

fn classic_token(fake: &FakeWechat, grant_type: &str, appid: &str, secret: &str) -> Value {
    get(&format!(
        "{}/cgi-bin/token?grant_type={grant_type}&appid={appid}&secret={secret}",
        fake.base_url
    ))
}

fn token(fake: &FakeWechat) -> String {
    stable_token(fake, false)["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// An API call with a token: `path` after the base, the token appended.
fn call(fake: &FakeWechat, token: &str, path: &str, body: &Value) -> Value {
    post(
        &format!("{}{path}?access_token={token}", fake.base_url),
        body,
    )
}

fn getmsglist(
    fake: &FakeWechat,
    token: &str,
    start: i64,
    end: i64,
    msgid: i64,
    number: i64,
) -> Value {
    let body = json!({"starttime": start, "endtime": end, "msgid": msgid, "number": number});
    call(fake, token, "/customservice/msgrecord/getmsglist", &body)
}

fn tagging(fake: &FakeWechat, token: &str, tagid: i64, openids: &[String]) -> Value {
    let body = json!({"openid_list": openids, "tagid": tagid});
    call(fake, token, "/cgi-bin/tags/members/batchtagging", &body)
}

fn create(fake: &FakeWechat, token: &str, name: &str) -> Value {
    call(
        fake,
        token,
        "/cgi-bin/tags/create",
        &json!({"tag": {"name": name}}),
    )
}

fn openids(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i:05}")).collect()
}

const DAY: i64 = 1_793_548_800; // 2026-11-02 00:00 +08:00

fn record(k: i64, time: i64) -> Record {
    Record {
        openid: format!("oRec{:04}", k % 700),
        opercode: if k % 2 == 0 { 2003 } else { 2002 },
        text: format!("消息{k}"),
        time,
        worker: "kf2001@gh_test".into(),
    }
}

#[test]
fn stable_token_repeats_the_same_token_until_force_refresh() {
    let fake = FakeWechat::start(FakeConfig::default());
    let first = stable_token(&fake, false);
    let again = stable_token(&fake, false);
    assert_eq!(first["access_token"], again["access_token"]);
    assert_eq!(first["expires_in"], 7200);
    let remaining = again["expires_in"].as_i64().unwrap();
    assert!((7190..=7200).contains(&remaining), "{again}");
    let old = first["access_token"].as_str().unwrap();
    assert!(old.len() >= 100, "token looks like WeChat's");

    fake.advance_clock(Duration::from_secs(3600));
    let later = stable_token(&fake, false);
    assert_eq!(later["access_token"], first["access_token"]);
    assert!(later["expires_in"].as_i64().unwrap() <= 3600);

    // Five minutes before expiry WeChat has renewed it; the old one still works.
    fake.advance_clock(Duration::from_secs(3400));
    let renewed = stable_token(&fake, false);
    assert_ne!(renewed["access_token"], first["access_token"]);
    assert_eq!(renewed["expires_in"], 7200);
    assert_eq!(
        errcode(&call(&fake, old, "/cgi-bin/tags/get", &json!({}))),
        0
    );

    let forced = stable_token(&fake, true);
    assert_ne!(forced["access_token"], renewed["access_token"]);
    let renewed = renewed["access_token"].as_str().unwrap();
    assert_eq!(
        errcode(&call(&fake, renewed, "/cgi-bin/tags/get", &json!({}))),
        40001
    );
    assert_eq!(fake.token_calls(), 5);
}

#[test]
fn cgi_bin_token_issues_a_new_token_each_call_and_only_the_previous_stays_valid() {
    let fake = FakeWechat::start(FakeConfig::default());
    let config = FakeConfig::default();
    let issue = || classic_token(&fake, "client_credential", &config.appid, &config.secret);
    let tokens: Vec<String> = (0..3)
        .map(|_| {
            let answer = issue();
            assert_eq!(answer["expires_in"], 7200, "{answer}");
            answer["access_token"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(tokens.iter().collect::<BTreeSet<_>>().len(), 3);
    let probe = |token: &str| errcode(&call(&fake, token, "/cgi-bin/tags/get", &json!({})));
    assert_eq!(probe(&tokens[0]), 40001);
    assert_eq!(probe(&tokens[1]), 0);
    assert_eq!(probe(&tokens[2]), 0);
    // The pools are isolated: a stable token does not retire the classic ones.
    let stable = token(&fake);
    assert_eq!((probe(&tokens[2]), probe(&stable)), (0, 0));
    issue();
    assert_eq!((probe(&tokens[1]), probe(&stable)), (40001, 0));
}

#[test]
fn bad_credentials_are_refused() {
    let fake = FakeWechat::start(FakeConfig::default());
    let config = FakeConfig::default();
    let (appid, secret) = (config.appid.as_str(), config.secret.as_str());
    assert_eq!(
        errcode(&classic_token(&fake, "password", appid, secret)),
        40002
    );
    assert_eq!(
        errcode(&classic_token(
            &fake,
            "client_credential",
            "wx0000000000000bad",
            secret
        )),
        40013
    );
    let wrong = classic_token(&fake, "client_credential", appid, "not-the-secret");
    assert_eq!(errcode(&wrong), 40125);
    assert!(
        wrong["errmsg"].as_str().unwrap().contains("rid: "),
        "{wrong}"
    );
    assert!(wrong.get("access_token").is_none());
    let stable = post(
        &format!("{}/cgi-bin/stable_token", fake.base_url),
        &json!({"grant_type": "client_credential", "appid": appid, "secret": "nope"}),
    );
    assert_eq!(errcode(&stable), 40125);
    // stable_token is a JSON POST only.
    assert_eq!(
        errcode(&get(&format!("{}/cgi-bin/stable_token", fake.base_url))),
        43002
    );
    assert!(fake.calls().iter().all(|call| call.errcode != 0));
    assert_eq!(fake.token_calls(), 5);

    let fake = FakeWechat::start(FakeConfig {
        wrong_secret_errcode: 40001,
        ..FakeConfig::default()
    });
    assert_eq!(
        errcode(&classic_token(&fake, "client_credential", appid, "nope")),
        40001
    );
}

#[test]
fn access_token_missing_unknown_and_expired() {
    let fake = FakeWechat::start(FakeConfig::default());
    let tags_get = |query: &str| get(&format!("{}/cgi-bin/tags/get{query}", fake.base_url));
    assert_eq!(errcode(&tags_get("")), 41001);
    assert_eq!(errcode(&tags_get("?access_token=")), 41001);
    assert_eq!(errcode(&tags_get("?access_token=made_up")), 40001);
    let old = token(&fake);
    assert_eq!(errcode(&tags_get(&format!("?access_token={old}"))), 0);

    fake.expire_tokens();
    assert_eq!(errcode(&tags_get(&format!("?access_token={old}"))), 42001);
    let fresh = token(&fake);
    assert_ne!(
        fresh, old,
        "after expire_tokens the next stable_token is new"
    );
    assert_eq!(errcode(&tags_get(&format!("?access_token={fresh}"))), 0);

    // By the clock, too.
    fake.advance_clock(Duration::from_secs(7201));
    assert_eq!(errcode(&tags_get(&format!("?access_token={fresh}"))), 42001);
    assert_ne!(token(&fake), fresh);

    let codes: Vec<i64> = fake.calls().iter().map(|c| c.errcode).collect();
    assert_eq!(codes, [41001, 41001, 40001, 0, 0, 42001, 0, 0, 42001, 0]);
}

#[test]
fn a_short_token_lifetime_expires_for_real() {
    let fake = FakeWechat::start(FakeConfig {
        token_expires_in: 1,
        ..FakeConfig::default()
    });
    let first = stable_token(&fake, false);
    assert_eq!(first["expires_in"], 1);
    std::thread::sleep(Duration::from_millis(1100));
    let token = first["access_token"].as_str().unwrap();
    assert_eq!(
        errcode(&call(&fake, token, "/cgi-bin/tags/get", &json!({}))),
        42001
    );
    assert_ne!(
        stable_token(&fake, false)["access_token"],
        first["access_token"]
    );
}

#[test]
fn getmsglist_checks_its_window_and_number() {
    let fake = FakeWechat::start(FakeConfig::default());
    let token = token(&fake);
    assert_eq!(
        errcode(&getmsglist(&fake, &token, DAY, DAY + 86_401, 1, 100)),
        65417
    );
    assert_eq!(
        errcode(&getmsglist(&fake, &token, DAY, DAY + 86_400, 1, 10_000)),
        0
    );
    assert_eq!(
        errcode(&getmsglist(&fake, &token, DAY, DAY + 100, 1, 10_001)),
        65416
    );
    assert_eq!(
        errcode(&getmsglist(&fake, &token, DAY, DAY + 100, 1, 0)),
        65416
    );
    assert_eq!(
        errcode(&getmsglist(&fake, &token, DAY, DAY - 1, 1, 10)),
        65416
    );
    let path = "/customservice/msgrecord/getmsglist";
    let no_msgid = json!({"starttime": DAY, "endtime": DAY + 100, "number": 10});
    assert_eq!(errcode(&call(&fake, &token, path, &no_msgid)), 65416);
    let text =
        json!({"starttime": DAY.to_string(), "endtime": DAY + 100, "msgid": 1, "number": 10});
    assert_eq!(errcode(&call(&fake, &token, path, &text)), 65416);
    let garbage = answer(
        http()
            .post(format!("{}{path}?access_token={token}", fake.base_url))
            .body("{not json"),
    );
    assert_eq!(errcode(&garbage), 65416);
    let empty = getmsglist(&fake, &token, DAY, DAY + 100, 1, 10);
    assert_eq!(empty, json!({"recordlist": [], "number": 0, "msgid": 0}));
}

#[test]
fn paging_25000_records_at_10000_returns_each_record_once() {
    let fake = FakeWechat::start(FakeConfig::default());
    // 25,000 in the day (both ends included), plus a record either side of it, added
    // out of order.
    let mut records: Vec<Record> = (0..25_000)
        .map(|k| record(k, DAY + k * 86_400 / 24_999))
        .collect();
    records.push(record(90_001, DAY - 1));
    records.push(record(90_002, DAY + 86_401));
    records.reverse();
    fake.add_records(records);
    let token = token(&fake);

    let mut seen = BTreeSet::new();
    let mut pages = Vec::new();
    let mut cursor = 1;
    loop {
        let page = getmsglist(&fake, &token, DAY, DAY + 86_400, cursor, 10_000);
        let list = page["recordlist"].as_array().unwrap();
        assert_eq!(page["number"].as_u64().unwrap() as usize, list.len());
        pages.push(list.len());
        let mut last_time = i64::MIN;
        for item in list {
            assert_eq!(item.as_object().unwrap().len(), 5, "{item}");
            let time = item["time"].as_i64().unwrap();
            assert!((DAY..=DAY + 86_400).contains(&time));
            assert!(time >= last_time, "in msgid (time) order");
            last_time = time;
            let text = item["text"].as_str().unwrap().to_owned();
            assert!(seen.insert(text), "a record twice: {item}");
        }
        if list.len() < 10_000 {
            break;
        }
        cursor = page["msgid"].as_i64().unwrap();
    }
    assert_eq!(pages, [10_000, 10_000, 5_000]);
    assert_eq!(seen.len(), 25_000);
    // msgids are WeChat-like, not 1..: the first full page's cursor is past 20,000,000.
    let first = getmsglist(&fake, &token, DAY, DAY + 86_400, 1, 1);
    assert_eq!(first["recordlist"][0]["text"], "消息0");
    assert!(first["msgid"].as_i64().unwrap() > 20_000_000);
    // Past the end: the documented empty page.
    let beyond = getmsglist(&fake, &token, DAY, DAY + 86_400, i64::from(i32::MAX), 10);
    assert_eq!(beyond, json!({"recordlist": [], "number": 0, "msgid": 0}));
}

#[test]
fn system_tags_exist_and_count_toward_the_hundred() {
    let fake = FakeWechat::start(FakeConfig::default());
    let token = token(&fake);
    let listed = get(&format!(
        "{}/cgi-bin/tags/get?access_token={token}",
        fake.base_url
    ));
    let ids: Vec<i64> = listed["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [0, 1, 2]);
    assert_eq!(listed["tags"][2]["name"], "星标组");

    let made = create(&fake, &token, "广东");
    assert_eq!(made["tag"]["name"], "广东");
    assert_eq!(made["tag"]["id"], 100);
    for n in 1..97 {
        assert_eq!(errcode(&create(&fake, &token, &format!("标签{n}"))), 0);
    }
    assert_eq!(fake.tags().len(), 100);
    assert_eq!(errcode(&create(&fake, &token, "第一百零一")), 45056);
    assert_eq!(fake.tags().len(), 100);
}

#[test]
fn tag_names_are_checked_in_bytes_and_unique() {
    let fake = FakeWechat::start(FakeConfig::default());
    let token = token(&fake);
    let thirty = "一二三四五六七八九十"; // 30 bytes
    assert_eq!(thirty.len(), 30);
    assert_eq!(errcode(&create(&fake, &token, thirty)), 0);
    assert_eq!(
        errcode(&create(&fake, &token, &format!("{thirty}a"))),
        45158
    );
    assert_eq!(errcode(&create(&fake, &token, thirty)), 45157);
    assert_eq!(errcode(&create(&fake, &token, "星标组")), 45157);
    assert_eq!(errcode(&create(&fake, &token, "")), 45157);
    let manual = fake.create_manual_tag("手动");
    assert_eq!(errcode(&create(&fake, &token, "手动")), 45157);

    let rename = |id: i64, name: &str| {
        errcode(&call(
            &fake,
            &token,
            "/cgi-bin/tags/update",
            &json!({"tag": {"id": id, "name": name}}),
        ))
    };
    assert_eq!(rename(manual, thirty), 45157);
    assert_eq!(rename(manual, "手动"), 0);
    assert_eq!(rename(manual, "改名"), 0);
    assert_eq!(rename(2, "星星"), 45058);
    assert_eq!(rename(999, "无"), 45159);
    assert!(fake.tags().contains(&(manual, "改名".to_string())));

    let delete = |id: i64| {
        errcode(&call(
            &fake,
            &token,
            "/cgi-bin/tags/delete",
            &json!({"tag": {"id": id}}),
        ))
    };
    fake.add_followers(["oA".to_string()]);
    fake.tag_user_manually(manual, "oA");
    assert_eq!(delete(1), 45058);
    assert_eq!(delete(manual), 0);
    assert_eq!(delete(manual), 45159);
    assert!(fake.user_tags("oA").is_empty());
}

#[test]
fn batchtagging_is_all_or_nothing() {
    let fake = FakeWechat::start(FakeConfig::default());
    let token = token(&fake);
    let users = openids("oUser", 60);
    fake.add_followers(users.clone());
    fake.add_foreign("oOther");
    let tag = create(&fake, &token, "敏感肌")["tag"]["id"]
        .as_i64()
        .unwrap();

    assert_eq!(errcode(&tagging(&fake, &token, tag, &users[..51])), 40032);
    assert_eq!(errcode(&tagging(&fake, &token, tag, &[])), 40032);
    assert_eq!(errcode(&tagging(&fake, &token, 12345, &users[..3])), 45159);
    let mut with_stranger = users[..10].to_vec();
    with_stranger.push("oStranger".into());
    assert_eq!(errcode(&tagging(&fake, &token, tag, &with_stranger)), 40003);
    let mut with_foreign = users[..10].to_vec();
    with_foreign.insert(4, "oOther".into());
    assert_eq!(errcode(&tagging(&fake, &token, tag, &with_foreign)), 49003);
    assert!(
        fake.tag_members(tag).is_empty(),
        "a failed call tags nobody"
    );

    assert_eq!(errcode(&tagging(&fake, &token, tag, &users[..50])), 0);
    assert_eq!(fake.tag_members(tag).len(), 50);
    assert_eq!(fake.user_tags(&users[7]), [tag]);
    let untag = json!({"openid_list": [users[0], users[1], "oStranger"], "tagid": tag});
    let path = "/cgi-bin/tags/members/batchuntagging";
    assert_eq!(errcode(&call(&fake, &token, path, &untag)), 40003);
    let untag = json!({"openid_list": [users[0], users[1], users[55]], "tagid": tag});
    assert_eq!(errcode(&call(&fake, &token, path, &untag)), 0);
    assert_eq!(fake.tag_members(tag).len(), 48);

    let ids = call(
        &fake,
        &token,
        "/cgi-bin/tags/getidlist",
        &json!({"openid": users[7]}),
    );
    assert_eq!(ids, json!({"tagid_list": [tag]}));
    let ids = call(
        &fake,
        &token,
        "/cgi-bin/tags/getidlist",
        &json!({"openid": "oOther"}),
    );
    assert_eq!(errcode(&ids), 49003);
}

#[test]
fn a_user_at_twenty_tags_fails_the_whole_call_with_45059() {
    let fake = FakeWechat::start(FakeConfig::default());
    let token = token(&fake);
    let users = openids("oUser", 5);
    fake.add_followers(users.clone());
    for n in 0..20 {
        let id = fake.create_manual_tag(&format!("手动{n}"));
        fake.tag_user_manually(id, &users[3]);
    }
    let held = fake.user_tags(&users[3]);
    assert_eq!(held.len(), 20);
    let tag = create(&fake, &token, "敏感肌")["tag"]["id"]
        .as_i64()
        .unwrap();
    assert_eq!(errcode(&tagging(&fake, &token, tag, &users)), 45059);
    assert!(fake.tag_members(tag).is_empty(), "nobody tagged");
    // A tag the user already holds does not count twice.
    assert_eq!(errcode(&tagging(&fake, &token, held[0], &users)), 0);
    assert_eq!(fake.tag_members(held[0]).len(), 5);
    assert_eq!(fake.user_tags(&users[3]).len(), 20);
}

#[test]
fn the_fans_of_a_tag_come_in_pages() {
    let fake = FakeWechat::start(FakeConfig::default());
    let token = token(&fake);
    let users = openids("oFan", 2500);
    fake.add_followers(users.clone());
    let tag = fake.create_manual_tag("粉丝");
    for user in &users {
        fake.tag_user_manually(tag, user);
    }
    let listed = get(&format!(
        "{}/cgi-bin/tags/get?access_token={token}",
        fake.base_url
    ));
    assert_eq!(
        listed["tags"][3],
        json!({"id": tag, "name": "粉丝", "count": 2500})
    );

    let mut got = Vec::new();
    let mut next = String::new();
    let mut pages = Vec::new();
    loop {
        let page = call(
            &fake,
            &token,
            "/cgi-bin/user/tag/get",
            &json!({"tagid": tag, "next_openid": next}),
        );
        assert_eq!(errcode(&page), 0, "{page}");
        next = page["next_openid"].as_str().unwrap().to_owned();
        if next.is_empty() {
            assert_eq!(page, json!({"count": 0, "next_openid": ""}));
            break;
        }
        let list = page["data"]["openid"].as_array().unwrap();
        assert_eq!(page["count"].as_u64().unwrap() as usize, list.len());
        pages.push(list.len());
        got.extend(list.iter().map(|o| o.as_str().unwrap().to_owned()));
    }
    assert_eq!(pages, [1000, 1000, 500]);
    assert_eq!(got, users);
    let unknown = call(
        &fake,
        &token,
        "/cgi-bin/user/tag/get",
        &json!({"tagid": 4242, "next_openid": ""}),
    );
    assert_eq!(errcode(&unknown), 45159);
}

#[test]
fn injected_failures_show_up_then_clear_and_change_nothing() {
    let fake = FakeWechat::start(FakeConfig::default());
    let token = token(&fake);
    let users = openids("oUser", 3);
    fake.add_followers(users.clone());
    let tag = fake.create_manual_tag("敏感肌");
    fake.fail_next("batchtagging", -1, 1);
    fake.fail_next("batchtagging", 45009, 2);
    fake.fail_next("tags/create", 45011, 1);

    let busy = tagging(&fake, &token, tag, &users);
    assert_eq!(errcode(&busy), -1);
    assert!(busy["errmsg"].is_string());
    assert_eq!(errcode(&tagging(&fake, &token, tag, &users)), 45009);
    // Injected before the token check: even a missing token gets the quota error.
    let no_token = post(
        &format!("{}/cgi-bin/tags/members/batchtagging", fake.base_url),
        &json!({"openid_list": users, "tagid": tag}),
    );
    assert_eq!(errcode(&no_token), 45009);
    assert!(fake.tag_members(tag).is_empty());
    assert_eq!(errcode(&create(&fake, &token, "干皮")), 45011);
    assert_eq!(fake.tags().len(), 4);

    assert_eq!(errcode(&tagging(&fake, &token, tag, &users)), 0);
    assert_eq!(errcode(&create(&fake, &token, "干皮")), 0);
    assert_eq!(fake.tag_members(tag).len(), 3);

    let calls = fake.calls();
    let codes: Vec<(&str, i64)> = calls
        .iter()
        .map(|c| (c.path.rsplit('/').next().unwrap(), c.errcode))
        .collect();
    assert_eq!(
        codes,
        [
            ("stable_token", 0),
            ("batchtagging", -1),
            ("batchtagging", 45009),
            ("batchtagging", 45009),
            ("create", 45011),
            ("batchtagging", 0),
            ("create", 0),
        ]
    );
    assert_eq!(calls[1].body["tagid"], tag);
    assert!(calls[1].query.starts_with("access_token="));

    // On a token endpoint, too.
    fake.fail_next("stable_token", -1, 1);
    assert_eq!(errcode(&stable_token(&fake, false)), -1);
    assert_eq!(stable_token(&fake, false)["access_token"], token.as_str());
}

#[test]
fn a_delay_holds_the_answer_but_the_call_is_applied() {
    let fake = FakeWechat::start(FakeConfig::default());
    let token = token(&fake);
    fake.add_followers(["oA".to_string()]);
    let tag = fake.create_manual_tag("慢");
    fake.set_delay("batchtagging", Duration::from_millis(400));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let url = format!(
        "{}/cgi-bin/tags/members/batchtagging?access_token={token}",
        fake.base_url
    );
    let body = json!({"openid_list": ["oA"], "tagid": tag});
    let err = send(impatient.post(&url).json(&body)).unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert_eq!(fake.tag_members(tag).len(), 1);

    let started = Instant::now();
    assert_eq!(errcode(&post(&url, &body)), 0);
    assert!(started.elapsed() >= Duration::from_millis(400));
    // Other paths are not slowed, and the delay can be cleared.
    let started = Instant::now();
    get(&format!(
        "{}/cgi-bin/tags/get?access_token={token}",
        fake.base_url
    ));
    assert!(started.elapsed() < Duration::from_millis(300));
    fake.set_delay("batchtagging", Duration::ZERO);
    let started = Instant::now();
    post(&url, &body);
    assert!(started.elapsed() < Duration::from_millis(300));
}

#[test]
fn unknown_paths_wrong_methods_and_bad_bodies() {
    let fake = FakeWechat::start(FakeConfig::default());
    let token = token(&fake);
    assert_eq!(
        errcode(&call(&fake, &token, "/cgi-bin/nothing/here", &json!({}))),
        40066
    );
    let create_get = get(&format!(
        "{}/cgi-bin/tags/create?access_token={token}",
        fake.base_url
    ));
    assert_eq!(errcode(&create_get), 43002);
    let raw = |body: &'static str| {
        answer(
            http()
                .post(format!(
                    "{}/cgi-bin/tags/create?access_token={token}",
                    fake.base_url
                ))
                .body(body),
        )
    };
    assert_eq!(errcode(&raw("")), 44002);
    assert_eq!(errcode(&raw("[1,2]")), 47001);
    assert_eq!(fake.calls().last().unwrap().body, json!([1, 2]));
}

#[test]
fn dropping_the_fake_stops_it() {
    let fake = FakeWechat::start(FakeConfig::default());
    let url = format!("{}/cgi-bin/tags/get", fake.base_url);
    assert_eq!(errcode(&get(&url)), 41001);
    let started = Instant::now();
    drop(fake);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(send(http().get(&url)).is_err());
}
