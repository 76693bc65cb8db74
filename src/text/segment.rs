//! The one place kefu calls jieba-rs: a segmenter built once from the user dictionary
//! and stopword list in `pipelines/dict/` (files users edit, not code) and shared by the
//! rayon workers of the segment, topics and tags jobs.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{Context, Result};
use jieba_rs::{Jieba, KeywordExtract, KeywordExtractConfig, TfIdf};
use rustc_hash::{FxHashMap, FxHashSet};

use super::normalize::view_text;
use crate::error::UsageError;

/// A word with a letter or ideograph in it, not only digits or punctuation. Runs once
/// per token, so the common case (a word starting with a CJK ideograph, U+4E00..U+9FFF,
/// whose UTF-8 lead byte says so) is decided from its first two bytes without decoding.
fn says_something(word: &str) -> bool {
    let bytes = word.as_bytes();
    match bytes {
        [] => false,
        [0xE5..=0xE9, ..] | [0xE4, 0xB8..=0xBF, ..] => true,
        [first, ..] if first.is_ascii_alphabetic() => true,
        _ => word.chars().any(char::is_alphabetic),
    }
}

/// The stopword list, looked up once per token. Stopwords are short (了, 的, 一下,
/// 请问), so each one of at most seven bytes is kept as a `u64` of its bytes and length,
/// and a token is checked with one integer hash instead of hashing and comparing a
/// string.
struct Stopwords {
    short: FxHashSet<u64>,
    long: FxHashSet<String>,
    /// As the file lists them, for jieba's keyword extractor.
    listed: Vec<String>,
}

impl Stopwords {
    fn new(listed: Vec<String>) -> Stopwords {
        let (mut short, mut long) = (FxHashSet::default(), FxHashSet::default());
        for word in &listed {
            match packed(word) {
                Some(key) => {
                    short.insert(key);
                }
                None => {
                    long.insert(word.clone());
                }
            }
        }
        Stopwords {
            short,
            long,
            listed,
        }
    }

    fn contains(&self, word: &str) -> bool {
        match packed(word) {
            Some(key) => self.short.contains(&key),
            None => self.long.contains(word),
        }
    }
}

/// A word of 1 to 7 bytes as a `u64`: its bytes, and its length in the top byte.
fn packed(word: &str) -> Option<u64> {
    let bytes = word.as_bytes();
    if bytes.is_empty() || bytes.len() > 7 {
        return None;
    }
    let mut key = [0u8; 8];
    key[..bytes.len()].copy_from_slice(bytes);
    key[7] = bytes.len() as u8;
    Some(u64::from_le_bytes(key))
}

/// A character jieba never cuts into a word with its neighbours, and that the word
/// filter would drop as a token of its own: ASCII, general (“…” —) and CJK punctuation
/// and white space.
/// jieba-rs cuts each maximal run of ideographs, ASCII letters and digits and
/// `+#&._%-` by itself and gives every other character a token of its own (its
/// `cut_each`), so a text's words are its clauses' words, in order. The property test
/// below holds this to jieba's cut of the whole text.
fn separates_clauses(c: char) -> bool {
    if c.is_ascii() {
        !c.is_ascii_alphanumeric() && !matches!(c, '+' | '#' | '&' | '.' | '_' | '%' | '-')
    } else {
        matches!(c, '\u{2000}'..='\u{206F}' | '\u{3000}'..='\u{303F}' | '\u{FF00}'..='\u{FFEF}')
            && !c.is_alphanumeric()
    }
}

/// The clauses of `view` with their byte offsets: maximal runs without a separator.
fn clauses(view: &str) -> impl Iterator<Item = (u32, &str)> {
    view.split(separates_clauses)
        .filter(|clause| !clause.is_empty())
        .map(move |clause| {
            let offset = clause.as_ptr() as usize - view.as_ptr() as usize;
            (offset as u32, clause)
        })
}

/// Clauses already cut, with their kept word spans (relative to the clause), for one
/// worker of the segment job. Bounded: past `MOST_CLAUSES` or `MOST_SPANS` it starts
/// again.
#[derive(Default)]
pub struct ClauseMemo {
    spans_of: FxHashMap<Box<str>, (u32, u32)>,
    spans: Vec<(u32, u32)>,
    /// The message being cut: its words so far.
    words: Vec<(u32, u32)>,
}

impl ClauseMemo {
    /// With `MOST_SPANS`, about 50 MB per worker at the most.
    const MOST_CLAUSES: usize = 1 << 19;
    const MOST_SPANS: usize = 1 << 21;

    fn forget(&mut self) {
        self.spans_of.clear();
        self.spans.clear();
    }
}

/// A message's words: byte spans of its matching view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words {
    view: String,
    spans: Vec<(u32, u32)>,
}

impl Words {
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.spans
            .iter()
            .map(|&(start, end)| &self.view[start as usize..end as usize])
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }
}

pub struct Segmenter {
    jieba: Jieba,
    /// jieba's TF-IDF extractor with its bundled IDF table, built on first use: only
    /// the topics job scores keywords, and loading the table costs a few hundred ms.
    tfidf: OnceLock<TfIdf>,
    stopwords: Stopwords,
}

/// Lines that carry something: not blank, not a `#` comment.
fn entries(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
}

impl Segmenter {
    /// Reads the user dictionary and the stopword list, naming file and line of any
    /// mistake.
    pub fn load(userdict: &Path, stopwords: &Path) -> Result<Segmenter> {
        let read = |path: &Path| {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
        };
        Segmenter::from_texts(
            &read(userdict)?,
            &userdict.display().to_string(),
            &read(stopwords)?,
        )
    }

    /// The dictionaries shipped in `pipelines/dict/`, compiled in, for `kefu demo` and
    /// benchmarks that must run from any folder.
    pub fn built_in() -> Result<Segmenter> {
        Segmenter::from_texts(
            include_str!("../../pipelines/dict/userdict.txt"),
            "pipelines/dict/userdict.txt (built in)",
            include_str!("../../pipelines/dict/stopwords.txt"),
        )
    }

    /// Builds a segmenter from the two files' contents; `userdict_name` names the
    /// dictionary in errors.
    pub fn from_texts(userdict: &str, userdict_name: &str, stopwords: &str) -> Result<Segmenter> {
        let mut jieba = Jieba::new();
        for (line_number, line) in entries(userdict) {
            let mut fields = line.split_whitespace();
            let word = fields.next().unwrap_or_default();
            // jieba ignores a word without a frequency, and a known word re-listed
            // without one loses its entry: refuse the line instead of guessing.
            let frequency = fields
                .next()
                .and_then(|f| f.parse::<usize>().ok())
                .ok_or_else(|| {
                    UsageError::Invalid(format!(
                    "{userdict_name}:{line_number}: `{line}` needs a frequency, e.g. `{word} 3000`"
                ))
                })?;
            jieba.add_word(word, Some(frequency), fields.next());
        }
        let stopwords = Stopwords::new(
            entries(stopwords)
                .map(|(_, word)| word.to_string())
                .collect(),
        );
        Ok(Segmenter {
            jieba,
            tfidf: OnceLock::new(),
            stopwords,
        })
    }

    /// The words of a message that say something: its matching view (folded, noise
    /// removed) cut by jieba, without stopwords, punctuation or digits-only tokens.
    pub fn tokens(&self, text: &str) -> Vec<String> {
        let words = self.words(text);
        words.iter().map(str::to_owned).collect()
    }

    /// The same words as [`Segmenter::tokens`], as spans of one view string: the
    /// segment job cuts millions of messages, and a String per word cost more than
    /// jieba's cut itself.
    pub fn words(&self, text: &str) -> Words {
        let view = view_text(text);
        let mut spans = Vec::new();
        self.kept_spans(&view, |start, end| spans.push((start, end)));
        Words { view, spans }
    }

    /// The same words as [`Segmenter::words`], cutting only the clauses `memo` has not
    /// seen: a greeting, a quick reply's sentence or a product name recurs in messages
    /// that are not themselves repeats, and jieba is most of the segment job's work.
    pub fn words_remembering(&self, text: &str, memo: &mut ClauseMemo) -> Words {
        let view = view_text(text);
        memo.words.clear();
        for (offset, clause) in clauses(&view) {
            let known = match memo.spans_of.get(clause) {
                Some(&known) => known,
                None => {
                    if memo.spans_of.len() >= ClauseMemo::MOST_CLAUSES
                        || memo.spans.len() >= ClauseMemo::MOST_SPANS
                    {
                        memo.forget();
                    }
                    let first = memo.spans.len() as u32;
                    self.kept_spans(clause, |start, end| memo.spans.push((start, end)));
                    let known = (first, memo.spans.len() as u32);
                    memo.spans_of.insert(clause.into(), known);
                    known
                }
            };
            let (first, last) = (known.0 as usize, known.1 as usize);
            memo.words.extend(
                memo.spans[first..last]
                    .iter()
                    .map(|&(start, end)| (start + offset, end + offset)),
            );
        }
        // One allocation of the right size, where pushing word by word grew the
        // vector several times.
        let spans = memo.words.clone();
        Words { view, spans }
    }

    /// Hands the byte span of each word of `view` that says something and is not a
    /// stopword to `keep`.
    fn kept_spans(&self, view: &str, mut keep: impl FnMut(u32, u32)) {
        for token in self.jieba.cut(view, true) {
            if says_something(token.word) && !self.stopwords.contains(token.word) {
                keep(token.byte_start as u32, token.byte_end as u32);
            }
        }
    }

    /// Every keyword of `document` with its TF-IDF weight (term frequency in the
    /// document × jieba's IDF for general Chinese), highest first. Stopwords and
    /// one-character words are left out.
    pub fn keywords(&self, document: &str) -> Vec<(String, f64)> {
        let tfidf = self.tfidf.get_or_init(|| {
            let mut extractor = TfIdf::default();
            *extractor.config_mut() = KeywordExtractConfig::builder()
                .set_stop_words(self.stopwords.listed.iter().cloned().collect())
                .build();
            extractor
        });
        tfidf
            .extract_keywords(&self.jieba, document, usize::MAX, Vec::new())
            .into_iter()
            .map(|keyword| (keyword.keyword, keyword.weight))
            .collect()
    }

    /// jieba's `cut` of the text as written, and nothing else: the baseline that
    /// `kefu bench --text` holds the jobs against. Returns the token count.
    pub fn bare_cut(&self, text: &str) -> usize {
        self.jieba.cut(text, true).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Segmenter {
        let dict = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/dict");
        Segmenter::load(&dict.join("userdict.txt"), &dict.join("stopwords.txt")).unwrap()
    }

    #[test]
    fn domain_words_stay_whole_and_filler_goes() {
        let segmenter = shipped();
        let tokens = segmenter.tokens("您好，我是敏感肌，这款洁面乳能用吗？支持七天无理由吗");
        assert!(tokens.contains(&"敏感肌".to_string()), "{tokens:?}");
        assert!(tokens.contains(&"七天无理由".to_string()), "{tokens:?}");
        assert!(tokens.contains(&"洁面乳".to_string()), "{tokens:?}");
        for filler in ["您好", "我", "吗", "，", "？"] {
            assert!(
                !tokens.contains(&filler.to_string()),
                "{filler} in {tokens:?}"
            );
        }
    }

    #[test]
    fn tokens_come_from_the_matching_view() {
        let tokens = shipped().tokens("會員日 有 優惠券 嗎");
        assert!(tokens.contains(&"会员日".to_string()), "{tokens:?}");
        assert!(tokens.contains(&"优惠券".to_string()), "{tokens:?}");
    }

    fn built_in_once() -> &'static Segmenter {
        static SEGMENTER: OnceLock<Segmenter> = OnceLock::new();
        SEGMENTER.get_or_init(|| Segmenter::built_in().unwrap())
    }

    proptest::proptest! {
        /// Cutting clause by clause through a shared memo gives every text the words
        /// jieba's cut of the whole view gives it, on texts whose clauses recur, with
        /// jieba's word characters (`+#&._%-`) and the separators (ASCII and CJK
        /// punctuation, white space, `\r\n`) inside and between them.
        #[test]
        fn remembered_clauses_give_the_words_of_the_whole_text(
            texts in proptest::collection::vec(
                "[我是敏感肌这款能用吗支持七天无理由退货会员日优惠券亲您好的了會員a-zA-Z0-9+#&._%\\-@ ,!?;:()，。！？、「」“”…—\r\n\u{3000}éか😊]{0,30}",
                1..12,
            )
        ) {
            let segmenter = built_in_once();
            let mut memo = ClauseMemo::default();
            // Cut, then remembered, then cut again after the memo forgot.
            for pass in 0..3 {
                if pass == 2 {
                    memo.forget();
                }
                for text in &texts {
                    proptest::prop_assert_eq!(
                        segmenter.words_remembering(text, &mut memo),
                        segmenter.words(text),
                        "{:?}",
                        text
                    );
                }
            }
        }
    }

    #[test]
    fn a_dictionary_line_without_a_frequency_is_refused_with_file_and_line() {
        let err = Segmenter::from_texts("# comment\n敏感肌 3000 n\n保证\n", "userdict.txt", "")
            .err()
            .unwrap();
        let message = format!("{err:#}");
        assert!(
            message.contains("userdict.txt:3") && message.contains("保证 3000"),
            "{message}"
        );
        assert!(err.downcast_ref::<UsageError>().is_some());
    }
}
