//! Reading the operand out of a JSON payload (`{"number": 6}`), shared by direct invokes and
//! function URL POST bodies so both accept and reject exactly the same things.

use serde_json::Value;

use crate::arithmetic::Operand;
use crate::error::{InvalidInput, describe};

/// The only field a request may carry.
pub const NUMBER_FIELD: &str = "number";

/// Extracts the operand from `{"number": <JSON number>}`.
///
/// Unknown fields are refused so that a typo such as `{"numbr": 6}` is reported as such
/// instead of as a missing number.
pub fn operand_from_json(payload: &Value) -> Result<Operand, InvalidInput> {
    let object = payload
        .as_object()
        .ok_or_else(|| InvalidInput::NotAnObject(describe(payload)))?;
    if let Some(unknown) = object.keys().find(|key| *key != NUMBER_FIELD) {
        return Err(InvalidInput::UnknownField(unknown.clone()));
    }
    match object.get(NUMBER_FIELD) {
        None => Err(InvalidInput::MissingNumber),
        Some(Value::Number(number)) => Operand::from_json(number),
        Some(other) => Err(InvalidInput::NotANumber(describe(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_integers_and_floats() {
        assert_eq!(
            operand_from_json(&json!({"number": 6})).unwrap(),
            Operand::Int(6)
        );
        assert_eq!(
            operand_from_json(&json!({"number": 1.5})).unwrap(),
            Operand::Float(1.5)
        );
        assert_eq!(
            operand_from_json(&json!({"number": u64::MAX})).unwrap(),
            Operand::Int(u64::MAX.into())
        );
    }

    #[test]
    fn rejects_everything_else_with_a_reason() {
        let cases = [
            (json!({}), "missing \"number\""),
            (json!({"number": null}), "got null"),
            (json!({"number": "6"}), "got a string (\"6\")"),
            (json!({"number": "NaN"}), "got a string (\"NaN\")"),
            (json!({"number": true}), "got a boolean"),
            (json!({"number": [6]}), "got an array"),
            (json!({"numbr": 6}), "unknown field \"numbr\""),
            (json!({"number": 6, "extra": 1}), "unknown field \"extra\""),
            (json!([6]), "must be a JSON object"),
            (json!(6), "must be a JSON object"),
        ];
        for (payload, expected) in cases {
            let message = operand_from_json(&payload).unwrap_err().to_string();
            assert!(message.contains(expected), "{payload}: {message}");
        }
    }
}
