//! The QA rule file (`pipelines/rules/qa.toml`): what each rule matches, and the shared
//! semantics (negation, quotation, ordinal and advisory words) that apply to every rule
//! of a category rather than being re-invented per rule. A file is validated whole
//! before any work starts, and every problem is reported with its file and line.

use std::fmt;
use std::path::{Path, PathBuf};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use anyhow::{Context, Result};
use regex::{Regex, RegexSet};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use super::privacy::Leak;
use crate::error::{Problems, UsageError};
use crate::model::Role;
use crate::text::normalize::normalize;

/// DESIGN.md's five QA categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    Promise,
    Rude,
    Absolute,
    Privacy,
    Deflection,
}

impl Category {
    pub const ALL: [Category; 5] = [
        Category::Promise,
        Category::Rude,
        Category::Absolute,
        Category::Privacy,
        Category::Deflection,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Promise => "promise",
            Category::Rude => "rude",
            Category::Absolute => "absolute",
            Category::Privacy => "privacy",
            Category::Deflection => "deflection",
        }
    }

    pub fn parse(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Negation and quotation cancel only claims: a negated promise is no promise, but
    /// a rude phrase stays rude whatever surrounds it.
    pub fn is_claim(self) -> bool {
        matches!(self, Category::Promise | Category::Absolute)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }

    fn parse(name: &str) -> Option<Severity> {
        [Severity::Low, Severity::Medium, Severity::High]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

// ---- the file as written ------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFileSpec {
    semantics: SemanticsSpec,
    #[serde(default, rename = "rule")]
    rules: Vec<Spanned<RuleSpec>>,
}

/// The built-in semantics, as word lists users can extend. All lists are matched on
/// the normalised view (simplified, half-width, lower case, no inserted symbols).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SemanticsSpec {
    /// Characters that end a clause; negation and quotation reach only within one.
    clause_ends: String,
    /// Negators that cancel a claim when they stand before it in its clause.
    negators_before: Vec<String>,
    /// Negators that cancel a claim when they follow it in its clause, with at least
    /// one character between (终身免费是不可能的). One right after the claim belongs
    /// to what is claimed (保证没有副作用).
    negators_after: Vec<String>,
    /// Words that contain a negator but negate nothing (不用担心, 不好意思).
    not_negators: Vec<String>,
    /// Words that introduce what the user said (您说的…): a claim after them in the
    /// clause is the user's, quoted.
    quote_openers: Vec<String>,
    /// Ordinal, estimate and advice words (第一步, 最晚, 最好您先): an absolute that
    /// overlaps one is not a claim.
    not_absolute: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: Spanned<String>,
    category: Spanned<String>,
    severity: Spanned<String>,
    description: String,
    /// Roles the rule reads; agent replies by default.
    #[serde(default = "default_roles")]
    roles: Vec<Spanned<String>>,
    /// Phrases found anywhere in the view (Aho-Corasick).
    #[serde(default)]
    phrases: Vec<String>,
    /// Regular expressions over the view.
    #[serde(default)]
    regexes: Vec<Spanned<String>>,
    /// A phrase of `a` and one of `b`, in either order, at most `within` characters apart.
    #[serde(default)]
    near: Vec<NearSpec>,
    /// A match followed later in its clause by one of these is dropped.
    #[serde(default)]
    not_followed_by: Vec<String>,
    /// Regular expressions; a match overlapping one of theirs is dropped.
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    /// A built-in validated detector instead of patterns: mobile, id_number,
    /// bank_card or address.
    privacy: Option<Spanned<String>>,
    /// A whole-reply rule instead of patterns (deflection).
    whole_reply: Option<WholeReplySpec>,
    /// Sentences the rule must flag, and sentences it must not; a test runs them all.
    hit: Vec<String>,
    miss: Vec<String>,
}

fn default_roles() -> Vec<Spanned<String>> {
    vec![Spanned::new(0..0, "agent".to_owned())]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NearSpec {
    a: Vec<String>,
    b: Vec<String>,
    within: usize,
}

/// A reply made only of pointers elsewhere and courtesy.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WholeReplySpec {
    /// Regular expressions for pointing elsewhere (请参考, 详见, 以…为准).
    pointers: Vec<Spanned<String>>,
    /// How many characters may stand before the pointer in its clause (a topic such
    /// as 加盟相关 or 具体).
    max_topic_chars: usize,
    /// Whole clauses of courtesy (您好, 亲), and words stripped from a clause's ends.
    courtesy: Vec<String>,
    /// A clause starting with one of these is courtesy (谢谢…, 祝您…).
    courtesy_starts: Vec<String>,
}

// ---- the compiled rules --------------------------------------------------------------

/// What a rule looks for.
#[derive(Debug)]
pub enum Detector {
    Patterns {
        near: Vec<usize>,
        not_followed_by: Vec<String>,
        exclude: Vec<Regex>,
    },
    Privacy(Leak),
    WholeReply(WholeReply),
}

#[derive(Debug)]
pub struct WholeReply {
    pub pointers: Regex,
    pub max_topic_chars: usize,
    pub courtesy: Vec<String>,
    pub courtesy_starts: Vec<String>,
}

#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub category: Category,
    pub severity: Severity,
    pub description: String,
    pub roles: Vec<Role>,
    pub detector: Detector,
    pub hit: Vec<String>,
    pub miss: Vec<String>,
}

#[derive(Debug)]
pub struct Semantics {
    pub clause_ends: Vec<char>,
    pub negators_before: Vec<String>,
    pub negators_after: Vec<String>,
    pub not_negators: Vec<String>,
    pub quote_openers: Vec<String>,
    pub not_absolute: Vec<String>,
}

/// Which part of a rule an Aho-Corasick pattern belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Part {
    Phrase,
    NearA(usize),
    NearB(usize),
}

/// A validated, compiled rule file.
#[derive(Debug)]
pub struct Rules {
    pub path: PathBuf,
    /// The first 12 hex digits of the file's SHA-256: every flag records it, so a
    /// review verdict is read against the rules that made the flag.
    pub version: String,
    pub rules: Vec<Rule>,
    pub semantics: Semantics,
    pub(super) phrases: AhoCorasick,
    pub(super) phrase_owners: Vec<(usize, Part)>,
    pub(super) regex_set: RegexSet,
    pub(super) regexes: Vec<(usize, Regex)>,
    /// `within` of each rule's `near` entries, indexed as `Part::NearA/B` say.
    pub(super) near_within: Vec<usize>,
}

impl Rules {
    /// Reads and validates a rule file; a broken file is a usage error (exit 2) that
    /// lists every problem found, each as `file:line: reason`.
    pub fn load(path: &Path) -> Result<Rules> {
        let source = std::fs::read_to_string(path)
            .with_context(|| format!("reading the QA rule file {}", path.display()))?;
        Rules::parse(path, &source)
    }

    /// Validates and compiles rule-file text; `path` names it in errors.
    pub fn parse(path: &Path, source: &str) -> Result<Rules> {
        let mut problems = Problems::new(path, source);
        let spec: RuleFileSpec = problems.parse_toml()?;
        let compiled = compile(spec, &mut problems);
        if !problems.found.is_empty() {
            return Err(UsageError::Invalid(format!(
                "the QA rule file has {} problem(s); nothing was run:\n{}",
                problems.found.len(),
                problems.found.join("\n")
            ))
            .into());
        }
        let mut rules = compiled.expect("no problems means everything compiled");
        rules.path = path.to_owned();
        rules.version = hex::encode(&Sha256::digest(source.as_bytes())[..6]);
        Ok(rules)
    }

    /// The rule file shipped in `pipelines/rules/qa.toml`, compiled in, for `kefu demo`
    /// and runs from a folder without one.
    pub fn built_in() -> Rules {
        Rules::parse(
            Path::new("pipelines/rules/qa.toml (built in)"),
            include_str!("../../../pipelines/rules/qa.toml"),
        )
        .expect("the shipped rule file is valid: a test loads it")
    }

    pub fn rule(&self, index: usize) -> &Rule {
        &self.rules[index]
    }
}

fn normalized(words: &[String]) -> Vec<String> {
    words.iter().map(|word| normalize(word).text).collect()
}

fn compile(spec: RuleFileSpec, problems: &mut Problems) -> Option<Rules> {
    let semantics = Semantics {
        clause_ends: normalize(&spec.semantics.clause_ends)
            .text
            .chars()
            .chain(spec.semantics.clause_ends.chars())
            .collect(),
        negators_before: normalized(&spec.semantics.negators_before),
        negators_after: normalized(&spec.semantics.negators_after),
        not_negators: normalized(&spec.semantics.not_negators),
        quote_openers: normalized(&spec.semantics.quote_openers),
        not_absolute: normalized(&spec.semantics.not_absolute),
    };
    let mut rules = Vec::new();
    let mut patterns: Vec<String> = Vec::new();
    let mut phrase_owners = Vec::new();
    let mut regex_sources = Vec::new();
    let mut regexes = Vec::new();
    let mut near_within = Vec::new();
    let mut seen_ids = std::collections::HashSet::new();

    for spanned in spec.rules {
        let rule_span = spanned.span();
        let spec = spanned.into_inner();
        let index = rules.len();
        let id = spec.id.get_ref().clone();
        if !seen_ids.insert(id.clone()) {
            problems.at(spec.id.span(), format!("rule id `{id}` is used twice"));
        }
        let category = Category::parse(spec.category.get_ref());
        if category.is_none() {
            problems.at(
                spec.category.span(),
                format!(
                    "rule `{id}`: unknown category `{}` (one of promise, rude, absolute, privacy, deflection)",
                    spec.category.get_ref()
                ),
            );
        }
        let severity = Severity::parse(spec.severity.get_ref());
        if severity.is_none() {
            problems.at(
                spec.severity.span(),
                format!(
                    "rule `{id}`: unknown severity `{}` (one of low, medium, high)",
                    spec.severity.get_ref()
                ),
            );
        }
        let mut roles = Vec::new();
        for role in &spec.roles {
            match role.get_ref().as_str() {
                "agent" => roles.push(Role::Agent),
                "bot" => roles.push(Role::Bot),
                other => problems.at(
                    if role.span().is_empty() {
                        rule_span.clone()
                    } else {
                        role.span()
                    },
                    format!(
                        "rule `{id}`: QA reads replies, so roles are agent or bot, not `{other}`"
                    ),
                ),
            }
        }
        let exclude: Vec<Regex> = spec
            .exclude
            .iter()
            .filter_map(|source| problems.regex(source, &format!("rule `{id}`: "), "exclude"))
            .collect();
        for source in &spec.regexes {
            if let Some(regex) = problems.regex(source, &format!("rule `{id}`: "), "match") {
                regex_sources.push(source.get_ref().clone());
                regexes.push((index, regex));
            }
        }
        let kinds = [
            !spec.phrases.is_empty() || !spec.regexes.is_empty() || !spec.near.is_empty(),
            spec.privacy.is_some(),
            spec.whole_reply.is_some(),
        ];
        let detector = match kinds {
            [true, false, false] => {
                for phrase in normalized(&spec.phrases) {
                    patterns.push(phrase);
                    phrase_owners.push((index, Part::Phrase));
                }
                let mut near = Vec::new();
                for entry in &spec.near {
                    let slot = near_within.len();
                    near_within.push(entry.within);
                    near.push(slot);
                    for (terms, part) in
                        [(&entry.a, Part::NearA(slot)), (&entry.b, Part::NearB(slot))]
                    {
                        for term in normalized(terms) {
                            patterns.push(term);
                            phrase_owners.push((index, part));
                        }
                    }
                }
                Some(Detector::Patterns {
                    near,
                    not_followed_by: normalized(&spec.not_followed_by),
                    exclude,
                })
            }
            [false, true, false] => {
                let name = spec.privacy.as_ref().expect("checked above");
                let leak = match name.get_ref().as_str() {
                    "mobile" => Some(Leak::Mobile),
                    "id_number" => Some(Leak::IdNumber),
                    "bank_card" => Some(Leak::BankCard),
                    "address" => Some(Leak::Address),
                    other => {
                        problems.at(
                            name.span(),
                            format!("rule `{id}`: unknown privacy detector `{other}` (mobile, id_number, bank_card or address)"),
                        );
                        None
                    }
                };
                leak.map(Detector::Privacy)
            }
            [false, false, true] => {
                let whole = spec.whole_reply.as_ref().expect("checked above");
                let mut alternatives = Vec::new();
                for pointer in &whole.pointers {
                    if problems
                        .regex(pointer, &format!("rule `{id}`: "), "pointer")
                        .is_some()
                    {
                        alternatives.push(format!("(?:{})", pointer.get_ref()));
                    }
                }
                Regex::new(&alternatives.join("|")).ok().map(|pointers| {
                    Detector::WholeReply(WholeReply {
                        pointers,
                        max_topic_chars: whole.max_topic_chars,
                        courtesy: normalized(&whole.courtesy),
                        courtesy_starts: normalized(&whole.courtesy_starts),
                    })
                })
            }
            _ => {
                problems.at(
                    rule_span.clone(),
                    format!("rule `{id}`: give exactly one of phrases/regexes/near, privacy, or whole_reply"),
                );
                None
            }
        };
        if spec.hit.is_empty() || spec.miss.is_empty() {
            problems.at(
                rule_span.clone(),
                format!("rule `{id}`: give at least one `hit` and one `miss` example sentence"),
            );
        }
        if let (Some(category), Some(severity), Some(detector)) = (category, severity, detector) {
            rules.push(Rule {
                id,
                category,
                severity,
                description: spec.description,
                roles,
                detector,
                hit: spec.hit,
                miss: spec.miss,
            });
        }
    }
    if patterns.iter().any(String::is_empty) {
        problems.at(
            0..0,
            "a phrase is empty once normalised (only spaces or symbols)",
        );
    }
    if !problems.found.is_empty() {
        return None;
    }
    // A DFA: more memory than the default automaton, but every reply of the night is
    // scanned, and the rule file's few hundred phrases keep it small.
    let phrases = AhoCorasickBuilder::new()
        .match_kind(MatchKind::Standard)
        .kind(Some(AhoCorasickKind::DFA))
        .build(&patterns)
        .expect("phrase lists of a rule file fit Aho-Corasick's limits");
    let regex_set = RegexSet::new(&regex_sources).expect("each regex compiled alone");
    Some(Rules {
        path: PathBuf::new(),
        version: String::new(),
        rules,
        semantics,
        phrases,
        phrase_owners,
        regex_set,
        regexes,
        near_within,
    })
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
