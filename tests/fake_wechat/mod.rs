//! A fake WeChat API server for tests, written from `wechat-spec.md` §3, §5, §6, §8, §9:
//! access tokens (`cgi-bin/token`, `cgi-bin/stable_token`), chat records
//! (`customservice/msgrecord/getmsglist`) and user tags (`cgi-bin/tags/…`,
//! `cgi-bin/user/tag/get`). Errors answer HTTP 200 with `{"errcode":N,"errmsg":"… rid: …"}`,
//! as WeChat does.
//!
//! It runs on its own thread and tokio runtime, bound to `127.0.0.1`; the test thread
//! inspects and changes the account while it serves. Dropping it stops it.
//!
//! Included by the integration tests (`mod fake_wechat;`) and by
//! `examples/fake_wechat.rs`; neither uses all of it.
#![allow(dead_code)]

mod account;
mod msgrecord;
mod tags;
mod token;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, Method, Uri};
use axum::response::{IntoResponse, Response};
use tokio::sync::oneshot;

use account::Account;

/// The account the fake plays.
#[derive(Debug, Clone)]
pub struct FakeConfig {
    pub appid: String,
    pub secret: String,
    /// `expires_in` of a fresh token, seconds (WeChat: 7200).
    pub token_expires_in: u64,
    /// What a wrong secret answers: 40125 (invalid appsecret) or 40001 (§6.1 lists both).
    pub wrong_secret_errcode: i64,
    /// The msgid of the first chat record (WeChat's are large numbers, not 1).
    pub first_msgid: i64,
    /// Openids per page of `user/tag/get` (not documented; §12.7).
    pub tag_page_size: usize,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            appid: "wxfake0000000001".into(),
            secret: "fake-secret-0001".into(),
            token_expires_in: 7200,
            wrong_secret_errcode: 40125,
            first_msgid: 20_165_001,
            tag_page_size: 1000,
        }
    }
}

/// One chat record of the msgrecord history, as `getmsglist` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub openid: String,
    pub opercode: i64,
    pub text: String,
    pub time: i64,
    pub worker: String,
}

/// One API call as the fake saw it.
#[derive(Debug, Clone)]
pub struct Call {
    /// The URL path, e.g. `/cgi-bin/tags/members/batchtagging`.
    pub path: String,
    /// The JSON body; `Null` when empty, a `String` when it was not JSON.
    pub body: serde_json::Value,
    /// The raw query string (it holds the access_token, and the secret for `cgi-bin/token`).
    pub query: String,
    /// The errcode answered, 0 on success.
    pub errcode: i64,
}

type Shared = Arc<Mutex<Account>>;

/// A running fake WeChat. Dropping it stops the server.
pub struct FakeWechat {
    /// `http://127.0.0.1:PORT`, to use as the API base.
    pub base_url: String,
    pub addr: SocketAddr,
    account: Shared,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeWechat {
    /// Serves on a free port of 127.0.0.1; returns once the listener is bound.
    pub fn start(config: FakeConfig) -> FakeWechat {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Serves on a given port of 127.0.0.1 (the dev example's fixed port); panics on
    /// any other address.
    pub fn start_on(config: FakeConfig, addr: SocketAddr) -> FakeWechat {
        let loopback = addr.ip() == std::net::Ipv4Addr::LOCALHOST;
        assert!(loopback, "the fake WeChat binds 127.0.0.1 only, not {addr}");
        let account: Shared = Arc::new(Mutex::new(Account::new(config)));
        let (bound_tx, bound_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let shared = account.clone();
        let thread = std::thread::Builder::new()
            .name("fake-wechat".into())
            .spawn(move || serve(addr, shared, bound_tx, stop_rx))
            .expect("a thread for the fake WeChat");
        let addr = match bound_rx.recv() {
            Ok(Ok(addr)) => addr,
            Ok(Err(err)) => panic!("the fake WeChat could not bind {addr}: {err}"),
            Err(_) => panic!("the fake WeChat thread died before binding {addr}"),
        };
        FakeWechat {
            base_url: format!("http://{addr}"),
            addr,
            account,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn account(&self) -> MutexGuard<'_, Account> {
        // A panic in a handler must not hide the state from the test.
        self.account
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds msgrecord history. Each batch gets increasing msgids in time order, after
    /// every msgid given before (WeChat numbers records as they arrive).
    pub fn add_records(&self, records: Vec<Record>) {
        self.account().add_records(records);
    }

    /// Valid openids: followers of this account.
    pub fn add_followers(&self, openids: impl IntoIterator<Item = String>) {
        let mut account = self.account();
        for openid in openids {
            account.foreign.remove(&openid);
            account.followers.insert(openid);
        }
    }

    /// A user unsubscribes: their openid answers 40003 from now on and they leave every tag.
    pub fn remove_follower(&self, openid: &str) {
        let mut account = self.account();
        account.followers.remove(openid);
        account.untag_everywhere(openid);
    }

    /// An openid of another appid: tag calls naming it answer 49003.
    pub fn add_foreign(&self, openid: &str) {
        let mut account = self.account();
        account.followers.remove(openid);
        account.untag_everywhere(openid);
        account.foreign.insert(openid.to_owned());
    }

    /// A tag made in the admin console, not by kefu; ids from 100 up like any other.
    /// Panics on a name WeChat would refuse (a bug in the test).
    pub fn create_manual_tag(&self, name: &str) -> i64 {
        match self.account().create_tag(name) {
            Ok(id) => id,
            Err(code) => panic!("create_manual_tag({name:?}) answers {code}"),
        }
    }

    /// Tags a user by hand in the admin console (no limit checked); the user becomes a
    /// follower. Panics on an unknown tag.
    pub fn tag_user_manually(&self, tag_id: i64, openid: &str) {
        let mut account = self.account();
        assert!(
            account.tags.contains_key(&tag_id),
            "tag_user_manually: no tag {tag_id}"
        );
        account.foreign.remove(openid);
        account.followers.insert(openid.to_owned());
        account.tag_user(tag_id, openid);
    }

    /// The next `times` calls whose path ends with `path` answer `errcode` and change
    /// nothing. Queued injections are consumed in order, before the token check.
    pub fn fail_next(&self, path: &str, errcode: i64, times: usize) {
        self.account().injections.push(account::Injection {
            suffix: path.to_owned(),
            errcode,
            remaining: times,
        });
    }

    /// Every token issued so far answers 42001 from now on.
    pub fn expire_tokens(&self) {
        self.account().expire_tokens();
    }

    /// Moves the fake's clock forward: tokens age (and expire) without waiting.
    pub fn advance_clock(&self, by: Duration) {
        self.account().clock_offset += by;
    }

    /// Calls whose path ends with `path` are answered `delay` late (after being applied:
    /// a client that times out has still changed the account). `Duration::ZERO` clears it.
    pub fn set_delay(&self, path: &str, delay: Duration) {
        let mut account = self.account();
        account.delays.retain(|(suffix, _)| suffix != path);
        if !delay.is_zero() {
            account.delays.push((path.to_owned(), delay));
        }
    }

    /// Every call in order (token calls and unknown paths included).
    pub fn calls(&self) -> Vec<Call> {
        self.account().calls.clone()
    }

    /// Calls to `cgi-bin/token` and `cgi-bin/stable_token`, failed ones included.
    pub fn token_calls(&self) -> usize {
        self.account()
            .calls
            .iter()
            .filter(|call| token::is_token_path(&call.path))
            .count()
    }

    pub fn tag_members(&self, tag_id: i64) -> BTreeSet<String> {
        self.account()
            .members
            .get(&tag_id)
            .cloned()
            .unwrap_or_default()
    }

    /// Every tag, system tags 0, 1, 2 included, by id.
    pub fn tags(&self) -> Vec<(i64, String)> {
        let account = self.account();
        account
            .tags
            .iter()
            .map(|(id, name)| (*id, name.clone()))
            .collect()
    }

    /// The user's tag ids in the order they were given.
    pub fn user_tags(&self, openid: &str) -> Vec<i64> {
        self.account()
            .user_tags
            .get(openid)
            .cloned()
            .unwrap_or_default()
    }

    pub fn followers(&self) -> BTreeSet<String> {
        self.account().followers.clone()
    }

    /// How many chat records the history holds.
    pub fn record_count(&self) -> usize {
        self.account().records.len()
    }
}

impl Drop for FakeWechat {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

type Bound = std::io::Result<SocketAddr>;

/// The server thread: binds, reports the address, serves until told to stop, then gives
/// in-flight (delayed) answers a second before dropping them.
fn serve(
    addr: SocketAddr,
    account: Shared,
    bound: std::sync::mpsc::Sender<Bound>,
    stop: oneshot::Receiver<()>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            let _ = bound.send(Err(err));
            return;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => listener,
            Err(err) => {
                let _ = bound.send(Err(err));
                return;
            }
        };
        let local = listener.local_addr();
        let failed = local.is_err();
        let _ = bound.send(local);
        if failed {
            return;
        }
        let app = axum::Router::new().fallback(answer).with_state(account);
        let (stopping, grace) = oneshot::channel::<()>();
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stop.await;
            let _ = stopping.send(());
        });
        tokio::select! {
            _ = std::future::IntoFuture::into_future(server) => {}
            _ = async {
                let _ = grace.await;
                tokio::time::sleep(Duration::from_secs(1)).await;
            } => {}
        }
    });
    runtime.shutdown_timeout(Duration::from_millis(100));
}

/// Every request: the account answers under its lock, then the delay (if any) is slept
/// outside it.
async fn answer(State(account): State<Shared>, method: Method, uri: Uri, body: Bytes) -> Response {
    let (json, delay) = {
        let mut account = account
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        account.handle(&method, &uri, &body)
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    (
        [(header::CONTENT_TYPE, "application/json; encoding=utf-8")],
        json.to_string(),
    )
        .into_response()
}
