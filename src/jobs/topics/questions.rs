//! Top questions: a day's user questions, near-identical wordings grouped (怎么还没发货
//! / 怎么还没发货啊？？ / 为什么还没发货), each group with a count and its most common
//! wording. Grouping is MinHash over character pairs of the normalised text, with an
//! LSH index (gaoya), so a day of questions is grouped without comparing every pair.

use std::collections::{HashMap, HashSet};

use gaoya::minhash::{MinHashIndex, MinHasher, MinHasher32};
use serde::Deserialize;

use super::Taxonomy;
use crate::model::TopQuestion;
use crate::text::normalize::view_text;

/// `[topics.questions]` of the pipeline file.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QuestionSettings {
    /// Groups kept per day, the most asked first. Default 50.
    pub keep: usize,
    /// A group asked fewer times is left out. Default 2.
    pub min_count: u32,
    /// Questions shorter than this many characters (after normalising) are left out:
    /// 在吗 is not a question worth a row. Default 4.
    pub min_chars: usize,
    /// Estimated Jaccard similarity of character pairs above which two wordings are
    /// one question. Default 0.6.
    pub similarity: f64,
}

impl Default for QuestionSettings {
    fn default() -> QuestionSettings {
        QuestionSettings {
            keep: 50,
            min_count: 2,
            min_chars: 4,
            similarity: 0.6,
        }
    }
}

/// Words that make a message a question even without a question mark.
const QUESTION_WORDS: [&str; 16] = [
    "吗",
    "呢",
    "么",
    "怎么",
    "什么",
    "如何",
    "多久",
    "哪",
    "几",
    "能不能",
    "可不可以",
    "是不是",
    "有没有",
    "为什么",
    "为啥",
    "咋",
];

/// The LSH shape: 25 bands of 4 hashes find a pair of similarity 0.6 with
/// probability ≈ 0.97 and one of 0.3 with ≈ 0.2 (then rejected by the estimate).
const BANDS: usize = 25;
const BAND_WIDTH: usize = 4;

/// A question, or a problem stated at some length (发票开不出来，一直提示失败): what a
/// customer wants answered. Short courtesy (好的谢谢) is neither.
const STATEMENT_MIN_CHARS: usize = 8;

pub fn is_question(view: &str) -> bool {
    view.contains('?')
        || QUESTION_WORDS.iter().any(|word| view.contains(word))
        || view.chars().filter(|c| c.is_alphanumeric()).count() >= STATEMENT_MIN_CHARS
}

/// The wording with everything but letters and digits removed: the identity of a
/// question before near-duplicates are merged.
fn key_of(view: &str) -> String {
    view.chars().filter(|c| c.is_alphanumeric()).collect()
}

fn pairs(key: &str) -> Vec<(char, char)> {
    let chars: Vec<char> = key.chars().collect();
    chars.windows(2).map(|pair| (pair[0], pair[1])).collect()
}

struct Wording<'a> {
    key: String,
    count: u32,
    users: HashSet<&'a str>,
    /// Original texts by how often they were written.
    texts: HashMap<&'a str, u32>,
}

/// Groups the day's questions, `(openid, text)` pairs, into at most `settings.keep`
/// rows, most asked first; ties go to the alphabetically first example, so a rerun
/// gives the same rows.
pub fn top_questions<'a>(
    asked: impl IntoIterator<Item = (&'a str, &'a str)>,
    taxonomy: &Taxonomy,
    settings: &QuestionSettings,
) -> Vec<TopQuestion> {
    let mut by_key: HashMap<String, Wording<'a>> = HashMap::new();
    for (openid, text) in asked {
        let view = view_text(text);
        if !is_question(&view) {
            continue;
        }
        let key = key_of(&view);
        if key.chars().count() < settings.min_chars {
            continue;
        }
        let wording = by_key.entry(key.clone()).or_insert_with(|| Wording {
            key,
            count: 0,
            users: HashSet::new(),
            texts: HashMap::new(),
        });
        wording.count += 1;
        wording.users.insert(openid);
        *wording.texts.entry(text.trim()).or_default() += 1;
    }
    let mut wordings: Vec<Wording> = by_key.into_values().collect();
    wordings.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));

    // The most asked wording of each group stands for it in the index; every other
    // wording joins the most similar representative, or starts a group.
    let hasher = MinHasher32::new(BANDS * BAND_WIDTH);
    let mut index: MinHashIndex<u32, usize> =
        MinHashIndex::new(BANDS, BAND_WIDTH, settings.similarity);
    let mut groups: Vec<Vec<usize>> = Vec::new();
    let mut group_of_representative: HashMap<usize, usize> = HashMap::new();
    for (position, wording) in wordings.iter().enumerate() {
        let signature = hasher.create_signature(pairs(&wording.key).into_iter());
        match index.query_one(&signature) {
            Some((representative, _)) => {
                groups[group_of_representative[representative]].push(position);
            }
            None => {
                group_of_representative.insert(position, groups.len());
                groups.push(vec![position]);
                index.insert(position, signature);
            }
        }
    }

    let mut rows: Vec<TopQuestion> = groups
        .iter()
        .map(|members| {
            let count = members.iter().map(|&m| wordings[m].count).sum();
            let users: HashSet<&str> = members
                .iter()
                .flat_map(|&m| wordings[m].users.iter().copied())
                .collect();
            let lead = &wordings[members[0]];
            let example = lead
                .texts
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                .map(|(text, _)| (*text).to_owned())
                .unwrap_or_default();
            let category = taxonomy
                .category_in(&lead.key)
                .map(|index| taxonomy.categories[index].name.clone());
            TopQuestion {
                example,
                count,
                users: users.len() as u32,
                category,
            }
        })
        .filter(|row| row.count >= settings.min_count)
        .collect();
    rows.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.example.cmp(&b.example))
    });
    rows.truncate(settings.keep);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_identical_wordings_are_one_question() {
        let asked = [
            ("u1", "我的快递怎么还没发货"),
            ("u2", "我的快递怎么还没发货啊？？"),
            ("u3", "我的快递怎么还没发货"),
            ("u1", "我的快递怎么还没发货"),
            ("u4", "我的快递为什么还没发货"),
            ("u5", "会员积分怎么突然清零了？"),
            ("u6", "会员积分怎么突然清零了"),
            ("u7", "在吗"),
            ("u8", "好的谢谢"),
        ];
        let rows = top_questions(asked, &Taxonomy::built_in(), &QuestionSettings::default());
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0].example, "我的快递怎么还没发货");
        assert_eq!((rows[0].count, rows[0].users), (5, 4));
        assert_eq!(rows[0].category.as_deref(), Some("物流"));
        assert_eq!((rows[1].count, rows[1].users), (2, 2));
        assert_eq!(rows[1].category.as_deref(), Some("会员"));
    }

    #[test]
    fn different_questions_stay_apart() {
        let asked = [
            ("u1", "优惠券怎么领不了了"),
            ("u2", "优惠券怎么领不了了"),
            ("u3", "发票开不出来，一直提示失败"),
            ("u4", "发票开不出来，一直提示失败"),
            ("u5", "订单怎么被自动取消了"),
            ("u6", "订单怎么被自动取消了"),
        ];
        let rows = top_questions(asked, &Taxonomy::built_in(), &QuestionSettings::default());
        assert_eq!(rows.len(), 3, "{rows:?}");
        assert!(rows.iter().all(|row| row.count == 2));
    }
}
