//! The matching view of a message: full-width folded to half-width, traditional to
//! simplified (OpenCC's character table, through `fast2s`), ASCII case folded, and the
//! noise an agent inserts to write around a filter (终 身 免 费, 终-身-免-费, 终😊身)
//! skipped. Every character of the view remembers which original character it came
//! from and which folds it needed, so a flag points at what was written and says how
//! the writer disguised it.

use std::sync::LazyLock;

/// Which folds one character of the view needed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Folds {
    pub width: bool,
    pub traditional: bool,
    pub case: bool,
    /// Noise (spaces, symbols, emoji) was skipped right before this character.
    pub skipped_before: bool,
}

impl Folds {
    fn union(self, other: Folds) -> Folds {
        Folds {
            width: self.width || other.width,
            traditional: self.traditional || other.traditional,
            case: self.case || other.case,
            skipped_before: self.skipped_before || other.skipped_before,
        }
    }

    /// The `normalisation` column of `qa_flags`: the folds a match needed, in words.
    pub fn describe(self) -> String {
        let mut parts = Vec::new();
        if self.skipped_before {
            parts.push("inserted symbols removed");
        }
        if self.traditional {
            parts.push("traditional folded");
        }
        if self.width {
            parts.push("full-width folded");
        }
        if self.case {
            parts.push("case folded");
        }
        parts.join(", ")
    }
}

/// A message's matching view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    /// The view rules match against.
    pub text: String,
    /// For the i-th character of `text`, the index (in characters) of the original
    /// character it came from. Strictly increasing.
    pub source: Vec<usize>,
    pub folds: Vec<Folds>,
}

impl Normalized {
    /// The original character span `[start, end)` behind the view's characters
    /// `[start, end)`, noise inside the match included.
    pub fn original_span(&self, start: usize, end: usize) -> (usize, usize) {
        if start >= end || end > self.source.len() {
            return (0, 0);
        }
        (self.source[start], self.source[end - 1] + 1)
    }

    /// The folds a match over the view's characters `[start, end)` needed. Noise before
    /// the first character is not part of the match, so it does not count.
    pub fn folds_of(&self, start: usize, end: usize) -> Folds {
        let mut folds = Folds::default();
        for (i, fold) in self.folds[start..end.min(self.folds.len())]
            .iter()
            .enumerate()
        {
            let mut fold = *fold;
            if i == 0 {
                fold.skipped_before = false;
            }
            folds = folds.union(fold);
        }
        folds
    }
}

/// Characters a writer inserts inside a phrase without changing what it says. Clause
/// punctuation (，。！？；…), quotes, digits and letters are kept: negation scope,
/// quotation and numbers depend on them.
fn is_noise(c: char) -> bool {
    c.is_whitespace()
        || matches!(c,
            '-' | '_' | '*' | '~' | '^' | '|' | '\\' | '/' | '·' | '•' | '+' | '=' | '#'
            | '@' | '&' | '%' | '$' | '<' | '>' | '`' | '\'' | '‘' | '’' | '—' | '–' | '～'
            | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FE0F}' | '\u{FEFF}'
            | '\u{2600}'..='\u{27BF}' | '\u{1F000}'..='\u{1FAFF}' | '\u{E0020}'..='\u{E007F}')
}

/// Full-width ASCII (U+FF01–U+FF5E) and the ideographic space to their half-width forms.
fn fold_width(c: char) -> Option<char> {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0),
        '\u{3000}' => Some(' '),
        _ => None,
    }
}

/// The CJK blocks where fast2s's table has entries.
const CJK: [std::ops::RangeInclusive<u32>; 2] = [0x3400..=0x9FFF, 0xF900..=0xFAFF];

/// One bit per Basic Multilingual Plane character: does fast2s change it on its own?
/// Built once from fast2s itself, so it follows whatever table the crate ships. A
/// message whose only traditional characters are ones fast2s converts only in context
/// (著 in 看著, 藉 in 藉口) is left as written; such a message is vanishingly rare,
/// since traditional text carries other traditional characters.
static TRADITIONAL: LazyLock<Vec<u64>> = LazyLock::new(|| {
    let mut bits = vec![0u64; 0x10000 / 64];
    let mut one = String::with_capacity(4);
    for code in CJK.into_iter().flatten() {
        let Some(c) = char::from_u32(code) else {
            continue;
        };
        one.clear();
        one.push(c);
        if fast2s::convert(&one) != one {
            bits[code as usize / 64] |= 1 << (code % 64);
        }
    }
    bits
});

fn is_traditional(c: char) -> bool {
    let code = c as u32;
    (0x3400..0x10000).contains(&code) && in_table(&TRADITIONAL, code)
}

/// Whether a Basic Multilingual Plane character's bit is set in a table like
/// `TRADITIONAL`.
#[inline]
fn in_table(bits: &[u64], code: u32) -> bool {
    bits[code as usize / 64] & (1 << (code % 64)) != 0
}

/// What one character (already simplified) becomes in the view: `None` for noise,
/// else its folded form and the width and case folds it needed. The one definition of
/// the view, shared by the full walk and the byte loop of [`view_text`].
#[inline]
fn fold(c: char) -> Option<(char, Folds)> {
    let mut fold = Folds::default();
    // The common case, a CJK ideograph, is never noise nor width- or case-folded.
    if ('\u{4E00}'..='\u{9FFF}').contains(&c) {
        return Some((c, fold));
    }
    let mut c = c;
    if let Some(half) = fold_width(c) {
        // Full-width punctuation is how Chinese is written; only full-width letters
        // and digits (ＶＩＰ, １００) are worth telling a QA lead about.
        fold.width = half.is_ascii_alphanumeric();
        c = half;
    }
    if is_noise(c) {
        return None;
    }
    if c.is_ascii_uppercase() {
        fold.case = true;
        c = c.to_ascii_lowercase();
    }
    Some((c, fold))
}

/// Walks the view of `original`: for each character kept, its folded form, the index
/// of the original character and the folds it needed.
fn walk(original: &str, mut keep: impl FnMut(char, usize, Folds)) {
    let mut skipped = false;
    let mut kept_any = false;
    let mut step = |index: usize, written: char, simple: char| {
        let Some((c, mut fold)) = fold(simple) else {
            skipped = kept_any;
            return;
        };
        fold.traditional = simple != written;
        fold.skipped_before = std::mem::take(&mut skipped);
        kept_any = true;
        keep(c, index, fold);
    };
    // fast2s maps character for character (with a little context), so the two strings
    // line up one to one. Most messages hold no traditional character at all, and for
    // them its per-character table lookups were most of normalising's cost.
    if original.chars().any(is_traditional) {
        let simplified = fast2s::convert(original);
        for (index, (written, simple)) in original.chars().zip(simplified.chars()).enumerate() {
            step(index, written, simple);
        }
    } else {
        for (index, c) in original.chars().enumerate() {
            step(index, c, c);
        }
    }
}

/// The view's text of `original` when it holds no traditional character, built by a
/// byte loop: runs of simplified ideographs and plain ASCII are copied whole, and only
/// the characters that change (，→, ; Ａ→a; inserted symbols) are looked at one by one.
/// `None` at the first traditional character, since fast2s converts with context and
/// only the full walk lines its output up with what was written.
fn view_without_traditional(original: &str) -> Option<String> {
    let mut view = String::with_capacity(original.len());
    let bytes = original.as_bytes();
    let (unchanged, traditional) = (&*ASCII_UNCHANGED, &*TRADITIONAL);
    // Bytes before `copied` are in `view`; those from it up to `at` still match it.
    let mut copied = 0;
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        if byte < 0x80 {
            if unchanged[byte as usize] {
                at += 1;
                continue;
            }
        } else if (0xE4..=0xE9).contains(&byte) && at + 2 < bytes.len() {
            // A three-byte character in U+4000..U+9FFF.
            let code = (u32::from(byte & 0x0F) << 12)
                | (u32::from(bytes[at + 1] & 0x3F) << 6)
                | u32::from(bytes[at + 2] & 0x3F);
            if code >= 0x4E00 {
                if in_table(traditional, code) {
                    return None;
                }
                at += 3;
                continue;
            }
        }
        let c = original[at..]
            .chars()
            .next()
            .expect("a character starts at every boundary we stop on");
        if is_traditional(c) {
            return None;
        }
        match fold(c) {
            Some((folded, _)) if folded == c => {}
            folded => {
                view.push_str(&original[copied..at]);
                if let Some((folded, _)) = folded {
                    view.push(folded);
                }
                copied = at + c.len_utf8();
            }
        }
        at += c.len_utf8();
    }
    view.push_str(&original[copied..]);
    Some(view)
}

/// ASCII bytes that are their own view: not noise, not an upper-case letter.
static ASCII_UNCHANGED: LazyLock<[bool; 128]> = LazyLock::new(|| {
    let mut unchanged = [false; 128];
    for (byte, slot) in unchanged.iter_mut().enumerate() {
        let c = byte as u8 as char;
        *slot = fold(c) == Some((c, Folds::default()));
    }
    unchanged
});

/// Builds the matching view of `original`.
pub fn normalize(original: &str) -> Normalized {
    let mut text = String::with_capacity(original.len());
    let mut source = Vec::with_capacity(original.len() / 3 + 1);
    let mut folds = Vec::with_capacity(original.len() / 3 + 1);
    walk(original, |c, index, fold| {
        text.push(c);
        source.push(index);
        folds.push(fold);
    });
    Normalized {
        text,
        source,
        folds,
    }
}

/// Only the view's text, for the segmenter, which needs no way back to the original.
/// Every message of the night goes through here for the segment and qa jobs, so most
/// take the byte loop of [`view_without_traditional`].
pub fn view_text(original: &str) -> String {
    view_without_traditional(original).unwrap_or_else(|| {
        let mut text = String::with_capacity(original.len());
        walk(original, |c, _, _| text.push(c));
        text
    })
}

/// A list of words as rule and taxonomy files give them, in the view their matches
/// run on; words that normalise to nothing are dropped (they would match anywhere).
pub fn view_words(words: &[String]) -> Vec<String> {
    words
        .iter()
        .map(|word| view_text(word))
        .filter(|word| !word.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(text: &str) -> String {
        normalize(text).text
    }

    #[test]
    fn inserted_spaces_symbols_and_emoji_are_skipped_and_mapped_back() {
        for written in [
            "终 身 免 费",
            "终-身-免-费",
            "终😊身🙏免费",
            "终\u{200B}身 * 免~费",
        ] {
            let normalized = normalize(written);
            assert_eq!(normalized.text, "终身免费", "{written}");
            let (start, end) = normalized.original_span(0, 4);
            let original: String = written.chars().skip(start).take(end - start).collect();
            assert_eq!(original, written, "the flag covers what was written");
            let folds = normalized.folds_of(0, 4);
            assert!(folds.skipped_before, "{written}");
            assert_eq!(folds.describe(), "inserted symbols removed");
        }
    }

    #[test]
    fn traditional_full_width_and_case_are_folded_and_reported() {
        let normalized = normalize("終身免費升級，ＶＩＰ會員");
        assert_eq!(normalized.text, "终身免费升级,vip会员");
        let folds = normalized.folds_of(0, 6);
        assert!(folds.traditional && !folds.width && !folds.skipped_before);
        let vip = normalized.folds_of(7, 10);
        assert!(vip.width && vip.case && !vip.traditional);
        assert_eq!(vip.describe(), "full-width folded, case folded");
    }

    #[test]
    fn clause_punctuation_quotes_and_masked_numbers_survive() {
        assert_eq!(
            view("不好意思，我们保证终身免费！"),
            "不好意思,我们保证终身免费!"
        );
        assert_eq!(view("您说的“终身免费”我们没有"), "您说的“终身免费”我们没有");
        assert_eq!(
            view("138****5678"),
            "1385678",
            "the mask is noise; a rule sees the gap through folds"
        );
        assert_eq!(view("138 1234 5678"), "13812345678");
        assert_eq!(view("１３８－１２３４－５６７８"), "13812345678");
    }

    proptest::proptest! {
        /// The byte loop of `view_text` is the same view as the full walk, on text mixing
        /// what it copies (simplified ideographs, plain ASCII) with everything it must
        /// change: traditional characters, full-width forms, upper case, noise, emoji.
        #[test]
        fn the_fast_view_is_the_walked_view(text in "[终身免费保证绝对第一终終身費證會員ａ-ｚＡ-Ｚ０-９，。！？a-zA-Z0-9 \\-_*~.,!?😊🙏\u{200B}\u{3000}㐀-㐅]{0,40}") {
            proptest::prop_assert_eq!(view_text(&text), normalize(&text).text);
        }
    }

    #[test]
    fn noise_before_a_match_is_not_part_of_it() {
        let normalized = normalize("  终身免费");
        assert_eq!(normalized.text, "终身免费");
        assert!(!normalized.folds_of(0, 4).skipped_before);
        assert_eq!(normalized.original_span(0, 4), (2, 6));
    }
}
