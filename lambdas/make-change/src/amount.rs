//! Reading an amount of dollars exactly from its decimal text (`0.63`, `"12.5"`, `1e2`) into
//! whole cents, without floating point: `0.29` is 29 cents, not 28.999…
//!
//! Accepted text: an optional `-`, digits, optionally `.` and digits, optionally an exponent
//! (`e` or `E`, optional sign, digits), the same in a JSON string as in a JSON number. Exponents
//! are applied exactly (`1e2` is 100.00, `6.3e-1` is 0.63, `1e-3` is a fraction of a cent).
//! Trailing zeros do not count as decimals (`0.630` is fine, `0.635` is not). Zero is zero
//! whatever its sign or exponent (`-0`, `0e999`).

/// Largest amount accepted, in cents: $1,000,000.00.
pub const MAX_CENTS: u64 = 100_000_000;

/// Digits of [`MAX_CENTS`]; anything longer is too large without computing it.
const MAX_CENTS_DIGITS: i64 = 9;

/// Exponents beyond this are saturated: they are far past any amount in range either way, and
/// the cap keeps the arithmetic on them from overflowing.
const EXPONENT_CAP: i64 = 1_000_000_000_000;

/// What is wrong with an amount's text; the message completes a sentence starting with the
/// amount as sent ([`crate::InvalidAmount::Amount`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AmountProblem {
    #[error(
        "is not a decimal number of dollars: send digits with an optional \".\" and at most 2 decimals, e.g. \"0.63\" or 12.5"
    )]
    NotADecimal,
    #[error("has a \"+\" sign: send the plain number, e.g. \"0.63\"")]
    PlusSign,
    #[error("has spaces around the number: send just the number, e.g. \"0.63\"")]
    Whitespace,
    #[error("is negative: send an amount from 0 to 1000000.00, e.g. \"0.63\"")]
    Negative,
    #[error("is a fraction of a cent: send at most 2 decimals, e.g. \"0.63\"")]
    FractionOfCent,
    #[error("is more than 1000000.00: send an amount from 0 to 1000000.00, e.g. \"0.63\"")]
    TooLarge,
}

/// The parts of a decimal's text.
struct Decimal<'a> {
    negative: bool,
    integer: &'a str,
    fraction: &'a str,
    /// Saturated at ±[`EXPONENT_CAP`].
    exponent: i64,
}

/// Converts the text of an amount of dollars into cents (see the module documentation).
pub fn cents_from_decimal(text: &str) -> Result<u64, AmountProblem> {
    if text.trim() != text {
        return Err(AmountProblem::Whitespace);
    }
    if text.starts_with('+') {
        return Err(AmountProblem::PlusSign);
    }
    let decimal = split(text).ok_or(AmountProblem::NotADecimal)?;
    // value = digits × 10^scale
    let digits = format!("{}{}", decimal.integer, decimal.fraction);
    let significant = digits.trim_start_matches('0');
    if significant.is_empty() {
        return Ok(0);
    }
    if decimal.negative {
        return Err(AmountProblem::Negative);
    }
    let trimmed = significant.trim_end_matches('0');
    let scale = decimal.exponent - len(decimal.fraction) + len(significant) - len(trimmed);
    // cents = trimmed × 10^cents_scale, and `trimmed` ends in a non-zero digit, so a negative
    // scale always leaves a fraction of a cent.
    let cents_scale = scale + 2;
    if cents_scale < 0 {
        return Err(AmountProblem::FractionOfCent);
    }
    if len(trimmed) + cents_scale > MAX_CENTS_DIGITS {
        return Err(AmountProblem::TooLarge);
    }
    // At most 9 digits in all from here, so none of this can overflow a u64.
    let mut cents = trimmed
        .bytes()
        .fold(0u64, |acc, digit| acc * 10 + u64::from(digit - b'0'));
    for _ in 0..cents_scale {
        cents *= 10;
    }
    if cents > MAX_CENTS {
        return Err(AmountProblem::TooLarge);
    }
    Ok(cents)
}

/// A length as a signed number for the scale arithmetic; text longer than `i64::MAX` bytes
/// cannot exist, so saturating is only for form.
fn len(text: &str) -> i64 {
    i64::try_from(text.len()).unwrap_or(i64::MAX)
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

/// Splits `-?digits(.digits)?([eE][+-]?digits)?`; `None` if `text` is not of that form.
fn split(text: &str) -> Option<Decimal<'_>> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match rest.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (rest, None),
    };
    let (integer, fraction) = match mantissa.split_once('.') {
        Some((integer, fraction)) => (integer, Some(fraction)),
        None => (mantissa, None),
    };
    if !is_digits(integer) || fraction.is_some_and(|f| !is_digits(f)) {
        return None;
    }
    let exponent = match exponent {
        None => 0,
        Some(text) => {
            let (sign, digits) = match text.strip_prefix('-') {
                Some(digits) => (-1, digits),
                None => (1, text.strip_prefix('+').unwrap_or(text)),
            };
            if !is_digits(digits) {
                return None;
            }
            let magnitude = digits.bytes().fold(0i64, |acc, digit| {
                (acc * 10 + i64::from(digit - b'0')).min(EXPONENT_CAP)
            });
            sign * magnitude
        }
    };
    Some(Decimal {
        negative,
        integer,
        fraction: fraction.unwrap_or(""),
        exponent,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cents(text: &str) -> Result<u64, AmountProblem> {
        cents_from_decimal(text)
    }

    #[test]
    fn exact_decimals_become_cents() {
        assert_eq!(cents("0"), Ok(0));
        assert_eq!(cents("0.01"), Ok(1));
        // 0.29 is not exactly representable as a float (0.28999999999999998).
        assert_eq!(cents("0.29"), Ok(29));
        assert_eq!(cents("0.63"), Ok(63));
        assert_eq!(cents("0.630"), Ok(63));
        assert_eq!(cents("0.6300000000000000000000"), Ok(63));
        assert_eq!(cents("12.5"), Ok(1250));
        assert_eq!(cents("7"), Ok(700));
        assert_eq!(cents("1000000"), Ok(MAX_CENTS));
        assert_eq!(cents("1000000.00"), Ok(MAX_CENTS));
        assert_eq!(cents("999999.99"), Ok(MAX_CENTS - 1));
        // Leading zeros are only zeros.
        assert_eq!(cents("0000000000000000000000001.10"), Ok(110));
    }

    #[test]
    fn zero_is_zero_whatever_its_form() {
        for text in [
            "0",
            "0.00",
            "-0",
            "-0.000",
            "0e999",
            "0e-99999999999999999999",
            "000",
        ] {
            assert_eq!(cents(text), Ok(0), "{text}");
        }
    }

    #[test]
    fn exponents_are_exact() {
        assert_eq!(cents("1e2"), Ok(10_000));
        assert_eq!(cents("1E2"), Ok(10_000));
        assert_eq!(cents("1e+2"), Ok(10_000));
        assert_eq!(cents("6.3e-1"), Ok(63));
        assert_eq!(cents("63e-2"), Ok(63));
        assert_eq!(cents("1e6"), Ok(MAX_CENTS));
        assert_eq!(cents("0.000001e12"), Ok(MAX_CENTS));
        assert_eq!(cents("1e-2"), Ok(1));
        assert_eq!(cents("1e-3"), Err(AmountProblem::FractionOfCent));
        assert_eq!(cents("1e400"), Err(AmountProblem::TooLarge));
        assert_eq!(cents("1e-400"), Err(AmountProblem::FractionOfCent));
        assert_eq!(
            cents("1e99999999999999999999999999"),
            Err(AmountProblem::TooLarge)
        );
        assert_eq!(
            cents("1e-99999999999999999999999999"),
            Err(AmountProblem::FractionOfCent)
        );
    }

    #[test]
    fn out_of_range_and_sub_cent_amounts_are_refused() {
        assert_eq!(cents("1000000.01"), Err(AmountProblem::TooLarge));
        assert_eq!(cents("1000001"), Err(AmountProblem::TooLarge));
        assert_eq!(cents("9999999999"), Err(AmountProblem::TooLarge));
        assert_eq!(cents("-0.01"), Err(AmountProblem::Negative));
        assert_eq!(cents("-5"), Err(AmountProblem::Negative));
        assert_eq!(cents("-0.635"), Err(AmountProblem::Negative));
        assert_eq!(cents("0.635"), Err(AmountProblem::FractionOfCent));
        assert_eq!(cents("0.001"), Err(AmountProblem::FractionOfCent));
        assert_eq!(cents("1000000.001"), Err(AmountProblem::FractionOfCent));
    }

    #[test]
    fn huge_digit_strings_are_judged_without_overflow() {
        let huge = format!("1{}", "0".repeat(100_000));
        assert_eq!(cents(&huge), Err(AmountProblem::TooLarge));
        let tiny = format!("0.{}1", "0".repeat(100_000));
        assert_eq!(cents(&tiny), Err(AmountProblem::FractionOfCent));
        let padded = format!("{}5.{}", "0".repeat(100_000), "0".repeat(100_000));
        assert_eq!(cents(&padded), Ok(500));
        let long_max = format!("1000000.{}", "0".repeat(50_000));
        assert_eq!(cents(&long_max), Ok(MAX_CENTS));
        assert_eq!(
            cents("18446744073709551616"),
            Err(AmountProblem::TooLarge),
            "2^64 must not wrap"
        );
    }

    #[test]
    fn text_that_is_not_a_decimal_is_refused() {
        for text in [
            "", "abc", ".5", "5.", "0x10", "1,000.00", "$0.63", "NaN", "Infinity", "-", "1e",
            "1e+", "e5", "1.2.3", "0.6 3", "٣", "1_000",
        ] {
            assert_eq!(cents(text), Err(AmountProblem::NotADecimal), "{text:?}");
        }
        assert_eq!(cents("+0.63"), Err(AmountProblem::PlusSign));
        assert_eq!(cents(" 0.63"), Err(AmountProblem::Whitespace));
        assert_eq!(cents("0.63\n"), Err(AmountProblem::Whitespace));
        assert_eq!(cents("\t0.63 "), Err(AmountProblem::Whitespace));
    }
}
