//! Where LocalStack runs, and a handle to it.
//!
//! - `external`: `--endpoint`, `LOCALSTACK_ENDPOINT` or `AWS_ENDPOINT_URL` names a running one;
//!   nothing is started, its health is checked.
//! - `docker`: our image (the same pinned LocalStack, plugin and `lsk-init`, built when missing)
//!   in a container; `docker-official`: LocalStack's official image with its Docker executor.
//! - `native`: a pinned LocalStack in a project-local venv, run as a process (see `native.rs`).
//!
//! `auto` picks external when an endpoint is given, else native where it can run (Linux with
//! Python 3.11-3.13, or a venv already installed), else docker when a daemon answers, and says
//! which and why.

pub mod docker;
pub mod external;
pub mod image;
pub mod native;
pub mod ready;
mod rootfs;

use lsk_aws as aws;
use lsk_build as build;
use lsk_kit::{self as kit, file_lock, progress};

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::progress::Progress;

/// LocalStack settings both started backends run with (a variable of the same name in the
/// environment of `lsk` wins, for the native backend).
///
/// LocalStack's SQS event source poller waits `LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC`
/// (default 1 s) after every batch it handled, so a queue drained at one batch per second: 500
/// messages in batches of 5 took 114 s. AWS polls again at once while a queue has messages; with
/// 0 the same 500 took 9 s (`make bench`). An empty queue is polled again after at most 1 s
/// instead of backing off up to 10 s, so a message sent to an idle queue is picked up within a
/// second (one short `ReceiveMessage` per second and mapping; cheap).
pub const LOCALSTACK_TUNING: &[(&str, &str)] = &[
    ("LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC", "0"),
    (
        "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC",
        "1",
    ),
];

/// LocalStack settings of the backends that run our plugin (native, and docker's kit flavour)
/// for host port `port`, with `services` started besides [`native::SERVICES`]. A variable of the
/// same name in the environment of `lsk` wins.
pub fn common_env(port: u16, services: &[String]) -> Vec<(String, String)> {
    common_env_with(port, services, |k| std::env::var(k).ok())
}

/// The `SERVICES` LocalStack starts: the kit's own, then `extra` (what the manifest needs, see
/// [`crate::Manifest::services`]) without repeats.
pub fn services_setting(extra: &[String]) -> String {
    let mut all: Vec<&str> = native::SERVICES.split(',').collect();
    for s in extra {
        if !all.contains(&s.as_str()) {
            all.push(s);
        }
    }
    all.join(",")
}

/// [`common_env`] with the overriding environment given (the compose file is rendered with none).
pub fn common_env_with(
    port: u16,
    services: &[String],
    lookup: impl Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    let host = |k: &str, default: &str| lookup(k).unwrap_or_else(|| default.to_string());
    let mut env: Vec<(String, String)> = vec![
        // Returned URLs (function URLs, queue URLs) carry the real (published) port.
        (
            "LOCALSTACK_HOST".into(),
            format!("localhost.localstack.cloud:{port}"),
        ),
        ("SQS_ENDPOINT_STRATEGY".into(), "path".into()),
        (
            "SERVICES".into(),
            host("LSK_SERVICES", &services_setting(services)),
        ),
        ("EAGER_SERVICE_LOADING".into(), "1".into()),
        ("LAMBDA_RUNTIME_EXECUTOR".into(), "process".into()),
        ("DNS_ADDRESS".into(), "0".into()),
        ("SKIP_SSL_CERT_DOWNLOAD".into(), "1".into()),
        ("DISABLE_EVENTS".into(), "1".into()),
        ("LS_LOG".into(), host("LS_LOG", "warn")),
        // Read by our executor: results in the answer to /invoke ("inline") or through
        // callbacks ("callback", the Go init's protocol); see localstack/plugin.
        (
            "LSK_INVOKE_RESULTS".into(),
            host("LSK_INVOKE_RESULTS", "inline"),
        ),
        // Read by our executor: how it frames HTTP to lsk-init ("own" reader, or "h11"; both
        // timed by `make bench`'s reader rows).
        ("LSK_EXECUTOR_HTTP".into(), host("LSK_EXECUTOR_HTTP", "own")),
        // Read by our executor plugin: how long Lambda logs wait to be batched into one
        // PutLogEvents call (localstack/plugin/lsk_localstack/logs.py).
        ("LSK_LOG_BATCH_MS".into(), host("LSK_LOG_BATCH_MS", "100")),
        // Read by our plugin: the newest log events kept per CloudWatch log stream, so memory
        // stays flat under many invokes (localstack/plugin/lsk_localstack/retention.py).
        (
            "LSK_LOG_EVENTS_PER_STREAM".into(),
            host("LSK_LOG_EVENTS_PER_STREAM", "10000"),
        ),
        // glibc gives each of LocalStack's many threads up to 8 x cores malloc arenas, each
        // keeping what it freed: 2 took ~20 MB off LocalStack's RSS after a deploy (bench).
        ("MALLOC_ARENA_MAX".into(), host("MALLOC_ARENA_MAX", "2")),
        // Read by our launcher: a 1 ms GIL switch interval cut warm invoke p50 by ~13% (bench).
        (
            "LSK_SWITCH_INTERVAL_MS".into(),
            host("LSK_SWITCH_INTERVAL_MS", "1"),
        ),
    ];
    for (k, v) in LOCALSTACK_TUNING {
        env.push(((*k).into(), host(k, v)));
    }
    // lsk-init's own settings, passed on only when set: its log filter, and `LSK_INIT_FS=host`
    // to run functions from host paths instead of /var/task with a private /tmp.
    for k in ["LSK_INIT_LOG", "LSK_INIT_FS"] {
        if let Some(v) = lookup(k) {
            env.push((k.into(), v));
        }
    }
    env
}

/// The backend asked for (`--backend`, `LSK_BACKEND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// external if an endpoint is set, else native where it can run, else docker if a daemon answers
    #[default]
    Auto,
    /// LocalStack in a project-local venv, Lambdas as host processes
    Native,
    /// our LocalStack image (built offline when missing); Lambdas as processes in the container
    Docker,
    /// LocalStack's official image (localstack/localstack:4.14.0); Lambdas in its own containers
    DockerOfficial,
    /// an already running LocalStack (--endpoint, LOCALSTACK_ENDPOINT or AWS_ENDPOINT_URL)
    External,
}

/// The backend actually used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Native,
    /// Our image in a container.
    Docker,
    /// LocalStack's official image in a container.
    #[serde(rename = "docker-official")]
    DockerOfficial,
    External,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Native => "native",
            BackendKind::Docker => "docker",
            BackendKind::DockerOfficial => "docker-official",
            BackendKind::External => "external",
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The environment backend selection depends on, injected so tests never read the process's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Env {
    pub localstack_endpoint: Option<String>,
    pub aws_endpoint_url: Option<String>,
    pub auth_token: Option<String>,
}

impl Env {
    /// Reads `LOCALSTACK_ENDPOINT`, `AWS_ENDPOINT_URL` and `LOCALSTACK_AUTH_TOKEN`.
    pub fn from_process() -> Env {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Env {
            localstack_endpoint: get("LOCALSTACK_ENDPOINT"),
            aws_endpoint_url: get("AWS_ENDPOINT_URL"),
            auth_token: get("LOCALSTACK_AUTH_TOKEN"),
        }
    }

    /// The endpoint named by the environment and the variable that named it.
    pub fn endpoint(&self) -> Option<(&'static str, &str)> {
        self.localstack_endpoint
            .as_deref()
            .map(|e| ("LOCALSTACK_ENDPOINT", e))
            .or_else(|| {
                self.aws_endpoint_url
                    .as_deref()
                    .map(|e| ("AWS_ENDPOINT_URL", e))
            })
    }
}

/// Whether a Docker daemon answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonProbe {
    Available { version: String },
    Unavailable { why: String },
}

/// Whether the native backend can run on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NativeProbe {
    /// `how`: what it would run with (the installed venv, or the interpreter install.sh would pick).
    Available {
        how: String,
    },
    Unavailable {
        why: String,
    },
}

/// The outcome of backend selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub kind: BackendKind,
    /// For external: the endpoint to use.
    pub endpoint: Option<String>,
    /// One line saying why, shown to the user.
    pub reason: String,
}

/// How long `auto` waits for `docker info` before deciding there is no daemon.
pub const DAEMON_PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Picks a backend with this machine's probes (see [`select`]).
pub async fn select_here(
    choice: BackendChoice,
    explicit_endpoint: Option<&str>,
    env: &Env,
    project_root: &Path,
) -> Selection {
    select(
        choice,
        explicit_endpoint,
        env,
        || native::probe(project_root),
        || docker::probe_daemon(DAEMON_PROBE_TIMEOUT),
    )
    .await
}

/// Picks a backend. Each probe is only run when the answer depends on it.
pub async fn select<N, NFut, D, DFut>(
    choice: BackendChoice,
    explicit_endpoint: Option<&str>,
    env: &Env,
    native_probe: N,
    docker_probe: D,
) -> Selection
where
    N: FnOnce() -> NFut,
    NFut: Future<Output = NativeProbe>,
    D: FnOnce() -> DFut,
    DFut: Future<Output = DaemonProbe>,
{
    let endpoint_source = explicit_endpoint
        .map(|e| ("--endpoint", e))
        .or_else(|| env.endpoint());
    match choice {
        BackendChoice::Native => Selection {
            kind: BackendKind::Native,
            endpoint: None,
            reason: "native: asked for (--backend native / LSK_BACKEND=native)".into(),
        },
        BackendChoice::Docker => Selection {
            kind: BackendKind::Docker,
            endpoint: None,
            reason: "docker: asked for (--backend docker / LSK_BACKEND=docker)".into(),
        },
        BackendChoice::DockerOfficial => Selection {
            kind: BackendKind::DockerOfficial,
            endpoint: None,
            reason: format!(
                "docker-official: asked for ({}, LocalStack's own Docker executor)",
                docker::OFFICIAL_IMAGE
            ),
        },
        BackendChoice::External => Selection {
            kind: BackendKind::External,
            endpoint: endpoint_source.map(|(_, e)| e.to_owned()),
            reason: match endpoint_source {
                Some((source, e)) => format!("external: asked for; endpoint {e} from {source}"),
                None => "external: asked for; no endpoint set, using the default port".into(),
            },
        },
        BackendChoice::Auto => {
            if let Some((source, e)) = endpoint_source {
                let how = if source == "--endpoint" {
                    "was given"
                } else {
                    "is set"
                };
                return Selection {
                    kind: BackendKind::External,
                    endpoint: Some(e.to_owned()),
                    reason: format!("external: {source} {how} ({e}), so nothing is started"),
                };
            }
            let why_not_native = match native_probe().await {
                NativeProbe::Available { how } => {
                    return Selection {
                        kind: BackendKind::Native,
                        endpoint: None,
                        reason: format!("native: it runs here ({how})"),
                    };
                }
                NativeProbe::Unavailable { why } => why,
            };
            match docker_probe().await {
                DaemonProbe::Available { version } => Selection {
                    kind: BackendKind::Docker,
                    endpoint: None,
                    reason: format!(
                        "docker: native cannot run here ({why_not_native}) and a Docker daemon answers (server {version})"
                    ),
                },
                // Neither works: native's installer says best what to install.
                DaemonProbe::Unavailable { why } => Selection {
                    kind: BackendKind::Native,
                    endpoint: None,
                    reason: format!(
                        "native: the only choice left ({why_not_native}; no Docker daemon either: {why})"
                    ),
                },
            }
        }
    }
}

/// What can go wrong getting a LocalStack.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Native(#[from] native::NativeError),
    #[error("{endpoint} is not a usable endpoint: {why}")]
    BadEndpoint { endpoint: String, why: String },
    #[error("LocalStack at {endpoint} is not healthy: {detail}")]
    Unhealthy { endpoint: String, detail: String },
    #[error("no {backend} LocalStack is running{at}; start one with `lsk up`{also}")]
    NotRunning {
        backend: BackendKind,
        at: String,
        also: String,
    },
    #[error(
        "the docker backend needs a Docker daemon, but {why}; start Docker, or use --backend native"
    )]
    DockerUnavailable { why: String },
    #[error("docker {step} failed{}: {detail}", if command.is_empty() { String::new() } else { format!(" ({command})") })]
    Docker {
        step: String,
        command: String,
        detail: String,
    },
    #[error("building lsk-init failed: {0}")]
    Init(#[source] Box<crate::build::BuildError>),
    #[error("our LocalStack image: {step} failed: {detail}")]
    Image {
        step: String,
        detail: String,
        hint: Option<String>,
    },
    #[error("the LocalStack container did not become ready: {detail}")]
    ContainerFailed { detail: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the LocalStack at {endpoint} was started without {} which the manifest uses",
        missing.join(", ")
    )]
    MissingServices {
        endpoint: String,
        missing: Vec<String>,
    },
}

impl BackendError {
    /// What to do about it, when there is something beyond the message.
    pub fn hint(&self) -> Option<String> {
        match self {
            BackendError::MissingServices { .. } => Some(
                "restart it so it starts them: `lsk down`, then `lsk up` (an external LocalStack needs them in its SERVICES)".into(),
            ),
            BackendError::Unhealthy { endpoint, .. } => Some(format!(
                "check that LocalStack runs at {endpoint} (curl {endpoint}/_localstack/health), or unset LOCALSTACK_ENDPOINT / AWS_ENDPOINT_URL to let lsk start one"
            )),
            BackendError::Native(e) => e.hint(),
            BackendError::Image { hint, .. } => hint.clone(),
            BackendError::DockerUnavailable { .. } => Some(
                "the native backend needs no Docker: `lsk up --backend native` (Linux, Python 3.11-3.13)"
                    .into(),
            ),
            _ => None,
        }
    }
}

impl miette::Diagnostic for BackendError {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.hint()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display + 'a>)
    }
}

/// How to start or find LocalStack.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// Workspace root (holds `localstack/` and `.lsk/`).
    pub project_root: PathBuf,
    /// Native state, logs and pid file (default `<root>/.lsk/state`).
    pub state_dir: PathBuf,
    /// Port on 127.0.0.1 (0: a free one, for tests).
    pub port: u16,
    pub region: String,
    /// `--endpoint`: an already running LocalStack.
    pub endpoint: Option<String>,
    /// true for `lsk up`: LocalStack outlives this process until `lsk down`.
    pub detach: bool,
    pub env: Env,
    /// Extra settings for native LocalStack (e.g. `LAMBDA_KEEPALIVE_MS`).
    pub native_env: Vec<(String, String)>,
    /// Services to start besides the kit's own: what the manifest uses
    /// ([`crate::Manifest::services`]).
    pub services: Vec<String>,
    /// An `lsk-init` already built in release; when `None` the native backend builds it.
    pub init_bin: Option<PathBuf>,
    /// The base of our LocalStack image (docker backend); `None`: see `image::ensure_base`.
    pub docker_base: Option<String>,
    pub progress: Progress,
}

/// Default LocalStack port.
pub const DEFAULT_PORT: u16 = 4566;

impl StartOptions {
    /// Defaults for `project_root`: port 4566, us-east-1, not detached, the process environment.
    pub fn new(project_root: impl Into<PathBuf>) -> StartOptions {
        let project_root = project_root.into();
        StartOptions {
            state_dir: state_dir(&project_root),
            project_root,
            port: DEFAULT_PORT,
            region: crate::aws::DEFAULT_REGION.to_owned(),
            endpoint: None,
            detach: false,
            env: Env::from_process(),
            native_env: Vec::new(),
            services: Vec::new(),
            init_bin: None,
            docker_base: None,
            progress: Progress::silent(),
        }
    }

    pub fn init_bin(mut self, init_bin: Option<PathBuf>) -> Self {
        self.init_bin = init_bin;
        self
    }
    pub fn docker_base(mut self, base: Option<String>) -> Self {
        self.docker_base = base;
        self
    }
    pub fn native_env(mut self, env: Vec<(String, String)>) -> Self {
        self.native_env = env;
        self
    }
    /// Services to start besides the kit's own (see [`crate::Manifest::services`]).
    pub fn services(mut self, services: Vec<String>) -> Self {
        self.services = services;
        self
    }

    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }
    pub fn detach(mut self, detach: bool) -> Self {
        self.detach = detach;
        self
    }
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = progress;
        self
    }
    pub fn endpoint(mut self, endpoint: Option<String>) -> Self {
        self.endpoint = endpoint;
        self
    }
    pub fn env(mut self, env: Env) -> Self {
        self.env = env;
        self
    }
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }
}

/// `<root>/.lsk/state`
pub fn state_dir(root: &Path) -> PathBuf {
    root.join(".lsk").join("state")
}

#[derive(Debug)]
enum Running {
    /// Someone else's; nothing to stop.
    External,
    /// Started by this handle.
    Native(native::NativeLocalStack),
    /// Started by an earlier `lsk up`.
    NativeDetached { pid: u32, state_dir: PathBuf },
    /// The container `lsk up` started (recorded in the state dir).
    DockerDetached { state_dir: PathBuf, name: String },
    /// A container tied to this process by its stdin (tests).
    DockerAttached(docker::AttachedContainer),
}

/// A LocalStack to deploy into.
#[derive(Debug)]
pub struct LocalStack {
    endpoint: String,
    region: String,
    kind: BackendKind,
    reason: String,
    running: Running,
}

impl LocalStack {
    /// Starts LocalStack on the chosen backend, or reuses one that `lsk up` left running.
    pub async fn start(
        choice: BackendChoice,
        opts: StartOptions,
    ) -> Result<LocalStack, BackendError> {
        let selection = select_here(
            choice,
            opts.endpoint.as_deref(),
            &opts.env,
            &opts.project_root,
        )
        .await;
        Self::start_selected(selection, opts).await
    }

    /// Starts LocalStack on an already made [`Selection`] (see [`select`]), e.g. after building
    /// the functions and `lsk-init` in one cargo invocation.
    pub async fn start_selected(
        selection: Selection,
        opts: StartOptions,
    ) -> Result<LocalStack, BackendError> {
        opts.progress.note(&format!("backend {}", selection.reason));
        match selection.kind {
            BackendKind::External => Self::external(selection, &opts).await,
            BackendKind::Native => Self::start_native(selection.reason, &opts).await,
            BackendKind::Docker => {
                Self::start_docker(docker::Flavour::Kit, selection.reason, &opts).await
            }
            BackendKind::DockerOfficial => {
                Self::start_docker(docker::Flavour::Official, selection.reason, &opts).await
            }
        }
    }

    /// Finds a running LocalStack without starting one (for `deploy`, `status`, `invoke`...).
    pub async fn connect(
        choice: BackendChoice,
        opts: StartOptions,
    ) -> Result<LocalStack, BackendError> {
        let endpoint_given = opts.endpoint.is_some() || opts.env.endpoint().is_some();
        match choice {
            BackendChoice::External => {
                let selection = select_endpoint_only(choice, &opts).await;
                Self::external(selection, &opts).await
            }
            BackendChoice::Auto if endpoint_given => {
                let selection = select_endpoint_only(choice, &opts).await;
                Self::external(selection, &opts).await
            }
            BackendChoice::Native => Self::find_native(&opts).ok_or(BackendError::NotRunning {
                backend: BackendKind::Native,
                at: format!(" (no live pid file in {})", opts.state_dir.display()),
                also: String::new(),
            }),
            BackendChoice::Docker | BackendChoice::DockerOfficial => Self::find_docker(&opts)
                .await
                .ok_or_else(|| BackendError::NotRunning {
                    backend: if choice == BackendChoice::Docker {
                        BackendKind::Docker
                    } else {
                        BackendKind::DockerOfficial
                    },
                    at: format!(
                        " (no running container recorded in {})",
                        opts.state_dir.display()
                    ),
                    also: String::new(),
                }),
            BackendChoice::Auto => {
                if let Some(found) = Self::find_native(&opts) {
                    return Ok(found);
                }
                if let Some(found) = Self::find_docker(&opts).await {
                    return Ok(found);
                }
                let endpoint = local_endpoint(opts.port);
                match external::check(&endpoint).await {
                    Ok(_) => Ok(LocalStack {
                        reason: format!(
                            "external: a LocalStack answers at {endpoint} (not one native lsk started)"
                        ),
                        endpoint,
                        region: opts.region.clone(),
                        kind: BackendKind::External,
                        running: Running::External,
                    }),
                    Err(_) => Err(BackendError::NotRunning {
                        backend: BackendKind::Native,
                        at: format!(" and nothing answers at {endpoint}"),
                        also: " (or point LOCALSTACK_ENDPOINT at a running one)".into(),
                    }),
                }
            }
        }
    }

    /// A handle on an already running LocalStack at `endpoint`, checked for health.
    pub async fn attach(endpoint: &str, region: &str) -> Result<LocalStack, BackendError> {
        let endpoint = external::normalize_endpoint(endpoint)?;
        external::check(&endpoint).await?;
        Ok(LocalStack {
            reason: format!("external: attached to {endpoint}"),
            endpoint,
            region: region.to_owned(),
            kind: BackendKind::External,
            running: Running::External,
        })
    }

    async fn find_docker(opts: &StartOptions) -> Option<LocalStack> {
        let record = docker::find_detached(&opts.state_dir).await?;
        let kind = match record.flavour {
            docker::Flavour::Kit => BackendKind::Docker,
            docker::Flavour::Official => BackendKind::DockerOfficial,
        };
        Some(LocalStack {
            reason: format!(
                "{kind}: container {} started by `lsk up` ({})",
                record.name, record.image
            ),
            endpoint: record.endpoint,
            region: opts.region.clone(),
            kind,
            running: Running::DockerDetached {
                state_dir: opts.state_dir.clone(),
                name: record.name,
            },
        })
    }

    fn find_native(opts: &StartOptions) -> Option<LocalStack> {
        native::find_detached(&opts.state_dir).map(|(pid, endpoint)| LocalStack {
            reason: format!("native: started by `lsk up` (pid {pid})"),
            endpoint,
            region: opts.region.clone(),
            kind: BackendKind::Native,
            running: Running::NativeDetached {
                pid,
                state_dir: opts.state_dir.clone(),
            },
        })
    }

    async fn external(
        selection: Selection,
        opts: &StartOptions,
    ) -> Result<LocalStack, BackendError> {
        let endpoint = match selection.endpoint {
            Some(e) => external::normalize_endpoint(&e)?,
            None => local_endpoint(opts.port),
        };
        // An endpoint that is the native LocalStack `lsk up` started is native: its Lambdas run on
        // this host, which decides how they are built.
        if let Some(found) = Self::find_native(opts).filter(|n| n.endpoint == endpoint) {
            return Ok(LocalStack {
                reason: format!(
                    "{}; it is the native LocalStack `lsk up` started",
                    selection.reason
                ),
                ..found
            });
        }
        external::check(&endpoint).await?;
        Ok(LocalStack {
            endpoint,
            region: opts.region.clone(),
            kind: BackendKind::External,
            reason: selection.reason,
            running: Running::External,
        })
    }

    async fn start_native(reason: String, opts: &StartOptions) -> Result<LocalStack, BackendError> {
        if let Some(found) = opts.detach.then(|| Self::find_native(opts)).flatten() {
            opts.progress.note(&format!(
                "LocalStack already running at {} ({})",
                found.endpoint, found.reason
            ));
            return Ok(found);
        }
        let init_bin = match &opts.init_bin {
            Some(path) => path.clone(),
            None => crate::build::build_init(&opts.project_root, &opts.progress)
                .await
                .map_err(|e| BackendError::Init(Box::new(e)))?,
        };
        let phase = opts.progress.phase("localstack");
        let report = |line: &str| phase.update(line);
        // `start` installs the pinned LocalStack into .lsk/venv first when needed.
        let cfg = native::NativeConfig {
            project_root: opts.project_root.clone(),
            state_dir: opts.state_dir.clone(),
            port: opts.port,
            init_bin,
            detach: opts.detach,
            env: opts.native_env.clone(),
            services: opts.services.clone(),
        };
        let started = native::NativeLocalStack::start(cfg, &report).await?;
        phase.done(&format!(
            "native LocalStack at {} (pid {})",
            started.endpoint(),
            started.pid()
        ));
        Ok(LocalStack {
            endpoint: started.endpoint().to_owned(),
            region: opts.region.clone(),
            kind: BackendKind::Native,
            reason,
            running: Running::Native(started),
        })
    }

    async fn start_docker(
        flavour: docker::Flavour,
        reason: String,
        opts: &StartOptions,
    ) -> Result<LocalStack, BackendError> {
        if let DaemonProbe::Unavailable { why } = docker::probe_daemon(DAEMON_PROBE_TIMEOUT).await {
            return Err(BackendError::DockerUnavailable { why });
        }
        let kind = match flavour {
            docker::Flavour::Kit => BackendKind::Docker,
            docker::Flavour::Official => BackendKind::DockerOfficial,
        };
        if opts.detach
            && let Some(found) = Self::find_docker(opts).await
        {
            opts.progress.note(&format!(
                "LocalStack already running at {} ({})",
                found.endpoint, found.reason
            ));
            return Ok(found);
        }
        let image = match flavour {
            docker::Flavour::Kit => {
                let init_bin = match &opts.init_bin {
                    Some(path) => path.clone(),
                    None => crate::build::build_init_for_image(&opts.project_root, &opts.progress)
                        .await
                        .map_err(|e| BackendError::Init(Box::new(e)))?,
                };
                image::ensure(
                    &opts.project_root,
                    &init_bin,
                    opts.docker_base.as_deref(),
                    &opts.progress,
                )
                .await?
            }
            docker::Flavour::Official => {
                if image::local_image_id(docker::OFFICIAL_IMAGE)
                    .await
                    .is_none()
                {
                    opts.progress
                        .note(&format!("docker pull {}", docker::OFFICIAL_IMAGE));
                }
                docker::OFFICIAL_IMAGE.to_owned()
            }
        };
        let port = if opts.port == 0 {
            docker::free_port()?
        } else {
            opts.port
        };
        let phase = opts.progress.phase("localstack");
        let endpoint = local_endpoint(port);
        // `lsk watch` puts builds here and points functions at them by host path: the
        // container sees the directory at the same path.
        let watch_dir = lsk_kit::paths::watch_root(&opts.project_root);
        if flavour == docker::Flavour::Kit {
            std::fs::create_dir_all(&watch_dir).map_err(|source| BackendError::Io {
                what: format!("creating {}", watch_dir.display()),
                source,
            })?;
        }
        let spec_for = |name: &str, labels| match flavour {
            docker::Flavour::Kit => {
                let mut spec = docker::kit_spec(
                    &image,
                    name,
                    port,
                    labels,
                    docker::Network::for_kit(),
                    &opts.services,
                );
                let dir = watch_dir.display().to_string();
                spec.mounts.push((dir.clone(), dir));
                spec
            }
            docker::Flavour::Official => docker::official_spec(
                name,
                port,
                opts.env.auth_token.as_deref(),
                labels,
                &opts.services,
            ),
        };
        if opts.detach {
            let spec = spec_for(
                &docker::up_name(&opts.state_dir),
                docker::up_labels(&opts.project_root),
            );
            phase.update(&format!("docker run {} ({image})", spec.name));
            let record = docker::start_detached(&spec, flavour, &opts.state_dir).await?;
            let ready = ready::Wait::new(
                &endpoint,
                ready::WaitFor::Services(external::NEEDED_SERVICES),
                Duration::from_secs(180),
            );
            let health = match ready.until_ready(|| None).await {
                Ok(h) => h,
                Err(e) => {
                    let logs = docker::logs_tail(&record.id).await;
                    let _ = docker::stop_detached(&opts.state_dir).await;
                    return Err(BackendError::ContainerFailed {
                        detail: format!("{e}; its last output:\n{logs}"),
                    });
                }
            };
            phase.done(&format!(
                "{kind} LocalStack {} at {endpoint} (container {})",
                health.version.unwrap_or_default(),
                record.name
            ));
            return Ok(LocalStack {
                endpoint,
                region: opts.region.clone(),
                kind,
                reason,
                running: Running::DockerDetached {
                    state_dir: opts.state_dir.clone(),
                    name: record.name,
                },
            });
        }
        // Leftovers of test runs that were killed before their lifeline could act.
        if let Ok(swept) = docker::sweep_orphans().await
            && !swept.is_empty()
        {
            opts.progress.note(&format!(
                "removed {} container(s) left by a killed run",
                swept.len()
            ));
        }
        let name = format!("lsk-test-{}-{port}", std::process::id());
        let spec = spec_for(&name, docker::test_labels(std::process::id()));
        phase.update(&format!("docker run {name} ({image})"));
        let log = opts.state_dir.join("container.log");
        #[cfg(feature = "testcontainers")]
        let mut container = docker::AttachedContainer::start_testcontainers(&spec, &log).await?;
        #[cfg(not(feature = "testcontainers"))]
        let mut container = docker::AttachedContainer::start(&spec, &log).await?;
        let ready = ready::Wait::new(
            &endpoint,
            ready::WaitFor::Services(external::NEEDED_SERVICES),
            Duration::from_secs(180),
        )
        .until_ready(|| container.exited())
        .await
        .map_err(|e| e.to_string());
        let health = match ready {
            Ok(h) => h,
            Err(detail) => {
                let detail = format!(
                    "{detail}\n(last lines of {}:\n{})",
                    log.display(),
                    docker::tail(&log, 30)
                );
                let _ = container.stop().await;
                return Err(BackendError::ContainerFailed { detail });
            }
        };
        phase.done(&format!(
            "{kind} LocalStack {} at {endpoint} (container {name})",
            health.version.unwrap_or_default()
        ));
        Ok(LocalStack {
            endpoint,
            region: opts.region.clone(),
            kind,
            reason,
            running: Running::DockerAttached(container),
        })
    }

    /// `http://127.0.0.1:<port>`
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }
    /// The port of [`LocalStack::endpoint`].
    pub fn port(&self) -> u16 {
        external::endpoint_port(&self.endpoint)
    }
    pub fn region(&self) -> &str {
        &self.region
    }
    /// The backend in use.
    pub fn backend(&self) -> BackendKind {
        self.kind
    }
    /// Why this backend was used (one line).
    pub fn reason(&self) -> &str {
        &self.reason
    }
    /// The process id, for a native LocalStack.
    pub fn pid(&self) -> Option<u32> {
        match &self.running {
            Running::Native(n) => Some(n.pid()),
            Running::NativeDetached { pid, .. } => Some(*pid),
            _ => None,
        }
    }
    /// The container LocalStack runs in, for the docker backends.
    pub fn container(&self) -> Option<&str> {
        match &self.running {
            Running::DockerAttached(c) => Some(c.name()),
            Running::DockerDetached { name, .. } => Some(name),
            _ => None,
        }
    }

    /// An AWS SDK config for this LocalStack.
    pub fn sdk_config(&self) -> aws_config::SdkConfig {
        crate::aws::sdk_config(&self.endpoint, &self.region)
    }

    /// Stops what this handle started (or what `lsk up` started, for a reused one); an external
    /// LocalStack is left alone. Returns whether something was stopped.
    pub async fn stop(self) -> Result<bool, BackendError> {
        match self.running {
            Running::External => Ok(false),
            Running::Native(n) => n.stop().await.map(|_| true).map_err(Into::into),
            Running::NativeDetached { state_dir, .. } => {
                native::stop_detached(&state_dir).await.map_err(Into::into)
            }
            Running::DockerDetached { state_dir, .. } => docker::stop_detached(&state_dir).await,
            Running::DockerAttached(c) => c.stop().await.map(|_| true),
        }
    }
}

/// [`select`] where only an endpoint can decide (nothing is probed).
async fn select_endpoint_only(choice: BackendChoice, opts: &StartOptions) -> Selection {
    let not_probed = || async {
        NativeProbe::Unavailable {
            why: "not probed".into(),
        }
    };
    let daemon_not_probed = || async {
        DaemonProbe::Unavailable {
            why: "not probed".into(),
        }
    };
    select(
        choice,
        opts.endpoint.as_deref(),
        &opts.env,
        not_probed,
        daemon_not_probed,
    )
    .await
}

/// `http://127.0.0.1:<port>`
pub fn local_endpoint(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn env_with(ls: Option<&str>, aws: Option<&str>) -> Env {
        Env {
            localstack_endpoint: ls.map(str::to_owned),
            aws_endpoint_url: aws.map(str::to_owned),
            auth_token: None,
        }
    }

    async fn pick(
        choice: BackendChoice,
        explicit: Option<&str>,
        env: &Env,
        probe: DaemonProbe,
    ) -> (Selection, bool) {
        pick_with(choice, explicit, env, no_python(), probe).await
    }

    /// Selection with both probes given; the flag says whether the daemon was probed.
    async fn pick_with(
        choice: BackendChoice,
        explicit: Option<&str>,
        env: &Env,
        native: NativeProbe,
        probe: DaemonProbe,
    ) -> (Selection, bool) {
        let probed = AtomicBool::new(false);
        let selection = select(
            choice,
            explicit,
            env,
            || async { native },
            || {
                probed.store(true, Ordering::SeqCst);
                async { probe }
            },
        )
        .await;
        (selection, probed.load(Ordering::SeqCst))
    }

    fn python_311() -> NativeProbe {
        NativeProbe::Available {
            how: "python3.11 is Python 3.11".into(),
        }
    }

    fn no_python() -> NativeProbe {
        NativeProbe::Unavailable {
            why: "no Python 3.11-3.13 on PATH".into(),
        }
    }

    fn up() -> DaemonProbe {
        DaemonProbe::Available {
            version: "27.1.2".into(),
        }
    }

    fn down() -> DaemonProbe {
        DaemonProbe::Unavailable {
            why: "Cannot connect to the Docker daemon".into(),
        }
    }

    #[tokio::test]
    async fn endpoint_in_env_means_external_without_probing_docker() {
        let env = env_with(Some("http://127.0.0.1:4599"), None);
        let (s, probed) = pick(BackendChoice::Auto, None, &env, up()).await;
        assert_eq!(s.kind, BackendKind::External);
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:4599"));
        assert!(
            s.reason.contains("LOCALSTACK_ENDPOINT is set"),
            "{}",
            s.reason
        );
        assert!(!probed);

        let env = env_with(None, Some("http://127.0.0.1:4600"));
        let (s, _) = pick(BackendChoice::Auto, None, &env, up()).await;
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:4600"));
        assert!(s.reason.contains("AWS_ENDPOINT_URL"), "{}", s.reason);
    }

    #[tokio::test]
    async fn localstack_endpoint_wins_over_aws_endpoint_url_and_flag_wins_over_both() {
        let env = env_with(Some("http://a:1"), Some("http://b:2"));
        let (s, _) = pick(BackendChoice::Auto, None, &env, down()).await;
        assert_eq!(s.endpoint.as_deref(), Some("http://a:1"));
        let (s, _) = pick(BackendChoice::Auto, Some("http://c:3"), &env, down()).await;
        assert_eq!(s.endpoint.as_deref(), Some("http://c:3"));
        assert!(s.reason.contains("--endpoint was given"), "{}", s.reason);
    }

    #[tokio::test]
    async fn native_wins_where_it_runs_even_when_a_daemon_answers() {
        let env = Env::default();
        let (s, probed) = pick_with(BackendChoice::Auto, None, &env, python_311(), up()).await;
        assert_eq!(s.kind, BackendKind::Native);
        assert!(!probed, "docker need not be probed when native runs");
        assert_eq!(s.reason, "native: it runs here (python3.11 is Python 3.11)");
    }

    #[tokio::test]
    async fn no_native_and_a_daemon_means_docker_and_says_why() {
        let (s, probed) = pick(BackendChoice::Auto, None, &Env::default(), up()).await;
        assert!(probed);
        assert_eq!(s.kind, BackendKind::Docker);
        assert_eq!(
            s.reason,
            "docker: native cannot run here (no Python 3.11-3.13 on PATH) and a Docker daemon answers (server 27.1.2)"
        );
    }

    #[tokio::test]
    async fn neither_means_native_so_its_installer_says_what_to_install() {
        let (s, probed) = pick(BackendChoice::Auto, None, &Env::default(), down()).await;
        assert!(probed);
        assert_eq!(s.kind, BackendKind::Native);
        assert!(
            s.reason.contains("no Python 3.11-3.13 on PATH"),
            "{}",
            s.reason
        );
        assert!(
            s.reason.contains("Cannot connect to the Docker daemon"),
            "{}",
            s.reason
        );
    }

    #[tokio::test]
    async fn explicit_choices_are_obeyed_without_probing() {
        let env = env_with(Some("http://127.0.0.1:4599"), None);
        let (s, probed) = pick(BackendChoice::Native, None, &env, up()).await;
        assert_eq!((s.kind, probed), (BackendKind::Native, false));
        let (s, probed) = pick(BackendChoice::Docker, None, &Env::default(), down()).await;
        assert_eq!((s.kind, probed), (BackendKind::Docker, false));
        let (s, _) = pick(BackendChoice::External, None, &Env::default(), down()).await;
        assert_eq!((s.kind, s.endpoint), (BackendKind::External, None));
        assert!(s.reason.contains("default port"), "{}", s.reason);
    }

    #[tokio::test]
    async fn external_with_nothing_listening_fails_with_the_endpoint() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = match LocalStack::attach(&format!("http://127.0.0.1:{port}"), "us-east-1").await {
            Err(e) => e,
            Ok(_) => panic!("nothing listens on {port}"),
        };
        assert!(
            err.to_string().contains(&format!("127.0.0.1:{port}")),
            "{err}"
        );
        assert!(err.hint().is_some());
    }
}
