//! `image-generator`: an example Lambda that turns a prompt into a PNG stored in S3.
//!
//! One handler ([`handle`]) serves four kinds of event, told apart by shape:
//!
//! - a function URL request ([`url`]): `POST /generate-image` and `GET /images/<file>`;
//! - an API Gateway REST API proxy request ([`rest`]): the same routes under the stage, answered
//!   in the v1 response shape;
//! - an SQS event ([`sqs`]): each record body is a request; failures are reported per record;
//! - a direct invoke with a request as payload: returns the same JSON as the `201` answer, or a
//!   function error (`InvalidInput`, `ModelError`, `StorageError`).
//!
//! A request is `{"prompt": "...", "width"?: 64..=1024, "height"?: 64..=1024, "seed"?: u64}`
//! ([`request`]); images are stored under a content-addressed key ([`key`]), then announced
//! with an `image-ready` message ([`notify`], [`sns`]) when a topic is configured. The model
//! ([`model`]), the storage ([`store`], [`s3`]) and the notifier are traits chosen at startup,
//! so the handler logic runs unchanged against in-memory ones in tests.
#![forbid(unsafe_code)]

pub mod aws;
pub mod config;
pub mod key;
pub mod model;
pub mod notify;
pub mod request;
pub mod rest;
pub mod s3;
pub mod service;
pub mod sns;
pub mod sqs;
pub mod store;
pub mod url;

#[cfg(feature = "client")]
pub mod client;

use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;

pub use model::{ModelClient, StubModel};
pub use notify::{ImageReady, MemoryNotifier, NoNotifier, Notifier};
pub use request::GenerateRequest;
pub use service::{ImageCreated, ImageService, ServiceError};
pub use store::{ImageStore, MemoryStore};

/// The kinds of event the function accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    FunctionUrl(Box<LambdaFunctionUrlRequest>),
    /// An API Gateway REST API (v1) Lambda proxy request.
    RestApi(Box<ApiGatewayProxyRequest>),
    Sqs(SqsEvent),
    /// A direct invoke; the payload should be an image request.
    Direct(Value),
}

/// What the function returns, depending on the event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Output {
    FunctionUrl(LambdaFunctionUrlResponse),
    RestApi(ApiGatewayProxyResponse),
    Sqs(SqsBatchResponse),
    Created(ImageCreated),
}

/// A failed invocation (only direct invokes and unrecognised events fail; function URL, REST API
/// and SQS events always get an answer). The `errorType` is the name shown in each variant's docs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// `InvalidInput`: the request was refused.
    #[error(transparent)]
    InvalidInput(#[from] request::RequestError),
    /// `UnsupportedEvent`: the event has a shape this function does not handle.
    #[error("{0}")]
    UnsupportedEvent(String),
    /// `ModelError`: the model could not render the image.
    #[error(transparent)]
    Model(#[from] model::ModelError),
    /// `StorageError`: S3 failed.
    #[error(transparent)]
    Storage(#[from] store::StoreError),
}

impl HandlerError {
    /// The `errorType` reported to Lambda.
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::InvalidInput(_) => "InvalidInput",
            HandlerError::UnsupportedEvent(_) => "UnsupportedEvent",
            HandlerError::Model(_) => "ModelError",
            HandlerError::Storage(_) => "StorageError",
        }
    }
}

impl From<ServiceError> for HandlerError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::Invalid(e) => e.into(),
            ServiceError::Model(e) => e.into(),
            ServiceError::Store(e) => e.into(),
        }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        }
    }
}

impl Event {
    /// Tells the event kinds apart: `Records` from `aws:sqs` is an SQS event; `httpMethod` with
    /// `requestContext` or `resource` is a REST API proxy request; `rawPath` or
    /// `requestContext.http` is a function URL request; anything else is a direct invoke.
    pub fn classify(payload: Value) -> Result<Self, HandlerError> {
        if let Some(records) = payload.get("Records").and_then(Value::as_array) {
            let foreign = records
                .iter()
                .map(|record| record.get("eventSource").and_then(Value::as_str))
                .find(|source| *source != Some(sqs::SQS_EVENT_SOURCE));
            if let Some(source) = foreign {
                return Err(HandlerError::UnsupportedEvent(format!(
                    "records from {} are not supported; this function handles SQS records (eventSource \"aws:sqs\"), function URL and API Gateway REST requests, and direct invokes",
                    source.map_or("an unnamed source".to_owned(), |s| format!("{s:?}"))
                )));
            }
            return serde_json::from_value(payload)
                .map(Event::Sqs)
                .map_err(|e| HandlerError::UnsupportedEvent(format!("malformed SQS event: {e}")));
        }
        let is_rest_api = payload.get("httpMethod").is_some()
            && (payload.get("requestContext").is_some() || payload.get("resource").is_some());
        if is_rest_api {
            return serde_json::from_value(payload)
                .map(|request| Event::RestApi(Box::new(request)))
                .map_err(|e| {
                    HandlerError::UnsupportedEvent(format!(
                        "malformed API Gateway REST proxy event: {e}"
                    ))
                });
        }
        let is_function_url = payload.get("rawPath").is_some()
            || payload
                .get("requestContext")
                .and_then(|context| context.get("http"))
                .is_some();
        if is_function_url {
            return serde_json::from_value(payload)
                .map(|request| Event::FunctionUrl(Box::new(request)))
                .map_err(|e| {
                    HandlerError::UnsupportedEvent(format!("malformed function URL event: {e}"))
                });
        }
        Ok(Event::Direct(payload))
    }
}

/// Handles one event of any kind (see the crate documentation).
pub async fn handle_payload<M: ModelClient, S: ImageStore, N: Notifier>(
    service: &ImageService<M, S, N>,
    payload: Value,
) -> Result<Output, HandlerError> {
    match Event::classify(payload)? {
        Event::FunctionUrl(request) => {
            Ok(Output::FunctionUrl(url::respond(service, &request).await))
        }
        Event::RestApi(request) => Ok(Output::RestApi(rest::respond(service, &request).await)),
        Event::Sqs(event) => Ok(Output::Sqs(sqs::process_batch(service, &event).await)),
        Event::Direct(payload) => {
            let request = GenerateRequest::from_value(payload)?;
            Ok(Output::Created(service.create(&request).await?))
        }
    }
}

/// The Lambda handler; `main` passes it to `lambda_runtime::run` with the service built once.
pub async fn handle<M: ModelClient, S: ImageStore, N: Notifier>(
    service: &ImageService<M, S, N>,
    event: LambdaEvent<Value>,
) -> Result<Output, HandlerError> {
    handle_payload(service, event.payload).await
}
