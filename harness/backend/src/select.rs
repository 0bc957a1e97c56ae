//! Which backend runs LocalStack here, and why: `auto` asks for an endpoint, then native, then a
//! Docker daemon.

use super::*;

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

/// [`select`] where only an endpoint can decide (nothing is probed).
pub(crate) async fn select_endpoint_only(choice: BackendChoice, opts: &StartOptions) -> Selection {
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
