//! The arithmetic: squaring integers exactly and floats within `f64`, with overflow reported
//! as an error rather than a wrong or infinite answer.

use serde::{Serialize, Serializer};

use crate::error::InvalidInput;

/// Largest magnitude whose square is still a finite `f64` (about 1.34e154).
pub const MAX_FLOAT_OPERAND: f64 = 1.340_780_792_994_259_6e154;

/// A number as the caller sent it: integral JSON numbers stay integers (exact), anything with a
/// fraction or exponent is a float.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Operand {
    /// Any integer from `i64::MIN` to `u64::MAX` (what a JSON parser yields exactly).
    Int(i128),
    /// A finite float.
    Float(f64),
}

/// The square, in the same kind as the operand.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Squared {
    /// Exact: `u64::MAX²` needs 128 bits, which is why this is `u128`.
    Int(u128),
    /// Always finite.
    Float(f64),
}

/// Squares `operand`.
///
/// Integers are exact over the whole `i64`/`u64` input range. Floats whose square overflows
/// `f64` are rejected, because infinity is not a JSON number and not a useful answer.
pub fn square(operand: Operand) -> Result<Squared, InvalidInput> {
    match operand {
        Operand::Int(n) => {
            let magnitude = n.unsigned_abs();
            magnitude
                .checked_mul(magnitude)
                .map(Squared::Int)
                .ok_or(InvalidInput::IntegerTooLarge(n))
        }
        Operand::Float(x) if !x.is_finite() => Err(InvalidInput::NotFinite(x.to_string())),
        Operand::Float(x) => {
            let result = x * x;
            if result.is_finite() {
                Ok(Squared::Float(result))
            } else {
                Err(InvalidInput::ResultOverflows(x))
            }
        }
    }
}

impl Operand {
    /// Reads a JSON number: integers that fit `i64` or `u64` stay exact, others become floats.
    pub fn from_json(number: &serde_json::Number) -> Result<Self, InvalidInput> {
        if let Some(n) = number.as_i64() {
            Ok(Operand::Int(n.into()))
        } else if let Some(n) = number.as_u64() {
            Ok(Operand::Int(n.into()))
        } else {
            number
                .as_f64()
                .filter(|x| x.is_finite())
                .map(Operand::Float)
                .ok_or_else(|| InvalidInput::NotFinite(number.to_string()))
        }
    }

    /// Reads a number written as text (a query string parameter), with the same rules as JSON:
    /// integers exact, floats finite. `NaN`, `inf` and friends are refused.
    pub fn from_text(text: &str) -> Result<Self, InvalidInput> {
        if let Ok(n) = text.parse::<i64>() {
            return Ok(Operand::Int(n.into()));
        }
        if let Ok(n) = text.parse::<u64>() {
            return Ok(Operand::Int(n.into()));
        }
        match text.parse::<f64>() {
            Ok(x) if x.is_finite() => Ok(Operand::Float(x)),
            // Rust parses "inf", "NaN" and out-of-range literals like "1e999" into non-finite
            // floats; none of them can be squared into a JSON number.
            Ok(_) => Err(InvalidInput::NotFinite(text.to_owned())),
            Err(_) => Err(InvalidInput::QueryNotANumber(text.to_owned())),
        }
    }
}

impl Serialize for Squared {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            // serde_json writes the full 128-bit integer as JSON digits.
            Squared::Int(n) => serializer.serialize_u128(n),
            Squared::Float(x) => serializer.serialize_f64(x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(n: impl Into<i128>) -> Squared {
        square(Operand::Int(n.into())).unwrap()
    }

    #[test]
    fn small_integers() {
        assert_eq!(int(6), Squared::Int(36));
        assert_eq!(int(-6), Squared::Int(36));
        assert_eq!(int(0), Squared::Int(0));
    }

    #[test]
    fn i64_limits_are_exact() {
        assert_eq!(
            int(i64::MAX),
            Squared::Int(85_070_591_730_234_615_847_396_907_784_232_501_249)
        );
        // 2^126, not representable in i64 nor exactly in f64 arithmetic done naively.
        assert_eq!(int(i64::MIN), Squared::Int(1u128 << 126));
        assert_eq!(int(i64::MIN + 1), int(i64::MAX));
    }

    #[test]
    fn u64_max_is_exact() {
        assert_eq!(
            int(u64::MAX),
            Squared::Int(340_282_366_920_938_463_426_481_119_284_349_108_225)
        );
    }

    #[test]
    fn integers_beyond_the_input_range_are_refused_not_wrapped() {
        let err = square(Operand::Int(i128::MAX)).unwrap_err();
        assert!(matches!(err, InvalidInput::IntegerTooLarge(_)), "{err}");
    }

    #[test]
    fn floats_square_as_floats() {
        assert_eq!(square(Operand::Float(1.5)).unwrap(), Squared::Float(2.25));
        assert_eq!(square(Operand::Float(-0.5)).unwrap(), Squared::Float(0.25));
        assert_eq!(square(Operand::Float(6.0)).unwrap(), Squared::Float(36.0));
    }

    #[test]
    fn float_overflow_is_an_error() {
        let err = square(Operand::Float(1e200)).unwrap_err();
        assert!(matches!(err, InvalidInput::ResultOverflows(_)));
        assert!(err.to_string().contains("1.34e154"), "{err}");
        assert!(square(Operand::Float(MAX_FLOAT_OPERAND)).is_ok());
        assert!(square(Operand::Float(f64::NAN)).is_err());
        assert!(square(Operand::Float(f64::INFINITY)).is_err());
    }

    #[test]
    fn serialises_big_integers_exactly() {
        let json = serde_json::to_string(&int(u64::MAX)).unwrap();
        assert_eq!(json, "340282366920938463426481119284349108225");
        assert_eq!(
            serde_json::to_string(&Squared::Float(2.25)).unwrap(),
            "2.25"
        );
    }

    #[test]
    fn text_operands() {
        assert_eq!(Operand::from_text("6").unwrap(), Operand::Int(6));
        assert_eq!(
            Operand::from_text("-9223372036854775808").unwrap(),
            Operand::Int(i64::MIN.into())
        );
        assert_eq!(
            Operand::from_text("18446744073709551615").unwrap(),
            Operand::Int(u64::MAX.into())
        );
        assert_eq!(Operand::from_text("1.5").unwrap(), Operand::Float(1.5));
        for bad in ["NaN", "inf", "-infinity", "1e999"] {
            assert!(
                matches!(Operand::from_text(bad), Err(InvalidInput::NotFinite(_))),
                "{bad}"
            );
        }
        for bad in ["six", "", "6 ", "0x10"] {
            assert!(
                matches!(
                    Operand::from_text(bad),
                    Err(InvalidInput::QueryNotANumber(_))
                ),
                "{bad}"
            );
        }
    }
}
