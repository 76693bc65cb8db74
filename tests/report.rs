//! The report over a small fixture: golden `report.json` and `summary.md`, the HTML's
//! sections, and no unmasked phone or ID number in anything written.

use kefu::config::PipelineConfig;
use kefu::jobs::qa::{self, Reviews, Rules};
use kefu::jobs::tags::{self, TagRules};
use kefu::jobs::topics::{self, Taxonomy};
use kefu::jobs::{segment, sla};
use kefu::outputs::report;
use kefu::text::segment::Segmenter;

use crate::common::{dataset_with, date, repo_file};

/// A run of 11 digits starting 1[3-9] with no digit or decimal point on either side:
/// what a mainland mobile number looks like in text.
fn unmasked_mobiles(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let run: String = chars[start..i].iter().collect();
            let after_point = start > 0 && chars[start - 1] == '.';
            if run.len() == 11 && run.starts_with('1') && !after_point && run.as_bytes()[1] >= b'3'
            {
                found.push(run);
            }
        } else {
            i += 1;
        }
    }
    found
}

#[test]
fn the_report_for_a_fixture_day_reads_right_and_leaks_no_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let (dataset, lock) = dataset_with(dir.path(), "topics/conversations.jsonl");
    let pipeline = PipelineConfig::load(&repo_file("pipelines/nightly.toml")).unwrap();
    let segmenter =
        Segmenter::load(&pipeline.segment.userdict, &pipeline.segment.stopwords).unwrap();
    let rules = Rules::load(&pipeline.qa.rules).unwrap();
    let (first, day) = (date("2026-10-05"), date("2026-10-12"));
    for d in first.iter_days().take_while(|d| *d <= day) {
        segment::run(&dataset, &lock, d, &segmenter).unwrap();
        qa::run(&dataset, &lock, d, &rules, &Reviews::default()).unwrap();
    }
    sla::run_range(&dataset, &lock, first, day, &pipeline.sla, None).unwrap();
    let taxonomy = Taxonomy::load(&pipeline.topics.taxonomy).unwrap();
    topics::run_range(
        &dataset,
        &lock,
        day,
        day,
        &segmenter,
        &taxonomy,
        &pipeline.topics,
    )
    .unwrap();
    let tag_rules = TagRules::load(&pipeline.tags.rules).unwrap();
    tags::run_range(&dataset, &lock, first, day, &tag_rules, 730).unwrap();

    let out = dir.path().join("reports");
    let written =
        report::write_report(&dataset, day, &out, Some(&repo_file("sql")), &pipeline.sla).unwrap();
    assert_eq!(written, out.join("2026-10-12"));
    let read = |name: &str| std::fs::read_to_string(written.join(name)).unwrap();
    insta::assert_snapshot!("report_json", read("report.json"));
    insta::assert_snapshot!("report_summary_md", read("summary.md"));

    let html = read("index.html");
    for section in [
        "id=\"headline\"",
        "id=\"volume\"",
        "id=\"first-response\"",
        "id=\"agents\"",
        "id=\"qa-flags\"",
        "id=\"topics\"",
        "id=\"categories\"",
        "id=\"questions\"",
        "id=\"tags\"",
        "id=\"rule-precision\"",
        "<svg",
        "<mark>",
    ] {
        assert!(html.contains(section), "the page lacks {section}");
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing fetched"
    );
    let mut files = vec![
        written.join("index.html"),
        written.join("summary.md"),
        written.join("report.json"),
        written.join("qa_flags.csv"),
    ];
    for entry in std::fs::read_dir(written.join("tags")).unwrap() {
        files.push(entry.unwrap().path());
    }
    assert!(files.len() > 5, "tag exports written: {files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert_eq!(
            unmasked_mobiles(&text),
            Vec::<String>::new(),
            "{}",
            file.display()
        );
        assert!(!text.contains("110105199003071239"), "{}", file.display());
    }
    let csv = std::fs::read(written.join("qa_flags.csv")).unwrap();
    assert!(csv.starts_with(kefu::outputs::export::BOM));
    assert!(String::from_utf8(csv).unwrap().contains("139****5678"));
}
