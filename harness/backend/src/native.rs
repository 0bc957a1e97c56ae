//! The native backend: a pinned LocalStack in a project-local venv, run as a child process.
//!
//! The kit's `localstack/install.sh` (see [`crate::kit`]) installs LocalStack 4.13.1 and our
//! plugin (process executor, loopback-only gateway) into `<root>/.lsk/venv`. LocalStack then runs Lambdas as host
//! processes through `lsk-init`; nothing here needs Docker.
//!
//! Two lifetimes: attached (tests) ties LocalStack to the caller through a stdin pipe, so it
//! stops even when the caller is killed; detached (`lsk up`) records a pid file that
//! `lsk down` uses.

pub mod procs;

use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde::{Deserialize, Serialize};

pub use procs::{is_alive, listening_sockets};

/// Live descendants of `pid` whose command line contains `needle` (e.g. `lsk-init`).
pub fn descendants_named(pid: u32, needle: &str) -> Vec<u32> {
    procs::descendants(pid)
        .into_iter()
        .filter(|p| procs::cmdline(*p).is_some_and(|c| c.contains(needle)))
        .collect()
}

/// Every live descendant of `pid` with its command line.
pub fn descendants(pid: u32) -> Vec<(u32, String)> {
    procs::descendants(pid)
        .into_iter()
        .map(|p| (p, procs::cmdline(p).unwrap_or_default()))
        .collect()
}

/// Services the kit always uses; LocalStack starts them eagerly so the first call is not slow.
/// Others (events, sns, apigateway, stepfunctions) are added only when the manifest uses them,
/// since each costs start-up time and memory.
///
/// Not `cloudwatch`: with it, LocalStack starts a thread per invocation that puts an
/// `Invocations` metric through its own gateway, competing for the GIL on the invoke path
/// (warm invoke p50 went from ~34 to ~22 ms under load). Add it with `LSK_SERVICES` if you
/// need Lambda metrics.
pub const SERVICES: &str = "lambda,sqs,s3,logs,iam,sts";
const PID_FILE: &str = "localstack.json";
const LOG_FILE: &str = "localstack.log";
const STOP_GRACE: Duration = Duration::from_secs(10);

/// What can go wrong installing, starting or stopping native LocalStack.
#[derive(Debug, thiserror::Error)]
pub enum NativeError {
    #[error(transparent)]
    Venv(#[from] lsk_kit::venv::VenvError),
    #[error(
        "port {port} on 127.0.0.1 is already in use{by}; stop it or pick another port with --port"
    )]
    PortInUse { port: u16, by: String },
    #[error(
        "native LocalStack is already running (pid {pid}, {endpoint}); use it, or stop it with `lsk down`"
    )]
    AlreadyRunning { pid: u32, endpoint: String },
    #[error("LocalStack did not become healthy within {secs} s; last lines of {log}:\n{tail}")]
    Unhealthy {
        secs: u64,
        log: PathBuf,
        tail: String,
    },
    #[error("LocalStack exited during start-up ({status}); last lines of {log}:\n{tail}")]
    Exited {
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error(
        "the lsk-init binary {path} does not exist; build it with `cargo build --release -p lsk-init`"
    )]
    InitMissing { path: PathBuf },
    #[error(transparent)]
    Kit(#[from] crate::kit::KitError),
    #[error("processes started by LocalStack survived its stop and were killed: {pids}")]
    LeftBehind { pids: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl NativeError {
    /// What to do about it, when there is something beyond the message.
    pub fn hint(&self) -> Option<String> {
        match self {
            NativeError::PortInUse { .. } => {
                Some("`lsk down` stops a LocalStack started by `lsk up`".into())
            }
            _ => None,
        }
    }
}

impl miette::Diagnostic for NativeError {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.hint()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display + 'a>)
    }
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> NativeError {
    let what = what.into();
    move |source| NativeError::Io { what, source }
}

/// How to start native LocalStack.
#[derive(Debug, Clone)]
pub struct NativeConfig {
    /// Workspace root (holds `lsk.toml` and `.lsk/`).
    pub project_root: PathBuf,
    /// Where state, logs and the pid file go (default `<root>/.lsk/state`).
    pub state_dir: PathBuf,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// The `lsk-init` binary the process executor runs per environment.
    pub init_bin: PathBuf,
    /// true: survive the calling process (`lsk up`), recorded in a pid file for `lsk down`.
    /// false: stop when the caller exits, even if it crashes (tests).
    pub detach: bool,
    /// Extra LocalStack settings (e.g. `LAMBDA_KEEPALIVE_MS`).
    pub env: Vec<(String, String)>,
    /// Services to start besides [`SERVICES`].
    pub services: Vec<String>,
}

/// What `lsk up` leaves behind for `lsk down` and `lsk status`.
#[derive(Debug, Serialize, Deserialize)]
struct PidRecord {
    pid: u32,
    port: u16,
    endpoint: String,
}

/// A running native LocalStack.
#[derive(Debug)]
pub struct NativeLocalStack {
    endpoint: String,
    port: u16,
    pid: u32,
    log: PathBuf,
    /// Attached mode: the child, whose stdin is the lifeline.
    child: Option<Child>,
    pid_file: Option<PathBuf>,
}

impl NativeLocalStack {
    /// Install if needed, start, wait for health. `progress` receives one-line status updates.
    pub async fn start(
        cfg: NativeConfig,
        progress: &(dyn Fn(&str) + Send + Sync),
    ) -> Result<Self, NativeError> {
        if !cfg.init_bin.is_file() {
            return Err(NativeError::InitMissing {
                path: cfg.init_bin.clone(),
            });
        }
        let python = lsk_kit::venv::ensure_installed(&cfg.project_root, progress).await?;
        if let Some((pid, endpoint)) = find_detached(&cfg.state_dir) {
            return Err(NativeError::AlreadyRunning { pid, endpoint });
        }
        let port = reserve_port(cfg.port).await?;
        let endpoint = format!("http://127.0.0.1:{port}");

        let state = &cfg.state_dir;
        for dir in ["tmp", "fs", "volume"] {
            fs::create_dir_all(state.join(dir))
                .map_err(io(format!("creating {}", state.join(dir).display())))?;
        }
        link_service_catalog(&python, state);
        let log = state.join(LOG_FILE);
        let log_out = fs::File::create(&log).map_err(io(format!("creating {}", log.display())))?;
        let log_err = log_out
            .try_clone()
            .map_err(io(format!("opening {}", log.display())))?;

        let mut cmd = Command::new(&python);
        cmd.args(["-m", "lsk_localstack.launch"])
            .current_dir(&cfg.project_root)
            .env_clear()
            .envs(localstack_env(&cfg, port))
            .stdout(log_out)
            .stderr(log_err);
        if cfg.detach {
            // Own process group: a Ctrl-C in the terminal that ran `lsk up` must not stop it.
            cmd.stdin(Stdio::null()).process_group(0);
        } else {
            cmd.stdin(Stdio::piped()).env("LSK_LIFELINE", "1");
        }
        progress(&format!("starting native LocalStack on {endpoint}"));
        let mut child = cmd
            .spawn()
            .map_err(io(format!("starting {}", python.display())))?;
        let pid = child.id();

        let mut this = NativeLocalStack {
            endpoint,
            port,
            pid,
            log,
            child: None,
            pid_file: None,
        };
        if let Err(e) = this.wait_healthy(&mut child).await {
            procs::signal(pid, Signal::SIGKILL);
            reap(child).await;
            return Err(e);
        }
        if cfg.detach {
            let record = PidRecord {
                pid,
                port,
                endpoint: this.endpoint.clone(),
            };
            let path = state.join(PID_FILE);
            let json = serde_json::to_string(&record).unwrap_or_default();
            fs::write(&path, json).map_err(io(format!("writing {}", path.display())))?;
            this.pid_file = Some(path);
            // Dropping a std Child neither kills nor waits: LocalStack lives on after `lsk up`.
            drop(child);
        } else {
            this.child = Some(child);
        }
        Ok(this)
    }

    async fn wait_healthy(&self, child: &mut Child) -> Result<(), NativeError> {
        use super::ready::{NotReady, Wait, WaitFor};
        let timeout = std::env::var("LSK_START_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(120));
        let wait = Wait::new(
            &self.endpoint,
            WaitFor::Services(super::external::NEEDED_SERVICES),
            timeout,
        );
        let gone = || child.try_wait().ok().flatten().map(|s| s.to_string());
        match wait.until_ready(gone).await {
            Ok(_) => Ok(()),
            Err(NotReady::Gone(status)) => Err(NativeError::Exited {
                status,
                log: self.log.clone(),
                tail: tail(&self.log, 30),
            }),
            Err(NotReady::TimedOut { within, .. }) => Err(NativeError::Unhealthy {
                secs: within.as_secs(),
                log: self.log.clone(),
                tail: tail(&self.log, 30),
            }),
        }
    }

    /// `http://127.0.0.1:<port>`
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// SIGTERM, then SIGKILL after a grace period; then verify no init/bootstrap of ours is left.
    pub async fn stop(mut self) -> Result<(), NativeError> {
        let child = self.child.take();
        let result = terminate(self.pid, child).await;
        if let Some(path) = self.pid_file.take() {
            let _ = fs::remove_file(path);
        }
        result
    }
}

impl Drop for NativeLocalStack {
    fn drop(&mut self) {
        // Attached and never stopped explicitly: closing stdin (the lifeline) makes LocalStack
        // shut itself down, its inits and bootstraps with it.
        if let Some(mut child) = self.child.take() {
            drop(child.stdin.take());
            procs::signal(self.pid, Signal::SIGTERM);
            let _ = child.try_wait();
        }
    }
}

/// Collects the exit status of a child that was told to stop. std's `wait` blocks until the
/// process is gone, so it runs on a blocking thread. (The child is a std one, not tokio's:
/// tests keep LocalStack in a static that outlives the runtime that started it, and a tokio
/// child is tied to its runtime's driver.)
async fn reap(mut child: Child) {
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
}

/// Stops `pid` and everything it started, and proves it from the process table.
async fn terminate(pid: u32, mut child: Option<Child>) -> Result<(), NativeError> {
    let tree = procs::descendants(pid);
    if let Some(c) = child.as_mut() {
        drop(c.stdin.take());
    }
    procs::signal(pid, Signal::SIGTERM);
    if !procs::wait_gone(pid, STOP_GRACE).await {
        // LocalStack can ignore SIGTERM while busy.
        procs::signal(pid, Signal::SIGKILL);
        procs::wait_gone(pid, Duration::from_secs(5)).await;
    }
    if let Some(c) = child {
        reap(c).await;
    }
    // Inits exit on their own when LocalStack's end of their lifeline closes; give them a moment.
    let mut survivors = Vec::new();
    for p in tree {
        if !procs::wait_gone(p, Duration::from_secs(3)).await {
            let what = procs::cmdline(p).unwrap_or_default();
            procs::signal(p, Signal::SIGKILL);
            procs::wait_gone(p, Duration::from_secs(2)).await;
            survivors.push(format!("{p} ({what})"));
        }
    }
    if survivors.is_empty() {
        Ok(())
    } else {
        Err(NativeError::LeftBehind {
            pids: survivors.join(", "),
        })
    }
}

/// Where `localstack/install.sh` puts LocalStack's service catalog index, under the venv.
const CATALOG_DIR: &str = "lsk-fs/usr/lib/localstack";

/// Points the instance's static libs dir at the catalog index built at install time. Without it
/// LocalStack builds the index at its first start, loading every AWS service spec: measured
/// here, 600 MB of RSS kept for the life of that LocalStack instead of 230 MB, and 11 s to start
/// instead of 4. Missing pieces only cost that, so they are not errors.
fn link_service_catalog(python: &Path, state: &Path) {
    let Some(venv) = python.parent().and_then(Path::parent) else {
        return;
    };
    let catalog = venv.join(CATALOG_DIR);
    let static_libs = state.join("fs").join("usr/lib/localstack");
    if !catalog.is_dir() || static_libs.exists() {
        return;
    }
    if let Some(parent) = static_libs.parent() {
        let _ = fs::create_dir_all(parent);
    }
    let _ = std::os::unix::fs::symlink(&catalog, &static_libs);
}

/// The environment LocalStack runs with: built from scratch, so none of the host's variables
/// (AWS credentials above all) reach LocalStack or, through it, function code.
fn localstack_env(cfg: &NativeConfig, port: u16) -> Vec<(String, String)> {
    let state = &cfg.state_dir;
    let host = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.to_string());
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), host("PATH", "/usr/local/bin:/usr/bin:/bin")),
        ("HOME".into(), host("HOME", "/tmp")),
        ("LANG".into(), "C.UTF-8".into()),
        ("GATEWAY_LISTEN".into(), format!("127.0.0.1:{port}")),
        // Our loopback-only server: stock Twisted ignores the host part and binds 0.0.0.0.
        ("GATEWAY_SERVER".into(), "lsk-twisted".into()),
        ("LSK_INIT_BIN".into(), cfg.init_bin.display().to_string()),
        (
            "FILESYSTEM_ROOT".into(),
            state.join("fs").display().to_string(),
        ),
        (
            "LOCALSTACK_VOLUME_DIR".into(),
            state.join("volume").display().to_string(),
        ),
        // Function code is unzipped under the temp dir: keep it inside the project.
        ("TMPDIR".into(), state.join("tmp").display().to_string()),
        // LocalStack takes a machine with /.dockerenv (CI runners, dev containers) for its own
        // container and then uses /var/lib/localstack and /tmp/localstack, shared by every
        // instance on the machine, instead of FILESYSTEM_ROOT.
        ("OVERRIDE_IN_DOCKER".into(), "0".into()),
    ];
    env.extend(super::common_env(port, &cfg.services));
    for (k, v) in &cfg.env {
        env.retain(|(ek, _)| ek != k);
        env.push((k.clone(), v.clone()));
    }
    env
}

/// Checks that `port` is free on 127.0.0.1 (0: picks a free one) and returns it.
async fn reserve_port(port: u16) -> Result<u16, NativeError> {
    match TcpListener::bind(("127.0.0.1", port)) {
        Ok(l) => l
            .local_addr()
            .map(|a| a.port())
            .map_err(io("reading the chosen port")),
        Err(_) => Err(NativeError::PortInUse {
            port,
            by: procs::listener_of(port)
                .await
                .map(|who| format!(" by {who}"))
                .unwrap_or_default(),
        }),
    }
}

/// The last `n` lines of a file, for error messages.
fn tail(path: &Path, n: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A detached instance recorded in `state_dir` (by `lsk up`), if it is still alive.
pub fn find_detached(state_dir: &Path) -> Option<(u32, String)> {
    let text = fs::read_to_string(state_dir.join(PID_FILE)).ok()?;
    let record: PidRecord = serde_json::from_str(&text).ok()?;
    let ours = procs::cmdline(record.pid).is_some_and(|c| c.contains("lsk_localstack.launch"));
    (ours && procs::is_alive(record.pid)).then_some((record.pid, record.endpoint))
}

/// Stop a detached instance recorded in `state_dir`. Ok(false) when none was running.
pub async fn stop_detached(state_dir: &Path) -> Result<bool, NativeError> {
    let path = state_dir.join(PID_FILE);
    let Some((pid, _)) = find_detached(state_dir) else {
        let _ = fs::remove_file(path);
        return Ok(false);
    };
    let result = terminate(pid, None).await;
    let _ = fs::remove_file(path);
    result.map(|()| true)
}

/// Interpreters `install.sh` tries, in its order, when `PYTHON` is not set.
pub const PYTHON_CANDIDATES: &[&str] = &["python3.13", "python3.12", "python3.11", "python3"];

/// Whether the pinned LocalStack (4.13.1) runs on Python `major.minor`: 3.11 to 3.13.
pub fn python_supported(major: u32, minor: u32) -> bool {
    major == 3 && (11..=13).contains(&minor)
}

/// Parses `3.12` (what `python -c 'print("%d.%d" % sys.version_info[:2])'` prints).
pub fn parse_python_version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.trim().split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

async fn python_version(python: &str) -> Option<(u32, u32)> {
    let out = tokio::process::Command::new(python)
        .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(5), out)
        .await
        .ok()?
        .ok()?;
    out.status
        .success()
        .then(|| parse_python_version(&String::from_utf8_lossy(&out.stdout)))
        .flatten()
}

/// Whether the native backend can run here: Linux, and either the venv is installed or an
/// interpreter `install.sh` would accept is on PATH (the same order it tries).
pub async fn probe(project_root: &Path) -> super::NativeProbe {
    use super::NativeProbe;
    if !cfg!(target_os = "linux") {
        return NativeProbe::Unavailable {
            why: format!(
                "the native backend needs Linux (/proc, PR_SET_PDEATHSIG); this is {}",
                std::env::consts::OS
            ),
        };
    }
    let venv = lsk_kit::paths::venv(project_root);
    if venv.join("bin/python").is_file() && venv.join(".lsk-installed").is_file() {
        return NativeProbe::Available {
            how: "LocalStack is installed in .lsk/venv".into(),
        };
    }
    let explicit = std::env::var("PYTHON")
        .ok()
        .filter(|p| !p.trim().is_empty());
    let candidates: Vec<String> = match &explicit {
        Some(p) => vec![p.clone()],
        None => PYTHON_CANDIDATES.iter().map(|c| (*c).to_owned()).collect(),
    };
    let mut seen = Vec::new();
    for candidate in candidates {
        match python_version(&candidate).await {
            Some((major, minor)) if python_supported(major, minor) => {
                return NativeProbe::Available {
                    how: format!("{candidate} is Python {major}.{minor}"),
                };
            }
            Some((major, minor)) => seen.push(format!("{candidate} is {major}.{minor}")),
            None => {}
        }
    }
    NativeProbe::Unavailable {
        why: if seen.is_empty() {
            "no Python 3.11-3.13 on PATH".into()
        } else {
            format!("it needs Python 3.11-3.13; {}", seen.join(", "))
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> NativeConfig {
        NativeConfig {
            project_root: "/p".into(),
            state_dir: "/p/.lsk/state".into(),
            port: 4566,
            init_bin: "/p/target/release/lsk-init".into(),
            detach: false,
            env: vec![("LS_LOG".into(), "debug".into())],
            services: Vec::new(),
        }
    }

    #[test]
    fn environment_is_loopback_only_and_has_no_host_credentials() {
        // SAFETY of the test: env vars are only read here, never set; we check that a host
        // credential, if any, is not copied.
        let env = localstack_env(&cfg(), 4599);
        let get = |k: &str| env.iter().find(|(ek, _)| ek == k).map(|(_, v)| v.as_str());
        assert_eq!(get("GATEWAY_LISTEN"), Some("127.0.0.1:4599"));
        assert_eq!(get("GATEWAY_SERVER"), Some("lsk-twisted"));
        assert_eq!(get("LAMBDA_RUNTIME_EXECUTOR"), Some("process"));
        assert_eq!(get("LSK_INIT_BIN"), Some("/p/target/release/lsk-init"));
        assert_eq!(
            get("LS_LOG"),
            Some("debug"),
            "caller settings override defaults"
        );
        assert_eq!(get("AWS_SECRET_ACCESS_KEY"), None);
        assert_eq!(get("AWS_ACCESS_KEY_ID"), None);
        assert_eq!(env.iter().filter(|(k, _)| k == "LS_LOG").count(), 1);
        // SQS mappings drain a queue without LocalStack's 1 s pause after each batch.
        if std::env::var_os("LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC").is_none() {
            assert_eq!(
                get("LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC"),
                Some("0")
            );
        }
    }

    #[test]
    fn pythons_3_11_to_3_13_are_supported() {
        assert_eq!(parse_python_version("3.13\n"), Some((3, 13)));
        assert_eq!(parse_python_version("garbage"), None);
        assert!(python_supported(3, 11) && python_supported(3, 12) && python_supported(3, 13));
        assert!(!python_supported(3, 10) && !python_supported(3, 14) && !python_supported(2, 7));
    }

    #[tokio::test]
    async fn busy_port_is_reported_with_its_owner() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let err = reserve_port(port).await.unwrap_err().to_string();
        assert!(err.contains(&format!("port {port}")), "{err}");
        assert!(err.contains("--port"), "{err}");
        assert_ne!(reserve_port(0).await.unwrap(), 0);
    }

    #[test]
    fn no_detached_instance_without_a_pid_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(find_detached(dir.path()).is_none());
        fs::write(
            dir.path().join(PID_FILE),
            r#"{"pid": 1, "port": 4566, "endpoint": "http://127.0.0.1:4566"}"#,
        )
        .unwrap();
        // pid 1 is alive but is not our launcher: never mistaken for (and never signalled as) ours.
        assert!(find_detached(dir.path()).is_none());
    }
}
