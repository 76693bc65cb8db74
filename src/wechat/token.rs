//! The access token: fetched from `stable_token` (or `cgi-bin/token` when configured),
//! cached on disk with its expiry so that a nightly cron reuses one token all day
//! instead of spending the token API's daily quota (2,000 calls for `cgi-bin/token`).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Which token endpoint to use (`KEFU_WECHAT_TOKEN_API`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenApi {
    /// `cgi-bin/stable_token` in normal mode: the same token for every caller until it
    /// nears expiry, so kefu never invalidates the token another system of the account
    /// uses. The default.
    Stable,
    /// `cgi-bin/token`: every call issues a new token and invalidates the old one after
    /// five minutes, so use it only where the account has no other token user.
    Classic,
}

impl TokenApi {
    pub fn path(self) -> &'static str {
        match self {
            TokenApi::Stable => "cgi-bin/stable_token",
            TokenApi::Classic => "cgi-bin/token",
        }
    }

    /// How long before WeChat's expiry kefu stops using a token. `stable_token` hands
    /// out a renewed token in its last 5 minutes; a `cgi-bin/token` token may be
    /// replaced by another caller at any time, so it is trusted for less (the margins
    /// wechat-spec.md §6.3 reports from the SDKs).
    pub fn safety_margin_ms(self) -> i64 {
        match self {
            TokenApi::Stable => 300_000,
            TokenApi::Classic => 1_500_000,
        }
    }
}

/// A token and when kefu stops using it (epoch ms). Never printed: `Debug` hides it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedToken {
    /// A short hash of the appid, so a cache written for one account is never used
    /// for another (and the appid itself is not written).
    pub account_key: String,
    pub api: TokenApi,
    pub access_token: String,
    pub use_until_ms: i64,
}

impl std::fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedToken")
            .field("account_key", &self.account_key)
            .field("api", &self.api)
            .field("access_token", &"[redacted]")
            .field("use_until_ms", &self.use_until_ms)
            .finish()
    }
}

impl CachedToken {
    pub fn new(
        appid: &str,
        api: TokenApi,
        access_token: String,
        expires_in_s: i64,
        now_ms: i64,
    ) -> CachedToken {
        CachedToken {
            account_key: account_key(appid),
            api,
            access_token,
            use_until_ms: now_ms + expires_in_s * 1000 - api.safety_margin_ms(),
        }
    }

    pub fn usable(&self, appid: &str, api: TokenApi, now_ms: i64) -> bool {
        self.account_key == account_key(appid) && self.api == api && now_ms < self.use_until_ms
    }
}

fn account_key(appid: &str) -> String {
    hex::encode(&Sha256::digest(appid.as_bytes())[..8])
}

/// The cache file: `data/wechat/token.json`, readable by its owner only.
#[derive(Debug, Clone)]
pub struct TokenCache {
    path: PathBuf,
}

impl TokenCache {
    pub fn in_folder(folder: &Path) -> TokenCache {
        TokenCache {
            path: folder.join("token.json"),
        }
    }

    /// The cached token, if the file holds a readable one. A damaged file is no cache.
    pub fn load(&self) -> Option<CachedToken> {
        let text = fs::read_to_string(&self.path).ok()?;
        serde_json::from_str(&text).ok()
    }

    pub fn store(&self, token: &CachedToken) -> Result<()> {
        let folder = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
        let staging = self.path.with_extension("json.tmp");
        let mut file = owner_only(&staging)?;
        file.write_all(&serde_json::to_vec(token)?)
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing {}", staging.display()))?;
        fs::rename(&staging, &self.path)
            .with_context(|| format!("renaming {} into place", staging.display()))
    }

    /// Forgets the cached token (WeChat said it is no longer valid).
    pub fn clear(&self) -> Result<()> {
        match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(err).with_context(|| format!("removing {}", self.path.display())),
        }
    }
}

fn owner_only(path: &Path) -> Result<fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_used_until_its_margin_and_only_for_its_account() {
        let token = CachedToken::new("wx1", TokenApi::Stable, "T".into(), 7200, 0);
        assert!(token.usable("wx1", TokenApi::Stable, 6_899_999));
        assert!(!token.usable("wx1", TokenApi::Stable, 6_900_000));
        assert!(!token.usable("wx2", TokenApi::Stable, 0));
        assert!(!token.usable("wx1", TokenApi::Classic, 0));
    }

    #[test]
    fn the_cache_round_trips_and_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = TokenCache::in_folder(dir.path());
        assert!(cache.load().is_none());
        let token = CachedToken::new("wx1", TokenApi::Stable, "T".into(), 7200, 1000);
        cache.store(&token).unwrap();
        assert_eq!(cache.load(), Some(token.clone()));
        let mode = fs::metadata(dir.path().join("token.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the cache must not be readable by others");
        assert!(!format!("{token:?}").contains("\"T\""));
        cache.clear().unwrap();
        assert!(cache.load().is_none());
    }
}
