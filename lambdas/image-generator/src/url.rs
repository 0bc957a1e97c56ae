//! The HTTP routes, served over the function URL ([`respond`]) and API Gateway REST proxy
//! integration ([`crate::rest`]) alike:
//!
//! | method | path | answer |
//! |---|---|---|
//! | `POST` | `/generate-image` | `201` JSON [`ImageCreated`](crate::service::ImageCreated), `Location: /images/<file>` |
//! | `GET` | `/images/<file>` | `200` the stored PNG (`isBase64Encoded: true`, `content-type: image/png`), from key `images/<file>` |
//!
//! Errors are JSON `{"error": "..."}`: `400` bad input, `404` unknown path or missing image,
//! `405` wrong method (with `Allow`), `500` model failure, `502` S3 failure.

use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use lambda_runtime::tracing;
use serde::Serialize;

use crate::key::IMAGE_PREFIX;
use crate::model::ModelClient;
use crate::notify::Notifier;
use crate::request::{GenerateRequest, RequestError};
use crate::service::{ImageService, ServiceError};
use crate::store::ImageStore;

/// Path of the generation route.
pub const GENERATE_PATH: &str = "/generate-image";
/// Path prefix of stored images; the rest of the path is the file name under `images/`.
pub const IMAGES_PATH: &str = "/images/";
/// Largest image served inline: a Lambda response is limited to 6 MB, and base64 adds a third.
pub const MAX_SERVED_BYTES: usize = 4 * 1024 * 1024;

const ROUTES_HINT: &str =
    "routes: POST /generate-image with {\"prompt\": \"...\"}, GET /images/<file>";

/// What the routes need from an HTTP event of either kind.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    pub method: &'a str,
    /// The route's path: from the function URL's root, or under the REST API's stage.
    pub path: &'a str,
    /// What the caller's URL has before [`HttpRequest::path`] (`/prod` for a REST API stage,
    /// empty for a function URL), so `Location` points where the caller can fetch the image.
    pub base: &'a str,
    pub body: Option<&'a str>,
    pub is_base64_encoded: bool,
}

impl<'a> HttpRequest<'a> {
    /// A function URL (payload v2) request.
    pub fn from_function_url(request: &'a LambdaFunctionUrlRequest) -> Self {
        HttpRequest {
            method: request.request_context.http.method.as_deref().unwrap_or(""),
            path: request
                .raw_path
                .as_deref()
                .or(request.request_context.http.path.as_deref())
                .unwrap_or("/"),
            base: "",
            body: request.body.as_deref(),
            is_base64_encoded: request.is_base64_encoded,
        }
    }
}

/// An answer, before it is put in the response shape of the event that asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// Text, or base64 when `is_base64_encoded` (binary bodies).
    pub body: String,
    pub is_base64_encoded: bool,
}

impl HttpResponse {
    fn insert_header(&mut self, name: HeaderName, value: &str) {
        // Values here are our own keys and content types; one that is not a valid header value
        // (only possible for a hand-uploaded object's content type) is left out rather than sent.
        match HeaderValue::from_str(value) {
            Ok(value) => {
                self.headers.insert(name, value);
            }
            Err(_) => tracing::warn!(header = %name, value, "skipping invalid header value"),
        }
    }

    /// In the function URL's response shape.
    pub fn into_function_url(self) -> LambdaFunctionUrlResponse {
        let mut response = LambdaFunctionUrlResponse::default();
        response.status_code = self.status.as_u16().into();
        response.headers = self.headers;
        response.body = Some(self.body);
        response.is_base64_encoded = self.is_base64_encoded;
        response
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

/// Answers one function URL request. Never fails: every problem becomes an HTTP status.
pub async fn respond<M: ModelClient, S: ImageStore, N: Notifier>(
    service: &ImageService<M, S, N>,
    request: &LambdaFunctionUrlRequest,
) -> LambdaFunctionUrlResponse {
    route(service, HttpRequest::from_function_url(request))
        .await
        .into_function_url()
}

/// Answers one HTTP request of either kind. Never fails: every problem becomes an HTTP status.
pub async fn route<M: ModelClient, S: ImageStore, N: Notifier>(
    service: &ImageService<M, S, N>,
    request: HttpRequest<'_>,
) -> HttpResponse {
    let HttpRequest { method, path, .. } = request;
    if path == GENERATE_PATH {
        return match method {
            "POST" => generate(service, request).await,
            _ => method_not_allowed(method, path, "POST"),
        };
    }
    if let Some(file_name) = path.strip_prefix(IMAGES_PATH) {
        if !is_valid_file_name(file_name) {
            return error(
                StatusCode::NOT_FOUND,
                &format!("no image at {path}: image paths look like /images/<64 hex digits>.png"),
            );
        }
        return match method {
            "GET" => fetch(service, file_name).await,
            _ => method_not_allowed(method, path, "GET"),
        };
    }
    error(
        StatusCode::NOT_FOUND,
        &format!("no route for {method} {path}; {ROUTES_HINT}"),
    )
}

async fn generate<M: ModelClient, S: ImageStore, N: Notifier>(
    service: &ImageService<M, S, N>,
    request: HttpRequest<'_>,
) -> HttpResponse {
    let parsed = body_text(request).and_then(|body| GenerateRequest::from_json(&body));
    let result = match parsed {
        Ok(image_request) => service.create(&image_request).await,
        Err(e) => Err(ServiceError::Invalid(e)),
    };
    match result {
        Ok(created) => {
            tracing::info!(key = %created.key, bytes = created.bytes, "stored image");
            let mut response = json(StatusCode::CREATED, &created);
            let location = format!("{}{}", request.base, created.path);
            response.insert_header(header::LOCATION, &location);
            response
        }
        Err(e) => service_error(&e),
    }
}

async fn fetch<M: ModelClient, S: ImageStore, N: Notifier>(
    service: &ImageService<M, S, N>,
    file_name: &str,
) -> HttpResponse {
    match service.fetch(file_name).await {
        Ok(Some(image)) if image.bytes.len() > MAX_SERVED_BYTES => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!(
                "{IMAGE_PREFIX}{file_name} is {} bytes, more than a Lambda response can carry ({MAX_SERVED_BYTES}); fetch it from S3 instead",
                image.bytes.len()
            ),
        ),
        Ok(Some(image)) => {
            let mut response = HttpResponse {
                status: StatusCode::OK,
                headers: HeaderMap::new(),
                body: BASE64.encode(&image.bytes),
                is_base64_encoded: true,
            };
            response.insert_header(header::CONTENT_TYPE, &image.content_type);
            // Content-addressed: the bytes under a key never change.
            response.insert_header(header::CACHE_CONTROL, "public, max-age=31536000, immutable");
            response
        }
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            &format!(
                "no image at {IMAGE_PREFIX}{file_name}; POST /generate-image with {{\"prompt\": \"...\"}} to create one"
            ),
        ),
        Err(e) => service_error(&e),
    }
}

/// A single path segment of safe characters, so the key cannot escape `images/`.
fn is_valid_file_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// The request body as text, decoding base64 when the event marks it so (a function URL does
/// for content types it does not treat as text, API Gateway for its binary media types).
fn body_text(request: HttpRequest<'_>) -> Result<String, RequestError> {
    let raw = request.body.unwrap_or("");
    if !request.is_base64_encoded {
        return Ok(raw.to_owned());
    }
    let bytes = BASE64
        .decode(raw)
        .map_err(|e| RequestError::InvalidBase64(e.to_string()))?;
    String::from_utf8(bytes).map_err(|_| RequestError::BodyNotUtf8)
}

fn service_error(e: &ServiceError) -> HttpResponse {
    let status = match e {
        ServiceError::Invalid(_) => StatusCode::BAD_REQUEST,
        ServiceError::Model(_) => StatusCode::INTERNAL_SERVER_ERROR,
        ServiceError::Store(_) => StatusCode::BAD_GATEWAY,
    };
    if status == StatusCode::BAD_REQUEST {
        tracing::info!(error = %e, "rejected request");
    } else {
        tracing::error!(error = %e, "request failed");
    }
    error(status, &e.to_string())
}

fn method_not_allowed(method: &str, path: &str, allow: &'static str) -> HttpResponse {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("method {method} is not allowed on {path}; use {allow}"),
    );
    response
        .headers
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

fn error(status: StatusCode, message: &str) -> HttpResponse {
    json(status, &ErrorBody { error: message })
}

fn json(status: StatusCode, body: &impl Serialize) -> HttpResponse {
    let (status, body) = match serde_json::to_string(body) {
        Ok(text) => (status, text),
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise response body");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"error":"internal error: cannot encode the response"}"#.to_owned(),
            )
        }
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    HttpResponse {
        status,
        headers,
        body,
        is_base64_encoded: false,
    }
}
