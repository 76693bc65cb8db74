//! The QA evaluation set (`fixtures/qa/`): its shape, and the detectors scored on it.

use std::collections::HashSet;
use std::fs;

use kefu::jobs::qa::privacy;
use kefu::text::normalize::normalize;
use serde::Deserialize;

use crate::common::fixtures;

const CATEGORIES: [&str; 5] = ["promise", "rude", "absolute", "privacy", "deflection"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    user: String,
    reply: String,
    expected: Vec<String>,
    why: String,
}

fn evaluation_set() -> Vec<(String, usize, Case)> {
    let mut cases = Vec::new();
    let mut files: Vec<_> = fs::read_dir(fixtures().join("qa"))
        .unwrap()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .collect();
    files.sort();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for (index, line) in fs::read_to_string(&path).unwrap().lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let case: Case = serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("{name}:{}: {err}", index + 1));
            cases.push((name.clone(), index + 1, case));
        }
    }
    cases
}

#[test]
fn the_evaluation_set_has_the_promised_size_and_shape() {
    let cases = evaluation_set();
    assert!(cases.len() >= 400, "{} labelled replies", cases.len());
    let clean = cases
        .iter()
        .filter(|(_, _, case)| case.expected.is_empty())
        .count();
    assert!(clean >= 150, "{clean} clean replies");
    let mut replies = HashSet::new();
    for (name, line, case) in &cases {
        assert!(
            replies.insert(case.reply.as_str()),
            "{name}:{line}: a repeated reply"
        );
        assert!(
            !case.user.is_empty() && !case.why.is_empty(),
            "{name}:{line}"
        );
        for category in &case.expected {
            assert!(
                CATEGORIES.contains(&category.as_str()),
                "{name}:{line}: {category}"
            );
        }
    }
    for category in CATEGORIES {
        let count = cases
            .iter()
            .filter(|(_, _, case)| case.expected.iter().any(|c| c == category))
            .count();
        assert!(count >= 40, "{category}: {count} cases");
    }
}

#[test]
fn the_privacy_detector_scores_on_the_evaluation_set() {
    let (mut true_positive, mut false_positive, mut false_negative) = (0, 0, 0);
    let mut mistakes = Vec::new();
    for (name, line, case) in evaluation_set() {
        let expected = case.expected.iter().any(|c| c == "privacy");
        let found = !privacy::find(&normalize(&case.reply)).is_empty();
        match (expected, found) {
            (true, true) => true_positive += 1,
            (false, true) => {
                false_positive += 1;
                mistakes.push(format!("false alarm {name}:{line}: {}", case.reply));
            }
            (true, false) => {
                false_negative += 1;
                mistakes.push(format!("missed {name}:{line}: {}", case.reply));
            }
            (false, false) => {}
        }
    }
    let precision = f64::from(true_positive) / f64::from((true_positive + false_positive).max(1));
    let recall = f64::from(true_positive) / f64::from((true_positive + false_negative).max(1));
    println!("privacy: precision {precision:.3}, recall {recall:.3} ({true_positive} found)");
    for mistake in &mistakes {
        println!("  {mistake}");
    }
    assert!(
        precision >= 0.9 && recall >= 0.85,
        "precision {precision:.3}, recall {recall:.3}:\n{}",
        mistakes.join("\n")
    );
}
