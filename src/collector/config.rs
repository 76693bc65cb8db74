//! `collector.toml`: the keys of DESIGN.md's collector config, with the secrets that may
//! come from the environment instead, and a `Debug` that never prints them.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::error::UsageError;

/// One collector: one 公众号 server URL.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorConfig {
    /// Address to bind. Default `127.0.0.1:8080`: put a TLS-terminating proxy on :443 in
    /// front, since WeChat only calls ports 80 and 443.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The URL path WeChat calls, as set in the 公众号 admin. Default `/wechat`.
    #[serde(default = "default_path")]
    pub path: String,
    /// The data root, relative to the config file. Default `data`; `--data` overrides.
    #[serde(default = "default_data")]
    pub data: PathBuf,
    /// The Token of the 公众号 admin (or env `KEFU_TOKEN`). Required.
    #[serde(default)]
    pub token: Option<String>,
    /// The AppID, checked inside every decrypted message (or env `KEFU_WECHAT_APPID`).
    /// Required when `encoding_aes_key` is set.
    #[serde(default)]
    pub appid: Option<String>,
    /// The 43-character EncodingAESKey (or env `KEFU_AES_KEY`). Present: safe and
    /// compatible mode are accepted; absent: plaintext only.
    #[serde(default)]
    pub encoding_aes_key: Option<String>,
    /// The key before a rotation, tried when the current one fails, so messages WeChat
    /// encrypted with the old key during the switch are not lost.
    #[serde(default)]
    pub previous_encoding_aes_key: Option<String>,
    /// Optional: forward every verified request, untouched, to an existing
    /// customer-service system and answer WeChat with its response.
    #[serde(default)]
    pub upstream: Option<String>,
    /// How long to wait for the upstream before answering WeChat `success` ourselves.
    /// Default 3000 ms, inside WeChat's 5 s.
    #[serde(default = "default_upstream_timeout_ms")]
    pub upstream_timeout_ms: u64,
    /// A request whose `timestamp` is further than this from now is refused as a replay.
    /// Default 300 s; WeChat's retries come within 15 s.
    #[serde(default = "default_replay_window_s")]
    pub replay_window_s: u64,
    /// Largest accepted request body. Default 64 KiB; a safe-mode text message is ≈ 1 KiB.
    #[serde(default = "default_body_limit_bytes")]
    pub body_limit_bytes: usize,
    /// Move the write-ahead log into Parquet at least this often. Default 60 s.
    #[serde(default = "default_roll_interval_s")]
    pub roll_interval_s: u64,
    /// ... or as soon as this many events wait in the log. Default 50,000.
    #[serde(default = "default_roll_max_events")]
    pub roll_max_events: u64,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}
fn default_path() -> String {
    "/wechat".into()
}
fn default_data() -> PathBuf {
    PathBuf::from("data")
}
fn default_upstream_timeout_ms() -> u64 {
    3000
}
fn default_replay_window_s() -> u64 {
    300
}
fn default_body_limit_bytes() -> usize {
    64 * 1024
}
fn default_roll_interval_s() -> u64 {
    60
}
fn default_roll_max_events() -> u64 {
    50_000
}

impl fmt::Debug for CollectorConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |secret: &Option<String>| secret.as_ref().map(|_| "<redacted>");
        f.debug_struct("CollectorConfig")
            .field("listen", &self.listen)
            .field("path", &self.path)
            .field("data", &self.data)
            .field("token", &redact(&self.token))
            .field("appid", &self.appid)
            .field("encoding_aes_key", &redact(&self.encoding_aes_key))
            .field(
                "previous_encoding_aes_key",
                &redact(&self.previous_encoding_aes_key),
            )
            .field("upstream", &self.upstream)
            .field("upstream_timeout_ms", &self.upstream_timeout_ms)
            .field("replay_window_s", &self.replay_window_s)
            .field("body_limit_bytes", &self.body_limit_bytes)
            .field("roll_interval_s", &self.roll_interval_s)
            .field("roll_max_events", &self.roll_max_events)
            .finish()
    }
}

impl CollectorConfig {
    /// Parses a config text; `env` looks up environment variables (a parameter so tests
    /// do not touch the process environment).
    pub fn parse(text: &str, env: impl Fn(&str) -> Option<String>) -> Result<CollectorConfig> {
        let mut config: CollectorConfig =
            toml::from_str(text).map_err(|err| UsageError::Invalid(err.to_string()))?;
        let from_env = |name: &str| env(name).filter(|value| !value.is_empty());
        if let Some(token) = from_env("KEFU_TOKEN") {
            config.token = Some(token);
        }
        if let Some(key) = from_env("KEFU_AES_KEY") {
            config.encoding_aes_key = Some(key);
        }
        if let Some(appid) = from_env("KEFU_WECHAT_APPID") {
            config.appid = Some(appid);
        }
        config.validate()?;
        Ok(config)
    }

    /// Reads the file, resolves `data` against its folder, and warns when a file that
    /// holds secrets is readable by others.
    pub fn load(path: &Path) -> Result<CollectorConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the collector config {}", path.display()))?;
        let mut config = CollectorConfig::parse(&text, |name| std::env::var(name).ok())
            .with_context(|| format!("in the collector config {}", path.display()))?;
        if config.data.is_relative() {
            let base = path.parent().unwrap_or(Path::new("."));
            config.data = base.join(&config.data);
        }
        if holds_secrets(&text) && readable_by_others(path) {
            tracing::warn!(
                "{} holds secrets and is readable by other users: run `chmod 600 {}` or move the secrets to KEFU_TOKEN / KEFU_AES_KEY",
                path.display(),
                path.display()
            );
        }
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        let invalid = |message: String| Err(UsageError::Invalid(message).into());
        if self.token.as_deref().is_none_or(str::is_empty) {
            return invalid(
                "no token: set `token` or KEFU_TOKEN to the Token of the 公众号 admin".into(),
            );
        }
        if !self.path.starts_with('/') {
            return invalid(format!("path {:?} must start with /", self.path));
        }
        for (name, key) in [
            ("encoding_aes_key", &self.encoding_aes_key),
            ("previous_encoding_aes_key", &self.previous_encoding_aes_key),
        ] {
            if let Some(key) = key {
                if key.len() != 43 || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return invalid(format!(
                        "{name} must be the 43 letters and digits of the 公众号 admin's EncodingAESKey (got {} characters)",
                        key.chars().count()
                    ));
                }
            }
        }
        if self.encoding_aes_key.is_some() && self.appid.as_deref().is_none_or(str::is_empty) {
            return invalid("encoding_aes_key is set but appid is not: decrypted messages are checked against it".into());
        }
        if self.previous_encoding_aes_key.is_some() && self.encoding_aes_key.is_none() {
            return invalid("previous_encoding_aes_key needs encoding_aes_key".into());
        }
        if let Some(upstream) = &self.upstream {
            if !(upstream.starts_with("http://") || upstream.starts_with("https://")) {
                return invalid(format!(
                    "upstream {upstream:?} must be an http:// or https:// URL"
                ));
            }
        }
        if self.roll_interval_s == 0 || self.roll_max_events == 0 {
            return invalid("roll_interval_s and roll_max_events must be at least 1".into());
        }
        Ok(())
    }
}

fn holds_secrets(text: &str) -> bool {
    text.lines().any(|line| {
        let key = line.split('=').next().unwrap_or("").trim();
        matches!(
            key,
            "token" | "encoding_aes_key" | "previous_encoding_aes_key"
        )
    })
}

fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o077 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_fill_what_the_file_leaves_out() {
        let config = CollectorConfig::parse("token = \"t\"", no_env).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.path, "/wechat");
        assert_eq!(config.replay_window_s, 300);
        assert!(config.encoding_aes_key.is_none());
    }

    #[test]
    fn secrets_may_come_from_the_environment_and_never_reach_debug_output() {
        let env = |name: &str| match name {
            "KEFU_TOKEN" => Some("env-token".to_string()),
            "KEFU_AES_KEY" => Some(KEY.to_string()),
            _ => None,
        };
        let config = CollectorConfig::parse("appid = \"wx1234\"", env).unwrap();
        assert_eq!(config.token.as_deref(), Some("env-token"));
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("env-token") && !shown.contains(KEY),
            "{shown}"
        );
        assert!(shown.contains("wx1234"));
    }

    #[test]
    fn mistakes_are_usage_errors_that_say_what_to_fix() {
        let cases = [
            ("", "no token"),
            ("token = \"t\"\nencoding_aes_key = \"short\"", "43 letters"),
            (
                &format!("token = \"t\"\nencoding_aes_key = \"{KEY}\""),
                "appid",
            ),
            ("token = \"t\"\nupstream = \"ftp://x\"", "http"),
            ("token = \"t\"\nlisten_on = \"x\"", "unknown field"),
        ];
        for (text, expected) in cases {
            let err = CollectorConfig::parse(text, no_env).unwrap_err();
            assert!(
                err.downcast_ref::<UsageError>().is_some(),
                "{text}: {err:#}"
            );
            assert!(format!("{err:#}").contains(expected), "{text}: {err:#}");
        }
    }
}
