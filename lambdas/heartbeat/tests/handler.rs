//! The handler driven with a real EventBridge `Scheduled Event` (as a `rate(1 minute)` rule sends
//! it), direct invokes and a rule's constant input, against an in-memory store.

use chrono::{DateTime, TimeZone, Utc};
use heartbeat::{Beat, BeatKind, MemoryStore, Written, handle, handle_payload};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::{Value, json};

const RULE: &str = "arn:aws:events:us-east-1:123456789012:rule/heartbeat-every-minute";
const REQUEST_ID: &str = "4f1c2e9a-7b3d-4c5e-9a8f-0e1d2c3b4a59";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// When the manual beats in these tests are invoked.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 11, 24, 10, 16, 30)
        .single()
        .expect("a valid time")
        + chrono::Duration::microseconds(123_456)
}

fn stored(store: &MemoryStore, key: &str) -> Beat {
    let body = store.object(key).expect("heartbeat written");
    serde_json::from_slice(&body).expect("a heartbeat JSON object")
}

#[tokio::test]
async fn a_scheduled_event_writes_its_beat_under_the_event_time() {
    let store = MemoryStore::new("lsk-heartbeats");
    let written = handle_payload(&store, fixture("scheduled_event.json"), REQUEST_ID, now())
        .await
        .unwrap();
    let key = "heartbeats/2025-11-24T10:15:00Z.json";
    assert_eq!(
        written,
        Written {
            bucket: "lsk-heartbeats".into(),
            key: key.into()
        }
    );
    assert_eq!(
        serde_json::to_value(&written).unwrap(),
        json!({"bucket": "lsk-heartbeats", "key": key})
    );
    assert_eq!(store.keys(), [key]);
    let body: Value = serde_json::from_slice(&store.object(key).unwrap()).unwrap();
    assert_eq!(
        body,
        json!({
            "kind": "scheduled",
            "id": "89d1a02d-5ec7-412e-82f5-13505f849b41",
            "time": "2025-11-24T10:15:00Z",
            "rule": RULE,
            "request_id": REQUEST_ID,
            "source": "aws.events",
            "detail_type": "Scheduled Event",
        })
    );
}

#[tokio::test]
async fn each_minute_gets_its_own_object_and_a_redelivery_rewrites_it() {
    let store = MemoryStore::new("lsk-heartbeats");
    for minute in ["10:15", "10:16", "10:17", "10:16"] {
        let mut event = fixture("scheduled_event.json");
        event["time"] = json!(format!("2025-11-24T{minute}:00Z"));
        handle_payload(&store, event, REQUEST_ID, now())
            .await
            .unwrap();
    }
    assert_eq!(
        store.keys(),
        [
            "heartbeats/2025-11-24T10:15:00Z.json",
            "heartbeats/2025-11-24T10:16:00Z.json",
            "heartbeats/2025-11-24T10:17:00Z.json",
        ]
    );
}

#[tokio::test]
async fn a_direct_invoke_is_a_manual_beat_at_the_invoke_time() {
    let store = MemoryStore::new("lsk-heartbeats");
    let written = handle_payload(&store, json!({}), REQUEST_ID, now())
        .await
        .unwrap();
    assert_eq!(written.key, "heartbeats/2025-11-24T10:16:30.123Z.json");
    let beat = stored(&store, &written.key);
    assert_eq!(beat.kind, BeatKind::Manual);
    assert_eq!(beat.time, "2025-11-24T10:16:30.123Z");
    assert_eq!(beat.id, None);
    assert_eq!(beat.rule, None);
    assert_eq!(beat.request_id, REQUEST_ID);
    assert_eq!(beat.input, Some(json!({})));

    // Any payload at all.
    for payload in [json!(null), json!("beat"), json!([1, 2]), json!(7)] {
        let written = handle_payload(&store, payload.clone(), REQUEST_ID, now())
            .await
            .unwrap();
        let body: Value = serde_json::from_slice(&store.object(&written.key).unwrap()).unwrap();
        assert_eq!(body["input"], payload);
        assert_eq!(body["kind"], "manual");
    }
}

#[tokio::test]
async fn a_rules_constant_input_is_a_manual_beat_carrying_it() {
    let store = MemoryStore::new("lsk-heartbeats");
    let input = json!({"note": "from the heartbeat rule", "source": "lsk"});
    let written = handle_payload(&store, input.clone(), REQUEST_ID, now())
        .await
        .unwrap();
    let beat = stored(&store, &written.key);
    assert_eq!(beat.kind, BeatKind::Manual);
    assert_eq!(beat.input, Some(input));
    assert_eq!(beat.rule, None);
}

#[tokio::test]
async fn the_lambda_handler_records_the_request_id() {
    let store = MemoryStore::new("lsk-heartbeats");
    let mut context = Context::default();
    context.request_id = REQUEST_ID.into();
    let written = handle(
        &store,
        LambdaEvent::new(fixture("scheduled_event.json"), context),
    )
    .await
    .unwrap();
    assert_eq!(stored(&store, &written.key).request_id, REQUEST_ID);
}

#[tokio::test]
async fn an_event_without_time_or_resources_still_beats() {
    let store = MemoryStore::new("lsk-heartbeats");
    let mut event = fixture("scheduled_event.json");
    let object = event.as_object_mut().unwrap();
    object.remove("time");
    object.remove("resources");
    let written = handle_payload(&store, event, REQUEST_ID, now())
        .await
        .unwrap();
    assert_eq!(written.key, "heartbeats/2025-11-24T10:16:30.123Z.json");
    let beat = stored(&store, &written.key);
    assert_eq!(beat.kind, BeatKind::Scheduled);
    assert_eq!(beat.rule, None);
}

#[tokio::test]
async fn a_malformed_eventbridge_event_is_an_invalid_event_error() {
    let store = MemoryStore::new("lsk-heartbeats");
    let cases = [
        json!({"detail-type": "Scheduled Event"}),
        json!({"detail-type": 5, "source": "aws.events", "detail": {}}),
        json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}, "time": "yesterday"}),
    ];
    for payload in cases {
        let error = handle_payload(&store, payload.clone(), REQUEST_ID, now())
            .await
            .unwrap_err();
        let diagnostic = Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "InvalidEvent", "{payload}");
        assert!(
            diagnostic
                .error_message
                .contains("not a valid EventBridge event"),
            "{}",
            diagnostic.error_message
        );
    }
    assert!(store.keys().is_empty());
}

#[tokio::test]
async fn a_failed_write_is_a_storage_error() {
    let store = MemoryStore::failing("lsk-heartbeats", "connection refused");
    let error = handle_payload(&store, fixture("scheduled_event.json"), REQUEST_ID, now())
        .await
        .unwrap_err();
    let diagnostic = Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "StorageError");
    assert_eq!(
        diagnostic.error_message,
        "PutObject s3://lsk-heartbeats/heartbeats/2025-11-24T10:15:00Z.json failed: connection refused"
    );
}
