//! Test support: a fake LocalStack callback endpoint that records what the init posts,
//! a handle on a real `lsk-init` process, task roots holding the Python test bootstrap,
//! and a tiny HTTP client.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::Notify;

/// Bounded wait for anything the tests expect to happen.
pub const WAIT: Duration = Duration::from_secs(30);
pub const BOOTSTRAP: &str = include_str!("bootstrap.py");

/// One request the init sent to the fake LocalStack.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub body: Bytes,
}

impl Recorded {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{} body is not JSON ({e}): {}", self.path, self.text()))
    }
}

/// Fake LocalStack: answers 202 to every callback and records it.
pub struct FakeLocalStack {
    pub addr: SocketAddr,
    records: Arc<Mutex<Vec<Recorded>>>,
    changed: Arc<Notify>,
    server: tokio::task::JoinHandle<()>,
}

pub const EXECUTOR_ID: &str = "exec-1";
pub const RUNTIME_ID: &str = "runtime-1";

impl FakeLocalStack {
    pub async fn start() -> FakeLocalStack {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake LocalStack");
        let addr = listener.local_addr().unwrap();
        let records: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let changed = Arc::new(Notify::new());
        let (r, c) = (records.clone(), changed.clone());
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (r, c) = (r.clone(), c.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let (r, c) = (r.clone(), c.clone());
                        async move {
                            let method = req.method().clone();
                            let path = req.uri().path().to_owned();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            r.lock().unwrap().push(Recorded { method, path, body });
                            c.notify_waiters();
                            let mut resp = Response::new(Full::new(Bytes::new()));
                            *resp.status_mut() = StatusCode::ACCEPTED;
                            Ok::<_, Infallible>(resp)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        FakeLocalStack {
            addr,
            records,
            changed,
            server,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}/_localstack_lambda/{EXECUTOR_ID}", self.addr)
    }

    pub fn records(&self) -> Vec<Recorded> {
        self.records.lock().unwrap().clone()
    }

    pub fn paths(&self) -> Vec<String> {
        self.records().into_iter().map(|r| r.path).collect()
    }

    /// Waits until `pred` holds for the recorded requests, or fails naming `what`.
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&[Recorded]) -> bool) -> Vec<Recorded> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let notified = self.changed.notified();
            let records = self.records();
            if pred(&records) {
                return records;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "timed out after {WAIT:?} waiting for {what}; LocalStack received: {:#?}",
                    self.paths()
                );
            }
        }
    }

    pub fn status_path(kind: &str) -> String {
        format!("/_localstack_lambda/{EXECUTOR_ID}/status/{RUNTIME_ID}/{kind}")
    }

    pub fn invocation_path(id: &str, kind: &str) -> String {
        format!("/_localstack_lambda/{EXECUTOR_ID}/invocations/{id}/{kind}")
    }

    /// Waits for the invocation's result and returns (logs, result) with their positions.
    pub async fn wait_result(&self, id: &str) -> InvocationReport {
        let response = Self::invocation_path(id, "response");
        let error = Self::invocation_path(id, "error");
        let records = self
            .wait_for(&format!("the result of invocation {id}"), |rs| {
                rs.iter().any(|r| r.path == response || r.path == error)
            })
            .await;
        let logs_path = Self::invocation_path(id, "logs");
        let logs_at = records.iter().position(|r| r.path == logs_path);
        let result_at = records
            .iter()
            .position(|r| r.path == response || r.path == error)
            .unwrap();
        let result = records[result_at].clone();
        InvocationReport {
            logs: logs_at.map(|i| {
                records[i].json()["logs"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            }),
            logs_at,
            result_at,
            is_error: result.path == error,
            result,
        }
    }
}

impl Drop for FakeLocalStack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// What LocalStack got for one invocation.
#[derive(Debug)]
pub struct InvocationReport {
    pub logs: Option<String>,
    pub logs_at: Option<usize>,
    pub result_at: usize,
    pub is_error: bool,
    pub result: Recorded,
}

impl InvocationReport {
    pub fn logs(&self) -> &str {
        self.logs
            .as_deref()
            .expect("logs were posted for the invocation")
    }

    pub fn response_json(&self) -> Value {
        assert!(
            !self.is_error,
            "expected a response, got error {}",
            self.result.text()
        );
        self.result.json()
    }

    pub fn error_json(&self) -> Value {
        assert!(
            self.is_error,
            "expected an error, got response {}",
            self.result.text()
        );
        self.result.json()
    }
}

/// The real Python interpreter: `python3` on PATH may be a shim (pyenv) that adds its
/// own variables to the environment, which would blur the environment checks.
fn python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        std::process::Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| s.starts_with('/'))
            .unwrap_or_else(|| "/usr/bin/env python3".to_owned())
    })
}

/// A temp dir holding `bootstrap` (the Python test runtime unless told otherwise).
pub struct TaskRoot {
    pub dir: tempfile::TempDir,
}

impl TaskRoot {
    pub fn with_bootstrap(script: &str) -> TaskRoot {
        let dir = tempfile::Builder::new()
            .prefix("lsk-init-test-")
            .tempdir()
            .unwrap();
        let path = dir.path().join("bootstrap");
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        TaskRoot { dir }
    }

    pub fn python() -> TaskRoot {
        TaskRoot::python_at(python())
    }

    /// The Python test runtime run by `interpreter` (an absolute path).
    pub fn python_at(interpreter: &str) -> TaskRoot {
        TaskRoot::with_bootstrap(&BOOTSTRAP.replacen("/usr/bin/env python3", interpreter, 1))
    }

    pub fn empty() -> TaskRoot {
        TaskRoot {
            dir: tempfile::Builder::new()
                .prefix("lsk-init-test-")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Pids of every bootstrap started from this task root (each writes `pid-<n>`).
    pub fn bootstrap_pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = std::fs::read_dir(self.path())
            .unwrap()
            .filter_map(|e| {
                e.ok()?
                    .file_name()
                    .to_str()?
                    .strip_prefix("pid-")?
                    .parse()
                    .ok()
            })
            .collect();
        pids.sort();
        pids
    }
}

/// A running `lsk-init`.
pub struct Init {
    pub child: Child,
    pub addr: SocketAddr,
    pub stdin: Option<ChildStdin>,
    stderr: Arc<Mutex<String>>,
    extra_stdout: Arc<Mutex<String>>,
}

/// Environment LocalStack's executor would give `lsk-init`.
pub fn localstack_env(
    ls: &FakeLocalStack,
    root: &TaskRoot,
    timeout_secs: u32,
) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for (k, v) in [
        ("AWS_LAMBDA_FUNCTION_NAME", "fn-under-test"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "ls-access-key"),
        ("AWS_SECRET_ACCESS_KEY", "ls-secret"),
        ("AWS_SESSION_TOKEN", "ls-token"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:4566"),
        ("LOCALSTACK_RUNTIME_ID", RUNTIME_ID),
        ("_HANDLER", "bootstrap"),
        ("TZ", ":UTC"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/fn-under-test"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2024/01/01/[$LATEST]abc"),
        ("MY_FUNCTION_VAR", "hello"),
        ("LSK_INIT_LOG", "lsk_init=debug"),
        // Host paths, so the test bootstrap can leave files in its task root for the tests;
        // tests/filesystem.rs covers the /var/task view.
        ("LSK_INIT_FS", "host"),
    ] {
        env.insert(k.to_owned(), v.to_owned());
    }
    env.insert(
        "AWS_LAMBDA_FUNCTION_TIMEOUT".into(),
        timeout_secs.to_string(),
    );
    env.insert("LOCALSTACK_RUNTIME_ENDPOINT".into(), ls.endpoint());
    env.insert(
        "LAMBDA_TASK_ROOT".into(),
        root.path().to_str().unwrap().to_owned(),
    );
    env.insert(
        "PATH".into(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/local/bin:/usr/bin:/bin".into()),
    );
    env
}

impl Init {
    /// Starts `lsk-init` the way LocalStack's executor does: a clean environment.
    pub async fn localstack(env: &BTreeMap<String, String>) -> Init {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lsk-init"));
        cmd.env_clear().envs(env);
        Init::start(cmd).await
    }

    /// Starts `lsk-init --standalone` from a developer's shell: it inherits everything.
    pub async fn standalone(root: &TaskRoot, args: &[&str], extra_env: &[(&str, &str)]) -> Init {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lsk-init"));
        cmd.arg("--standalone")
            .arg(root.path())
            .args(["--listen", "127.0.0.1:0"])
            .args(args);
        // Host paths unless the test asks otherwise (see `localstack_env`).
        cmd.env("LSK_INIT_FS", "host");
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        Init::start(cmd).await
    }

    /// Starts `cmd` (an lsk-init command line) and waits for its address.
    pub async fn start(mut cmd: Command) -> Init {
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn lsk-init");
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let mut pipe = child.stderr.take().unwrap();
            let stderr = stderr.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    stderr
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        let read = tokio::time::timeout(WAIT, stdout.read_line(&mut first)).await;
        if !matches!(read, Ok(Ok(n)) if n > 0) {
            panic!(
                "lsk-init did not announce its address ({read:?}); stderr:\n{}",
                stderr.lock().unwrap()
            );
        }
        let addr = first
            .strip_prefix("LSK_INIT_LISTENING ")
            .and_then(|a| a.strip_suffix('\n'))
            .and_then(|a| a.parse::<SocketAddr>().ok())
            .unwrap_or_else(|| panic!("unexpected first stdout line {first:?}"));
        assert!(addr.ip().is_loopback(), "listens on loopback only: {addr}");
        let extra_stdout = Arc::new(Mutex::new(String::new()));
        {
            let extra = extra_stdout.clone();
            tokio::spawn(async move {
                let mut rest = String::new();
                let _ = stdout.read_to_string(&mut rest).await;
                extra.lock().unwrap().push_str(&rest);
            });
        }
        let stdin = child.stdin.take();
        Init {
            child,
            addr,
            stdin,
            stderr,
            extra_stdout,
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Anything printed on stdout after the announcement line (must stay empty).
    pub fn extra_stdout(&self) -> String {
        self.extra_stdout.lock().unwrap().clone()
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("lsk-init still running")
    }

    /// Sends LocalStack's `POST /invoke`.
    pub async fn invoke(&self, id: &str, payload: &str) -> (StatusCode, Bytes) {
        let (status, _, body) = post(self.addr, "/invoke", invoke_body(id, payload)).await;
        (status, body)
    }

    /// Sends `POST /invoke` asking for the result in the answer (`x-lsk-result: inline`).
    pub async fn invoke_inline(&self, id: &str, payload: &str) -> Inline {
        let (status, headers, body) = request_with(
            self.addr,
            Method::POST,
            "/invoke",
            &[("x-lsk-result", "inline")],
            invoke_body(id, payload),
        )
        .await;
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let split = header("x-lsk-payload-length").and_then(|n| n.parse::<usize>().ok());
        let (payload, logs) = match split {
            Some(n) if n <= body.len() => (
                body.slice(..n),
                String::from_utf8_lossy(&body[n..]).into_owned(),
            ),
            _ => (body.clone(), String::new()),
        };
        Inline {
            status,
            outcome: header("x-lsk-outcome"),
            payload,
            logs,
        }
    }

    /// Waits (bounded) for the process to exit and returns its exit code.
    pub async fn wait_exit(&mut self, what: &str) -> Option<i32> {
        match tokio::time::timeout(WAIT, self.child.wait()).await {
            Ok(Ok(status)) => status.code(),
            other => panic!(
                "lsk-init did not exit after {what} ({other:?}); stderr:\n{}",
                self.stderr()
            ),
        }
    }
}

impl Drop for Init {
    /// Asks for a clean shutdown, so the init removes its temp dir and bootstrap, and
    /// falls back to SIGKILL if it does not exit in time.
    fn drop(&mut self) {
        let Some(pid) = self.child.id() else {
            return;
        };
        if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.start_kill();
    }
}

/// LocalStack's `/invoke` body.
fn invoke_body(id: &str, payload: &str) -> Bytes {
    let body = serde_json::json!({
        "invoke-id": id,
        "invoked-function-arn": "arn:aws:lambda:us-east-1:000000000000:function:fn-under-test",
        "payload": payload,
        "trace-id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    });
    Bytes::from(body.to_string())
}

/// The answer to an inline `/invoke`, split as the executor splits it.
#[derive(Debug)]
pub struct Inline {
    pub status: StatusCode,
    /// `response` or `error` (`x-lsk-outcome`); `None` when the init refused the invoke.
    pub outcome: Option<String>,
    pub payload: Bytes,
    pub logs: String,
}

impl Inline {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.payload).unwrap_or_else(|e| {
            panic!(
                "payload is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.payload)
            )
        })
    }
}

/// POSTs `body` to `path` on a fresh connection; returns status, headers and body.
pub async fn post(addr: SocketAddr, path: &str, body: Bytes) -> (StatusCode, HeaderMap, Bytes) {
    request(addr, Method::POST, path, body).await
}

pub async fn request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: Bytes,
) -> (StatusCode, HeaderMap, Bytes) {
    request_with(addr, method, path, &[], body).await
}

pub async fn request_with(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> (StatusCode, HeaderMap, Bytes) {
    let stream = TcpStream::connect(addr).await.expect("connect to lsk-init");
    stream.set_nodelay(true).unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("HTTP handshake");
    tokio::spawn(conn);
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string())
        .header("content-type", "application/json");
    let req = headers
        .iter()
        .fold(req, |req, (k, v)| req.header(*k, *v))
        .body(Full::new(body))
        .unwrap();
    let resp = tokio::time::timeout(WAIT, sender.send_request(req))
        .await
        .unwrap_or_else(|_| panic!("no answer to {path} within {WAIT:?}"))
        .expect("request to lsk-init");
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .collect()
        .await
        .expect("response body")
        .to_bytes();
    (status, headers, body)
}

/// Whether a process is gone (or only a zombie waiting to be reaped by someone else).
pub fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // Field 3, after the parenthesised command name, is the state.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Waits (bounded) until `pid` is gone.
pub async fn wait_gone(pid: u32, what: &str) {
    let start = Instant::now();
    while !process_gone(pid) {
        assert!(
            start.elapsed() < WAIT,
            "process {pid} ({what}) is still alive after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Checks the logs' frame: START first, END then REPORT last, `lines` in between in order.
pub fn assert_log_frame(logs: &str, id: &str, lines: &[&str]) {
    let all: Vec<&str> = logs.lines().collect();
    assert_eq!(
        all.first().copied(),
        Some(format!("START RequestId: {id} Version: $LATEST").as_str()),
        "logs:\n{logs}"
    );
    let n = all.len();
    assert!(n >= 3, "logs:\n{logs}");
    assert_eq!(all[n - 2], format!("END RequestId: {id}"), "logs:\n{logs}");
    assert!(
        all[n - 1].starts_with(&format!("REPORT RequestId: {id}\tDuration: ")),
        "logs:\n{logs}"
    );
    let mut from = 1;
    for line in lines {
        let at = all[from..n - 2]
            .iter()
            .position(|l| l.contains(line))
            .unwrap_or_else(|| panic!("{line:?} missing (or out of order) in logs:\n{logs}"));
        from += at + 1;
    }
}
