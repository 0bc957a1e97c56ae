//! The function URL face of the function: `POST /` with `{"number": 6}` or `GET /?number=6`
//! answer `200 {"result": 36}`; bad input is a `400 {"error": ...}`, other paths 404, other
//! methods 405.

use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use base64::Engine as _;
use http::{HeaderValue, StatusCode, header};
use lambda_runtime::tracing;
use serde::Serialize;

use crate::SquareResponse;
use crate::arithmetic::{Operand, square};
use crate::error::InvalidInput;
use crate::input::{NUMBER_FIELD, operand_from_json};

/// Methods the function URL serves, as sent in the `Allow` header of a 405.
pub const ALLOWED_METHODS: &str = "GET, POST";

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

/// Answers one function URL request. Never fails: every problem becomes an HTTP status.
pub fn respond(request: &LambdaFunctionUrlRequest) -> LambdaFunctionUrlResponse {
    let method = request.request_context.http.method.as_deref().unwrap_or("");
    let path = request
        .raw_path
        .as_deref()
        .or(request.request_context.http.path.as_deref())
        .unwrap_or("/");
    if path != "/" {
        return error_response(
            StatusCode::NOT_FOUND,
            &format!(
                "no route for {method} {path}: use POST / with {{\"number\": 6}} or GET /?number=6"
            ),
        );
    }
    let operand = match method {
        "GET" => operand_from_query(request),
        "POST" => body_text(request).and_then(|body| {
            let payload = serde_json::from_str(&body)
                .map_err(|e| InvalidInput::InvalidJson(e.to_string()))?;
            operand_from_json(&payload)
        }),
        _ => {
            let mut response = error_response(
                StatusCode::METHOD_NOT_ALLOWED,
                &format!(
                    "method {method} is not allowed: use POST / with {{\"number\": 6}} or GET /?number=6"
                ),
            );
            response
                .headers
                .insert(header::ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
            return response;
        }
    };
    match operand.and_then(square) {
        Ok(result) => json_response(StatusCode::OK, &SquareResponse { result }),
        Err(error) => {
            tracing::info!(%error, "rejected function URL request");
            error_response(StatusCode::BAD_REQUEST, &error.to_string())
        }
    }
}

fn operand_from_query(request: &LambdaFunctionUrlRequest) -> Result<Operand, InvalidInput> {
    let params = &request.query_string_parameters;
    if let Some(unknown) = params.keys().find(|key| *key != NUMBER_FIELD) {
        return Err(InvalidInput::UnknownField(unknown.clone()));
    }
    let text = params
        .get(NUMBER_FIELD)
        .ok_or(InvalidInput::MissingQueryNumber)?;
    Operand::from_text(text)
}

/// The request body as text, decoding base64 when the function URL marked it so (it does for
/// content types it does not consider text).
fn body_text(request: &LambdaFunctionUrlRequest) -> Result<String, InvalidInput> {
    let raw = request.body.as_deref().unwrap_or("");
    let text = if request.is_base64_encoded {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|e| InvalidInput::InvalidBase64(e.to_string()))?;
        String::from_utf8(bytes).map_err(|_| InvalidInput::BodyNotUtf8)?
    } else {
        raw.to_owned()
    };
    if text.trim().is_empty() {
        return Err(InvalidInput::EmptyBody);
    }
    Ok(text)
}

fn error_response(status: StatusCode, message: &str) -> LambdaFunctionUrlResponse {
    json_response(status, &ErrorBody { error: message })
}

fn json_response(status: StatusCode, body: &impl Serialize) -> LambdaFunctionUrlResponse {
    let mut response = LambdaFunctionUrlResponse::default();
    match serde_json::to_string(body) {
        Ok(text) => {
            response.status_code = status.as_u16().into();
            response.body = Some(text);
        }
        Err(e) => {
            // Unreachable for the plain structs above; answered honestly rather than panicking.
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
