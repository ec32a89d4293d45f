//! Numbers as the shell reads them: decimal (`42`) or `0x`-prefixed hex
//! (`0x2a`, `0X2A`), unsigned, at most 64 bits. Slot numbers are the same,
//! at most 255.

use core::fmt;

/// Why a word is not a number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumberError {
    /// A `-` in front: every number the shell takes is unsigned.
    Negative,
    /// `0x` with no digits after it.
    NoHexDigits,
    /// A character that is not a digit of the base.
    NotANumber,
    /// More than 64 bits.
    TooLarge,
}

impl fmt::Display for NumberError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(match self {
            NumberError::Negative => "numbers cannot be negative",
            NumberError::NoHexDigits => "0x must be followed by hex digits",
            NumberError::NotANumber => "not a number (use decimal, or hex after 0x)",
            NumberError::TooLarge => "too large: numbers fit in 64 bits (at most 0xffffffffffffffff)",
        })
    }
}

// ANCHOR: parse_number
/// Reads `word` as a decimal or `0x`-prefixed hexadecimal `u64`.
pub fn parse_number(word: &str) -> Result<u64, NumberError> {
    if word.starts_with('-') {
        return Err(NumberError::Negative);
    }
    let (digits, radix) = match word.strip_prefix("0x").or_else(|| word.strip_prefix("0X")) {
        Some("") => return Err(NumberError::NoHexDigits),
        Some(hex) => (hex, 16),
        None => (word, 10),
    };
    // Checked by hand rather than with `u64::from_str_radix`, which also
    // takes a leading `+`.
    let mut value: u64 = 0;
    if digits.is_empty() {
        return Err(NumberError::NotANumber);
    }
    for character in digits.chars() {
        let digit = character.to_digit(radix).ok_or(NumberError::NotANumber)?;
        value = value
            .checked_mul(u64::from(radix))
            .and_then(|value| value.checked_add(u64::from(digit)))
            .ok_or(NumberError::TooLarge)?;
    }
    Ok(value)
}
// ANCHOR_END: parse_number

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn decimal_and_hex() {
        assert_eq!(parse_number("0"), Ok(0));
        assert_eq!(parse_number("249"), Ok(249));
        assert_eq!(parse_number("007"), Ok(7), "leading zeros are decimal, not octal");
        assert_eq!(parse_number("0x2a"), Ok(42));
        assert_eq!(parse_number("0X2A"), Ok(42));
        assert_eq!(parse_number("0xDeadBeef"), Ok(0xdead_beef));
        assert_eq!(parse_number("0x0"), Ok(0));
    }

    #[test]
    fn the_limits_of_64_bits() {
        assert_eq!(parse_number("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_number("18446744073709551616"), Err(NumberError::TooLarge));
        assert_eq!(parse_number("0xffffffffffffffff"), Ok(u64::MAX));
        assert_eq!(parse_number("0x10000000000000000"), Err(NumberError::TooLarge));
        assert_eq!(parse_number("0x0000000000000000000001"), Ok(1), "leading zeros do not overflow");
        assert_eq!(parse_number(&"9".repeat(100)), Err(NumberError::TooLarge));
    }

    #[test]
    fn what_is_not_a_number() {
        assert_eq!(parse_number("0x"), Err(NumberError::NoHexDigits));
        assert_eq!(parse_number("0X"), Err(NumberError::NoHexDigits));
        assert_eq!(parse_number("-1"), Err(NumberError::Negative));
        assert_eq!(parse_number("-0x1"), Err(NumberError::Negative));
        for word in ["", "+1", "x", "abc", "12a", "0xg", "0x-1", "0x+1", "1.5", "1_000", "0b101", "٣", "0x 1"]
        {
            assert_eq!(parse_number(word), Err(NumberError::NotANumber), "{word:?}");
        }
    }

    #[test]
    fn every_error_reads_as_a_sentence() {
        for error in
            [NumberError::Negative, NumberError::NoHexDigits, NumberError::NotANumber, NumberError::TooLarge]
        {
            let text = error.to_string();
            assert!(!text.is_empty() && !text.contains('\n'), "{text:?}");
        }
    }

    proptest! {
        #[test]
        fn every_u64_reads_back(value in any::<u64>()) {
            prop_assert_eq!(parse_number(&value.to_string()), Ok(value));
            prop_assert_eq!(parse_number(&format!("{value:#x}")), Ok(value));
            prop_assert_eq!(parse_number(&format!("0X{value:X}")), Ok(value));
        }

        #[test]
        fn any_text_is_a_number_or_an_error(word in ".*") {
            // Never panics; a success agrees with the standard library.
            if let Ok(value) = parse_number(&word) {
                let hex = word.strip_prefix("0x").or_else(|| word.strip_prefix("0X"));
                let expected = match hex {
                    Some(hex) => u64::from_str_radix(hex, 16),
                    None => word.parse::<u64>(),
                };
                prop_assert_eq!(Ok(value), expected);
            }
        }
    }
}
