//! Where heartbeats go: the [`BeatStore`] trait and an in-memory implementation for tests;
//! [`crate::s3::S3Beats`] is the real thing.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};

/// A failed storage call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} s3://{bucket}/{key} failed: {message}")]
pub struct StoreError {
    pub operation: &'static str,
    pub bucket: String,
    pub key: String,
    pub message: String,
}

/// One bucket to write objects into.
pub trait BeatStore: Send + Sync {
    /// Name of the bucket, for the answer and the logs.
    fn bucket(&self) -> &str;

    /// Writes (or overwrites) `key`.
    fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Objects in memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryStore {
    bucket: String,
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
    /// When set, every write fails with this message (to test error handling).
    failure: Option<String>,
}

impl MemoryStore {
    /// An empty store that pretends to be `bucket`.
    pub fn new(bucket: impl Into<String>) -> Self {
        MemoryStore {
            bucket: bucket.into(),
            ..MemoryStore::default()
        }
    }

    /// A store whose every write fails with `message`, like an unreachable S3.
    pub fn failing(bucket: impl Into<String>, message: impl Into<String>) -> Self {
        MemoryStore {
            failure: Some(message.into()),
            ..MemoryStore::new(bucket)
        }
    }

    /// Every key written, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// The body under `key`, if any.
    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        self.lock().get(key).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        // Each operation is one insert or read, so a poisoned lock holds no half-done update.
        self.objects.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl BeatStore for MemoryStore {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn put(&self, key: &str, body: Vec<u8>, _content_type: &str) -> Result<(), StoreError> {
        if let Some(message) = &self.failure {
            return Err(StoreError {
                operation: "PutObject",
                bucket: self.bucket.clone(),
                key: key.to_owned(),
                message: message.clone(),
            });
        }
        self.lock().insert(key.to_owned(), body);
        Ok(())
    }
}
