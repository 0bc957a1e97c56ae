//! The image request (`{"prompt", "width"?, "height"?, "seed"?}`) and its validation into an
//! [`ImageSpec`] with every default resolved, which is what the model and the key derivation use.

use serde::{Deserialize, Serialize};

/// Smallest accepted width or height, in pixels.
pub const MIN_SIDE: u32 = 64;
/// Largest accepted width or height, in pixels.
pub const MAX_SIDE: u32 = 1024;
/// Width and height used when the request leaves them out.
pub const DEFAULT_SIDE: u32 = 512;
/// Seed used when the request leaves it out: "the" image of a prompt.
pub const DEFAULT_SEED: u64 = 0;
/// Longest accepted prompt, in characters (Unicode scalar values) after trimming.
pub const MAX_PROMPT_CHARS: usize = 1000;

/// An image request as sent over the function URL, in an SQS message body, or by direct invoke.
///
/// Unknown fields are rejected so a typo (`"widht"`) is an error instead of a silent default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    pub prompt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

/// A validated request: trimmed prompt, sizes in range, defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageSpec {
    pub prompt: String,
    pub width: u32,
    pub height: u32,
    pub seed: u64,
}

/// Why a request was refused. Each message says what is expected instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error(
        "request is not valid JSON for an image request ({0}); expected {{\"prompt\": \"a lighthouse at dusk\", \"width\"?: {MIN_SIDE}..={MAX_SIDE}, \"height\"?: {MIN_SIDE}..={MAX_SIDE}, \"seed\"?: <unsigned integer>}}"
    )]
    InvalidJson(String),
    #[error("\"prompt\" is empty; describe the image to generate, e.g. \"a lighthouse at dusk\"")]
    EmptyPrompt,
    #[error("\"prompt\" is {chars} characters long; the limit is {MAX_PROMPT_CHARS}")]
    PromptTooLong { chars: usize },
    #[error("\"{field}\" must be between {MIN_SIDE} and {MAX_SIDE} pixels, got {value}")]
    SizeOutOfRange { field: &'static str, value: i64 },
    #[error("request body is empty; send JSON like {{\"prompt\": \"a lighthouse at dusk\"}}")]
    EmptyBody,
    #[error("request body is marked base64 but is not valid base64 ({0})")]
    InvalidBase64(String),
    #[error(
        "request body is not UTF-8 text; send JSON like {{\"prompt\": \"a lighthouse at dusk\"}}"
    )]
    BodyNotUtf8,
}

impl GenerateRequest {
    /// A request for `prompt` with every option left to its default.
    pub fn new(prompt: impl Into<String>) -> Self {
        GenerateRequest {
            prompt: prompt.into(),
            width: None,
            height: None,
            seed: None,
        }
    }

    /// Parses a JSON request (a function URL body or an SQS message body).
    pub fn from_json(text: &str) -> Result<Self, RequestError> {
        if text.trim().is_empty() {
            return Err(RequestError::EmptyBody);
        }
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| RequestError::InvalidJson(e.to_string()))?;
        Self::from_value(value)
    }

    /// Reads a request from already-parsed JSON (a direct invoke payload).
    pub fn from_value(value: serde_json::Value) -> Result<Self, RequestError> {
        // serde would also accept a struct written as an array (`["a fox", 64]`); requests are
        // documented as objects, so anything else is refused.
        if !value.is_object() {
            return Err(RequestError::InvalidJson(format!(
                "expected a JSON object, got {}",
                json_kind(&value)
            )));
        }
        serde_json::from_value(value).map_err(|e| RequestError::InvalidJson(e.to_string()))
    }

    /// Checks the request and resolves its defaults.
    pub fn validate(&self) -> Result<ImageSpec, RequestError> {
        let prompt = self.prompt.trim();
        if prompt.is_empty() {
            return Err(RequestError::EmptyPrompt);
        }
        let chars = prompt.chars().count();
        if chars > MAX_PROMPT_CHARS {
            return Err(RequestError::PromptTooLong { chars });
        }
        Ok(ImageSpec {
            prompt: prompt.to_owned(),
            width: side("width", self.width)?,
            height: side("height", self.height)?,
            seed: self.seed.unwrap_or(DEFAULT_SEED),
        })
    }
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn side(field: &'static str, value: Option<i64>) -> Result<u32, RequestError> {
    let Some(value) = value else {
        return Ok(DEFAULT_SIDE);
    };
    u32::try_from(value)
        .ok()
        .filter(|side| (MIN_SIDE..=MAX_SIDE).contains(side))
        .ok_or(RequestError::SizeOutOfRange { field, value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(json: &str) -> Result<ImageSpec, RequestError> {
        GenerateRequest::from_json(json)?.validate()
    }

    #[test]
    fn defaults_are_resolved_and_prompt_trimmed() {
        let spec = validate(r#"{"prompt": "  a red fox \n"}"#).unwrap();
        assert_eq!(
            spec,
            ImageSpec {
                prompt: "a red fox".into(),
                width: 512,
                height: 512,
                seed: 0
            }
        );
    }

    #[test]
    fn explicit_options_are_kept() {
        let spec = validate(
            r#"{"prompt": "fox", "width": 64, "height": 1024, "seed": 18446744073709551615}"#,
        )
        .unwrap();
        assert_eq!((spec.width, spec.height, spec.seed), (64, 1024, u64::MAX));
    }

    #[test]
    fn prompt_must_have_content_and_fit() {
        assert_eq!(
            validate(r#"{"prompt": ""}"#),
            Err(RequestError::EmptyPrompt)
        );
        assert_eq!(
            validate(r#"{"prompt": " \t\n "}"#),
            Err(RequestError::EmptyPrompt)
        );
        let long = "é".repeat(MAX_PROMPT_CHARS + 1);
        assert_eq!(
            GenerateRequest::new(long).validate(),
            Err(RequestError::PromptTooLong { chars: 1001 })
        );
        // The limit counts characters, not bytes: 1000 two-byte characters are fine.
        assert!(
            GenerateRequest::new("é".repeat(MAX_PROMPT_CHARS))
                .validate()
                .is_ok()
        );
    }

    #[test]
    fn sizes_must_be_in_range() {
        for (json, field, value) in [
            (r#"{"prompt": "x", "width": 63}"#, "width", 63),
            (r#"{"prompt": "x", "width": 1025}"#, "width", 1025),
            (r#"{"prompt": "x", "height": -512}"#, "height", -512),
            (
                r#"{"prompt": "x", "height": 99999999999}"#,
                "height",
                99_999_999_999,
            ),
        ] {
            assert_eq!(
                validate(json),
                Err(RequestError::SizeOutOfRange { field, value }),
                "{json}"
            );
        }
    }

    #[test]
    fn malformed_requests_say_what_is_expected() {
        for (json, expected) in [
            ("", "request body is empty"),
            ("{", "not valid JSON"),
            (
                r#"{"prompt": "x", "colour": "red"}"#,
                "unknown field `colour`",
            ),
            (r#"{"width": 64}"#, "missing field `prompt`"),
            (r#"{"prompt": 5}"#, "invalid type"),
            (r#"{"prompt": "x", "width": "big"}"#, "invalid type"),
            (r#"{"prompt": "x", "seed": -1}"#, "invalid value"),
            (r#"["x"]"#, "expected a JSON object, got an array"),
            ("null", "expected a JSON object, got null"),
        ] {
            let message = validate(json).unwrap_err().to_string();
            assert!(message.contains(expected), "{json}: {message}");
        }
        let message = validate("{").unwrap_err().to_string();
        assert!(
            message.contains("\"prompt\": \"a lighthouse at dusk\""),
            "{message}"
        );
    }

    #[test]
    fn requests_round_trip_without_defaults_written_out() {
        let request = GenerateRequest {
            seed: Some(7),
            ..GenerateRequest::new("fox")
        };
        let json = serde_json::to_string(&request).unwrap();
        assert_eq!(json, r#"{"prompt":"fox","seed":7}"#);
        assert_eq!(GenerateRequest::from_json(&json).unwrap(), request);
    }
}
