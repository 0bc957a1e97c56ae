//! `lsk new` as a user meets it: in a workspace of their own (a scratch one, outside this
//! repository's members), it makes a function crate whose handler tests pass, declares it in
//! `lsk.toml`, and the function deploys and answers at once; a name that exists or is not a
//! valid Lambda/crate name is refused with a clear message and a non-zero exit.

mod common;

use std::path::Path;
use std::process::Command;

use common::{root, text};
use lsk::{BackendChoice, LocalStack, Stack, StartOptions};
use serde_json::json;

fn lsk_in(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lsk"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("lsk runs")
}

#[tokio::test]
async fn new_makes_a_tested_function_that_deploys_and_answers() {
    let scratch = common::scratch_workspace("new-workspace");

    let made = lsk_in(
        &scratch,
        &[
            "new",
            "greeter",
            "--url",
            "--sqs",
            "hello-requests",
            "--s3",
            "hello-uploads",
        ],
    );
    assert!(made.status.success(), "lsk new failed:\n{}", text(&made));
    assert!(
        String::from_utf8_lossy(&made.stderr).contains("created lsk.toml with [functions.greeter]"),
        "{}",
        text(&made)
    );

    let tests = Command::new(env!("CARGO"))
        .current_dir(&scratch)
        .args(["test", "-p", "greeter"])
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .expect("cargo test runs");
    assert!(
        tests.status.success(),
        "the generated handler tests should pass:\n{}",
        text(&tests)
    );
    assert!(
        String::from_utf8_lossy(&tests.stdout).contains("test result: ok. 4 passed"),
        "{}",
        text(&tests)
    );

    for (args, expected) in [
        (vec!["new", "greeter"], "exists already"),
        (vec!["new", "Hello_World"], "is not a valid function name"),
    ] {
        let refused = lsk_in(&scratch, &args);
        assert!(
            !refused.status.success(),
            "{args:?} should fail:\n{}",
            text(&refused)
        );
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains(expected),
            "{args:?}:\n{}",
            text(&refused)
        );
    }

    // Deployed from its own workspace into a LocalStack this kit runs, it answers at once.
    let stack = Stack::load(scratch.join("lsk.toml")).unwrap();
    let mut opts = StartOptions::new(root())
        .port(0)
        .progress(lsk::Progress::plain());
    opts.state_dir = root().join("target/lsk-e2e/new-localstack");
    let ls = LocalStack::start(BackendChoice::Native, opts)
        .await
        .unwrap_or_else(|e| panic!("starting LocalStack: {e}"));
    let deployed = stack
        .deploy(&ls)
        .await
        .unwrap_or_else(|e| panic!("deploying the new function: {e}"));
    let greeter = deployed.function("greeter").unwrap();
    assert_eq!(
        greeter.invoke(&json!({"name": "you"})).await.unwrap(),
        json!({"message": "hello, you"})
    );
    let reply = greeter
        .post_json("/", &json!({"name": "url"}))
        .await
        .unwrap();
    assert_eq!(
        reply.text(),
        r#"{"message":"hello, url"}"#,
        "HTTP {}",
        reply.status
    );
    ls.stop().await.unwrap();
}
