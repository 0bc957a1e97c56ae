//! `lsk-init` as LocalStack runs it: a real init binary, a fake LocalStack callback
//! endpoint, and a Python bootstrap speaking the Runtime API.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use common::{FakeLocalStack, Init, TaskRoot, assert_log_frame, localstack_env, wait_gone};
use http::StatusCode;

fn ready_path() -> String {
    FakeLocalStack::status_path("ready")
}

async fn started(timeout_secs: u32) -> (FakeLocalStack, TaskRoot, Init) {
    let ls = FakeLocalStack::start().await;
    let root = TaskRoot::python();
    let init = Init::localstack(&localstack_env(&ls, &root, timeout_secs)).await;
    let ready = ready_path();
    ls.wait_for("status ready", |rs| rs.iter().any(|r| r.path == ready))
        .await;
    (ls, root, init)
}

fn count(ls: &FakeLocalStack, path: &str) -> usize {
    ls.paths().iter().filter(|p| *p == path).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_then_invoke_posts_logs_before_response() {
    let (ls, _root, init) = started(10).await;
    let ready = ls
        .records()
        .into_iter()
        .find(|r| r.path == ready_path())
        .unwrap();
    assert_eq!(ready.method, http::Method::POST);
    assert!(ready.body.is_empty(), "ready has an empty body");

    let before_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let (status, body) = init.invoke("inv-1", r#"{"number": 6}"#).await;
    assert_eq!(status, StatusCode::OK, "{body:?}");
    assert!(body.is_empty());

    let report = ls.wait_result("inv-1").await;
    let logs_at = report.logs_at.expect("logs were posted");
    assert!(
        logs_at < report.result_at,
        "logs must come before the response"
    );
    let response = report.response_json();
    assert_eq!(response["echo"]["number"], 6);
    assert_eq!(
        response["arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:fn-under-test"
    );
    assert_eq!(
        response["trace"],
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    );
    let deadline: i64 = response["deadline_ms"].as_str().unwrap().parse().unwrap();
    assert!(
        (before_ms + 9_900..=before_ms + 15_000).contains(&deadline),
        "deadline {deadline} should be about 10 s after {before_ms}"
    );

    let logs = report.logs();
    // Output written during init shows up with the first invocation.
    assert_log_frame(
        logs,
        "inv-1",
        &["init: bootstrap starting", "handling inv-1 echo"],
    );
    let report_line = logs.lines().last().unwrap();
    assert!(
        report_line.contains("\tMemory Size: 256 MB\t"),
        "{report_line}"
    );
    assert!(
        report_line.contains("\tInit Duration: "),
        "first invoke reports init: {report_line}"
    );
    let used: u64 = report_line
        .split("Max Memory Used: ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .expect("Max Memory Used");
    assert!(used >= 1, "{report_line}");

    let (status, _) = init.invoke("inv-2", r#"{"n": 2}"#).await;
    assert_eq!(status, StatusCode::OK);
    let second = ls.wait_result("inv-2").await;
    assert_eq!(second.response_json()["echo"]["n"], 2);
    let logs = second.logs();
    assert_log_frame(logs, "inv-2", &["handling inv-2 echo"]);
    assert!(
        !logs.contains("init: bootstrap starting"),
        "init output was already sent:\n{logs}"
    );
    assert!(
        !logs.contains("Init Duration"),
        "only the first invoke reports init:\n{logs}"
    );
    assert_eq!(count(&ls, &ready_path()), 1, "ready is posted once");
    assert_eq!(
        init.extra_stdout(),
        "",
        "nothing but the announcement goes to stdout"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_written_before_the_response_is_in_that_invocations_logs() {
    let (ls, _root, init) = started(10).await;
    for round in 0..3 {
        let id = format!("chatty-{round}");
        init.invoke(&id, r#"{"action": "chatty", "lines": 300}"#)
            .await;
        let report = ls.wait_result(&id).await;
        let logs = report.logs();
        let lines = logs
            .lines()
            .filter(|l| l.ends_with("of chatty output"))
            .count();
        assert_eq!(
            lines, 300,
            "round {round}: all output before the response is in its logs:\n{logs}"
        );
        assert_log_frame(
            logs,
            &id,
            &["line 0 of chatty output", "line 299 of chatty output"],
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_error_is_posted_to_error_with_its_type() {
    let (ls, _root, init) = started(10).await;
    init.invoke("bad-1", r#"{"action": "error", "why": "negative"}"#)
        .await;
    let report = ls.wait_result("bad-1").await;
    assert!(report.logs_at.unwrap() < report.result_at);
    let error = report.error_json();
    assert_eq!(error["errorType"], "Handled.Custom");
    assert_eq!(error["errorMessage"], "bad input: negative");
    assert_log_frame(report.logs(), "bad-1", &["handling bad-1 error"]);

    init.invoke("good-1", "{}").await;
    assert!(!ls.wait_result("good-1").await.is_error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_kills_the_bootstrap_and_the_next_invoke_works() {
    let (ls, root, init) = started(1).await;
    init.invoke("slow-1", r#"{"action": "sleep", "seconds": 60}"#)
        .await;
    let report = ls.wait_result("slow-1").await;
    let error = report.error_json();
    assert_eq!(error["errorType"], "Sandbox.Timedout");
    assert_eq!(error["errorMessage"], "Task timed out after 1.00 seconds");
    let logs = report.logs();
    assert_log_frame(
        logs,
        "slow-1",
        &[
            "handling slow-1 sleep",
            "slow-1 Task timed out after 1.00 seconds",
        ],
    );
    let timeout_line = logs.lines().find(|l| l.contains("Task timed out")).unwrap();
    assert!(
        timeout_line.len() > 24 && timeout_line.as_bytes()[4] == b'-' && timeout_line.contains('T'),
        "starts with an RFC 3339 time: {timeout_line}"
    );
    let first_pid = root.bootstrap_pids()[0];
    wait_gone(first_pid, "timed-out bootstrap").await;

    init.invoke("after-timeout", r#"{"n": 1}"#).await;
    let next = ls.wait_result("after-timeout").await;
    let response = next.response_json();
    assert_ne!(
        response["pid"].as_u64().unwrap() as u32,
        first_pid,
        "a fresh bootstrap answered"
    );
    assert_eq!(
        count(&ls, &ready_path()),
        1,
        "a restart does not post ready again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_mid_invoke_is_an_exit_error_and_the_next_invoke_works() {
    let (ls, root, init) = started(10).await;
    init.invoke("crash-1", r#"{"action": "crash"}"#).await;
    let report = ls.wait_result("crash-1").await;
    let error = report.error_json();
    assert_eq!(error["errorType"], "Runtime.ExitError");
    assert_eq!(
        error["errorMessage"],
        "RequestId: crash-1 Error: Runtime exited with error: exit status 101"
    );
    assert_log_frame(
        report.logs(),
        "crash-1",
        &[
            "thread 'main' panicked at src/main.rs:7:5:",
            "boom",
            "Runtime exited with error: exit status 101",
            "Runtime.ExitError",
        ],
    );
    init.invoke("after-crash", "{}").await;
    let next = ls.wait_result("after-crash").await;
    assert!(!next.is_error, "{}", next.result.text());
    assert_eq!(root.bootstrap_pids().len(), 2, "exactly one restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_dying_while_idle_is_replaced_on_the_next_invoke() {
    let (ls, _root, init) = started(10).await;
    init.invoke("idle-1", r#"{"action": "exit-idle"}"#).await;
    let first_pid = ls.wait_result("idle-1").await.response_json()["pid"]
        .as_u64()
        .unwrap() as u32;
    wait_gone(first_pid, "bootstrap exiting while idle").await;

    init.invoke("idle-2", "{}").await;
    let report = ls.wait_result("idle-2").await;
    let response = report.response_json();
    assert_ne!(response["pid"].as_u64().unwrap() as u32, first_pid);
    assert_log_frame(
        report.logs(),
        "idle-2",
        &["init: bootstrap starting", "handling idle-2 echo"],
    );
    assert!(
        report.logs().contains("\tInit Duration: "),
        "the new bootstrap's init is reported"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_invoke_while_busy_is_refused() {
    let (ls, _root, init) = started(10).await;
    init.invoke("long-1", r#"{"action": "sleep", "seconds": 2}"#)
        .await;
    let (status, body) = init.invoke("long-2", "{}").await;
    assert_eq!(status, StatusCode::CONFLICT);
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["errorType"], "ResourceConflictException");
    assert!(error["errorMessage"].as_str().unwrap().contains("long-1"));
    assert!(!ls.wait_result("long-1").await.is_error);
    assert!(
        !ls.paths().iter().any(|p| p.contains("long-2")),
        "refused invoke is not run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_request_is_rejected_without_running_the_function() {
    let (ls, _root, init) = started(10).await;
    let payload = format!("\"{}\"", "a".repeat(6_291_455));
    assert_eq!(payload.len(), 6_291_457);
    let (status, _) = init.invoke("huge-1", &payload).await;
    assert_eq!(status, StatusCode::OK);
    let report = ls.wait_result("huge-1").await;
    let error = report.error_json();
    assert_eq!(error["errorType"], "RequestEntityTooLarge");
    assert!(error["errorMessage"].as_str().unwrap().contains("6291456"));
    assert!(
        !report.logs().contains("handling"),
        "the function did not run"
    );

    // Exactly at the limit is fine.
    let payload = format!("\"{}\"", "b".repeat(6_291_454));
    init.invoke("limit-1", &payload).await;
    let ok = ls.wait_result("limit-1").await;
    assert_eq!(ok.response_json()["echo_len"], 6_291_454);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_response_is_a_size_error_and_the_runtime_carries_on() {
    let (ls, _root, init) = started(10).await;
    init.invoke("big-1", r#"{"action": "big", "size": 6291557}"#)
        .await;
    let report = ls.wait_result("big-1").await;
    let error = report.error_json();
    assert_eq!(error["errorType"], "Function.ResponseSizeTooLarge");
    assert_eq!(
        error["errorMessage"],
        "Response payload size (6291557 bytes) exceeded maximum allowed payload size (6291556 bytes)."
    );
    init.invoke("big-2", r#"{"action": "big", "size": 6291556}"#)
        .await;
    let second = ls.wait_result("big-2").await;
    assert!(!second.is_error, "exactly the limit is accepted");
    assert_eq!(second.result.body.len(), 6_291_556);
    init.invoke("after-big", "{}").await;
    let third = ls.wait_result("after-big").await;
    // The runtime was told 413 for the first one, 202 for the second, and went on.
    let all_logs = [report.logs(), second.logs(), third.logs()].concat();
    let answers: Vec<&str> = all_logs
        .lines()
        .filter(|l| l.starts_with("big response answered"))
        .collect();
    assert_eq!(
        answers,
        ["big response answered 413", "big response answered 202"],
        "{all_logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_exiting_before_next_is_a_status_error() {
    let ls = FakeLocalStack::start().await;
    let root = TaskRoot::python();
    let mut env = localstack_env(&ls, &root, 10);
    env.insert("LSK_TEST_MODE".into(), "exit-before-next".into());
    let mut init = Init::localstack(&env).await;
    let error = status_error(&ls).await;
    assert_eq!(error["errorType"], "Runtime.ExitError");
    let message = error["errorMessage"].as_str().unwrap();
    assert!(message.contains("exit status 3"), "{message}");
    assert!(
        message.contains("missing config XYZ"),
        "quotes the last output: {message}"
    );
    assert_eq!(init.wait_exit("the init failure").await, Some(1));
    assert!(!ls.paths().contains(&ready_path()), "never ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_posting_init_error_is_a_status_error() {
    let ls = FakeLocalStack::start().await;
    let root = TaskRoot::python();
    let mut env = localstack_env(&ls, &root, 10);
    env.insert("LSK_TEST_MODE".into(), "init-error".into());
    let mut init = Init::localstack(&env).await;
    let error = status_error(&ls).await;
    assert_eq!(error["errorType"], "Runtime.ConfigError");
    assert_eq!(error["errorMessage"], "cannot load settings");
    assert_eq!(init.wait_exit("the init error").await, Some(1));
    for pid in root.bootstrap_pids() {
        wait_gone(pid, "bootstrap that reported an init error").await;
    }
    assert_eq!(
        ls.paths()
            .iter()
            .filter(|p| **p == FakeLocalStack::status_path("error"))
            .count(),
        1,
        "the error is reported once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_bootstrap_is_an_invalid_entrypoint_status_error() {
    let ls = FakeLocalStack::start().await;
    let root = TaskRoot::empty();
    let mut init = Init::localstack(&localstack_env(&ls, &root, 10)).await;
    let error = status_error(&ls).await;
    assert_eq!(error["errorType"], "Runtime.InvalidEntrypoint");
    let message = error["errorMessage"].as_str().unwrap();
    assert!(
        message.contains("bootstrap") && message.contains(root.path().to_str().unwrap()),
        "{message}"
    );
    assert_eq!(init.wait_exit("the missing bootstrap").await, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_sees_only_localstacks_environment() {
    let (ls, root, init) = started(10).await;
    init.invoke("env-1", r#"{"action": "env"}"#).await;
    let response = ls.wait_result("env-1").await.response_json();
    let env = response["env"].as_object().unwrap();
    let get = |k: &str| env.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    assert_eq!(get("AWS_ACCESS_KEY_ID").as_deref(), Some("ls-access-key"));
    assert_eq!(get("AWS_SECRET_ACCESS_KEY").as_deref(), Some("ls-secret"));
    assert_eq!(get("AWS_SESSION_TOKEN").as_deref(), Some("ls-token"));
    assert_eq!(get("MY_FUNCTION_VAR").as_deref(), Some("hello"));
    assert_eq!(get("LAMBDA_TASK_ROOT").as_deref(), root.path().to_str());
    assert_eq!(
        response["cwd"].as_str(),
        root.path().to_str(),
        "cwd is the task root"
    );
    let api = get("AWS_LAMBDA_RUNTIME_API").expect("AWS_LAMBDA_RUNTIME_API");
    assert!(
        api.starts_with("127.0.0.1:") && api != init.addr.to_string(),
        "{api}"
    );
    let tmp = get("TMPDIR").expect("TMPDIR");
    assert!(std::path::Path::new(&tmp).is_dir(), "TMPDIR {tmp} exists");
    assert_ne!(tmp, "/tmp");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&tmp).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o700, "TMPDIR is private");
    for hidden in [
        "LOCALSTACK_RUNTIME_ENDPOINT",
        "LOCALSTACK_RUNTIME_ID",
        "LSK_INIT_LOG",
    ] {
        assert!(
            get(hidden).is_none(),
            "{hidden} must not reach the function"
        );
    }
    // Nothing from the test process's own environment (which cargo fills with CARGO_*,
    // HOME and so on) reaches the function: only what LocalStack passed, plus the
    // variables the init sets and those AWS sets for provided.al2023.
    let expected: std::collections::BTreeSet<String> = localstack_env(&ls, &root, 10)
        .into_keys()
        .filter(|k| !k.starts_with("LOCALSTACK_") && !k.starts_with("LSK_INIT_"))
        .chain(
            [
                "AWS_LAMBDA_RUNTIME_API",
                "TMPDIR",
                "LANG",
                "LD_LIBRARY_PATH",
            ]
            .map(String::from),
        )
        .collect();
    assert_eq!(get("LANG").as_deref(), Some("en_US.UTF-8"));
    // Python itself may add LC_CTYPE when coercing the C locale.
    let actual: std::collections::BTreeSet<String> =
        env.keys().filter(|k| *k != "LC_CTYPE").cloned().collect();
    assert_eq!(actual, expected);
    // Own process group, so a kill takes its children too.
    assert_eq!(response["pgid"], response["pid"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdin_eof_stops_the_init_and_its_bootstrap() {
    let (ls, root, mut init) = started(10).await;
    init.invoke("env-2", r#"{"action": "env"}"#).await;
    let response = ls.wait_result("env-2").await.response_json();
    let tmp = response["env"]["TMPDIR"].as_str().unwrap().to_owned();
    let pid = root.bootstrap_pids()[0];
    assert!(!common::process_gone(pid));

    drop(init.stdin.take());
    assert_eq!(init.wait_exit("stdin closed").await, Some(0));
    wait_gone(pid, "bootstrap after stdin EOF").await;
    assert!(
        !std::path::Path::new(&tmp).exists(),
        "the temp dir {tmp} is removed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_init_outright_still_kills_the_bootstrap() {
    let (ls, root, mut init) = started(10).await;
    init.invoke("env-4", r#"{"action": "env"}"#).await;
    let response = ls.wait_result("env-4").await.response_json();
    let tmp = response["env"]["TMPDIR"].as_str().unwrap().to_owned();
    let pid = root.bootstrap_pids()[0];
    init.child.start_kill().unwrap();
    init.wait_exit("SIGKILL").await;
    wait_gone(pid, "bootstrap after its init was SIGKILLed").await;
    // A SIGKILLed init cannot clean up after itself; do it for it.
    std::fs::remove_dir_all(&tmp).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runtime_api_rejects_wrong_ids_and_paths_with_json() {
    let (ls, _root, init) = started(10).await;
    init.invoke("env-3", r#"{"action": "env"}"#).await;
    let response = ls.wait_result("env-3").await.response_json();
    let api: std::net::SocketAddr = response["env"]["AWS_LAMBDA_RUNTIME_API"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    let (status, _, body) = common::post(
        api,
        "/2018-06-01/runtime/invocation/nope/response",
        bytes::Bytes::from_static(b"{}"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["errorType"], "InvalidRequestID");

    let (status, _, _) =
        common::post(api, "/2018-06-01/runtime/init/error", bytes::Bytes::new()).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "init error after the first /next"
    );

    let (status, _, body) =
        common::post(api, "/2018-06-01/runtime/nothing", bytes::Bytes::new()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());

    let (status, _, _) = common::request(
        api,
        http::Method::POST,
        "/2018-06-01/runtime/invocation/next",
        bytes::Bytes::new(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

    let (status, _, _) =
        common::request(init.addr, http::Method::GET, "/health", bytes::Bytes::new()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) =
        common::post(init.addr, "/invoke", bytes::Bytes::from_static(b"not json")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&body).contains("invoke-id"));

    // Still healthy afterwards.
    init.invoke("after-noise", "{}").await;
    assert!(!ls.wait_result("after-noise").await.is_error);
}

/// Waits for the init's `status/<id>/error` callback and returns its JSON body.
async fn status_error(ls: &FakeLocalStack) -> serde_json::Value {
    let error_path = FakeLocalStack::status_path("error");
    let records = ls
        .wait_for("status error", |rs| rs.iter().any(|r| r.path == error_path))
        .await;
    records
        .iter()
        .find(|r| r.path == error_path)
        .expect("wait_for returned with the record")
        .json()
}
