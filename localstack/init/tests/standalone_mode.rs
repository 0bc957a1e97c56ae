//! `lsk-init --standalone`: the RIE-compatible invoke endpoint, started from a
//! developer's shell (so it inherits their environment, secrets included).

mod common;

use std::time::Instant;

use bytes::Bytes;
use common::{Init, TaskRoot, WAIT, post, wait_gone};
use http::StatusCode;
use serde_json::Value;

const INVOKE: &str = "/2015-03-31/functions/function/invocations";

async fn invoke(init: &Init, payload: &str) -> (StatusCode, Option<String>, Value) {
    let (status, headers, body) = post(init.addr, INVOKE, Bytes::from(payload.to_owned())).await;
    let function_error = headers
        .get("x-amz-function-error")
        .map(|v| v.to_str().unwrap().to_owned());
    let json = serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "answer is not JSON ({e}): {}",
            String::from_utf8_lossy(&body)
        )
    });
    (status, function_error, json)
}

/// Waits (bounded) until lsk-init's stderr contains `needle`.
async fn wait_stderr(init: &Init, needle: &str) -> String {
    let start = Instant::now();
    loop {
        let stderr = init.stderr();
        if stderr.contains(needle) {
            return stderr;
        }
        assert!(
            start.elapsed() < WAIT,
            "{needle:?} never appeared on stderr:\n{stderr}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_round_trip_errors_and_a_clean_environment() {
    let root = TaskRoot::python();
    let mut init = Init::standalone(
        &root,
        &[
            "--timeout",
            "2",
            "--memory",
            "512",
            "--function-name",
            "square",
            "-e",
            "GREETING=hi",
        ],
        &[("AWS_SECRET_ACCESS_KEY", "host-secret"), ("HOST_ONLY", "1")],
    )
    .await;

    let (status, function_error, body) = invoke(&init, r#"{"number": 6}"#).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(function_error, None);
    assert_eq!(body["echo"]["number"], 6);
    assert_eq!(
        body["arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:square"
    );

    let (status, function_error, body) =
        invoke(&init, r#"{"action": "error", "why": "odd"}"#).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(function_error.as_deref(), Some("Unhandled"));
    assert_eq!(body["errorType"], "Handled.Custom");
    assert_eq!(body["errorMessage"], "bad input: odd");

    let (_, _, body) = invoke(&init, r#"{"action": "env"}"#).await;
    let env = body["env"].as_object().unwrap();
    let get = |k: &str| env.get(k).and_then(|v| v.as_str());
    assert_eq!(
        get("AWS_SECRET_ACCESS_KEY"),
        Some("test"),
        "never the developer's credentials"
    );
    assert_eq!(get("AWS_ACCESS_KEY_ID"), Some("test"));
    assert_eq!(get("HOST_ONLY"), None, "host variables stay out");
    assert_eq!(get("HOME"), None);
    assert_eq!(get("AWS_REGION"), Some("us-east-1"));
    assert_eq!(get("AWS_LAMBDA_FUNCTION_NAME"), Some("square"));
    assert_eq!(get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), Some("512"));
    assert_eq!(get("GREETING"), Some("hi"));
    let tmp = get("TMPDIR").unwrap().to_owned();

    let stderr = wait_stderr(&init, "REPORT RequestId: ").await;
    assert!(stderr.contains("START RequestId: "), "{stderr}");
    assert!(stderr.contains("init: bootstrap starting"), "{stderr}");
    assert!(stderr.contains("\tMemory Size: 512 MB\t"), "{stderr}");
    assert_eq!(
        init.extra_stdout(),
        "",
        "function output never goes to stdout"
    );

    // Timeout, then crash: each an error with the header, each followed by a working invoke.
    let (status, function_error, body) =
        invoke(&init, r#"{"action": "sleep", "seconds": 60}"#).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(function_error.as_deref(), Some("Unhandled"));
    assert_eq!(body["errorType"], "Sandbox.Timedout");
    assert_eq!(body["errorMessage"], "Task timed out after 2.00 seconds");
    let (_, function_error, body) = invoke(&init, r#"{"action": "crash"}"#).await;
    assert_eq!(function_error.as_deref(), Some("Unhandled"));
    assert_eq!(body["errorType"], "Runtime.ExitError");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .ends_with("exit status 101")
    );
    let (_, function_error, body) = invoke(&init, "{}").await;
    assert_eq!(function_error, None, "{body}");
    wait_stderr(&init, "thread 'main' panicked").await;

    // SIGTERM: exit 0, bootstrap gone, temp dir gone.
    let pids = root.bootstrap_pids();
    assert_eq!(
        pids.len(),
        3,
        "two restarts: after the timeout and after the crash"
    );
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(init.pid() as i32).unwrap(),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    assert_eq!(init.wait_exit("SIGTERM").await, Some(0));
    for pid in pids {
        wait_gone(pid, "bootstrap after SIGTERM").await;
    }
    assert!(
        !std::path::Path::new(&tmp).exists(),
        "temp dir {tmp} removed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_rejects_oversize_requests_and_concurrent_invokes() {
    let root = TaskRoot::python();
    let init = Init::standalone(&root, &["--timeout", "10"], &[]).await;
    let (status, _, body) = post(init.addr, INVOKE, Bytes::from(vec![b' '; 6_291_457])).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let error: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["errorType"], "RequestEntityTooLarge");

    let addr = init.addr;
    let slow = tokio::spawn(async move {
        post(
            addr,
            INVOKE,
            Bytes::from_static(br#"{"action": "sleep", "seconds": 2}"#),
        )
        .await
    });
    wait_running(&root).await;
    let (status, _, body) = post(init.addr, INVOKE, Bytes::from_static(b"{}")).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "{}",
        String::from_utf8_lossy(&body)
    );
    let (status, headers, _) = slow.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert!(headers.get("x-amz-function-error").is_none());
    let (status, _, _) = post(
        init.addr,
        "/2015-03-31/functions/function/other",
        Bytes::new(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Waits (bounded) until the bootstrap is inside a `sleep` invocation.
async fn wait_running(root: &TaskRoot) {
    let start = Instant::now();
    loop {
        let running = std::fs::read_dir(root.path())
            .unwrap()
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with("running-"));
        if running {
            return;
        }
        assert!(start.elapsed() < WAIT, "the slow invocation never started");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standalone_with_a_non_executable_bootstrap_fails_clearly() {
    let root = TaskRoot::python();
    let path = root.path().join("bootstrap");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let mut init = Init::standalone(&root, &[], &[]).await;
    assert_eq!(init.wait_exit("a bad bootstrap").await, Some(1));
    let stderr = init.stderr();
    assert!(
        stderr.contains("not executable") && stderr.contains("chmod +x"),
        "{stderr}"
    );
}
