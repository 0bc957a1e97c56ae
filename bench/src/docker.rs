//! The docker backend ("kit" flavour: our image with the same pinned LocalStack, plugin and
//! lsk-init) measured in the same run as the native rows: the image built cold and found cached,
//! container start to Ready, warm invoke (API, URL) with its ratio to native, a cold start, the
//! container's memory, and `lsk up --backend docker` (run by `devloop.rs`).
//!
//! Everything the bench makes in Docker is its own, and removed at the end, also on error or
//! Ctrl-C:
//! - the image is built on a base alias of this run (`lsk-bench-base:<nonce>`: the kit's base
//!   with two labels more), so its tag is new and its build cold on every layer while the base
//!   is present. Removing a hash tag is not enough for that: while another tag (`lsk image`'s
//!   `lsk-localstack:latest`, an older build) holds the same layers, docker's build cache hands
//!   them back in seconds. No other image is built, pruned or removed (lsk prunes only the images
//!   of the base it builds on, here the alias). Every image made on the alias carries its labels
//!   (lsk keeps a base's labels, as a build on it would), so what the bench made is found by
//!   label, even an image whose import finished after the bench was killed.
//! - the image's inputs (prepare-site.py, lock, plugin, lsk-init) are copied under
//!   `<target>/bench/docker` first: an edit or a rebuild in the workspace while the bench runs
//!   must not turn the cached `ensure` or a container start into a new build.
//! - containers are found by the labels lsk puts on them: the owner pid of the attached ones
//!   (this process) and the project (the developer-loop copy) of the one `lsk up` starts.
//!
//! A container's processes are the host's, so its environments are found in /proc as the native
//! LocalStack's are, below the container's first process (`docker inspect .State.Pid`).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use lsk::backend::docker::{self as kit, LABEL_OWNER_PID, LABEL_PROJECT};
use lsk::backend::{DaemonProbe, image};
use lsk::build::Built;
use lsk::{BackendChoice, LocalStack, Progress, StartOptions};

use crate::http::Check;
use crate::lambda::Endpoints;
use crate::machine::Machine;
use crate::report::{Report, Section};
use crate::stats::{Measured, Unit};
use crate::{Ctx, FUNCTION, cold, devloop, load, memory, procs, progress};

/// Repository of the base aliases the bench builds its image on.
pub const BASE_REPOSITORY: &str = "lsk-bench-base";
/// On a base alias: the pid of the bench that made it (a dead bench's are swept).
const OWNER_LABEL: &str = "dev.lsk.bench-owner-pid";
/// On a base alias: the run that made it (also what gives the alias an image id of its own).
const RUN_LABEL: &str = "dev.lsk.bench-run";
/// Timed `image::ensure` calls that find the image built.
const CACHED_SAMPLES: usize = 3;
const DOCKER_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the reapers of dropped containers (Ctrl-C) get before the bench removes them.
const REAP_WAIT: Duration = Duration::from_secs(15);

/// The rows measured in the bench's own containers (not the image's, not `lsk up`'s).
const CONTAINER_ROWS: &[&str] = &[
    "docker_ready",
    "docker_list_functions",
    "docker_invoke_api",
    "docker_invoke_url",
    "docker_ratio_api",
    "docker_ratio_url",
    "docker_invoke_direct",
    "docker_cold_update",
    "docker_cold_update_delta",
    "docker_rss",
];

/// What the bench made in Docker, for [`cleanup`].
#[derive(Debug, Default)]
pub struct Owned {
    /// The daemon's version, once it answered; `None`: not asked, or none answered.
    pub daemon: Option<String>,
    /// This run's base alias.
    pub base: Option<String>,
    /// The image the bench built on it.
    pub image: Option<String>,
    /// The copy of the image's inputs it was built from (the root its containers start with).
    pub inputs: Option<PathBuf>,
    /// The lsk-init the image holds (a copy).
    pub init: Option<PathBuf>,
}

/// Runs `docker ARGS` to completion, `input` on its stdin; returns its stdout.
async fn docker(args: &[&str], input: Option<&[u8]>, timeout: Duration) -> Result<String> {
    let what = format!("docker {}", args.join(" "));
    let run = async {
        let mut child = Command::new("docker")
            .args(args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("running `{what}`"))?;
        if let (Some(bytes), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin.write_all(bytes).await?;
            // Dropped here: EOF.
        }
        Ok::<_, anyhow::Error>(child.wait_with_output().await?)
    };
    let out = tokio::time::timeout(timeout, run)
        .await
        .map_err(|_| anyhow!("`{what}` gave no answer within {timeout:?}"))??;
    if !out.status.success() {
        bail!(
            "`{what}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// One field of `docker container inspect`.
async fn inspect(container: &str, format: &str) -> Result<String> {
    Ok(docker(
        &["inspect", "--format", format, container],
        None,
        DOCKER_TIMEOUT,
    )
    .await?
    .trim()
    .to_owned())
}

/// The host pid of the container's first process (docker-init), below which LocalStack and its
/// environments run.
async fn container_pid(container: &str) -> Result<u32> {
    let text = inspect(container, "{{.State.Pid}}").await?;
    text.parse::<u32>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| anyhow!("container {container} has no running process (pid {text:?})"))
}

/// The container's address on its docker network.
async fn container_ip(container: &str) -> Result<IpAddr> {
    let text = inspect(
        container,
        "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}",
    )
    .await?;
    text.split_whitespace()
        .find_map(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("container {container} has no IP address ({text:?})"))
}

/// When the container was created (`docker run`).
async fn container_created(container: &str) -> Result<SystemTime> {
    let text = inspect(container, "{{.Created}}").await?;
    humantime::parse_rfc3339(&text)
        .with_context(|| format!("container {container} was created at {text:?}?"))
}

/// Megabytes (MiB, as the native RSS rows) of `docker stats`' MemUsage, e.g.
/// `312.5MiB / 7.757GiB`.
pub fn parse_mem_usage(text: &str) -> Option<f64> {
    let used = text.split('/').next()?.trim();
    let split = used.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = used.split_at(split);
    let v: f64 = number.trim().parse().ok()?;
    let bytes = match unit.trim() {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => return None,
    };
    Some(v * bytes / (1024.0 * 1024.0))
}

/// Makes this run's base alias: `base` with the bench's labels (a new image id, the same layers).
async fn make_alias(base: &str, nonce: &str) -> Result<String> {
    let alias = format!("{BASE_REPOSITORY}:{nonce}");
    let owner = format!("{OWNER_LABEL}={}", std::process::id());
    let run = format!("{RUN_LABEL}={nonce}");
    docker(
        &[
            "build",
            "--network=none",
            "--label",
            &owner,
            "--label",
            &run,
            "-t",
            &alias,
            "-",
        ],
        Some(format!("FROM {base}\n").as_bytes()),
        DOCKER_TIMEOUT,
    )
    .await
    .with_context(|| format!("making the base alias {alias} of {base}"))?;
    Ok(alias)
}

/// Top-level images (tagged, or the dangling last image of an interrupted build) carrying the
/// label `filter` (`key` or `key=value`): (id, `repository:tag`).
async fn images_with(filter: &str) -> Result<Vec<(String, String)>> {
    let out = docker(
        &[
            "images",
            "--filter",
            &format!("label={filter}"),
            "--format",
            "{{.ID}} {{.Repository}}:{{.Tag}}",
        ],
        None,
        DOCKER_TIMEOUT,
    )
    .await?;
    Ok(out
        .lines()
        .filter_map(|l| l.trim().split_once(' '))
        .map(|(id, tag)| (id.to_owned(), tag.to_owned()))
        .collect())
}

/// Removes images the bench built (found by its labels): by tag where they have one (the
/// alias last), else by id. Their untagged parents go with them.
async fn remove_images(images: &[(String, String)]) -> Result<()> {
    let mut order: Vec<&(String, String)> = images.iter().collect();
    // Built images, then aliases, then what has no tag.
    order.sort_by_key(|(_, tag)| {
        (
            tag.contains("<none>"),
            tag.starts_with(BASE_REPOSITORY),
            tag.clone(),
        )
    });
    let mut failed = Vec::new();
    let mut done = std::collections::HashSet::new();
    for (id, tag) in order {
        let target = if tag.contains("<none>") { id } else { tag };
        if !done.insert(target.clone()) {
            continue;
        }
        if let Err(e) = docker(&["rmi", target], None, DOCKER_TIMEOUT).await {
            // An untagged image already deleted with its child is no failure.
            if !format!("{e:#}").contains("No such image") {
                failed.push(format!("{e:#}"));
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        bail!("{}", failed.join("; "))
    }
}

/// Removes what a bench that was killed left in Docker: the container of its developer-loop
/// `lsk up`, and its images (those of a bench still running are left alone).
async fn sweep_stale(ctx: &Ctx) {
    let state = lsk::backend::state_dir(&ctx.devloop_dir());
    if let Ok(true) = kit::stop_detached(&state).await {
        progress("docker: removed the container an earlier bench's `lsk up` left");
    }
    let Ok(images) = images_with(OWNER_LABEL).await else {
        return;
    };
    let label = format!("{{{{index .Config.Labels \"{OWNER_LABEL}\"}}}}");
    let mut stale = Vec::new();
    for (id, tag) in images {
        let owner = docker(
            &["image", "inspect", "--format", &label, &id],
            None,
            DOCKER_TIMEOUT,
        )
        .await
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok());
        if owner.is_some_and(|pid| pid != std::process::id() && procs::is_alive(pid)) {
            continue;
        }
        stale.push((id, tag));
    }
    if stale.is_empty() {
        return;
    }
    progress(&format!(
        "docker: removing {} image(s) an earlier bench left",
        stale.len()
    ));
    if let Err(e) = remove_images(&stale).await {
        progress(&format!("docker: could not remove them all: {e:#}"));
    }
}

/// Copies what our image is made of (prepare-site.py, lock, plugin; the venv linked for its `uv`)
/// and `init` under `dir`; returns the copy's root and lsk-init.
fn snapshot_inputs(root: &Path, init: &Path, dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let inputs = dir.join("inputs");
    let ls = Path::new("localstack");
    for sub in [Path::new(image::PLUGIN), &ls.join("docker")] {
        devloop::sync_dir(&root.join(sub), &inputs.join(sub))?;
    }
    let lock = std::fs::read(root.join(image::LOCK))
        .with_context(|| format!("reading {}", root.join(image::LOCK).display()))?;
    devloop::write_if_changed(&inputs.join(image::LOCK), &lock)?;
    let venv = root.join(".lsk").join("venv");
    let link = inputs.join(".lsk").join("venv");
    std::fs::create_dir_all(inputs.join(".lsk"))?;
    if std::fs::read_link(&link).ok().as_deref() != Some(venv.as_path()) {
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&venv, &link)
            .with_context(|| format!("linking {} to {}", link.display(), venv.display()))?;
    }
    let init_copy = dir.join("lsk-init");
    std::fs::copy(init, &init_copy)
        .with_context(|| format!("copying {} to {}", init.display(), init_copy.display()))?;
    Ok((inputs, init_copy))
}

/// Asks for a Docker daemon; records its version (or why there is none) on the machine line.
async fn probe(machine: &mut Machine, owned: &mut Owned) -> Result<(), String> {
    match kit::probe_daemon(lsk::backend::DAEMON_PROBE_TIMEOUT).await {
        DaemonProbe::Available { version } => {
            machine.docker = version.clone();
            owned.daemon = Some(version);
            Ok(())
        }
        DaemonProbe::Unavailable { why } => {
            machine.docker = format!("none ({why})");
            Err(why)
        }
    }
}

/// The image rows, and everything the bench's containers are measured in: the Ready,
/// floor, memory and cold rows. Skips the section where no daemon answers.
pub async fn container_phases(
    ctx: &Ctx,
    built: &Built,
    report: &mut Report,
    machine: &mut Machine,
    owned: &mut Owned,
) {
    progress("docker: asking for a Docker daemon");
    if let Err(why) = probe(machine, owned).await {
        report.skip_section(
            Section::Docker,
            &format!("skipped: no Docker daemon answered ({why})"),
        );
        return;
    }
    sweep_stale(ctx).await;
    progress("docker: our image, built cold then found cached");
    if let Err(e) = image_phase(ctx, report, owned).await {
        report.fail_section(Section::Docker, &format!("our image: {e:#}"));
        return;
    }
    if let Err(why) = lsk::build::host_runs_in_kit_image().await {
        let why = format!(
            "skipped: the functions the bench built on this host do not run in the image ({why})"
        );
        for id in CONTAINER_ROWS {
            report.skip(id, &why);
        }
        return;
    }
    if !ctx.plan.localstack_env.is_empty() {
        report.note(
            "docker_invoke_api",
            "--ls-env applies to the native LocalStacks only",
        );
    }
    let mut starts = Vec::new();
    if let Err(e) = main_container(ctx, built, report, owned, &mut starts).await {
        let why = format!("{e:#}");
        report.errors.push(format!("docker: {why}"));
        for id in CONTAINER_ROWS {
            report.fail(id, &why);
        }
    }
    for i in 0..ctx.plan.docker_starts {
        progress(&format!(
            "docker: container start {}/{} (start to Ready only)",
            i + 2,
            ctx.plan.docker_starts + 1
        ));
        match start_container(ctx, owned, "docker-start").await {
            Ok((ls, start)) => {
                starts.push(start);
                crate::stop_localstack(ls, "timing container's", report).await;
            }
            Err(e) => {
                report
                    .errors
                    .push(format!("docker: an extra container start failed: {e:#}"));
                break;
            }
        }
    }
    set_ready(report, &starts);
}

/// Builds the image cold on this run's alias, then times `ensure` finding it.
async fn image_phase(ctx: &Ctx, report: &mut Report, owned: &mut Owned) -> Result<()> {
    let shown = Progress::plain();
    let started = Instant::now();
    // Made or pulled here the first time (untimed: the cold row is the image on a present base).
    let base = image::ensure_base(&ctx.root, None, &shown).await?;
    let base_took = started.elapsed();
    let alias = make_alias(&base, &ctx.plan.nonce).await?;
    owned.base = Some(alias.clone());
    let built_init = lsk::build::build_init_for_image(&ctx.root, &shown).await?;
    let (inputs, init) = snapshot_inputs(&ctx.root, &built_init, &ctx.bench_dir.join("docker"))?;
    owned.inputs = Some(inputs.clone());
    owned.init = Some(init.clone());

    let started = Instant::now();
    let tag = image::ensure(&inputs, &init, Some(&alias), &shown).await?;
    let cold = started.elapsed();
    owned.image = Some(tag.clone());
    report.set(
        "docker_image_cold",
        Measured::value(Unit::Seconds, cold.as_secs_f64(), 1),
    );
    report.note(
        "docker_image_cold",
        format!(
            "{tag} on {alias} ({base} with this run's labels; the base was there after {:.1} s, untimed)",
            base_took.as_secs_f64()
        ),
    );

    let mut cached = Vec::with_capacity(CACHED_SAMPLES);
    for _ in 0..CACHED_SAMPLES {
        let started = Instant::now();
        let again = image::ensure(&inputs, &init, Some(&alias), &Progress::silent()).await?;
        cached.push(started.elapsed());
        if again != tag {
            bail!("ensure gave {again} after building {tag}: an input changed while the bench ran");
        }
    }
    if let Some(m) = Measured::of_durations_ms(&cached) {
        report.set("docker_image_cached", m);
    }
    Ok(())
}

/// How long one container took to start.
struct Start {
    /// `LocalStack::start` as called: daemon probe, image check, orphan sweep, run, Ready.
    wall: Duration,
    /// From the container's creation to Ready.
    ready: Result<Duration>,
}

/// Starts our image attached (removed when stopped, or by its reaper if the bench dies), on a
/// free port, with the image the bench built.
async fn start_container(ctx: &Ctx, owned: &Owned, label: &str) -> Result<(LocalStack, Start)> {
    let state_dir = ctx.bench_dir.join("state").join(label);
    if state_dir.exists() {
        std::fs::remove_dir_all(&state_dir)
            .with_context(|| format!("clearing {}", state_dir.display()))?;
    }
    let root = owned
        .inputs
        .as_deref()
        .ok_or_else(|| anyhow!("the image's inputs were not copied"))?;
    let mut opts = StartOptions::new(root)
        .port(0)
        .services(ctx.stack.manifest().services())
        .init_bin(owned.init.clone())
        .docker_base(owned.base.clone())
        .env(lsk::Env::default())
        .progress(Progress::plain());
    opts.state_dir = state_dir;
    let started = Instant::now();
    let ls = LocalStack::start(BackendChoice::Docker, opts).await?;
    let (wall, ready_at) = (started.elapsed(), SystemTime::now());
    let ready = async {
        let name = ls
            .container()
            .ok_or_else(|| anyhow!("the docker LocalStack has no container"))?;
        let created = container_created(name).await?;
        ready_at
            .duration_since(created)
            .map_err(|_| anyhow!("container {name} was created after it was ready"))
    }
    .await;
    Ok((ls, Start { wall, ready }))
}

fn set_ready(report: &mut Report, starts: &[Start]) {
    let ready: Vec<Duration> = starts
        .iter()
        .filter_map(|s| s.ready.as_ref().ok().copied())
        .collect();
    let walls: Vec<Duration> = starts.iter().map(|s| s.wall).collect();
    for s in starts {
        if let Err(e) = &s.ready {
            report
                .errors
                .push(format!("docker: container start to Ready: {e:#}"));
        }
    }
    match Measured::of_durations_s(&ready) {
        Some(m) => report.set("docker_ready", m),
        None => report.fail("docker_ready", "no container was started"),
    }
    if let Some(w) = Measured::of_durations_s(&walls) {
        report.note(
            "docker_ready",
            format!(
                "LocalStack::start as called (daemon probe, image check, orphan sweep, run, Ready): p50 {}",
                Unit::Seconds.format(w.median)
            ),
        );
    }
}

/// The container the floor, memory and cold rows are measured in.
async fn main_container(
    ctx: &Ctx,
    built: &Built,
    report: &mut Report,
    owned: &Owned,
    starts: &mut Vec<Start>,
) -> Result<()> {
    progress("docker: starting our container");
    let (ls, start) = start_container(ctx, owned, "docker-main").await?;
    starts.push(start);
    let measured = measure(ctx, built, &ls, report).await;
    crate::stop_localstack(ls, "docker", report).await;
    measured
}

async fn measure(ctx: &Ctx, built: &Built, ls: &LocalStack, report: &mut Report) -> Result<()> {
    let name = ls
        .container()
        .ok_or_else(|| anyhow!("the docker LocalStack has no container"))?
        .to_owned();
    let version = crate::localstack_version(ls.endpoint()).await;
    progress("docker: deploying the stack into our container");
    let mut first = Vec::new();
    let (deployed, ep) = crate::deploy_and_prepare(ctx, built, ls, &mut first).await?;
    let pid = container_pid(&name).await?;

    progress("docker floor: ListFunctions, invoke, function URL through the published port");
    let floor = crate::floor_samples(&ep, &ctx.plan).await?;
    let pairs = [
        ("docker_ratio_api", "invoke_api", &floor.invoke),
        ("docker_ratio_url", "invoke_url", &floor.url),
    ];
    for (ratio_id, native_id, docker) in pairs {
        match report.get(native_id).cloned() {
            Some(native) => {
                report.set(
                    ratio_id,
                    Measured::value(
                        Unit::Ratio,
                        docker.median / native.median,
                        docker.n.min(native.n),
                    ),
                );
                report.note(
                    ratio_id,
                    format!("native p50 {}", Unit::Ms.format(native.median)),
                );
            }
            None => report.fail(
                ratio_id,
                &format!("needs the native row {native_id} of this run (floor section)"),
            ),
        }
    }
    report.note(
        "docker_list_functions",
        format!(
            "{}; container {name}, LocalStack {version}",
            crate::warmup_note(&ctx.plan, &floor.list)
        ),
    );
    report.note(
        "docker_invoke_api",
        crate::warmup_note(&ctx.plan, &floor.invoke),
    );
    report.note(
        "docker_invoke_url",
        crate::warmup_note(&ctx.plan, &floor.url),
    );
    let published_list = floor.list.median;
    report.set("docker_list_functions", floor.list);
    report.set("docker_invoke_api", floor.invoke);
    report.set("docker_invoke_url", floor.url);

    if lsk::backend::docker::Network::for_kit() == lsk::backend::docker::Network::Host {
        // Nothing to compare: on the host's network no docker-proxy sits in front of it.
        report.skip(
            "docker_invoke_direct",
            "the container runs on the host's network, so the rows above have no docker-proxy in them (LSK_DOCKER_NETWORK=bridge publishes a port and measures this)",
        );
    } else {
        progress("docker: the same invoke at the container's own address (no docker-proxy)");
        if let Err(e) = direct(&ep, &name, published_list, &ctx.plan, report).await {
            report.fail("docker_invoke_direct", &format!("{e:#}"));
        }
    }

    progress("docker memory: two warm square environments");
    if let Err(e) = memory_rows(&ep, pid, &name, report).await {
        report.fail("docker_rss", &format!("{e:#}"));
    }

    progress("docker: cold starts after a configuration deploy");
    let lambda = deployed.clients().lambda.clone();
    let plan = &ctx.plan;
    match cold::after_update(&ep, &lambda, pid, FUNCTION, plan.cold_samples, &plan.nonce).await {
        Ok(c) => crate::set_cold(
            report,
            "docker_cold_update",
            "docker_cold_update_delta",
            "docker_invoke_api",
            &c,
        ),
        Err(e) => {
            let why = format!("{e:#}");
            report.fail("docker_cold_update", &why);
            report.fail("docker_cold_update_delta", &why);
        }
    }
    if let Some(m) = Measured::of_durations_ms(&first) {
        report.note(
            "docker_cold_update",
            format!(
                "first invoke after start + full deploy: {}",
                Unit::Ms.format(m.median)
            ),
        );
    }
    Ok(())
}

/// Invoke (and ListFunctions) at the container's IP on its network: the published port's share
/// of the docker figures (docker-proxy relays every connection to 127.0.0.1:<port>).
async fn direct(
    ep: &Endpoints,
    name: &str,
    published_list: f64,
    plan: &crate::Plan,
    report: &mut Report,
) -> Result<()> {
    let addr = SocketAddr::new(container_ip(name).await?, kit::CONTAINER_PORT);
    let (w, n) = (plan.warmup, plan.samples);
    let invoke = load::latency(
        addr,
        &ep.invoke,
        &Check::Exact(ep.invoke_body.clone()),
        w,
        n,
    )
    .await
    .with_context(|| format!("Invoke at {addr}"))?;
    let list = load::latency(addr, &ep.list, &Check::Ok, w, n)
        .await
        .with_context(|| format!("ListFunctions at {addr}"))?;
    let (Some(invoke), Some(list)) = (
        Measured::of_durations_ms(&invoke),
        Measured::of_durations_ms(&list),
    ) else {
        bail!("no samples");
    };
    report.note(
        "docker_invoke_direct",
        format!(
            "at {addr}; ListFunctions there p50 {} (published port {})",
            Unit::Ms.format(list.median),
            Unit::Ms.format(published_list)
        ),
    );
    report.set("docker_invoke_direct", invoke);
    Ok(())
}

/// The container's memory with two warm square environments, as `docker stats` reports it, and
/// the VmRSS of its processes beside the native figure.
async fn memory_rows(ep: &Endpoints, pid: u32, name: &str, report: &mut Report) -> Result<()> {
    let rounds = memory::two_warm(ep, pid).await?;
    let usage = docker(
        &["stats", "--no-stream", "--format", "{{.MemUsage}}", name],
        None,
        DOCKER_TIMEOUT,
    )
    .await?;
    let mb = parse_mem_usage(&usage)
        .ok_or_else(|| anyhow!("docker stats gave no memory figure: {:?}", usage.trim()))?;
    report.set("docker_rss", Measured::value(Unit::Megabytes, mb, 1));
    let envs = procs::environments(pid)
        .into_iter()
        .filter(|e| e.function == FUNCTION)
        .count();
    let mut by_process: Vec<(u64, u32)> = std::iter::once(pid)
        .chain(procs::descendants(pid))
        .filter_map(|p| procs::rss_kb(p).map(|kb| (kb, p)))
        .collect();
    let all_kb: u64 = by_process.iter().map(|(kb, _)| kb).sum();
    by_process.sort_unstable_by(|a, b| b.cmp(a));
    let largest: Vec<String> = by_process
        .iter()
        .take(3)
        .map(|(kb, p)| {
            let cl = procs::cmdline(*p).unwrap_or_default();
            format!(
                "{} {:.1} MB",
                crate::http::truncate(&cl, 60),
                *kb as f64 / 1024.0
            )
        })
        .collect();
    let mut note = format!(
        "docker stats MemUsage {:?} (cgroup memory: RSS and page cache in use); VmRSS of the container's {} processes {:.1} MB (largest: {}), {envs} square environment(s), {rounds} round(s) of 2 concurrent invokes",
        usage.trim(),
        by_process.len(),
        all_kb as f64 / 1024.0,
        largest.join(", ")
    );
    if let Some(native) = report.get("rss_total") {
        note.push_str(&format!(
            "; native LocalStack + 2 environments (VmRSS) {}",
            Unit::Megabytes.format(native.median)
        ));
    }
    report.note("docker_rss", note);
    Ok(())
}

/// `lsk up --backend docker` in the developer-loop copy, with the image the bench built.
pub async fn lsk_up_phase(ctx: &Ctx, report: &mut Report, owned: &Owned) {
    if owned.daemon.is_none() {
        // Skipped (no daemon) or failed with the rest of the section.
        return;
    }
    let Some(base) = owned.base.clone() else {
        report.fail(
            "docker_lsk_up",
            "needs the bench's image (see the docker image rows)",
        );
        return;
    };
    progress("developer loop: lsk up / down --backend docker");
    let mut timings = devloop::DockerTimings::default();
    let result = async {
        let cli = devloop::build_cli(&ctx.root, &ctx.bench_dir).await?;
        let mirror = devloop::prepare(&ctx.root, &ctx.stack, &ctx.devloop_dir(), FUNCTION).await?;
        let ran = devloop::run_docker(
            &cli,
            &mirror,
            &base,
            ctx.plan.devloop_reps,
            &ctx.bench_dir,
            &mut timings,
        )
        .await;
        let restored = mirror.restore();
        ran?;
        restored?;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    if let Some(m) = Measured::of_durations_s(&timings.up) {
        report.set("docker_lsk_up", m);
    }
    if let Some(steps) = timings.up_steps.first().filter(|s| !s.is_empty()) {
        report.note("docker_lsk_up", format!("first run's steps: {steps}"));
    }
    if let Some(down) = Measured::of_durations_s(&timings.down) {
        report.note(
            "docker_lsk_up",
            format!(
                "`lsk down --backend docker` p50 {}",
                Unit::Seconds.format(down.median)
            ),
        );
    }
    match (&timings.image, &owned.image) {
        (Some(ran), Some(built)) if ran == built => report.note(
            "docker_lsk_up",
            format!("containers ran {ran}, the image built cold above"),
        ),
        (Some(ran), _) => report.note(
            "docker_lsk_up",
            format!(
                "containers ran {ran}, built by the untimed first `lsk up`: the copy's image inputs differ from the bench's (the workspace changed while the bench ran)"
            ),
        ),
        _ => {}
    }
    if let Err(e) = result {
        report.fail("docker_lsk_up", &format!("{e:#}"));
    }
}

/// Removes every container the bench started (waiting first for the reapers of containers
/// dropped on Ctrl-C) and the images it built; what it had to remove itself is a leftover.
pub async fn cleanup(ctx: &Ctx, report: &mut Report, owned: &Owned) {
    if owned.daemon.is_none() {
        return;
    }
    let state = lsk::backend::state_dir(&ctx.devloop_dir());
    if kit::read_record(&state).is_some() {
        progress("stopping the developer loop's LocalStack container");
        if let Err(e) = kit::stop_detached(&state).await {
            report
                .errors
                .push(format!("stopping the developer loop's container: {e}"));
        }
    }
    let pid = std::process::id().to_string();
    let mut projects = vec![ctx.devloop_dir().display().to_string()];
    if let Ok(real) = ctx.devloop_dir().canonicalize() {
        projects.push(real.display().to_string());
    }
    let ours = |labels: &BTreeMap<String, String>| {
        labels.get(LABEL_OWNER_PID) == Some(&pid)
            || labels
                .get(LABEL_PROJECT)
                .is_some_and(|p| projects.contains(p))
    };
    let deadline = Instant::now() + REAP_WAIT;
    loop {
        let left: Vec<String> = match kit::managed_containers().await {
            Ok(all) => all
                .into_iter()
                .filter(|(_, labels)| ours(labels))
                .map(|(id, _)| id)
                .collect(),
            Err(e) => {
                report
                    .errors
                    .push(format!("listing the bench's containers: {e}"));
                break;
            }
        };
        if left.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            for id in &left {
                let short = &id[..id.len().min(12)];
                let how = match docker(&["rm", "-f", "-v", id], None, DOCKER_TIMEOUT).await {
                    Ok(_) => "removed".to_owned(),
                    Err(e) => format!("could not be removed: {e:#}"),
                };
                report.leftovers.push(format!("container {short} ({how})"));
            }
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if owned.base.is_some() {
        let run = format!("{RUN_LABEL}={}", ctx.plan.nonce);
        let removed = async {
            let images = images_with(&run).await?;
            progress(&format!(
                "removing the bench's images: {}",
                images
                    .iter()
                    .map(|(id, tag)| if tag.contains("<none>") { id } else { tag })
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            remove_images(&images).await
        }
        .await;
        if let Err(e) = removed {
            report
                .errors
                .push(format!("removing the bench's images: {e:#}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_stats_memory_is_read_in_mib() {
        assert_eq!(parse_mem_usage("312.5MiB / 7.757GiB"), Some(312.5));
        assert_eq!(parse_mem_usage("1.5GiB / 8GiB"), Some(1536.0));
        assert_eq!(parse_mem_usage("512KiB / 1GiB"), Some(0.5));
        assert!(parse_mem_usage("100MB / 1GB").is_some_and(|v| (v - 95.367).abs() < 0.01));
        assert_eq!(parse_mem_usage("--"), None);
        assert_eq!(parse_mem_usage(""), None);
    }

    #[test]
    fn docker_creation_times_are_read() {
        let t = humantime::parse_rfc3339("2025-03-01T10:20:30.123456789Z").unwrap();
        let earlier = humantime::parse_rfc3339("2025-03-01T10:20:29.5Z").unwrap();
        assert_eq!(
            t.duration_since(earlier).unwrap(),
            Duration::from_nanos(623_456_789)
        );
    }
}
