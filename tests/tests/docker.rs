//! The docker backend, end to end: LocalStack's own image with Lambdas in its Lambda
//! containers. Runs only where a Docker daemon answers; elsewhere each test says, on the real
//! stderr, that it was skipped and why (this project's CI has no Docker engine).

use std::time::Duration;

use lsk::backend::DaemonProbe;
use lsk::{BackendChoice, BackendKind, LocalStack, Stack, StartOptions};
use lsk_e2e::{root, skip};
use serde_json::json;

async fn daemon_or_skip(test: &str) -> bool {
    match lsk::backend::docker::probe_daemon(Duration::from_secs(5)).await {
        DaemonProbe::Available { version } => {
            eprintln!("{test}: Docker {version} answers; running on the docker backend");
            true
        }
        DaemonProbe::Unavailable { why } => {
            skip(
                test,
                &format!("no Docker daemon answered ({why}); the docker backend was not exercised"),
            );
            false
        }
    }
}

#[tokio::test]
async fn docker_backend_deploys_the_examples_and_square_answers() {
    if !daemon_or_skip("docker_backend_deploys_the_examples_and_square_answers").await {
        return;
    }
    let stack = Stack::load(root().join("lsk.toml")).unwrap();
    let mut opts = StartOptions::new(root()).port(0);
    opts.state_dir = root().join("target/lsk-e2e/docker");
    let ls = LocalStack::start(BackendChoice::Docker, opts)
        .await
        .unwrap_or_else(|e| panic!("starting LocalStack in Docker: {e}"));
    assert_eq!(ls.backend(), BackendKind::Docker, "{}", ls.reason());
    let deployed = stack
        .deploy(&ls)
        .await
        .unwrap_or_else(|e| panic!("deploy: {e}"));
    let square = deployed.function("square").unwrap();
    assert_eq!(
        square.invoke(&json!({"number": 6})).await.unwrap(),
        json!({"result": 36})
    );
    let reply = square.post_json("/", &json!({"number": 7})).await.unwrap();
    assert_eq!(
        reply.text(),
        r#"{"result":49}"#,
        "{}",
        lsk_e2e::seen("POST", square.url().unwrap_or("?"), &reply)
    );
    ls.stop().await.unwrap();
}
