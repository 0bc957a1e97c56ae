//! Telling others an image is ready: the [`Notifier`] trait, the `image-ready` message, a
//! recording implementation for tests, and "nobody to tell" (`None`, or [`NoNotifier`]). The SNS
//! implementation is [`crate::sns::SnsNotifier`]; `main` picks one from `IMAGE_READY_TOPIC_ARN`.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use serde::{Deserialize, Serialize};

use crate::request::ImageSpec;
use crate::service::ImageCreated;

/// Subject of every `image-ready` notification (SNS subjects are ASCII, at most 100 characters).
pub const IMAGE_READY_SUBJECT: &str = "image-ready";

/// The `image-ready` message: where the image is and what it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageReady {
    pub bucket: String,
    pub key: String,
    /// The prompt as rendered (trimmed), in full.
    pub prompt: String,
    /// `s3://<bucket>/<key>`.
    pub uri: String,
    pub width: u32,
    pub height: u32,
    pub seed: u64,
    /// Size of the PNG in bytes.
    pub bytes: u64,
    pub content_type: String,
    pub model: String,
}

impl ImageReady {
    /// The message for an image made from `spec` and stored as `created`.
    pub fn new(spec: &ImageSpec, created: &ImageCreated) -> Self {
        ImageReady {
            bucket: created.bucket.clone(),
            key: created.key.clone(),
            prompt: spec.prompt.clone(),
            uri: created.uri.clone(),
            width: created.width,
            height: created.height,
            seed: spec.seed,
            bytes: created.bytes,
            content_type: created.content_type.clone(),
            model: created.model.clone(),
        }
    }
}

/// Why a notification was not published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("publishing image-ready to {topic} failed: {message}")]
pub struct NotifyError {
    pub topic: String,
    pub message: String,
}

/// Announces stored images.
pub trait Notifier: Send + Sync {
    /// Publishes one `image-ready` message.
    fn image_ready(
        &self,
        ready: &ImageReady,
    ) -> impl Future<Output = Result<(), NotifyError>> + Send;
}

/// Nobody to tell: what the function uses when `IMAGE_READY_TOPIC_ARN` is not set.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoNotifier;

impl Notifier for NoNotifier {
    async fn image_ready(&self, _ready: &ImageReady) -> Result<(), NotifyError> {
        Ok(())
    }
}

/// A notifier that may not be configured: `None` publishes nothing. This is what `main` builds
/// from the optional topic, so one service type covers both cases.
impl<N: Notifier> Notifier for Option<N> {
    async fn image_ready(&self, ready: &ImageReady) -> Result<(), NotifyError> {
        match self {
            Some(notifier) => notifier.image_ready(ready).await,
            None => Ok(()),
        }
    }
}

/// Records every message instead of sending it, for tests. Clones share one record, so a test
/// can keep a clone and hand the other to the service.
#[derive(Debug, Clone, Default)]
pub struct MemoryNotifier {
    published: Arc<Mutex<Vec<ImageReady>>>,
    /// When set, every publish fails with this message (and records nothing).
    failure: Option<String>,
}

/// The topic name [`MemoryNotifier`] reports in its errors.
pub const MEMORY_TOPIC: &str = "memory:image-ready";

impl MemoryNotifier {
    pub fn new() -> Self {
        MemoryNotifier::default()
    }

    /// A notifier whose every publish fails with `message`, like an unreachable SNS.
    pub fn failing(message: impl Into<String>) -> Self {
        MemoryNotifier {
            failure: Some(message.into()),
            ..MemoryNotifier::default()
        }
    }

    /// Every message published so far, oldest first.
    pub fn published(&self) -> Vec<ImageReady> {
        // A panic while holding the lock cannot leave the list half-updated (each operation is
        // one push or one clone), so a poisoned lock is still safe to use.
        self.published
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Notifier for MemoryNotifier {
    async fn image_ready(&self, ready: &ImageReady) -> Result<(), NotifyError> {
        if let Some(message) = &self.failure {
            return Err(NotifyError {
                topic: MEMORY_TOPIC.to_owned(),
                message: message.clone(),
            });
        }
        self.published
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(ready.clone());
        Ok(())
    }
}
