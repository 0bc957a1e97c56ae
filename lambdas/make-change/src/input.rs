//! Reading the amount out of a request (`{"amount": "0.63"}` or `{"amount": 0.63}`), shared by
//! direct invokes and HTTP bodies so both accept and refuse exactly the same things. The amount
//! stays raw JSON text until [`crate::amount`] reads it, so numbers never pass through a float.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

use crate::amount::cents_from_decimal;
use crate::error::InvalidAmount;

/// The only field a request has.
pub const AMOUNT_FIELD: &str = "amount";

/// Longest amount text repeated back in an error message.
const SHOWN_CHARS: usize = 40;

/// The amount of `request`, a JSON object with just `amount`, in cents.
///
/// Unknown fields are refused so a typo such as `{"amout": "0.63"}` is reported as such instead
/// of as a missing amount.
pub fn cents_from_request(request: &RawValue) -> Result<u64, InvalidAmount> {
    let fields: BTreeMap<String, &RawValue> = serde_json::from_str(request.get())
        .map_err(|_| InvalidAmount::NotAnObject(json_kind(request)))?;
    if let Some(unknown) = fields.keys().find(|key| *key != AMOUNT_FIELD) {
        return Err(InvalidAmount::UnknownField(unknown.clone()));
    }
    let amount = fields
        .get(AMOUNT_FIELD)
        .ok_or(InvalidAmount::MissingAmount)?;
    cents_from_amount(amount)
}

/// The amount's value in cents, from a JSON string or number.
pub fn cents_from_amount(amount: &RawValue) -> Result<u64, InvalidAmount> {
    let text = amount.get();
    match json_kind(amount) {
        "a string" => {
            // Decoding applies JSON escapes; what the string says is what is read.
            let decoded: String = serde_json::from_str(text)
                .map_err(|_| InvalidAmount::NotANumber("a string that is not valid JSON text"))?;
            cents_from_decimal(&decoded).map_err(|problem| InvalidAmount::Amount {
                shown: format!("{:?}", cut(&decoded)),
                problem,
            })
        }
        "a number" => cents_from_decimal(text).map_err(|problem| InvalidAmount::Amount {
            shown: cut(text),
            problem,
        }),
        other => Err(InvalidAmount::NotANumber(other)),
    }
}

/// What kind of JSON value `value` is, for messages ("a string", "null", ...). The text of a
/// `RawValue` is valid JSON without surrounding whitespace, so its first byte tells.
pub fn json_kind(value: &RawValue) -> &'static str {
    match value.get().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

/// `text` cut to [`SHOWN_CHARS`] characters, so a megabyte of digits is not echoed back.
fn cut(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::amount::AmountProblem;

    fn cents(json: &str) -> Result<u64, InvalidAmount> {
        let raw: &RawValue = serde_json::from_str(json).unwrap();
        cents_from_request(raw)
    }

    fn problem(json: &str) -> AmountProblem {
        match cents(json) {
            Err(InvalidAmount::Amount { problem, .. }) => problem,
            other => panic!("{json}: {other:?}"),
        }
    }

    #[test]
    fn strings_and_numbers_are_read_from_their_text() {
        assert_eq!(cents(r#"{"amount": "0.63"}"#), Ok(63));
        assert_eq!(cents(r#"{"amount": 0.63}"#), Ok(63));
        assert_eq!(cents(r#"{"amount": 0.29}"#), Ok(29));
        assert_eq!(cents(r#"{"amount": "0.29"}"#), Ok(29));
        assert_eq!(cents(r#"{"amount": 0.630}"#), Ok(63));
        assert_eq!(cents(r#"{"amount": 0}"#), Ok(0));
        assert_eq!(cents(r#"{"amount": 0.01}"#), Ok(1));
        assert_eq!(cents(r#"{"amount": 1000000.00}"#), Ok(100_000_000));
        assert_eq!(cents(r#"{"amount": 1e2}"#), Ok(10_000));
        assert_eq!(cents(r#"{"amount": "\u0030.63"}"#), Ok(63));
        assert_eq!(cents(r#"  {  "amount"  :  0.63  }  "#.trim()), Ok(63));
    }

    #[test]
    fn bad_amounts_say_what_was_wrong() {
        assert_eq!(
            problem(r#"{"amount": 1000000.01}"#),
            AmountProblem::TooLarge
        );
        assert_eq!(problem(r#"{"amount": -0.01}"#), AmountProblem::Negative);
        assert_eq!(
            problem(r#"{"amount": 0.635}"#),
            AmountProblem::FractionOfCent
        );
        // Out of f64 range: still judged from the text, not refused as unparseable.
        assert_eq!(problem(r#"{"amount": 1e400}"#), AmountProblem::TooLarge);
        assert_eq!(problem(r#"{"amount": "abc"}"#), AmountProblem::NotADecimal);
        assert_eq!(problem(r#"{"amount": "+0.63"}"#), AmountProblem::PlusSign);
        assert_eq!(problem(r#"{"amount": " 0.63"}"#), AmountProblem::Whitespace);

        let message = cents(r#"{"amount": "0.635"}"#).unwrap_err().to_string();
        assert_eq!(
            message,
            r#""amount" "0.635" is a fraction of a cent: send at most 2 decimals, e.g. "0.63""#
        );
        let message = cents(r#"{"amount": -0.01}"#).unwrap_err().to_string();
        assert!(
            message.starts_with(r#""amount" -0.01 is negative"#),
            "{message}"
        );
    }

    #[test]
    fn long_amounts_are_cut_in_messages() {
        let json = format!(r#"{{"amount": {}}}"#, "9".repeat(10_000));
        let message = cents(&json).unwrap_err().to_string();
        assert!(message.len() < 300, "{message}");
        assert!(message.contains("9999…"), "{message}");
    }

    #[test]
    fn wrong_shapes_are_refused() {
        let cases = [
            (r#"{}"#, "missing \"amount\""),
            (r#"{"amount": null}"#, "got null"),
            (r#"{"amount": true}"#, "got a boolean"),
            (r#"{"amount": [63]}"#, "got an array"),
            (r#"{"amount": {"cents": 63}}"#, "got an object"),
            (r#"{"amout": "0.63"}"#, "unknown field \"amout\""),
            (
                r#"{"amount": "0.63", "currency": "USD"}"#,
                "unknown field \"currency\"",
            ),
            (r#"["0.63"]"#, "must be a JSON object, got an array"),
            (r#""0.63""#, "must be a JSON object, got a string"),
            (r#"0.63"#, "must be a JSON object, got a number"),
            (r#"null"#, "must be a JSON object, got null"),
        ];
        for (json, expected) in cases {
            let message = cents(json).unwrap_err().to_string();
            assert!(message.contains(expected), "{json}: {message}");
            assert!(
                message.contains(r#"{"amount": "0.63"}"#) || message.contains("\"0.63\""),
                "{json}: {message}"
            );
        }
    }
}
