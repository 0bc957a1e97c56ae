//! `labeller`: an example Lambda behind an S3 trigger. An object put under `uploads/` in a bucket
//! gets its labels written next to it, in the same bucket, as `labels/<key>.json`.
//!
//! The handler ([`handle`]) is a plain async function over a typed [`S3Event`]; the labeller
//! ([`label::Labeller`], default [`label::StubLabeller`]) and the storage ([`ObjectStore`],
//! [`s3::S3Objects`] in Lambda) are traits, so tests drive it with a real event and an
//! in-memory store.
#![forbid(unsafe_code)]

pub mod aws;
pub mod label;
pub mod s3;
pub mod store;

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use lambda_runtime::Diagnostic;
use serde::Serialize;

pub use label::{Labeller, Labels, StubLabeller};
pub use store::{MemoryStore, ObjectStore, StoreError};

/// Where labels go: `labels/<key>.json` in the object's bucket.
pub const LABELS_PREFIX: &str = "labels/";

/// The labels file of `key`.
pub fn labels_key(key: &str) -> String {
    format!("{LABELS_PREFIX}{key}.json")
}

/// What a labels file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LabelsFile {
    pub bucket: String,
    pub key: String,
    pub size: usize,
    #[serde(flatten)]
    pub labels: Labels,
}

/// What one invocation did, returned to Lambda (and shown by `lsk invoke`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The labels files written, as `s3://bucket/key`.
    pub labelled: Vec<String>,
    /// Records left alone, with why.
    pub skipped: Vec<String>,
}

/// Why an invocation failed; Lambda retries an S3 event that fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// `InvalidEvent`: a record lacks its bucket or key, or the key is not URL-encoded text.
    #[error("record {index}: {message}")]
    InvalidEvent { index: usize, message: String },
    /// `StorageError`: reading the object or writing its labels failed.
    #[error(transparent)]
    Storage(#[from] StoreError),
    /// `LabelError`: the labeller failed.
    #[error(transparent)]
    Label(#[from] label::LabelError),
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match &error {
            HandlerError::InvalidEvent { .. } => "InvalidEvent",
            HandlerError::Storage(_) => "StorageError",
            HandlerError::Label(_) => "LabelError",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// S3 writes object keys URL-encoded in events, with `+` for a space.
pub fn decode_key(raw: &str) -> Result<String, String> {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .map(|k| k.into_owned())
        .map_err(|e| format!("key {raw:?} is not URL-encoded UTF-8: {e}"))
}

fn bucket_and_key(index: usize, record: &S3EventRecord) -> Result<(String, String), HandlerError> {
    let invalid = |message: String| HandlerError::InvalidEvent { index, message };
    let bucket = record
        .s3
        .bucket
        .name
        .clone()
        .ok_or_else(|| invalid("no s3.bucket.name".into()))?;
    let raw = record
        .s3
        .object
        .key
        .as_deref()
        .ok_or_else(|| invalid("no s3.object.key".into()))?;
    Ok((bucket, decode_key(raw).map_err(invalid)?))
}

/// Labels every created object of `event` and writes its labels file.
pub async fn handle<L: Labeller, S: ObjectStore>(
    labeller: &L,
    store: &S,
    event: S3Event,
) -> Result<Report, HandlerError> {
    let mut report = Report::default();
    for (index, record) in event.records.iter().enumerate() {
        let (bucket, key) = bucket_and_key(index, record)?;
        let event_name = record.event_name.as_deref().unwrap_or_default();
        if !event_name.starts_with("ObjectCreated:") {
            report.skipped.push(format!(
                "s3://{bucket}/{key}: {event_name} is not a creation"
            ));
            continue;
        }
        // A trigger without a prefix would see our own labels files: never label those.
        if key.starts_with(LABELS_PREFIX) {
            report
                .skipped
                .push(format!("s3://{bucket}/{key}: a labels file"));
            continue;
        }
        let bytes = store.get(&bucket, &key).await?;
        let labels = labeller.label(&key, &bytes).await?;
        let file = LabelsFile {
            bucket: bucket.clone(),
            key: key.clone(),
            size: bytes.len(),
            labels,
        };
        let out_key = labels_key(&key);
        // Serializing strings and numbers cannot fail; an empty body would only hide a bug.
        let body = serde_json::to_vec_pretty(&file).unwrap_or_default();
        store
            .put(&bucket, &out_key, body, "application/json")
            .await?;
        report.labelled.push(format!("s3://{bucket}/{out_key}"));
    }
    Ok(report)
}
