//! The production [`BeatStore`]: one S3 bucket through `aws-sdk-s3`, path-style so it works
//! against LocalStack without DNS tricks.

use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;

use crate::store::{BeatStore, StoreError};

/// Heartbeats in one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Beats {
    client: Client,
    bucket: String,
}

impl S3Beats {
    /// A store for `bucket`, using `config` (see [`crate::aws::load_sdk_config`]).
    pub fn new(config: &SdkConfig, bucket: impl Into<String>) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build();
        S3Beats {
            client: Client::from_conf(s3_config),
            bucket: bucket.into(),
        }
    }
}

impl BeatStore for S3Beats {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn put(&self, key: &str, body: Vec<u8>, content_type: &str) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| StoreError {
                operation: "PutObject",
                bucket: self.bucket.clone(),
                key: key.to_owned(),
                message: DisplayErrorContext(e).to_string(),
            })?;
        Ok(())
    }
}
