//! The state of the one official account the fake plays, and the request dispatch:
//! record the call, apply an injected failure, check the token, route.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use axum::extract::Query;
use axum::http::{Method, Uri};
use serde_json::{json, Value};

use super::token::Token;
use super::{Call, FakeConfig, Record};

/// The answer of an endpoint: a success body, or an errcode.
pub type Outcome = Result<Value, i64>;

pub struct Injection {
    pub suffix: String,
    pub errcode: i64,
    pub remaining: usize,
}

pub struct Account {
    pub config: FakeConfig,
    /// Added to the real clock for token lifetimes (`advance_clock`).
    pub clock_offset: Duration,
    rng: u64,
    pub tokens: HashMap<String, Token>,
    /// `cgi-bin/token` tokens in issue order; only the last two are valid.
    pub classic: Vec<String>,
    /// The current `stable_token` token.
    pub stable: Option<String>,
    /// (msgid, record), by msgid.
    pub records: Vec<(i64, Record)>,
    pub next_msgid: i64,
    pub followers: BTreeSet<String>,
    pub foreign: BTreeSet<String>,
    pub tags: BTreeMap<i64, String>,
    pub next_tag_id: i64,
    pub members: BTreeMap<i64, BTreeSet<String>>,
    pub user_tags: HashMap<String, Vec<i64>>,
    pub injections: Vec<Injection>,
    pub delays: Vec<(String, Duration)>,
    pub calls: Vec<Call>,
}

impl Account {
    pub fn new(config: FakeConfig) -> Account {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x5eed);
        let next_msgid = config.first_msgid;
        let mut account = Account {
            config,
            clock_offset: Duration::ZERO,
            rng: seed ^ 0x9e37_79b9_7f4a_7c15,
            tokens: HashMap::new(),
            classic: Vec::new(),
            stable: None,
            records: Vec::new(),
            next_msgid,
            followers: BTreeSet::new(),
            foreign: BTreeSet::new(),
            tags: BTreeMap::new(),
            next_tag_id: 100,
            members: BTreeMap::new(),
            user_tags: HashMap::new(),
            injections: Vec::new(),
            delays: Vec::new(),
            calls: Vec::new(),
        };
        // The system tags (§5: ids 0, 1, 2 reserved); they count toward the 100.
        for (id, name) in [(0, "未分组"), (1, "黑名单"), (2, "星标组")] {
            account.tags.insert(id, name.to_owned());
            account.members.insert(id, BTreeSet::new());
        }
        account
    }

    pub fn now(&self) -> Instant {
        Instant::now() + self.clock_offset
    }

    /// splitmix64: tokens and rids need to be unpredictable enough, not secure.
    pub fn random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn add_records(&mut self, mut records: Vec<Record>) {
        records.sort_by_key(|record| record.time);
        for record in records {
            self.records.push((self.next_msgid, record));
            self.next_msgid += 1;
        }
    }

    /// Adds the tag to the user (no limit checked; a no-op when already there).
    pub fn tag_user(&mut self, tag_id: i64, openid: &str) {
        if self
            .members
            .entry(tag_id)
            .or_default()
            .insert(openid.to_owned())
        {
            self.user_tags
                .entry(openid.to_owned())
                .or_default()
                .push(tag_id);
        }
    }

    pub fn untag_user(&mut self, tag_id: i64, openid: &str) {
        if let Some(members) = self.members.get_mut(&tag_id) {
            members.remove(openid);
        }
        if let Some(tags) = self.user_tags.get_mut(openid) {
            tags.retain(|id| *id != tag_id);
        }
    }

    pub fn untag_everywhere(&mut self, openid: &str) {
        for members in self.members.values_mut() {
            members.remove(openid);
        }
        self.user_tags.remove(openid);
    }

    /// 40003 for a user who does not follow the account, 49003 for another account's.
    pub fn check_openid(&self, openid: &str) -> Result<(), i64> {
        if self.foreign.contains(openid) {
            Err(49003)
        } else if self.followers.contains(openid) {
            Ok(())
        } else {
            Err(40003)
        }
    }

    /// Answers one request: the JSON to send and how long to hold it.
    pub fn handle(&mut self, method: &Method, uri: &Uri, body: &[u8]) -> (Value, Duration) {
        let path = uri.path().to_owned();
        let query: HashMap<String, String> =
            Query::try_from_uri(uri).map(|q| q.0).unwrap_or_default();
        let outcome = match self.take_injection(&path) {
            Some(errcode) => Err(errcode),
            None => self.route(method, &path, &query, body),
        };
        let (errcode, json) = match outcome {
            Ok(json) => (0, json),
            Err(errcode) => (errcode, self.error(errcode)),
        };
        self.calls.push(Call {
            path: path.clone(),
            body: body_as_json(body),
            query: uri.query().unwrap_or_default().to_owned(),
            errcode,
        });
        let delay = self
            .delays
            .iter()
            .find(|(suffix, _)| path.ends_with(suffix.as_str()))
            .map(|(_, delay)| *delay)
            .unwrap_or_default();
        (json, delay)
    }

    fn take_injection(&mut self, path: &str) -> Option<i64> {
        let injection = self.injections.iter_mut().find(|injection| {
            injection.remaining > 0 && path.ends_with(injection.suffix.as_str())
        })?;
        injection.remaining -= 1;
        let errcode = injection.errcode;
        self.injections.retain(|injection| injection.remaining > 0);
        Some(errcode)
    }

    fn route(
        &mut self,
        method: &Method,
        path: &str,
        query: &HashMap<String, String>,
        body: &[u8],
    ) -> Outcome {
        match path {
            "/cgi-bin/token" => {
                require(method, Method::GET)?;
                return self.classic_token(query);
            }
            "/cgi-bin/stable_token" => {
                require(method, Method::POST)?;
                return self.stable_token(&json_body(body)?);
            }
            _ => {}
        }
        let known = matches!(
            path,
            "/customservice/msgrecord/getmsglist"
                | "/cgi-bin/tags/create"
                | "/cgi-bin/tags/get"
                | "/cgi-bin/tags/update"
                | "/cgi-bin/tags/delete"
                | "/cgi-bin/tags/members/batchtagging"
                | "/cgi-bin/tags/members/batchuntagging"
                | "/cgi-bin/tags/getidlist"
                | "/cgi-bin/user/tag/get"
        );
        if !known {
            return Err(40066);
        }
        self.check_token(query.get("access_token").map(String::as_str))?;
        if path == "/cgi-bin/tags/get" {
            // A GET in the docs; a POST with any body works as well.
            return Ok(self.tags_get());
        }
        require(method, Method::POST)?;
        if path == "/customservice/msgrecord/getmsglist" {
            // §3: a malformed body answers 65416 like a bad field.
            let body = json_body(body).map_err(|_| 65416)?;
            return self.getmsglist(&body);
        }
        let body = json_body(body)?;
        match path {
            "/cgi-bin/tags/create" => self.tags_create(&body),
            "/cgi-bin/tags/update" => self.tags_update(&body),
            "/cgi-bin/tags/delete" => self.tags_delete(&body),
            "/cgi-bin/tags/members/batchtagging" => self.batch(&body, true),
            "/cgi-bin/tags/members/batchuntagging" => self.batch(&body, false),
            "/cgi-bin/tags/getidlist" => self.getidlist(&body),
            "/cgi-bin/user/tag/get" => self.tag_fans(&body),
            _ => Err(40066),
        }
    }

    /// `{"errcode":N,"errmsg":"… rid: …"}`, the rid suffix as WeChat adds it.
    fn error(&mut self, errcode: i64) -> Value {
        let r = self.random();
        let rid = format!(
            "{:08x}-{:08x}-{:08x}",
            r >> 32,
            r as u32,
            self.random() as u32
        );
        json!({"errcode": errcode, "errmsg": format!("{} rid: {rid}", errmsg(errcode))})
    }
}

/// `{"errcode":0,"errmsg":"ok"}`, the success answer of calls that return nothing.
pub fn ok() -> Outcome {
    Ok(json!({"errcode": 0, "errmsg": "ok"}))
}

fn require(method: &Method, wanted: Method) -> Result<(), i64> {
    match (method == wanted, wanted == Method::GET) {
        (true, _) => Ok(()),
        (false, true) => Err(43001),
        (false, false) => Err(43002),
    }
}

/// A JSON object body: 44002 when empty, 47001 when not a JSON object.
fn json_body(body: &[u8]) -> Result<Value, i64> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(44002);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if value.is_object() => Ok(value),
        _ => Err(47001),
    }
}

fn body_as_json(body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

pub fn errmsg(errcode: i64) -> &'static str {
    match errcode {
        -1 => "system error",
        0 => "ok",
        40001 => "invalid credential, access_token is invalid or not latest",
        40002 => "invalid grant_type",
        40003 => "invalid openid",
        40013 => "invalid appid",
        40014 => "invalid access_token",
        40032 => "invalid openid list size",
        40066 => "invalid url",
        40125 => "invalid appsecret",
        41001 => "access_token missing",
        41002 => "appid missing",
        41004 => "appsecret missing",
        42001 => "access_token expired",
        43001 => "require GET method",
        43002 => "require POST method",
        44002 => "empty post data",
        45009 => "reach max api daily quota limit",
        45011 => "api minute-quota reach limit  mustslower  retry next minute",
        45056 => "too many tags now, no need to add new",
        45057 => "can't delete the tag that has too many fans",
        45058 => "can't modify sys tag",
        45059 => "some user has too many tags",
        45157 => "invalid tag name",
        45158 => "tag name too long",
        45159 => "invalid tag id",
        47001 => "data format error",
        49003 => "not match openid with appid",
        65400 => "api unavailable, please enable new customer service",
        65416 => "invalid parameter",
        65417 => "time range exceeds the limit",
        _ => "injected error",
    }
}
