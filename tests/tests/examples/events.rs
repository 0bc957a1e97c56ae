//! The event-driven examples as a user meets them: the REST API in front of make-change and the
//! image generator, the image-ready topic fanning out to its queues, the heartbeat schedule, and
//! the image pipeline state machine, each called the way the status table prints it.

use std::process::Command;
use std::time::Duration;

use lsk_e2e::{Kit, eventually, nonce, seen};
use serde_json::{Value, json};

/// A cold start of a function included.
const ANSWER_WAIT: Duration = Duration::from_secs(60);
/// LocalStack's scheduler looks at rules once a minute; a new rule first fires within that.
const SCHEDULE_WAIT: Duration = Duration::from_secs(150);
/// Generate, label and publish, with cold starts of both functions.
const PIPELINE_WAIT: Duration = Duration::from_secs(120);

/// Runs a printed line through bash, with `.lsk/venv/bin` on PATH and awslocal pointed at the
/// kit; returns stdout, or fails the test with what the user would have seen.
fn run_printed(kit: &Kit, line: &str) -> String {
    let out = Command::new("bash")
        .args(["-c", line])
        .envs(kit.cli_env())
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "the printed line `{line}` failed ({}): {stdout} / {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Receives from `queue` until a message body satisfies `wanted`, deleting what it reads
/// (nothing else consumes these queues).
async fn message_on(kit: &Kit, queue: &str, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
    let deployed = kit.deployed().await;
    let q = deployed
        .queue(&kit.queue_id(queue))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut others = Vec::new();
    let deadline = std::time::Instant::now() + ANSWER_WAIT;
    // Each receive long-polls for up to 2 s, so this loop does not spin.
    while std::time::Instant::now() < deadline {
        for body in q
            .receive(10, Duration::from_secs(2))
            .await
            .unwrap_or_default()
        {
            let v: Value = serde_json::from_str(&body).unwrap_or(Value::String(body.clone()));
            if wanted(&v) {
                return v;
            }
            others.push(body);
        }
    }
    panic!(
        "timed out after {ANSWER_WAIT:?} waiting for {what}; the queue {queue} held only: {others:?}"
    )
}

pub async fn make_change_over_the_rest_api_as_printed(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let api = deployed.api("examples").unwrap_or_else(|e| panic!("{e}"));
    let view = api.view().clone();
    let route = view
        .routes
        .iter()
        .find(|r| r.path == "/change")
        .unwrap_or_else(|| panic!("status shows no /change route: {view:?}"));
    assert!(route.deployed, "{route:?}");
    let curl = route
        .curl
        .clone()
        .expect("a deployed route gets a curl line");
    assert!(
        curl.contains(".execute-api.localhost:") && curl.contains("/Prod/change"),
        "the curl line should use the offline URL of the Prod stage: {curl}"
    );
    let answer = run_printed(kit, &curl);
    let answer: Value = serde_json::from_str(&answer)
        .unwrap_or_else(|e| panic!("`{curl}` printed {answer:?}, not JSON: {e}"));
    assert_eq!(
        answer,
        json!({"quarters": 2, "dimes": 1, "nickels": 0, "pennies": 3}),
        "`{curl}` should make change for $0.63"
    );

    // As a user would type it: no content type, a JSON number.
    let typed = format!(
        r#"curl -s -X POST '{}/change' -d '{{"amount": 0.29}}'"#,
        api.url()
    );
    let answer: Value = serde_json::from_str(&run_printed(kit, &typed)).unwrap();
    assert_eq!(
        answer,
        json!({"quarters": 1, "dimes": 0, "nickels": 0, "pennies": 4}),
        "`{typed}`: 0.29 is 29 cents, read exactly"
    );

    for (body, fragment) in [
        (json!({"amount": "0.635"}), "cent"),
        (json!({"amount": "-1"}), "negative"),
        (json!({"amount": "lots"}), "amount"),
    ] {
        let reply = api.post_json("/change", &body).await.unwrap();
        let shown = seen("POST", &format!("{}/change", api.url()), &reply);
        assert_eq!(reply.status, 400, "{body} should be refused: {shown}");
        let error: Value = serde_json::from_slice(&reply.body)
            .unwrap_or_else(|e| panic!("the 400 should be JSON ({e}): {shown}"));
        let message = error["error"].as_str().unwrap_or_default().to_lowercase();
        assert!(
            message.contains(fragment),
            "the 400 for {body} should say what is wrong ({fragment:?}): {shown}"
        );
    }

    // The same function by direct invoke.
    let change = deployed
        .function(&kit.function_id("make-change"))
        .unwrap()
        .invoke(&json!({"amount": "1.41"}))
        .await
        .unwrap();
    assert_eq!(
        change,
        json!({"quarters": 5, "dimes": 1, "nickels": 1, "pennies": 1})
    );
}

pub async fn image_ready_fans_out_to_its_queue_from_the_rest_api_and_a_printed_publish(
    kit: &'static Kit,
) {
    let deployed = kit.deployed().await;
    let api = deployed.api("examples").unwrap();
    let prompt = format!("a lighthouse over the REST API {}", nonce());
    let url = format!("{}/generate-image", api.url());
    let reply = api
        .post_json("/generate-image", &json!({"prompt": prompt}))
        .await
        .unwrap();
    assert_eq!(reply.status, 201, "{}", seen("POST", &url, &reply));
    let created: Value = serde_json::from_slice(&reply.body).unwrap();
    let key = created["key"].as_str().unwrap_or_default().to_owned();
    let stored = deployed
        .bucket(&kit.bucket_id("images"))
        .unwrap()
        .get(&key)
        .await;
    assert!(
        stored.is_ok_and(|b| b.starts_with(b"\x89PNG")),
        "POST {url} answered {created} but s3://lsk-images/{key} is not a PNG"
    );

    // The generator announced it on image-ready; the raw subscription delivers the message as is.
    let message = message_on(kit, "image-ready", &format!("image-ready for {key}"), |m| {
        m["key"] == key.as_str()
    })
    .await;
    assert_eq!(message["prompt"], prompt.as_str(), "{message}");
    assert_eq!(message["bucket"], "lsk-images", "{message}");

    // `lsk status` prints a publish line for the topic; it works as printed.
    let topic = deployed.topic("image-ready").unwrap().view().clone();
    assert_eq!(
        topic.subscriptions,
        [
            "queue image-labelled (raw, filtered)",
            "queue image-ready (raw)"
        ],
        "{topic:?}"
    );
    let publish = topic
        .awslocal
        .clone()
        .expect("a deployed topic gets a publish line");
    run_printed(kit, &publish);
    let printed = message_on(kit, "image-ready", "the printed publish's message", |m| {
        m["key"] == "images/example.png"
    })
    .await;
    assert_eq!(printed["prompt"], "a lighthouse at dusk", "{printed}");
}

pub async fn the_heartbeat_schedule_runs_every_minute(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let rule = deployed
        .view()
        .rules
        .iter()
        .find(|r| r.name == "heartbeat")
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "status shows no heartbeat rule: {:?}",
                deployed.view().rules
            )
        });
    assert_eq!(rule.state, "ENABLED", "{rule:?}");
    assert_eq!(rule.targets, ["function heartbeat"], "{rule:?}");
    assert!(
        run_printed(kit, &rule.awslocal).contains("function:heartbeat"),
        "`{}` should list the heartbeat function as the target",
        rule.awslocal
    );

    let bucket = deployed.bucket(&kit.bucket_id("heartbeats")).unwrap();
    let beat = eventually(
        "a heartbeats/ object written by the scheduled function",
        SCHEDULE_WAIT,
        || async {
            let keys = bucket.keys().await.ok()?;
            keys.into_iter().find(|k| k.starts_with("heartbeats/"))
        },
    )
    .await;
    let beat = match beat {
        Ok(k) => k,
        Err(e) => panic!(
            "{e}; the user would see nothing in `awslocal s3 ls s3://lsk-heartbeats/`. Heartbeat logs:\n{}",
            lsk_e2e::log_text(&deployed, "heartbeat").await
        ),
    };
    let body: Value = serde_json::from_slice(&bucket.get(&beat).await.unwrap()).unwrap();
    assert!(
        body.to_string().contains("rule/heartbeat"),
        "the beat should name the rule that ran it: {body}"
    );
    // "heartbeat <time> from <rule ARN>". Log events are shipped to CloudWatch in batches: the
    // line may come a moment after the object.
    let d = &deployed;
    let logged = eventually(
        "the beat in the heartbeat function's logs",
        ANSWER_WAIT,
        || async move {
            let logs = lsk_e2e::log_text(d, "heartbeat").await;
            logs.contains(" from arn:aws:events:").then_some(())
        },
    )
    .await;
    assert!(
        logged.is_ok(),
        "{logged:?}; `lsk logs heartbeat` would show no beat: {}",
        lsk_e2e::log_text(&deployed, "heartbeat").await
    );
}

pub async fn the_image_pipeline_runs_from_prompt_to_labelled_notification(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let machine = deployed
        .state_machine(&kit.machine_id("image-pipeline"))
        .unwrap_or_else(|e| panic!("{e}"));
    let prompt = format!("a lighthouse through the pipeline {}", nonce());
    let run = machine
        .run(&json!({"prompt": prompt}), PIPELINE_WAIT)
        .await
        .unwrap();
    assert_eq!(
        run.status, "SUCCEEDED",
        "the execution {} ended {} ({:?}: {:?}); `awslocal stepfunctions describe-execution` would show the same",
        run.arn, run.status, run.error, run.cause
    );
    let output = run.output.clone().unwrap_or_default();
    let key = output["image"]["key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let labels_key = output["labels"]["labels_key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(labels_key, format!("labels/{key}.json"), "{output}");
    let labels = deployed
        .bucket(&kit.bucket_id("images"))
        .unwrap()
        .get(&labels_key)
        .await;
    assert!(
        labels.is_ok(),
        "the pipeline said it labelled {key} but s3://lsk-images/{labels_key} is missing: {output}"
    );

    // Only the labelled announcement passes image-labelled's filter policy.
    let message = message_on(
        kit,
        "image-labelled",
        &format!("the pipeline's notification for {key}"),
        |m| m["key"] == key.as_str(),
    )
    .await;
    assert_eq!(message["event"], "labelled", "{message}");
    assert_eq!(message["prompt"], prompt.as_str(), "{message}");

    // The printed start line starts an execution.
    let view = machine.view().clone();
    let start = view
        .awslocal
        .clone()
        .expect("a deployed machine gets a start line");
    let started = run_printed(kit, &start);
    assert!(
        started.contains("executionArn"),
        "`{start}` should print the new execution: {started}"
    );
}
