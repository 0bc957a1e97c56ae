//! Tests of `lib.rs`.

use super::*;
use crate::manifest::EnvValue;
use std::path::Path;

fn report(changes: Vec<(ResourceType, &str, Change)>) -> DeployReport {
    DeployReport {
        changes: changes
            .into_iter()
            .map(|(resource, name, change)| ResourceChange {
                resource,
                name: name.into(),
                change,
            })
            .collect(),
    }
}

#[test]
fn unchanged_everything_reads_no_changes_and_uploads_nothing() {
    let r = report(vec![
        (
            ResourceType::Bucket,
            "images (lsk-images)",
            Change::Unchanged,
        ),
        (ResourceType::Function, "square", Change::Unchanged),
    ]);
    assert!(r.is_noop());
    assert!(r.uploaded().is_empty());
    assert_eq!(r.to_string(), "no changes (2 resources up to date)");
}

#[test]
fn report_lists_each_change() {
    let r = report(vec![
        (ResourceType::Queue, "image-requests-dlq", Change::Created),
        (
            ResourceType::Function,
            "square",
            Change::Updated(vec!["code".into(), "memory".into()]),
        ),
        (ResourceType::Function, "image-generator", Change::Created),
        (ResourceType::Function, "old", Change::Removed),
        (ResourceType::FunctionUrl, "square", Change::Unchanged),
    ]);
    assert!(!r.is_noop());
    assert_eq!(r.uploaded(), ["square", "image-generator"]);
    let text = r.to_string();
    assert!(
        text.contains("function      square              updated: code, memory"),
        "{text}"
    );
    assert!(
        text.contains("function      old                 removed"),
        "{text}"
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(
        json["changes"][1],
        serde_json::json!({"resource": "function", "name": "square", "change": "updated", "what": ["code", "memory"]})
    );
    assert_eq!(json["changes"][0]["change"], "created");
}

#[test]
fn references_resolve_from_what_was_deployed() {
    let resolved = Resolved {
        queues: BTreeMap::from([(
            "jobs".to_owned(),
            (
                "http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/jobs".to_owned(),
                "arn:aws:sqs:us-east-1:000000000000:jobs".to_owned(),
            ),
        )]),
        buckets: BTreeMap::from([("images".to_owned(), "lsk-images".to_owned())]),
        topics: BTreeMap::from([(
            "ready".to_owned(),
            "arn:aws:sns:us-east-1:000000000000:ready".to_owned(),
        )]),
        apis: BTreeMap::from([(
            "shop".to_owned(),
            (
                "a1b2c3".to_owned(),
                "http://a1b2c3.execute-api.localhost:4566/Prod".to_owned(),
            ),
        )]),
        region: "us-east-1".into(),
    };
    let resolve = |text: &str| {
        EnvValue::parse(text)
            .unwrap()
            .resolve(&|r| resolved.lookup(r))
    };
    assert_eq!(resolve("${bucket.images.name}").unwrap(), "lsk-images");
    assert_eq!(
        resolve("${bucket.images.arn}").unwrap(),
        "arn:aws:s3:::lsk-images"
    );
    assert_eq!(
        resolve("${queue.jobs.url}").unwrap(),
        "http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/jobs"
    );
    assert_eq!(
        resolve("${queue.jobs.arn}").unwrap(),
        "arn:aws:sqs:us-east-1:000000000000:jobs"
    );
    assert_eq!(
        resolve("${function.square.arn}").unwrap(),
        "arn:aws:lambda:us-east-1:000000000000:function:square"
    );
    assert_eq!(
        resolve("${topic.ready.arn}").unwrap(),
        "arn:aws:sns:us-east-1:000000000000:ready"
    );
    assert_eq!(
        resolve("${api.shop.url}/change").unwrap(),
        "http://a1b2c3.execute-api.localhost:4566/Prod/change"
    );
    assert_eq!(resolve("${api.shop.id}").unwrap(), "a1b2c3");
    assert_eq!(
        resolve("${state_machine.flow.arn}").unwrap(),
        "arn:aws:states:us-east-1:000000000000:stateMachine:flow"
    );
    let err = resolve("${queue.missing.url}").unwrap_err();
    assert!(
        err.to_string().contains("queue missing was not deployed"),
        "{err}"
    );
}

#[test]
fn desired_function_from_the_example_manifest() {
    let m = Manifest::parse(
        include_str!("../../../lsk.toml"),
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../lsk.toml")),
    )
    .unwrap();
    let pkg = crate::package::zip_bootstrap(b"binary").unwrap();
    let resolved = Resolved {
        buckets: BTreeMap::from([("images".to_owned(), "lsk-images".to_owned())]),
        topics: BTreeMap::from([(
            "image-ready".to_owned(),
            aws::topic_arn("us-east-1", "image-ready"),
        )]),
        region: "us-east-1".into(),
        ..Resolved::default()
    };
    let d = desired_function(&m.functions["image-generator"], &pkg, &resolved, "main").unwrap();
    assert_eq!(d.environment["IMAGES_BUCKET"], "lsk-images");
    assert_eq!(d.environment["MODEL_CLIENT"], "stub");
    assert_eq!(
        d.environment["IMAGE_READY_TOPIC_ARN"],
        "arn:aws:sns:us-east-1:000000000000:image-ready"
    );
    assert_eq!((d.memory, d.timeout), (256, 30));
    assert_eq!(d.code_sha256, pkg.sha256);
    assert_eq!(d.tags[function::TAG_PROJECT], "main");
    assert_eq!(d.role, "arn:aws:iam::000000000000:role/lambda-role");
}
