//! The pure core of the qa job: one reply and the rules in, the flags out, with every
//! match that the built-in semantics cancelled kept beside them so `kefu qa check` can
//! say why a phrase did not count.

use std::cell::OnceCell;
use std::collections::BTreeMap;

use super::deflection;
use super::privacy;
use super::rules::{Category, Detector, Part, Rules, Severity};
use crate::model::Role;
use crate::text::normalize::{normalize, view_text, Normalized};

/// One flag: a rule's match, as a span of the original reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub rule: usize,
    pub rule_id: String,
    pub category: Category,
    pub severity: Severity,
    /// Unicode scalar offsets into the original reply, end exclusive.
    pub start_char: usize,
    pub end_char: usize,
    /// The original text of the span, as the agent wrote it.
    pub matched: String,
    /// The folds the match needed ("" when it matched as written).
    pub normalisation: String,
}

/// A match the semantics cancelled, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled {
    pub rule_id: String,
    pub matched: String,
    pub reason: String,
}

/// Everything the rules made of one reply.
#[derive(Debug)]
pub struct Check {
    pub normalized: Normalized,
    pub hits: Vec<Hit>,
    pub cancelled: Vec<Cancelled>,
}

/// A candidate match, in view characters.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
}

impl Rules {
    /// The flags of one reply written by `role`: what the qa job keeps of a check.
    /// Most replies match nothing, so a quick scan of the view decides first whether
    /// the full check (with its map back to the original) is worth building.
    pub fn hits(&self, reply: &str, role: Role) -> Vec<Hit> {
        // Nothing to find in a reply no rule reads: the bot's, with the shipped rules.
        if !self.rules.iter().any(|rule| rule.roles.contains(&role)) {
            return Vec::new();
        }
        if self.might_match(&view_text(reply)) {
            self.check(reply, role).hits
        } else {
            Vec::new()
        }
    }

    /// Whether anything could fire on this view: a phrase, a regex, a leak the privacy
    /// detector finds, or a reply that only points elsewhere.
    pub fn might_match(&self, view: &str) -> bool {
        if self.phrases.is_match(view) || self.regex_set.is_match(view) {
            return true;
        }
        let mut leaks = None;
        self.rules.iter().any(|rule| match &rule.detector {
            Detector::Patterns { .. } => false,
            Detector::Privacy(leak) => leaks
                .get_or_insert_with(|| privacy::find(view))
                .iter()
                .any(|finding| finding.leak == *leak),
            Detector::WholeReply(whole) => {
                whole.pointers.is_match(view)
                    && deflection::only_points_elsewhere(
                        whole,
                        &view.chars().collect::<Vec<_>>(),
                        &self.semantics,
                    )
            }
        })
    }

    /// Checks one reply written by `role`, keeping what `kefu qa check` explains: the
    /// view, the flags, and the matches the semantics cancelled.
    pub fn check(&self, reply: &str, role: Role) -> Check {
        let normalized = normalize(reply);
        // Most replies match nothing; the character view is built only for those that do.
        let view_cell = OnceCell::new();
        let view = || view_cell.get_or_init(|| View::new(&normalized, reply));
        let mut candidates: BTreeMap<usize, Vec<Span>> = BTreeMap::new();
        let applies = |rule: usize| self.rules[rule].roles.contains(&role);

        // Phrases and the two halves of `near` pairs, in one pass.
        let mut near_sides: BTreeMap<(usize, usize), (Vec<Span>, Vec<Span>)> = BTreeMap::new();
        for found in self.phrases.find_overlapping_iter(&normalized.text) {
            let (rule, part) = self.phrase_owners[found.pattern().as_usize()];
            if !applies(rule) {
                continue;
            }
            let span = view().span(found.start(), found.end());
            match part {
                Part::Phrase => candidates.entry(rule).or_default().push(span),
                Part::NearA(slot) => near_sides.entry((rule, slot)).or_default().0.push(span),
                Part::NearB(slot) => near_sides.entry((rule, slot)).or_default().1.push(span),
            }
        }
        for ((rule, slot), (a_side, b_side)) in near_sides {
            let within = self.near_within[slot];
            for a in &a_side {
                for b in &b_side {
                    // Characters between the two; overlapping halves are 0 apart.
                    let gap = b
                        .start
                        .saturating_sub(a.end)
                        .max(a.start.saturating_sub(b.end));
                    if gap <= within {
                        candidates.entry(rule).or_default().push(Span {
                            start: a.start.min(b.start),
                            end: a.end.max(b.end),
                        });
                    }
                }
            }
        }
        if !self.regexes.is_empty() {
            for index in self.regex_set.matches(&normalized.text).iter() {
                let (rule, regex) = &self.regexes[index];
                if !applies(*rule) {
                    continue;
                }
                for found in regex.find_iter(&normalized.text) {
                    if found.start() < found.end() {
                        candidates
                            .entry(*rule)
                            .or_default()
                            .push(view().span(found.start(), found.end()));
                    }
                }
            }
        }

        // Every leak the privacy detector finds, once for all privacy rules; a leak
        // needs digits, so a reply without any skips it.
        let leaks = if normalized.text.bytes().any(|b| b.is_ascii_digit()) {
            privacy::find(&normalized.text)
        } else {
            Vec::new()
        };
        let mut hits = Vec::new();
        let mut cancelled = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            if !applies(index) {
                continue;
            }
            let spans = match &rule.detector {
                Detector::Patterns { .. } => candidates.remove(&index).unwrap_or_default(),
                Detector::Privacy(leak) => leaks
                    .iter()
                    .filter(|finding| finding.leak == *leak)
                    .map(|finding| Span {
                        start: finding.start,
                        end: finding.end,
                    })
                    .collect(),
                Detector::WholeReply(whole) => {
                    if whole.pointers.is_match(&normalized.text)
                        && deflection::only_points_elsewhere(whole, &view().chars, &self.semantics)
                    {
                        vec![Span {
                            start: 0,
                            end: view().chars.len(),
                        }]
                    } else {
                        Vec::new()
                    }
                }
            };
            for span in merge(spans) {
                let view = view();
                match self.cancel_reason(index, view, span) {
                    Some(reason) => cancelled.push(Cancelled {
                        rule_id: rule.id.clone(),
                        matched: view.original_text(span),
                        reason,
                    }),
                    None => {
                        let (start_char, end_char) = normalized.original_span(span.start, span.end);
                        hits.push(Hit {
                            rule: index,
                            rule_id: rule.id.clone(),
                            category: rule.category,
                            severity: rule.severity,
                            start_char,
                            end_char,
                            matched: view.original_text(span),
                            normalisation: normalized.folds_of(span.start, span.end).describe(),
                        });
                    }
                }
            }
        }
        hits.sort_by(|a, b| (a.start_char, &a.rule_id).cmp(&(b.start_char, &b.rule_id)));
        Check {
            normalized,
            hits,
            cancelled,
        }
    }

    /// Why a candidate does not count, if it does not: the rule's own exclusions first,
    /// then the built-in semantics of its category.
    fn cancel_reason(&self, rule: usize, view: &View, span: Span) -> Option<String> {
        let rule = &self.rules[rule];
        let semantics = &self.semantics;
        let (clause_start, clause_end) = view.clause(span, &semantics.clause_ends);
        if let Detector::Patterns {
            not_followed_by,
            exclude,
            ..
        } = &rule.detector
        {
            let rest = view.text(span.end, clause_end);
            if let Some(word) = not_followed_by
                .iter()
                .find(|word| rest.contains(word.as_str()))
            {
                return Some(format!("followed by {word} in the same clause"));
            }
            let clause = view.text(clause_start, clause_end);
            for regex in exclude {
                for found in regex.find_iter(&clause) {
                    let start = clause_start + clause[..found.start()].chars().count();
                    let end = start + found.as_str().chars().count();
                    if start < span.end && span.start < end {
                        return Some(format!(
                            "excluded by the rule's pattern ({})",
                            found.as_str()
                        ));
                    }
                }
            }
        }
        if !rule.category.is_claim() {
            return None;
        }
        if rule.category == Category::Absolute {
            if let Some(word) =
                view.containing(span, clause_start, clause_end, &semantics.not_absolute)
            {
                return Some(format!(
                    "{word} is an ordinal, estimate or advice, not an absolute"
                ));
            }
        }
        if view.is_quoted(span) {
            return Some("inside quotation marks: the user's words, quoted".to_owned());
        }
        let before = view.text(clause_start, span.start);
        if let Some(opener) = semantics
            .quote_openers
            .iter()
            .find(|w| before.contains(w.as_str()))
        {
            return Some(format!("quotes the user ({opener}…)"));
        }
        let masked = view.masked(clause_start, clause_end, &semantics.not_negators);
        for negator in &semantics.negators_before {
            // Only negators that start before the claim: one starting inside it is part
            // of the claimed phrase (绝对不会), one running into it negates it (不承诺).
            if find_unmasked(&masked, clause_start, negator, clause_start, span.start).is_some() {
                return Some(format!("negated by {negator} earlier in the clause"));
            }
        }
        for negator in &semantics.negators_after {
            // Right after the claim, a negator is part of what is claimed (保证没有副作用).
            if find_unmasked(&masked, clause_start, negator, span.end + 1, clause_end).is_some() {
                return Some(format!("negated by {negator} later in the clause"));
            }
        }
        None
    }
}

/// The first occurrence of `word` starting within `[from, to)` (view characters) in a
/// clause whose masked characters (`None`) may not take part.
fn find_unmasked(
    masked: &[Option<char>],
    clause_start: usize,
    word: &str,
    from: usize,
    to: usize,
) -> Option<usize> {
    let word: Vec<char> = word.chars().collect();
    let clause_end = clause_start + masked.len();
    let to = to.min(clause_end);
    (from.max(clause_start)..to).find(|&at| {
        at + word.len() <= clause_end
            && word
                .iter()
                .enumerate()
                .all(|(i, c)| masked[at - clause_start + i] == Some(*c))
    })
}

/// Overlapping candidates of one rule become one span.
fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by_key(|span| (span.start, span.end));
    let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start < last.end => last.end = last.end.max(span.end),
            _ => merged.push(span),
        }
    }
    merged
}

/// The view as characters, with what the semantics need to ask of it.
pub(super) struct View<'a> {
    pub chars: Vec<char>,
    /// Byte offset of each view character, plus the end.
    byte_starts: Vec<usize>,
    normalized: &'a Normalized,
    original: Vec<char>,
}

impl<'a> View<'a> {
    fn new(normalized: &'a Normalized, original: &str) -> View<'a> {
        let mut chars = Vec::with_capacity(normalized.source.len());
        let mut byte_starts = Vec::with_capacity(normalized.source.len() + 1);
        for (at, c) in normalized.text.char_indices() {
            chars.push(c);
            byte_starts.push(at);
        }
        byte_starts.push(normalized.text.len());
        View {
            chars,
            byte_starts,
            normalized,
            original: original.chars().collect(),
        }
    }

    /// A byte span of the view text as a character span.
    fn span(&self, start: usize, end: usize) -> Span {
        Span {
            start: self.byte_starts.partition_point(|&b| b < start),
            end: self.byte_starts.partition_point(|&b| b < end),
        }
    }

    fn text(&self, start: usize, end: usize) -> String {
        self.chars[start.min(end)..end].iter().collect()
    }

    fn original_text(&self, span: Span) -> String {
        let (start, end) = self.normalized.original_span(span.start, span.end);
        self.original[start..end].iter().collect()
    }

    /// The clause around a span: from after the last clause end before it to the first
    /// clause end after it. A '.' between letters or digits (NO.1, 4.5) ends nothing.
    fn clause(&self, span: Span, ends: &[char]) -> (usize, usize) {
        let is_end = |i: usize| {
            let c = self.chars[i];
            if c == '.' {
                let next = self.chars.get(i + 1);
                return !next.is_some_and(|n| n.is_ascii_alphanumeric());
            }
            ends.contains(&c)
        };
        let start = (0..span.start)
            .rev()
            .find(|&i| is_end(i))
            .map_or(0, |i| i + 1);
        let end = (span.end..self.chars.len())
            .find(|&i| is_end(i))
            .unwrap_or(self.chars.len());
        (start, end)
    }

    /// The clause's characters with every occurrence of `words` blanked out.
    fn masked(&self, start: usize, end: usize, words: &[String]) -> Vec<Option<char>> {
        let mut masked: Vec<Option<char>> =
            self.chars[start..end].iter().copied().map(Some).collect();
        let text: String = self.chars[start..end].iter().collect();
        for word in words {
            for (at, _) in text.match_indices(word.as_str()) {
                let from = text[..at].chars().count();
                for slot in masked.iter_mut().skip(from).take(word.chars().count()) {
                    *slot = None;
                }
            }
        }
        masked
    }

    /// A word of `words` in the clause that holds the whole span (最快 holds a match on
    /// 最快 in 最快明天到, but not the longer 全城最快的).
    fn containing<'w>(
        &self,
        span: Span,
        clause_start: usize,
        clause_end: usize,
        words: &'w [String],
    ) -> Option<&'w str> {
        let text = self.text(clause_start, clause_end);
        words.iter().map(String::as_str).find(|word| {
            text.match_indices(word).any(|(at, _)| {
                let start = clause_start + text[..at].chars().count();
                let end = start + word.chars().count();
                start <= span.start && span.end <= end
            })
        })
    }

    /// Whether the span sits inside a pair of quotation marks of the original text
    /// (“…”, "…", 「…」, 『…』, ‘…’). Marks are read from what was written, since the
    /// view drops ‘’ as noise.
    fn is_quoted(&self, span: Span) -> bool {
        let (start, end) = self.normalized.original_span(span.start, span.end);
        let mut open: Option<char> = None;
        let mut open_at = 0;
        for (i, &c) in self.original.iter().enumerate() {
            match (open, c) {
                (None, '“' | '「' | '『' | '‘' | '"' | '＂') => {
                    open = Some(c);
                    open_at = i;
                }
                (Some(o), c) if closes(o, c) => {
                    if open_at < start && end <= i {
                        return true;
                    }
                    open = None;
                }
                _ => {}
            }
            if i >= end && open.is_none() {
                break;
            }
        }
        false
    }
}

fn closes(open: char, c: char) -> bool {
    matches!(
        (open, c),
        ('“', '”') | ('「', '」') | ('『', '』') | ('‘', '’') | ('"', '"') | ('＂', '＂')
    )
}
