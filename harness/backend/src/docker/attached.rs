//! Containers tied to the process that started them (tests, the bench): testcontainers with a
//! reaper, or `docker run -i` with a stdin lifeline; either way gone when the process is.

use super::*;

/// A container that goes away when this process does (tests).
#[derive(Debug)]
pub struct AttachedContainer {
    name: String,
    port: u16,
    tie: Tie,
    log: PathBuf,
}

/// What removes an attached container when this process ends.
#[derive(Debug)]
pub(crate) enum Tie {
    /// `docker run -i`: the client's stdin is a pipe from us; when it closes, the client closes
    /// the container's stdin and our launcher stops LocalStack.
    Cli(Child),
    /// Started through testcontainers (which has no reaper of its own, and whose Drop never runs
    /// for a kit kept in a `static`); a reaper process removes the container when its stdin,
    /// a pipe from us, closes.
    #[cfg(feature = "testcontainers")]
    Testcontainers {
        container: Box<
            testcontainers_modules::testcontainers::ContainerAsync<
                testcontainers_modules::testcontainers::GenericImage,
            >,
        >,
        reaper: Child,
    },
}

/// Starts the process that runs `docker rm -f NAME` once its stdin closes. In its own process
/// group, so a Ctrl-C to ours does not take it down before it has done its job.
pub fn spawn_reaper(name: &str) -> Result<Child, BackendError> {
    Command::new("sh")
        .args([
            "-c",
            "cat >/dev/null; exec docker rm -f -v \"$0\" >/dev/null 2>&1",
            name,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| BackendError::Docker {
            step: "starting the container reaper".into(),
            command: format!("sh -c 'cat >/dev/null; docker rm -f {name}'"),
            detail: e.to_string(),
        })
}

impl AttachedContainer {
    /// Starts `spec` attached through the docker client; its output goes to `log`.
    pub async fn start(
        spec: &ContainerSpec,
        log: &Path,
    ) -> Result<AttachedContainer, BackendError> {
        if let Some(dir) = log.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let file = std::fs::File::create(log).map_err(|e| BackendError::Docker {
            step: format!("creating {}", log.display()),
            command: String::new(),
            detail: e.to_string(),
        })?;
        let err_file = file.try_clone().map_err(|e| BackendError::Docker {
            step: format!("opening {}", log.display()),
            command: String::new(),
            detail: e.to_string(),
        })?;
        let args = run_args(spec, true);
        let child = Command::new("docker")
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(file)
            .stderr(err_file)
            // Not kill_on_drop: a killed client would leave the container running; closing
            // its stdin (our exit) is what stops it.
            .spawn()
            .map_err(|e| BackendError::Docker {
                step: "docker run".into(),
                command: display_command("docker", &args),
                detail: e.to_string(),
            })?;
        Ok(AttachedContainer {
            name: spec.name.clone(),
            port: spec.host_port,
            tie: Tie::Cli(child),
            log: log.to_path_buf(),
        })
    }

    /// Starts `spec` through testcontainers (no pull: the image is local), waits for
    /// LocalStack's `Ready.`, and ties it to this process with a reaper.
    #[cfg(feature = "testcontainers")]
    pub async fn start_testcontainers(
        spec: &ContainerSpec,
        log: &Path,
    ) -> Result<AttachedContainer, BackendError> {
        use testcontainers_modules::testcontainers::bollard::models::PortBinding;
        use testcontainers_modules::testcontainers::core::{ContainerPort, Mount, WaitFor};
        use testcontainers_modules::testcontainers::runners::AsyncRunner;
        use testcontainers_modules::testcontainers::{GenericImage, ImageExt};

        let (repository, tag) = spec
            .image
            .rsplit_once(':')
            .unwrap_or((spec.image.as_str(), "latest"));
        let reaper = spawn_reaper(&spec.name)?;
        let mut image =
            GenericImage::new(repository, tag).with_wait_for(WaitFor::message_on_stdout("Ready."));
        if spec.network == Network::Published {
            image = image.with_exposed_port(ContainerPort::Tcp(spec.container_port));
        }
        let mut request = image
            .with_container_name(&spec.name)
            .with_startup_timeout(Duration::from_secs(180));
        for (k, v) in &spec.labels {
            request = request.with_label(k, v);
        }
        for (k, v) in &spec.env {
            request = request.with_env_var(k, v);
        }
        for (host, container) in &spec.mounts {
            request = request.with_mount(Mount::bind_mount(host.clone(), container.clone()));
        }
        let (host_ip, host_port) = (spec.host_ip.clone(), spec.host_port.to_string());
        let container_port = format!("{}/tcp", spec.container_port);
        let network = spec.network;
        let cap_add = spec.cap_add.clone();
        let request = request.with_host_config_modifier(move |host| {
            if !cap_add.is_empty() {
                host.cap_add = Some(cap_add.clone());
            }
            // docker-init reaps the Lambda processes LocalStack orphans; and only loopback.
            host.init = Some(true);
            host.publish_all_ports = Some(false);
            if network == Network::Host {
                host.network_mode = Some("host".into());
                return;
            }
            host.port_bindings = Some(
                [(
                    container_port.clone(),
                    Some(vec![PortBinding {
                        host_ip: Some(host_ip.clone()),
                        host_port: Some(host_port.clone()),
                    }]),
                )]
                .into_iter()
                .collect(),
            );
        });
        let container = match request.start().await {
            Ok(c) => c,
            Err(e) => {
                let output = logs_tail(&spec.name).await;
                drop(reaper);
                return Err(BackendError::Docker {
                    step: "starting the container (testcontainers)".into(),
                    command: format!("image {}, name {}", spec.image, spec.name),
                    detail: format!("{e}; its last output:\n{output}"),
                });
            }
        };
        Ok(AttachedContainer {
            name: spec.name.clone(),
            port: spec.host_port,
            tie: Tie::Testcontainers {
                container: Box::new(container),
                reaper,
            },
            log: log.to_path_buf(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the container already exited, with its last output.
    pub fn exited(&mut self) -> Option<String> {
        match &mut self.tie {
            Tie::Cli(child) => match child.try_wait() {
                Ok(Some(status)) => Some(format!(
                    "the container exited ({status}); last lines of {}:\n{}",
                    self.log.display(),
                    tail(&self.log, 30)
                )),
                _ => None,
            },
            #[cfg(feature = "testcontainers")]
            Tie::Testcontainers { .. } => None,
        }
    }

    /// Stops LocalStack and removes the container.
    pub async fn stop(self) -> Result<(), BackendError> {
        match self.tie {
            Tie::Cli(mut child) => {
                // The lifeline: LocalStack stops, the container exits and `--rm` removes it.
                drop(child.stdin.take());
                if tokio::time::timeout(STOP_GRACE, child.wait())
                    .await
                    .is_err()
                {
                    let _ = child.start_kill();
                }
            }
            #[cfg(feature = "testcontainers")]
            Tie::Testcontainers {
                container,
                mut reaper,
            } => {
                let removed = container.rm().await;
                let _ = reaper.start_kill();
                let _ = reaper.wait().await;
                removed.map_err(|e| BackendError::Docker {
                    step: "removing the container (testcontainers)".into(),
                    command: String::new(),
                    detail: e.to_string(),
                })?;
            }
        }
        remove(&self.name).await.map(|_| ())
    }

    /// Whether it was started through testcontainers.
    pub fn through_testcontainers(&self) -> bool {
        !matches!(self.tie, Tie::Cli(_))
    }
}

/// Where a container can be reached from the host: its published bindings (`docker port`), or,
/// on the host's network, the addresses its processes listen on.
pub async fn listening_addresses(name: &str) -> Result<Vec<String>, BackendError> {
    let mode = docker(
        &strings(&[
            "inspect",
            "--format",
            "{{.HostConfig.NetworkMode}} {{.State.Pid}}",
            name,
        ]),
        "docker inspect",
        Duration::from_secs(30),
    )
    .await?;
    let mut parts = mode.split_whitespace();
    let (network, pid) = (parts.next().unwrap_or(""), parts.next().unwrap_or("0"));
    if network != "host" {
        let out = docker(
            &strings(&["port", name]),
            "docker port",
            Duration::from_secs(30),
        )
        .await?;
        return Ok(out
            .lines()
            .filter_map(|l| l.split_once("-> ").map(|(_, a)| a.trim().to_owned()))
            .collect());
    }
    let pid: u32 = pid.parse().unwrap_or(0);
    let mut all = vec![pid];
    all.extend(crate::native::procs::descendants(pid));
    Ok(all
        .into_iter()
        .flat_map(crate::native::listening_sockets)
        .collect())
}
