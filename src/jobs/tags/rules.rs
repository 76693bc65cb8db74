//! `pipelines/rules/tags.toml`: which user statements earn which marketing tag, and which
//! only look like they do (我不是敏感肌, 帮我妈问的, 我以前是油皮). The file is data
//! marketers edit; this module validates it (every problem at once, with its line) and
//! judges one message at a time.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use anyhow::{Context, Result};
use regex::Regex;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::error::{Problems, UsageError};
use crate::text::normalize::{view_text, view_words};

/// WeChat refuses a tag name longer than 30 bytes of UTF-8 (errcode 45158): ten CJK
/// characters.
pub const MAX_TAG_NAME_BYTES: usize = 30;
/// WeChat allows at most 100 tags per account (errcode 45056), three of them reserved.
pub const MAX_TAGS: usize = 97;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TagFileSpec {
    semantics: SemanticsSpec,
    opt_out: OptOutSpec,
    #[serde(rename = "tag")]
    tags: Vec<TagSpec>,
}

/// How a statement about the user is told from one that is not. All lists are matched
/// on the normalised view (simplified, half-width, lower case, no inserted symbols).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SemanticsSpec {
    /// Characters that end a clause: negation and past tense reach only within one.
    clause_ends: String,
    /// Characters that end a sentence: a mention of someone else reaches to its end.
    sentence_ends: String,
    /// Before the phrase in its clause, these deny it (我不是敏感肌).
    negators_before: Vec<String>,
    /// After the phrase in its clause, these deny it (敏感肌不是我).
    negators_after: Vec<String>,
    /// Words holding a negator that deny nothing (有没有, 会不会).
    not_negators: Vec<String>,
    /// Before the phrase in its clause, these put it in the past (我以前是油皮).
    past: Vec<String>,
    /// Someone else (我妈, 老公, 朋友, 她): a phrase after or around one in the sentence,
    /// or followed in its clause by 是 and one (干皮是我妈), describes them.
    others: Vec<String>,
    /// Words holding an `others` word that name nobody (其他, 他们家).
    not_others: Vec<String>,
    /// Regexes: a message matching one asks for someone else (帮朋友问的), so earns
    /// nothing whatever it says.
    proxy: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OptOutSpec {
    /// A user message holding one of these opts the user out of marketing for good.
    phrases: Vec<String>,
    /// A user message that is exactly one of these (TD, 退订) opts out too; short codes
    /// would match too much inside other words.
    whole_message: Vec<String>,
    /// Words holding an opt-out phrase that are something else (退订单 is a refund).
    not_opt_out: Vec<String>,
    /// A file of openids, one a line, opted out elsewhere (a form, a phone call);
    /// relative to this file. Optional.
    list: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TagSpec {
    /// A stable id the `tags` table and the push log carry; never reuse one.
    id: Spanned<String>,
    /// The tag's name in WeChat: at most 30 bytes of UTF-8.
    name: Spanned<String>,
    #[serde(default)]
    phrases: Vec<String>,
    #[serde(default)]
    regexes: Vec<Spanned<String>>,
    /// `others` words that are this tag's own evidence (宝妈: 宝宝, 儿子).
    #[serde(default)]
    others_allowed: Vec<String>,
    /// Messages needed before the tag is given. Default 1.
    #[serde(default = "one")]
    min_evidence: u32,
    /// Days after the latest evidence that the tag lapses; none = it never does.
    expires_days: Option<u32>,
    /// Statements that must earn the tag, and statements that must not; a test runs them.
    hit: Vec<String>,
    miss: Vec<String>,
}

fn one() -> u32 {
    1
}

/// One tag, compiled.
#[derive(Debug)]
pub struct TagRule {
    pub id: String,
    pub name: String,
    pub min_evidence: u32,
    pub expires_days: Option<u32>,
    pub hit: Vec<String>,
    pub miss: Vec<String>,
    regexes: Vec<Regex>,
    others_allowed: Vec<String>,
}

#[derive(Debug)]
struct Semantics {
    clause_ends: Vec<char>,
    sentence_ends: Vec<char>,
    negators_before: Vec<String>,
    negators_after: Vec<String>,
    not_negators: Vec<String>,
    past: Vec<String>,
    others: Vec<String>,
    not_others: Vec<String>,
    proxy: Vec<Regex>,
}

#[derive(Debug)]
struct OptOut {
    phrases: Vec<String>,
    whole_message: Vec<String>,
    not_opt_out: Vec<String>,
    /// Openids from the list file.
    listed: HashSet<String>,
}

/// The compiled tag file.
#[derive(Debug)]
pub struct TagRules {
    pub path: PathBuf,
    /// A short hash of the file, so a snapshot says which rules made it.
    pub version: String,
    pub tags: Vec<TagRule>,
    semantics: Semantics,
    opt_out: OptOut,
    /// Every tag's phrases; pattern i belongs to tag `phrase_owner[i]`.
    phrases: AhoCorasick,
    phrase_owner: Vec<usize>,
}

/// Why a phrase found in a message earns nothing; `kefu` shows it in rule tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    Negated,
    Past,
    SomeoneElse,
    Proxy,
}

impl TagRules {
    /// Reads and validates a tag file; a broken file is a usage error (exit 2) listing
    /// every problem as `file:line: reason`.
    pub fn load(path: &Path) -> Result<TagRules> {
        let source = std::fs::read_to_string(path)
            .with_context(|| format!("reading the tag rule file {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        TagRules::parse(path, &source, Some(base))
    }

    /// The shipped `pipelines/rules/tags.toml`, compiled in, for `kefu demo` and the
    /// benchmarks; its opt-out list is not read.
    pub fn built_in() -> TagRules {
        TagRules::parse(
            Path::new("pipelines/rules/tags.toml (built in)"),
            include_str!("../../../pipelines/rules/tags.toml"),
            None,
        )
        .expect("the shipped tag file is valid: a test loads it")
    }

    /// Validates and compiles tag-file text. `list_base` is where a relative opt-out
    /// list resolves; None skips reading the list.
    pub fn parse(path: &Path, source: &str, list_base: Option<&Path>) -> Result<TagRules> {
        let mut problems = Problems::new(path, source);
        let spec: TagFileSpec = problems.parse_toml()?;
        let chars = |text: &str| -> Vec<char> { text.chars().collect() };
        let semantics = Semantics {
            clause_ends: chars(&spec.semantics.clause_ends),
            sentence_ends: chars(&spec.semantics.sentence_ends),
            negators_before: view_words(&spec.semantics.negators_before),
            negators_after: view_words(&spec.semantics.negators_after),
            not_negators: view_words(&spec.semantics.not_negators),
            past: view_words(&spec.semantics.past),
            others: view_words(&spec.semantics.others),
            not_others: view_words(&spec.semantics.not_others),
            proxy: spec
                .semantics
                .proxy
                .iter()
                .filter_map(|source| problems.regex(source, "", "proxy"))
                .collect(),
        };
        let listed = match (&spec.opt_out.list, list_base) {
            (Some(list), Some(base)) => read_opt_out_list(&base.join(list))?,
            _ => HashSet::new(),
        };
        let opt_out = OptOut {
            phrases: view_words(&spec.opt_out.phrases),
            whole_message: view_words(&spec.opt_out.whole_message),
            not_opt_out: view_words(&spec.opt_out.not_opt_out),
            listed,
        };

        if spec.tags.len() > MAX_TAGS {
            problems.at(
                0..0,
                format!(
                    "{} tags, but a WeChat account holds at most {MAX_TAGS} besides the reserved ones",
                    spec.tags.len()
                ),
            );
        }
        let mut tags = Vec::new();
        let mut patterns = Vec::new();
        let mut phrase_owner = Vec::new();
        let (mut ids, mut names) = (HashSet::new(), HashSet::new());
        for tag in spec.tags {
            let id = tag.id.get_ref().clone();
            if !ids.insert(id.clone()) {
                problems.at(tag.id.span(), format!("tag id `{id}` is used twice"));
            }
            let name = tag.name.get_ref().trim().to_owned();
            if name.is_empty() || name.len() > MAX_TAG_NAME_BYTES {
                problems.at(
                    tag.name.span(),
                    format!(
                        "tag `{id}`: the name `{name}` is {} bytes; WeChat takes 1 to {MAX_TAG_NAME_BYTES} bytes of UTF-8 (10 Chinese characters)",
                        name.len()
                    ),
                );
            }
            if !names.insert(name.clone()) {
                problems.at(tag.name.span(), format!("tag name `{name}` is used twice"));
            }
            if tag.phrases.is_empty() && tag.regexes.is_empty() {
                problems.at(
                    tag.id.span(),
                    format!("tag `{id}` has no phrases or regexes"),
                );
            }
            if tag.min_evidence == 0 {
                problems.at(
                    tag.id.span(),
                    format!("tag `{id}`: min_evidence must be at least 1"),
                );
            }
            for phrase in view_words(&tag.phrases) {
                patterns.push(phrase);
                phrase_owner.push(tags.len());
            }
            let regexes = tag
                .regexes
                .iter()
                .filter_map(|source| problems.regex(source, &format!("tag `{id}`: "), "match"))
                .collect();
            tags.push(TagRule {
                id,
                name,
                min_evidence: tag.min_evidence,
                expires_days: tag.expires_days,
                hit: tag.hit,
                miss: tag.miss,
                regexes,
                others_allowed: view_words(&tag.others_allowed),
            });
        }
        if !problems.found.is_empty() {
            return Err(UsageError::Invalid(format!(
                "the tag rule file has {} problem(s); nothing was run:\n{}",
                problems.found.len(),
                problems.found.join("\n")
            ))
            .into());
        }
        let phrases = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(&patterns)
            .expect("phrase lists of a tag file fit Aho-Corasick's limits");
        Ok(TagRules {
            path: path.to_owned(),
            version: hex::encode(&Sha256::digest(source.as_bytes())[..6]),
            tags,
            semantics,
            opt_out,
            phrases,
            phrase_owner,
        })
    }

    /// The tags (indexes into `tags`) a user message earns.
    pub fn earned(&self, text: &str) -> Vec<usize> {
        self.earned_in_view(&view_text(text))
    }

    /// What a user message says for the tags job: the tags it earns and whether it
    /// opts the user out, from one normalisation of the text.
    pub fn read_message(&self, text: &str) -> (Vec<usize>, bool) {
        let view = view_text(text);
        (self.earned_in_view(&view), self.opts_out_in_view(&view))
    }

    fn earned_in_view(&self, view: &str) -> Vec<usize> {
        self.judge(view)
            .into_iter()
            .filter(|(_, denied)| denied.is_none())
            .map(|(tag, _)| tag)
            .collect()
    }

    /// Every tag a phrase of the message points at, with why it earns nothing when it
    /// does not (for `hit`/`miss` tests and explaining a decision). A tag is earned when
    /// any of its matches stands.
    pub fn judge(&self, view: &str) -> Vec<(usize, Option<Denied>)> {
        let mut found: Vec<(usize, Option<Denied>)> = Vec::new();
        let mut record = |tag: usize, verdict: Option<Denied>| match found
            .iter_mut()
            .find(|(seen, _)| *seen == tag)
        {
            Some(entry) if entry.1.is_some() => entry.1 = verdict,
            Some(_) => {}
            None => found.push((tag, verdict)),
        };
        let proxy = self
            .semantics
            .proxy
            .iter()
            .any(|regex| regex.is_match(view));
        let mut spans: Vec<(usize, usize, usize)> = self
            .phrases
            .find_overlapping_iter(view)
            .map(|m| {
                (
                    self.phrase_owner[m.pattern().as_usize()],
                    m.start(),
                    m.end(),
                )
            })
            .collect();
        for (tag, rule) in self.tags.iter().enumerate() {
            for regex in &rule.regexes {
                spans.extend(regex.find_iter(view).map(|m| (tag, m.start(), m.end())));
            }
        }
        for (tag, start, end) in spans {
            let verdict = if proxy {
                Some(Denied::Proxy)
            } else {
                self.denied(view, start, end, &self.tags[tag])
            };
            record(tag, verdict);
        }
        found.sort_by_key(|(tag, _)| *tag);
        found
    }

    /// Why the match at `start..end` is not about the user now, if it is not.
    fn denied(&self, view: &str, start: usize, end: usize, tag: &TagRule) -> Option<Denied> {
        let semantics = &self.semantics;
        let clause_start = boundary_before(view, start, &semantics.clause_ends);
        let clause_end = boundary_after(view, end, &semantics.clause_ends);
        let sentence_start = boundary_before(view, start, &semantics.sentence_ends);
        // A regex may span a negator (我皮肤不敏感): what precedes the match's end counts.
        let before = &view[clause_start..end];
        let after = &view[end..clause_end];
        if holds(before, &semantics.negators_before, &semantics.not_negators)
            || holds(after, &semantics.negators_after, &semantics.not_negators)
        {
            return Some(Denied::Negated);
        }
        if holds(before, &semantics.past, &[]) {
            return Some(Denied::Past);
        }
        let others: Vec<String> = semantics
            .others
            .iter()
            .filter(|word| !tag.others_allowed.contains(word))
            .cloned()
            .collect();
        // Only `是…` after the phrase: a product name after it (宝宝湿巾) names nobody.
        let named_after = after
            .strip_prefix('是')
            .is_some_and(|rest| holds(rest, &others, &semantics.not_others));
        // The match itself counts too: a regex may span the other person (我老婆怀孕了).
        if holds(&view[sentence_start..end], &others, &semantics.not_others) || named_after {
            return Some(Denied::SomeoneElse);
        }
        None
    }

    /// Whether a user message asks to stop marketing (退订, 不要再给我推送了).
    pub fn opts_out(&self, text: &str) -> bool {
        self.opts_out_in_view(&view_text(text))
    }

    fn opts_out_in_view(&self, view: &str) -> bool {
        let opt_out = &self.opt_out;
        opt_out.whole_message.iter().any(|word| word == view)
            || holds(view, &opt_out.phrases, &opt_out.not_opt_out)
    }

    /// Whether the opt-out list file names the user.
    pub fn listed_opt_out(&self, openid: &str) -> bool {
        self.opt_out.listed.contains(openid)
    }
}

/// The byte offset just after the last boundary character before `at` (or 0).
fn boundary_before(view: &str, at: usize, ends: &[char]) -> usize {
    view[..at]
        .char_indices()
        .rev()
        .find(|(_, c)| ends.contains(c))
        .map_or(0, |(i, c)| i + c.len_utf8())
}

/// The byte offset of the first boundary character from `at` (or the end).
fn boundary_after(view: &str, at: usize, ends: &[char]) -> usize {
    view[at..]
        .char_indices()
        .find(|(_, c)| ends.contains(c))
        .map_or(view.len(), |(i, _)| at + i)
}

/// Whether `text` holds one of `words` outside every occurrence of the `unless` words
/// (有没有 holds 没 but negates nothing).
fn holds(text: &str, words: &[String], unless: &[String]) -> bool {
    let mut masked = text.to_owned();
    for word in unless {
        if masked.contains(word.as_str()) {
            masked = masked.replace(word.as_str(), "\u{1}");
        }
    }
    words.iter().any(|word| masked.contains(word.as_str()))
}

fn read_opt_out_list(path: &Path) -> Result<HashSet<String>> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading the opt-out list {} (named by [opt_out] list in the tag file)",
            path.display()
        )
    })?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect())
}
