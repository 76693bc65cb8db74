//! The store read back by DuckDB and polars, and `kefu sql`'s views.

use kefu::sql::{OutputFormat, SqlSession};
use polars::prelude::*;

use crate::common::{fixture_dataset, lock};

#[test]
fn duckdb_reads_the_events_folder_as_a_hive_partitioned_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = fixture_dataset(dir.path());
    let connection = duckdb::Connection::open_in_memory().unwrap();
    let glob = dataset.table_dir("events").join("*/*.parquet");
    let sql = format!(
        "SELECT CAST(dt AS VARCHAR), count(*) FROM read_parquet('{}', hive_partitioning = true) GROUP BY 1 ORDER BY 1",
        glob.display()
    );
    let mut statement = connection.prepare(&sql).unwrap();
    let rows: Vec<(String, i64)> = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        vec![
            ("2026-10-12".to_string(), 11),
            ("2026-10-13".to_string(), 5)
        ]
    );
}

#[test]
fn polars_scans_the_events_folder_with_hive_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = fixture_dataset(dir.path());
    let glob = dataset.table_dir("events").join("**/*.parquet");
    let args = ScanArgsParquet {
        hive_options: HiveOptions::new_enabled(),
        ..Default::default()
    };
    let frame = LazyFrame::scan_parquet(PlRefPath::new(glob.to_str().unwrap()), args)
        .unwrap()
        .group_by([col("dt")])
        .agg([len().alias("rows")])
        .sort(["dt"], Default::default())
        .collect()
        .unwrap();
    assert_eq!(frame.height(), 2);
    let rows: Vec<u32> = frame
        .column("rows")
        .unwrap()
        .u32()
        .unwrap()
        .into_no_null_iter()
        .collect();
    assert_eq!(rows, vec![11, 5]);
    let ts_type = LazyFrame::scan_parquet(
        PlRefPath::new(glob.to_str().unwrap()),
        ScanArgsParquet::default(),
    )
    .unwrap()
    .collect_schema()
    .unwrap()
    .get("ts")
    .cloned()
    .unwrap();
    assert!(
        matches!(ts_type, DataType::Datetime(TimeUnit::Milliseconds, Some(_))),
        "{ts_type:?}"
    );
}

#[test]
fn the_events_view_adds_shanghai_local_time() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = fixture_dataset(dir.path());
    let session = SqlSession::open(&dataset).unwrap();
    assert_eq!(session.tables(), ["events"]);
    let mut out = Vec::new();
    session
        .run(
            "SELECT strftime(local_ts, '%Y-%m-%d %H:%M:%S') AS local, CAST(dt AS VARCHAR) AS dt, text \
             FROM events WHERE text = '凌晨还能退款吗'",
            OutputFormat::Csv,
            &mut out,
        )
        .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "local,dt,text\n2026-10-13 23:55:00,2026-10-13,凌晨还能退款吗\n"
    );
}

#[test]
fn a_zone_with_daylight_saving_gets_the_right_offset_on_each_side() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data");
    let dataset = kefu::store::Dataset::open_or_create(&root, Some("Europe/Berlin")).unwrap();
    let lock = lock(&dataset);
    // 2026-10-25 03:00 CEST becomes 02:00 CET.
    let events = vec![
        crate::common::user_text("o1", "2026-10-24T12:00:00Z", "summer"),
        crate::common::user_text("o1", "2026-10-26T12:00:00Z", "winter"),
    ];
    kefu::store::EventWriter::new(&dataset, &lock)
        .append(events)
        .unwrap();
    let session = SqlSession::open(&dataset).unwrap();
    let mut out = Vec::new();
    session
        .run(
            "SELECT text, strftime(local_ts, '%H:%M') AS local FROM events ORDER BY ts",
            OutputFormat::Csv,
            &mut out,
        )
        .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "text,local\nsummer,14:00\nwinter,13:00\n"
    );
}
