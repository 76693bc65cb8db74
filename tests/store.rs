//! The event store: partitioning by local date, dedupe on write, compaction, the lock
//! and the manifest's fixed zone.

use std::time::Duration;

use kefu::error::{exit_code_for, UsageError};
use kefu::store::{Dataset, EventWriter};

use crate::common::{date, lock, new_dataset, user_text};

#[test]
fn events_land_in_the_partition_of_their_shanghai_date() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = new_dataset(dir.path());
    let lock = lock(&dataset);
    // 23:30 in Shanghai is 15:30 UTC the same day; 00:30 is the previous UTC day.
    let events = vec![
        user_text("o1", "2026-10-12T23:30:00+08:00", "还在吗"),
        user_text("o1", "2026-10-13T00:30:00+08:00", "人呢"),
    ];
    let summary = EventWriter::new(&dataset, &lock).append(events).unwrap();
    assert_eq!(summary.written, 2);
    assert_eq!(
        dataset.partitions("events").unwrap(),
        vec![date("2026-10-12"), date("2026-10-13")]
    );
    let day = dataset
        .read_event_rows(date("2026-10-13"), date("2026-10-13"))
        .unwrap();
    assert_eq!(day.len(), 1);
    assert_eq!(day[0].text.as_deref(), Some("人呢"));
}

#[test]
fn a_second_append_of_the_same_events_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = new_dataset(dir.path());
    let lock = lock(&dataset);
    let events: Vec<_> = (0..50)
        .map(|i| {
            user_text(
                "o1",
                &format!("2026-10-12T10:{:02}:00+08:00", i),
                &format!("问题{i}"),
            )
        })
        .collect();
    let first = EventWriter::new(&dataset, &lock)
        .append(events.clone())
        .unwrap();
    assert_eq!((first.written, first.duplicates), (50, 0));
    // A fresh writer has no memory of the first: dedupe must come from the store.
    let second = EventWriter::new(&dataset, &lock).append(events).unwrap();
    assert_eq!((second.written, second.duplicates), (0, 50));
    assert_eq!(
        dataset
            .read_event_rows(date("2026-10-12"), date("2026-10-12"))
            .unwrap()
            .len(),
        50
    );
}

#[test]
fn within_one_batch_the_first_copy_of_an_id_wins() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = new_dataset(dir.path());
    let lock = lock(&dataset);
    let first = user_text("o1", "2026-10-12T10:00:00+08:00", "第一份");
    let mut second = user_text("o1", "2026-10-12T10:00:05+08:00", "第二份");
    second.event_id = first.event_id.clone();
    let summary = EventWriter::new(&dataset, &lock)
        .append(vec![first, second])
        .unwrap();
    assert_eq!((summary.written, summary.duplicates), (1, 1));
    let rows = dataset
        .read_event_rows(date("2026-10-12"), date("2026-10-12"))
        .unwrap();
    assert_eq!(rows[0].text.as_deref(), Some("第一份"));
}

#[test]
fn compaction_merges_a_partition_into_one_sorted_file() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = new_dataset(dir.path());
    let lock = lock(&dataset);
    for minute in [30, 10, 20] {
        let event = user_text(
            "o1",
            &format!("2026-10-12T10:{minute}:00+08:00"),
            &format!("第{minute}分"),
        );
        EventWriter::new(&dataset, &lock)
            .append(vec![event])
            .unwrap();
    }
    let day = date("2026-10-12");
    assert_eq!(dataset.partition_files("events", day).unwrap().len(), 3);
    let summary = dataset.compact_events(&lock, [day]).unwrap();
    assert_eq!(
        (summary.partitions, summary.files_before, summary.rows),
        (1, 3, 3)
    );
    assert_eq!(dataset.partition_files("events", day).unwrap().len(), 1);
    let texts: Vec<_> = dataset
        .read_event_rows(day, day)
        .unwrap()
        .into_iter()
        .map(|e| e.text.unwrap())
        .collect();
    assert_eq!(texts, ["第10分", "第20分", "第30分"]);
    // Nothing staged is left behind, and the dedupe set still sees the compacted rows.
    let again = user_text("o1", "2026-10-12T10:10:00+08:00", "第10分");
    assert_eq!(
        EventWriter::new(&dataset, &lock)
            .append(vec![again])
            .unwrap()
            .duplicates,
        1
    );
    assert!(
        std::fs::read_dir(dataset.scratch_dir())
            .map(|d| d.count())
            .unwrap_or(0)
            == 0
    );
}

#[test]
fn a_second_writer_fails_with_the_holder_named() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = new_dataset(dir.path());
    let _held = lock(&dataset);
    let err = dataset
        .lock("import", Duration::from_millis(300))
        .unwrap_err();
    let message = format!("{err:#}");
    assert!(
        message.contains("another kefu command is writing"),
        "{message}"
    );
    assert!(
        message.contains(&format!("pid {}", std::process::id())),
        "{message}"
    );
}

#[test]
fn the_zone_is_fixed_when_the_dataset_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let created = Dataset::open_or_create(&root, Some("Asia/Tokyo")).unwrap();
    assert_eq!(created.manifest().timezone, "Asia/Tokyo");
    assert!(Dataset::open_or_create(&root, Some("Asia/Tokyo")).is_ok());
    assert_eq!(
        Dataset::open_or_create(&root, None)
            .unwrap()
            .manifest()
            .timezone,
        "Asia/Tokyo"
    );
    let err = Dataset::open_or_create(&root, Some("Asia/Shanghai")).unwrap_err();
    assert!(matches!(
        err.downcast_ref::<UsageError>(),
        Some(UsageError::ZoneMismatch { .. })
    ));
    assert_eq!(exit_code_for(&err), 2);
    let err = Dataset::open_or_create(&dir.path().join("other"), Some("Mars/Olympus")).unwrap_err();
    assert_eq!(exit_code_for(&err), 2);
}

#[test]
fn opening_a_folder_without_a_dataset_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let err = Dataset::open(dir.path()).unwrap_err();
    assert!(format!("{err}").contains("kefu gen"));
    assert_eq!(exit_code_for(&err), 2);
}

#[test]
fn many_partitions_compact_in_parallel_without_colliding() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = new_dataset(dir.path());
    let lock = lock(&dataset);
    let mut writer = EventWriter::new(&dataset, &lock);
    let days: Vec<String> = (1..=28).map(|day| format!("2026-02-{day:02}")).collect();
    for round in 0..3 {
        let events = days
            .iter()
            .map(|day| user_text("o1", &format!("{day}T10:00:0{round}+08:00"), "在吗"))
            .collect();
        writer.append(events).unwrap();
    }
    let summary = dataset
        .compact_events(&lock, dataset.partitions("events").unwrap())
        .unwrap();
    assert_eq!(
        (summary.partitions, summary.files_before, summary.rows),
        (28, 84, 84)
    );
    for day in dataset.partitions("events").unwrap() {
        assert_eq!(
            dataset.partition_files("events", day).unwrap().len(),
            1,
            "{day}"
        );
    }
}

/// Appends from fresh writers in quick succession used to share a file name within
/// one millisecond, and the second file replaced the first. Every row must survive.
#[test]
fn quick_appends_from_fresh_writers_keep_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = new_dataset(dir.path());
    let lock = lock(&dataset);
    for second in 0..40 {
        let event = user_text(
            "o1",
            &format!("2026-10-12T10:00:{second:02}+08:00"),
            &format!("第{second}条"),
        );
        EventWriter::new(&dataset, &lock)
            .append(vec![event])
            .unwrap();
    }
    let day = date("2026-10-12");
    assert_eq!(dataset.partition_files("events", day).unwrap().len(), 40);
    assert_eq!(dataset.read_event_rows(day, day).unwrap().len(), 40);
}
