//! `kefu import FILE|DIR…`: JSON Lines in the import format of DESIGN.md and WeChat
//! callback XML files, streamed in chunks, bad inputs quarantined, the rest stored.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use chrono::DateTime;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::message::parse_message;
use crate::model::{Event, Role, Source};
use crate::store::{AppendSummary, Dataset, EventWriter, Quarantine, QuarantineRecord, WriteLock};

/// Tuning of one import run.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Lines parsed and stored together. Memory is bounded by this, not by file size.
    pub batch_lines: usize,
    /// Whether to draw a progress bar (only on a terminal).
    pub progress: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            batch_lines: 50_000,
            progress: false,
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct ImportSummary {
    pub files: u64,
    pub imported: u64,
    pub duplicates: u64,
    pub quarantined: u64,
    /// Where the quarantined inputs went, if any.
    pub quarantine_file: Option<PathBuf>,
    /// Inputs that could not be read at all (missing file, permission), with the reason.
    pub unreadable: Vec<(PathBuf, String)>,
    pub store: AppendSummary,
}

impl ImportSummary {
    /// Nothing could be imported although something was asked for: the exit-1 case.
    pub fn nothing_imported(&self) -> bool {
        self.imported + self.duplicates == 0
            && (self.quarantined > 0 || !self.unreadable.is_empty())
    }
}

/// One line of the JSON Lines import format. Unknown fields are kept in `extra`.
#[derive(Debug, Deserialize)]
struct ImportLine {
    event_id: Option<String>,
    account: Option<String>,
    openid: Option<String>,
    role: Option<String>,
    agent: Option<String>,
    kind: Option<String>,
    event: Option<String>,
    text: Option<String>,
    media_id: Option<String>,
    extra: Option<Value>,
    ts: Option<Value>,
    received_ts: Option<Value>,
    /// Ignored: every imported row gets `source = import`.
    #[allow(dead_code)]
    source: Option<Value>,
    #[serde(flatten)]
    other: Map<String, Value>,
}

/// Instants before 2000 or after 2100 are a unit mistake (milliseconds given as
/// seconds), not a real conversation.
const EARLIEST_MS: i64 = 946_684_800_000;
const LATEST_MS: i64 = 4_102_444_800_000;

fn parse_instant(field: &str, value: &Value) -> std::result::Result<i64, String> {
    let ms = match value {
        Value::Number(number) => {
            let seconds = number
                .as_f64()
                .ok_or_else(|| format!("{field} {number} is not a number of seconds"))?;
            (seconds * 1000.0).round() as i64
        }
        Value::String(text) => match DateTime::parse_from_rfc3339(text.trim()) {
            Ok(instant) => instant.timestamp_millis(),
            Err(_) => match text.trim().parse::<i64>() {
                Ok(seconds) => seconds.saturating_mul(1000),
                Err(_) => {
                    return Err(format!(
                        "{field} {text:?} is neither RFC 3339 (2026-03-01T09:30:00+08:00) nor epoch seconds"
                    ))
                }
            },
        },
        other => return Err(format!("{field} must be RFC 3339 text or epoch seconds, not {other}")),
    };
    if !(EARLIEST_MS..LATEST_MS).contains(&ms) {
        return Err(format!(
            "{field} {value} is outside 2000–2100: give epoch seconds (not milliseconds) or RFC 3339"
        ));
    }
    Ok(ms)
}

fn non_empty(field: &str, value: Option<String>) -> std::result::Result<String, String> {
    match value {
        Some(text) if !text.trim().is_empty() => Ok(text),
        Some(_) => Err(format!("{field} is empty")),
        None => Err(format!("missing {field}")),
    }
}

/// Parses one JSON line into an event, or the reason it cannot be one.
pub fn parse_line(line: &[u8], received_ts_ms: i64) -> std::result::Result<Event, String> {
    let text = std::str::from_utf8(line).map_err(|err| format!("not UTF-8: {err}"))?;
    let parsed: ImportLine =
        serde_json::from_str(text).map_err(|err| format!("not a JSON object: {err}"))?;
    let openid = non_empty("openid", parsed.openid)?;
    let role_name = non_empty("role", parsed.role)?;
    let role = Role::parse(&role_name)
        .ok_or_else(|| format!("role {role_name:?} is not one of user, agent, bot, system"))?;
    let kind = non_empty("kind", parsed.kind)?;
    let ts_ms = parse_instant("ts", parsed.ts.as_ref().ok_or("missing ts")?)?;
    let received_ts_ms = match &parsed.received_ts {
        None | Some(Value::Null) => received_ts_ms,
        Some(value) => parse_instant("received_ts", value)?,
    };

    let mut extra = match parsed.extra {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(map)) => map,
        Some(Value::String(text)) => match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => map,
            _ => return Err("extra must be a JSON object (or a string holding one)".into()),
        },
        Some(_) => return Err("extra must be a JSON object".into()),
    };
    for (name, value) in parsed.other {
        extra.entry(name).or_insert(value);
    }
    let msg_id = match extra.get("MsgId") {
        Some(Value::Number(number)) if number.is_u64() => Some(number.to_string()),
        Some(Value::String(text)) if text.parse::<u64>().is_ok() => Some(text.clone()),
        _ => None,
    };
    let account = parsed.account.filter(|s| !s.is_empty());
    let event = parsed.event.filter(|s| !s.is_empty());
    let event_id = match parsed.event_id.filter(|id| !id.trim().is_empty()) {
        Some(id) => id,
        None => Event::identity(
            msg_id.as_deref(),
            account.as_deref(),
            &openid,
            ts_ms,
            role,
            &kind,
            event.as_deref(),
            parsed.text.as_deref(),
        ),
    };
    Ok(Event {
        event_id,
        account,
        openid,
        role,
        agent: parsed.agent.filter(|s| !s.is_empty()),
        kind,
        event,
        text: parsed.text,
        media_id: parsed.media_id.filter(|s| !s.is_empty()),
        extra: (!extra.is_empty()).then(|| Value::Object(extra).to_string()),
        ts_ms,
        received_ts_ms: Some(received_ts_ms),
        source: Source::Import,
    })
}

/// Writes an event as one line of the import format: the inverse of `parse_line`, for
/// exports to other tools, benchmarks and tests.
pub fn to_import_line(event: &Event) -> String {
    let mut line = Map::new();
    line.insert("event_id".into(), Value::String(event.event_id.clone()));
    let mut put = |name: &str, value: &Option<String>| {
        if let Some(value) = value {
            line.insert(name.into(), Value::String(value.clone()));
        }
    };
    put("account", &event.account);
    put("agent", &event.agent);
    put("event", &event.event);
    put("text", &event.text);
    put("media_id", &event.media_id);
    line.insert("openid".into(), Value::String(event.openid.clone()));
    line.insert("role".into(), Value::String(event.role.as_str().into()));
    line.insert("kind".into(), Value::String(event.kind.clone()));
    line.insert("ts".into(), Value::String(rfc3339_ms(event.ts_ms)));
    if let Some(received) = event.received_ts_ms {
        line.insert("received_ts".into(), Value::String(rfc3339_ms(received)));
    }
    if let Some(extra) = &event.extra {
        let value = serde_json::from_str(extra).unwrap_or_else(|_| Value::String(extra.clone()));
        line.insert("extra".into(), value);
    }
    Value::Object(line).to_string()
}

fn rfc3339_ms(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or(DateTime::UNIX_EPOCH)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The inputs named on the command line, folders expanded (sorted, recursively) to
/// their `.jsonl`, `.ndjson`, `.json` and `.xml` files.
fn expand_inputs(inputs: &[PathBuf], unreadable: &mut Vec<(PathBuf, String)>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let mut stack = vec![input.clone()];
            let mut found = Vec::new();
            while let Some(dir) = stack.pop() {
                match std::fs::read_dir(&dir) {
                    Ok(entries) => {
                        for entry in entries.flatten() {
                            let path = entry.path();
                            if path.is_dir() {
                                stack.push(path);
                            } else if path
                                .extension()
                                .and_then(|e| e.to_str())
                                .is_some_and(|ext| {
                                    matches!(ext, "jsonl" | "ndjson" | "json" | "xml")
                                })
                            {
                                found.push(path);
                            }
                        }
                    }
                    Err(err) => unreadable.push((dir.clone(), err.to_string())),
                }
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    files
}

/// XML when the name says so, or when the first non-blank byte opens a tag.
fn is_xml(path: &Path, head: &[u8]) -> bool {
    if path
        .extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("xml"))
    {
        return true;
    }
    head.iter()
        .find(|byte| !byte.is_ascii_whitespace())
        .is_some_and(|byte| *byte == b'<')
}

/// Imports every input. A bad line or file is quarantined and counted; an unreadable
/// input is reported and skipped; the rest is stored.
pub fn import(
    dataset: &Dataset,
    lock: &WriteLock,
    inputs: &[PathBuf],
    options: &ImportOptions,
) -> Result<ImportSummary> {
    let mut summary = ImportSummary::default();
    let files = expand_inputs(inputs, &mut summary.unreadable);
    let mut writer = EventWriter::new(dataset, lock);
    let mut quarantine = Quarantine::new(&dataset.quarantine_dir(), "import");
    let total_bytes: u64 = files
        .iter()
        .filter_map(|path| std::fs::metadata(path).ok())
        .map(|meta| meta.len())
        .sum();
    let progress = if options.progress {
        let bar = ProgressBar::new(total_bytes);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} importing [{bar:30}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta}",
            )
            .expect("a valid template")
            .progress_chars("=> "),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut xml_batch: Vec<Event> = Vec::new();
    for path in &files {
        let mut file = match File::open(path) {
            Ok(file) => file,
            Err(err) => {
                summary.unreadable.push((path.clone(), err.to_string()));
                continue;
            }
        };
        summary.files += 1;
        let mut reader = BufReader::with_capacity(1 << 20, &mut file);
        let head = reader
            .fill_buf()
            .map(|buf| buf.to_vec())
            .unwrap_or_default();
        if is_xml(path, &head) {
            let mut bytes = Vec::new();
            if let Err(err) = reader.read_to_end(&mut bytes) {
                summary.unreadable.push((path.clone(), err.to_string()));
                continue;
            }
            progress.inc(bytes.len() as u64);
            match parse_message(&bytes, Some(now_ms()), Source::Import) {
                Ok(event) => xml_batch.push(event),
                Err(reason) => {
                    quarantine.put(&QuarantineRecord::new(
                        "import",
                        &path.display().to_string(),
                        None,
                        reason.to_string(),
                        &bytes,
                    ))?;
                }
            }
            if xml_batch.len() >= options.batch_lines {
                summary
                    .store
                    .add(writer.append(std::mem::take(&mut xml_batch))?);
            }
        } else {
            import_jsonl(
                path,
                reader,
                &mut writer,
                &mut quarantine,
                options,
                &progress,
                &mut summary,
            )?;
        }
    }
    if !xml_batch.is_empty() {
        summary.store.add(writer.append(xml_batch)?);
    }
    progress.finish_and_clear();
    summary.imported = summary.store.written;
    summary.duplicates = summary.store.duplicates;
    summary.quarantined = quarantine.count();
    summary.quarantine_file = quarantine.finish()?;
    Ok(summary)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn import_jsonl(
    path: &Path,
    mut reader: impl BufRead,
    writer: &mut EventWriter,
    quarantine: &mut Quarantine,
    options: &ImportOptions,
    progress: &ProgressBar,
    summary: &mut ImportSummary,
) -> Result<()> {
    let name = path.display().to_string();
    let mut line_number: u64 = 0;
    loop {
        // Read a chunk of raw lines; bytes, not strings, so a non-UTF-8 line is
        // quarantined as it was instead of stopping the file.
        let mut chunk: Vec<(u64, Vec<u8>)> = Vec::with_capacity(options.batch_lines);
        let mut chunk_bytes = 0u64;
        while chunk.len() < options.batch_lines {
            let mut line = Vec::new();
            let read = reader
                .read_until(b'\n', &mut line)
                .with_context(|| format!("reading {name} after line {line_number}"))?;
            if read == 0 {
                break;
            }
            chunk_bytes += read as u64;
            line_number += 1;
            while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                line.pop();
            }
            if line.iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            chunk.push((line_number, line));
        }
        if chunk.is_empty() && chunk_bytes == 0 {
            return Ok(());
        }
        let received = now_ms();
        let parsed: Vec<std::result::Result<Event, String>> = chunk
            .par_iter()
            .map(|(_, line)| parse_line(line, received))
            .collect();
        let mut events = Vec::with_capacity(parsed.len());
        for ((line_number, line), result) in chunk.iter().zip(parsed) {
            match result {
                Ok(event) => events.push(event),
                Err(reason) => quarantine.put(&QuarantineRecord::new(
                    "import",
                    &name,
                    Some(*line_number),
                    reason,
                    line,
                ))?,
            }
        }
        summary.store.add(writer.append(events)?);
        progress.inc(chunk_bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECEIVED: i64 = 1_770_000_000_000;

    #[test]
    fn a_complete_line_becomes_an_import_event() {
        let line = r#"{"openid":"o1","role":"user","kind":"text","text":"在吗","ts":"2026-03-01T09:30:00+08:00","account":"gh_1","source":"callback","channel":"小程序"}"#;
        let event = parse_line(line.as_bytes(), RECEIVED).unwrap();
        assert_eq!(event.source, Source::Import);
        assert_eq!(event.ts_ms, 1_772_328_600_000);
        assert_eq!(event.received_ts_ms, Some(RECEIVED));
        assert_eq!(event.extra.as_deref(), Some(r#"{"channel":"小程序"}"#));
        assert_eq!(event.event_id, event.computed_content_id());
    }

    #[test]
    fn epoch_seconds_and_msgid_are_understood() {
        let line = r#"{"openid":"o1","role":"user","kind":"text","ts":1772328600,"extra":{"MsgId":6054768590064713728}}"#;
        let event = parse_line(line.as_bytes(), RECEIVED).unwrap();
        assert_eq!(event.ts_ms, 1_772_328_600_000);
        assert_eq!(event.event_id, "m:6054768590064713728");
    }

    #[test]
    fn an_exported_line_imports_as_the_same_event() {
        let mut event = parse_line(
            r#"{"openid":"o1","role":"agent","agent":"kf2001@gh_1","kind":"text","text":"您好","ts":1772328600.25,"extra":{"k":1}}"#.as_bytes(),
            RECEIVED,
        )
        .unwrap();
        let again = parse_line(to_import_line(&event).as_bytes(), 0).unwrap();
        event.received_ts_ms = Some(RECEIVED);
        assert_eq!(again, event);
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let cases = [
            (
                r#"{"openid":"o1","role":"user","kind":"text"}"#,
                "missing ts",
            ),
            (
                r#"{"openid":"o1","role":"customer","kind":"text","ts":1}"#,
                "role \"customer\"",
            ),
            (
                r#"{"openid":"o1","role":"user","kind":"text","ts":1772328600000}"#,
                "not milliseconds",
            ),
            (
                r#"{"openid":"","role":"user","kind":"text","ts":1772328600}"#,
                "openid is empty",
            ),
            (
                r#"{"openid":"o1","role":"user","kind":"text","ts":1772328600,"extra":[1]}"#,
                "extra must be",
            ),
            (r#"{"openid":"o1","#, "not a JSON object"),
        ];
        for (line, expected) in cases {
            let reason = parse_line(line.as_bytes(), RECEIVED).unwrap_err();
            assert!(reason.contains(expected), "{line}: {reason}");
        }
        assert!(parse_line(b"{\"openid\":\"\xff\"}", RECEIVED)
            .unwrap_err()
            .contains("UTF-8"));
    }
}
