//! Lifetimes and isolation on the native backend: every process the kit starts is stopped by
//! it (after a normal stop and after LocalStack is killed with SIGKILL), and a developer's own
//! AWS credentials never reach function code. Each test starts a LocalStack of its own.

use std::time::Duration;

use lsk::{BackendChoice, LocalStack, StartOptions};
use lsk_e2e::{Spec, eventually, root};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Value, json};

const MANIFEST: &str = r#"
[functions.probe]
package = "probe"
timeout = 5
"#;

/// Starts a private native LocalStack (state under target/lsk-e2e/<name>) and deploys the probe.
async fn private_localstack(name: &'static str) -> (LocalStack, lsk::Deployed) {
    let spec = Spec::inline(name, MANIFEST, BackendChoice::Native);
    let mut opts = StartOptions::new(root())
        .port(0)
        .progress(lsk::Progress::plain());
    opts.state_dir = root().join("target").join("lsk-e2e").join(name);
    let ls = LocalStack::start(BackendChoice::Native, opts)
        .await
        .unwrap_or_else(|e| panic!("starting native LocalStack: {e}"));
    let deployed = spec
        .stack
        .deploy(&ls)
        .await
        .unwrap_or_else(|e| panic!("deploying the probe: {e}"));
    (ls, deployed)
}

/// Two environments busy at once, so there are two inits and two bootstraps to account for.
async fn warm_two_environments(deployed: &lsk::Deployed) {
    let probe = deployed.function("probe").unwrap();
    let sleep = json!({"action": "sleep", "ms": 800});
    let (a, b) = tokio::join!(probe.invoke(&sleep), probe.invoke(&sleep));
    a.unwrap();
    b.unwrap();
}

fn ours(pid: u32) -> Vec<(u32, String)> {
    lsk::backend::native::descendants(pid)
        .into_iter()
        .filter(|(_, cmd)| cmd.contains("lsk-init") || cmd.contains("bootstrap"))
        .collect()
}

fn still_alive(procs: &[(u32, String)]) -> Vec<(u32, String)> {
    procs
        .iter()
        .filter(|(p, _)| lsk::backend::native::is_alive(*p))
        .cloned()
        .collect()
}

#[tokio::test]
async fn stopping_localstack_leaves_no_init_or_bootstrap_behind() {
    let (ls, deployed) = private_localstack("lifecycle-stop").await;
    warm_two_environments(&deployed).await;
    let pid = ls.pid().expect("native pid");
    let procs = ours(pid);
    let inits = procs.iter().filter(|(_, c)| c.contains("lsk-init")).count();
    assert!(
        inits >= 2,
        "two environments should mean two inits: {procs:?}"
    );
    assert!(
        procs.iter().any(|(_, c)| c.contains("bootstrap")),
        "bootstraps run: {procs:?}"
    );

    ls.stop()
        .await
        .unwrap_or_else(|e| panic!("stop reported: {e}"));
    assert!(
        !lsk::backend::native::is_alive(pid),
        "LocalStack {pid} survived stop"
    );
    assert_eq!(still_alive(&procs), vec![], "processes left after stop");
}

#[tokio::test]
async fn killing_localstack_with_sigkill_takes_its_inits_and_bootstraps_down() {
    let (ls, deployed) = private_localstack("lifecycle-kill").await;
    warm_two_environments(&deployed).await;
    let pid = ls.pid().expect("native pid");
    let procs = ours(pid);
    assert!(
        procs.len() >= 4,
        "two inits and two bootstraps expected: {procs:?}"
    );

    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
    let gone = eventually(
        "every init and bootstrap to exit",
        Duration::from_secs(15),
        || async { still_alive(&procs).is_empty().then_some(()) },
    )
    .await;
    assert!(
        gone.is_ok(),
        "still running after SIGKILL of LocalStack: {:?}",
        still_alive(&procs)
    );
    drop(ls);
}

/// The child half of the isolation test: runs only when the parent re-executes this binary.
#[tokio::test]
#[ignore = "run by host_credentials_never_reach_function_code in a child process"]
async fn isolation_child() {
    if std::env::var("LSK_E2E_ISOLATION_CHILD").as_deref() != Ok("1") {
        return;
    }
    let (ls, deployed) = private_localstack("lifecycle-isolation").await;
    let seen = deployed
        .function("probe")
        .unwrap()
        .invoke(&json!({"action": "env"}))
        .await
        .unwrap();
    println!("ISOLATION-RESULT {seen}");
    ls.stop().await.unwrap();
}

#[test]
fn host_credentials_never_reach_function_code() {
    // The harness process gets a developer's real-looking credentials; the function must see
    // the ones LocalStack issues instead, and nothing else of the host's environment.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "isolation_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LSK_E2E_ISOLATION_CHILD", "1")
        .env("AWS_ACCESS_KEY_ID", "AKIAHOSTHOSTHOSTHOST")
        .env("AWS_SECRET_ACCESS_KEY", "host-secret")
        .env("HOST_ONLY", "1")
        .output()
        .expect("re-running this test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("ISOLATION-RESULT ").map(|(_, json)| json))
        .unwrap_or_else(|| {
            panic!(
                "the child test did not report (status {}):\n{stdout}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let env: Value = serde_json::from_str(line).unwrap();
    assert_ne!(
        env["aws_secret_access_key"], "host-secret",
        "the host's secret reached the function: {env}"
    );
    assert_ne!(env["aws_access_key_id"], "AKIAHOSTHOSTHOSTHOST", "{env}");
    assert!(
        env["aws_access_key_id"]
            .as_str()
            .is_some_and(|k| !k.is_empty()),
        "the function gets LocalStack's credentials: {env}"
    );
    assert_eq!(
        env["has_host_only"], false,
        "a host-only variable leaked: {env}"
    );
    assert!(
        env["aws_endpoint_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("http://127.0.0.1:")),
        "the SDK in the function is pointed at LocalStack: {env}"
    );
    assert!(
        out.status.success(),
        "child failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
