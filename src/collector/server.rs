//! `kefu serve`: the HTTP plumbing around `callback.rs` — the write-ahead log before
//! every acknowledgement, the background roller, tee to an upstream system, `/healthz`,
//! `/metrics`, and a graceful shutdown that flushes the log into Parquet.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, OriginalUri, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::Utc;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::sync::Notify;

use super::callback::{CallbackQuery, Protocol, Rejection};
use super::config::CollectorConfig;
use super::roll::roll;
use super::wal::{Wal, WalRecord};
use crate::store::{Dataset, Quarantine, QuarantineRecord};

/// How long a roll waits for another writer (a nightly run) before trying again later;
/// the log keeps the events safe meanwhile.
const ROLL_LOCK_WAIT: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

struct Metrics {
    registry: Registry,
    received: Counter,
    stored: Counter,
    duplicates: Counter,
    rejected: Family<ReasonLabel, Counter>,
    upstream_failures: Counter,
    log_bytes: Gauge,
    roll_seconds: Histogram,
}

impl Metrics {
    fn new() -> Metrics {
        let mut registry = Registry::with_prefix("kefu_collector");
        let received = Counter::default();
        let stored = Counter::default();
        let duplicates = Counter::default();
        let rejected = Family::<ReasonLabel, Counter>::default();
        let upstream_failures = Counter::default();
        let log_bytes = Gauge::default();
        let roll_seconds = Histogram::new([0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0]);
        registry.register(
            "received",
            "Callbacks acknowledged (in the log)",
            received.clone(),
        );
        registry.register("stored", "Events written to Parquet", stored.clone());
        registry.register(
            "duplicates",
            "Retried or repeated events dropped on roll",
            duplicates.clone(),
        );
        registry.register("rejected", "Requests refused, by reason", rejected.clone());
        registry.register(
            "upstream_failures",
            "Tee requests the upstream did not answer in time",
            upstream_failures.clone(),
        );
        registry.register(
            "log_bytes",
            "Bytes in the write-ahead log not yet in Parquet",
            log_bytes.clone(),
        );
        registry.register(
            "roll_seconds",
            "Time to move the log into Parquet",
            roll_seconds.clone(),
        );
        Metrics {
            registry,
            received,
            stored,
            duplicates,
            rejected,
            upstream_failures,
            log_bytes,
            roll_seconds,
        }
    }

    fn reject(&self, reason: &str) {
        self.rejected
            .get_or_create(&ReasonLabel {
                reason: reason.to_string(),
            })
            .inc();
    }
}

struct Upstream {
    client: reqwest::Client,
    url: String,
}

struct AppState {
    protocol: Protocol,
    dataset: Dataset,
    wal: Wal,
    metrics: Metrics,
    upstream: Option<Upstream>,
    roll_now: Notify,
    roll_max_events: u64,
    /// One roll at a time: the timer's, a full log's, and the shutdown's.
    rolling: tokio::sync::Mutex<()>,
}

/// A collector bound to its address, its log replayed, ready to serve.
pub struct Collector {
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    router: Router,
    roll_interval: Duration,
}

impl Collector {
    /// Opens the dataset and the log, rolls whatever a previous run left in the log,
    /// and binds the address.
    pub async fn start(config: &CollectorConfig, data: PathBuf) -> Result<Collector> {
        let protocol = Protocol::new(config)?;
        let dataset = Dataset::open_or_create(&data, None)?;
        let wal = Wal::open(&data.join("wal"))?;
        let upstream = match &config.upstream {
            None => None,
            Some(url) => Some(Upstream {
                client: reqwest::Client::builder()
                    .timeout(Duration::from_millis(config.upstream_timeout_ms))
                    .build()
                    .context("building the upstream HTTP client")?,
                url: url.trim_end_matches('/').to_string(),
            }),
        };
        let state = Arc::new(AppState {
            protocol,
            dataset,
            wal,
            metrics: Metrics::new(),
            upstream,
            roll_now: Notify::new(),
            roll_max_events: config.roll_max_events,
            rolling: tokio::sync::Mutex::new(()),
        });
        match roll_once(&state).await {
            Ok(0) => {}
            Ok(replayed) => tracing::info!(
                "replayed {replayed} logged callbacks from a previous run into Parquet"
            ),
            // The log stays closed on disk; the roller retries it on its next tick.
            Err(err) => tracing::warn!("replaying the write-ahead log failed, will retry: {err:#}"),
        }
        let router = Router::new()
            .route(&config.path, get(verify).post(receive))
            .route("/healthz", get(|| async { "ok" }))
            .route("/metrics", get(metrics))
            .layer(DefaultBodyLimit::max(config.body_limit_bytes))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        Ok(Collector {
            listener,
            state,
            router,
            roll_interval: Duration::from_secs(config.roll_interval_s),
        })
    }

    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets requests in flight
    /// finish, and rolls the log into Parquet.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let roller = tokio::spawn(roller(self.state.clone(), self.roll_interval));
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving")?;
        roller.abort();
        let flushed = roll_once(&self.state)
            .await
            .context("flushing the log on shutdown")?;
        tracing::info!("shut down; {flushed} logged callbacks moved to Parquet");
        Ok(())
    }
}

/// A future that resolves on SIGTERM or Ctrl-C. The handlers are installed here, before
/// the caller announces it is listening, so an early SIGTERM is not fatal.
pub fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {},
            _ = interrupt.recv() => {},
        }
    })
}

async fn roller(state: Arc<AppState>, interval: Duration) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {},
            () = state.roll_now.notified() => {},
        }
        if let Err(err) = roll_once(&state).await {
            tracing::warn!("rolling the log into Parquet failed, will retry: {err:#}");
        }
    }
}

/// Rotates the log and moves every closed segment into Parquet; returns the records.
async fn roll_once(state: &Arc<AppState>) -> Result<u64> {
    let _one_at_a_time = state.rolling.lock().await;
    state.wal.rotate().await?;
    let segments = state.wal.closed_segments()?;
    if segments.is_empty() {
        return Ok(0);
    }
    let started = Instant::now();
    let dataset = state.dataset.clone();
    let to_roll = segments.clone();
    let summary = tokio::task::spawn_blocking(move || roll(&dataset, &to_roll, ROLL_LOCK_WAIT))
        .await
        .context("the roll task panicked")??;
    state.wal.trim(&segments)?;
    state.metrics.stored.inc_by(summary.stored.written);
    state.metrics.duplicates.inc_by(summary.stored.duplicates);
    state
        .metrics
        .roll_seconds
        .observe(started.elapsed().as_secs_f64());
    tracing::info!(
        "rolled {} records: {} stored, {} duplicates, {} quarantined",
        summary.records,
        summary.stored.written,
        summary.stored.duplicates,
        summary.quarantined
    );
    Ok(summary.records)
}

async fn verify(
    State(state): State<Arc<AppState>>,
    Query(query): Query<CallbackQuery>,
) -> Response {
    match state.protocol.verify_url(&query, Utc::now().timestamp()) {
        Ok(echostr) => echostr.into_response(),
        Err(rejection) => refuse(&state, rejection),
    }
}

async fn receive(
    State(state): State<Arc<AppState>>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
    body: Bytes,
) -> Response {
    let now = Utc::now();
    let accepted = state
        .protocol
        .accept(&query, &body, now.timestamp(), now.timestamp_millis());
    let logged = match accepted {
        Err(Rejection::Forbidden(reason)) => return refuse(&state, Rejection::Forbidden(reason)),
        Err(Rejection::BadRequest(reason)) => {
            // Signed by WeChat but not understood: kept for a fixed parser, and still
            // passed on, since the upstream system may understand it.
            state.metrics.reject("bad_request");
            let quarantined = quarantine(&state, &uri, &body, &reason).await;
            if let Err(err) = quarantined {
                tracing::error!("quarantining a bad callback failed: {err:#}");
                return (StatusCode::INTERNAL_SERVER_ERROR, "cannot store").into_response();
            }
            if state.upstream.is_some() {
                return forward(&state, &uri, &headers, body).await;
            }
            return (StatusCode::BAD_REQUEST, reason).into_response();
        }
        Ok(accepted) => {
            if accepted.used_previous_key {
                tracing::info!("a callback decrypted with previous_encoding_aes_key");
            }
            WalRecord {
                received_ms: now.timestamp_millis(),
                body: accepted.plaintext,
            }
        }
    };
    let stored = async {
        let result = state.wal.append(&logged).await;
        if result.is_ok() {
            state.metrics.received.inc();
            state.metrics.log_bytes.set(
                i64::try_from(state.wal.stats().bytes.load(Ordering::Relaxed)).unwrap_or(i64::MAX),
            );
            if state.wal.stats().pending_records.load(Ordering::Relaxed) >= state.roll_max_events {
                state.roll_now.notify_one();
            }
        }
        result
    };
    let (stored, upstream) = match state.upstream.is_some() {
        true => {
            let (stored, answer) = tokio::join!(stored, forward(&state, &uri, &headers, body));
            (stored, Some(answer))
        }
        false => (stored.await, None),
    };
    if let Err(err) = stored {
        // Not acknowledged: WeChat retries, and the retry may find the disk writable.
        tracing::error!("{err:#}");
        return (StatusCode::INTERNAL_SERVER_ERROR, "cannot store").into_response();
    }
    upstream.unwrap_or_else(|| "success".into_response())
}

fn refuse(state: &AppState, rejection: Rejection) -> Response {
    state.metrics.reject(rejection.reason());
    match rejection {
        Rejection::Forbidden(reason) => (StatusCode::FORBIDDEN, reason).into_response(),
        Rejection::BadRequest(reason) => (StatusCode::BAD_REQUEST, reason).into_response(),
    }
}

async fn quarantine(
    state: &AppState,
    uri: &axum::http::Uri,
    body: &Bytes,
    reason: &str,
) -> Result<()> {
    let dir = state.dataset.quarantine_dir();
    let record =
        QuarantineRecord::new("callback", &uri.to_string(), None, reason.to_string(), body);
    tokio::task::spawn_blocking(move || {
        let mut quarantine = Quarantine::new(&dir, "callback");
        quarantine.put(&record)?;
        quarantine.finish().map(|_| ())
    })
    .await
    .context("the quarantine task panicked")?
}

/// Passes the request on, query string and body untouched, and relays the answer. An
/// upstream that fails or is slow gets `success` in its place: WeChat must hear back
/// within 5 s whatever the upstream does.
async fn forward(
    state: &AppState,
    uri: &axum::http::Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let Some(upstream) = &state.upstream else {
        return "success".into_response();
    };
    let url = match uri.query() {
        Some(query) => format!("{}?{query}", upstream.url),
        None => upstream.url.clone(),
    };
    let mut request = upstream.client.request(Method::POST, &url).body(body);
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        request = request.header(header::CONTENT_TYPE, content_type.clone());
    }
    let answer = async {
        let response = request.send().await?;
        let status = response.status();
        let content_type = response.headers().get(header::CONTENT_TYPE).cloned();
        let body = response.bytes().await?;
        Ok::<_, reqwest::Error>((status, content_type, body))
    };
    match answer.await {
        Ok((status, content_type, body)) if status.is_success() => {
            let mut response = (StatusCode::OK, body).into_response();
            if let Some(content_type) = content_type {
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, content_type);
            }
            response
        }
        Ok((status, _, _)) => {
            state.metrics.upstream_failures.inc();
            tracing::warn!("the upstream answered {status}; answering WeChat success instead");
            "success".into_response()
        }
        Err(err) => {
            state.metrics.upstream_failures.inc();
            tracing::warn!("the upstream did not answer ({err}); answering WeChat success instead");
            "success".into_response()
        }
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    state
        .metrics
        .log_bytes
        .set(i64::try_from(state.wal.stats().bytes.load(Ordering::Relaxed)).unwrap_or(i64::MAX));
    let mut text = String::new();
    if let Err(err) = prometheus_client::encoding::text::encode(&mut text, &state.metrics.registry)
    {
        return (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response();
    }
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response
}
