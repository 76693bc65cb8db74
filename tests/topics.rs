//! The topics job: a golden run over a small fixture week, and planted spikes found in
//! a generated month while the ordinary swings of small numbers are not called rises.

use std::collections::HashSet;

use kefu::jobs::segment;
use kefu::jobs::topics::{self, Taxonomy, TopicsSection};
use kefu::sql::{OutputFormat, SqlSession};
use kefu::text::segment::Segmenter;

use crate::common::{dataset_with, date, lock, new_dataset, repo_file};

fn segmenter() -> Segmenter {
    Segmenter::load(
        &repo_file("pipelines/dict/userdict.txt"),
        &repo_file("pipelines/dict/stopwords.txt"),
    )
    .unwrap()
}

fn taxonomy() -> Taxonomy {
    Taxonomy::load(&repo_file("pipelines/rules/topics.toml")).unwrap()
}

#[test]
fn a_week_of_questions_gives_topics_and_top_questions_a_manager_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let (dataset, lock) = dataset_with(dir.path(), "topics/conversations.jsonl");
    let segmenter = segmenter();
    for day in date("2026-10-05").iter_days().take(8) {
        segment::run(&dataset, &lock, day, &segmenter).unwrap();
    }
    let (from, to) = (date("2026-10-12"), date("2026-10-12"));
    let section = TopicsSection::default();
    let done =
        topics::run_range(&dataset, &lock, from, to, &segmenter, &taxonomy(), &section).unwrap();
    assert!(done.rising >= 1, "{done:?}");

    let session = SqlSession::open(&dataset).unwrap();
    let mut out = Vec::new();
    for query in [
        "SELECT coalesce(term, '(category)') AS term, category, count, users, rank, round(trend, 2) AS trend, rising \
         FROM topics WHERE dt = DATE '2026-10-12' AND (rank <= 12 OR rising OR term IS NULL) \
         ORDER BY term IS NULL, rank",
        "SELECT example, count, users, category FROM top_questions WHERE dt = DATE '2026-10-12' ORDER BY count DESC, example",
    ] {
        session.run(query, OutputFormat::Csv, &mut out).unwrap();
    }
    insta::assert_snapshot!("topics_fixture_day", String::from_utf8(out).unwrap());

    // The spike rises; the coupon question going 2 → 4 does not; nothing before the
    // data began counts as a zero.
    let rows = rows_of(&dataset, "2026-10-12");
    let rising: HashSet<&str> = rows
        .iter()
        .filter(|(_, _, rising)| *rising)
        .map(|(term, _, _)| term.as_str())
        .collect();
    assert!(rising.contains("漏送"), "{rising:?}");
    assert!(rising.contains("外卖"), "{rising:?}");
    assert!(!rising.contains("优惠券"), "{rising:?}");
}

fn rows_of(dataset: &kefu::store::Dataset, day: &str) -> Vec<(String, u32, bool)> {
    use arrow::array::{Array, BooleanArray, StringArray, UInt32Array};
    let mut rows = Vec::new();
    for batch in dataset.read_partition("topics", date(day)).unwrap() {
        let term = batch
            .column_by_name("term")
            .unwrap()
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        let count = batch
            .column_by_name("count")
            .unwrap()
            .as_any()
            .downcast_ref::<UInt32Array>()
            .unwrap();
        let rising = batch
            .column_by_name("rising")
            .unwrap()
            .as_any()
            .downcast_ref::<BooleanArray>()
            .unwrap();
        for row in 0..batch.num_rows() {
            if term.is_valid(row) {
                rows.push((
                    term.value(row).to_owned(),
                    count.value(row),
                    rising.value(row),
                ));
            }
        }
    }
    rows
}

#[test]
fn planted_spikes_rise_and_ordinary_days_stay_quiet() {
    let dir = tempfile::tempdir().unwrap();
    let dataset = new_dataset(dir.path());
    let lock = lock(&dataset);
    let config = kefu::gen::GenConfig {
        users: 3000,
        days: 30,
        seed: 11,
        ..kefu::gen::GenConfig::default()
    };
    let generated = kefu::commands::generate_into(&dataset, &lock, &config, false).unwrap();
    assert!(!generated.truth.spikes.is_empty());
    let segmenter = segmenter();
    let last = config.start + chrono::Duration::days(i64::from(config.days) - 1);
    for day in config.start.iter_days().take_while(|day| *day <= last) {
        segment::run(&dataset, &lock, day, &segmenter).unwrap();
    }
    let section = TopicsSection::default();
    topics::run_range(
        &dataset,
        &lock,
        config.start,
        last,
        &segmenter,
        &taxonomy(),
        &section,
    )
    .unwrap();

    for spike in &generated.truth.spikes {
        let words: HashSet<String> = segmenter.tokens(&spike.question).into_iter().collect();
        let rows = rows_of(&dataset, &spike.date.to_string());
        let rising: Vec<&String> = rows
            .iter()
            .filter(|(term, _, rising)| *rising && words.contains(term))
            .map(|(term, _, _)| term)
            .collect();
        assert!(
            !rising.is_empty(),
            "spike {spike:?}: none of its words {words:?} rose"
        );
        let session = SqlSession::open(&dataset).unwrap();
        let mut out = Vec::new();
        session
            .run(
                &format!("SELECT example FROM top_questions WHERE dt = DATE '{}' ORDER BY count DESC LIMIT 1", spike.date),
                OutputFormat::Csv,
                &mut out,
            )
            .unwrap();
        assert!(
            String::from_utf8(out).unwrap().contains(&spike.question),
            "the spike question leads its day's top questions"
        );
    }
    // Small numbers never rise, and nothing rises without at least doubling.
    for day in config.start.iter_days().take_while(|day| *day <= last) {
        for (term, count, rising) in rows_of(&dataset, &day.to_string()) {
            if rising {
                assert!(
                    count >= section.trend.min_count,
                    "{day} {term} rose on {count}"
                );
            }
        }
    }
}
