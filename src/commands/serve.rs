//! `kefu serve --config collector.toml`

use std::path::Path;

use anyhow::{Context as _, Result};

use crate::cli::ServeArgs;
use crate::collector::config::CollectorConfig;
use crate::collector::server::{shutdown_signal, Collector};

/// `data` is the `--data` flag or `KEFU_DATA`, which win over the config file's `data`.
pub fn run(data: Option<&Path>, args: &ServeArgs) -> Result<()> {
    let config = CollectorConfig::load(&args.config)?;
    let data = data.map_or_else(|| config.data.clone(), Path::to_path_buf);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("kefu-serve")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let shutdown = shutdown_signal()?;
        let collector = Collector::start(&config, data.clone()).await?;
        let address = collector.local_addr()?;
        let mode = if config.encoding_aes_key.is_some() {
            "plaintext, compatible and safe mode"
        } else {
            "plaintext mode"
        };
        // The first stdout line names the address, so a script (or a test) that asked
        // for port 0 learns the real one.
        println!(
            "listening on http://{address}{} ({mode}); data in {}",
            config.path,
            data.display()
        );
        collector.run(shutdown).await
    })
}
