//! The one error this function has: a request it cannot make change for. Direct invokes report
//! it as a function error with `errorType` `InvalidAmount`; over HTTP it is a 400.

use lambda_runtime::Diagnostic;

use crate::amount::AmountProblem;

/// What was wrong with the request; every message also says what to send instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAmount {
    #[error("missing \"amount\": send {{\"amount\": \"0.63\"}}")]
    MissingAmount,
    /// `shown` is the amount as sent (a JSON string keeps its quotes), cut if very long.
    #[error("\"amount\" {shown} {problem}")]
    Amount {
        shown: String,
        problem: AmountProblem,
    },
    #[error(
        "\"amount\" must be a number of dollars, as a JSON string or number, got {0}: send {{\"amount\": \"0.63\"}}"
    )]
    NotANumber(&'static str),
    #[error("unknown field {0:?}: the only field is \"amount\", send {{\"amount\": \"0.63\"}}")]
    UnknownField(String),
    #[error("the request must be a JSON object, got {0}: send {{\"amount\": \"0.63\"}}")]
    NotAnObject(&'static str),
    #[error("request body is empty: POST a JSON body like {{\"amount\": \"0.63\"}}")]
    EmptyBody,
    #[error("request body is not valid JSON ({0}): send {{\"amount\": \"0.63\"}}")]
    InvalidJson(String),
    #[error(
        "request body is marked base64 but is not valid base64 ({0}): send {{\"amount\": \"0.63\"}}"
    )]
    InvalidBase64(String),
    #[error("request body is not UTF-8 text: send {{\"amount\": \"0.63\"}}")]
    BodyNotUtf8,
    #[error(
        "payload looks like {kind} but is not a valid one ({message}); for a direct invoke send {{\"amount\": \"0.63\"}}"
    )]
    MalformedEvent { kind: &'static str, message: String },
}

impl From<InvalidAmount> for Diagnostic {
    fn from(error: InvalidAmount) -> Self {
        Diagnostic {
            // A stable name callers can match on, instead of the Rust type path lambda_runtime
            // would derive by default.
            error_type: "InvalidAmount".to_owned(),
            error_message: error.to_string(),
        }
    }
}
