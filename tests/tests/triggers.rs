//! Event triggers as a user meets them, on the native backend: a manifest with an S3 trigger, a
//! topic, a rule on a named bus and a REST API is deployed; an upload under `uploads/` gets its
//! labels written next to it by the `labeller` example, the printed upload and put-events lines
//! work as printed, a second deploy changes nothing, and a trigger, subscription, rule or route
//! removed from the manifest is removed from LocalStack at the next deploy.

use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use lsk::{BackendChoice, Change, LocalStack, Stack};
use lsk_e2e::{Kit, Spec, eventually, nonce};
use serde_json::Value;

const MANIFEST: &str = r#"
[functions.labeller]
package = "labeller"
timeout = 10
environment = { NO_COLOR = "1" }

[[functions.labeller.s3]]
bucket = "uploads"
prefix = "uploads/"

[buckets.uploads]
name = "lsk-e2e-uploads"

[queues.uploaded]

[topics.uploads]
[[topics.uploads.subscriptions]]
queue = "uploaded"
raw = true
[[topics.uploads.subscriptions]]
function = "labeller"

[rules.uploads]
bus = "e2e"
pattern = { source = ["lsk.e2e"], detail-type = ["Upload Seen"] }
[[rules.uploads.targets]]
queue = "uploaded"
input = { kind = "from the rule" }

[apis.uploads]
[[apis.uploads.routes]]
method = "POST"
path = "/labels"
function = "labeller"
[[apis.uploads.routes]]
method = "GET"
path = "/labels/{key}"
function = "labeller"
"#;

/// The same stack with the S3 trigger, the function's subscription, the rule and one route
/// taken out.
const WITHOUT_TRIGGER: &str = r#"
[functions.labeller]
package = "labeller"
timeout = 10
environment = { NO_COLOR = "1" }

[buckets.uploads]
name = "lsk-e2e-uploads"

[queues.uploaded]

[topics.uploads]
[[topics.uploads.subscriptions]]
queue = "uploaded"
raw = true

[apis.uploads]
[[apis.uploads.routes]]
method = "POST"
path = "/labels"
function = "labeller"
"#;

const BUCKET: &str = "lsk-e2e-uploads";
/// How long an upload may take to show its labels (a cold start included).
const LABEL_WAIT: Duration = Duration::from_secs(60);

static KIT: OnceLock<Result<Kit, String>> = OnceLock::new();

fn kit() -> &'static Kit {
    Kit::shared(&KIT, || {
        Spec::inline("triggers-native", MANIFEST, BackendChoice::Native)
    })
}

async fn put(s3: &aws_sdk_s3::Client, key: &str, body: &[u8]) {
    s3.put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("uploading s3://{BUCKET}/{key} failed: {e:?}"));
}

/// The labels file of `key`, once it is there.
async fn labels_of(s3: &aws_sdk_s3::Client, key: &str) -> Result<Value, String> {
    let labels_key = format!("labels/{key}.json");
    eventually(
        &format!("s3://{BUCKET}/{labels_key} (the labeller's answer to the upload of {key})"),
        LABEL_WAIT,
        || async {
            let out = s3
                .get_object()
                .bucket(BUCKET)
                .key(&labels_key)
                .send()
                .await
                .ok()?;
            let bytes = out.body.collect().await.ok()?.into_bytes();
            serde_json::from_slice(&bytes).ok()
        },
    )
    .await
}

async fn labeller_logs(kit: &Kit) -> String {
    lsk_e2e::log_text(&kit.deployed().await, "labeller").await
}

#[tokio::test]
async fn an_upload_is_labelled_and_the_trigger_follows_the_manifest() {
    let kit = kit();
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&kit.sdk())
            .force_path_style(true)
            .build(),
    );
    let tag = nonce();

    // A file outside uploads/ first, then one inside: only the second is labelled.
    let outside = format!("other/{tag}.txt");
    put(&s3, &outside, b"not for the labeller").await;
    let photo = format!("uploads/{tag} cat.png");
    put(&s3, &photo, b"\x89PNG\r\n\x1a\na small picture").await;
    let labels = match labels_of(&s3, &photo).await {
        Ok(v) => v,
        Err(e) => panic!(
            "{e}; the user would see no labels file after `awslocal s3 cp`. Labeller logs:\n{}",
            labeller_logs(kit).await
        ),
    };
    assert_eq!(labels["key"], photo.as_str(), "{labels}");
    assert_eq!(labels["labels"][0], "image", "{labels}");
    assert_eq!(labels["labels"][1], "png", "{labels}");
    let deployed = kit.deployed().await;
    let keys = deployed.bucket("uploads").unwrap().keys().await.unwrap();
    assert!(
        !keys.contains(&format!("labels/{outside}.json")),
        "{outside} is outside the trigger's prefix but was labelled: {keys:?}"
    );

    // `lsk status` shows the trigger with an upload line that works as printed.
    let view = deployed.function("labeller").unwrap().view().clone();
    let trigger = view
        .s3_triggers
        .first()
        .unwrap_or_else(|| panic!("status shows no s3 trigger for labeller: {view:?}"));
    assert!(trigger.deployed, "{trigger:?}");
    let out = Command::new("bash")
        .args(["-c", &trigger.awslocal])
        .envs(kit.cli_env())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the printed line `{}` failed: {}",
        trigger.awslocal,
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = labels_of(&s3, "uploads/hello-from-lsk.txt").await;
    assert!(
        printed.is_ok(),
        "after `{}`: {printed:?}; labeller logs:\n{}",
        trigger.awslocal,
        labeller_logs(kit).await
    );

    // The rule's printed put-events line delivers the rule's constant input to the queue.
    let rule = deployed
        .view()
        .rules
        .first()
        .cloned()
        .unwrap_or_else(|| panic!("status shows no rule: {:?}", deployed.view()));
    let put_events = rule
        .put_events
        .clone()
        .unwrap_or_else(|| panic!("a pattern rule gets a put-events line: {rule:?}"));
    let out = Command::new("bash")
        .args(["-c", &put_events])
        .envs(kit.cli_env())
        .output()
        .unwrap();
    assert!(
        out.status.success()
            && String::from_utf8_lossy(&out.stdout).contains("\"FailedEntryCount\": 0"),
        "the printed line `{put_events}` failed: {} / {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let queue = deployed.queue("uploaded").unwrap();
    let delivered = eventually(
        "the rule's input on the uploaded queue",
        LABEL_WAIT,
        || async {
            let bodies = queue.receive(10, Duration::from_secs(2)).await.ok()?;
            bodies.into_iter().find(|b| b.contains("from the rule"))
        },
    )
    .await;
    let delivered: Option<Value> = delivered
        .as_deref()
        .ok()
        .and_then(|b| serde_json::from_str(b).ok());
    assert_eq!(
        delivered,
        Some(serde_json::json!({"kind": "from the rule"})),
        "after `{put_events}` the queue should get the rule's constant input"
    );

    // A second deploy of the same manifest changes nothing.
    let ls = LocalStack::attach(&kit.endpoint, &kit.region)
        .await
        .unwrap();
    let again = kit.stack.deploy(&ls).await.unwrap();
    assert!(
        again.report().is_noop(),
        "a second deploy should report no changes, said:\n{}",
        again.report()
    );

    // Taking the trigger out of the manifest takes it out of the bucket and the permission too.
    let manifest = lsk::Manifest::parse(
        WITHOUT_TRIGGER,
        &lsk_e2e::root().join("triggers-native.lsk.toml"),
    )
    .unwrap();
    let without = Stack::from_manifest(manifest).deploy(&ls).await.unwrap();
    let removed: Vec<String> = without
        .report()
        .changes
        .iter()
        .filter(|c| c.change == Change::Removed)
        .map(|c| format!("{} {}", c.resource.label(), c.name))
        .collect();
    for gone in [
        format!("s3 trigger {BUCKET} -> labeller"),
        format!("permission labeller from s3 {BUCKET}"),
        "subscription uploads -> function labeller".to_owned(),
        "permission labeller from topic uploads".to_owned(),
        "rule uploads".to_owned(),
        "bus e2e".to_owned(),
        "route uploads GET /labels/{key}".to_owned(),
    ] {
        assert!(
            removed.contains(&gone),
            "taking it out of lsk.toml should remove {gone}; deploy said:\n{}",
            without.report()
        );
    }
    let subscriptions = without
        .topic("uploads")
        .unwrap()
        .view()
        .subscriptions
        .clone();
    assert_eq!(subscriptions, ["queue uploaded (raw)"]);
    let routes: Vec<String> = without
        .api("uploads")
        .unwrap()
        .view()
        .routes
        .iter()
        .map(|r| format!("{} {} deployed={}", r.method, r.path, r.deployed))
        .collect();
    assert_eq!(routes, ["POST /labels deployed=true"]);
    let events = aws_sdk_eventbridge::Client::new(&kit.sdk());
    let buses = events.list_event_buses().send().await.unwrap();
    assert!(
        buses.event_buses().iter().all(|b| b.name() != Some("e2e")),
        "the bus lsk made for the rule should be gone: {buses:?}"
    );
    let config = s3
        .get_bucket_notification_configuration()
        .bucket(BUCKET)
        .send()
        .await
        .unwrap();
    assert!(
        config.lambda_function_configurations().is_empty(),
        "the bucket still notifies: {config:?}"
    );
}
