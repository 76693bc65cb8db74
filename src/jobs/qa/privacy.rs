//! The privacy detector: an agent reply that exposes a mobile number, a resident ID
//! number, a bank card or a home address. What it finds is validated, because a QA
//! team stops reading flags that cry wolf: ID numbers by province, birth date and check
//! character; cards by Luhn *and* a card word nearby (an 18-digit order number passes
//! Luhn one time in ten); masked numbers (138****5678) and 400/800 hotlines are not
//! leaks.

use std::sync::LazyLock;

use regex::Regex;

use crate::text::numbers::{is_id_number, luhn_valid};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leak {
    Mobile,
    IdNumber,
    BankCard,
    Address,
}

impl Leak {
    pub fn as_str(self) -> &'static str {
        match self {
            Leak::Mobile => "mobile",
            Leak::IdNumber => "id_number",
            Leak::BankCard => "bank_card",
            Leak::Address => "address",
        }
    }
}

/// One leak, as a span `[start, end)` of the view's characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finding {
    pub leak: Leak,
    pub start: usize,
    pub end: usize,
}

/// Words that make a long Luhn-valid number a card, looked for just before it.
const CARD_WORDS: [&str; 7] = [
    "卡号",
    "银行卡",
    "储蓄卡",
    "信用卡",
    "借记卡",
    "尾号",
    "card",
];
/// How many view characters before a number a card word may stand.
const CARD_WORD_REACH: usize = 12;

/// A road-and-number address followed by a building, unit or room: where someone lives,
/// not a shop's street address.
static HOME_ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    // City (two characters, as most are) and district are optional; the road name is
    // matched lazily so the span starts as late as it can; 大道中180号 and Shanghai's
    // 路1288弄15号 are road numbers too.
    Regex::new(
        r"(?:\p{Han}{2}市)?(?:\p{Han}{1,4}?(?:区|县))?\p{Han}{1,6}?(?:路|街|大道|巷|弄)[东南西北中]?\d{1,5}(?:弄\d{1,4})?号[\p{Han}\d]{0,12}?(?:\d+(?:栋|幢|号楼|单元|室))+",
    )
        .expect("a valid regex")
});

/// Finds every leak in a reply's matching view (`Normalized::text`); spans are in
/// the view's characters.
pub fn find(view: &str) -> Vec<Finding> {
    let mut findings = Vec::new();
    // Most replies are refused before any work: every leak has a digit, every number
    // leak at least eleven, and every address a 号 and a building word the pattern
    // ends on.
    let digits = view.bytes().filter(u8::is_ascii_digit).count();
    if digits >= 11 {
        find_numbers(view, &mut findings);
    }
    let addresses =
        (digits > 0 && view.contains('号') && ADDRESS_ENDS.iter().any(|end| view.contains(end)))
            .then(|| HOME_ADDRESS.find_iter(view));
    for found in addresses.into_iter().flatten() {
        let start = view[..found.start()].chars().count();
        let end = start + found.as_str().chars().count();
        findings.push(Finding {
            leak: Leak::Address,
            start,
            end,
        });
    }
    findings.sort_by_key(|finding| (finding.start, finding.end));
    findings
}

/// What a home address ends on (`HOME_ADDRESS`'s last group).
const ADDRESS_ENDS: [&str; 5] = ["栋", "幢", "号楼", "单元", "室"];

/// Mobile, ID and card numbers among the view's runs of digits.
fn find_numbers(view: &str, findings: &mut Vec<Finding>) {
    let chars: Vec<char> = view.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        if let Some(end) = dotted_mobile_end(&chars, start) {
            findings.push(Finding {
                leak: Leak::Mobile,
                start,
                end,
            });
            i = end;
            continue;
        }
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        // An ID number may end in X.
        let mut end = i;
        if end - start == 17 && chars.get(end).is_some_and(|c| *c == 'x') {
            end += 1;
            i += 1;
        }
        // Masks and separators are noise the view skipped: 138 1234 5678 is eleven
        // digits here, 138****5678 only seven, so a masked number never classifies.
        let digits: Vec<u8> = chars[start..end].iter().map(|c| *c as u8).collect();
        if let Some(leak) = classify(&digits, &chars[..start]) {
            findings.push(Finding { leak, start, end });
        }
    }
}

/// A mobile written with dots (191.1656.1405): the view keeps '.', which decimals need,
/// so this one 3-4-4 shape is recognised on its own. Returns the end of the span.
fn dotted_mobile_end(chars: &[char], start: usize) -> Option<usize> {
    let shape = "ddd.dddd.dddd";
    let end = start + shape.len();
    let fits = chars.len() >= end
        && shape
            .chars()
            .zip(&chars[start..end])
            .all(|(want, c)| match want {
                'd' => c.is_ascii_digit(),
                _ => *c == '.',
            })
        && !chars.get(end).is_some_and(char::is_ascii_digit)
        && chars[start] == '1'
        && ('3'..='9').contains(&chars[start + 1]);
    fits.then_some(end)
}

fn classify(digits: &[u8], before: &[char]) -> Option<Leak> {
    let len = digits.len();
    let mobile = |d: &[u8]| d.len() == 11 && d[0] == b'1' && (b'3'..=b'9').contains(&d[1]);
    if mobile(digits) || (len == 13 && digits.starts_with(b"86") && mobile(&digits[2..])) {
        return Some(Leak::Mobile);
    }
    if len == 18 && is_id_number(&digits.to_ascii_uppercase()) {
        return Some(Leak::IdNumber);
    }
    if (16..=19).contains(&len) && luhn_valid(digits) {
        let reach: String = before[before.len().saturating_sub(CARD_WORD_REACH)..]
            .iter()
            .collect();
        if CARD_WORDS.iter().any(|word| reach.contains(word)) {
            return Some(Leak::BankCard);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::normalize::normalize;

    fn leaks(reply: &str) -> Vec<(&'static str, String)> {
        let view = normalize(reply);
        find(&view.text)
            .into_iter()
            .map(|finding| {
                let (start, end) = view.original_span(finding.start, finding.end);
                (
                    finding.leak.as_str(),
                    reply.chars().skip(start).take(end - start).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn written_out_numbers_are_leaks_wherever_the_spaces_go() {
        assert_eq!(
            leaks("帮您核对一下，收件电话是13812345678对吧？"),
            vec![("mobile", "13812345678".into())]
        );
        assert_eq!(
            leaks("电话 138 1234 5678"),
            vec![("mobile", "138 1234 5678".into())]
        );
        assert_eq!(
            leaks("号码１３８－１２３４－５６７８"),
            vec![("mobile", "１３８－１２３４－５６７８".into())]
        );
        assert_eq!(
            leaks("+86 13812345678"),
            vec![("mobile", "86 13812345678".into())]
        );
        assert_eq!(
            leaks("身份证11010519491231002X已登记"),
            vec![("id_number", "11010519491231002X".into())]
        );
        assert_eq!(
            leaks("退款会退到您尾号的银行卡6222021234567890128"),
            vec![("bank_card", "6222021234567890128".into())]
        );
        assert_eq!(
            leaks("给您寄到广州市天河区天河路385号华景新城12栋3单元1502室"),
            vec![(
                "address",
                "广州市天河区天河路385号华景新城12栋3单元1502室".into()
            )]
        );
    }

    #[test]
    fn masked_business_and_order_numbers_are_not() {
        for clean in [
            "您的手机号 138****5678 已绑定",
            "客服热线 400-820-8820，工作日9点到21点",
            "您的订单202610121234567890已发货",
            "订单号6222021234567890128，请您核对",
            "门店地址在天河路385号，欢迎到店体验",
            "身份证号已脱敏为110105********002X",
        ] {
            assert_eq!(leaks(clean), vec![], "{clean}");
        }
    }

    /// Every planted privacy leak of the generator's bank is found, filled ten times
    /// with fresh numbers; none of its clean agent answers or masked look-alikes is.
    #[test]
    fn the_generator_bank_scores_perfectly() {
        use crate::gen::bank::{bank, fill};
        use rand::SeedableRng;
        let bank = bank();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        for _ in 0..10 {
            for template in &bank.bad.privacy {
                let reply = fill(&mut rng, template, "小禾");
                assert!(!leaks(&reply).is_empty(), "missed: {reply}");
            }
            let clean = bank
                .intent
                .iter()
                .flat_map(|intent| &intent.agent)
                .chain(&bank.hard_negative.masked_phone)
                .chain(&bank.hard_negative.ordinal_advice)
                .chain(&bank.hard_negative.pointer_with_answer);
            for template in clean {
                let reply = fill(&mut rng, template, "小禾");
                assert_eq!(leaks(&reply), vec![], "false alarm: {reply}");
            }
        }
    }
}
