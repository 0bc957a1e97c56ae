//! `make-change`: an example Lambda that makes change in US coins. `$0.63` gives 2 quarters,
//! 1 dime and 3 pennies. One handler serves three ways in, told apart by the event's shape:
//!
//! - API Gateway REST API (Lambda proxy integration, v1 events with `httpMethod` and
//!   `requestContext`/`resource`) and function URLs (v2 events with `rawPath` or
//!   `requestContext.http`): `POST /change` with `{"amount": "0.63"}` answers
//!   `200 {"quarters":2,"dimes":1,"nickels":0,"pennies":3}`; bad input is `400 {"error": ...}`
//!   (see [`http`]);
//! - direct invoke: the payload `{"amount": "0.63"}` returns the same JSON; bad input is a
//!   function error with `errorType` `InvalidAmount`.
//!
//! The amount is dollars, as a JSON string or number, read exactly from its decimal text (see
//! [`amount`]): at most 2 decimals, from 0 to 1000000.00.
#![forbid(unsafe_code)]

pub mod amount;
pub mod coins;
pub mod error;
pub mod http;
pub mod input;

use std::collections::BTreeMap;

use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use lambda_runtime::{LambdaEvent, tracing};
use serde::Serialize;
use serde_json::value::RawValue;

pub use amount::{AmountProblem, MAX_CENTS, cents_from_decimal};
pub use coins::{Change, make_change};
pub use error::InvalidAmount;

/// What the function returns: coins for a direct invoke, or an HTTP response in the shape of
/// the event that asked.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Response {
    Direct(Change),
    RestApi(ApiGatewayProxyResponse),
    FunctionUrl(LambdaFunctionUrlResponse),
}

/// The kinds of event this function accepts.
#[derive(Debug, Clone)]
pub enum Request<'a> {
    /// An API Gateway REST API proxy request (payload format 1.0).
    RestApi(Box<ApiGatewayProxyRequest>),
    /// A function URL request (payload format 2.0).
    FunctionUrl(Box<LambdaFunctionUrlRequest>),
    /// A direct invoke; the payload should be `{"amount": ...}`, still as raw JSON.
    Direct(&'a RawValue),
}

impl<'a> Request<'a> {
    /// Tells the event kinds apart by their top-level fields, without reading any number (a
    /// direct invoke's amount may be `1e400`, which no float holds), then deserialises an HTTP
    /// event into its typed form.
    pub fn classify(payload: &'a RawValue) -> Result<Self, InvalidAmount> {
        let Ok(fields) = serde_json::from_str::<BTreeMap<&str, &RawValue>>(payload.get()) else {
            // Not an object (or keys with escapes, which no event has): a direct invoke, which
            // the amount reader refuses with the reason.
            return Ok(Request::Direct(payload));
        };
        let context_has_http = fields
            .get("requestContext")
            .and_then(|context| {
                serde_json::from_str::<BTreeMap<&str, &RawValue>>(context.get()).ok()
            })
            .is_some_and(|context| context.contains_key("http"));
        if fields.contains_key("httpMethod")
            && (fields.contains_key("requestContext") || fields.contains_key("resource"))
        {
            return serde_json::from_str(payload.get())
                .map(|request| Request::RestApi(Box::new(request)))
                .map_err(|e| InvalidAmount::MalformedEvent {
                    kind: "an API Gateway REST proxy event (it has httpMethod and requestContext or resource)",
                    message: e.to_string(),
                });
        }
        if fields.contains_key("rawPath") || context_has_http {
            return serde_json::from_str(payload.get())
                .map(|request| Request::FunctionUrl(Box::new(request)))
                .map_err(|e| InvalidAmount::MalformedEvent {
                    kind: "a function URL event (it has rawPath or requestContext.http)",
                    message: e.to_string(),
                });
        }
        Ok(Request::Direct(payload))
    }
}

/// Handles one event of any kind; see the crate documentation for the contract.
pub fn handle_payload(payload: &RawValue) -> Result<Response, InvalidAmount> {
    match Request::classify(payload)? {
        Request::RestApi(request) => Ok(Response::RestApi(http::respond_rest(&request))),
        Request::FunctionUrl(request) => {
            Ok(Response::FunctionUrl(http::respond_function_url(&request)))
        }
        Request::Direct(payload) => match input::cents_from_request(payload) {
            Ok(cents) => Ok(Response::Direct(make_change(cents))),
            Err(error) => {
                tracing::info!(%error, "rejected direct invoke");
                Err(error)
            }
        },
    }
}

/// The Lambda handler, as passed to `lambda_runtime::run(service_fn(handle))`. The payload is
/// kept as raw JSON so the amount's digits reach [`amount`] as they were sent.
pub async fn handle(event: LambdaEvent<Box<RawValue>>) -> Result<Response, InvalidAmount> {
    handle_payload(&event.payload)
}
