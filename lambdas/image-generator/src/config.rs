//! Startup configuration of the Lambda, read once from its environment.

use crate::model::{ModelKind, UnknownModelClient};

/// Environment variable naming the bucket images are stored in.
pub const IMAGES_BUCKET_ENV: &str = "IMAGES_BUCKET";

/// What the function needs besides the AWS SDK's own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `IMAGES_BUCKET` (required).
    pub bucket: String,
    /// `MODEL_CLIENT` (default `stub`).
    pub model: ModelKind,
}

/// A configuration problem that stops the function at startup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "{IMAGES_BUCKET_ENV} is not set; set it to the name of the S3 bucket to store images in"
    )]
    MissingBucket,
    #[error(transparent)]
    UnknownModel(#[from] UnknownModelClient),
}

impl Config {
    /// Reads `IMAGES_BUCKET` and `MODEL_CLIENT` from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so it can be tested without touching the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let bucket = lookup(IMAGES_BUCKET_ENV)
            .map(|bucket| bucket.trim().to_owned())
            .filter(|bucket| !bucket.is_empty())
            .ok_or(ConfigError::MissingBucket)?;
        let model = match lookup(crate::model::MODEL_CLIENT_ENV) {
            Some(value) if !value.trim().is_empty() => value.parse()?,
            _ => ModelKind::Stub,
        };
        Ok(Config { bucket, model })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn bucket_is_required_and_model_defaults_to_stub() {
        assert_eq!(config(&[]), Err(ConfigError::MissingBucket));
        assert_eq!(
            config(&[("IMAGES_BUCKET", " ")]),
            Err(ConfigError::MissingBucket)
        );
        assert_eq!(
            config(&[("IMAGES_BUCKET", "images")]),
            Ok(Config {
                bucket: "images".into(),
                model: ModelKind::Stub
            })
        );
        assert_eq!(
            config(&[("IMAGES_BUCKET", "images"), ("MODEL_CLIENT", "stub")])
                .unwrap()
                .model,
            ModelKind::Stub
        );
    }

    #[test]
    fn unknown_model_client_is_a_clear_startup_error() {
        let err = config(&[("IMAGES_BUCKET", "images"), ("MODEL_CLIENT", "dall-e")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown MODEL_CLIENT \"dall-e\"; supported values: stub"
        );
    }
}
