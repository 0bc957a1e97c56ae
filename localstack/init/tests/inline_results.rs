//! `lsk-init` answering LocalStack's `/invoke` with the result itself (`x-lsk-result: inline`,
//! what our executor asks for): the same outcomes as the callback protocol, in the answer,
//! and no invocation callback at all.

mod common;

use std::time::Duration;

use common::{FakeLocalStack, Init, TaskRoot, assert_log_frame, localstack_env};
use http::StatusCode;

async fn started(timeout_secs: u32) -> (FakeLocalStack, TaskRoot, Init) {
    let ls = FakeLocalStack::start().await;
    let root = TaskRoot::python();
    let init = Init::localstack(&localstack_env(&ls, &root, timeout_secs)).await;
    let ready = FakeLocalStack::status_path("ready");
    ls.wait_for("status ready", |rs| rs.iter().any(|r| r.path == ready))
        .await;
    (ls, root, init)
}

fn invocation_callbacks(ls: &FakeLocalStack) -> Vec<String> {
    ls.paths()
        .into_iter()
        .filter(|p| p.contains("/invocations/"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_and_logs_come_back_in_the_answer() {
    let (ls, _root, init) = started(10).await;
    let first = init.invoke_inline("in-1", r#"{"number": 6}"#).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    assert_eq!(first.outcome.as_deref(), Some("response"));
    let response = first.json();
    assert_eq!(response["echo"]["number"], 6);
    assert_eq!(
        response["arn"],
        "arn:aws:lambda:us-east-1:000000000000:function:fn-under-test"
    );
    assert_log_frame(
        &first.logs,
        "in-1",
        &["init: bootstrap starting", "handling in-1 echo"],
    );
    assert!(first.logs.contains("\tInit Duration: "), "{}", first.logs);

    let second = init.invoke_inline("in-2", r#"{"n": 2}"#).await;
    assert_eq!(second.outcome.as_deref(), Some("response"));
    assert_eq!(second.json()["echo"]["n"], 2);
    assert_log_frame(&second.logs, "in-2", &["handling in-2 echo"]);
    assert!(!second.logs.contains("init: bootstrap starting"));

    assert_eq!(
        invocation_callbacks(&ls),
        Vec::<String>::new(),
        "inline results post no logs/response/error callbacks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_timeouts_and_crashes_are_inline_errors_and_the_next_invoke_works() {
    let (ls, _root, init) = started(1).await;

    let handled = init
        .invoke_inline("bad-1", r#"{"action": "error", "why": "negative"}"#)
        .await;
    assert_eq!(handled.outcome.as_deref(), Some("error"));
    assert_eq!(handled.json()["errorType"], "Handled.Custom");
    assert_eq!(handled.json()["errorMessage"], "bad input: negative");

    let slow = init
        .invoke_inline("slow-1", r#"{"action": "sleep", "seconds": 60}"#)
        .await;
    assert_eq!(slow.outcome.as_deref(), Some("error"));
    assert_eq!(slow.json()["errorType"], "Sandbox.Timedout");
    assert_log_frame(
        &slow.logs,
        "slow-1",
        &["slow-1 Task timed out after 1.00 seconds"],
    );

    let crash = init
        .invoke_inline("crash-1", r#"{"action": "crash"}"#)
        .await;
    assert_eq!(crash.outcome.as_deref(), Some("error"));
    assert_eq!(crash.json()["errorType"], "Runtime.ExitError");

    let after = init.invoke_inline("after-1", "{}").await;
    assert_eq!(after.outcome.as_deref(), Some("response"), "{after:?}");
    assert_eq!(invocation_callbacks(&ls), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_request_is_an_inline_error_without_running_the_function() {
    let (_ls, _root, init) = started(10).await;
    let payload = format!("\"{}\"", "a".repeat(6_291_455));
    let huge = init.invoke_inline("huge-1", &payload).await;
    assert_eq!(huge.outcome.as_deref(), Some("error"));
    assert_eq!(huge.json()["errorType"], "RequestEntityTooLarge");
    assert!(!huge.logs.contains("handling"), "{}", huge.logs);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localstack_hanging_up_mid_invoke_leaves_the_environment_usable() {
    let (_ls, _root, init) = started(10).await;
    // LocalStack gives up on the answer (its connection closes) while the function still runs.
    let abandoned = tokio::time::timeout(
        Duration::from_millis(300),
        init.invoke_inline("gone-1", r#"{"action": "sleep", "seconds": 1}"#),
    )
    .await;
    assert!(abandoned.is_err(), "the sleep outlasts the client");

    // The invocation runs to its end regardless; then the environment takes the next one.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let next = init.invoke_inline("next-1", r#"{"n": 1}"#).await;
        if next.status == StatusCode::CONFLICT && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        assert_eq!(next.outcome.as_deref(), Some("response"), "{next:?}");
        assert_eq!(next.json()["echo"]["n"], 1);
        break;
    }
}
