//! The use case, independent of how it was triggered: validate a request, render it with the
//! model, store the PNG under its content-addressed key; and fetch stored images back.

use serde::{Deserialize, Serialize};

use crate::key::{IMAGE_PREFIX, image_key};
use crate::model::{ImageOptions, ModelClient, ModelError};
use crate::request::{GenerateRequest, ImageSpec, RequestError};
use crate::store::{ImageMetadata, ImageStore, StoreError, StoredImage};

/// What was stored: the body of the `201` answer and of a direct invoke's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageCreated {
    pub bucket: String,
    pub key: String,
    /// `s3://<bucket>/<key>`.
    pub uri: String,
    /// Where the function URL serves the image: `/images/<file>`.
    pub path: String,
    pub width: u32,
    pub height: u32,
    /// Size of the PNG in bytes.
    pub bytes: u64,
    pub content_type: String,
    pub model: String,
}

/// Why a request could not be served. The function URL maps these to 400, 500 and 502.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Invalid(#[from] RequestError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A model and a store, wired together once at startup.
#[derive(Debug)]
pub struct ImageService<M, S> {
    model: M,
    store: S,
}

impl<M: ModelClient, S: ImageStore> ImageService<M, S> {
    pub fn new(model: M, store: S) -> Self {
        ImageService { model, store }
    }

    pub fn model(&self) -> &M {
        &self.model
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// The key `spec` is stored under with this service's model.
    pub fn key_for(&self, spec: &ImageSpec) -> String {
        image_key(spec, self.model.model_name())
    }

    /// Validates `request`, renders it and stores the PNG. Storing is idempotent: the same
    /// request always writes the same bytes to the same key.
    pub async fn create(&self, request: &GenerateRequest) -> Result<ImageCreated, ServiceError> {
        let spec = request.validate()?;
        let key = self.key_for(&spec);
        let options = ImageOptions {
            width: spec.width,
            height: spec.height,
            seed: spec.seed,
        };
        let image = self.model.generate(&spec.prompt, options).await?;
        let metadata = ImageMetadata {
            prompt: spec.prompt.clone(),
            width: spec.width,
            height: spec.height,
            seed: spec.seed,
            model: image.model.clone(),
        };
        let bytes = image.bytes.len() as u64;
        let content_type = image.content_type.clone();
        self.store
            .put(
                &key,
                StoredImage {
                    bytes: image.bytes,
                    content_type: image.content_type,
                    metadata: metadata.to_user_metadata(),
                },
            )
            .await?;
        let bucket = self.store.bucket().to_owned();
        Ok(ImageCreated {
            uri: format!("s3://{bucket}/{key}"),
            path: format!("/{key}"),
            bucket,
            key,
            width: spec.width,
            height: spec.height,
            bytes,
            content_type,
            model: image.model,
        })
    }

    /// Fetches `images/<file_name>`; `Ok(None)` if it does not exist.
    pub async fn fetch(&self, file_name: &str) -> Result<Option<StoredImage>, ServiceError> {
        Ok(self
            .store
            .get(&format!("{IMAGE_PREFIX}{file_name}"))
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StubModel;
    use crate::store::{MemoryStore, decode_prompt};

    fn service() -> ImageService<StubModel, MemoryStore> {
        ImageService::new(StubModel, MemoryStore::new("images-bucket"))
    }

    #[tokio::test]
    async fn create_stores_the_png_under_its_key() {
        let service = service();
        let created = service
            .create(&GenerateRequest {
                width: Some(96),
                height: Some(64),
                ..GenerateRequest::new("  a red fox ")
            })
            .await
            .unwrap();
        let spec = ImageSpec {
            prompt: "a red fox".into(),
            width: 96,
            height: 64,
            seed: 0,
        };
        let key = image_key(&spec, "stub-v1");
        assert_eq!(created.key, key);
        assert_eq!(created.uri, format!("s3://images-bucket/{key}"));
        assert_eq!(created.path, format!("/{key}"));
        assert_eq!((created.width, created.height), (96, 64));
        assert_eq!(created.model, "stub-v1");
        assert_eq!(created.content_type, "image/png");

        let stored = service.store().object(&key).expect("stored");
        assert_eq!(stored.bytes.len() as u64, created.bytes);
        assert_eq!(stored.content_type, "image/png");
        assert_eq!(decode_prompt(&stored.metadata["prompt"]), "a red fox");
        assert!(stored.bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    }

    #[tokio::test]
    async fn repeating_a_request_rewrites_the_same_object() {
        let service = service();
        let first = service.create(&GenerateRequest::new("fox")).await.unwrap();
        let bytes = service.store().object(&first.key).unwrap().bytes;
        let second = service.create(&GenerateRequest::new(" fox")).await.unwrap();
        assert_eq!(first, second);
        assert_eq!(service.store().keys(), std::slice::from_ref(&first.key));
        assert_eq!(service.store().object(&first.key).unwrap().bytes, bytes);
    }

    #[tokio::test]
    async fn invalid_requests_store_nothing() {
        let service = service();
        let err = service
            .create(&GenerateRequest::new("   "))
            .await
            .unwrap_err();
        assert_eq!(err, ServiceError::Invalid(RequestError::EmptyPrompt));
        assert!(service.store().keys().is_empty());
    }

    #[tokio::test]
    async fn store_failures_surface_as_store_errors() {
        let service = ImageService::new(StubModel, MemoryStore::failing("b", "timed out"));
        let err = service
            .create(&GenerateRequest::new("fox"))
            .await
            .unwrap_err();
        assert!(matches!(err, ServiceError::Store(_)), "{err:?}");
        assert!(err.to_string().contains("PutObject s3://b/images/"));
    }
}
