//! The segment job over a fixture store: tokens per text message, a rerun that writes
//! the same bytes, and the `tokens` view joining `events` in DuckDB.

use std::fs;
use std::path::Path;

use kefu::jobs::segment;
use kefu::sql::SqlSession;
use kefu::text::segment::Segmenter;

use crate::common::{date, fixture_dataset, lock};

fn shipped_segmenter() -> Segmenter {
    let dict = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/dict");
    Segmenter::load(&dict.join("userdict.txt"), &dict.join("stopwords.txt")).unwrap()
}

#[test]
fn a_day_of_messages_becomes_tokens_and_a_rerun_writes_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = fixture_dataset(dir.path());
    let lock = lock(&dataset);
    let segmenter = shipped_segmenter();
    let day = date("2026-10-12");
    let summary = segment::run(&dataset, &lock, day, &segmenter).unwrap();
    assert!(
        summary.messages >= 5 && summary.tokens > summary.messages,
        "{summary:?}"
    );

    let files = dataset.partition_files("tokens", day).unwrap();
    assert_eq!(files.len(), 1);
    let first_run = fs::read(&files[0]).unwrap();
    segment::run(&dataset, &lock, day, &segmenter).unwrap();
    let files = dataset.partition_files("tokens", day).unwrap();
    assert_eq!(files.len(), 1, "the rerun replaced the partition");
    assert_eq!(
        fs::read(&files[0]).unwrap(),
        first_run,
        "same inputs, same bytes"
    );

    drop(lock);
    let session = SqlSession::open(&dataset).unwrap();
    let words: Vec<String> = {
        let mut statement = session
            .connection()
            .prepare(
                "SELECT DISTINCT unnest(t.tokens) FROM tokens t JOIN events e USING (event_id)
                 WHERE e.role = 'user' AND t.dt = DATE '2026-10-12' ORDER BY 1",
            )
            .unwrap();
        statement
            .query_map([], |row| row.get::<_, String>(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert!(words.contains(&"敏感肌".to_string()), "{words:?}");
    assert!(
        !words.contains(&"吗".to_string()),
        "stopwords are gone: {words:?}"
    );
}
