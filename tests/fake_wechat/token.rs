//! access_token (§6): `cgi-bin/token` issues a new token per call and keeps only the
//! previous one alive; `stable_token` hands out the same token while it is valid. The
//! two pools are isolated.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::account::{Account, Outcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pool {
    Classic,
    Stable,
}

pub struct Token {
    pub pool: Pool,
    pub expires_at: Instant,
    /// Superseded or force-refreshed away: answers 40001.
    pub revoked: bool,
    /// `expire_tokens()`: answers 42001.
    pub expired: bool,
}

pub fn is_token_path(path: &str) -> bool {
    path == "/cgi-bin/token" || path == "/cgi-bin/stable_token"
}

impl Account {
    /// 41001 missing, 40001 unknown or superseded, 42001 expired.
    pub fn check_token(&self, token: Option<&str>) -> Result<(), i64> {
        let token = token.filter(|t| !t.is_empty()).ok_or(41001)?;
        let token = self.tokens.get(token).ok_or(40001)?;
        if token.expired || token.expires_at <= self.now() {
            Err(42001)
        } else if token.revoked {
            Err(40001)
        } else {
            Ok(())
        }
    }

    pub fn expire_tokens(&mut self) {
        for token in self.tokens.values_mut() {
            token.expired = true;
        }
    }

    fn credentials(
        &self,
        grant_type: Option<&str>,
        appid: Option<&str>,
        secret: Option<&str>,
    ) -> Result<(), i64> {
        if grant_type != Some("client_credential") {
            return Err(40002);
        }
        match appid {
            None | Some("") => return Err(41002),
            Some(appid) if appid != self.config.appid => return Err(40013),
            Some(_) => {}
        }
        match secret {
            None | Some("") => Err(41004),
            Some(secret) if secret != self.config.secret => Err(self.config.wrong_secret_errcode),
            Some(_) => Ok(()),
        }
    }

    /// A token looking like WeChat's: ~150 characters of `[A-Za-z0-9_]`.
    fn issue(&mut self, pool: Pool) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";
        let mut token = format!("{}_", self.tokens.len() + 1);
        while token.len() < 150 {
            let r = self.random();
            for k in 0..10 {
                token.push(ALPHABET[((r >> (6 * k)) & 63) as usize % ALPHABET.len()] as char);
            }
        }
        let expires_at = self.now() + Duration::from_secs(self.config.token_expires_in);
        self.tokens.insert(
            token.clone(),
            Token {
                pool,
                expires_at,
                revoked: false,
                expired: false,
            },
        );
        token
    }

    /// `GET cgi-bin/token?grant_type=client_credential&appid=&secret=`.
    pub fn classic_token(&mut self, query: &HashMap<String, String>) -> Outcome {
        let get = |name: &str| query.get(name).map(String::as_str);
        self.credentials(get("grant_type"), get("appid"), get("secret"))?;
        let token = self.issue(Pool::Classic);
        self.classic.push(token.clone());
        // The one before stays valid (the 5-minute overlap, kept simple); older ones die.
        if self.classic.len() >= 3 {
            let dead = self.classic[self.classic.len() - 3].clone();
            if let Some(dead) = self.tokens.get_mut(&dead) {
                dead.revoked = true;
            }
        }
        Ok(json!({"access_token": token, "expires_in": self.config.token_expires_in}))
    }

    /// `POST cgi-bin/stable_token {grant_type, appid, secret, force_refresh}`.
    pub fn stable_token(&mut self, body: &Value) -> Outcome {
        let get = |name: &str| body.get(name).and_then(Value::as_str);
        self.credentials(get("grant_type"), get("appid"), get("secret"))?;
        let force = body
            .get("force_refresh")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        // WeChat renews 5 minutes before expiry, so a caller always gets >= 300 s; with a
        // test lifetime under 10 minutes the token is simply kept until it expires.
        let margin = Duration::from_secs(if self.config.token_expires_in >= 600 {
            300
        } else {
            0
        });
        if !force {
            if let Some(current) = self.stable.clone() {
                let token = &self.tokens[&current];
                let now = self.now();
                if !token.expired && !token.revoked && token.expires_at > now + margin {
                    // Whole seconds, rounded up: a valid token never says 0.
                    let remaining = (token.expires_at - now).as_millis().div_ceil(1000) as u64;
                    return Ok(json!({"access_token": current, "expires_in": remaining}));
                }
            }
        } else {
            // force_refresh invalidates the previous token(s) at once.
            for token in self.tokens.values_mut().filter(|t| t.pool == Pool::Stable) {
                token.revoked = true;
            }
        }
        // A renewal leaves the old token valid until its own expiry (the handover).
        let token = self.issue(Pool::Stable);
        self.stable = Some(token.clone());
        Ok(json!({"access_token": token, "expires_in": self.config.token_expires_in}))
    }
}
