//! Request/response mapping for Amazon Titan Image Generator (`amazon.titan-image-generator-v1`)
//! on Bedrock's `InvokeModel`, as pure functions over serde types (feature `bedrock`).
//!
//! This is the half of a Bedrock model client that can be tested offline: turning an
//! [`ImageSpec`] into the JSON body Titan expects, and Titan's JSON answer into PNG bytes. The
//! call itself (aws-sdk-bedrockruntime `InvokeModel`) is not wired in, so `MODEL_CLIENT` does not
//! offer `bedrock` yet.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use crate::request::ImageSpec;

/// Bedrock model id of Titan Image Generator G1.
pub const TITAN_MODEL_ID: &str = "amazon.titan-image-generator-v1";
/// Titan accepts prompts of at most this many characters.
pub const TITAN_MAX_PROMPT_CHARS: usize = 512;
/// Titan's largest seed.
pub const TITAN_MAX_SEED: u64 = 2_147_483_646;
/// Width x height pairs Titan G1 accepts that also fit this function's 64..=1024 bounds.
pub const TITAN_SIZES: [(u32, u32); 9] = [
    (1024, 1024),
    (768, 768),
    (512, 512),
    (384, 576),
    (576, 384),
    (384, 640),
    (640, 384),
    (448, 576),
    (576, 448),
];

/// The `InvokeModel` body for a text-to-image task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TitanRequest {
    pub task_type: String,
    pub text_to_image_params: TextToImageParams,
    pub image_generation_config: ImageGenerationConfig,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TextToImageParams {
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageGenerationConfig {
    pub number_of_images: u32,
    pub width: u32,
    pub height: u32,
    pub cfg_scale: f64,
    pub seed: u64,
    pub quality: String,
}

/// Titan's answer: base64 images, or an error message.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TitanResponse {
    #[serde(default)]
    pub images: Vec<String>,
    #[serde(default)]
    pub error: Option<String>,
}

/// Why a request cannot be sent to Titan, or its answer cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TitanError {
    #[error(
        "Titan does not support {width}x{height}; supported sizes: {}",
        supported_sizes()
    )]
    UnsupportedSize { width: u32, height: u32 },
    #[error("Titan accepts prompts of at most {TITAN_MAX_PROMPT_CHARS} characters, got {0}")]
    PromptTooLong(usize),
    #[error("Titan accepts seeds up to {TITAN_MAX_SEED}, got {0}")]
    SeedTooLarge(u64),
    #[error("Titan's response is not valid JSON: {0}")]
    InvalidResponse(String),
    #[error("Titan reported an error: {0}")]
    Model(String),
    #[error("Titan's response contains no image")]
    NoImage,
    #[error("Titan's image is not valid base64: {0}")]
    InvalidBase64(String),
    #[error("Titan's image is not a PNG")]
    NotPng,
}

fn supported_sizes() -> String {
    TITAN_SIZES
        .iter()
        .map(|(w, h)| format!("{w}x{h}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Builds the `InvokeModel` body for `spec`, refusing what Titan would reject.
pub fn titan_request(spec: &ImageSpec) -> Result<TitanRequest, TitanError> {
    if !TITAN_SIZES.contains(&(spec.width, spec.height)) {
        return Err(TitanError::UnsupportedSize {
            width: spec.width,
            height: spec.height,
        });
    }
    let chars = spec.prompt.chars().count();
    if chars > TITAN_MAX_PROMPT_CHARS {
        return Err(TitanError::PromptTooLong(chars));
    }
    if spec.seed > TITAN_MAX_SEED {
        return Err(TitanError::SeedTooLarge(spec.seed));
    }
    Ok(TitanRequest {
        task_type: "TEXT_IMAGE".to_owned(),
        text_to_image_params: TextToImageParams {
            text: spec.prompt.clone(),
        },
        image_generation_config: ImageGenerationConfig {
            number_of_images: 1,
            width: spec.width,
            height: spec.height,
            cfg_scale: 8.0,
            seed: spec.seed,
            quality: "standard".to_owned(),
        },
    })
}

/// Extracts the PNG from Titan's response body.
pub fn png_from_titan_response(body: &[u8]) -> Result<Vec<u8>, TitanError> {
    let response: TitanResponse =
        serde_json::from_slice(body).map_err(|e| TitanError::InvalidResponse(e.to_string()))?;
    if let Some(error) = response.error.filter(|e| !e.is_empty()) {
        return Err(TitanError::Model(error));
    }
    let first = response.images.first().ok_or(TitanError::NoImage)?;
    let png = BASE64
        .decode(first)
        .map_err(|e| TitanError::InvalidBase64(e.to_string()))?;
    if !png.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err(TitanError::NotPng);
    }
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ImageOptions;
    use crate::model::stub::render_png;
    use serde_json::json;

    fn spec(width: u32, height: u32, seed: u64) -> ImageSpec {
        ImageSpec {
            prompt: "a lighthouse at dusk".into(),
            width,
            height,
            seed,
        }
    }

    #[test]
    fn request_has_titans_shape() {
        let body = serde_json::to_value(titan_request(&spec(512, 512, 42)).unwrap()).unwrap();
        assert_eq!(
            body,
            json!({
                "taskType": "TEXT_IMAGE",
                "textToImageParams": {"text": "a lighthouse at dusk"},
                "imageGenerationConfig": {
                    "numberOfImages": 1,
                    "width": 512,
                    "height": 512,
                    "cfgScale": 8.0,
                    "seed": 42,
                    "quality": "standard"
                }
            })
        );
    }

    #[test]
    fn requests_titan_would_reject_are_refused() {
        assert!(matches!(
            titan_request(&spec(500, 500, 0)),
            Err(TitanError::UnsupportedSize { .. })
        ));
        assert_eq!(
            titan_request(&spec(512, 512, TITAN_MAX_SEED + 1)),
            Err(TitanError::SeedTooLarge(TITAN_MAX_SEED + 1))
        );
        let long = ImageSpec {
            prompt: "x".repeat(513),
            ..spec(512, 512, 0)
        };
        assert_eq!(titan_request(&long), Err(TitanError::PromptTooLong(513)));
    }

    #[test]
    fn response_image_is_decoded() {
        let png = render_png(
            "canned",
            ImageOptions {
                width: 64,
                height: 64,
                seed: 0,
            },
        )
        .unwrap();
        let body = json!({"images": [BASE64.encode(&png)], "error": null}).to_string();
        assert_eq!(png_from_titan_response(body.as_bytes()).unwrap(), png);
    }

    #[test]
    fn bad_responses_are_errors() {
        let cases: [(&str, TitanError); 5] = [
            (
                r#"{"images": [], "error": "This request has been blocked by our content filters."}"#,
                TitanError::Model("This request has been blocked by our content filters.".into()),
            ),
            (r#"{"images": []}"#, TitanError::NoImage),
            (
                r#"{"images": ["@@@"]}"#,
                TitanError::InvalidBase64("Invalid symbol 64, offset 0.".into()),
            ),
            (r#"{"images": ["aGVsbG8="]}"#, TitanError::NotPng),
            (
                "<html>",
                TitanError::InvalidResponse("expected value at line 1 column 1".into()),
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(
                png_from_titan_response(body.as_bytes()),
                Err(expected),
                "{body}"
            );
        }
    }
}
