//! `kefu import`: the JSONL format, callback XML, quarantine, dedupe across runs, and a
//! crash in the middle.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kefu::collector::import::{import, to_import_line, ImportOptions};
use kefu::gen::{generate, GenConfig};
use kefu::store::{read_quarantine, Dataset};

use crate::common::{date, fixtures, kefu_binary, lock, new_dataset};

fn import_paths(dataset: &Dataset, paths: &[&Path]) -> kefu::collector::import::ImportSummary {
    let lock = lock(dataset);
    let inputs: Vec<_> = paths.iter().map(|p| p.to_path_buf()).collect();
    import(dataset, &lock, &inputs, &ImportOptions::default()).unwrap()
}

fn count_rows(dataset: &Dataset) -> usize {
    dataset
        .read_event_rows(date("2000-01-01"), date("2100-01-01"))
        .unwrap()
        .len()
}

/// Writes `n` generated events as import lines; returns the file.
fn write_generated_jsonl(dir: &Path, users: u32, limit: usize) -> std::path::PathBuf {
    let generated = generate(&GenConfig {
        users,
        days: 30,
        ..GenConfig::default()
    });
    assert!(
        generated.events.len() >= limit,
        "{} events generated",
        generated.events.len()
    );
    let path = dir.join("events.jsonl");
    let mut out = std::io::BufWriter::new(fs::File::create(&path).unwrap());
    for event in generated.events.iter().take(limit) {
        writeln!(out, "{}", to_import_line(event)).unwrap();
    }
    out.flush().unwrap();
    path
}

#[test]
fn the_fixture_conversation_imports_with_its_duplicate_line_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = new_dataset(dir.path());
    let file = fixtures().join("import/conversation.jsonl");
    let first = import_paths(&dataset, &[&file]);
    assert_eq!(
        (first.imported, first.duplicates, first.quarantined),
        (16, 1, 0)
    );
    assert_eq!(
        dataset.partitions("events").unwrap(),
        vec![date("2026-10-12"), date("2026-10-13")]
    );
    let second = import_paths(&dataset, &[&file]);
    assert_eq!((second.imported, second.duplicates), (0, 17));
    let rows = dataset
        .read_event_rows(date("2026-10-13"), date("2026-10-13"))
        .unwrap();
    let vendor = rows
        .iter()
        .find(|e| e.text.as_deref() == Some("快递三天了还没到，单号查不到"))
        .unwrap();
    assert_eq!(
        vendor.extra.as_deref(),
        Some(r#"{"channel":"vendor_export_v2"}"#),
        "unknown fields land in extra"
    );
    assert!(rows.iter().any(|e| e.event_id == "m:24795423110926406"));
}

#[test]
fn callback_xml_files_import_and_bad_ones_are_quarantined_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = new_dataset(dir.path());
    let folder = fixtures().join("callback");
    let summary = import_paths(&dataset, &[&folder]);
    let files = fs::read_dir(&folder).unwrap().count() as u64;
    assert_eq!(summary.files, files);
    assert_eq!(summary.quarantined, 3);
    assert_eq!(summary.imported, files - 3);

    let records = read_quarantine(summary.quarantine_file.as_ref().unwrap()).unwrap();
    let mut reasons: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            let name = Path::new(&r.file)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            assert_eq!(
                r.bytes(),
                fs::read(&r.file).unwrap(),
                "{name} kept byte for byte"
            );
            (name, r.reason.clone())
        })
        .collect();
    reasons.sort();
    assert_eq!(reasons[0].0, "bad_missing_openid.xml");
    assert_eq!(reasons[0].1, "missing <FromUserName>");
    assert_eq!(reasons[1].0, "bad_safe_mode_encrypted.xml");
    assert!(reasons[1].1.contains("encrypted"), "{}", reasons[1].1);
    assert_eq!(reasons[2].0, "bad_truncated.xml");
    assert!(reasons[2].1.contains("XML"), "{}", reasons[2].1);

    let mut events = dataset
        .read_event_rows(date("2000-01-01"), date("2100-01-01"))
        .unwrap();
    events.sort_by(|a, b| a.ts_ms.cmp(&b.ts_ms).then(a.event_id.cmp(&b.event_id)));
    let table: Vec<String> = events
        .iter()
        .map(|e| {
            format!(
                "{} | {} | {} | {} | {} | {} | {} | {} | {}",
                e.ts().to_rfc3339(),
                e.event_id,
                e.role,
                e.kind,
                e.event.as_deref().unwrap_or("-"),
                e.agent.as_deref().unwrap_or("-"),
                e.text.as_deref().unwrap_or("-").replace('\n', "⏎"),
                e.media_id.as_deref().unwrap_or("-"),
                e.extra.as_deref().unwrap_or("-"),
            )
        })
        .collect();
    insta::assert_snapshot!("callback_fixtures_as_events", table.join("\n"));
}

#[test]
fn three_broken_lines_in_ten_thousand_are_quarantined_with_line_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let source = write_generated_jsonl(dir.path(), 1500, 10_000);
    let text = fs::read_to_string(&source).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[99] = lines[99][..lines[99].len() / 2].to_string(); // cut off mid-object
    lines[4_999] = lines[4_999].replace("\"role\":\"", "\"role\":\"customer_");
    lines[9_999] = "not json at all".to_string();
    let broken = dir.path().join("broken.jsonl");
    fs::write(&broken, lines.join("\n") + "\n").unwrap();

    let dataset = new_dataset(dir.path());
    let summary = import_paths(&dataset, &[&broken]);
    assert_eq!(
        (summary.imported + summary.duplicates, summary.quarantined),
        (9_997, 3)
    );
    assert_eq!(count_rows(&dataset) as u64, summary.imported);
    let records = read_quarantine(summary.quarantine_file.as_ref().unwrap()).unwrap();
    let found: Vec<(Option<u64>, bool)> = records
        .iter()
        .map(|r| {
            (
                r.line,
                r.bytes() == lines[r.line.unwrap() as usize - 1].as_bytes(),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![(Some(100), true), (Some(5_000), true), (Some(10_000), true)]
    );
    assert!(
        records[0].reason.contains("not a JSON object"),
        "{}",
        records[0].reason
    );
    assert!(
        records[1].reason.contains("customer_"),
        "{}",
        records[1].reason
    );
}

#[test]
fn importing_the_same_100k_event_file_twice_leaves_100k_rows() {
    let dir = tempfile::tempdir().unwrap();
    let source = write_generated_jsonl(dir.path(), 14_000, 100_000);
    let dataset = new_dataset(dir.path());
    let first = import_paths(&dataset, &[&source]);
    let second = import_paths(&dataset, &[&source]);
    assert_eq!(first.imported + first.duplicates, 100_000);
    assert_eq!(second.imported, 0);
    assert_eq!(second.duplicates, 100_000);
    assert_eq!(count_rows(&dataset) as u64, first.imported);
}

#[test]
fn an_import_killed_halfway_and_rerun_stores_every_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let source = write_generated_jsonl(dir.path(), 6_000, 40_000);
    let data = dir.path().join("data");
    let mut child = Command::new(kefu_binary())
        .args([
            "--data",
            data.to_str().unwrap(),
            "import",
            "--batch-lines",
            "2000",
        ])
        .arg(&source)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill it as soon as its first partition files are in place.
    let events_dir = data.join("events");
    let started = Instant::now();
    loop {
        let written: usize = fs::read_dir(&events_dir)
            .map(|days| {
                days.flatten()
                    .map(|day| {
                        fs::read_dir(day.path())
                            .map(|files| files.count())
                            .unwrap_or(0)
                    })
                    .sum()
            })
            .unwrap_or(0);
        if written > 0 || started.elapsed() > Duration::from_secs(60) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // Whatever is visible is whole: every file under events/ reads as Parquet.
    let dataset = Dataset::open(&data).unwrap();
    let partial = count_rows(&dataset);
    assert!(
        partial < 40_000,
        "the import was killed before it finished ({partial} rows)"
    );

    let status = Command::new(kefu_binary())
        .args(["--data", data.to_str().unwrap(), "import"])
        .arg(&source)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let rows = dataset
        .read_event_rows(date("2000-01-01"), date("2100-01-01"))
        .unwrap();
    let distinct: std::collections::HashSet<_> = rows.iter().map(|e| e.event_id.clone()).collect();
    assert_eq!(distinct.len(), rows.len(), "no event stored twice");
    let expected: std::collections::HashSet<_> = fs::read_to_string(&source)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["event_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(distinct, expected, "every event of the file is stored");
}
