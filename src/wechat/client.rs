//! One careful HTTP client for WeChat's API: a timeout on every call, the token
//! refreshed once on 40001 / 42001 / 40014, backoff on -1, 45011 and transport
//! errors, a clean stop on 45009. The appid and secret never reach a log line or an
//! error: reqwest errors are stripped of their URL (which carries the token, and the
//! secret for `cgi-bin/token`), and only the API's path is ever logged.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{TimeZone, Utc};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::error::{code, token_hint, ApiError};
use super::token::{CachedToken, TokenApi, TokenCache};
use crate::error::UsageError;

/// Where the API lives and how patient to be with it. Every field has an environment
/// variable, so a cron line or a test can set it without a config file.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `KEFU_WECHAT_API_BASE`; default `https://api.weixin.qq.com`.
    pub api_base: String,
    /// `KEFU_WECHAT_TOKEN_API` = `stable` (default) or `token` (cgi-bin/token).
    pub token_api: TokenApi,
    /// `KEFU_WECHAT_TIMEOUT_S`: the whole of one HTTP exchange; default 30 s.
    pub timeout: Duration,
    /// `KEFU_WECHAT_ATTEMPTS`: tries of one call on busy / network errors; default 5.
    pub attempts: u32,
    /// `KEFU_WECHAT_BACKOFF_MS`: the first wait between tries, doubled each time;
    /// default 1000 ms (so 1 + 2 + 4 + 8 s over five tries).
    pub backoff: Duration,
}

impl Default for ClientConfig {
    fn default() -> ClientConfig {
        ClientConfig {
            api_base: "https://api.weixin.qq.com".into(),
            token_api: TokenApi::Stable,
            timeout: Duration::from_secs(30),
            attempts: 5,
            backoff: Duration::from_millis(1000),
        }
    }
}

impl ClientConfig {
    pub fn from_env() -> Result<ClientConfig> {
        let mut config = ClientConfig::default();
        if let Ok(base) = std::env::var("KEFU_WECHAT_API_BASE") {
            config.api_base = base.trim_end_matches('/').to_owned();
        }
        if let Ok(api) = std::env::var("KEFU_WECHAT_TOKEN_API") {
            config.token_api = match api.as_str() {
                "stable" | "stable_token" => TokenApi::Stable,
                "token" | "classic" => TokenApi::Classic,
                other => {
                    return Err(UsageError::Invalid(format!(
                        "KEFU_WECHAT_TOKEN_API={other:?}: use `stable` (cgi-bin/stable_token) or `token` (cgi-bin/token)"
                    ))
                    .into())
                }
            };
        }
        let number = |name: &str| -> Result<Option<u64>> {
            match std::env::var(name) {
                Ok(text) => text.parse().map(Some).map_err(|_| {
                    UsageError::Invalid(format!("{name}={text:?} is not a whole number")).into()
                }),
                Err(_) => Ok(None),
            }
        };
        if let Some(seconds) = number("KEFU_WECHAT_TIMEOUT_S")? {
            config.timeout = Duration::from_secs(seconds.max(1));
        }
        if let Some(attempts) = number("KEFU_WECHAT_ATTEMPTS")? {
            config.attempts = attempts.clamp(1, 20) as u32;
        }
        if let Some(ms) = number("KEFU_WECHAT_BACKOFF_MS")? {
            config.backoff = Duration::from_millis(ms);
        }
        Ok(config)
    }
}

/// The account's AppID and AppSecret. `Debug` shows neither.
#[derive(Clone)]
pub struct Credentials {
    appid: String,
    secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials([redacted])")
    }
}

impl Credentials {
    pub fn new(appid: impl Into<String>, secret: impl Into<String>) -> Credentials {
        Credentials {
            appid: appid.into(),
            secret: secret.into(),
        }
    }

    /// `KEFU_WECHAT_APPID` and `KEFU_WECHAT_SECRET`, or a usage error saying where to
    /// find them.
    pub fn from_env() -> Result<Credentials> {
        let get = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|value| !value.trim().is_empty())
        };
        match (get("KEFU_WECHAT_APPID"), get("KEFU_WECHAT_SECRET")) {
            (Some(appid), Some(secret)) => Ok(Credentials::new(appid.trim(), secret.trim())),
            _ => Err(UsageError::Invalid(
                "set KEFU_WECHAT_APPID and KEFU_WECHAT_SECRET to the account's AppID and \
                 AppSecret (公众号 admin: 设置与开发 → 基本配置); see the README, \"WeChat credentials\""
                    .into(),
            )
            .into()),
        }
    }
}

/// A blocking client: kefu's API work is one call after another. It drives async
/// reqwest on a small runtime of its own, because reqwest's `blocking` feature would
/// change features shared with polars and rebuild it.
pub struct Client {
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
    config: ClientConfig,
    credentials: Credentials,
    cache: TokenCache,
    token: Mutex<Option<CachedToken>>,
}

impl Client {
    /// A client whose token cache lives in `state_dir` (the dataset's `wechat/`).
    pub fn new(config: ClientConfig, credentials: Credentials, state_dir: &Path) -> Result<Client> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the HTTP client's runtime")?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("kefu/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        let cache = TokenCache::in_folder(state_dir);
        let token = Mutex::new(cache.load());
        Ok(Client {
            http,
            runtime,
            config,
            credentials,
            cache,
            token,
        })
    }

    /// POSTs a JSON body to `api` (a path such as `cgi-bin/tags/create`) and decodes the
    /// success answer.
    pub fn post<T: DeserializeOwned>(&self, api: &str, body: &Value) -> Result<T, ApiError> {
        decode(api, self.call(api, Some(body))?)
    }

    /// GETs `api` (for the endpoints WeChat documents as GET, such as `tags/get`).
    pub fn get<T: DeserializeOwned>(&self, api: &str) -> Result<T, ApiError> {
        decode(api, self.call(api, None)?)
    }

    fn call(&self, api: &str, body: Option<&Value>) -> Result<Value, ApiError> {
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = self.access_token()?;
            let url = format!("{}/{api}?access_token={}", self.config.api_base, token);
            tracing::debug!("calling {api} (attempt {attempt})");
            let request = match body {
                Some(body) => self.http.post(&url).json(body),
                None => self.http.get(&url),
            };
            let outcome = self.exchange(request);
            let failure = match outcome {
                Ok(answer) => match errcode(&answer) {
                    0 => return Ok(answer),
                    errcode if code::is_token_error(errcode) && !refreshed => {
                        tracing::info!(
                            "{api}: token rejected (errcode {errcode}); fetching a new one"
                        );
                        self.forget_token(&token);
                        refreshed = true;
                        attempt -= 1;
                        continue;
                    }
                    code::DAILY_QUOTA => {
                        return Err(ApiError::DailyQuota {
                            api: api.to_owned(),
                            until_reset: until_beijing_midnight(),
                        })
                    }
                    errcode if code::is_transient(errcode) => {
                        format!("errcode {errcode}: {}", errmsg(&answer))
                    }
                    errcode => {
                        return Err(ApiError::Api {
                            api: api.to_owned(),
                            errcode,
                            errmsg: errmsg(&answer),
                        })
                    }
                },
                Err(Exchange::Transient(reason)) => reason,
                Err(Exchange::Malformed(reason)) => {
                    return Err(ApiError::Malformed {
                        api: api.to_owned(),
                        reason,
                    })
                }
            };
            self.retry_or_give_up(api, attempt, failure)?;
        }
    }

    /// After failed try number `attempt`: the error once the attempts are spent, else
    /// a pause that doubles with each try.
    fn retry_or_give_up(&self, api: &str, attempt: u32, failure: String) -> Result<(), ApiError> {
        if attempt >= self.config.attempts {
            return Err(ApiError::GaveUp {
                api: api.to_owned(),
                attempts: attempt,
                last: failure,
            });
        }
        let wait = self.config.backoff * 2u32.saturating_pow(attempt.saturating_sub(1)).min(64);
        tracing::warn!("{api}: {failure}; retrying in {:.1}s", wait.as_secs_f64());
        std::thread::sleep(wait);
        Ok(())
    }

    /// One HTTP exchange: the JSON answer, or why not. Network errors lose their URL
    /// here, before anything can print them.
    fn exchange(&self, request: reqwest::RequestBuilder) -> Result<Value, Exchange> {
        self.runtime.block_on(async {
            let response = request
                .send()
                .await
                .map_err(|err| Exchange::Transient(describe(err)))?;
            let status = response.status();
            if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                return Err(Exchange::Transient(format!("HTTP {status}")));
            }
            if !status.is_success() {
                return Err(Exchange::Malformed(format!("HTTP {status}")));
            }
            let bytes = response
                .bytes()
                .await
                .map_err(|err| Exchange::Transient(describe(err)))?;
            serde_json::from_slice(&bytes)
                .map_err(|err| Exchange::Malformed(format!("not JSON: {err}")))
        })
    }

    /// The cached token while it is good, else a new one (stored for the next run).
    fn access_token(&self) -> Result<String, ApiError> {
        let now_ms = Utc::now().timestamp_millis();
        let mut held = self
            .token
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(token) = held.as_ref() {
            if token.usable(&self.credentials.appid, self.config.token_api, now_ms) {
                return Ok(token.access_token.clone());
            }
        }
        let token = self.fetch_token(now_ms)?;
        if let Err(err) = self.cache.store(&token) {
            tracing::warn!("could not cache the access token: {err:#}");
        }
        let access = token.access_token.clone();
        *held = Some(token);
        Ok(access)
    }

    fn forget_token(&self, rejected: &str) {
        let mut held = self
            .token
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if held
            .as_ref()
            .is_some_and(|token| token.access_token == rejected)
        {
            *held = None;
            if let Err(err) = self.cache.clear() {
                tracing::warn!("could not clear the token cache: {err:#}");
            }
        }
    }

    fn fetch_token(&self, now_ms: i64) -> Result<CachedToken, ApiError> {
        let api = self.config.token_api.path();
        let url = format!("{}/{api}", self.config.api_base);
        let Credentials { appid, secret } = &self.credentials;
        let mut attempt = 0;
        loop {
            attempt += 1;
            tracing::debug!("fetching an access token from {api} (attempt {attempt})");
            let request = match self.config.token_api {
                TokenApi::Stable => self.http.post(&url).json(&serde_json::json!({
                    "grant_type": "client_credential",
                    "appid": appid,
                    "secret": secret,
                    "force_refresh": false,
                })),
                TokenApi::Classic => self.http.get(&url).query(&[
                    ("grant_type", "client_credential"),
                    ("appid", appid.as_str()),
                    ("secret", secret.as_str()),
                ]),
            };
            let failure = match self.exchange(request) {
                Ok(answer) => {
                    let errcode = errcode(&answer);
                    if errcode == 0 {
                        let access = answer.get("access_token").and_then(Value::as_str);
                        let expires = answer.get("expires_in").and_then(Value::as_i64);
                        return match (access, expires) {
                            (Some(access), Some(expires)) => Ok(CachedToken::new(
                                appid,
                                self.config.token_api,
                                access.to_owned(),
                                expires,
                                now_ms,
                            )),
                            _ => Err(ApiError::Malformed {
                                api: api.to_owned(),
                                reason: "no access_token or expires_in".into(),
                            }),
                        };
                    }
                    if !code::is_transient(errcode) {
                        return Err(ApiError::Token {
                            errcode,
                            errmsg: scrub(&errmsg(&answer), &self.credentials),
                            hint: token_hint(errcode),
                        });
                    }
                    format!("errcode {errcode}")
                }
                Err(Exchange::Transient(reason)) => reason,
                Err(Exchange::Malformed(reason)) => {
                    return Err(ApiError::Malformed {
                        api: api.to_owned(),
                        reason,
                    })
                }
            };
            self.retry_or_give_up(api, attempt, failure)?;
        }
    }
}

enum Exchange {
    /// Worth another try: a timeout, a dropped connection, a 5xx.
    Transient(String),
    Malformed(String),
}

fn describe(err: reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "network error"
    };
    // `without_url` drops the URL, which holds the access token (and, for
    // cgi-bin/token, the secret); the source chain below it names no URL.
    let err = err.without_url();
    let mut text = format!("{kind}: {err}");
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// WeChat sometimes echoes request fields in `errmsg`; never let the secret through.
fn scrub(text: &str, credentials: &Credentials) -> String {
    let mut text = text.replace(&credentials.secret, "[secret]");
    if !credentials.appid.is_empty() {
        text = text.replace(&credentials.appid, "[appid]");
    }
    text
}

fn decode<T: DeserializeOwned>(api: &str, value: Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|err| ApiError::Malformed {
        api: api.to_owned(),
        reason: err.to_string(),
    })
}

fn errcode(answer: &Value) -> i64 {
    answer.get("errcode").and_then(Value::as_i64).unwrap_or(0)
}

fn errmsg(answer: &Value) -> String {
    answer
        .get("errmsg")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

/// WeChat's daily quotas reset at midnight Beijing time.
fn until_beijing_midnight() -> Duration {
    let now = Utc::now().with_timezone(&chrono_tz::Asia::Shanghai);
    let tomorrow = now.date_naive() + chrono::Duration::days(1);
    let midnight = chrono_tz::Asia::Shanghai
        .from_local_datetime(&tomorrow.and_hms_opt(0, 0, 0).expect("midnight exists"))
        .single()
        .expect("Shanghai has no DST");
    (midnight - now).to_std().unwrap_or_default()
}
