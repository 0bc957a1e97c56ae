//! The function URL routes:
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
use http::{HeaderName, HeaderValue, StatusCode, header};
use lambda_runtime::tracing;
use serde::Serialize;

use crate::key::IMAGE_PREFIX;
use crate::model::ModelClient;
use crate::request::{GenerateRequest, RequestError};
use crate::service::{ImageService, ServiceError};
use crate::store::ImageStore;

/// Path of the generation route.
pub const GENERATE_PATH: &str = "/generate-image";
/// Path prefix of stored images; the rest of the path is the file name under `images/`.
pub const IMAGES_PATH: &str = "/images/";
/// Largest image served inline: a function URL response is limited to 6 MB, and base64 adds a
/// third.
pub const MAX_SERVED_BYTES: usize = 4 * 1024 * 1024;

const ROUTES_HINT: &str =
    "routes: POST /generate-image with {\"prompt\": \"...\"}, GET /images/<file>";

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

/// Answers one function URL request. Never fails: every problem becomes an HTTP status.
pub async fn respond<M: ModelClient, S: ImageStore>(
    service: &ImageService<M, S>,
    request: &LambdaFunctionUrlRequest,
) -> LambdaFunctionUrlResponse {
    let method = request.request_context.http.method.as_deref().unwrap_or("");
    let path = request
        .raw_path
        .as_deref()
        .or(request.request_context.http.path.as_deref())
        .unwrap_or("/");

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

async fn generate<M: ModelClient, S: ImageStore>(
    service: &ImageService<M, S>,
    request: &LambdaFunctionUrlRequest,
) -> LambdaFunctionUrlResponse {
    let parsed = body_text(request).and_then(|body| GenerateRequest::from_json(&body));
    let result = match parsed {
        Ok(image_request) => service.create(&image_request).await,
        Err(e) => Err(ServiceError::Invalid(e)),
    };
    match result {
        Ok(created) => {
            tracing::info!(key = %created.key, bytes = created.bytes, "stored image");
            let mut response = json(StatusCode::CREATED, &created);
            insert_header(&mut response, header::LOCATION, &created.path);
            response
        }
        Err(e) => service_error(&e),
    }
}

async fn fetch<M: ModelClient, S: ImageStore>(
    service: &ImageService<M, S>,
    file_name: &str,
) -> LambdaFunctionUrlResponse {
    match service.fetch(file_name).await {
        Ok(Some(image)) if image.bytes.len() > MAX_SERVED_BYTES => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!(
                "{IMAGE_PREFIX}{file_name} is {} bytes, more than a function URL can return ({MAX_SERVED_BYTES}); fetch it from S3 instead",
                image.bytes.len()
            ),
        ),
        Ok(Some(image)) => {
            let mut response = LambdaFunctionUrlResponse::default();
            response.status_code = StatusCode::OK.as_u16().into();
            response.body = Some(BASE64.encode(&image.bytes));
            response.is_base64_encoded = true;
            insert_header(&mut response, header::CONTENT_TYPE, &image.content_type);
            // Content-addressed: the bytes under a key never change.
            insert_header(
                &mut response,
                header::CACHE_CONTROL,
                "public, max-age=31536000, immutable",
            );
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

/// The request body as text, decoding base64 when the function URL marked it so (it does for
/// content types it does not treat as text).
fn body_text(request: &LambdaFunctionUrlRequest) -> Result<String, RequestError> {
    let raw = request.body.as_deref().unwrap_or("");
    if !request.is_base64_encoded {
        return Ok(raw.to_owned());
    }
    let bytes = BASE64
        .decode(raw)
        .map_err(|e| RequestError::InvalidBase64(e.to_string()))?;
    String::from_utf8(bytes).map_err(|_| RequestError::BodyNotUtf8)
}

fn service_error(e: &ServiceError) -> LambdaFunctionUrlResponse {
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

fn method_not_allowed(method: &str, path: &str, allow: &'static str) -> LambdaFunctionUrlResponse {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("method {method} is not allowed on {path}; use {allow}"),
    );
    response
        .headers
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

fn error(status: StatusCode, message: &str) -> LambdaFunctionUrlResponse {
    json(status, &ErrorBody { error: message })
}

fn json(status: StatusCode, body: &impl Serialize) -> LambdaFunctionUrlResponse {
    let mut response = LambdaFunctionUrlResponse::default();
    match serde_json::to_string(body) {
        Ok(text) => {
            response.status_code = status.as_u16().into();
            response.body = Some(text);
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise response body");
            response.status_code = StatusCode::INTERNAL_SERVER_ERROR.as_u16().into();
            response.body =
                Some(r#"{"error":"internal error: cannot encode the response"}"#.into());
        }
    }
    response.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn insert_header(response: &mut LambdaFunctionUrlResponse, name: HeaderName, value: &str) {
    // Values here are our own keys and content types; one that is not a valid header value
    // (only possible for a hand-uploaded object's content type) is left out rather than sent.
    match HeaderValue::from_str(value) {
        Ok(value) => {
            response.headers.insert(name, value);
        }
        Err(_) => tracing::warn!(header = %name, value, "skipping invalid header value"),
    }
}
