//! Object storage as the handler needs it: read an object, write one. [`MemoryStore`] keeps
//! objects in memory for tests; [`crate::s3::S3Objects`] is the real thing.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Mutex;

/// A failed storage call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} s3://{bucket}/{key} failed: {message}")]
pub struct StoreError {
    pub operation: &'static str,
    pub bucket: String,
    pub key: String,
    pub message: String,
}

/// Reads and writes objects.
pub trait ObjectStore: Send + Sync {
    /// The object's body; `Ok(None)` if there is no such object (or bucket).
    fn get(
        &self,
        bucket: &str,
        key: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Objects in memory, by `(bucket, key)`.
#[derive(Debug, Default)]
pub struct MemoryStore {
    objects: Mutex<BTreeMap<(String, String), Vec<u8>>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// Adds an object, as an upload would.
    pub fn insert(&self, bucket: &str, key: &str, body: &[u8]) {
        self.objects
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert((bucket.to_owned(), key.to_owned()), body.to_vec());
    }

    /// The object's body, if there is one.
    pub fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.objects
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&(bucket.to_owned(), key.to_owned()))
            .cloned()
    }
}

impl ObjectStore for MemoryStore {
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.object(bucket, key))
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        _content_type: &str,
    ) -> Result<(), StoreError> {
        self.insert(bucket, key, &body);
        Ok(())
    }
}
