//! The Python side of the native runtime (`localstack/plugin`): its unit tests, run with the
//! project's pinned LocalStack venv on the plugin's sources, so `cargo test` covers them too.

use std::process::Command;

use lsk::kit::venv::ensure_installed;

#[tokio::test]
async fn localstack_plugin_unit_tests_pass() {
    let root = lsk_e2e::root();
    let python = ensure_installed(&root, &|_| {})
        .await
        .unwrap_or_else(|e| panic!("installing the native LocalStack venv: {e}"));
    let plugin = root.join("localstack/plugin");
    let out = Command::new(&python)
        .args(["-m", "unittest", "discover", "-v", "-s"])
        .arg(plugin.join("tests"))
        .arg("-t")
        .arg(&plugin)
        .current_dir(&plugin)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the plugin's unit tests failed ({}):\n{report}",
        out.status
    );
    // A discovery mistake would pass with nothing run.
    let ran = report
        .lines()
        .find_map(|l| {
            l.strip_prefix("Ran ")?
                .split(' ')
                .next()?
                .parse::<u32>()
                .ok()
        })
        .unwrap_or(0);
    assert!(ran >= 10, "expected the plugin's tests to run:\n{report}");
}

const CALLBACK_MANIFEST: &str = r#"
[functions.probe-callback]
package = "probe"
timeout = 2
"#;

/// The Go init's protocol (`LSK_INVOKE_RESULTS=callback`: logs and result posted back through
/// LocalStack's gateway) still works end to end, with logs shipped unbatched
/// (`LSK_LOG_BATCH_MS=0`). The default (inline results, batched logs) is what every other
/// end-to-end test runs on.
#[tokio::test]
async fn callback_results_and_unbatched_logs_still_work() {
    use std::sync::OnceLock;
    use std::time::Duration;

    use lsk::BackendChoice;
    use lsk_e2e::{Kit, Spec, eventually, nonce};

    static KIT: OnceLock<Result<Kit, String>> = OnceLock::new();
    let kit = Kit::shared(&KIT, || {
        let mut spec = Spec::inline("plugin-callback", CALLBACK_MANIFEST, BackendChoice::Native);
        spec.native_env = vec![
            ("LSK_INVOKE_RESULTS".into(), "callback".into()),
            ("LSK_LOG_BATCH_MS".into(), "0".into()),
        ];
        spec
    });
    let deployed = kit.deployed().await;
    let probe = deployed.function("probe-callback").unwrap();
    let line = format!("callback line {}", nonce());
    answers_with_its_log_tail(&probe, &line).await;
    times_out(&probe).await;

    let in_cloudwatch = eventually(
        "the line in CloudWatch Logs",
        Duration::from_secs(30),
        || async {
            let lines = probe
                .logs(Duration::from_secs(600))
                .await
                .unwrap_or_default();
            lines
                .iter()
                .any(|l| l.message.contains(&line))
                .then_some(())
        },
    )
    .await;
    assert!(in_cloudwatch.is_ok(), "{in_cloudwatch:?}");
}

const H11_MANIFEST: &str = r#"
[functions.probe-h11]
package = "probe"
timeout = 2
"#;

/// The executor's h11 framing (`LSK_EXECUTOR_HTTP=h11`, which `make bench` times against the
/// default reader) carries what a user sees through the default one: a result with its log
/// tail, a 5 MB answer whole, a function error, a timeout, and the next invoke after it.
#[tokio::test]
async fn the_h11_framing_carries_results_errors_and_big_answers() {
    use std::sync::OnceLock;

    use lsk::{BackendChoice, InvokeMode};
    use lsk_e2e::{Kit, Spec, nonce};
    use serde_json::json;

    static KIT: OnceLock<Result<Kit, String>> = OnceLock::new();
    let kit = Kit::shared(&KIT, || {
        let mut spec = Spec::inline("plugin-h11", H11_MANIFEST, BackendChoice::Native);
        spec.native_env = vec![("LSK_EXECUTOR_HTTP".into(), "h11".into())];
        spec
    });
    let deployed = kit.deployed().await;
    let probe = deployed.function("probe-h11").unwrap();

    let line = format!("h11 line {}", nonce());
    answers_with_its_log_tail(&probe, &line).await;

    let big = probe
        .invoke_raw(br#"{"action": "big", "bytes": 5000000}"#, InvokeMode::Sync)
        .await
        .unwrap();
    assert!(
        big.failure().is_none(),
        "a 5 MB answer failed: {:.200}",
        big.payload
    );
    assert!(
        big.payload.len() >= 5_000_000,
        "the 5 MB answer arrived cut to {} bytes",
        big.payload.len()
    );

    let failed = probe
        .invoke(&json!({"action": "fail", "message": "on purpose"}))
        .await;
    assert!(
        failed.is_err(),
        "a deliberate failure succeeded: {failed:?}"
    );

    times_out(&probe).await;

    let after = probe.invoke(&json!({"action": "echo", "n": 1})).await;
    assert_eq!(
        after.ok().map(|v| v["echo"]["n"].clone()),
        Some(json!(1)),
        "the invoke after a timeout answers"
    );
}

/// A synchronous invoke that logs `line` succeeds, and its LogResult tail carries the line and
/// the REPORT, as the AWS CLI's `--log-type Tail` shows them.
async fn answers_with_its_log_tail(probe: &lsk::FunctionHandle<'_>, line: &str) {
    let inv = lsk_e2e::probe_log(probe, line, lsk::InvokeMode::Sync).await;
    assert_eq!(inv.status, 200, "{}", inv.payload);
    assert!(inv.failure().is_none(), "{}", inv.payload);
    let tail = inv.log_tail.clone().unwrap_or_default();
    assert!(
        tail.contains(line) && tail.contains("REPORT RequestId: "),
        "the invoke's LogResult tail carries the function's line and REPORT:\n{tail}"
    );
}

/// Sleeping past the function's 2 s timeout ends as `Sandbox.Timedout`.
async fn times_out(probe: &lsk::FunctionHandle<'_>) {
    let timed_out = probe
        .invoke_raw(br#"{"action": "sleep", "ms": 4000}"#, lsk::InvokeMode::Sync)
        .await
        .unwrap();
    let failure = timed_out
        .failure()
        .unwrap_or_else(|| panic!("sleeping past the timeout succeeded: {}", timed_out.payload));
    assert_eq!(failure.error_type, "Sandbox.Timedout");
}
