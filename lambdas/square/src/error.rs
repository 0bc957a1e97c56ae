//! The one error this function has: input it cannot square. Direct invokes report it as a
//! function error with `errorType` `InvalidInput`; the function URL turns it into a 400.

use lambda_runtime::Diagnostic;

use crate::arithmetic::MAX_FLOAT_OPERAND;

/// What was wrong with the request; every message also says what is expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidInput {
    #[error("missing \"number\": send a JSON object like {{\"number\": 6}}")]
    MissingNumber,
    #[error("missing query parameter \"number\": call GET /?number=6 or POST {{\"number\": 6}}")]
    MissingQueryNumber,
    #[error("\"number\" must be a JSON number such as 6 or 1.5, got {0}")]
    NotANumber(String),
    #[error("query parameter \"number\" must be a number such as 6 or 1.5, got {0:?}")]
    QueryNotANumber(String),
    #[error("\"number\" must be finite: NaN and infinity cannot be squared (got {0})")]
    NotFinite(String),
    #[error(
        "the square of {0:e} overflows a 64-bit float; send a number whose magnitude is at most {max:.2e}",
        max = MAX_FLOAT_OPERAND
    )]
    ResultOverflows(f64),
    #[error(
        "{0} is outside the supported integer range (-9223372036854775808 to 18446744073709551615)"
    )]
    IntegerTooLarge(i128),
    #[error("unknown field {0:?}: the only accepted field is \"number\", e.g. {{\"number\": 6}}")]
    UnknownField(String),
    #[error("the payload must be a JSON object like {{\"number\": 6}}, got {0}")]
    NotAnObject(String),
    #[error(
        "request body is empty: POST a JSON body like {{\"number\": 6}} or call GET /?number=6"
    )]
    EmptyBody,
    #[error("request body is not valid JSON ({0}): send a JSON object like {{\"number\": 6}}")]
    InvalidJson(String),
    #[error("request body is marked base64 but is not valid base64 ({0})")]
    InvalidBase64(String),
    #[error("request body is not UTF-8 text: send a JSON object like {{\"number\": 6}}")]
    BodyNotUtf8,
    #[error(
        "payload looks like a function URL event (it has rawPath or requestContext.http) but is not a valid one ({0}); for a direct invoke send {{\"number\": 6}}"
    )]
    MalformedUrlEvent(String),
}

impl From<InvalidInput> for Diagnostic {
    fn from(error: InvalidInput) -> Self {
        Diagnostic {
            // A stable name callers can match on, instead of the Rust type path that
            // lambda_runtime would derive by default.
            error_type: "InvalidInput".to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// Describes a JSON value's type for error messages ("a string (\"6\")", "null", ...).
pub(crate) fn describe(value: &serde_json::Value) -> String {
    use serde_json::Value;
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("a boolean ({b})"),
        Value::Number(n) => format!("a number ({n})"),
        Value::String(s) => format!("a string ({s:?})"),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}
