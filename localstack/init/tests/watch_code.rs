//! `LSK_INIT_WATCH_CODE=1` (hot-reload code, what `lsk watch` deploys): a new `bootstrap` put in
//! place serves the next invocation, an invocation in flight during the swap finishes on the old
//! code, and every invocation runs exactly once.

mod common;

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use common::{BOOTSTRAP, Init, TaskRoot, post};
use serde_json::Value;

const INVOKE: &str = "/2015-03-31/functions/function/invocations";

async fn call(addr: std::net::SocketAddr, payload: &str) -> Value {
    let (status, _, body) = post(addr, INVOKE, Bytes::from(payload.to_owned())).await;
    assert!(
        status.is_success(),
        "{status}: {}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&body)))
}

/// Puts `version` of the test bootstrap in place the way `lsk watch` does: written next to it,
/// then renamed over it.
fn swap_in(root: &Path, version: &str, interpreter_line: &str) {
    let text = BOOTSTRAP
        .replacen("#!/usr/bin/env python3", interpreter_line, 1)
        .replacen(
            "CODE_VERSION = \"v1\"",
            &format!("CODE_VERSION = \"{version}\""),
            1,
        );
    let next = root.join(".bootstrap.next");
    std::fs::write(&next, text).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&next, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::rename(&next, root.join("bootstrap")).unwrap();
}

fn interpreter_line(root: &TaskRoot) -> String {
    let text = std::fs::read_to_string(root.path().join("bootstrap")).unwrap();
    text.lines().next().unwrap().to_owned()
}

/// Events the bootstraps received: each prints `handling <request id> <action>` once per event.
fn handled(stderr: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.starts_with("handling "))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_bootstrap_serves_the_next_invocation_and_one_in_flight_finishes_on_the_old() {
    let root = TaskRoot::python();
    let shebang = interpreter_line(&root);
    let init = Init::standalone(&root, &["--timeout", "10"], &[("LSK_INIT_WATCH_CODE", "1")]).await;

    let first = call(init.addr, r#"{"action": "echo"}"#).await;
    assert_eq!(first["code"], "v1");

    // An invocation in flight while the new code is put in place finishes on the old code.
    let addr = init.addr;
    let slow =
        tokio::spawn(async move { call(addr, r#"{"action": "sleep", "seconds": 1}"#).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    swap_in(root.path(), "v2", &shebang);
    let slow = slow.await.unwrap();
    assert_eq!(
        slow["code"], "v1",
        "the in-flight invocation ran on: {slow}"
    );
    assert_eq!(slow["pid"], first["pid"]);

    let next = call(init.addr, r#"{"action": "echo"}"#).await;
    assert_eq!(
        next["code"], "v2",
        "the next invocation must run the new code: {next}"
    );
    assert_ne!(next["pid"], first["pid"], "a new process for the new code");

    // Unchanged code: the same process keeps serving.
    let again = call(init.addr, r#"{"action": "echo"}"#).await;
    assert_eq!(
        (again["code"].clone(), again["pid"].clone()),
        ("v2".into(), next["pid"].clone())
    );

    // Four invocations, four events handled: none lost, none run twice.
    let stderr = init.stderr();
    assert_eq!(handled(&stderr), 4, "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_watching_the_running_process_keeps_its_code() {
    let root = TaskRoot::python();
    let shebang = interpreter_line(&root);
    let init = Init::standalone(&root, &[], &[]).await;
    let first = call(init.addr, r#"{"action": "echo"}"#).await;
    swap_in(root.path(), "v2", &shebang);
    let next = call(init.addr, r#"{"action": "echo"}"#).await;
    assert_eq!(next["pid"], first["pid"], "no restart unless asked: {next}");
    assert_eq!(next["code"], "v1");
}
