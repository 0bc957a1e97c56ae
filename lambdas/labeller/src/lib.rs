//! `labeller`: an example Lambda behind an S3 trigger. An object put under `uploads/` in a bucket
//! gets its labels written next to it, in the same bucket, as `labels/<key>.json`.
//!
//! It can also be invoked directly (as a Step Functions task after the image generator) with
//! `{"bucket": "...", "key": "..."}`: that object is labelled the same way and the answer is
//! [`Labelled`] (`{"bucket", "key", "labels_key", "size", "labeller", "labels"}`).
//!
//! The handlers ([`handle`] for a typed [`S3Event`], [`label_direct`] for a direct invoke, and
//! [`handle_payload`] telling the two apart) are plain async functions; the labeller
//! ([`label::Labeller`], default [`label::StubLabeller`]) and the storage ([`ObjectStore`],
//! [`s3::S3Objects`] in Lambda) are traits, so tests drive them with real events and an
//! in-memory store.
#![forbid(unsafe_code)]

pub mod aws;
pub mod label;
pub mod s3;
pub mod store;

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use lambda_runtime::Diagnostic;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// What one S3 event's invocation did, returned to Lambda (and shown by `lsk invoke`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The labels files written, as `s3://bucket/key`.
    pub labelled: Vec<String>,
    /// Records left alone, with why.
    pub skipped: Vec<String>,
}

/// A direct invoke: the object to label. Other fields are ignored, so the image generator's
/// whole result (`{"bucket", "key", "uri", ...}`) can be passed on as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelRequest {
    pub bucket: String,
    /// The object's key as stored (not URL-encoded, unlike in S3 events).
    pub key: String,
}

/// The answer to a direct invoke: what was labelled, where the labels file went and what it says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Labelled {
    pub bucket: String,
    pub key: String,
    /// Key of the labels file, in the same bucket: `labels/<key>.json`.
    pub labels_key: String,
    /// Size of the object in bytes.
    pub size: usize,
    pub labeller: String,
    pub labels: Vec<String>,
}

/// What the function returns, depending on the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Output {
    S3(Report),
    Labelled(Labelled),
}

/// The kinds of event the function accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An S3 notification (`Records`).
    S3(S3Event),
    /// A direct invoke naming one object.
    Direct(LabelRequest),
}

/// What a direct invoke should look like, for error messages.
pub const DIRECT_EXAMPLE: &str = r#"{"bucket": "lsk-images", "key": "images/<file>.png"}"#;

/// Why an invocation failed; Lambda retries an S3 event that fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// `InvalidEvent`: a record lacks its bucket or key, or the key is not URL-encoded text.
    #[error("record {index}: {message}")]
    InvalidEvent { index: usize, message: String },
    /// `UnsupportedEvent`: the payload has `Records` but is not an S3 event.
    #[error("{0}")]
    UnsupportedEvent(String),
    /// `InvalidInput`: a direct invoke that does not name an object to label.
    #[error("{0}")]
    InvalidInput(String),
    /// `ObjectNotFound`: a direct invoke named an object that does not exist.
    #[error(
        "no object s3://{bucket}/{key}: send the bucket and key of an existing object (the key as stored, not URL-encoded), e.g. {DIRECT_EXAMPLE}"
    )]
    ObjectNotFound { bucket: String, key: String },
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
            HandlerError::UnsupportedEvent(_) => "UnsupportedEvent",
            HandlerError::InvalidInput(_) => "InvalidInput",
            HandlerError::ObjectNotFound { .. } => "ObjectNotFound",
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
        let bytes = store.get(&bucket, &key).await?.ok_or_else(|| StoreError {
            operation: "GetObject",
            bucket: bucket.clone(),
            key: key.clone(),
            message: "NoSuchKey: the object was gone before it could be labelled".into(),
        })?;
        let labelled = label_bytes(labeller, store, &bucket, &key, &bytes).await?;
        report
            .labelled
            .push(format!("s3://{bucket}/{}", labelled.labels_key));
    }
    Ok(report)
}

/// Labels the object a direct invoke names and writes its labels file next to it.
pub async fn label_direct<L: Labeller, S: ObjectStore>(
    labeller: &L,
    store: &S,
    request: &LabelRequest,
) -> Result<Labelled, HandlerError> {
    let LabelRequest { bucket, key } = request;
    let bytes = store
        .get(bucket, key)
        .await?
        .ok_or_else(|| HandlerError::ObjectNotFound {
            bucket: bucket.clone(),
            key: key.clone(),
        })?;
    label_bytes(labeller, store, bucket, key, &bytes).await
}

/// Labels `bytes` (the object `key`) and writes `labels/<key>.json` in `bucket`.
async fn label_bytes<L: Labeller, S: ObjectStore>(
    labeller: &L,
    store: &S,
    bucket: &str,
    key: &str,
    bytes: &[u8],
) -> Result<Labelled, HandlerError> {
    let labels = labeller.label(key, bytes).await?;
    let file = LabelsFile {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        size: bytes.len(),
        labels,
    };
    let out_key = labels_key(key);
    // Serializing strings and numbers cannot fail; an empty body would only hide a bug.
    let body = serde_json::to_vec_pretty(&file).unwrap_or_default();
    store
        .put(bucket, &out_key, body, "application/json")
        .await?;
    Ok(Labelled {
        bucket: file.bucket,
        key: file.key,
        labels_key: out_key,
        size: file.size,
        labeller: file.labels.labeller,
        labels: file.labels.labels,
    })
}

impl LabelRequest {
    /// Reads a direct invoke's payload, saying what is wrong and what to send if it does not
    /// name an object.
    pub fn from_value(payload: &Value) -> Result<Self, HandlerError> {
        let invalid = HandlerError::InvalidInput;
        let object = payload.as_object().ok_or_else(|| {
            invalid(format!(
                "the payload must be a JSON object like {DIRECT_EXAMPLE}, got {}",
                json_kind(payload)
            ))
        })?;
        let field = |name: &str| match object.get(name) {
            None => Err(invalid(format!(
                "missing \"{name}\": send {DIRECT_EXAMPLE}"
            ))),
            Some(Value::String(text)) if text.trim().is_empty() => Err(invalid(format!(
                "\"{name}\" is empty: send {DIRECT_EXAMPLE}"
            ))),
            Some(Value::String(text)) => Ok(text.clone()),
            Some(other) => Err(invalid(format!(
                "\"{name}\" must be a string, got {}: send {DIRECT_EXAMPLE}",
                json_kind(other)
            ))),
        };
        let request = LabelRequest {
            bucket: field("bucket")?,
            key: field("key")?,
        };
        if request.key.starts_with(LABELS_PREFIX) {
            return Err(invalid(format!(
                "{:?} is a labels file, not an object to label: send the key of the object itself, e.g. {DIRECT_EXAMPLE}",
                request.key
            )));
        }
        Ok(request)
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Event {
    /// Tells the event kinds apart: `Records` is an S3 notification; anything else is a direct
    /// invoke naming one object.
    pub fn classify(payload: Value) -> Result<Self, HandlerError> {
        if payload.get("Records").is_some() {
            return serde_json::from_value(payload)
                .map(Event::S3)
                .map_err(|e| {
                    HandlerError::UnsupportedEvent(format!(
                        "malformed S3 event ({e}); this function handles S3 notifications and direct invokes like {DIRECT_EXAMPLE}"
                    ))
                });
        }
        LabelRequest::from_value(&payload).map(Event::Direct)
    }
}

/// Handles one event of either kind; `main` passes every invocation's payload here.
pub async fn handle_payload<L: Labeller, S: ObjectStore>(
    labeller: &L,
    store: &S,
    payload: Value,
) -> Result<Output, HandlerError> {
    match Event::classify(payload)? {
        Event::S3(event) => handle(labeller, store, event).await.map(Output::S3),
        Event::Direct(request) => label_direct(labeller, store, &request)
            .await
            .map(Output::Labelled),
    }
}
