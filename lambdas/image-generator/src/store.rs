//! Where images are kept: the [`ImageStore`] trait, an in-memory implementation for tests and
//! local experiments, and the mapping of image metadata onto S3 user metadata (which must be
//! ASCII, so the prompt is percent-encoded).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Mutex, PoisonError};

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

/// An object as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    pub bytes: Vec<u8>,
    pub content_type: String,
    /// User metadata exactly as stored (S3 `x-amz-meta-*`), see [`ImageMetadata::to_user_metadata`].
    pub metadata: BTreeMap<String, String>,
}

/// Size and type of a stored object, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub content_type: Option<String>,
}

/// Why the store failed. `operation` is the S3 call (or equivalent) that failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} s3://{bucket}/{key} failed: {message}")]
pub struct StoreError {
    pub operation: &'static str,
    pub bucket: String,
    pub key: String,
    pub message: String,
}

/// A bucket-like place to put and fetch images by key.
pub trait ImageStore: Send + Sync {
    /// Name of the bucket, for `s3://bucket/key` URIs.
    fn bucket(&self) -> &str;

    /// Stores (or overwrites) `key`.
    fn put(
        &self,
        key: &str,
        image: StoredImage,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Fetches `key`; `Ok(None)` if there is no such object.
    fn get(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<StoredImage>, StoreError>> + Send;

    /// Size and type of `key` without downloading it; `Ok(None)` if there is no such object.
    fn head(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<ObjectInfo>, StoreError>> + Send;
}

/// An [`ImageStore`] in a `HashMap`, for unit tests and for running the handler without S3.
#[derive(Debug, Default)]
pub struct MemoryStore {
    bucket: String,
    objects: Mutex<HashMap<String, StoredImage>>,
    /// When set, every call fails with this message (to test error handling).
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

    /// A store whose every operation fails with `message`, like an unreachable S3.
    pub fn failing(bucket: impl Into<String>, message: impl Into<String>) -> Self {
        MemoryStore {
            failure: Some(message.into()),
            ..MemoryStore::new(bucket)
        }
    }

    /// Every stored key, sorted.
    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.lock().keys().cloned().collect();
        keys.sort();
        keys
    }

    /// The stored object under `key`, if any (synchronous, for assertions).
    pub fn object(&self, key: &str) -> Option<StoredImage> {
        self.lock().get(key).cloned()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, StoredImage>> {
        // A panic while holding the lock cannot leave the map half-updated (each operation is a
        // single insert or read), so a poisoned lock is still safe to use.
        self.objects.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check(&self, operation: &'static str, key: &str) -> Result<(), StoreError> {
        match &self.failure {
            Some(message) => Err(StoreError {
                operation,
                bucket: self.bucket.clone(),
                key: key.to_owned(),
                message: message.clone(),
            }),
            None => Ok(()),
        }
    }
}

impl ImageStore for MemoryStore {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn put(&self, key: &str, image: StoredImage) -> Result<(), StoreError> {
        self.check("PutObject", key)?;
        self.lock().insert(key.to_owned(), image);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<StoredImage>, StoreError> {
        self.check("GetObject", key)?;
        Ok(self.object(key))
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StoreError> {
        self.check("HeadObject", key)?;
        Ok(self.lock().get(key).map(|image| ObjectInfo {
            size: image.bytes.len() as u64,
            content_type: Some(image.content_type.clone()),
        }))
    }
}

/// What is recorded about an image besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageMetadata {
    pub prompt: String,
    pub width: u32,
    pub height: u32,
    pub seed: u64,
    pub model: String,
}

/// Budget for the encoded prompt: S3 allows 2 KB of user metadata in total, and the other
/// fields need well under 200 bytes.
pub const MAX_ENCODED_PROMPT_BYTES: usize = 1800;

/// Characters escaped in the stored prompt: controls, `%` (so decoding is unambiguous) and,
/// implicitly, everything outside ASCII. Printable ASCII stays readable.
const PROMPT_ESCAPES: &AsciiSet = &CONTROLS.add(b'%');

impl ImageMetadata {
    /// S3 user metadata (`x-amz-meta-<name>`): `prompt` (UTF-8, percent-encoded so it is ASCII;
    /// decode with any URL-decoder), `prompt-truncated: true` when the encoded prompt had to be
    /// cut to fit S3's 2 KB limit (the full prompt is in the PNG's `Description` chunk), and
    /// `width`, `height`, `seed`, `model`.
    pub fn to_user_metadata(&self) -> BTreeMap<String, String> {
        let (prompt, truncated) = encode_prompt(&self.prompt, MAX_ENCODED_PROMPT_BYTES);
        let mut metadata = BTreeMap::from([
            ("prompt".to_owned(), prompt),
            ("width".to_owned(), self.width.to_string()),
            ("height".to_owned(), self.height.to_string()),
            ("seed".to_owned(), self.seed.to_string()),
            ("model".to_owned(), self.model.clone()),
        ]);
        if truncated {
            metadata.insert("prompt-truncated".to_owned(), "true".to_owned());
        }
        metadata
    }
}

/// Percent-encodes `prompt`, cutting it at a character boundary if the encoding would exceed
/// `budget` bytes. Returns the encoding and whether it was cut.
pub fn encode_prompt(prompt: &str, budget: usize) -> (String, bool) {
    let mut encoded = String::new();
    for (index, ch) in prompt.char_indices() {
        let piece = utf8_percent_encode(&prompt[index..index + ch.len_utf8()], PROMPT_ESCAPES);
        let piece = piece.to_string();
        if encoded.len() + piece.len() > budget {
            return (encoded, true);
        }
        encoded.push_str(&piece);
    }
    (encoded, false)
}

/// Reverses [`encode_prompt`] (lossy only if the stored value is not valid UTF-8).
pub fn decode_prompt(encoded: &str) -> String {
    percent_decode_str(encoded).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(bytes: &[u8]) -> StoredImage {
        StoredImage {
            bytes: bytes.to_vec(),
            content_type: "image/png".into(),
            metadata: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn memory_store_puts_gets_and_heads() {
        let store = MemoryStore::new("images-bucket");
        assert_eq!(store.bucket(), "images-bucket");
        assert_eq!(store.get("images/a.png").await.unwrap(), None);
        assert_eq!(store.head("images/a.png").await.unwrap(), None);
        store.put("images/a.png", image(b"one")).await.unwrap();
        store.put("images/a.png", image(b"two")).await.unwrap();
        assert_eq!(
            store.get("images/a.png").await.unwrap(),
            Some(image(b"two"))
        );
        assert_eq!(
            store.head("images/a.png").await.unwrap(),
            Some(ObjectInfo {
                size: 3,
                content_type: Some("image/png".into())
            })
        );
        assert_eq!(store.keys(), ["images/a.png"]);
    }

    #[tokio::test]
    async fn failing_store_reports_operation_and_key() {
        let store = MemoryStore::failing("b", "connection refused");
        let err = store.put("images/x.png", image(b"x")).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "PutObject s3://b/images/x.png failed: connection refused"
        );
        assert!(store.get("k").await.is_err());
        assert!(store.head("k").await.is_err());
    }

    #[test]
    fn metadata_is_ascii_and_round_trips() {
        let metadata = ImageMetadata {
            prompt: "Skriv in prompt her😊 100% \"quoted\"\nnext line".into(),
            width: 512,
            height: 256,
            seed: 9,
            model: "stub-v1".into(),
        }
        .to_user_metadata();
        for (name, value) in &metadata {
            assert!(
                value.bytes().all(|b| b.is_ascii_graphic() || b == b' '),
                "{name}: {value:?}"
            );
        }
        assert_eq!(
            metadata["prompt"],
            "Skriv in prompt her%F0%9F%98%8A 100%25 \"quoted\"%0Anext line"
        );
        assert_eq!(
            decode_prompt(&metadata["prompt"]),
            "Skriv in prompt her😊 100% \"quoted\"\nnext line"
        );
        assert_eq!(metadata["width"], "512");
        assert_eq!(metadata["height"], "256");
        assert_eq!(metadata["seed"], "9");
        assert_eq!(metadata["model"], "stub-v1");
        assert!(!metadata.contains_key("prompt-truncated"));
    }

    #[test]
    fn long_non_ascii_prompts_are_cut_to_fit_s3() {
        let prompt = "🦊".repeat(1000); // 12 encoded bytes each
        let metadata = ImageMetadata {
            prompt: prompt.clone(),
            width: 64,
            height: 64,
            seed: 0,
            model: "stub-v1".into(),
        }
        .to_user_metadata();
        let total: usize = metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        assert!(total <= 2048, "{total} bytes of metadata");
        assert_eq!(metadata["prompt-truncated"], "true");
        let decoded = decode_prompt(&metadata["prompt"]);
        assert_eq!(decoded, "🦊".repeat(MAX_ENCODED_PROMPT_BYTES / 12));
        assert!(prompt.starts_with(&decoded));
    }
}
