//! `square`: an example Lambda that squares a number. One handler serves both ways in:
//!
//! - direct invoke: `{"number": 6}` returns `{"result": 36}`; bad input is a function error
//!   with `errorType` `InvalidInput`;
//! - function URL: `POST /` with the same body, or `GET /?number=6`, answers
//!   `200 {"result": 36}`; bad input is `400 {"error": "..."}` (see [`url`]).
//!
//! Integers are exact from `i64::MIN` to `u64::MAX` (the square is computed in 128 bits);
//! floats square as `f64` and an overflow to infinity is refused.
#![forbid(unsafe_code)]

pub mod arithmetic;
pub mod error;
pub mod input;
pub mod url;

use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use lambda_runtime::{LambdaEvent, tracing};
use serde::Serialize;
use serde_json::Value;

pub use arithmetic::{Operand, Squared, square};
pub use error::InvalidInput;

/// The answer to a direct invoke, and the body of a successful function URL response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SquareResponse {
    pub result: Squared,
}

/// What the function returns: a plain result, or an HTTP response for the function URL.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Response {
    Direct(SquareResponse),
    Url(LambdaFunctionUrlResponse),
}

/// The two kinds of event this function accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// A direct invoke payload such as `{"number": 6}`.
    Direct(Value),
    /// A function URL (payload format 2.0) request.
    Url(Box<LambdaFunctionUrlRequest>),
}

/// True if `payload` has the shape of a function URL event (`rawPath` or
/// `requestContext.http`), which a direct-invoke payload never has.
pub fn is_function_url_event(payload: &Value) -> bool {
    payload.get("rawPath").is_some()
        || payload
            .get("requestContext")
            .and_then(|context| context.get("http"))
            .is_some()
}

impl Request {
    /// Tells the two event kinds apart by shape and deserialises a function URL event into
    /// its typed form.
    pub fn classify(payload: Value) -> Result<Self, InvalidInput> {
        if is_function_url_event(&payload) {
            serde_json::from_value(payload)
                .map(|request| Request::Url(Box::new(request)))
                .map_err(|e| InvalidInput::MalformedUrlEvent(e.to_string()))
        } else {
            Ok(Request::Direct(payload))
        }
    }
}

/// Handles one event of either kind; see the crate documentation for the contract.
pub fn handle_payload(payload: Value) -> Result<Response, InvalidInput> {
    match Request::classify(payload)? {
        Request::Url(request) => Ok(Response::Url(url::respond(&request))),
        Request::Direct(payload) => {
            let result = input::operand_from_json(&payload).and_then(square);
            if let Err(error) = &result {
                tracing::info!(%error, "rejected direct invoke");
            }
            Ok(Response::Direct(SquareResponse { result: result? }))
        }
    }
}

/// The Lambda handler, as passed to `lambda_runtime::run(service_fn(handle))`.
pub async fn handle(event: LambdaEvent<Value>) -> Result<Response, InvalidInput> {
    handle_payload(event.payload)
}
