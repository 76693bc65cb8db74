//! Deflection is a property of the whole reply: it points elsewhere (请参考…, 详见…,
//! 以…为准) and says nothing else but courtesy. A pointer inside a reply that also
//! answers is good service, so no phrase alone can decide it.

use super::rules::{Semantics, WholeReply};

/// Whether every clause of the view is courtesy or a pointer, with at least one pointer.
pub fn only_points_elsewhere(rule: &WholeReply, view: &[char], semantics: &Semantics) -> bool {
    let mut pointers = 0;
    for clause in view.split(|c| semantics.clause_ends.contains(c) || *c == '.') {
        let clause = strip_courtesy(rule, &clause.iter().collect::<String>());
        if clause.is_empty() || is_thanks(rule, &clause) {
            continue;
        }
        match rule.pointers.find(&clause) {
            Some(found) if clause[..found.start()].chars().count() <= rule.max_topic_chars => {
                pointers += 1;
            }
            _ => return false,
        }
    }
    pointers > 0
}

fn is_thanks(rule: &WholeReply, clause: &str) -> bool {
    rule.courtesy_starts
        .iter()
        .any(|start| clause.starts_with(start.as_str()))
}

/// The clause without courtesy words at either end (亲, 您好, 哦, 哈…), repeatedly.
fn strip_courtesy(rule: &WholeReply, clause: &str) -> String {
    let mut clause = clause.trim();
    loop {
        if is_thanks(rule, clause) {
            return clause.to_owned();
        }
        let before = clause.len();
        for word in &rule.courtesy {
            clause = clause.strip_prefix(word.as_str()).unwrap_or(clause);
            clause = clause.strip_suffix(word.as_str()).unwrap_or(clause);
        }
        clause = clause.trim();
        if clause.len() == before {
            return clause.to_owned();
        }
    }
}
