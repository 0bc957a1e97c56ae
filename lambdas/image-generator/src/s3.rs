//! The production [`ImageStore`]: an S3 bucket through `aws-sdk-s3`, with path-style addressing
//! so it works against LocalStack (`http://127.0.0.1:4566/<bucket>/<key>`) without DNS tricks.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;

use crate::store::{ImageStore, ObjectInfo, StoreError, StoredImage};

/// Images in one S3 bucket.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: Client,
    bucket: String,
}

impl S3Store {
    /// A store for `bucket`, using `config` (see [`crate::aws::load_sdk_config`]).
    pub fn new(config: &SdkConfig, bucket: impl Into<String>) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build();
        S3Store {
            client: Client::from_conf(s3_config),
            bucket: bucket.into(),
        }
    }

    fn error(
        &self,
        operation: &'static str,
        key: &str,
        error: impl std::error::Error,
    ) -> StoreError {
        StoreError {
            operation,
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            message: DisplayErrorContext(error).to_string(),
        }
    }
}

impl ImageStore for S3Store {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn put(&self, key: &str, image: StoredImage) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(image.content_type)
            .set_metadata(Some(image.metadata.into_iter().collect()))
            .body(ByteStream::from(image.bytes))
            .send()
            .await
            .map_err(|e| self.error("PutObject", key, e))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<StoredImage>, StoreError> {
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(self.error("GetObject", key, e)),
        };
        let content_type = output
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        let metadata: BTreeMap<String, String> = output
            .metadata()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| self.error("GetObject (reading body)", key, e))?
            .into_bytes()
            .to_vec();
        Ok(Some(StoredImage {
            bytes,
            content_type,
            metadata,
        }))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => Ok(Some(ObjectInfo {
                size: output
                    .content_length()
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
                content_type: output.content_type().map(str::to_owned),
            })),
            // HEAD responses have no body, so "no such key" arrives as a bare 404.
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(e) => Err(self.error("HeadObject", key, e)),
        }
    }
}
