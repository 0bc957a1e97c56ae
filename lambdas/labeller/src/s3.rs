//! The production [`ObjectStore`]: S3 through `aws-sdk-s3`, path-style so it works against
//! LocalStack without DNS tricks.

use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_s3::primitives::ByteStream;

use crate::store::{ObjectStore, StoreError};

/// Objects in any bucket the function may reach.
#[derive(Debug, Clone)]
pub struct S3Objects {
    client: Client,
}

impl S3Objects {
    pub fn new(config: &SdkConfig) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build();
        S3Objects {
            client: Client::from_conf(s3_config),
        }
    }
}

fn error(
    operation: &'static str,
    bucket: &str,
    key: &str,
    error: impl std::error::Error,
) -> StoreError {
    StoreError {
        operation,
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        message: DisplayErrorContext(error).to_string(),
    }
}

impl ObjectStore for S3Objects {
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let out = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_no_such_key() || e.code() == Some("NoSuchBucket")) =>
            {
                return Ok(None);
            }
            Err(e) => return Err(error("GetObject", bucket, key, e)),
        };
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| error("GetObject", bucket, key, e))?;
        Ok(Some(body.into_bytes().to_vec()))
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| error("PutObject", bucket, key, e))?;
        Ok(())
    }
}
