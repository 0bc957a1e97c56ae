//! The docker backend: LocalStack in a container, published on 127.0.0.1 only, driven through
//! the docker CLI (it negotiates the API version with whatever engine answers).
//!
//! Two flavours:
//! - `kit` (`--backend docker`): our image (`image.rs`), the same pinned LocalStack, plugin and
//!   `lsk-init` as the native backend; Lambdas run as processes inside the container. No
//!   docker.sock, no Lambda images, nothing pulled at run time.
//! - `official` (`--backend docker-official`): `localstack/localstack:4.14.0` with LocalStack's
//!   own Docker executor (docker.sock mounted), for people who want LocalStack's image as is.
//!
//! Two lifetimes, as on the native backend:
//! - detached (`lsk up`): a named container recorded in `<state>/docker.json`; `lsk down`
//!   removes exactly that container.
//! - attached (tests): `docker run -i --rm` with LSK_LIFELINE=1. The container's stdin is the
//!   docker client's, which is a pipe from this process: when this process exits, however it
//!   exits, the pipe closes, the client closes the container's stdin, our launcher stops
//!   LocalStack, and `--rm` removes the container. Containers left by a run that was killed
//!   before that could happen (owner pid gone) are swept by label at the next start.

mod attached;
pub use attached::*;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::process::{Child, Command};

use super::{BackendError, DaemonProbe};

/// The official image of the `docker-official` flavour: the last tag that starts without an
/// auth token (later ones exit with code 55 unless `LOCALSTACK_AUTH_TOKEN` is set).
pub const OFFICIAL_IMAGE: &str = "localstack/localstack:4.14.0";
/// Relative to the workspace root.
pub const COMPOSE_FILE: &str = "localstack/docker-compose.yml";
/// Compose project name, so `docker-compose down` finds what `up` started.
pub const COMPOSE_PROJECT: &str = "lsk";
/// The tag `lsk image` adds to the image it built, which the compose file starts.
pub const LATEST_IMAGE: &str = "lsk-localstack:latest";
pub const CONTAINER_PORT: u16 = 4566;
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";
/// On every container lsk starts.
pub const LABEL_MANAGED: (&str, &str) = ("dev.lsk.managed", "true");
/// `up` (detached, for `lsk down`), `test` (attached) or `image` (made, never started, to export
/// a base's files while our image is made); the last two are swept when their owner is gone.
pub const LABEL_ROLE: &str = "dev.lsk.role";
/// The roles whose containers belong to one lsk process ([`LABEL_OWNER_PID`]).
const OWNED_ROLES: [&str; 2] = ["test", "image"];
/// The pid of the process an attached container belongs to.
pub const LABEL_OWNER_PID: &str = "dev.lsk.owner-pid";
/// The workspace a detached container serves.
pub const LABEL_PROJECT: &str = "dev.lsk.project";
const RECORD_FILE: &str = "docker.json";
/// How long a stopping container gets before it is removed by force.
const STOP_GRACE: Duration = Duration::from_secs(15);

/// Which image runs LocalStack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavour {
    /// Our image: the pinned LocalStack with the process executor.
    Kit,
    /// LocalStack's official image with its own Docker executor.
    Official,
}

impl Flavour {
    pub fn as_str(self) -> &'static str {
        match self {
            Flavour::Kit => "kit",
            Flavour::Official => "official",
        }
    }
}

/// How the container's gateway is reached from the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Network {
    /// Docker's bridge, the gateway published on 127.0.0.1:<port> (every request then passes
    /// through docker-proxy: measured +2.5 ms per warm invoke, about 1.9x native).
    Published,
    /// The host's network: the gateway itself listens on 127.0.0.1:<port> (our loopback-only
    /// server plugin), as on the native backend. Linux engines only.
    Host,
}

impl Network {
    /// Host networking where the engine runs on this Linux kernel, unless
    /// `LSK_DOCKER_NETWORK=bridge` asks for a published port.
    pub fn for_kit() -> Network {
        let asked = std::env::var("LSK_DOCKER_NETWORK").unwrap_or_default();
        if cfg!(target_os = "linux") && asked != "bridge" {
            Network::Host
        } else {
            Network::Published
        }
    }
}

/// A container as we want it, whatever starts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerSpec {
    pub image: String,
    pub name: String,
    pub labels: Vec<(String, String)>,
    /// Always 127.0.0.1: LocalStack accepts any credentials, so it must not be reachable from
    /// the network.
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub network: Network,
    pub env: Vec<(String, String)>,
    /// (host path, container path)
    pub mounts: Vec<(String, String)>,
    /// Linux capabilities added to Docker's defaults.
    pub cap_add: Vec<String>,
}

/// What the kit container needs beyond Docker's default capabilities: lsk-init gives each
/// function its code at /var/task and a private /tmp in a mount namespace of its own, which
/// takes CAP_SYS_ADMIN inside the container (Docker's seccomp profile allows unshare(2) only
/// with it). Where an AppArmor profile still refuses mounts, functions run from host paths and
/// their first log line says so.
pub const KIT_CAPABILITIES: &[&str] = &["SYS_ADMIN"];

/// Settings of the kit flavour on host port `port` (the image has the fixed ones).
pub fn kit_env(port: u16, services: &[String]) -> Vec<(String, String)> {
    super::common_env(port, services)
}

/// The kit container for `image` on host `port`, reached through `network`.
pub fn kit_spec(
    image: &str,
    name: &str,
    port: u16,
    labels: Vec<(String, String)>,
    network: Network,
    services: &[String],
) -> ContainerSpec {
    let mut env = kit_env(port, services);
    let container_port = match network {
        Network::Published => CONTAINER_PORT,
        Network::Host => {
            // The image listens on 0.0.0.0:4566; in the host's network it must be loopback's.
            env.push(("GATEWAY_LISTEN".into(), format!("127.0.0.1:{port}")));
            port
        }
    };
    ContainerSpec {
        image: image.to_owned(),
        name: name.to_owned(),
        labels,
        host_ip: "127.0.0.1".into(),
        host_port: port,
        container_port,
        network,
        env,
        mounts: Vec::new(),
        cap_add: KIT_CAPABILITIES.iter().map(|c| (*c).to_owned()).collect(),
    }
}

/// The official-image container on host `port`, passing the auth token through.
pub fn official_spec(
    name: &str,
    port: u16,
    auth_token: Option<&str>,
    labels: Vec<(String, String)>,
    services: &[String],
) -> ContainerSpec {
    let mut env = vec![
        (
            "LOCALSTACK_HOST".to_owned(),
            format!("localhost.localstack.cloud:{port}"),
        ),
        ("EAGER_SERVICE_LOADING".to_owned(), "1".to_owned()),
        ("SERVICES".to_owned(), super::services_setting(services)),
        ("SQS_ENDPOINT_STRATEGY".to_owned(), "path".to_owned()),
        // Its Lambda containers carry our label too, so a sweep finds them.
        (
            "LAMBDA_DOCKER_FLAGS".to_owned(),
            format!("--label {}={}", LABEL_MANAGED.0, LABEL_MANAGED.1),
        ),
    ];
    env.extend(
        super::LOCALSTACK_TUNING
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    if let Some(token) = auth_token.filter(|t| !t.is_empty()) {
        env.push(("LOCALSTACK_AUTH_TOKEN".to_owned(), token.to_owned()));
    }
    ContainerSpec {
        image: OFFICIAL_IMAGE.to_owned(),
        name: name.to_owned(),
        labels,
        host_ip: "127.0.0.1".into(),
        host_port: port,
        container_port: CONTAINER_PORT,
        network: Network::Published,
        env,
        mounts: vec![(DOCKER_SOCKET.to_owned(), DOCKER_SOCKET.to_owned())],
        cap_add: Vec::new(),
    }
}

/// Labels of a detached (`lsk up`) container for the workspace at `root`.
pub fn up_labels(root: &Path) -> Vec<(String, String)> {
    vec![
        (LABEL_MANAGED.0.into(), LABEL_MANAGED.1.into()),
        (LABEL_ROLE.into(), "up".into()),
        (LABEL_PROJECT.into(), root.display().to_string()),
    ]
}

/// Labels of an attached (test) container owned by process `pid`.
pub fn test_labels(pid: u32) -> Vec<(String, String)> {
    vec![
        (LABEL_MANAGED.0.into(), LABEL_MANAGED.1.into()),
        (LABEL_ROLE.into(), "test".into()),
        (LABEL_OWNER_PID.into(), pid.to_string()),
    ]
}

/// The detached container's name for a state dir (one per `.lsk/state`, so a test's own state
/// dir never touches the container of the user's `lsk up`).
pub fn up_name(state_dir: &Path) -> String {
    use sha2::{Digest, Sha256};
    let digest = hex::encode(Sha256::digest(state_dir.display().to_string().as_bytes()));
    format!("lsk-localstack-{}", &digest[..8])
}

/// `docker run` arguments for `spec`: detached (`-d`) or attached with the stdin lifeline.
pub fn run_args(spec: &ContainerSpec, attached: bool) -> Vec<String> {
    let mut args: Vec<String> = vec!["run".into()];
    if attached {
        // -i: the container's stdin is ours (the lifeline); --rm: gone once it exits.
        args.extend(["-i".into(), "--rm".into()]);
    } else {
        args.push("-d".into());
    }
    // docker-init (tini) as PID 1 reaps the Lambda processes LocalStack orphans.
    args.push("--init".into());
    args.extend(["--name".into(), spec.name.clone()]);
    for (k, v) in &spec.labels {
        args.extend(["--label".into(), format!("{k}={v}")]);
    }
    match spec.network {
        Network::Published => args.extend([
            "-p".into(),
            format!(
                "{}:{}:{}",
                spec.host_ip, spec.host_port, spec.container_port
            ),
        ]),
        Network::Host => args.extend(["--network".into(), "host".into()]),
    }
    let mut env = spec.env.clone();
    if attached {
        env.push(("LSK_LIFELINE".into(), "1".into()));
    }
    for (k, v) in &env {
        args.extend(["-e".into(), format!("{k}={v}")]);
    }
    for (host, container) in &spec.mounts {
        args.extend(["-v".into(), format!("{host}:{container}")]);
    }
    for cap in &spec.cap_add {
        args.extend(["--cap-add".into(), cap.clone()]);
    }
    args.push(spec.image.clone());
    args
}

/// As a user would type it, with the auth token hidden (for messages).
pub fn display_command(program: &str, args: &[String]) -> String {
    let mut out = program.to_owned();
    for a in args {
        out.push(' ');
        if a.starts_with("LOCALSTACK_AUTH_TOKEN=") {
            out.push_str("LOCALSTACK_AUTH_TOKEN=***");
        } else {
            out.push_str(a);
        }
    }
    out
}

/// The committed `localstack/docker-compose.yml`: our image, for people who use compose. The
/// port comes from `LSK_PORT` in the environment of `docker compose` / `docker-compose`.
/// No top-level `name:` (docker-compose v1 rejects it): pass `-p lsk`.
pub fn render_compose() -> String {
    let mut env_lines = String::new();
    for (k, v) in super::common_env_with(CONTAINER_PORT, &[], |_| None) {
        let v = if k == "LOCALSTACK_HOST" {
            "localhost.localstack.cloud:${LSK_PORT:-4566}".to_owned()
        } else {
            v
        };
        env_lines.push_str(&format!("      {k}: \"{v}\"\n"));
    }
    format!(
        "# LocalStack in our image (generated by lsk: harness/backend/src/docker.rs), for people who use compose.\n\
         # `lsk up --backend docker` does not need this file. Build the image first with `lsk image`, then:\n\
         #   LSK_PORT=4566 docker compose -f localstack/docker-compose.yml -p {COMPOSE_PROJECT} up -d     (or docker-compose, v1)\n\
         services:\n\
         \x20 localstack:\n\
         \x20   image: \"${{LSK_IMAGE:-{LATEST_IMAGE}}}\"\n\
         \x20   init: true\n\
         \x20   # functions get /var/task and a private /tmp in mount namespaces of their own\n\
         \x20   cap_add: [{caps}]\n\
         \x20   labels:\n\
         \x20     {}: \"{}\"\n\
         \x20     {LABEL_ROLE}: \"compose\"\n\
         \x20   ports:\n\
         \x20     # loopback only: LocalStack accepts any credentials\n\
         \x20     - \"127.0.0.1:${{LSK_PORT:-4566}}:{CONTAINER_PORT}\"\n\
         \x20   environment:\n\
         {env_lines}",
        LABEL_MANAGED.0,
        LABEL_MANAGED.1,
        caps = KIT_CAPABILITIES.join(", "),
    )
}

/// Runs `program ARGS` to completion: stdout on success, else what went wrong (no answer
/// within `timeout`, could not start, or the last lines of its stderr).
pub(super) async fn run_to_end(
    program: &str,
    args: &[impl AsRef<std::ffi::OsStr>],
    timeout: Duration,
) -> Result<String, String> {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let output = tokio::time::timeout(timeout, command.output())
        .await
        .map_err(|_| format!("`{program}` gave no answer within {} s", timeout.as_secs()))?
        .map_err(|e| format!("could not run `{program}`: {e}"))?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.trim().lines().collect();
    Err(lines[lines.len().saturating_sub(25)..].join("\n"))
}

/// Runs `docker ARGS` to completion; stdout on success.
async fn docker(args: &[String], step: &str, timeout: Duration) -> Result<String, BackendError> {
    run_to_end("docker", args, timeout)
        .await
        .map_err(|detail| BackendError::Docker {
            step: step.to_owned(),
            command: display_command("docker", args),
            detail,
        })
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

/// Interprets `docker info` having run (or not): the pure half of [`probe_daemon`].
pub fn interpret_probe(result: Result<(bool, String, String), String>) -> DaemonProbe {
    match result {
        Err(why) => DaemonProbe::Unavailable { why },
        Ok((true, stdout, _)) if !stdout.trim().is_empty() => DaemonProbe::Available {
            version: stdout.trim().to_owned(),
        },
        Ok((_, _, stderr)) => DaemonProbe::Unavailable {
            why: stderr
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("docker info failed")
                .to_owned(),
        },
    }
}

/// Asks the Docker daemon for its version, giving up after `timeout`.
pub async fn probe_daemon(timeout: Duration) -> DaemonProbe {
    probe_with("docker", timeout).await
}

/// [`probe_daemon`] with the client program injected (tests point it at a missing binary).
pub async fn probe_with(program: &str, timeout: Duration) -> DaemonProbe {
    let mut command = Command::new(program);
    command
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let result = match tokio::time::timeout(timeout, command.output()).await {
        Err(_) => Err(format!(
            "`{program} info` did not answer within {} ms",
            timeout.as_millis()
        )),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("the `{program}` client is not installed"))
        }
        Ok(Err(e)) => Err(format!("`{program} info` could not run: {e}")),
        Ok(Ok(out)) => Ok((
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )),
    };
    interpret_probe(result)
}

/// A free port on 127.0.0.1 for `-p 127.0.0.1:PORT:4566`. LocalStack must know its published
/// port (queue and function URLs carry it), so Docker cannot be left to pick one.
pub fn free_port() -> Result<u16, BackendError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| BackendError::Docker {
            step: "finding a free port on 127.0.0.1".into(),
            command: String::new(),
            detail: e.to_string(),
        })
}

/// What `lsk up` leaves in the state dir for `lsk down`, `lsk status` and the others.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    pub name: String,
    pub image: String,
    pub flavour: Flavour,
    pub port: u16,
    pub endpoint: String,
}

fn record_path(state_dir: &Path) -> PathBuf {
    state_dir.join(RECORD_FILE)
}

/// What `lsk up` recorded in this state dir, whether or not the container still runs.
pub fn read_record(state_dir: &Path) -> Option<Record> {
    let text = std::fs::read_to_string(record_path(state_dir)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The container `lsk up` started for this state dir, if the record exists and it still runs.
pub async fn find_detached(state_dir: &Path) -> Option<Record> {
    let record = read_record(state_dir)?;
    let running = docker(
        &strings(&["inspect", "--format", "{{.State.Running}}", &record.id]),
        "docker inspect",
        Duration::from_secs(30),
    )
    .await
    .ok()?;
    (running.trim() == "true").then_some(record)
}

/// Starts a detached container for `lsk up` and records it.
pub async fn start_detached(
    spec: &ContainerSpec,
    flavour: Flavour,
    state_dir: &Path,
) -> Result<Record, BackendError> {
    // A stopped container of an earlier `up` holds the name.
    let _ = docker(
        &strings(&["rm", "-f", &spec.name]),
        "docker rm",
        Duration::from_secs(60),
    )
    .await;
    let id = docker(
        &run_args(spec, false),
        "docker run",
        Duration::from_secs(120),
    )
    .await?
    .trim()
    .to_owned();
    let record = Record {
        id,
        name: spec.name.clone(),
        image: spec.image.clone(),
        flavour,
        port: spec.host_port,
        endpoint: super::local_endpoint(spec.host_port),
    };
    std::fs::create_dir_all(state_dir).map_err(|e| BackendError::Docker {
        step: format!("creating {}", state_dir.display()),
        command: String::new(),
        detail: e.to_string(),
    })?;
    let json = serde_json::to_string_pretty(&record).unwrap_or_default();
    std::fs::write(record_path(state_dir), json).map_err(|e| BackendError::Docker {
        step: format!("writing {}", record_path(state_dir).display()),
        command: String::new(),
        detail: e.to_string(),
    })?;
    Ok(record)
}

/// Removes the container `lsk up` recorded in `state_dir`; false when there was none.
pub async fn stop_detached(state_dir: &Path) -> Result<bool, BackendError> {
    let path = record_path(state_dir);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(false);
    };
    let Ok(record) = serde_json::from_str::<Record>(&text) else {
        let _ = std::fs::remove_file(&path);
        return Ok(false);
    };
    let existed = remove(&record.id).await?;
    let _ = std::fs::remove_file(&path);
    Ok(existed)
}

/// Whether a container with this id or exact name exists (running or not).
async fn exists(id_or_name: &str) -> Result<bool, BackendError> {
    for filter in [format!("id={id_or_name}"), format!("name=^{id_or_name}$")] {
        let found = docker(
            &strings(&["ps", "-aq", "--filter", &filter]),
            "docker ps",
            Duration::from_secs(30),
        )
        .await?;
        if !found.trim().is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `docker rm -f ID`; false when no such container exists (it may have gone by itself, e.g.
/// `--rm` after the lifeline stopped it, between any check and the removal).
async fn remove(id: &str) -> Result<bool, BackendError> {
    match docker(
        &strings(&["rm", "-f", "-v", id]),
        "docker rm",
        Duration::from_secs(60),
    )
    .await
    {
        Ok(_) => Ok(true),
        Err(e) if exists(id).await? => Err(e),
        Err(_) => Ok(false),
    }
}

/// Containers carrying our label, with their labels (`docker ps -a`).
pub async fn managed_containers() -> Result<Vec<(String, BTreeMap<String, String>)>, BackendError> {
    let out = docker(
        &strings(&[
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            &format!("label={}={}", LABEL_MANAGED.0, LABEL_MANAGED.1),
            "--format",
            "{{.ID}}\t{{.Labels}}",
        ]),
        "docker ps",
        Duration::from_secs(30),
    )
    .await?;
    Ok(out
        .lines()
        .filter_map(|l| {
            let (id, labels) = l.split_once('\t')?;
            let labels = labels
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            Some((id.to_owned(), labels))
        })
        .collect())
}

/// Which of `containers` are test or image containers whose owner process is gone.
pub fn orphans(
    containers: &[(String, BTreeMap<String, String>)],
    alive: impl Fn(u32) -> bool,
) -> Vec<String> {
    containers
        .iter()
        .filter(|(_, labels)| {
            labels
                .get(LABEL_ROLE)
                .is_some_and(|role| OWNED_ROLES.contains(&role.as_str()))
        })
        .filter(|(_, labels)| {
            labels
                .get(LABEL_OWNER_PID)
                .and_then(|p| p.parse().ok())
                .is_none_or(|pid| !alive(pid))
        })
        .map(|(id, _)| id.clone())
        .collect()
}

/// Removes test and image containers left by runs that were killed (their owner pid is gone).
pub async fn sweep_orphans() -> Result<Vec<String>, BackendError> {
    let containers = managed_containers().await?;
    let gone = orphans(&containers, super::native::is_alive);
    for id in &gone {
        remove(id).await?;
    }
    Ok(gone)
}

/// The last `n` lines of a file.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The last lines of a container's own output (for errors about a detached one).
pub async fn logs_tail(id: &str) -> String {
    match Command::new("docker")
        .args(["logs", "--tail", "30", id])
        .stdin(Stdio::null())
        .output()
        .await
    {
        Ok(out) => format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => format!("(docker logs failed: {e})"),
    }
}

/// Where the compose file lives for a workspace: the kit's copy (see [`crate::kit`]).
pub fn compose_path(root: &Path) -> PathBuf {
    match crate::kit::Kit::for_workspace(root) {
        Ok(kit) => kit.path(COMPOSE_FILE),
        Err(_) => root.join(COMPOSE_FILE),
    }
}

#[cfg(test)]
mod tests;
