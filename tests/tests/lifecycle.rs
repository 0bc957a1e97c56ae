//! Lifetimes and isolation: every process the kit starts is stopped by it (after a normal stop
//! and after LocalStack is killed with SIGKILL), a developer's own AWS credentials never reach
//! function code, and a test binary's containers go away when it ends, even by SIGKILL (with
//! leftovers of such runs swept by label). Each test starts a LocalStack of its own.

use std::time::Duration;

use lsk::{BackendChoice, LocalStack, StartOptions};
use lsk_e2e::{Spec, container_exists, eventually, root};
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

// ---------------------------------------------------------------------------------------------
// docker: a test binary's containers go away when it ends, however it ends

/// The child half of the docker kill test: starts a container the way a test kit does, says
/// which, and waits to be killed.
#[tokio::test]
#[ignore = "run by a_test_process_killed_with_sigkill_leaves_no_container in a child process"]
async fn docker_child() {
    if std::env::var("LSK_E2E_DOCKER_CHILD").as_deref() != Ok("1") {
        return;
    }
    let mut opts = StartOptions::new(root())
        .port(0)
        .progress(lsk::Progress::plain());
    opts.state_dir = root()
        .join("target")
        .join("lsk-e2e")
        .join("lifecycle-docker");
    let ls = LocalStack::start(BackendChoice::Docker, opts)
        .await
        .unwrap_or_else(|e| panic!("starting the docker kit: {e}"));
    println!("CONTAINER {}", ls.container().unwrap_or("?"));
    use std::io::Write;
    let _ = std::io::stdout().flush();
    tokio::time::sleep(Duration::from_secs(600)).await;
    drop(ls);
}

#[test]
#[cfg_attr(
    lsk_no_docker,
    ignore = "no Docker daemon answered when these tests were built (start one and rebuild)"
)]
fn a_test_process_killed_with_sigkill_leaves_no_container() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "docker_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LSK_E2E_DOCKER_CHILD", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .expect("re-running this test binary");
    let stdout = child.stdout.take().unwrap();
    let name = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        // libtest prints "test docker_child ... " before the test's own output, on the same line.
        .find_map(|l| {
            l.split_once("CONTAINER ")
                .map(|(_, name)| name.trim().to_owned())
        });
    let Some(name) = name else {
        let _ = child.kill();
        panic!(
            "the child test never reported its container (status {:?})",
            child.wait()
        );
    };
    assert!(
        container_exists(&name),
        "container {name} should run while its test does"
    );

    kill(Pid::from_raw(child.id() as i32), Signal::SIGKILL).unwrap();
    let _ = child.wait();
    let started = std::time::Instant::now();
    while container_exists(&name) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "container {name} outlived its SIGKILLed test process by a minute"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[tokio::test]
#[cfg_attr(
    lsk_no_docker,
    ignore = "no Docker daemon answered when these tests were built (start one and rebuild)"
)]
async fn leftovers_of_a_killed_run_are_swept_by_label_and_others_are_kept() {
    // A pid that was ours and is gone, as after a run killed before its reaper could act.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    let me = std::process::id();
    let base = lsk::backend::image::ensure_base(&root(), None, &lsk::Progress::silent())
        .await
        .unwrap_or_else(|e| panic!("the base image: {e}"));
    let start = |name: &str, role: &str, owner: u32| {
        let out = std::process::Command::new("docker")
            .args(["run", "-d", "--name", name])
            .args(["--label", "dev.lsk.managed=true"])
            .args(["--label", &format!("dev.lsk.role={role}")])
            .args(["--label", &format!("dev.lsk.owner-pid={owner}")])
            .args([base.as_str(), "sleep", "300"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let orphan = format!("lsk-sweep-orphan-{me}");
    let live = format!("lsk-sweep-live-{me}");
    let up = format!("lsk-sweep-up-{me}");
    start(&orphan, "test", dead_pid);
    start(&live, "test", me);
    start(&up, "up", dead_pid);

    let swept = lsk::backend::docker::sweep_orphans().await;
    let survivors = [&orphan, &live, &up].map(|n| (n.clone(), container_exists(n)));
    for n in [&orphan, &live, &up] {
        let _ = std::process::Command::new("docker")
            .args(["rm", "-f", n])
            .output();
    }
    swept.unwrap_or_else(|e| panic!("sweep: {e}"));
    assert_eq!(
        survivors,
        [(orphan, false), (live, true), (up, true)],
        "only a test container whose owner is gone is swept; `lsk up`'s and live ones stay"
    );
}
