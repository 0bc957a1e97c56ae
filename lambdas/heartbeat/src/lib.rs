//! `heartbeat`: an example Lambda run by an EventBridge schedule (`rate(1 minute)`). Each run
//! logs `heartbeat <time> from <rule ARN>` and writes `heartbeats/<time>.json` (RFC 3339 time)
//! into the bucket named by `HEARTBEAT_BUCKET`, holding the event id, time, rule and the
//! invocation's request id. It answers `{"bucket": ..., "key": ...}`.
//!
//! One handler ([`handle`]) takes every payload, told apart by shape:
//!
//! - an EventBridge event (it has `detail-type`, e.g. the `Scheduled Event` a schedule sends):
//!   a scheduled beat at the event's `time`, from the rule in `resources[0]`;
//! - anything else (a direct invoke such as `{}`, or the constant `Input` a rule can send
//!   instead of the event): a manual beat at the invocation's time, with the payload kept under
//!   `input`.
//!
//! The storage is a trait ([`BeatStore`]: [`s3::S3Beats`] in Lambda, [`MemoryStore`] in tests).
#![forbid(unsafe_code)]

pub mod aws;
pub mod config;
pub mod s3;
pub mod store;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{DateTime, SecondsFormat, Utc};
use lambda_runtime::{Diagnostic, LambdaEvent, tracing};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use store::{BeatStore, MemoryStore, StoreError};

/// Folder (key prefix) every heartbeat is written under.
pub const HEARTBEAT_PREFIX: &str = "heartbeats/";

/// The key of the heartbeat at `time`: `heartbeats/<RFC 3339 time>.json`.
pub fn heartbeat_key(time: &str) -> String {
    format!("{HEARTBEAT_PREFIX}{time}.json")
}

/// What started a beat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BeatKind {
    /// An EventBridge event (normally a rule's `Scheduled Event`).
    Scheduled,
    /// A direct invoke, or a rule's constant input.
    Manual,
}

/// The content of a heartbeat object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beat {
    pub kind: BeatKind,
    /// The EventBridge event's `id`; `null` for manual beats.
    pub id: Option<String>,
    /// RFC 3339, UTC: the event's `time`, or the invocation's for manual beats (and for an
    /// event without one).
    pub time: String,
    /// The rule that sent the event (`resources[0]`, its ARN); `null` for manual beats.
    pub rule: Option<String>,
    /// The Lambda request id of the invocation that wrote the beat.
    pub request_id: String,
    /// The event's `source` and `detail-type` (`aws.events`, `Scheduled Event`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail_type: Option<String>,
    /// A manual beat's payload, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
}

/// The answer: where the beat was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Written {
    pub bucket: String,
    pub key: String,
}

/// The kinds of payload the function accepts.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An EventBridge event (it has `detail-type`).
    EventBridge(Box<EventBridgeEvent<Value>>),
    /// Anything else: a direct invoke or a rule's constant input.
    Manual(Value),
}

/// Why an invocation failed. The `errorType` is the name in each variant's docs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// `InvalidEvent`: the payload has `detail-type` but is not a valid EventBridge event.
    #[error(
        "payload has \"detail-type\" but is not a valid EventBridge event ({0}); send an EventBridge event with source, detail-type, detail and time, or any payload without \"detail-type\" (e.g. {{}}) for a manual beat"
    )]
    InvalidEvent(String),
    /// `StorageError`: writing the heartbeat failed.
    #[error(transparent)]
    Storage(#[from] StoreError),
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Self {
        let error_type = match &error {
            HandlerError::InvalidEvent(_) => "InvalidEvent",
            HandlerError::Storage(_) => "StorageError",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

impl Event {
    /// An object with `detail-type` is an EventBridge event; anything else is a manual beat.
    /// A rule with a constant `Input` sends that JSON instead of the event, so without
    /// `detail-type` there is nothing to say it came from a schedule.
    pub fn classify(payload: Value) -> Result<Self, HandlerError> {
        if payload.get("detail-type").is_some() {
            return serde_json::from_value(payload)
                .map(|event| Event::EventBridge(Box::new(event)))
                .map_err(|e| HandlerError::InvalidEvent(e.to_string()));
        }
        Ok(Event::Manual(payload))
    }
}

/// RFC 3339 in UTC with `Z`, and only as many fractional digits as the time has (none for a
/// schedule's whole seconds), so keys sort in time order and read naturally.
pub fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The beat an event makes, at `now` when the event has no time of its own.
pub fn beat_of(event: Event, request_id: &str, now: DateTime<Utc>) -> Beat {
    // Milliseconds are plenty to tell manual beats apart, and keep keys short.
    let now = DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now);
    match event {
        Event::EventBridge(event) => {
            let event = *event;
            Beat {
                kind: BeatKind::Scheduled,
                id: event.id,
                time: rfc3339(event.time.unwrap_or(now)),
                rule: event
                    .resources
                    .and_then(|resources| resources.into_iter().next()),
                request_id: request_id.to_owned(),
                source: Some(event.source),
                detail_type: Some(event.detail_type),
                input: None,
            }
        }
        Event::Manual(input) => Beat {
            kind: BeatKind::Manual,
            id: None,
            time: rfc3339(now),
            rule: None,
            request_id: request_id.to_owned(),
            source: None,
            detail_type: None,
            input: Some(input),
        },
    }
}

/// Handles one payload at `now` for the invocation `request_id`: logs the beat and writes it.
pub async fn handle_payload<S: BeatStore>(
    store: &S,
    payload: Value,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<Written, HandlerError> {
    let beat = beat_of(Event::classify(payload)?, request_id, now);
    let key = heartbeat_key(&beat.time);
    let origin = match (&beat.kind, &beat.rule) {
        (BeatKind::Scheduled, Some(rule)) => rule.as_str(),
        (BeatKind::Scheduled, None) => "an EventBridge event without resources",
        (BeatKind::Manual, _) => "a manual invoke",
    };
    tracing::info!(key = %key, "heartbeat {} from {origin}", beat.time);
    // Serializing strings and JSON values cannot fail; an empty body would only hide a bug.
    let body = serde_json::to_vec_pretty(&beat).unwrap_or_default();
    store.put(&key, body, "application/json").await?;
    Ok(Written {
        bucket: store.bucket().to_owned(),
        key,
    })
}

/// The Lambda handler; `main` passes it to `lambda_runtime::run` with the store built once.
pub async fn handle<S: BeatStore>(
    store: &S,
    event: LambdaEvent<Value>,
) -> Result<Written, HandlerError> {
    handle_payload(store, event.payload, &event.context.request_id, Utc::now()).await
}
