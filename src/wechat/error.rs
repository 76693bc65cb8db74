//! What a WeChat call can end in, by what the caller does about it: the client itself
//! handles token errors and transient ones; what reaches a caller is one of these.

use std::time::Duration;

/// WeChat's `errcode`s that kefu treats specially (wechat-spec.md §9).
pub mod code {
    pub const SYSTEM_BUSY: i64 = -1;
    pub const INVALID_CREDENTIAL: i64 = 40001;
    pub const INVALID_OPENID: i64 = 40003;
    pub const INVALID_TOKEN: i64 = 40014;
    pub const OPENID_LIST_LENGTH: i64 = 40032;
    pub const TOKEN_EXPIRED: i64 = 42001;
    pub const DAILY_QUOTA: i64 = 45009;
    pub const MINUTE_QUOTA: i64 = 45011;
    pub const TOO_MANY_TAGS: i64 = 45056;
    pub const USER_TAG_LIMIT: i64 = 45059;
    pub const TAG_NAME_TAKEN: i64 = 45157;
    pub const TAG_NAME_TOO_LONG: i64 = 45158;
    pub const OPENID_OF_OTHER_APP: i64 = 49003;

    /// The token was wrong or replaced: fetch a new one and try the call once more.
    pub fn is_token_error(errcode: i64) -> bool {
        matches!(errcode, INVALID_CREDENTIAL | INVALID_TOKEN | TOKEN_EXPIRED)
    }

    /// WeChat asks to try again later: back off and retry.
    pub fn is_transient(errcode: i64) -> bool {
        matches!(errcode, SYSTEM_BUSY | MINUTE_QUOTA)
    }
}

/// A failed call, after the client's own retries.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The daily quota of an API is spent (45009): nothing helps before it resets.
    #[error(
        "WeChat's daily quota for {api} is used up (errcode 45009); it resets at midnight \
         Beijing time, in about {}: run the same command again then (what succeeded is not \
         repeated), or reset the quota in the 公众号 admin console (接口权限 → 调用次数清零)",
        hours_minutes(*until_reset)
    )]
    DailyQuota { api: String, until_reset: Duration },
    /// WeChat kept saying "busy" or "too frequent", or the network kept failing.
    #[error("{api} still failing after {attempts} attempts: {last}; try again in a few minutes")]
    GaveUp {
        api: String,
        attempts: u32,
        last: String,
    },
    /// Any other errcode: the caller decides (a bad openid in a batch, a taken name…).
    #[error("{api} answered errcode {errcode}: {errmsg}")]
    Api {
        api: String,
        errcode: i64,
        errmsg: String,
    },
    /// The access token could not be had: wrong appid or secret, IP not whitelisted…
    #[error("could not get an access token: errcode {errcode}: {errmsg}{hint}")]
    Token {
        errcode: i64,
        errmsg: String,
        hint: &'static str,
    },
    #[error("{api} answered something that is not its documented JSON: {reason}")]
    Malformed { api: String, reason: String },
}

impl ApiError {
    /// The errcode WeChat gave, when it gave one.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            ApiError::Api { errcode, .. } | ApiError::Token { errcode, .. } => Some(*errcode),
            ApiError::DailyQuota { .. } => Some(code::DAILY_QUOTA),
            _ => None,
        }
    }
}

/// What an operator can do about a token error, for the message.
pub fn token_hint(errcode: i64) -> &'static str {
    match errcode {
        40001 | 40125 => " (check KEFU_WECHAT_SECRET: it is the AppSecret of this account)",
        40013 => " (check KEFU_WECHAT_APPID: the account's AppID, wx…)",
        40164 => " (add this machine's IP to the account's API IP whitelist)",
        45009 => " (the token API's daily quota is used up; it resets at midnight Beijing time)",
        _ => "",
    }
}

fn hours_minutes(duration: Duration) -> String {
    let minutes = duration.as_secs().div_ceil(60);
    format!("{}h {:02}m", minutes / 60, minutes % 60)
}
