//! `lsk watch` as a developer uses it, in a scratch workspace of their own: the stack is up,
//! they save a change and the next invoke answers with it; an invoke running during the swap
//! finishes on the old code; a build error is shown and the old code keeps serving; after
//! Ctrl-C the stack keeps the last good build, `lsk status` says the function runs watched code,
//! and `lsk deploy` returns it to zipped code. On the native backend and in our container.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::text;

/// The function's source: its answer names the build, and `{"wait_for": NAME}` keeps it busy
/// until a file of that name is in its code directory (the test decides when an invocation ends,
/// not a clock). The code directory, not a path of the workspace: the function's `/tmp` is its
/// own, as on AWS, so a workspace under `/tmp` (where many CI systems check out) is out of its
/// sight, while the watched code directory is what it runs from on every backend.
fn function_source(version: &str) -> String {
    format!(
        r#"//! Answers with the build that runs (the `lsk watch` test's function).
use lambda_runtime::{{Error, LambdaEvent}};
use serde_json::{{Value, json}};

pub async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {{
    if let Some(name) = event.payload.get("wait_for").and_then(Value::as_str) {{
        let root = std::env::var("LAMBDA_TASK_ROOT").unwrap_or_default();
        let path = std::path::Path::new(&root).join(name);
        while !path.exists() {{
            std::thread::sleep(std::time::Duration::from_millis(20));
        }}
    }}
    Ok(json!({{"version": "{version}"}}))
}}
"#
    )
}

struct Workspace {
    dir: PathBuf,
    backend: &'static str,
    /// The function (and crate) name. Each story has its own: the stories share a target dir
    /// and run at once, and cargo gives path crates of one name at one relative path the same
    /// build output, whichever workspace they are in.
    function: &'static str,
}

impl Workspace {
    /// A workspace with one function (made by `lsk new`, then given our source).
    fn new(name: &str, backend: &'static str, function: &'static str) -> Workspace {
        let dir = common::scratch_workspace(name);
        let ws = Workspace {
            dir,
            backend,
            function,
        };
        ws.lsk_ok(&["new", function]);
        let manifest = ws.dir.join("lsk.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        let text = text.replacen(
            &format!("[functions.{function}]\n"),
            &format!("[functions.{function}]\ntimeout = 120\n"),
            1,
        );
        assert!(text.contains("timeout = 120"), "{text}");
        std::fs::write(&manifest, text).unwrap();
        ws.write_version("v1");
        ws
    }

    fn source(&self) -> PathBuf {
        self.dir
            .join("lambdas")
            .join(self.function)
            .join("src/lib.rs")
    }

    fn write_version(&self, version: &str) {
        std::fs::write(self.source(), function_source(version)).unwrap();
    }

    fn command(&self, args: &[&str]) -> Command {
        command(&self.dir, self.backend, args)
    }

    fn lsk(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("lsk runs")
    }

    fn lsk_ok(&self, args: &[&str]) -> String {
        lsk_ok(&self.dir, self.backend, args)
    }

    /// The `version` the function answers with now.
    fn version(&self, payload: &str) -> String {
        version(&self.dir, self.backend, self.function, payload)
    }
}

fn command(dir: &Path, backend: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lsk"));
    cmd.current_dir(dir)
        .args(["--backend", backend])
        .args(args)
        .env_remove("LOCALSTACK_ENDPOINT")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("CARGO_TARGET_DIR");
    cmd
}

fn lsk_ok(dir: &Path, backend: &str, args: &[&str]) -> String {
    let out = command(dir, backend, args).output().expect("lsk runs");
    assert!(
        out.status.success(),
        "`lsk {}` failed:\n{}",
        args.join(" "),
        text(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `version` the function answers `lsk invoke <function> --data <payload>` with.
fn version(dir: &Path, backend: &str, function: &str, payload: &str) -> String {
    let out = lsk_ok(dir, backend, &["invoke", function, "--data", payload]);
    let v: serde_json::Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("`lsk invoke` printed no JSON ({e}):\n{out}"));
    v["version"]
        .as_str()
        .unwrap_or_else(|| panic!("no version in the answer: {out}"))
        .to_owned()
}

impl Drop for Workspace {
    fn drop(&mut self) {
        let _ = self.lsk(&["down"]);
    }
}

/// `lsk watch` running in the background, its stderr lines arriving on a channel.
struct Watching {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Watching {
    fn start(ws: &Workspace) -> Watching {
        let mut child = ws
            .command(&["watch", ws.function])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("lsk watch starts");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watching {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (bounded) for a line containing `needle`; says what `lsk watch` printed otherwise.
    fn wait_for(&mut self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "`lsk watch` never printed {needle:?} within {within:?}; it printed:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Ctrl-C, as a developer stops it.
    fn interrupt(mut self) -> std::process::ExitStatus {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
        self.wait_for("stopped watching", Duration::from_secs(30));
        self.child.wait().unwrap()
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn saves_reach_the_running_function(name: &str, backend: &'static str, function: &'static str) {
    let ws = Workspace::new(name, backend, function);
    ws.lsk_ok(&["--port", "0", "up"]);
    assert_eq!(ws.version("{}"), "v1");

    let mut watching = Watching::start(&ws);
    watching.wait_for("watching ", Duration::from_secs(600));
    assert_eq!(ws.version("{}"), "v1", "watching alone changes nothing");

    // An invoke that is running while the new code is put in place finishes on the old code.
    // It waits for a file in its code directory, which it sees on every backend.
    let release = ws
        .dir
        .join(".lsk/watch")
        .join(function)
        .join("release-the-slow-invoke");
    let dir = ws.dir.clone();
    let payload = r#"{"wait_for": "release-the-slow-invoke"}"#.to_owned();
    let slow = std::thread::spawn(move || version(&dir, backend, function, &payload));
    std::thread::sleep(Duration::from_millis(1000));
    ws.write_version("v2");
    watching.wait_for(
        &format!("changed: lambdas/{function}/src/lib.rs"),
        Duration::from_secs(30),
    );
    watching.wait_for(
        &format!("{function}: new code in place"),
        Duration::from_secs(300),
    );
    assert!(
        !slow.is_finished(),
        "the slow invoke must still be running at the swap"
    );
    std::fs::write(&release, "go").unwrap();
    assert_eq!(
        slow.join().unwrap(),
        "v1",
        "the invoke in flight ran on the old code"
    );
    assert_eq!(
        ws.version("{}"),
        "v2",
        "the next invoke runs the saved code"
    );
    watching.wait_for(
        &format!("{function}: first invocation on the new code"),
        Duration::from_secs(30),
    );

    // A build error is shown, and the last good build keeps serving.
    std::fs::write(ws.source(), "this is not Rust\n").unwrap();
    watching.wait_for(
        "build failed; the previous code keeps serving",
        Duration::from_secs(300),
    );
    assert_eq!(ws.version("{}"), "v2");

    let status = watching.interrupt();
    assert!(
        status.success(),
        "Ctrl-C ends `lsk watch` cleanly: {status}"
    );
    assert_eq!(
        ws.version("{}"),
        "v2",
        "the stack keeps the last good build"
    );
    let shown = ws.lsk_ok(&["status"]);
    assert!(
        shown.contains("watched code from") && shown.contains(&format!(".lsk/watch/{function}")),
        "`lsk status` should say {function} runs watched code:\n{shown}"
    );

    // `lsk deploy` returns it to zipped code, built from the sources as they are.
    ws.write_version("v3");
    ws.lsk_ok(&["deploy"]);
    assert_eq!(ws.version("{}"), "v3");
    let shown = ws.lsk_ok(&["status"]);
    assert!(
        !shown.contains("watched code") && shown.contains(" build"),
        "after `lsk deploy` {function} runs a zipped build again:\n{shown}"
    );
}

#[test]
fn on_the_native_backend_a_save_reaches_the_next_invoke() {
    saves_reach_the_running_function("watch-native", "native", "watched");
}

/// Needs a Docker daemon, as the other docker CLI tests (cli_docker.rs).
#[test]
fn in_our_container_a_save_reaches_the_next_invoke() {
    saves_reach_the_running_function("watch-docker", "docker", "watched-in-docker");
}
