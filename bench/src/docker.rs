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

mod cli;
mod containers;
mod images;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use lsk::backend::DaemonProbe;
use lsk::backend::docker::{self as kit, LABEL_OWNER_PID, LABEL_PROJECT};
use lsk::build::Built;

use crate::localstack::stop_localstack;
use crate::machine::Machine;
use crate::plan::Ctx;
use crate::report::{Report, Section};
use crate::stats::{Measured, Unit};
use crate::{FUNCTION, devloop, progress};

use cli::docker;

/// Repository of the base aliases the bench builds its image on.
pub const BASE_REPOSITORY: &str = "lsk-bench-base";
/// On a base alias: the pid of the bench that made it (a dead bench's are swept).
const OWNER_LABEL: &str = "dev.lsk.bench-owner-pid";
/// On a base alias: the run that made it (also what gives the alias an image id of its own).
const RUN_LABEL: &str = "dev.lsk.bench-run";
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
    images::sweep_stale(ctx).await;
    progress("docker: our image, built cold then found cached");
    if let Err(e) = images::image_phase(ctx, report, owned).await {
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
    if let Err(e) = containers::main_container(ctx, built, report, owned, &mut starts).await {
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
        match containers::start_container(ctx, owned, "docker-start").await {
            Ok((ls, start)) => {
                starts.push(start);
                stop_localstack(ls, "timing container's", report).await;
            }
            Err(e) => {
                report
                    .errors
                    .push(format!("docker: an extra container start failed: {e:#}"));
                break;
            }
        }
    }
    containers::set_ready(report, &starts);
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
            let images = images::images_with(&run).await?;
            progress(&format!(
                "removing the bench's images: {}",
                images
                    .iter()
                    .map(|(id, tag)| if tag.contains("<none>") { id } else { tag })
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            images::remove_images(&images).await
        }
        .await;
        if let Err(e) = removed {
            report
                .errors
                .push(format!("removing the bench's images: {e:#}"));
        }
    }
}
