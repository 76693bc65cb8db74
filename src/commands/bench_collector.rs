//! `kefu bench --collector`: callbacks per second and latency percentiles of the real
//! HTTP server on loopback, in safe mode with the write-ahead log's fsync on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};

use crate::cli::BenchArgs;
use crate::collector::config::CollectorConfig;
use crate::collector::crypto::{self, AesKey};
use crate::collector::server::Collector;
use crate::store::Dataset;

const TOKEN: &str = "bench-token";
const APPID: &str = "wx5823bf96d3bd56c7";
const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";

/// A safe-mode request for one user text message, as WeChat would send it.
fn request(key: &AesKey, msg_id: u64, timestamp: &str) -> (String, String) {
    let xml = format!(
        "<xml><ToUserName><![CDATA[gh_7a3c9e51d2f0]]></ToUserName>\n<FromUserName><![CDATA[oQ3kTq8Zr2mNcX1bVyH4s{:07}]]></FromUserName>\n<CreateTime>{timestamp}</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[你好，我的订单{msg_id}怎么还没发货？能帮我查一下物流吗]]></Content>\n<MsgId>{msg_id}</MsgId>\n</xml>",
        msg_id % 10_000_000
    );
    let encrypted = crypto::encrypt_with_fresh_random(key, &xml, APPID);
    let nonce = (msg_id % 1_000_000_007).to_string();
    let signature = crypto::signature(&[TOKEN, timestamp, &nonce]);
    let msg_signature = crypto::signature(&[TOKEN, timestamp, &nonce, &encrypted]);
    let query = format!(
        "signature={signature}&timestamp={timestamp}&nonce={nonce}&openid=o{msg_id}&encrypt_type=aes&msg_signature={msg_signature}"
    );
    let body = format!(
        "<xml>\n    <ToUserName><![CDATA[gh_7a3c9e51d2f0]]></ToUserName>\n    <Encrypt><![CDATA[{encrypted}]]></Encrypt>\n</xml>"
    );
    (query, body)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

pub fn run(args: &BenchArgs) -> Result<()> {
    let scratch = match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            tempfile::tempdir_in(dir)?
        }
        None => tempfile::tempdir()?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let config = CollectorConfig::parse(
            &format!(
                "listen = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\nappid = \"{APPID}\"\nencoding_aes_key = \"{KEY}\"\nroll_interval_s = 5\n"
            ),
            |_| None,
        )?;
        let data = scratch.path().join("data");
        let collector = Collector::start(&config, data.clone()).await?;
        let address = collector.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(collector.run(async {
            let _ = stopped.await;
        }));

        let key = AesKey::from_encoding_aes_key(KEY)?;
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let requests: Arc<Vec<(String, String)>> = Arc::new(
            (0..args.requests)
                .map(|i| request(&key, 7_000_000_000_000_000_000 + i, &timestamp))
                .collect(),
        );
        eprintln!(
            "kefu bench --collector: {} safe-mode callbacks, {} in flight, fsync'd log, server on {address}",
            args.requests, args.concurrency
        );
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(args.concurrency)
            .build()?;
        let next = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..args.concurrency.max(1) {
            let (client, requests, next, failures) =
                (client.clone(), requests.clone(), next.clone(), failures.clone());
            workers.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some((query, body)) = requests.get(i) else {
                        return latencies;
                    };
                    let sent = Instant::now();
                    let ok = match client
                        .post(format!("http://{address}/wechat?{query}"))
                        .body(body.clone())
                        .send()
                        .await
                    {
                        Ok(response) => response.status().is_success(),
                        Err(_) => false,
                    };
                    latencies.push(sent.elapsed());
                    if !ok {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        let mut latencies = Vec::with_capacity(requests.len());
        for worker in workers {
            latencies.extend(worker.await?);
        }
        let seconds = started.elapsed().as_secs_f64();
        latencies.sort();
        let flush_started = Instant::now();
        let _ = stop.send(());
        server.await??;
        let flush_s = flush_started.elapsed().as_secs_f64();
        let stored = Dataset::open(&data)?.table_stats("events")?.rows;

        println!("{:<36} {:>12}", "callbacks sent", requests.len());
        println!("{:<36} {:>12}", "failed (non-200)", failures.load(Ordering::Relaxed));
        println!("{:<36} {:>12.0}", "callbacks/s", requests.len() as f64 / seconds);
        println!("{:<36} {:>12.2}", "latency p50 ms", percentile(&latencies, 0.50));
        println!("{:<36} {:>12.2}", "latency p99 ms", percentile(&latencies, 0.99));
        println!("{:<36} {:>12.2}", "latency max ms", percentile(&latencies, 1.0));
        println!("{:<36} {:>12.2}", "shutdown flush to Parquet s", flush_s);
        println!("{:<36} {:>12}", "rows in Parquet after shutdown", stored);
        anyhow::ensure!(
            stored == requests.len() as u64,
            "{} callbacks acknowledged but {stored} stored",
            requests.len()
        );
        Ok(())
    })
}
