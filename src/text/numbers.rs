//! Check digits of the numbers people leak in chats: resident ID numbers (GB 11643)
//! and bank cards (Luhn). Shared by the privacy detector, which validates what it finds,
//! and the generator, which makes numbers that look real.

/// The GB 11643 check character of the first 17 digits of an ID number.
pub fn id_check_char(first17: &[u8]) -> char {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(digit, weight)| u32::from(digit - b'0') * weight)
        .sum();
    CHECK[(sum % 11) as usize]
}

/// The Luhn check digit for a card number's other digits.
pub fn luhn_check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, digit)| {
            let d = u32::from(digit - b'0');
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Whether a digit string passes Luhn (its last digit checks the others).
pub fn luhn_valid(digits: &[u8]) -> bool {
    match digits.split_last() {
        Some((check, body)) if digits.iter().all(u8::is_ascii_digit) => {
            luhn_check_digit(body) == check - b'0'
        }
        _ => false,
    }
}

/// Province codes of the mainland, Taiwan, Hong Kong and Macao: the first two digits.
const PROVINCES: [u8; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

/// Whether 18 characters form a plausible resident ID number: a province code, a real
/// birth date, and the right check character. An 18-digit order number passes the check
/// character one time in eleven, but rarely the other two.
pub fn is_id_number(candidate: &[u8]) -> bool {
    if candidate.len() != 18 || !candidate[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let province = (candidate[0] - b'0') * 10 + (candidate[1] - b'0');
    if !PROVINCES.contains(&province) {
        return false;
    }
    let birth = std::str::from_utf8(&candidate[6..14]).unwrap_or("");
    let born = chrono::NaiveDate::parse_from_str(birth, "%Y%m%d")
        .ok()
        .is_some_and(|date| {
            chrono::Datelike::year(&date) >= 1900 && date <= chrono::Utc::now().date_naive()
        });
    born && id_check_char(&candidate[..17]) == char::from(candidate[17]).to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_examples_check() {
        assert_eq!(id_check_char(b"11010519491231002"), 'X');
        assert!(is_id_number(b"11010519491231002X"));
        assert!(is_id_number(b"11010519491231002x"));
        assert!(
            !is_id_number(b"110105194912310021"),
            "wrong check character"
        );
        assert!(!is_id_number(b"11010519491331002X"), "no 13th month");
        assert!(luhn_valid(b"79927398713"));
        assert!(!luhn_valid(b"79927398710"));
    }

    #[test]
    fn order_numbers_are_not_id_numbers() {
        // The generator's order numbers start 2026…: province 20 does not exist.
        for order in ["202610121234567890", "202611030000000017"] {
            assert!(!is_id_number(order.as_bytes()), "{order}");
        }
    }
}
