//! Synthetic personal data for generated conversations. Numbers are valid in form
//! (ID check digit, Luhn) so the privacy detector meets what real leaks look like.

use rand::seq::IndexedRandom;
use rand::Rng;

use crate::text::numbers::{id_check_char, luhn_check_digit};

const MOBILE_PREFIXES: [&str; 16] = [
    "130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "158", "159", "177",
    "186", "188", "199",
];

pub fn mobile<R: Rng>(rng: &mut R) -> String {
    let prefix = MOBILE_PREFIXES.choose(rng).expect("non-empty");
    format!("{prefix}{:08}", rng.random_range(0..100_000_000u32))
}

pub fn masked_mobile<R: Rng>(rng: &mut R) -> String {
    let prefix = MOBILE_PREFIXES.choose(rng).expect("non-empty");
    format!("{prefix}****{:04}", rng.random_range(0..10_000u32))
}

/// A 400 business hotline, written the way companies print it.
pub fn hotline<R: Rng>(rng: &mut R) -> String {
    format!(
        "400-{:03}-{:04}",
        rng.random_range(100..1000u32),
        rng.random_range(0..10_000u32)
    )
}

/// An 18-digit order number: date-like prefix, then digits.
pub fn order_number<R: Rng>(rng: &mut R) -> String {
    format!(
        "2026{:02}{:02}{:010}",
        rng.random_range(1..=12u32),
        rng.random_range(1..=28u32),
        rng.random_range(0..10_000_000_000u64)
    )
}

pub fn amount<R: Rng>(rng: &mut R) -> u32 {
    *[
        29, 39, 59, 69, 79, 89, 99, 109, 129, 159, 199, 259, 299, 399, 599,
    ]
    .choose(rng)
    .expect("non-empty")
}

const DISTRICTS: [&str; 8] = [
    "朝阳区",
    "海淀区",
    "天河区",
    "南山区",
    "西湖区",
    "武侯区",
    "江汉区",
    "鼓楼区",
];
const ROADS: [&str; 8] = [
    "建设路",
    "人民路",
    "解放路",
    "中山路",
    "和平街",
    "文化路",
    "光明路",
    "长江路",
];
const ESTATES: [&str; 6] = [
    "阳光花园",
    "锦绣家园",
    "翠湖小区",
    "幸福里",
    "书香苑",
    "金地名都",
];

/// A full home address down to the room: what must never appear in a reply.
pub fn address<R: Rng>(rng: &mut R, city: &str) -> String {
    format!(
        "{city}{}{}{}号{}{}栋{}单元{}室",
        DISTRICTS.choose(rng).expect("non-empty"),
        ROADS.choose(rng).expect("non-empty"),
        rng.random_range(1..300u32),
        ESTATES.choose(rng).expect("non-empty"),
        rng.random_range(1..30u32),
        rng.random_range(1..6u32),
        rng.random_range(101..2505u32)
    )
}

/// An 18-character resident ID number with a valid check character.
pub fn id_number<R: Rng>(rng: &mut R) -> String {
    let region = *[110105u32, 310104, 440106, 330106, 510107, 420103]
        .choose(rng)
        .expect("non-empty");
    let first17 = format!(
        "{region}{}{:02}{:02}{:03}",
        rng.random_range(1965..2006u32),
        rng.random_range(1..=12u32),
        rng.random_range(1..=28u32),
        rng.random_range(0..1000u32)
    );
    let check = id_check_char(first17.as_bytes());
    format!("{first17}{check}")
}

/// A 19-digit UnionPay debit card number passing Luhn.
pub fn bank_card<R: Rng>(rng: &mut R) -> String {
    let body = format!("62{:016}", rng.random_range(0..10_000_000_000_000_000u64));
    let check = luhn_check_digit(body.as_bytes());
    format!("{body}{check}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::numbers::{is_id_number, luhn_valid};
    use rand::SeedableRng;

    #[test]
    fn generated_numbers_are_well_formed() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        for _ in 0..200 {
            let phone = mobile(&mut rng);
            assert_eq!(phone.len(), 11);
            assert!(phone.starts_with('1'));
            let id = id_number(&mut rng);
            assert_eq!(id.len(), 18);
            assert!(is_id_number(id.as_bytes()), "{id}");
            let card = bank_card(&mut rng);
            assert_eq!(card.len(), 19);
            assert!(luhn_valid(card.as_bytes()), "{card}");
            assert!(masked_mobile(&mut rng).contains("****"));
        }
    }
}
