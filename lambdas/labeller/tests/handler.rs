//! The handler driven with a real S3 event (as AWS and LocalStack send it for a put under
//! `uploads/`) against the stub labeller and an in-memory store.

use aws_lambda_events::event::s3::S3Event;
use labeller::{HandlerError, MemoryStore, StubLabeller, handle, labels_key};
use serde_json::Value;

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
