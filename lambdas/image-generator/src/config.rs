//! Startup configuration of the Lambda, read once from its environment.

use crate::model::{ModelKind, UnknownModelClient};

/// Environment variable naming the bucket images are stored in.
pub const IMAGES_BUCKET_ENV: &str = "IMAGES_BUCKET";
/// Environment variable naming the SNS topic told about each stored image (optional).
pub const IMAGE_READY_TOPIC_ARN_ENV: &str = "IMAGE_READY_TOPIC_ARN";

/// What the function needs besides the AWS SDK's own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `IMAGES_BUCKET` (required).
    pub bucket: String,
    /// `MODEL_CLIENT` (default `stub`).
    pub model: ModelKind,
    /// `IMAGE_READY_TOPIC_ARN` (optional): publish `image-ready` there after each image is
    /// stored; unset or empty publishes nothing.
    pub image_ready_topic: Option<String>,
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
    #[error(
        "{IMAGE_READY_TOPIC_ARN_ENV} {0:?} is not an SNS topic ARN; set it to one like arn:aws:sns:us-east-1:000000000000:image-ready, or leave it unset to publish nothing"
    )]
    InvalidTopicArn(String),
}

impl Config {
    /// Reads `IMAGES_BUCKET`, `MODEL_CLIENT` and `IMAGE_READY_TOPIC_ARN` from the process
    /// environment.
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
        let image_ready_topic = match lookup(IMAGE_READY_TOPIC_ARN_ENV) {
            Some(value) if !value.trim().is_empty() => Some(topic_arn(value.trim())?),
            _ => None,
        };
        Ok(Config {
            bucket,
            model,
            image_ready_topic,
        })
    }
}

/// Checks the shape `arn:<partition>:sns:<region>:<account>:<name>`, so a topic name or another
/// service's ARN stops the function at startup instead of failing every publish.
fn topic_arn(value: &str) -> Result<String, ConfigError> {
    let parts: Vec<&str> = value.split(':').collect();
    let well_formed = parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "sns"
        && parts.iter().all(|part| !part.is_empty());
    if well_formed {
        Ok(value.to_owned())
    } else {
        Err(ConfigError::InvalidTopicArn(value.to_owned()))
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
                model: ModelKind::Stub,
                image_ready_topic: None,
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

    #[test]
    fn image_ready_topic_is_optional_but_must_be_an_sns_arn() {
        let arn = "arn:aws:sns:us-east-1:000000000000:image-ready";
        let with = |value: &str| {
            config(&[
                ("IMAGES_BUCKET", "images"),
                ("IMAGE_READY_TOPIC_ARN", value),
            ])
        };
        assert_eq!(with(arn).unwrap().image_ready_topic.as_deref(), Some(arn));
        assert_eq!(
            with(&format!(" {arn}\n"))
                .unwrap()
                .image_ready_topic
                .as_deref(),
            Some(arn)
        );
        assert_eq!(with("").unwrap().image_ready_topic, None);
        assert_eq!(with("  ").unwrap().image_ready_topic, None);
        for bad in [
            "image-ready",
            "arn:aws:sqs:us-east-1:000000000000:image-ready",
            "arn:aws:sns:us-east-1:000000000000",
            "arn:aws:sns:us-east-1::image-ready",
        ] {
            let err = with(bad).unwrap_err();
            assert_eq!(err, ConfigError::InvalidTopicArn(bad.to_owned()));
            assert!(err.to_string().contains("arn:aws:sns:"), "{err}");
        }
    }
}
