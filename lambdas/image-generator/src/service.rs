//! The use case, independent of how it was triggered: validate a request, render it with the
//! model, store the PNG under its content-addressed key, announce it; and fetch stored images
//! back.

use lambda_runtime::tracing;
use serde::{Deserialize, Serialize};

use crate::key::{IMAGE_PREFIX, image_key};
use crate::model::{ImageOptions, ModelClient, ModelError};
use crate::notify::{ImageReady, NoNotifier, Notifier};
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

/// A model, a store and a notifier, wired together once at startup.
#[derive(Debug)]
pub struct ImageService<M, S, N = NoNotifier> {
    model: M,
    store: S,
    notifier: N,
}

impl<M: ModelClient, S: ImageStore> ImageService<M, S> {
    /// A service that announces nothing; see [`ImageService::with_notifier`].
    pub fn new(model: M, store: S) -> Self {
        ImageService {
            model,
            store,
            notifier: NoNotifier,
        }
    }
}

impl<M: ModelClient, S: ImageStore, N: Notifier> ImageService<M, S, N> {
    /// The same service, publishing `image-ready` through `notifier` after each stored image.
    pub fn with_notifier<T: Notifier>(self, notifier: T) -> ImageService<M, S, T> {
        ImageService {
            model: self.model,
            store: self.store,
            notifier,
        }
    }

    pub fn model(&self) -> &M {
        &self.model
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn notifier(&self) -> &N {
        &self.notifier
    }

    /// The key `spec` is stored under with this service's model.
    pub fn key_for(&self, spec: &ImageSpec) -> String {
        image_key(spec, self.model.model_name())
    }

    /// Validates `request`, renders it, stores the PNG and publishes `image-ready`. Storing is
    /// idempotent: the same request always writes the same bytes to the same key (and is
    /// announced again).
    ///
    /// Once the image is stored the request succeeds, even if publishing fails: that failure is
    /// logged (`tracing::error`) and not returned. The image exists, so telling a URL or REST
    /// caller it failed would be false, and failing an SQS record would have it redelivered,
    /// rendered, stored and announced again: a duplicate for subscribers whenever SNS did
    /// take the first message but the answer was lost (a timeout). A missed notification can be
    /// made up from the bucket and the error log; a duplicate cannot be taken back.
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
        let created = ImageCreated {
            uri: format!("s3://{bucket}/{key}"),
            path: format!("/{key}"),
            bucket,
            key,
            width: spec.width,
            height: spec.height,
            bytes,
            content_type,
            model: image.model,
        };
        if let Err(error) = self
            .notifier
            .image_ready(&ImageReady::new(&spec, &created))
            .await
        {
            tracing::error!(key = %created.key, %error, "image stored, but image-ready was not published");
        }
        Ok(created)
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
    use crate::notify::MemoryNotifier;
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
    async fn each_stored_image_is_announced_once() {
        let notifier = MemoryNotifier::new();
        let service = service().with_notifier(notifier.clone());
        let created = service
            .create(&GenerateRequest {
                seed: Some(3),
                ..GenerateRequest::new(" a red fox ")
            })
            .await
            .unwrap();
        assert_eq!(
            notifier.published(),
            [ImageReady {
                bucket: "images-bucket".into(),
                key: created.key.clone(),
                prompt: "a red fox".into(),
                uri: created.uri.clone(),
                width: 512,
                height: 512,
                seed: 3,
                bytes: created.bytes,
                content_type: "image/png".into(),
                model: "stub-v1".into(),
            }]
        );
    }

    #[tokio::test]
    async fn nothing_is_announced_for_refused_or_unstored_images() {
        let notifier = MemoryNotifier::new();
        let service = service().with_notifier(notifier.clone());
        assert!(service.create(&GenerateRequest::new("")).await.is_err());
        let failing = ImageService::new(StubModel, MemoryStore::failing("b", "down"))
            .with_notifier(notifier.clone());
        assert!(failing.create(&GenerateRequest::new("fox")).await.is_err());
        assert!(notifier.published().is_empty());
    }

    #[tokio::test]
    async fn a_failed_announcement_does_not_fail_the_request() {
        let service = service().with_notifier(MemoryNotifier::failing("SNS is down"));
        let created = service.create(&GenerateRequest::new("fox")).await.unwrap();
        assert!(service.store().object(&created.key).is_some());
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
