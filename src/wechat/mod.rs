//! The WeChat API client shared by `kefu pull` (chat records in) and `kefu tags push`
//! (tags out). Settings come from the environment (DESIGN.md): `KEFU_WECHAT_APPID`,
//! `KEFU_WECHAT_SECRET`, `KEFU_WECHAT_API_BASE`, plus the tuning knobs of
//! [`ClientConfig`].

pub mod api;
mod client;
pub mod error;
mod token;

pub use client::{Client, ClientConfig, Credentials};
pub use error::ApiError;
pub use token::{CachedToken, TokenApi, TokenCache};

/// The folder of a dataset where the client keeps its state: the token cache and the
/// pull's progress.
pub fn state_dir(dataset: &crate::store::Dataset) -> std::path::PathBuf {
    dataset.root().join("wechat")
}

/// A client from the environment, its token cache in the dataset.
pub fn client_from_env(dataset: &crate::store::Dataset) -> anyhow::Result<Client> {
    Client::new(
        ClientConfig::from_env()?,
        Credentials::from_env()?,
        &state_dir(dataset),
    )
}
