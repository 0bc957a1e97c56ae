//! A running LocalStack on any backend: started, found again (`lsk down`, `lsk status`) or given,
//! and stopped.

use super::*;

#[derive(Debug)]
pub(crate) enum Running {
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
