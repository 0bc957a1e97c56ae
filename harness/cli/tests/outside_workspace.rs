//! `lsk` as a tool in a team's own Cargo workspace, outside this repository: installed with
//! `cargo install --path harness/cli` into a scratch root, it makes a function with `lsk new`,
//! starts LocalStack and deploys with `lsk up` (native backend), answers an invoke and its
//! function URL, serves the workspace's own `cargo test` through the `lsk` library (a
//! dev-dependency of its test crate), and after `lsk down` leaves nothing running. Everything the kit needs
//! (install script, lock, plugin, `lsk-init`) comes out of the installed binary: the workspace
//! holds no `localstack/` folder, and lsk writes nothing into it but `.lsk/`.
//!
//! Compile time: the install, the function and the workspace's tests share one target dir with
//! `cli_new` (`target/lsk-e2e/new-target`), this repository's `Cargo.lock` and its dev profile,
//! so dependencies compile once and reruns are quick. The tests live in a crate of their own
//! (as this repository's do): next to the function's dependencies, cargo would unify features
//! differently and build the AWS SDK a second time. The scratch workspace sits in the
//! system's temp dir at a path fixed per checkout, so its `.lsk/venv` (LocalStack, installed
//! from the kit inside lsk on the first run) is kept between runs, as a user's would be.

mod common;

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{root, text};

/// Shared with `cli_new` and `cli_watch`, whose functions have names of their own: these tests
/// run at once, and cargo gives path crates of one name at one relative path the same output.
fn shared_target() -> PathBuf {
    root().join("target/lsk-e2e/new-target")
}

/// `<temp>/lsk-outside-<hash of this checkout's path>`: outside the repository, the same for
/// every run from this checkout.
fn scratch_base() -> PathBuf {
    let mut hasher = std::hash::DefaultHasher::new();
    root().hash(&mut hasher);
    std::env::temp_dir().join(format!("lsk-outside-{:016x}", hasher.finish()))
}

/// A command without what `cargo test` sets for this test binary (`CARGO_MANIFEST_DIR`,
/// `CARGO_PKG_*`...): a user's shell has none of it, and build scripts that watch those
/// variables would otherwise rebuild their crates on every run.
fn as_user(program: impl AsRef<std::ffi::OsStr>, dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if lsk::build::is_cargo_run_variable(&key)
            || matches!(key.as_ref(), "LOCALSTACK_ENDPOINT" | "AWS_ENDPOINT_URL")
        {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd
}

fn run(mut cmd: Command, what: &str) -> Output {
    let started = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what} could not run: {e}"));
    eprintln!("{what}: {:.1} s", started.elapsed().as_secs_f64());
    out
}

/// Runs `lsk down` in the workspace when dropped, so a failed assertion leaves nothing running.
struct Down {
    lsk: PathBuf,
    workspace: PathBuf,
}

impl Drop for Down {
    fn drop(&mut self) {
        let _ = as_user(&self.lsk, &self.workspace).arg("down").output();
    }
}

/// Empties `workspace` except `.lsk/venv`, stopping a LocalStack an interrupted run left.
async fn fresh_workspace(workspace: &Path) {
    let state = workspace.join(".lsk/state");
    let _ = lsk::backend::native::stop_detached(&state).await;
    std::fs::create_dir_all(workspace.join(".lsk")).unwrap();
    for dir in [workspace, &workspace.join(".lsk")] {
        for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
            let name = entry.file_name();
            if name == ".lsk" || name == "venv" {
                continue;
            }
            let path = entry.path();
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            removed.unwrap_or_else(|e| panic!("clearing {}: {e}", path.display()));
        }
    }
}

/// Live processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| {
            let raw = std::fs::read(e.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&raw).replace('\0', " ");
            cmdline
                .contains(needle)
                .then(|| format!("{} {}", e.file_name().to_string_lossy(), cmdline.trim()))
        })
        .collect()
}

/// This repository's `[profile.dev]` with its per-package settings, as TOML. A dependency built
/// with other settings (an `opt-level` for one crate) is a different artifact, and so is every
/// crate above it: the AWS SDK would compile a second time.
fn repository_dev_profile() -> String {
    let text = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let manifest: toml::Table = text.parse().unwrap();
    let dev = manifest["profile"]["dev"].clone();
    let mut profile = toml::Table::new();
    profile.insert("dev".into(), dev);
    let mut doc = toml::Table::new();
    doc.insert("profile".into(), toml::Value::Table(profile));
    toml::to_string(&doc).unwrap()
}

const USER_TEST: &str = r#"//! The team's own test: `hello`, in the LocalStack that `lsk up` runs for this workspace.
use lsk::{BackendChoice, LocalStack, Stack, StartOptions};

#[tokio::test]
async fn hello_answers_in_localstack() {
    let manifest_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest_dir.parent().unwrap();
    let localstack = LocalStack::connect(BackendChoice::Auto, StartOptions::new(root))
        .await
        .expect("LocalStack runs (`lsk up` first)");
    let stack = Stack::load(root.join("lsk.toml")).unwrap();
    let deployed = stack.deploy(&localstack).await.unwrap();
    let hello = deployed.function("hello").unwrap();
    let answer = hello.invoke(&serde_json::json!({"name": "tests"})).await.unwrap();
    assert_eq!(answer, serde_json::json!({"message": "hello, tests"}));
}
"#;

#[tokio::test]
async fn installed_lsk_runs_a_workspace_of_its_own_from_new_to_down() {
    let base = scratch_base();
    let workspace = base.join("workspace");
    let cargo_root = base.join("cargo-root");
    fresh_workspace(&workspace).await;
    let _ = std::fs::remove_dir_all(&cargo_root);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());

    // 1. The user installs lsk from this repository.
    let mut install = as_user(&cargo, &base);
    install
        .args(["install", "--locked", "--debug", "--path"])
        .arg(root().join("harness/cli"))
        .arg("--root")
        .arg(&cargo_root)
        .arg("--target-dir")
        .arg(shared_target())
        .env_remove("CARGO_TARGET_DIR");
    let installed = run(install, "cargo install --path harness/cli");
    assert!(
        installed.status.success(),
        "`cargo install --path harness/cli` failed:\n{}",
        text(&installed)
    );
    let lsk = cargo_root.join("bin/lsk");
    assert!(
        lsk.is_file(),
        "cargo install put no lsk in {}",
        lsk.display()
    );
    let _down = Down {
        lsk: lsk.clone(),
        workspace: workspace.clone(),
    };

    // 2. Their workspace: a Cargo workspace of their own with a test crate, no lsk files in it.
    std::fs::write(
        workspace.join("Cargo.toml"),
        format!(
            "# a team's own workspace\n[workspace]\nresolver = \"3\"\nmembers = [\"e2e\"]\n\n\
             # As in lsk's repository, so what `cargo install` compiled is reused here.\n{}",
            repository_dev_profile()
        ),
    )
    .unwrap();
    std::fs::copy(root().join("Cargo.lock"), workspace.join("Cargo.lock")).unwrap();
    let e2e = workspace.join("e2e");
    std::fs::create_dir_all(e2e.join("src")).unwrap();
    std::fs::create_dir_all(e2e.join("tests")).unwrap();
    std::fs::write(
        e2e.join("Cargo.toml"),
        format!(
            "[package]\nname = \"e2e\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
             [dev-dependencies]\nlsk = {{ path = {:?} }}\n\
             tokio = {{ version = \"1\", features = [\"macros\", \"rt-multi-thread\"] }}\n\
             serde_json = \"1\"\n",
            root().join("harness/lsk").display().to_string()
        ),
    )
    .unwrap();
    std::fs::write(
        e2e.join("src/lib.rs"),
        "//! The workspace's end-to-end tests.\n",
    )
    .unwrap();
    std::fs::write(e2e.join("tests/hello.rs"), USER_TEST).unwrap();
    std::fs::create_dir_all(workspace.join(".cargo")).unwrap();
    std::fs::write(
        workspace.join(".cargo/config.toml"),
        format!("[build]\ntarget-dir = \"{}\"\n", shared_target().display()),
    )
    .unwrap();

    let lsk_in = |args: &[&str], what: &str| {
        let mut cmd = as_user(&lsk, &workspace);
        cmd.args(args);
        run(cmd, what)
    };

    // 3. lsk new hello --url
    let made = lsk_in(&["new", "hello", "--url"], "lsk new hello --url");
    assert!(
        made.status.success(),
        "`lsk new hello --url` failed:\n{}",
        text(&made)
    );

    // 4. lsk up: builds hello and lsk-init, installs LocalStack from the kit inside lsk, deploys.
    let up = lsk_in(
        &["--backend", "native", "--port", "0", "up"],
        "lsk up --backend native",
    );
    assert!(
        up.status.success(),
        "`lsk up` in a workspace outside lsk's repository failed:\n{}",
        text(&up)
    );
    let stdout = String::from_utf8_lossy(&up.stdout).into_owned();
    let state = workspace.join(".lsk/state");
    let (pid, endpoint) = lsk::backend::native::find_detached(&state).unwrap_or_else(|| {
        panic!(
            "`lsk up` said it worked but left no LocalStack recorded in {}:\n{}",
            state.display(),
            text(&up)
        )
    });

    // 5. An invoke, with the example payload `lsk new` declared.
    let invoked = lsk_in(&["invoke", "hello"], "lsk invoke hello");
    assert!(
        invoked.status.success() && text(&invoked).contains(r#"{"message":"hello, you"}"#),
        "`lsk invoke hello` should answer hello, you:\n{}",
        text(&invoked)
    );

    // 6. The function URL, with the curl line exactly as `lsk up` printed it.
    let curl = common::line_for(&stdout, "hello", "curl")
        .unwrap_or_else(|| panic!("`lsk up` printed no curl line for hello:\n{}", text(&up)));
    let answered = run(
        {
            let mut cmd = Command::new("bash");
            cmd.args(["-c", &curl]);
            cmd
        },
        "curl",
    );
    assert_eq!(
        String::from_utf8_lossy(&answered.stdout).trim(),
        r#"{"message":"hello, you"}"#,
        "the printed line `{curl}` answered:\n{}",
        text(&answered)
    );

    // 7. The workspace's own tests use the lsk library (a dev-dependency) against that LocalStack.
    let mut tests = as_user(&cargo, &workspace);
    tests
        .args(["test", "-p", "e2e", "--test", "hello"])
        .env_remove("CARGO_TARGET_DIR");
    let tests = run(
        tests,
        "cargo test (the workspace's own, with lsk as a dev-dependency)",
    );
    assert!(
        tests.status.success() && String::from_utf8_lossy(&tests.stdout).contains("1 passed"),
        "the workspace's own test using the lsk library failed:\n{}",
        text(&tests)
    );

    // 8. lsk down, and nothing of it is left.
    let started_by_localstack: Vec<(u32, String)> = lsk::backend::native::descendants(pid);
    assert!(
        started_by_localstack
            .iter()
            .any(|(_, cmd)| cmd.contains("lsk-init")),
        "hello answered, so an lsk-init should be running under LocalStack (pid {pid}): {started_by_localstack:?}"
    );
    let down = lsk_in(&["down"], "lsk down");
    assert!(down.status.success(), "`lsk down` failed:\n{}", text(&down));
    std::thread::sleep(Duration::from_millis(200));
    let alive: Vec<(u32, String)> = std::iter::once((pid, "LocalStack".to_owned()))
        .chain(started_by_localstack)
        .filter(|(p, _)| lsk::backend::native::is_alive(*p))
        .collect();
    assert!(
        alive.is_empty(),
        "after `lsk down` these are still running: {alive:?}"
    );
    let mentioning = processes_mentioning(&workspace.display().to_string());
    assert!(
        mentioning.is_empty(),
        "after `lsk down` processes still use the workspace: {mentioning:?}"
    );
    assert!(
        lsk::backend::native::find_detached(&state).is_none(),
        "`lsk status` would still report LocalStack in {}",
        state.display()
    );
    let port = endpoint.rsplit(':').next().unwrap_or_default();
    assert!(
        std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err(),
        "something still listens on {endpoint} after `lsk down`"
    );

    // Nothing of the kit was copied into the workspace: what is there is the user's and `.lsk/`.
    let top: BTreeSet<String> = std::fs::read_dir(&workspace)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let expected: BTreeSet<String> = [
        ".cargo",
        ".lsk",
        "Cargo.lock",
        "Cargo.toml",
        "e2e",
        "lambdas",
        "lsk.toml",
    ]
    .map(String::from)
    .into();
    assert_eq!(top, expected, "what lsk left in the workspace");

    // 9. The same installed lsk runs a SAM project, as `sam init` lays one out.
    sam_init_project_runs_with_lsk_up(&lsk, &base, &workspace).await;
}

const SAM_TEMPLATE: &str = r#"AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: sam-app (laid out as `sam init` makes a Rust hello world)

Globals:
  Function:
    Timeout: 3
    MemorySize: 128

Resources:
  HelloWorldFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
    Properties:
      CodeUri: ./rust_app
      Handler: bootstrap
      Runtime: provided.al2023
      Architectures:
        - arm64
      Events:
        HelloWorld:
          Type: Api
          Properties:
            Path: /hello
            Method: get

Outputs:
  HelloWorldApi:
    Description: "API Gateway endpoint URL for Prod stage for Hello World function"
    Value: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/hello/"
  HelloWorldFunction:
    Description: "Hello World Lambda Function ARN"
    Value: !GetAtt HelloWorldFunction.Arn
"#;

const SAM_HANDLER: &str = r#"use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

async fn function_handler(_event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(json!({
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json!({"message": "hello world"}).to_string(),
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(function_handler)).await
}
"#;

/// `<base>/sam-app`: `template.yaml` and its own crate in `rust_app/` (no workspace, no
/// `lsk.toml`); `lsk up` there builds it, deploys it through CloudFormation and prints the
/// template's outputs as URLs that answer here.
async fn sam_init_project_runs_with_lsk_up(lsk: &Path, base: &Path, workspace: &Path) {
    let app = base.join("sam-app");
    let _ = lsk::backend::native::stop_detached(&app.join(".lsk/state")).await;
    let _ = std::fs::remove_dir_all(&app);
    std::fs::create_dir_all(app.join("rust_app/src")).unwrap();
    std::fs::write(app.join("template.yaml"), SAM_TEMPLATE).unwrap();
    // The crate's dependencies as `lsk new` writes them, with this repository's lock: what the
    // workspace above compiled in release is reused (a test-time saving; `sam init` has no lock).
    let manifest =
        std::fs::read_to_string(root().join("harness/cli/templates/function/Cargo.toml.tmpl"))
            .unwrap()
            .replace("__NAME__", "hello-world-sam")
            .replace(
                "A Lambda function made by `lsk new`",
                "sam init's hello world",
            );
    std::fs::write(app.join("rust_app/Cargo.toml"), manifest).unwrap();
    std::fs::write(app.join("rust_app/src/main.rs"), SAM_HANDLER).unwrap();
    std::fs::copy(root().join("Cargo.lock"), app.join("rust_app/Cargo.lock")).unwrap();
    // LocalStack itself was installed into the workspace's `.lsk/venv` above; the project uses
    // that install rather than a second one (minutes on a fresh machine).
    std::fs::create_dir_all(app.join(".lsk")).unwrap();
    std::os::unix::fs::symlink(workspace.join(".lsk/venv"), app.join(".lsk/venv")).unwrap();
    let _down = Down {
        lsk: lsk.to_path_buf(),
        workspace: app.clone(),
    };
    let lsk_in = |args: &[&str], what: &str| {
        let mut cmd = as_user(lsk, &app);
        cmd.args(args).env("CARGO_TARGET_DIR", shared_target());
        run(cmd, what)
    };

    let up = lsk_in(
        &["--backend", "native", "--port", "0", "up"],
        "lsk up (SAM project)",
    );
    assert!(
        up.status.success(),
        "`lsk up` in a SAM project failed:\n{}",
        text(&up)
    );
    let stdout = String::from_utf8_lossy(&up.stdout).into_owned();
    let url = common::line_for(&stdout, "HelloWorldApi", "value")
        .unwrap_or_else(|| panic!("`lsk up` printed no HelloWorldApi output:\n{}", text(&up)));
    assert!(
        url.starts_with("http://")
            && url.contains(".execute-api.localhost:")
            && url.ends_with("/Prod/hello/"),
        "the output should be a URL that works offline: {url}"
    );
    let answered = run(
        {
            let mut cmd = Command::new("curl");
            cmd.args(["-s", &url]);
            cmd
        },
        "curl (SAM output)",
    );
    assert_eq!(
        String::from_utf8_lossy(&answered.stdout).trim(),
        r#"{"message":"hello world"}"#,
        "GET {url} answered:\n{}",
        text(&answered)
    );
    let invoked = lsk_in(
        &["invoke", "HelloWorldFunction"],
        "lsk invoke HelloWorldFunction",
    );
    assert!(
        invoked.status.success() && text(&invoked).contains(r#""statusCode":200"#),
        "`lsk invoke HelloWorldFunction` should answer by logical ID:\n{}",
        text(&invoked)
    );
    let (pid, _) = lsk::backend::native::find_detached(&app.join(".lsk/state"))
        .expect("`lsk up` recorded its LocalStack");
    let down = lsk_in(&["down"], "lsk down (SAM project)");
    assert!(down.status.success(), "`lsk down` failed:\n{}", text(&down));
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !lsk::backend::native::is_alive(pid),
        "LocalStack (pid {pid}) still runs after `lsk down` in the SAM project"
    );
    assert!(
        !app.join("lsk.toml").exists(),
        "lsk wrote an lsk.toml into the SAM project"
    );
}
