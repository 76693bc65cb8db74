//! The callback collector end to end: the real HTTP server in plaintext, compatible and
//! safe mode with every fixture payload, bad input, key rotation, tee mode, and a
//! SIGKILL in the middle of a load that must lose no acknowledged event.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use kefu::collector::config::CollectorConfig;
use kefu::collector::crypto::{self, AesKey};
use kefu::collector::server::Collector;
use kefu::model::{Event, Source};
use kefu::store::{read_quarantine, Dataset};

use crate::common::{date, fixtures, kefu_binary};

const TOKEN: &str = "kefu-test-token";
const APPID: &str = "wx5823bf96d3bd56c7";
const KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";
const OLD_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

#[derive(Clone, Copy, Debug)]
enum Mode {
    Plaintext,
    Compatible,
    Safe,
}

struct Running {
    address: SocketAddr,
    data: PathBuf,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    fn url(&self, query: &str) -> String {
        format!("http://{}/wechat?{query}", self.address)
    }

    /// Stops the server the way SIGTERM does, which flushes the log into Parquet.
    async fn stop(self) -> Vec<Event> {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
        stored(&self.data)
    }
}

fn stored(data: &Path) -> Vec<Event> {
    Dataset::open(data)
        .unwrap()
        .read_event_rows(date("2000-01-01"), date("2100-01-01"))
        .unwrap()
}

async fn start(dir: &Path, extra_config: &str) -> Running {
    let text = format!(
        "listen = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\nappid = \"{APPID}\"\n{extra_config}"
    );
    let config = CollectorConfig::parse(&text, |_| None).unwrap();
    let data = dir.join("data");
    let collector = Collector::start(&config, data.clone()).await.unwrap();
    let address = collector.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(collector.run(async {
        let _ = stopped.await;
    }));
    Running {
        address,
        data,
        stop,
        task,
    }
}

fn now_s() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The query string and body WeChat would send for `xml` in `mode`.
fn wechat_request(mode: Mode, xml: &str, key: &str, timestamp: i64) -> (String, String) {
    let timestamp = timestamp.to_string();
    let nonce = "1320562132";
    let signature = crypto::signature(&[TOKEN, &timestamp, nonce]);
    let base = format!("signature={signature}&timestamp={timestamp}&nonce={nonce}&openid=oQ3kTq8Zr2mNcX1bVyH4sLpE9wAu");
    let encrypt = |xml: &str| {
        let key = AesKey::from_encoding_aes_key(key).unwrap();
        crypto::encrypt_with_fresh_random(&key, xml, APPID)
    };
    match mode {
        Mode::Plaintext => (base, xml.to_string()),
        Mode::Compatible | Mode::Safe => {
            let encrypted = encrypt(xml);
            let msg_signature = crypto::signature(&[TOKEN, &timestamp, nonce, &encrypted]);
            let body = match mode {
                Mode::Compatible => xml.replacen(
                    "</xml>",
                    &format!("<Encrypt><![CDATA[{encrypted}]]></Encrypt>\n</xml>"),
                    1,
                ),
                _ => format!(
                    "<xml>\n    <ToUserName><![CDATA[gh_7a3c9e51d2f0]]></ToUserName>\n    <Encrypt><![CDATA[{encrypted}]]></Encrypt>\n</xml>"
                ),
            };
            (
                format!("{base}&encrypt_type=aes&msg_signature={msg_signature}"),
                body,
            )
        }
    }
}

/// Every well-formed plaintext fixture: one of each message and event type.
fn good_fixtures() -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = fs::read_dir(fixtures().join("callback"))
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            let name = path.file_stem().unwrap().to_str().unwrap();
            !name.starts_with("bad_") && name != "compat_mode_text"
        })
        .map(|path| {
            (
                path.file_stem().unwrap().to_str().unwrap().to_string(),
                fs::read_to_string(&path).unwrap(),
            )
        })
        .collect();
    found.sort();
    found
}

async fn post(client: &reqwest::Client, url: &str, body: String) -> (u16, String) {
    let response = client.post(url).body(body).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_payload_type_is_stored_once_in_every_mode() {
    let client = reqwest::Client::new();
    let fixtures = good_fixtures();
    assert!(fixtures.len() >= 18, "one fixture per inbound type");
    for mode in [Mode::Plaintext, Mode::Compatible, Mode::Safe] {
        let dir = tempfile::tempdir().unwrap();
        let key_line = match mode {
            Mode::Plaintext => String::new(),
            _ => format!("encoding_aes_key = \"{KEY}\""),
        };
        let server = start(dir.path(), &key_line).await;
        for (name, xml) in &fixtures {
            // WeChat retries up to three times; the retries must not become rows.
            for _attempt in 0..3 {
                let (query, body) = wechat_request(mode, xml, KEY, now_s());
                let (status, answer) = post(&client, &server.url(&query), body).await;
                assert_eq!(
                    (status, answer.as_str()),
                    (200, "success"),
                    "{mode:?} {name}"
                );
            }
        }
        let events = server.stop().await;
        assert_eq!(
            events.len(),
            fixtures.len(),
            "{mode:?}: one row per payload"
        );
        assert!(events.iter().all(|event| event.source == Source::Callback));
        let kinds: HashSet<&str> = events.iter().map(|event| event.kind.as_str()).collect();
        for kind in [
            "text",
            "image",
            "voice",
            "video",
            "shortvideo",
            "location",
            "link",
            "event",
            "miniprogrampage",
        ] {
            assert!(kinds.contains(kind), "{mode:?}: no {kind} stored");
        }
        let names: HashSet<&str> = events
            .iter()
            .filter_map(|event| event.event.as_deref())
            .collect();
        for name in [
            "subscribe",
            "unsubscribe",
            "SCAN",
            "LOCATION",
            "CLICK",
            "VIEW",
            "kf_create_session",
            "kf_close_session",
            "kf_switch_session",
        ] {
            assert!(names.contains(name), "{mode:?}: no {name} event stored");
        }
        let text = events
            .iter()
            .find(|event| event.event_id == "m:24795423110926301")
            .unwrap();
        assert_eq!(
            text.text.as_deref(),
            Some("你好，我的订单2026101212345678怎么还没发货？")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_and_the_signed_ones_kept_in_quarantine() {
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &format!("encoding_aes_key = \"{KEY}\"\nbody_limit_bytes = 4096"),
    )
    .await;
    let text = fs::read_to_string(fixtures().join("callback/text.xml")).unwrap();

    // Wrong signature: 403, nothing stored, nothing quarantined.
    let (query, body) = wechat_request(Mode::Plaintext, &text, KEY, now_s());
    let forged = query.replacen("signature=", "signature=0", 1);
    assert_eq!(
        post(&client, &server.url(&forged), body.clone()).await.0,
        403
    );
    // Outside the replay window: 403.
    let (old_query, old_body) = wechat_request(Mode::Plaintext, &text, KEY, now_s() - 3600);
    assert_eq!(
        post(&client, &server.url(&old_query), old_body).await.0,
        403
    );
    // Encrypted with a key the server does not know: 400 and quarantined.
    let (query, body) = wechat_request(Mode::Safe, &text, OLD_KEY, now_s());
    let (status, reason) = post(&client, &server.url(&query), body).await;
    assert_eq!(status, 400, "{reason}");
    // Signed but malformed: 400 and quarantined with the reason.
    let truncated = fs::read_to_string(fixtures().join("callback/bad_truncated.xml")).unwrap();
    let (query, body) = wechat_request(Mode::Plaintext, &truncated, KEY, now_s());
    assert_eq!(post(&client, &server.url(&query), body).await.0, 400);
    // Too large.
    let (query, _) = wechat_request(Mode::Plaintext, &text, KEY, now_s());
    assert_eq!(
        post(&client, &server.url(&query), "<xml>".repeat(2000))
            .await
            .0,
        413
    );
    // The server still serves.
    let (query, body) = wechat_request(Mode::Plaintext, &text, KEY, now_s());
    assert_eq!(
        post(&client, &server.url(&query), body).await,
        (200, "success".to_string())
    );

    let metrics = client
        .get(format!("http://{}/metrics", server.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("kefu_collector_received_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("reason=\"bad_signature\""), "{metrics}");
    assert!(metrics.contains("reason=\"replay_window\""), "{metrics}");
    let health = client
        .get(format!("http://{}/healthz", server.address))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    let data = server.data.clone();
    let events = server.stop().await;
    assert_eq!(events.len(), 1);
    let mut reasons = Vec::new();
    for day in fs::read_dir(data.join("quarantine")).unwrap().flatten() {
        for file in fs::read_dir(day.path()).unwrap().flatten() {
            for record in read_quarantine(&file.path()).unwrap() {
                assert_eq!(record.source, "callback");
                reasons.push(record.reason);
            }
        }
    }
    reasons.sort();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r.starts_with("cannot decrypt")),
        "{reasons:?}"
    );
    assert!(reasons.iter().any(|r| r.contains("XML")), "{reasons:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_verification_and_key_rotation() {
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &format!("encoding_aes_key = \"{KEY}\"\nprevious_encoding_aes_key = \"{OLD_KEY}\""),
    )
    .await;
    let timestamp = now_s().to_string();
    let signature = crypto::signature(&[TOKEN, &timestamp, "42"]);
    let echo = client
        .get(server.url(&format!(
            "signature={signature}&timestamp={timestamp}&nonce=42&echostr=6125418867352937571"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(echo.status(), 200);
    assert_eq!(
        echo.text().await.unwrap(),
        "6125418867352937571",
        "echostr verbatim, even in safe mode"
    );

    let text = fs::read_to_string(fixtures().join("callback/text.xml")).unwrap();
    let (query, body) = wechat_request(Mode::Safe, &text, OLD_KEY, now_s());
    assert_eq!(
        post(&client, &server.url(&query), body).await,
        (200, "success".to_string())
    );
    let events = server.stop().await;
    assert_eq!(
        events.len(),
        1,
        "a message under the previous key is not lost"
    );
}

/// A stand-in for the business's existing customer-service system.
async fn upstream(
    answer: &'static str,
    delay: Duration,
) -> (
    SocketAddr,
    Arc<AtomicU64>,
    Arc<std::sync::Mutex<Vec<String>>>,
) {
    use axum::extract::RawQuery;
    let calls = Arc::new(AtomicU64::new(0));
    let queries = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (counter, seen) = (calls.clone(), queries.clone());
    let app = axum::Router::new().route(
        "/cs",
        axum::routing::post(move |RawQuery(query): RawQuery, body: String| {
            let (counter, seen) = (counter.clone(), seen.clone());
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                seen.lock()
                    .unwrap()
                    .push(format!("{}|{}", query.unwrap_or_default(), body.len()));
                tokio::time::sleep(delay).await;
                answer
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, calls, queries)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tee_mode_relays_the_upstream_answer_and_survives_a_slow_or_dead_upstream() {
    let client = reqwest::Client::new();
    let reply = "<xml><ToUserName><![CDATA[oQ3k]]></ToUserName><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[您好]]></Content></xml>";
    let (fast, calls, queries) = upstream(reply, Duration::ZERO).await;
    let (slow, _, _) = upstream(reply, Duration::from_secs(10)).await;
    let text = fs::read_to_string(fixtures().join("callback/text.xml")).unwrap();
    let image = fs::read_to_string(fixtures().join("callback/image.xml")).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &format!("upstream = \"http://{fast}/cs\"")).await;
    let (query, body) = wechat_request(Mode::Plaintext, &text, KEY, now_s());
    let body_len = body.len();
    assert_eq!(
        post(&client, &server.url(&query), body).await,
        (200, reply.to_string())
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        queries.lock().unwrap()[0],
        format!("{query}|{body_len}"),
        "query and body untouched"
    );
    assert_eq!(server.stop().await.len(), 1);

    for dead_or_slow in [
        format!("http://{slow}/cs"),
        "http://127.0.0.1:9/cs".to_string(),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let server = start(
            dir.path(),
            &format!("upstream = \"{dead_or_slow}\"\nupstream_timeout_ms = 500"),
        )
        .await;
        let (query, body) = wechat_request(Mode::Plaintext, &image, KEY, now_s());
        let started = std::time::Instant::now();
        assert_eq!(
            post(&client, &server.url(&query), body).await,
            (200, "success".to_string())
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "answered well inside WeChat's 5 s"
        );
        assert_eq!(
            server.stop().await.len(),
            1,
            "stored whatever the upstream did"
        );
    }
}

fn spawn_server(dir: &Path) -> (Child, SocketAddr) {
    let config = dir.join("collector.toml");
    fs::write(
        &config,
        format!("listen = \"127.0.0.1:0\"\ndata = \"data\"\ntoken = \"{TOKEN}\"\nappid = \"{APPID}\"\nencoding_aes_key = \"{KEY}\"\nroll_interval_s = 1\n"),
    )
    .unwrap();
    let (child, line) = spawn_serve(&config, Stdio::null());
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .parse()
        .unwrap();
    (child, address)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_loses_no_acknowledged_event() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, address) = spawn_server(dir.path());
    let template = fs::read_to_string(fixtures().join("callback/text.xml")).unwrap();
    let acknowledged = Arc::new(std::sync::Mutex::new(HashSet::new()));
    let next_id = Arc::new(AtomicU64::new(1));
    let mut senders = Vec::new();
    for _ in 0..4 {
        let (acknowledged, next_id, template) =
            (acknowledged.clone(), next_id.clone(), template.clone());
        senders.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            loop {
                let id = 90_000_000_000 + next_id.fetch_add(1, Ordering::SeqCst);
                let xml = template.replace("24795423110926301", &id.to_string());
                let (query, body) = wechat_request(Mode::Safe, &xml, KEY, now_s());
                let url = format!("http://{address}/wechat?{query}");
                match client.post(url).body(body).send().await {
                    Ok(response) if response.status() == 200 => {
                        if response.text().await.is_ok_and(|text| text == "success") {
                            acknowledged.lock().unwrap().insert(format!("m:{id}"));
                        }
                    }
                    _ => return,
                }
            }
        }));
    }
    // Let a roll or two happen, then kill it mid-stream.
    while acknowledged.lock().unwrap().len() < 1500 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    for sender in senders {
        sender.await.unwrap();
    }

    // The restart replays the log before it listens; SIGTERM then flushes and exits.
    let (mut child, _) = spawn_server(dir.path());
    let term = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert!(child.wait().unwrap().success());

    let events = stored(&dir.path().join("data"));
    let mut counts: HashMap<&str, u32> = HashMap::new();
    for event in &events {
        *counts.entry(event.event_id.as_str()).or_default() += 1;
    }
    assert!(counts.values().all(|n| *n == 1), "an event stored twice");
    let acknowledged = acknowledged.lock().unwrap();
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|id| !counts.contains_key(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events lost, e.g. {:?}",
        missing.len(),
        missing.first()
    );
    assert!(acknowledged.len() >= 1500);
}

#[test]
fn a_config_mistake_names_the_file_and_exits_2_and_an_open_config_draws_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("collector.toml");
    fs::write(
        &config,
        format!("token = \"{TOKEN}\"\nencoding_aes_key = \"{KEY}\"\n"),
    )
    .unwrap();
    let output = Command::new(kefu_binary())
        .args(["serve", "--config"])
        .arg(&config)
        .env_remove("KEFU_WECHAT_APPID")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("collector.toml") && stderr.contains("appid"),
        "{stderr}"
    );

    // A valid config holding secrets, readable by everyone: served, with a warning.
    fs::write(
        &config,
        format!("listen = \"127.0.0.1:0\"\ntoken = \"{TOKEN}\"\nappid = \"{APPID}\"\nencoding_aes_key = \"{KEY}\"\n"),
    )
    .unwrap();
    fs::set_permissions(&config, fs::Permissions::from_mode(0o644)).unwrap();
    let (child, line) = spawn_serve(&config, Stdio::piped());
    assert!(line.starts_with("listening on http://127.0.0.1:"), "{line}");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("chmod 600"), "{stderr}");
    assert!(
        !stderr.contains(KEY) && !stderr.contains(TOKEN),
        "a secret reached the log: {stderr}"
    );
}

/// Starts `kefu serve --config CONFIG` and returns it with the first line it printed
/// (where it listens).
fn spawn_serve(config: &std::path::Path, stderr: Stdio) -> (std::process::Child, String) {
    let mut child = Command::new(kefu_binary())
        .args(["serve", "--config"])
        .arg(config)
        .env_remove("KEFU_DATA")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line)
}
