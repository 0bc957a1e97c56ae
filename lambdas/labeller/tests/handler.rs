//! The handlers driven with a real S3 event (as AWS and LocalStack send it for a put under
//! `uploads/`) and direct invokes (as a Step Functions task sends them after the image
//! generator) against the stub labeller and an in-memory store.

use aws_lambda_events::event::s3::S3Event;
use labeller::{
    HandlerError, MemoryStore, Output, StubLabeller, handle, handle_payload, labels_key,
};
use lambda_runtime::Diagnostic;
use serde_json::{Value, json};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\nnot really a cat";

fn fixture() -> S3Event {
    let path = format!("{}/tests/fixtures/s3_put.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test]
async fn an_upload_gets_its_labels_file_next_to_it() {
    let store = MemoryStore::new();
    // The event's key is URL-encoded: `my+cat%282%29.png` is `my cat(2).png`.
    store.insert("lsk-uploads", "uploads/my cat(2).png", PNG);

    let report = handle(&StubLabeller, &store, fixture()).await.unwrap();

    let written = labels_key("uploads/my cat(2).png");
    assert_eq!(written, "labels/uploads/my cat(2).png.json");
    assert_eq!(report.labelled, [format!("s3://lsk-uploads/{written}")]);
    let body = store
        .object("lsk-uploads", &written)
        .expect("the labels file is written in the object's bucket");
    let labels: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(labels["bucket"], "lsk-uploads");
    assert_eq!(labels["key"], "uploads/my cat(2).png");
    assert_eq!(labels["size"], PNG.len());
    assert_eq!(labels["labeller"], "stub-v1");
    assert_eq!(labels["labels"][0], "image");
    assert_eq!(labels["labels"][1], "png");

    // The same upload labelled again gives the same file.
    handle(&StubLabeller, &store, fixture()).await.unwrap();
    assert_eq!(store.object("lsk-uploads", &written).unwrap(), body);
}

#[tokio::test]
async fn labels_files_and_removals_are_left_alone() {
    let store = MemoryStore::new();
    let mut event = fixture();
    event.records[0].s3.object.key = Some("labels/uploads/a.png.json".into());
    let report = handle(&StubLabeller, &store, event).await.unwrap();
    assert!(report.labelled.is_empty());
    assert_eq!(report.skipped.len(), 1, "{report:?}");

    let mut event = fixture();
    event.records[0].event_name = Some("ObjectRemoved:Delete".into());
    let report = handle(&StubLabeller, &store, event).await.unwrap();
    assert!(report.skipped[0].contains("not a creation"), "{report:?}");
}

#[tokio::test]
async fn a_missing_object_is_a_storage_error_naming_it() {
    let err = handle(&StubLabeller, &MemoryStore::new(), fixture())
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::Storage(_)), "{err:?}");
    assert!(
        err.to_string()
            .contains("GetObject s3://lsk-uploads/uploads/my cat(2).png failed"),
        "{err}"
    );
}

const IMAGE_KEY: &str =
    "images/1c9c7df25a7786efea880a0fb6d5ce2045cd490361ddb23c6ee3a7a3092306a7.png";

fn json_fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn diagnostic(error: HandlerError) -> Diagnostic {
    Diagnostic::from(error)
}

#[tokio::test]
async fn a_direct_invoke_labels_the_named_object() {
    let store = MemoryStore::new();
    store.insert("lsk-images", IMAGE_KEY, PNG);

    let output = handle_payload(&StubLabeller, &store, json_fixture("direct_invoke.json"))
        .await
        .unwrap();
    let Output::Labelled(labelled) = &output else {
        panic!("a direct invoke answers with what it labelled: {output:?}");
    };
    let written = format!("labels/{IMAGE_KEY}.json");
    assert_eq!(labelled.labels_key, written);
    let answer = serde_json::to_value(&output).unwrap();
    assert_eq!(answer["bucket"], "lsk-images");
    assert_eq!(answer["key"], IMAGE_KEY);
    assert_eq!(answer["labels_key"], written.as_str());
    assert_eq!(answer["size"], PNG.len());
    assert_eq!(answer["labeller"], "stub-v1");
    assert_eq!(answer["labels"][0], "image");
    assert_eq!(answer["labels"][1], "png");

    // The labels file is the same as an upload would get, in the object's bucket.
    let body = store
        .object("lsk-images", &written)
        .expect("labels file written");
    let file: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(file["bucket"], "lsk-images");
    assert_eq!(file["key"], IMAGE_KEY);
    assert_eq!(file["labels"], answer["labels"]);
}

#[tokio::test]
async fn the_image_generators_result_can_be_passed_on_as_it_is() {
    let store = MemoryStore::new();
    store.insert("lsk-images", IMAGE_KEY, PNG);
    let output = handle_payload(&StubLabeller, &store, json_fixture("image_created.json"))
        .await
        .unwrap();
    assert!(matches!(output, Output::Labelled(_)), "{output:?}");
    assert!(
        store
            .object("lsk-images", &format!("labels/{IMAGE_KEY}.json"))
            .is_some()
    );
}

#[tokio::test]
async fn bad_direct_invokes_say_what_to_send() {
    let store = MemoryStore::new();
    let cases = [
        (json!({"key": IMAGE_KEY}), "missing \"bucket\""),
        (json!({"bucket": "lsk-images"}), "missing \"key\""),
        (json!({}), "missing \"bucket\""),
        (
            json!({"bucket": "", "key": IMAGE_KEY}),
            "\"bucket\" is empty",
        ),
        (
            json!({"bucket": "lsk-images", "key": "  "}),
            "\"key\" is empty",
        ),
        (
            json!({"bucket": "lsk-images", "key": 5}),
            "\"key\" must be a string, got a number",
        ),
        (
            json!({"bucket": ["lsk-images"], "key": IMAGE_KEY}),
            "got an array",
        ),
        (json!("lsk-images/images/a.png"), "must be a JSON object"),
        (json!(null), "must be a JSON object"),
        (
            json!({"bucket": "lsk-images", "key": "labels/images/a.png.json"}),
            "is a labels file",
        ),
    ];
    for (payload, expected) in cases {
        let error = handle_payload(&StubLabeller, &store, payload.clone())
            .await
            .unwrap_err();
        let diagnostic = diagnostic(error);
        assert_eq!(diagnostic.error_type, "InvalidInput", "{payload}");
        assert!(
            diagnostic.error_message.contains(expected),
            "{payload}: {}",
            diagnostic.error_message
        );
        assert!(
            diagnostic
                .error_message
                .contains(r#"{"bucket": "lsk-images", "key": "#),
            "{}",
            diagnostic.error_message
        );
    }
}

#[tokio::test]
async fn a_missing_object_is_object_not_found_for_a_direct_invoke() {
    let store = MemoryStore::new();
    let error = handle_payload(&StubLabeller, &store, json_fixture("direct_invoke.json"))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        HandlerError::ObjectNotFound {
            bucket: "lsk-images".into(),
            key: IMAGE_KEY.into()
        }
    );
    let diagnostic = diagnostic(error);
    assert_eq!(diagnostic.error_type, "ObjectNotFound");
    assert!(
        diagnostic
            .error_message
            .starts_with(&format!("no object s3://lsk-images/{IMAGE_KEY}")),
        "{}",
        diagnostic.error_message
    );
    // Nothing written for it.
    assert!(
        store
            .object("lsk-images", &format!("labels/{IMAGE_KEY}.json"))
            .is_none()
    );
}

#[tokio::test]
async fn s3_events_through_the_payload_handler_are_unchanged() {
    let store = MemoryStore::new();
    store.insert("lsk-uploads", "uploads/my cat(2).png", PNG);
    let payload = serde_json::to_value(fixture()).unwrap();
    let output = handle_payload(&StubLabeller, &store, payload)
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(&output).unwrap(),
        json!({
            "labelled": ["s3://lsk-uploads/labels/uploads/my cat(2).png.json"],
            "skipped": []
        })
    );

    let error = handle_payload(&StubLabeller, &store, json!({"Records": "nope"}))
        .await
        .unwrap_err();
    assert_eq!(diagnostic(error).error_type, "UnsupportedEvent");

    let error = handle_payload(
        &StubLabeller,
        &MemoryStore::new(),
        serde_json::to_value(fixture()).unwrap(),
    )
    .await
    .unwrap_err();
    assert_eq!(diagnostic(error).error_type, "StorageError");
}
