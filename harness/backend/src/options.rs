//! How to start LocalStack: the workspace, state directory, port, backend, services.

use super::*;

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
    lsk_kit::paths::state_dir(root)
}
