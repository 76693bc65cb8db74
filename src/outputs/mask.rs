//! Masking personal numbers in text that leaves kefu (reports, CSV exports): mobile
//! numbers keep their first 3 and last 4 digits (138****5678, as WeChat and Chinese
//! shops show them), ID and bank-card numbers their first 4 and last 4, and a home
//! address keeps its road and loses its numbers. What counts as a number is the QA
//! privacy detector's judgement, so an order number or a 400 hotline stays readable.

use crate::jobs::qa::privacy::{self, Leak};
use crate::text::normalize::normalize;

/// The text with every leak the privacy detector finds masked; separators inside a
/// number (138 1234 5678) are kept, so the shape stays recognisable.
pub fn mask(text: &str) -> String {
    let normalized = normalize(text);
    let findings = privacy::find(&normalized.text);
    if findings.is_empty() {
        return text.to_owned();
    }
    let mut chars: Vec<char> = text.chars().collect();
    for finding in findings {
        let (start, end) = normalized.original_span(finding.start, finding.end);
        let span = &mut chars[start..end];
        match finding.leak {
            Leak::Mobile => mask_digits(span, 3, 4),
            Leak::IdNumber | Leak::BankCard => mask_digits(span, 4, 4),
            Leak::Address => mask_address(span),
        }
    }
    chars.into_iter().collect()
}

/// The characters `[start, end)` of `text` after masking the whole text: a span alone
/// lacks the context (a card word before a number) that makes it a leak.
pub fn masked_span(text: &str, start: usize, end: usize) -> String {
    mask(text)
        .chars()
        .skip(start)
        .take(end.saturating_sub(start))
        .collect()
}

/// Replaces every digit (ASCII or full-width) but the first `keep_first` and the last
/// `keep_last` with `*`. A trailing X of an ID number counts as a digit.
fn mask_digits(span: &mut [char], keep_first: usize, keep_last: usize) {
    let is_digit =
        |c: char| c.is_ascii_digit() || ('０'..='９').contains(&c) || c == 'X' || c == 'x';
    let positions: Vec<usize> = (0..span.len()).filter(|&i| is_digit(span[i])).collect();
    let hidden = positions.len().saturating_sub(keep_last);
    for &i in positions.iter().take(hidden).skip(keep_first) {
        span[i] = '*';
    }
}

/// A home address keeps its words (city, district, road) and loses every number: the
/// house, building, unit and room.
fn mask_address(span: &mut [char]) {
    for c in span.iter_mut() {
        if c.is_ascii_digit() || ('０'..='９').contains(c) {
            *c = '*';
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_masked_where_the_privacy_detector_finds_them() {
        assert_eq!(
            mask("师傅电话13912342046，下午到"),
            "师傅电话139****2046，下午到"
        );
        assert_eq!(mask("电话 139 1234 2046"), "电话 139 **** 2046");
        assert_eq!(
            mask("身份证号11010519491231002X"),
            "身份证号1101**********002X"
        );
        assert_eq!(
            mask("退到您的银行卡 6222 0212 3456 7894 了"),
            "退到您的银行卡 6222 **** **** 7894 了"
        );
        assert_eq!(
            mask("改成浦东新区张杨路1588号3号楼1201室了"),
            "改成浦东新区张杨路****号*号楼****室了"
        );
    }

    #[test]
    fn a_span_is_masked_with_its_context() {
        let text = "您绑定的银行卡卡号是6222021234567894，确认无误吧？";
        assert_eq!(
            mask("6222021234567894"),
            "6222021234567894",
            "alone it is any number"
        );
        assert_eq!(masked_span(text, 10, 26), "6222********7894");
    }

    #[test]
    fn what_is_not_personal_stays_readable() {
        for text in [
            "订单 2406180093371525415 的包裹已经在派送中",
            "投诉热线是400-820-8820",
            "您的手机号是138****5678",
            "门店地址在延安路158号",
        ] {
            assert_eq!(mask(text), text);
        }
    }
}
