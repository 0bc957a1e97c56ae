//! The bench's own containers of its image: each timed from creation to Ready, and one the
//! floor, memory and cold rows are measured in, beside the native rows of the same run.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, anyhow, bail};

use lsk::backend::docker as kit;
use lsk::build::Built;
use lsk::{BackendChoice, LocalStack, Progress, StartOptions};

use super::cli::{container_created, container_ip, container_pid, docker, parse_mem_usage};
use super::{DOCKER_TIMEOUT, Owned};
use crate::http::Check;
use crate::lambda::Endpoints;
use crate::localstack::{deploy_and_prepare, localstack_version, stop_localstack};
use crate::native::{floor_samples, set_cold, warmup_note};
use crate::plan::{Ctx, Plan};
use crate::report::Report;
use crate::stats::{Measured, Unit};
use crate::{FUNCTION, cold, load, memory, procs, progress};

/// How long one container took to start.
pub(super) struct Start {
    /// `LocalStack::start` as called: daemon probe, image check, orphan sweep, run, Ready.
    wall: Duration,
    /// From the container's creation to Ready.
    ready: Result<Duration>,
}

/// Starts our image attached (removed when stopped, or by its reaper if the bench dies), on a
/// free port, with the image the bench built.
pub(super) async fn start_container(
    ctx: &Ctx,
    owned: &Owned,
    label: &str,
) -> Result<(LocalStack, Start)> {
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

pub(super) fn set_ready(report: &mut Report, starts: &[Start]) {
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
pub(super) async fn main_container(
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
    stop_localstack(ls, "docker", report).await;
    measured
}

async fn measure(ctx: &Ctx, built: &Built, ls: &LocalStack, report: &mut Report) -> Result<()> {
    let name = ls
        .container()
        .ok_or_else(|| anyhow!("the docker LocalStack has no container"))?
        .to_owned();
    let version = localstack_version(ls.endpoint()).await;
    progress("docker: deploying the stack into our container");
    let mut first = Vec::new();
    let (deployed, ep) = deploy_and_prepare(ctx, built, ls, &mut first).await?;
    let pid = container_pid(&name).await?;

    progress("docker floor: ListFunctions, invoke, function URL through the published port");
    let floor = floor_samples(&ep, &ctx.plan).await?;
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
            warmup_note(&ctx.plan, &floor.list)
        ),
    );
    report.note("docker_invoke_api", warmup_note(&ctx.plan, &floor.invoke));
    report.note("docker_invoke_url", warmup_note(&ctx.plan, &floor.url));
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
        Ok(c) => set_cold(
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
    plan: &Plan,
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
