//! Startup configuration of the Lambda, read once from its environment.

/// Environment variable naming the bucket heartbeats are written to.
pub const HEARTBEAT_BUCKET_ENV: &str = "HEARTBEAT_BUCKET";

/// What the function needs besides the AWS SDK's own settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `HEARTBEAT_BUCKET` (required).
    pub bucket: String,
}

/// A configuration problem that stops the function at startup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "{HEARTBEAT_BUCKET_ENV} is not set; set it to the name of the S3 bucket to write heartbeats/<time>.json to"
    )]
    MissingBucket,
}

impl Config {
    /// Reads `HEARTBEAT_BUCKET` from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so it can be tested without touching the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let bucket = lookup(HEARTBEAT_BUCKET_ENV)
            .map(|bucket| bucket.trim().to_owned())
            .filter(|bucket| !bucket.is_empty())
            .ok_or(ConfigError::MissingBucket)?;
        Ok(Config { bucket })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_is_required() {
        let config = |value: Option<&str>| {
            Config::from_lookup(|name| {
                assert_eq!(name, "HEARTBEAT_BUCKET");
                value.map(str::to_owned)
            })
        };
        assert_eq!(config(None), Err(ConfigError::MissingBucket));
        assert_eq!(config(Some("  ")), Err(ConfigError::MissingBucket));
        assert_eq!(
            config(Some(" lsk-heartbeats ")),
            Ok(Config {
                bucket: "lsk-heartbeats".into()
            })
        );
        assert!(
            ConfigError::MissingBucket
                .to_string()
                .starts_with("HEARTBEAT_BUCKET is not set")
        );
    }
}
