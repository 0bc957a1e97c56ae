//! Where LocalStack runs, and a handle to it.
//!
//! - `external`: `--endpoint`, `LOCALSTACK_ENDPOINT` or `AWS_ENDPOINT_URL` names a running one;
//!   nothing is started, its health is checked.
//! - `docker`: the pinned image, through docker compose (`lsk up`) or a throw-away container (tests).
//! - `native`: a pinned LocalStack in a project-local venv, run as a process (see `native.rs`).
//!
//! `auto` picks external when an endpoint is given, else docker when a daemon answers
//! `docker info` quickly, else native, and says which and why.

pub mod docker;
pub mod external;
pub mod native;

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

/// The backend asked for (`--backend`, `LSK_BACKEND`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// external if an endpoint is set, else docker if a daemon answers, else native
    #[default]
    Auto,
    /// LocalStack in a project-local venv, Lambdas as host processes
    Native,
    /// the pinned LocalStack image; Lambdas in LocalStack's own containers
    Docker,
    /// an already running LocalStack (--endpoint, LOCALSTACK_ENDPOINT or AWS_ENDPOINT_URL)
    External,
}

/// The backend actually used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    Native,
    Docker,
    External,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Native => "native",
            BackendKind::Docker => "docker",
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

/// Picks a backend. `probe` is only run when the answer depends on it.
pub async fn select<F, Fut>(
    choice: BackendChoice,
    explicit_endpoint: Option<&str>,
    env: &Env,
    probe: F,
) -> Selection
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = DaemonProbe>,
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
            match probe().await {
                DaemonProbe::Available { version } => Selection {
                    kind: BackendKind::Docker,
                    endpoint: None,
                    reason: format!("docker: a Docker daemon answers (server {version})"),
                },
                DaemonProbe::Unavailable { why } => Selection {
                    kind: BackendKind::Native,
                    endpoint: None,
                    reason: format!("native: no Docker daemon ({why})"),
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
    #[error("building lsk-init for the native backend failed: {0}")]
    Init(#[source] Box<crate::build::BuildError>),
}

impl BackendError {
    /// What to do about it, when there is something beyond the message.
    pub fn hint(&self) -> Option<String> {
        match self {
            BackendError::Unhealthy { endpoint, .. } => Some(format!(
                "check that LocalStack runs at {endpoint} (curl {endpoint}/_localstack/health), or unset LOCALSTACK_ENDPOINT / AWS_ENDPOINT_URL to let lsk start one"
            )),
            BackendError::Native(native::NativeError::PortInUse { .. }) => {
                Some("`lsk down` stops a LocalStack started by `lsk up`".into())
            }
            _ => None,
        }
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
    /// An `lsk-init` already built in release; when `None` the native backend builds it.
    pub init_bin: Option<PathBuf>,
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
            init_bin: None,
            progress: Progress::silent(),
        }
    }

    pub fn init_bin(mut self, init_bin: Option<PathBuf>) -> Self {
        self.init_bin = init_bin;
        self
    }
    pub fn native_env(mut self, env: Vec<(String, String)>) -> Self {
        self.native_env = env;
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
    /// The compose service of this workspace.
    Compose { root: PathBuf },
    /// A throw-away container for tests.
    Container(docker::TestContainer),
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
        let selection = select(choice, opts.endpoint.as_deref(), &opts.env, || {
            docker::probe_daemon(DAEMON_PROBE_TIMEOUT)
        })
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
            BackendKind::Docker => Self::start_docker(selection.reason, &opts).await,
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
                let selection = select(choice, opts.endpoint.as_deref(), &opts.env, || async {
                    DaemonProbe::Unavailable {
                        why: "not probed".into(),
                    }
                })
                .await;
                Self::external(selection, &opts).await
            }
            BackendChoice::Auto if endpoint_given => {
                let selection = select(choice, opts.endpoint.as_deref(), &opts.env, || async {
                    DaemonProbe::Unavailable {
                        why: "not probed".into(),
                    }
                })
                .await;
                Self::external(selection, &opts).await
            }
            BackendChoice::Native => Self::find_native(&opts).ok_or(BackendError::NotRunning {
                backend: BackendKind::Native,
                at: format!(" (no live pid file in {})", opts.state_dir.display()),
                also: String::new(),
            }),
            BackendChoice::Docker => {
                let endpoint = local_endpoint(opts.port);
                external::check(&endpoint)
                    .await
                    .map_err(|_| BackendError::NotRunning {
                        backend: BackendKind::Docker,
                        at: format!(" at {endpoint}"),
                        also: String::new(),
                    })?;
                Ok(LocalStack {
                    endpoint,
                    region: opts.region.clone(),
                    kind: BackendKind::Docker,
                    reason: "docker: the compose service answers".into(),
                    running: Running::Compose {
                        root: opts.project_root.clone(),
                    },
                })
            }
            BackendChoice::Auto => {
                if let Some(found) = Self::find_native(&opts) {
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

    async fn start_docker(reason: String, opts: &StartOptions) -> Result<LocalStack, BackendError> {
        if let DaemonProbe::Unavailable { why } = docker::probe_daemon(DAEMON_PROBE_TIMEOUT).await {
            return Err(BackendError::DockerUnavailable { why });
        }
        let phase = opts.progress.phase("localstack");
        if opts.detach {
            let endpoint = local_endpoint(opts.port);
            if external::check(&endpoint).await.is_err() {
                phase.update(&format!("docker compose up ({})", docker::IMAGE));
                docker::up(
                    &opts.project_root,
                    opts.port,
                    opts.env.auth_token.as_deref(),
                )
                .await?;
            }
            let health = external::wait_healthy(&endpoint, Duration::from_secs(180)).await?;
            phase.done(&format!(
                "docker LocalStack {} at {endpoint}",
                health.version.unwrap_or_default()
            ));
            return Ok(LocalStack {
                endpoint,
                region: opts.region.clone(),
                kind: BackendKind::Docker,
                reason,
                running: Running::Compose {
                    root: opts.project_root.clone(),
                },
            });
        }
        phase.update(&format!("starting a test container ({})", docker::IMAGE));
        let container = docker::start_test_container(opts.env.auth_token.as_deref()).await?;
        let endpoint = local_endpoint(container.port());
        if let Err(e) = external::wait_healthy(&endpoint, Duration::from_secs(180)).await {
            let _ = container.stop().await;
            return Err(e);
        }
        phase.done(&format!("docker LocalStack at {endpoint}"));
        Ok(LocalStack {
            endpoint,
            region: opts.region.clone(),
            kind: BackendKind::Docker,
            reason,
            running: Running::Container(container),
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
    /// Whether [`LocalStack::stop`] would stop something.
    pub fn is_managed(&self) -> bool {
        !matches!(self.running, Running::External)
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
            Running::Compose { root } => docker::down(&root).await.map(|_| true),
            Running::Container(c) => c.stop().await.map(|_| true),
        }
    }
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
        let probed = AtomicBool::new(false);
        let selection = select(choice, explicit, env, || {
            probed.store(true, Ordering::SeqCst);
            async { probe }
        })
        .await;
        (selection, probed.load(Ordering::SeqCst))
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
    async fn no_endpoint_and_a_daemon_means_docker() {
        let (s, probed) = pick(BackendChoice::Auto, None, &Env::default(), up()).await;
        assert!(probed);
        assert_eq!(s.kind, BackendKind::Docker);
        assert!(
            s.reason.contains("Docker daemon answers (server 27.1.2)"),
            "{}",
            s.reason
        );
    }

    #[tokio::test]
    async fn no_endpoint_and_no_daemon_means_native_and_says_why() {
        let (s, probed) = pick(BackendChoice::Auto, None, &Env::default(), down()).await;
        assert!(probed);
        assert_eq!(s.kind, BackendKind::Native);
        assert_eq!(
            s.reason,
            "native: no Docker daemon (Cannot connect to the Docker daemon)"
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
