//! The HTTP face of the function, the same behind API Gateway (REST API, Lambda proxy
//! integration, payload v1) and a function URL (payload v2): `POST /change` with
//! `{"amount": "0.63"}` answers `200 {"quarters":2,"dimes":1,"nickels":0,"pennies":3}`; bad input
//! is `400 {"error": ...}`, other methods on `/change` are `405` (with `Allow: POST`), other
//! paths `404`.

use aws_lambda_events::encodings::Body;
use aws_lambda_events::event::apigw::{ApiGatewayProxyRequest, ApiGatewayProxyResponse};
use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use base64::Engine as _;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use lambda_runtime::tracing;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::coins::make_change;
use crate::error::InvalidAmount;
use crate::input::cents_from_request;

/// Path of the one route.
pub const CHANGE_PATH: &str = "/change";
/// Methods `/change` serves, as sent in the `Allow` header of a 405.
pub const ALLOWED_METHODS: &str = "POST";

/// What the router needs from either kind of HTTP event.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    pub method: &'a str,
    /// Relative to the API's stage (REST) or the function URL's root.
    pub path: &'a str,
    pub body: Option<&'a str>,
    pub is_base64_encoded: bool,
}

/// An answer before it is put in either event kind's response shape. The body is always JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: StatusCode,
    pub body: String,
    /// Set on 405s.
    pub allow: Option<&'static str>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

impl<'a> HttpRequest<'a> {
    /// A REST API (v1) proxy request. Its `path` has no stage prefix when called on the
    /// API's own endpoint (`.../prod/change` arrives as `/change`), but a custom domain mapped
    /// without a base path keeps the stage in it, so a leading `/<stage>` is dropped too.
    pub fn from_rest(request: &'a ApiGatewayProxyRequest) -> Self {
        let path = request
            .path
            .as_deref()
            .or(request.resource.as_deref())
            .unwrap_or("/");
        let path = request
            .request_context
            .stage
            .as_deref()
            .filter(|stage| !stage.is_empty())
            .and_then(|stage| path.strip_prefix('/')?.strip_prefix(stage))
            .filter(|rest| rest.starts_with('/'))
            .unwrap_or(path);
        HttpRequest {
            method: request.http_method.as_str(),
            path,
            body: request.body.as_deref(),
            is_base64_encoded: request.is_base64_encoded,
        }
    }

    /// A function URL (v2) request.
    pub fn from_function_url(request: &'a LambdaFunctionUrlRequest) -> Self {
        HttpRequest {
            method: request.request_context.http.method.as_deref().unwrap_or(""),
            path: request
                .raw_path
                .as_deref()
                .or(request.request_context.http.path.as_deref())
                .unwrap_or("/"),
            body: request.body.as_deref(),
            is_base64_encoded: request.is_base64_encoded,
        }
    }
}

/// Answers one request. Never fails: every problem becomes an HTTP status.
pub fn answer(request: HttpRequest<'_>) -> HttpAnswer {
    let HttpRequest { method, path, .. } = request;
    if path != CHANGE_PATH {
        return error(
            StatusCode::NOT_FOUND,
            &format!("no route for {method} {path}: POST /change with {{\"amount\": \"0.63\"}}"),
        );
    }
    if method != "POST" {
        return HttpAnswer {
            allow: Some(ALLOWED_METHODS),
            ..error(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!(
                    "method {method} is not allowed on /change: POST /change with {{\"amount\": \"0.63\"}}"
                ),
            )
        };
    }
    let cents = body_text(request).and_then(|body| {
        let payload: &RawValue =
            serde_json::from_str(&body).map_err(|e| InvalidAmount::InvalidJson(e.to_string()))?;
        cents_from_request(payload)
    });
    match cents {
        Ok(cents) => json(StatusCode::OK, &make_change(cents)),
        Err(error) => {
            tracing::info!(%error, "rejected HTTP request");
            self::error(StatusCode::BAD_REQUEST, &error.to_string())
        }
    }
}

/// Answers a REST API proxy request in the v1 response shape.
pub fn respond_rest(request: &ApiGatewayProxyRequest) -> ApiGatewayProxyResponse {
    let answer = answer(HttpRequest::from_rest(request));
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = answer.status.as_u16().into();
    response.headers = headers(&answer);
    response.body = Some(Body::Text(answer.body));
    response
}

/// Answers a function URL request in its response shape.
pub fn respond_function_url(request: &LambdaFunctionUrlRequest) -> LambdaFunctionUrlResponse {
    let answer = answer(HttpRequest::from_function_url(request));
    let mut response = LambdaFunctionUrlResponse::default();
    response.status_code = answer.status.as_u16().into();
    response.headers = headers(&answer);
    response.body = Some(answer.body);
    response
}

fn headers(answer: &HttpAnswer) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Some(allow) = answer.allow {
        headers.insert(header::ALLOW, HeaderValue::from_static(allow));
    }
    headers
}

/// The request body as text, decoding base64 when the event marks it so (API Gateway does for
/// binary media types, function URLs for content types they do not treat as text).
fn body_text(request: HttpRequest<'_>) -> Result<String, InvalidAmount> {
    let raw = request.body.unwrap_or("");
    let text = if request.is_base64_encoded {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|e| InvalidAmount::InvalidBase64(e.to_string()))?;
        String::from_utf8(bytes).map_err(|_| InvalidAmount::BodyNotUtf8)?
    } else {
        raw.to_owned()
    };
    if text.trim().is_empty() {
        return Err(InvalidAmount::EmptyBody);
    }
    Ok(text)
}

fn error(status: StatusCode, message: &str) -> HttpAnswer {
    json(status, &ErrorBody { error: message })
}

fn json(status: StatusCode, body: &impl Serialize) -> HttpAnswer {
    match serde_json::to_string(body) {
        Ok(body) => HttpAnswer {
            status,
            body,
            allow: None,
        },
        Err(e) => {
            // Unreachable for the plain structs above; answered honestly rather than panicking.
            tracing::error!(error = %e, "cannot serialise response body");
            HttpAnswer {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                body: r#"{"error":"internal error: cannot encode the response"}"#.into(),
                allow: None,
            }
        }
    }
}
