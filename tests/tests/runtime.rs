//! The native runtime: stock LocalStack running a Rust `bootstrap` as a host process through
//! our `process` executor and `lsk-init`, with no Docker. Driven with the `probe` test function,
//! whose behaviour (sleep, panic, exit, report its pid or environment) is chosen per invoke.

use std::collections::BTreeSet;
use std::time::Duration;

use lsk::{BackendChoice, InvokeMode};
use lsk_e2e::{Kit, Spec, eventually, log_text, nonce, probe_log, seen};
use serde_json::{Value, json};

const MANIFEST: &str = r#"
[functions.probe]
package = "probe"
timeout = 1
url = { auth = "NONE" }

[[functions.probe.sqs]]
queue = "probe-events"
batch_size = 10
report_batch_item_failures = true

[functions.probe-slow]
package = "probe"
timeout = 5

[functions.probe-broken]
package = "probe"
environment = { PROBE_FAIL_INIT = "1" }

[queues.probe-events]
visibility_timeout = 2
dead_letter = { queue = "probe-events-dlq", max_receive_count = 2 }

[queues.probe-events-dlq]
"#;

fn spec(backend: BackendChoice) -> Spec {
    let name = match backend {
        BackendChoice::Docker => "runtime-docker",
        _ => "runtime",
    };
    Spec::inline(name, MANIFEST, backend)
}

lsk_e2e::backend_suite!(
    spec;
    sync_invoke_returns_the_functions_answer,
    sync_invoke_with_log_tail_returns_that_invocations_logs,
    async_invoke_runs_the_function,
    function_url_answers_curl_at_the_offline_host,
    function_url_bodies_reach_the_function_as_sent_whatever_the_type,
    the_function_sees_an_aws_like_filesystem_and_environment,
    sqs_messages_trigger_the_function_and_failures_reach_the_dlq,
    cloudwatch_logs_have_start_end_report_and_the_functions_own_line,
    a_timeout_is_reported_and_the_next_invoke_succeeds,
    a_panic_or_exit_is_an_error_and_the_next_invoke_succeeds,
    a_bootstrap_that_fails_during_init_gives_an_error_not_a_hang,
    ten_concurrent_invokes_run_in_several_environments,
    payloads_over_six_mb_are_refused_clearly,
    no_socket_of_localstack_or_its_inits_listens_beyond_loopback,
    a_non_custom_runtime_fails_creation_naming_the_docker_backend,
);

async fn sync_invoke_returns_the_functions_answer(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let probe = deployed.function("probe").unwrap();
    let answer = probe
        .invoke(&json!({"action": "echo", "n": 42}))
        .await
        .unwrap();
    assert_eq!(answer, json!({"echo": {"action": "echo", "n": 42}}));
}

async fn sync_invoke_with_log_tail_returns_that_invocations_logs(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let probe = deployed.function("probe").unwrap();
    let line = format!("tail line {}", nonce());
    let inv = probe_log(&probe, &line, InvokeMode::Sync).await;
    assert_eq!(inv.status, 200, "{}", inv.payload);
    let tail = inv.log_tail.clone().unwrap_or_default();
    assert!(
        tail.contains(&line) && tail.contains("END RequestId: ") && tail.contains("REPORT"),
        "`--log-type Tail` shows the function's line and END/REPORT:\n{tail}"
    );
}

async fn async_invoke_runs_the_function(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let probe = deployed.function("probe").unwrap();
    let line = format!("async line {}", nonce());
    let inv = probe_log(&probe, &line, InvokeMode::Async).await;
    assert_eq!(inv.status, 202, "an async Invoke is accepted with 202");
    let seen_in_logs = eventually(
        "the async invocation's line in CloudWatch Logs",
        Duration::from_secs(30),
        || async {
            log_text(&deployed, "probe")
                .await
                .contains(&line)
                .then_some(())
        },
    )
    .await;
    assert!(seen_in_logs.is_ok(), "{seen_in_logs:?}");
}

async fn function_url_answers_curl_at_the_offline_host(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let probe = deployed.function("probe").unwrap();
    let url = probe.url().expect("probe has a function URL").to_owned();
    assert!(
        url.contains(".lambda-url.us-east-1.localhost:"),
        "the URL tests and users call needs no DNS: {url}"
    );
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "-w",
            "\n%{http_code}",
            "-X",
            "POST",
            &url,
            "-H",
            "content-type: application/json",
        ])
        .args(["-d", r#"{"action": "pid"}"#])
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or((&text, ""));
    assert_eq!(status, "200", "curl -X POST {url} gave {text}");
    let answer: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert!(
        answer["pid"].as_u64().is_some(),
        "curl -X POST {url} gave {body}"
    );

    let bad = probe
        .call_url("POST", "/", Some(b"nope".to_vec()), None)
        .await
        .unwrap();
    assert_eq!(bad.status, 400, "{}", seen("POST", &url, &bad));
}

/// What AWS's provided.al2023 gives a function, where the machine allows a mount namespace
/// (`lsk status` says which): code at /var/task (read-only), its own /tmp, bash as /bin/sh,
/// LANG/TZ/PATH as AWS sets them and no TMPDIR. Elsewhere: host paths, said in status and logs.
async fn the_function_sees_an_aws_like_filesystem_and_environment(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let info = lsk::backend::external::kit_info(deployed.endpoint())
        .await
        .expect("our LocalStack answers GET /_lsk/info");
    let status = lsk::output::render_text(deployed.view());
    let fs_line = info
        .function_fs_line()
        .expect("the info names the filesystem view");
    assert!(
        status.contains(&format!("functions run with {fs_line}")),
        "lsk status must say how functions see the filesystem:\n{status}"
    );
    let probe = deployed.function("probe").unwrap();
    let seen = probe.invoke(&json!({"action": "fs"})).await.unwrap();
    assert_eq!(seen["lang"], "en_US.UTF-8", "{seen}");
    assert_eq!(seen["tz"], ":UTC", "{seen}");
    assert_eq!(seen["lambda_runtime_dir"], "/var/runtime", "{seen}");
    assert_eq!(
        seen["path"], "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
        "{seen}"
    );
    assert_eq!(seen["tmp_writable"], true, "{seen}");
    if info.function_fs.as_deref() != Some("namespaced") {
        assert!(
            seen["tmpdir"].is_string(),
            "host paths come with a TMPDIR: {seen}"
        );
        assert_ne!(seen["lambda_task_root"], "/var/task", "{seen}");
        return;
    }
    assert_eq!(seen["lambda_task_root"], "/var/task", "{seen}");
    assert_eq!(seen["cwd"], "/var/task", "{seen}");
    assert_eq!(seen["tmpdir"], Value::Null, "AWS sets no TMPDIR: {seen}");
    assert_eq!(
        seen["code_writable"], false,
        "/var/task is read-only: {seen}"
    );
    assert_eq!(seen["sh_pipefail"], true, "/bin/sh is bash: {seen}");
    let marker = seen["marker"].as_str().unwrap();
    let others: Vec<&str> = seen["tmp_entries_before"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .filter(|e| *e != marker)
        .collect();
    assert!(
        others.iter().all(|e| e.starts_with("probe-")) && others.len() <= 1,
        "/tmp is this environment's own (at most an earlier probe run of it): {others:?}"
    );
}

/// The probe's URL path that answers with the event it received (`probe::EVENT_ECHO_PATH`).
const EVENT_ECHO_PATH: &str = "/event";

/// AWS hands a function URL's body to the function as sent: as text for text types, base64 for
/// everything else (forms and no type included), on every method.
async fn function_url_bodies_reach_the_function_as_sent_whatever_the_type(kit: &'static Kit) {
    use base64::Engine as _;
    let deployed = kit.deployed().await;
    let probe = deployed.function("probe").unwrap();
    let url = format!(
        "{}{}",
        probe.url().unwrap().trim_end_matches('/'),
        EVENT_ECHO_PATH
    );
    let binary: Vec<u8> = (0..=255u8).collect();
    let cases: [(&str, Option<&str>, &[u8], bool); 7] = [
        ("POST", Some("application/json"), br#"{"n": 1}"#, false),
        ("POST", Some("text/plain"), b"plain words", false),
        (
            "POST",
            Some("application/x-www-form-urlencoded"),
            br#"{"n": 2}"#,
            true,
        ),
        (
            "POST",
            Some("application/x-www-form-urlencoded"),
            b"a=1&b=two+words",
            true,
        ),
        (
            "PUT",
            Some("application/x-www-form-urlencoded"),
            b"a=3",
            true,
        ),
        ("POST", Some("application/octet-stream"), &binary, true),
        ("PATCH", None, b"untyped", true),
    ];
    for (method, content_type, sent, base64) in cases {
        let reply = probe
            .call_url(method, EVENT_ECHO_PATH, Some(sent.to_vec()), content_type)
            .await
            .unwrap();
        let what = format!(
            "{} (content type {content_type:?}, {} bytes)",
            seen(method, &url, &reply),
            sent.len()
        );
        assert_eq!(reply.status, 200, "{what}");
        let event: Value = reply.json().unwrap();
        assert_eq!(event["isBase64Encoded"], base64, "{what}");
        let body = event["body"]
            .as_str()
            .unwrap_or_else(|| panic!("no body: {what}"));
        let got = if base64 {
            base64::engine::general_purpose::STANDARD
                .decode(body)
                .unwrap_or_else(|e| panic!("{e}: {what}"))
        } else {
            body.as_bytes().to_vec()
        };
        assert_eq!(
            got, sent,
            "the function got other bytes than were sent: {what}"
        );
    }

    let reply = probe
        .call_url("GET", EVENT_ECHO_PATH, None, None)
        .await
        .unwrap();
    let event: Value = reply.json().unwrap();
    assert!(event.get("body").is_none(), "a GET without a body: {event}");
}

async fn sqs_messages_trigger_the_function_and_failures_reach_the_dlq(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let queue = deployed.queue("probe-events").unwrap();
    let dlq = deployed.queue("probe-events-dlq").unwrap();
    let run = nonce();
    let good = format!("hello {run}");
    let bad = format!("poison {run}");
    queue.send(&good).await.unwrap();
    queue.send(&bad).await.unwrap();

    let processed = eventually(
        "`probe processed hello ...` in the logs",
        Duration::from_secs(60),
        || async {
            log_text(&deployed, "probe")
                .await
                .contains(&format!("probe processed {good}"))
                .then_some(())
        },
    )
    .await;
    assert!(processed.is_ok(), "{processed:?}");
    let dead = eventually(
        "the poison message in probe-events-dlq",
        Duration::from_secs(60),
        || async {
            let bodies = dlq.receive(10, Duration::from_secs(1)).await.ok()?;
            bodies.contains(&bad).then_some(bodies)
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !dead.contains(&good),
        "a processed message must not be dead-lettered: {dead:?}"
    );
}

async fn cloudwatch_logs_have_start_end_report_and_the_functions_own_line(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let probe = deployed.function("probe").unwrap();
    let line = format!("hello from probe {}", nonce());
    probe
        .invoke(&json!({"action": "log", "line": line}))
        .await
        .unwrap();
    let text = eventually(
        "the invocation's log lines",
        Duration::from_secs(30),
        || async {
            let text = log_text(&deployed, "probe").await;
            text.contains(&line).then_some(text)
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let at = text.find(&line).unwrap();
    let before = &text[..at];
    let after = &text[at..];
    let start = before
        .rfind("START RequestId: ")
        .expect("START before the function's line");
    let request_id: String = before[start + 17..].chars().take(36).collect();
    assert!(
        after.contains(&format!("END RequestId: {request_id}")),
        "END after: {after}"
    );
    let report = after
        .find(&format!("REPORT RequestId: {request_id}"))
        .unwrap_or_else(|| panic!("REPORT after: {after}"));
    let report_line = after[report..].lines().next().unwrap();
    for field in [
        "Duration:",
        "Billed Duration:",
        "Memory Size: 128 MB",
        "Max Memory Used:",
    ] {
        assert!(report_line.contains(field), "{field} in {report_line}");
    }
}

async fn a_timeout_is_reported_and_the_next_invoke_succeeds(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let probe = deployed.function("probe").unwrap();
    let inv = probe
        .invoke_raw(br#"{"action": "sleep", "ms": 2500}"#, InvokeMode::Sync)
        .await
        .unwrap();
    let failure = inv
        .failure()
        .unwrap_or_else(|| panic!("sleeping past the 1 s timeout succeeded: {}", inv.payload));
    assert_eq!(failure.error_type, "Sandbox.Timedout", "{}", inv.payload);
    assert!(
        failure
            .message
            .contains("Task timed out after 1.00 seconds"),
        "{}",
        inv.payload
    );
    let next = probe.invoke(&json!({"action": "pid"})).await;
    assert!(next.is_ok(), "the invoke after a timeout failed: {next:?}");
}

async fn a_panic_or_exit_is_an_error_and_the_next_invoke_succeeds(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let probe = deployed.function("probe-slow").unwrap();
    let inv = probe
        .invoke_raw(br#"{"action": "panic"}"#, InvokeMode::Sync)
        .await
        .unwrap();
    let failure = inv
        .failure()
        .unwrap_or_else(|| panic!("a panic succeeded: {}", inv.payload));
    assert!(
        !failure.error_type.is_empty(),
        "errorType is set: {}",
        inv.payload
    );
    assert!(
        failure.message.contains("probe panicked on purpose"),
        "{}",
        inv.payload
    );
    assert!(probe.invoke(&json!({"action": "pid"})).await.is_ok());

    let inv = probe
        .invoke_raw(br#"{"action": "exit", "code": 3}"#, InvokeMode::Sync)
        .await
        .unwrap();
    let failure = inv
        .failure()
        .unwrap_or_else(|| panic!("exit(3) succeeded: {}", inv.payload));
    assert_eq!(failure.error_type, "Runtime.ExitError", "{}", inv.payload);
    assert!(failure.message.contains("exit status 3"), "{}", inv.payload);
    let next = probe.invoke(&json!({"action": "pid"})).await;
    assert!(next.is_ok(), "the invoke after a crash failed: {next:?}");
}

async fn a_bootstrap_that_fails_during_init_gives_an_error_not_a_hang(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let broken = deployed.function("probe-broken").unwrap();
    let inv = tokio::time::timeout(
        Duration::from_secs(60),
        broken.invoke_raw(br#"{"action": "pid"}"#, InvokeMode::Sync),
    )
    .await
    .expect("an init failure must answer, not hang");
    match inv {
        Ok(inv) => assert!(
            inv.function_error.is_some(),
            "init failure reported as success: {}",
            inv.payload
        ),
        // LocalStack may answer with a service error instead of a function error.
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

async fn ten_concurrent_invokes_run_in_several_environments(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let probe = deployed.function("probe-slow").unwrap();
    let sleep = json!({"action": "sleep", "ms": 1000});
    let calls = (0..10).map(|_| probe.invoke(&sleep));
    let answers = futures::future::join_all(calls).await;
    let mut pids = BTreeSet::new();
    for a in answers {
        let a = a.unwrap_or_else(|e| panic!("a concurrent invoke failed: {e}"));
        assert_eq!(a["slept_ms"], 1000, "{a}");
        pids.insert(a["pid"].as_u64().unwrap());
    }
    assert!(
        pids.len() > 1,
        "10 concurrent 1 s invokes all ran in one process: {pids:?}"
    );
}

async fn payloads_over_six_mb_are_refused_clearly(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let probe = deployed.function("probe-slow").unwrap();
    let inv = probe
        .invoke_raw(br#"{"action": "big", "bytes": 7000000}"#, InvokeMode::Sync)
        .await
        .unwrap();
    let failure = inv
        .failure()
        .unwrap_or_else(|| panic!("a 7 MB response was accepted"));
    assert_eq!(
        failure.error_type, "Function.ResponseSizeTooLarge",
        "{}",
        inv.payload
    );

    let big_request = format!(
        r#"{{"action": "echo", "pad": "{}"}}"#,
        "x".repeat(6_400_000)
    );
    match probe
        .invoke_raw(big_request.as_bytes(), InvokeMode::Sync)
        .await
    {
        Ok(inv) => assert!(
            inv.function_error.is_some(),
            "a 6.4 MB request was run: {}",
            &inv.payload[..100.min(inv.payload.len())]
        ),
        Err(e) => assert!(
            e.to_string().contains("RequestEntityTooLarge")
                || e.to_string().contains("too large")
                || e.to_string().contains("413"),
            "{e}"
        ),
    }
    assert!(probe.invoke(&json!({"action": "pid"})).await.is_ok());
}

async fn no_socket_of_localstack_or_its_inits_listens_beyond_loopback(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    deployed
        .function("probe")
        .unwrap()
        .invoke(&json!({"action": "pid"}))
        .await
        .unwrap();
    if let Some(container) = kit.container.as_deref() {
        // On the host's network its own listeners; on Docker's bridge its published port.
        let addresses = lsk::backend::docker::listening_addresses(container)
            .await
            .unwrap_or_else(|e| panic!("reading where {container} listens: {e}"));
        assert!(
            !addresses.is_empty(),
            "container {container} listens nowhere"
        );
        let exposed: Vec<&String> = addresses
            .iter()
            .filter(|a| !a.starts_with("127.0.0.1:") && !a.starts_with("[::1]:"))
            .collect();
        assert!(
            exposed.is_empty(),
            "container {container} is reachable beyond loopback: {exposed:?} (all: {addresses:?})"
        );
        return;
    }
    let pid = kit.pid.expect("native LocalStack pid");
    let mut all = vec![(pid, "localstack".to_string())];
    all.extend(lsk::backend::native::descendants(pid));
    let mut listening = Vec::new();
    for (p, cmd) in &all {
        for addr in lsk::backend::native::listening_sockets(*p) {
            listening.push(format!("{addr} ({p} {cmd})"));
        }
    }
    assert!(
        listening.iter().any(|l| l.contains("lsk-init")),
        "expected init listeners: {listening:?}"
    );
    let exposed: Vec<&String> = listening
        .iter()
        .filter(|l| !l.starts_with("127.0.0.1:") && !l.starts_with("[::1]:"))
        .collect();
    assert!(
        exposed.is_empty(),
        "listening beyond loopback: {exposed:?} (all: {listening:?})"
    );
}

async fn a_non_custom_runtime_fails_creation_naming_the_docker_backend(kit: &'static Kit) {
    let lambda = aws_sdk_lambda::Client::new(&kit.sdk());
    let name = format!("py-{}", nonce());
    let zip = lsk::package::zip_bootstrap(b"print('hi')").unwrap();
    lambda
        .create_function()
        .function_name(&name)
        .runtime(aws_sdk_lambda::types::Runtime::Python312)
        .handler("index.handler")
        .role("arn:aws:iam::000000000000:role/lambda-role")
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(zip.zip.clone()))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let reason = eventually(
        "the python function to settle",
        Duration::from_secs(30),
        || async {
            let c = lambda
                .get_function_configuration()
                .function_name(&name)
                .send()
                .await
                .ok()?;
            match c.state() {
                Some(aws_sdk_lambda::types::State::Pending) | None => None,
                state => Some((
                    state.cloned(),
                    c.state_reason().unwrap_or_default().to_owned(),
                )),
            }
        },
    )
    .await
    .unwrap();
    let _ = lambda.delete_function().function_name(&name).send().await;
    assert_eq!(
        reason.0,
        Some(aws_sdk_lambda::types::State::Failed),
        "{reason:?}"
    );
    assert!(reason.1.contains("only custom runtimes"), "{}", reason.1);
    assert!(reason.1.contains("docker"), "{}", reason.1);
}
