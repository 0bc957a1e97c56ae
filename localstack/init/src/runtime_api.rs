//! The Lambda Runtime API (2018-06-01) served to the bootstrap through
//! `AWS_LAMBDA_RUNTIME_API`: `/next`, `/response`, `/error` and `/init/error`.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Method, StatusCode};

use crate::error::{ApiError, lambda_error_json};
use crate::process;
use crate::server::{self as h, Body, Reply, Request};
use crate::state::{App, NextPoll, Outcome, Rejection};

/// Largest response (and error) payload Lambda accepts from a function, in bytes.
pub const MAX_RESPONSE_PAYLOAD: usize = 6_291_556;

const PREFIX: &str = "/2018-06-01/runtime/";
const ERROR_TYPE_HEADER: &str = "lambda-runtime-function-error-type";

/// Routes one Runtime API request.
pub async fn handle(app: Arc<App>, req: Request) -> Reply {
    let path = req.uri().path().to_owned();
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return h::not_found(&path);
    };
    let method = req.method().clone();
    let route = if rest == "invocation/next" {
        Route::Next
    } else if rest == "init/error" {
        Route::InitError
    } else if let Some((id, action)) = rest
        .strip_prefix("invocation/")
        .and_then(|r| r.split_once('/'))
        .filter(|(id, _)| !id.is_empty())
    {
        match action {
            "response" => Route::Response(id),
            "error" => Route::Error(id),
            _ => return h::not_found(&path),
        }
    } else {
        return h::not_found(&path);
    };
    match (route, method) {
        (Route::Next, Method::GET) => next(app).await,
        (Route::Response(id), Method::POST) => response(app, id, req).await,
        (Route::Error(id), Method::POST) => error(app, id, req).await,
        (Route::InitError, Method::POST) => init_error(app, req).await,
        (_, method) => h::method_not_allowed(&method, &path),
    }
}

enum Route<'a> {
    Next,
    Response(&'a str),
    Error(&'a str),
    InitError,
}

/// `GET /invocation/next`: long-polls until an event is there.
async fn next(app: Arc<App>) -> Reply {
    if process::on_next(&app)
        && let Some(callback) = app.callback.clone()
    {
        tokio::spawn(async move {
            if let Err(e) = callback.status_ready().await {
                tracing::error!(error = %e, "could not tell LocalStack the environment is ready");
            }
        });
    }
    let inv = match app.invocations.poll_next() {
        NextPoll::Deliver(inv) => inv,
        NextPoll::Wait(rx) => match rx.await {
            Ok(inv) => inv,
            Err(_) => {
                return ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Runtime.Unknown",
                    "this /next call was superseded by a newer one from the runtime",
                )
                .into();
            }
        },
        NextPoll::Unanswered(id) => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidStateTransition",
                format!(
                    "invocation {id} has no result yet: post .../invocation/{id}/response or .../error before asking for the next event"
                ),
            )
            .into();
        }
    };
    let mut resp = h::json(StatusCode::OK, inv.payload.clone());
    let headers = resp.headers_mut();
    set_header(headers, "lambda-runtime-aws-request-id", &inv.id);
    headers.insert(
        HeaderName::from_static("lambda-runtime-deadline-ms"),
        HeaderValue::from(inv.deadline_epoch_ms),
    );
    set_header(
        headers,
        "lambda-runtime-invoked-function-arn",
        &inv.function_arn,
    );
    if let Some(trace) = &inv.trace_id {
        set_header(headers, "lambda-runtime-trace-id", trace);
    }
    resp
}

fn set_header(headers: &mut http::HeaderMap, name: &'static str, value: &str) {
    match HeaderValue::from_str(value) {
        Ok(v) => {
            headers.insert(HeaderName::from_static(name), v);
        }
        Err(_) => tracing::warn!(
            name,
            value,
            "value cannot be sent as an HTTP header; left out"
        ),
    }
}

/// `POST /invocation/{id}/response`.
async fn response(app: Arc<App>, id: &str, req: Request) -> Reply {
    let outcome = match read(req).await {
        Ok(Body::Complete(body)) => Outcome::Response(body),
        Ok(Body::TooLarge { size }) => Outcome::ResponseTooLarge { size },
        Err(e) => return e.into(),
    };
    finish(&app, id, outcome)
}

/// `POST /invocation/{id}/error`: the function failed.
async fn error(app: Arc<App>, id: &str, req: Request) -> Reply {
    let error_type = header_str(&req, ERROR_TYPE_HEADER);
    let outcome = match read(req).await {
        Ok(Body::Complete(body)) => {
            Outcome::FunctionError(error_body(error_type.as_deref(), &body, "Unhandled"))
        }
        Ok(Body::TooLarge { size }) => Outcome::ResponseTooLarge { size },
        Err(e) => return e.into(),
    };
    finish(&app, id, outcome)
}

/// `POST /init/error`: the runtime could not initialise.
async fn init_error(app: Arc<App>, req: Request) -> Reply {
    let error_type = header_str(&req, ERROR_TYPE_HEADER);
    let body = match read(req).await {
        Ok(Body::Complete(body)) => error_body(error_type.as_deref(), &body, "Runtime.Unknown"),
        Ok(Body::TooLarge { size }) => lambda_error_json(
            error_type.as_deref().unwrap_or("Runtime.Unknown"),
            &format!("the runtime reported an init error of {size} bytes, too large to pass on"),
        ),
        Err(e) => return e.into(),
    };
    match process::on_init_error(&app, body) {
        Ok(()) => accepted(),
        Err(e) => e.into(),
    }
}

async fn read(req: Request) -> Result<Body, ApiError> {
    h::read_body(req.into_body(), MAX_RESPONSE_PAYLOAD)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidRequestContent",
                format!("could not read the request body: {e}"),
            )
        })
}

fn finish(app: &App, id: &str, outcome: Outcome) -> Reply {
    let too_large = match &outcome {
        Outcome::ResponseTooLarge { size } => Some(*size),
        _ => None,
    };
    match app.invocations.complete(id, outcome) {
        Ok(()) => match too_large {
            None => accepted(),
            Some(size) => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Function.ResponseSizeTooLarge",
                response_too_large_message(size),
            )
            .into(),
        },
        Err(Rejection::UnknownId) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRequestID",
            format!("Invalid request ID: {id} is not the invocation in flight"),
        )
        .into(),
        Err(Rejection::NotDelivered) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidStateTransition",
            format!("invocation {id} was not handed out by /next yet"),
        )
        .into(),
        Err(Rejection::AlreadyDone) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidStateTransition",
            format!("invocation {id} already has a result (answered, timed out or failed)"),
        )
        .into(),
    }
}

fn accepted() -> Reply {
    h::json(
        StatusCode::ACCEPTED,
        Bytes::from_static(br#"{"status":"OK"}"#),
    )
}

fn header_str(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// `Function.ResponseSizeTooLarge` message, as Lambda words it.
pub fn response_too_large_message(size: u64) -> String {
    format!(
        "Response payload size ({size} bytes) exceeded maximum allowed payload size ({MAX_RESPONSE_PAYLOAD} bytes)."
    )
}

/// The error JSON handed to the caller: the runtime's own JSON object when it has an
/// `errorType`, else that object completed with the header's type, else the raw body
/// wrapped as the message.
pub fn error_body(header_type: Option<&str>, body: &Bytes, default_type: &str) -> Bytes {
    let error_type = header_type.unwrap_or(default_type);
    if let Ok(serde_json::Value::Object(mut map)) =
        serde_json::from_slice::<serde_json::Value>(body)
    {
        let has_type = map
            .get("errorType")
            .and_then(|t| t.as_str())
            .is_some_and(|t| !t.is_empty());
        if has_type {
            return body.clone();
        }
        map.insert("errorType".into(), error_type.into());
        if !map.contains_key("errorMessage") {
            map.insert("errorMessage".into(), "".into());
        }
        return Bytes::from(serde_json::Value::Object(map).to_string());
    }
    let message = if body.is_empty() {
        "Unknown application error occurred".into()
    } else {
        String::from_utf8_lossy(body)
    };
    lambda_error_json(error_type, &message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &Bytes) -> serde_json::Value {
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn runtime_error_json_with_a_type_is_passed_on_unchanged() {
        let body = Bytes::from_static(
            br#"{"errorMessage":"bad number","errorType":"InvalidInput","stackTrace":[]}"#,
        );
        assert_eq!(error_body(Some("Other"), &body, "Unhandled"), body);
    }

    #[test]
    fn missing_type_comes_from_the_header_or_the_default() {
        let body = Bytes::from_static(br#"{"errorMessage":"bad"}"#);
        let v = parse(&error_body(Some("Handled.Custom"), &body, "Unhandled"));
        assert_eq!(v["errorType"], "Handled.Custom");
        assert_eq!(v["errorMessage"], "bad");
        let v = parse(&error_body(
            None,
            &Bytes::from_static(b"plain text"),
            "Unhandled",
        ));
        assert_eq!(v["errorType"], "Unhandled");
        assert_eq!(v["errorMessage"], "plain text");
        let v = parse(&error_body(None, &Bytes::new(), "Runtime.Unknown"));
        assert_eq!(v["errorType"], "Runtime.Unknown");
    }

    #[test]
    fn too_large_message_matches_lambda() {
        assert_eq!(
            response_too_large_message(7_000_000),
            "Response payload size (7000000 bytes) exceeded maximum allowed payload size (6291556 bytes)."
        );
    }
}
