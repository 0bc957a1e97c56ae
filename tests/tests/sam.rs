//! A SAM project, unchanged, on the kit: `tests/sam/examples/template.yaml` (the examples written
//! as SAM, with `Globals`, parameters, a condition, policy templates, implicit API events, SQS with
//! a dead-letter queue, S3, SNS, schedule and custom-bus events, a function URL, an on-failure
//! destination, S3-to-EventBridge notifications and a state machine with
//! `DefinitionSubstitutions`) deployed through LocalStack's CloudFormation engine, then used by
//! logical ID as a user's tests would. Other templates (a bucket kept because it holds objects,
//! resources the kit does not run) deploy as stacks of their own into the same LocalStack.

use std::time::Duration;

use lsk::sam::{LoadOptions, SamError};
use lsk::{DeployOpts, Error, LocalStack, Stack};
use lsk_e2e::{Kit, Spec, eventually, nonce, seen};
use serde_json::{Value, json};

fn spec(backend: lsk::BackendChoice) -> Spec {
    Spec::template(
        match backend {
            lsk::BackendChoice::Docker => "sam-docker",
            _ => "sam-native",
        },
        "tests/sam/examples/template.yaml",
        backend,
    )
}

lsk_e2e::backend_suite!(
    spec;
    functions_answer_by_logical_id_and_outputs_are_urls_that_work_here,
    sqs_events_batch_and_poison_messages_reach_the_redrive_dlq,
    uploads_reach_the_labeller_through_the_s3_event,
    sns_and_custom_bus_events_reach_their_function_and_s3_tells_eventbridge,
    a_failed_async_invoke_lands_in_its_on_failure_destination,
    a_successful_async_invoke_lands_in_its_on_success_destination,
    a_cloudwatch_event_reaches_its_function_and_an_eventbridge_event_starts_the_state_machine,
    the_state_machine_runs_with_its_definition_substitutions,
    the_schedule_event_fires_every_minute,
    a_redeploy_without_changes_changes_nothing,
);

async fn localstack(kit: &Kit) -> LocalStack {
    LocalStack::attach(&kit.endpoint, &kit.region)
        .await
        .expect("LocalStack answers")
}

async fn functions_answer_by_logical_id_and_outputs_are_urls_that_work_here(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let square = deployed.function("SquareFunction").unwrap();
    assert!(
        square
            .view()
            .function_name
            .starts_with("examples-SquareFunction-"),
        "SAM names functions <stack>-<LogicalId>-<suffix>, as `sam deploy` does: {}",
        square.view().function_name
    );
    assert_eq!(
        square.invoke(&json!({"number": 6})).await.unwrap(),
        json!({"result": 36})
    );
    let build = square.view().build.clone().unwrap_or_default();
    assert!(
        build.contains("declared arm64") || std::env::consts::ARCH == "aarch64",
        "an arm64 function built for this x86_64 host says so in status: {build:?}"
    );

    // The function URL output, as LocalStack returned it, does not resolve offline; the kit's does.
    let url = deployed.output("SquareUrl").unwrap();
    assert!(
        url.contains(".lambda-url.") && url.contains(".localhost:"),
        "{url}"
    );
    let reply = deployed
        .call(
            "POST",
            url,
            Some(br#"{"number": 7}"#.to_vec()),
            Some("application/json"),
        )
        .await
        .unwrap();
    assert_eq!(
        reply.json().ok(),
        Some(json!({"result": 49})),
        "{}",
        seen("POST", url, &reply)
    );

    // The implicit API (`ServerlessRestApi`, stage Prod) from its output.
    let api = deployed.output("ExamplesApi").unwrap();
    assert!(api.ends_with("/Prod/"), "{api}");
    let change = format!("{api}change");
    let reply = deployed
        .call(
            "POST",
            &change,
            Some(br#"{"amount": "0.63"}"#.to_vec()),
            Some("application/json"),
        )
        .await
        .unwrap();
    assert_eq!(
        reply.json().ok(),
        Some(json!({"quarters": 2, "dimes": 1, "nickels": 0, "pennies": 3})),
        "{}",
        seen("POST", &change, &reply)
    );
    let routes: Vec<String> = deployed
        .api("ServerlessRestApi")
        .unwrap()
        .view()
        .routes
        .iter()
        .map(|r| format!("{} {} -> {}", r.method, r.path, r.function))
        .collect();
    assert_eq!(
        routes,
        [
            "POST /change -> MakeChangeFunction",
            "POST /generate-image -> ImageGeneratorFunction"
        ]
    );
    // A parameter's default and a plain output come back as deployed.
    assert_eq!(deployed.output("OrdersBusName").unwrap(), "examples-orders");
    assert!(
        deployed.bucket("ImagesBucket").unwrap().name() == "lsk-sam-images",
        "the bucket name parameter's default"
    );
}

fn stub_key(prompt: &str) -> String {
    let spec = image_generator::GenerateRequest::new(prompt)
        .validate()
        .expect("a valid request");
    image_generator::key::image_key(&spec, "stub-v1")
}

async fn sqs_events_batch_and_poison_messages_reach_the_redrive_dlq(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let queue = deployed.queue("ImageRequestsQueue").unwrap();
    let dlq = deployed.queue("ImageRequestsDlq").unwrap();
    let generator = deployed.function("ImageGeneratorFunction").unwrap();
    let trigger = &generator.view().triggers;
    assert_eq!(trigger.len(), 1, "{trigger:?}");
    assert_eq!(trigger[0].batch_size, Some(5));
    assert!(trigger[0].report_batch_item_failures);

    let run = nonce();
    let prompt = format!("a lighthouse {run}");
    queue
        .send(&json!({"prompt": prompt}).to_string())
        .await
        .unwrap();
    let poison = format!("poison {run}: not json");
    queue.send(&poison).await.unwrap();
    let images = deployed.bucket("ImagesBucket").unwrap();
    let key = stub_key(&prompt);
    eventually(
        &format!("{key} in ImagesBucket"),
        Duration::from_secs(120),
        || async { images.keys().await.ok()?.contains(&key).then_some(()) },
    )
    .await
    .unwrap();
    // The image is announced on ImageReadyTopic, whose raw subscription fills ImageReadyQueue.
    let ready = deployed.queue("ImageReadyQueue").unwrap();
    eventually(
        "the announcement in ImageReadyQueue",
        Duration::from_secs(60),
        || async {
            let bodies = ready.receive(10, Duration::from_secs(1)).await.ok()?;
            bodies.iter().any(|b| b.contains(&key)).then_some(())
        },
    )
    .await
    .unwrap();
    // The poison message is received 3 times (maxReceiveCount), then redriven to the DLQ.
    eventually(
        "the poison message in ImageRequestsDlq",
        Duration::from_secs(120),
        || async {
            let bodies = dlq.receive(10, Duration::from_secs(1)).await.ok()?;
            bodies.iter().any(|b| b == &poison).then_some(())
        },
    )
    .await
    .unwrap();
}

async fn uploads_reach_the_labeller_through_the_s3_event(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let uploads = deployed.bucket("UploadsBucket").unwrap();
    let key = format!("uploads/{}.txt", nonce());
    uploads
        .put(&key, b"a lighthouse at dusk".to_vec())
        .await
        .unwrap();
    let labels = format!("labels/{key}.json");
    let text = eventually(
        &format!("{labels} written by LabellerFunction"),
        Duration::from_secs(60),
        || async { uploads.get(&labels).await.ok() },
    )
    .await
    .unwrap();
    let labelled: Value = serde_json::from_slice(&text).expect("labels are JSON");
    assert!(labelled.is_object(), "{labelled}");
}

/// The heartbeat objects whose text contains `needle`.
async fn heartbeats_with(deployed: &lsk::Deployed, needle: &str) -> Option<String> {
    let bucket = deployed.bucket("HeartbeatsBucket").ok()?;
    for key in bucket.keys().await.ok()? {
        let body = bucket.get(&key).await.ok()?;
        if String::from_utf8_lossy(&body).contains(needle) {
            return Some(key);
        }
    }
    None
}

async fn sns_and_custom_bus_events_reach_their_function_and_s3_tells_eventbridge(
    kit: &'static Kit,
) {
    let deployed = kit.deployed().await;
    let run = nonce();
    deployed
        .topic("AnnouncementsTopic")
        .unwrap()
        .publish(&format!("announcement {run}"))
        .await
        .unwrap();
    let key = eventually(
        "a heartbeat holding the SNS message",
        Duration::from_secs(60),
        || async { heartbeats_with(&deployed, &format!("announcement {run}")).await },
    )
    .await
    .unwrap();

    // An event on the template's own bus reaches the function through its EventBridgeRule event.
    let put = deployed
        .clients()
        .events
        .put_events()
        .entries(
            aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                .event_bus_name(deployed.output("OrdersBusName").unwrap())
                .source("lsk.orders")
                .detail_type("Order Placed")
                .detail(json!({"order": run}).to_string())
                .build(),
        )
        .send()
        .await
        .unwrap();
    let event_id = put.entries()[0].event_id().unwrap().to_owned();
    eventually(
        "a heartbeat for the order event",
        Duration::from_secs(60),
        || async { heartbeats_with(&deployed, &event_id).await },
    )
    .await
    .unwrap();

    // Each heartbeat object is announced by S3 to EventBridge, whose rule fills a queue (S3 puts
    // the key URL-encoded in the event, as AWS does).
    let objects = deployed.queue("HeartbeatObjectsQueue").unwrap();
    let encoded = key.replace(':', "%3A");
    eventually(
        &format!("S3's Object Created event for {key}"),
        Duration::from_secs(60),
        || async {
            let bodies = objects.receive(10, Duration::from_secs(1)).await.ok()?;
            bodies
                .iter()
                .any(|b| b.contains(&encoded) && b.contains("Object Created"))
                .then_some(())
        },
    )
    .await
    .unwrap();
}

async fn a_failed_async_invoke_lands_in_its_on_failure_destination(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let run = nonce();
    let square = deployed.function("SquareFunction").unwrap();
    square
        .invoke_raw(
            json!({"number": format!("six {run}")})
                .to_string()
                .as_bytes(),
            lsk::InvokeMode::Async,
        )
        .await
        .unwrap();
    let failed = deployed.queue("FailedInvocationsQueue").unwrap();
    let record = eventually(
        "the failed invocation in FailedInvocationsQueue",
        Duration::from_secs(90),
        || async {
            let bodies = failed.receive(10, Duration::from_secs(1)).await.ok()?;
            bodies.into_iter().find(|b| b.contains(&run))
        },
    )
    .await
    .unwrap();
    let record: Value = serde_json::from_str(&record).unwrap();
    assert_eq!(
        record["requestContext"]["condition"], "RetriesExhausted",
        "{record}"
    );
}

async fn a_successful_async_invoke_lands_in_its_on_success_destination(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    // A number no other test sends, so its record is this test's.
    let number: u64 = 1_000_000 + u64::from(std::process::id()) % 1_000_000;
    deployed
        .function("SquareFunction")
        .unwrap()
        .invoke_raw(
            json!({"number": number}).to_string().as_bytes(),
            lsk::InvokeMode::Async,
        )
        .await
        .unwrap();
    let succeeded = deployed.queue("SucceededInvocationsQueue").unwrap();
    let record = eventually(
        "the invocation's record in SucceededInvocationsQueue",
        Duration::from_secs(90),
        || async {
            let bodies = succeeded.receive(10, Duration::from_secs(1)).await.ok()?;
            bodies
                .into_iter()
                .filter_map(|b| serde_json::from_str::<Value>(&b).ok())
                .find(|r| r["requestPayload"]["number"] == number)
        },
    )
    .await
    .unwrap();
    assert_eq!(record["requestContext"]["condition"], "Success", "{record}");
    assert_eq!(
        record["responsePayload"]["result"].to_string(),
        (u128::from(number) * u128::from(number)).to_string(),
        "{record}"
    );
}

async fn a_cloudwatch_event_reaches_its_function_and_an_eventbridge_event_starts_the_state_machine(
    kit: &'static Kit,
) {
    let deployed = kit.deployed().await;
    let run = nonce();
    let put = |source: &str, detail: Value| {
        aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .source(source)
            .detail_type("lsk test")
            .detail(detail.to_string())
            .build()
    };
    let sent = deployed
        .clients()
        .events
        .put_events()
        .entries(put("lsk.ping", json!({"ping": run})))
        .entries(put(
            "lsk.pipeline",
            json!({"prompt": format!("a pipeline event {run}")}),
        ))
        .send()
        .await
        .unwrap();
    let ping_id = sent.entries()[0].event_id().unwrap().to_owned();
    eventually(
        "a heartbeat for the CloudWatchEvent",
        Duration::from_secs(60),
        || async { heartbeats_with(&deployed, &ping_id).await },
    )
    .await
    .unwrap();
    // A state machine's EventBridgeRule event starts it, with the event as its input.
    let machine = deployed.state_machine("EventsMachine").unwrap();
    let sfn = &deployed.clients().sfn;
    let arn = eventually(
        "an execution started by the event, succeeded",
        Duration::from_secs(120),
        || async {
            let listed = sfn
                .list_executions()
                .state_machine_arn(machine.arn())
                .send()
                .await
                .ok()?;
            for e in listed.executions() {
                let d = sfn
                    .describe_execution()
                    .execution_arn(e.execution_arn())
                    .send()
                    .await
                    .ok()?;
                if d.input().is_some_and(|i| i.contains(&run)) && d.status().as_str() == "SUCCEEDED"
                {
                    return Some(e.execution_arn().to_owned());
                }
            }
            None
        },
    )
    .await
    .unwrap();
    assert!(arn.contains("EventsMachine"), "{arn}");
}

async fn the_state_machine_runs_with_its_definition_substitutions(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let prompt = format!("a pipeline {}", nonce());
    let execution = deployed
        .state_machine("ImagePipeline")
        .unwrap()
        .run(&json!({"prompt": prompt}), Duration::from_secs(120))
        .await
        .unwrap();
    assert_eq!(
        execution.status, "SUCCEEDED",
        "the pipeline failed: {:?} {:?}",
        execution.error, execution.cause
    );
    let output = execution.output.unwrap_or_default();
    assert_eq!(output["image"]["key"], stub_key(&prompt), "{output}");
    assert!(output["notification"]["message_id"].is_string(), "{output}");
}

async fn the_schedule_event_fires_every_minute(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    // A scheduled beat names its rule (`<stack>-HeartbeatFunctionBeat-<suffix>`).
    eventually(
        "a scheduled heartbeat",
        Duration::from_secs(150),
        || async { heartbeats_with(&deployed, "HeartbeatFunctionBeat").await },
    )
    .await
    .unwrap();
}

async fn a_redeploy_without_changes_changes_nothing(kit: &'static Kit) {
    let ls = localstack(kit).await;
    let deployed = kit
        .stack
        .deploy_with(&ls, &DeployOpts::default())
        .await
        .unwrap();
    assert!(
        deployed.report().is_noop(),
        "nothing changed, yet the deploy reported:\n{}",
        deployed.report()
    );
}

// ---------------------------------------------------------------------------------------------
// Templates of their own, deployed as other stacks into the native suite's LocalStack.

const KEEPER: &str = r#"Transform: AWS::Serverless-2016-10-31
Resources:
  KeptBucket:
    Type: AWS::S3::Bucket
  Queue:
    Type: AWS::SQS::Queue
"#;

fn template_stack(dir: &std::path::Path, name: &str, text: &str) -> Stack {
    let path = dir.join("template.yaml");
    std::fs::write(&path, text).unwrap();
    Stack::load_template(
        &path,
        &LoadOptions {
            stack_name: Some(name.to_owned()),
            ..LoadOptions::default()
        },
    )
    .unwrap()
}

#[tokio::test]
async fn a_bucket_that_holds_objects_is_not_deleted_and_a_deleted_stack_is_not_shown() {
    let kit = native::kit();
    let ls = localstack(kit).await;
    let dir = tempfile::tempdir().unwrap();
    let name = format!("keeper-{}", nonce());
    let stack = template_stack(dir.path(), &name, KEEPER);
    let deployed = stack.deploy(&ls).await.unwrap();
    let bucket = deployed.bucket("KeptBucket").unwrap();
    bucket.put("data.txt", b"keep me".to_vec()).await.unwrap();
    let bucket_name = bucket.name().to_owned();

    // The bucket leaves the template: AWS would fail to delete it (DELETE_FAILED); so does lsk,
    // before changing anything.
    let without = template_stack(
        dir.path(),
        &name,
        &KEEPER.replace("  KeptBucket:\n    Type: AWS::S3::Bucket\n", ""),
    );
    let err = without.deploy(&ls).await.unwrap_err();
    assert!(
        matches!(&err, Error::Sam(e) if matches!(&**e, SamError::BucketNotEmpty { logical_id, .. } if logical_id == "KeptBucket")),
        "{err}"
    );
    assert!(err.to_string().contains("still holds objects"), "{err}");
    let still = stack.observe(&ls).await.unwrap();
    assert_eq!(
        still
            .bucket("KeptBucket")
            .unwrap()
            .get("data.txt")
            .await
            .unwrap(),
        b"keep me"
    );

    // Emptied, it goes.
    kit.deployed()
        .await
        .clients()
        .s3
        .delete_object()
        .bucket(&bucket_name)
        .key("data.txt")
        .send()
        .await
        .unwrap();
    let removed = without.deploy(&ls).await.unwrap();
    assert!(
        removed
            .report()
            .changes
            .iter()
            .any(|c| c.name == "KeptBucket" && c.change == lsk::Change::Removed),
        "{}",
        removed.report()
    );

    // A deleted stack (LocalStack keeps listing it, with its old outputs) is not deployed.
    let cfn = aws_sdk_cloudformation::Client::new(&kit.sdk());
    cfn.delete_stack().stack_name(&name).send().await.unwrap();
    let gone = eventually("the stack deleted", Duration::from_secs(60), || async {
        let seen = without.observe(&ls).await.ok()?;
        seen.view()
            .stack
            .as_deref()
            .is_some_and(|s| s.contains("(not deployed)"))
            .then_some(seen)
    })
    .await
    .unwrap();
    assert!(
        gone.queue("Queue").is_err(),
        "a deleted stack's queue is shown"
    );
}

const UNSUPPORTED: &str = r#"Transform: AWS::Serverless-2016-10-31
Resources:
  Cdn:
    Type: AWS::CloudFront::Distribution
    Properties:
      DistributionConfig:
        Enabled: true
  Queue:
    Type: AWS::SQS::Queue
"#;

#[tokio::test]
async fn resources_the_kit_cannot_run_are_refused_by_logical_id_unless_allowed() {
    let kit = native::kit();
    let ls = localstack(kit).await;
    let dir = tempfile::tempdir().unwrap();
    let name = format!("unsupported-{}", nonce());
    let stack = template_stack(dir.path(), &name, UNSUPPORTED);
    let err = stack.deploy(&ls).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("Cdn (AWS::CloudFront::Distribution)"),
        "the refusal names the logical ID and type: {text}"
    );
    assert!(err.hint().unwrap().contains("--allow-unsupported"));
    assert!(
        stack
            .observe(&ls)
            .await
            .unwrap()
            .view()
            .stack
            .as_deref()
            .unwrap()
            .contains("(not deployed)"),
        "nothing was deployed"
    );

    let allowed = stack
        .deploy_with(
            &ls,
            &DeployOpts {
                allow_unsupported: true,
                ..DeployOpts::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        allowed.view().stand_ins.len(),
        1,
        "{:?}",
        allowed.view().stand_ins
    );
    assert!(allowed.view().stand_ins[0].starts_with("Cdn (AWS::CloudFront::Distribution)"));
    assert!(lsk::output::render_text(allowed.view()).contains("NOT RUN HERE"));
    allowed.queue("Queue").unwrap();
}

/// `lsk export sam` of the examples, checked by AWS's own tools (pinned, installed into
/// `.lsk/sam-cli` on first use) and built by `sam build` with the pinned cargo-lambda: what `sam
/// deploy` would ship. No LocalStack: `tests/tests/examples.rs` runs the same template on the kit.
/// `sam build` builds one function (square): every function takes the same path through SAM's
/// `rust-cargolambda` builder, and all five cost about 10 minutes of release builds on 2 cores.
#[tokio::test]
async fn the_exported_examples_pass_cfn_lint_sam_validate_and_sam_build() {
    let root = lsk_e2e::root();
    let dir = root.join("target/lsk-e2e/export-check");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let template = dir.join("template.yaml");
    let stack = Stack::load(root.join("lsk.toml")).unwrap();
    std::fs::write(&template, stack.export_sam(&template).await.unwrap()).unwrap();

    let progress = lsk::Progress::plain();
    let bin = lsk::sam::tools::ensure_sam_cli(&root, &progress)
        .await
        .unwrap_or_else(|e| panic!("installing the pinned SAM tools failed: {e}"));
    lsk::sam::tools::validate(&template, &bin)
        .await
        .unwrap_or_else(|e| panic!("the exported template is not valid for AWS's tools: {e}"));

    let cargo_lambda = lsk::build::ensure_cargo_lambda(&root, &progress)
        .await
        .unwrap_or_else(|e| panic!("installing the pinned cargo-lambda failed: {e}"));
    let path = lsk::build::lambda_build_path(
        cargo_lambda.parent().unwrap(),
        std::env::var_os("PATH").as_deref(),
    )
    .unwrap();
    let mut build = std::process::Command::new(bin.join("sam"));
    build
        .args(["build", "--beta-features", "SquareFunction"])
        .current_dir(&dir)
        .env("PATH", path)
        .env("SAM_CLI_TELEMETRY", "0");
    for (key, _) in std::env::vars_os() {
        if lsk::build::is_cargo_run_variable(&key.to_string_lossy()) {
            build.env_remove(&key);
        }
    }
    let out = build.output().expect("sam runs");
    assert!(
        out.status.success(),
        "`sam build` of the exported template failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let bootstrap = dir.join(".aws-sam/build/SquareFunction/bootstrap");
    let bytes = std::fs::read(&bootstrap)
        .unwrap_or_else(|e| panic!("`sam build` made no {}: {e}", bootstrap.display()));
    lsk::package::check_executable(&bytes, lsk::manifest::Architecture::X86_64)
        .unwrap_or_else(|what| panic!("{} is {what}", bootstrap.display()));
}

/// Code as `sam build` finds it besides a crate: a workspace with `BuildProperties.Binary`, a
/// directory holding a built `bootstrap`, and a zip, each answering as square does.
#[tokio::test]
async fn code_from_a_workspace_binary_a_prebuilt_bootstrap_and_a_zip_runs() {
    let kit = native::kit();
    let ls = localstack(kit).await;
    let root = lsk_e2e::root();
    let dir = root.join("target/lsk-e2e/sam-code").join(nonce());
    std::fs::create_dir_all(dir.join("prebuilt")).unwrap();
    // square as the kit builds it for this machine, laid out as a user's prebuilt artefacts.
    let built = kit
        .stack
        .build(lsk::BuildTarget::Host, false, &lsk::Progress::silent())
        .await
        .unwrap();
    let square = &built.binaries["SquareFunction"];
    std::fs::copy(square, dir.join("prebuilt/bootstrap")).unwrap();
    let arch = lsk::build::host_architecture().unwrap_or_default();
    let zipped = lsk::package::package_binary(square, arch).unwrap();
    std::fs::write(dir.join("square.zip"), &zipped.zip).unwrap();
    let template = format!(
        r#"Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: provided.al2023
    Handler: bootstrap
Resources:
  FromWorkspaceFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: square
    Properties:
      CodeUri: {}
  PrebuiltFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: prebuilt/
  ZippedFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: square.zip
"#,
        root.display()
    );
    let stack = template_stack(&dir, &format!("code-{}", nonce()), &template);
    let deployed = stack.deploy(&ls).await.unwrap();
    for id in [
        "FromWorkspaceFunction",
        "PrebuiltFunction",
        "ZippedFunction",
    ] {
        let f = deployed.function(id).unwrap();
        assert_eq!(
            f.invoke(&json!({"number": 6})).await.unwrap(),
            json!({"result": 36}),
            "{id}"
        );
    }
    let builds: Vec<String> = ["PrebuiltFunction", "ZippedFunction"]
        .iter()
        .map(|id| {
            deployed
                .function(id)
                .unwrap()
                .view()
                .build
                .clone()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(builds, ["prebuilt bootstrap", "prebuilt zip"]);
}
