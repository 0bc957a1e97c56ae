//! The model-client abstraction: a prompt and options go in, PNG bytes and metadata come out.
//! Which implementation runs is chosen at startup from `MODEL_CLIENT` (see [`ModelKind`]).

pub mod stub;

#[cfg(feature = "bedrock")]
pub mod bedrock;

use std::future::Future;
use std::str::FromStr;

pub use stub::{STUB_MODEL_NAME, StubModel};

/// Environment variable naming the model client to use.
pub const MODEL_CLIENT_ENV: &str = "MODEL_CLIENT";

/// Rendering options, already validated (see [`crate::request::ImageSpec`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageOptions {
    pub width: u32,
    pub height: u32,
    pub seed: u64,
}

/// What a model produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedImage {
    /// The encoded image.
    pub bytes: Vec<u8>,
    /// MIME type of `bytes` (`image/png` for every model here).
    pub content_type: String,
    /// Name of the model that made it; part of the image's key.
    pub model: String,
}

/// Why a model could not produce an image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    #[error("model {model} could not encode a {width}x{height} PNG: {message}")]
    Encode {
        model: String,
        width: u32,
        height: u32,
        message: String,
    },
    #[error("model {model} failed: {message}")]
    Backend { model: String, message: String },
}

/// Generates images from prompts.
///
/// Implementations must be deterministic in `model_name`: it is part of every image's key, so
/// a change in what a model draws should come with a new name.
pub trait ModelClient: Send + Sync {
    /// Stable name of the model, e.g. `stub-v1`.
    fn model_name(&self) -> &str;

    /// Renders `prompt` with `options`.
    fn generate(
        &self,
        prompt: &str,
        options: ImageOptions,
    ) -> impl Future<Output = Result<GeneratedImage, ModelError>> + Send;
}

/// The model clients this build knows, as named in `MODEL_CLIENT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelKind {
    /// `stub`: the deterministic drawing in [`stub`]; no network, no weights.
    Stub,
}

/// `MODEL_CLIENT` named a model client this build does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {MODEL_CLIENT_ENV} {0:?}; supported values: {supported}", supported = ModelKind::NAMES.join(", "))]
pub struct UnknownModelClient(pub String);

impl ModelKind {
    /// Every accepted `MODEL_CLIENT` value.
    pub const NAMES: [&'static str; 1] = ["stub"];

    /// The model name images made by this client are keyed under.
    pub fn model_name(self) -> &'static str {
        match self {
            ModelKind::Stub => STUB_MODEL_NAME,
        }
    }
}

impl FromStr for ModelKind {
    type Err = UnknownModelClient;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value.trim().to_ascii_lowercase().as_str() {
            "stub" => Ok(ModelKind::Stub),
            _ => Err(UnknownModelClient(value.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_kind_parses_known_names_only() {
        assert_eq!("stub".parse::<ModelKind>(), Ok(ModelKind::Stub));
        assert_eq!(" Stub ".parse::<ModelKind>(), Ok(ModelKind::Stub));
        let err = "dall-e".parse::<ModelKind>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown MODEL_CLIENT \"dall-e\"; supported values: stub"
        );
        assert_eq!(ModelKind::Stub.model_name(), "stub-v1");
    }
}
