//! What a function sees of the filesystem and its environment: AWS's view (code at /var/task,
//! read-only; a private /tmp; bash as /bin/sh; LANG, PATH, no TMPDIR) where the OS allows a
//! mount namespace, as root and as an ordinary user; host paths when `LSK_INIT_FS=host` asks.
//! (tests/tests/docker.rs runs the case where the OS refuses: a container without the cap.)

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use bytes::Bytes;
use common::{Init, TaskRoot, post};
use serde_json::Value;

const INVOKE: &str = "/2015-03-31/functions/function/invocations";

async fn call(init: &Init, action: &str) -> Value {
    let (status, _, body) = post(
        init.addr,
        INVOKE,
        Bytes::from(format!(r#"{{"action": "{action}"}}"#)),
    )
    .await;
    assert!(
        status.is_success(),
        "{status}: {}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice(&body).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\nstderr:\n{}",
            String::from_utf8_lossy(&body),
            init.stderr()
        )
    })
}

/// `lsk-init --fs-probe` as the user `as_user` (None: this process's user).
fn probe(as_user: Option<&[&str]>) -> String {
    let init = env!("CARGO_BIN_EXE_lsk-init");
    let out = match as_user {
        Some(prefix) => Command::new(prefix[0])
            .args(&prefix[1..])
            .args([init, "--fs-probe"])
            .output(),
        None => Command::new(init).arg("--fs-probe").output(),
    }
    .expect("lsk-init --fs-probe runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn assert_aws_view(env: &Value, fs: &Value, stderr: &str) {
    let get = |k: &str| env["env"][k].as_str().map(str::to_owned);
    assert_eq!(
        get("LAMBDA_TASK_ROOT").as_deref(),
        Some("/var/task"),
        "{stderr}"
    );
    assert_eq!(env["cwd"], "/var/task");
    assert_eq!(
        get("TMPDIR"),
        None,
        "AWS sets no TMPDIR; functions write to /tmp"
    );
    assert_eq!(get("LANG").as_deref(), Some("en_US.UTF-8"));
    assert_eq!(get("TZ").as_deref(), Some(":UTC"));
    assert_eq!(get("LAMBDA_RUNTIME_DIR").as_deref(), Some("/var/runtime"));
    assert_eq!(fs["bootstrap_seen"], true, "the code is at /var/task: {fs}");
    assert_eq!(
        fs["code_writable"], false,
        "/var/task is read-only on AWS: {fs}"
    );
    assert_eq!(fs["tmp_writable"], true, "{fs}");
    let entries: Vec<&str> = fs["tmp_entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        entries.iter().all(|e| e.starts_with("written-by-")),
        "/tmp is the environment's own, not the host's: {entries:?}"
    );
    assert_eq!(
        fs["sh_pipefail"], true,
        "a #!/bin/sh bootstrap with `set -o pipefail` must start (bash as /bin/sh)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_function_gets_awss_view_where_a_mount_namespace_is_allowed() {
    let mode = probe(None);
    let root = TaskRoot::python();
    let init = Init::standalone(&root, &[], &[("LSK_INIT_FS", "auto")]).await;
    let (env, fs) = (call(&init, "env").await, call(&init, "fs").await);
    if mode != "namespaced" {
        // This machine refuses mount namespaces: the fallback must say so and work.
        assert!(mode.starts_with("host-paths: "), "{mode}");
        assert_eq!(
            env["env"]["LAMBDA_TASK_ROOT"],
            root.path().to_str().unwrap()
        );
        assert!(
            init.stderr().contains("runs from host paths"),
            "{}",
            init.stderr()
        );
        return;
    }
    assert_aws_view(&env, &fs, &init.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordinary_user_gets_the_same_view_through_a_user_namespace() {
    if !nix_is_root() {
        // Already unprivileged: the test above is this one.
        return;
    }
    let Some(nobody) = ["setpriv"].iter().find(|p| which(p)) else {
        panic!("setpriv (util-linux) is needed to run lsk-init as another user");
    };
    let as_nobody = [*nobody, "--reuid=65534", "--regid=65534", "--clear-groups"];
    let mode = probe(Some(&as_nobody));
    if mode != "namespaced" {
        // Ubuntu 24.04 restricts unprivileged user namespaces: the fallback is then in use.
        assert!(mode.starts_with("host-paths: "), "{mode}");
        return;
    }
    // The system's Python: one under the developer's home is not theirs to run.
    let system_python = "/usr/bin/python3";
    if !std::path::Path::new(system_python).is_file() {
        panic!("{system_python} is needed to run the test bootstrap as another user");
    }
    let root = TaskRoot::python_at(system_python);
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = tokio::process::Command::new(as_nobody[0]);
    cmd.args(&as_nobody[1..])
        .arg(env!("CARGO_BIN_EXE_lsk-init"))
        .arg("--standalone")
        .arg(root.path())
        .args(["--listen", "127.0.0.1:0"])
        .env("LSK_INIT_FS", "auto")
        .env("TMPDIR", "/tmp");
    let init = Init::start(cmd).await;
    let (env, fs) = (call(&init, "env").await, call(&init, "fs").await);
    assert_aws_view(&env, &fs, &init.stderr());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lsk_init_fs_host_keeps_host_paths() {
    let root = TaskRoot::python();
    let init = Init::standalone(&root, &[], &[("LSK_INIT_FS", "host")]).await;
    let (env, fs) = (call(&init, "env").await, call(&init, "fs").await);
    let root_path = root.path().to_str().unwrap();
    assert_eq!(env["env"]["LAMBDA_TASK_ROOT"], root_path);
    assert_eq!(env["cwd"], root_path);
    let tmpdir = env["env"]["TMPDIR"]
        .as_str()
        .expect("TMPDIR names the private dir");
    assert!(
        std::path::Path::new(tmpdir).is_dir() && tmpdir.ends_with("/tmp"),
        "{tmpdir}"
    );
    assert_eq!(env["env"]["LANG"], "en_US.UTF-8");
    assert_eq!(
        fs["code_writable"], true,
        "host paths: the code dir is the host's"
    );
}

fn nix_is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn which(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}
