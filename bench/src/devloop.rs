//! The developer loop, timed as a developer runs it: the `lsk` CLI (built with `make bench`'s
//! `bench-tools` profile, see the workspace Cargo.toml) as a subprocess doing
//! `up`, `deploy` (nothing changed, then one function's code changed) and `down`; and
//! `up`/`down` with `--backend docker`.
//!
//! `lsk` keeps LocalStack's state in `<manifest dir>/.lsk/state` and offers no flag to move it,
//! so the loop runs in a copy of the workspace's deployable part under `<target>/bench/devloop`
//! (the functions' crates, `lsk-init`, the LocalStack installer and plugin, `lsk.toml`; the
//! Python venv is a symlink to the project's). That keeps the user's `.lsk/state` and a
//! LocalStack they may run untouched, gives the code edit a copy of its own to change, and has
//! its own cargo target dir so it never replaces binaries in the project's (seeded with a copy
//! of the project's build outputs, so it starts out fresh instead of compiling everything).

mod cli;
mod mirror;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::plan::Ctx;
use crate::procs::MARKER;
use crate::report::{Report, Section};
use crate::stats::Measured;
use crate::{FUNCTION, TOOLS_PROFILE, progress};

pub use cli::{build_cli, free_port};
pub use mirror::{prepare, sync_dir, write_if_changed};

use cli::{Backend, lsk, native, parse_report};
use mirror::Mirror;

/// The first `lsk up` in the copy compiles the functions and lsk-init from scratch.
const PRIME_TIMEOUT: Duration = Duration::from_secs(45 * 60);
const STEP_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Variables that would point the CLI at another LocalStack or manifest.
const CLEARED_ENV: &[&str] = &[
    "LOCALSTACK_ENDPOINT",
    "AWS_ENDPOINT_URL",
    "LSK_BACKEND",
    "LSK_PORT",
    "LSK_MANIFEST",
    "LSK_REGION",
    "LSK_BUILD_TARGET",
    "LSK_STATE_DIR",
    "LSK_DOCKER_BASE",
    "CARGO_BUILD_TARGET_DIR",
];

/// Timings of the loop, one entry per repetition.
#[derive(Debug, Default)]
pub struct Timings {
    pub up: Vec<Duration>,
    pub deploy_noop: Vec<Duration>,
    pub deploy_code: Vec<Duration>,
    pub down: Vec<Duration>,
    /// The same stack exported with `lsk export sam` and run from the template.
    pub sam_up: Vec<Duration>,
    pub sam_deploy_noop: Vec<Duration>,
    pub notes: Vec<String>,
    /// The CLI's own step timings of each `up` and code-change `deploy`.
    pub up_steps: Vec<String>,
    pub deploy_code_steps: Vec<String>,
}

/// Primes the copy (an untimed `up` + `down` that builds everything), then `reps` times:
/// `up`, `deploy` (no change), edit, `deploy` (code changed), `down`.
pub async fn run(
    cli: &Path,
    mirror: &Mirror,
    reps: usize,
    nonce: &str,
    bench_dir: &Path,
    timings: &mut Timings,
) -> Result<()> {
    let report_progress = |msg: &str| eprintln!("[devloop] {msg}");
    if lsk::backend::native::find_detached(&mirror.state_dir()).is_some() {
        lsk::backend::native::stop_detached(&mirror.state_dir()).await?;
    }
    mirror.restore()?;
    report_progress(
        "priming: untimed `lsk up` + `lsk down` in the copy (builds everything the first time)",
    );
    let port = free_port()?;
    lsk(
        cli,
        mirror,
        Backend::Native,
        port,
        &["up"],
        PRIME_TIMEOUT,
        bench_dir,
        true,
    )
    .await?;
    native(cli, mirror, port, &["down"], bench_dir).await?;
    for rep in 0..reps {
        let port = free_port()?;
        report_progress(&format!(
            "repetition {}/{reps}: lsk up on port {port}",
            rep + 1
        ));
        let up = native(cli, mirror, port, &["up"], bench_dir).await?;
        timings.up.push(up.took);
        timings.up_steps.push(up.steps());

        let noop = native(cli, mirror, port, &["deploy", "--json"], bench_dir).await?;
        let (uploaded, is_noop) = parse_report(&noop.stdout)?;
        if !is_noop || !uploaded.is_empty() {
            bail!("`lsk deploy` with nothing changed was not a no-op (uploaded: {uploaded:?})");
        }
        timings.deploy_noop.push(noop.took);

        let line = mirror.edit(&format!("{nonce}-{rep}"))?;
        let changed = native(cli, mirror, port, &["deploy", "--json"], bench_dir).await?;
        timings.deploy_code_steps.push(changed.steps());
        let (uploaded, _) = parse_report(&changed.stdout)?;
        if uploaded != ["square"] {
            bail!(
                "after editing square, `lsk deploy` uploaded {uploaded:?} instead of just square"
            );
        }
        timings.deploy_code.push(changed.took);
        if rep == 0 {
            timings.notes.push(format!(
                "edit: `{line}` inserted into {}",
                mirror
                    .edit_file
                    .strip_prefix(&mirror.dir)
                    .unwrap_or(&mirror.edit_file)
                    .display()
            ));
        }

        let down = native(cli, mirror, port, &["down"], bench_dir).await?;
        timings.down.push(down.took);
    }
    sam_loop(cli, mirror, reps, bench_dir, timings).await
}

/// The stack exported as a SAM template (`lsk export sam`), then `reps` times: `lsk --template
/// up`, `deploy` (no change), `down`, the same steps as above but through CloudFormation.
async fn sam_loop(
    cli: &Path,
    mirror: &Mirror,
    reps: usize,
    bench_dir: &Path,
    timings: &mut Timings,
) -> Result<()> {
    let template = mirror.dir.join("template.yaml");
    let template_arg = template.display().to_string();
    let port = free_port()?;
    native(
        cli,
        mirror,
        port,
        &["export", "sam", "-o", &template_arg],
        bench_dir,
    )
    .await?;
    let sam = |args: &[&'static str]| {
        let mut all = vec!["--template", template_arg.as_str()];
        all.extend_from_slice(args);
        all.into_iter().map(str::to_owned).collect::<Vec<String>>()
    };
    for rep in 0..reps {
        let port = free_port()?;
        eprintln!(
            "[devloop] repetition {}/{reps}: lsk --template up on port {port}",
            rep + 1
        );
        let args = sam(&["up"]);
        let up = native(cli, mirror, port, &refs(&args), bench_dir).await?;
        timings.sam_up.push(up.took);
        let args = sam(&["deploy", "--json"]);
        let noop = native(cli, mirror, port, &refs(&args), bench_dir).await?;
        let (uploaded, is_noop) = parse_report(&noop.stdout)?;
        if !is_noop || !uploaded.is_empty() {
            bail!("`lsk deploy` of the template with nothing changed was not a no-op");
        }
        timings.sam_deploy_noop.push(noop.took);
        let args = sam(&["down"]);
        native(cli, mirror, port, &refs(&args), bench_dir).await?;
    }
    Ok(())
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// `lsk up` / `lsk down` with `--backend docker`, one entry per repetition.
#[derive(Debug, Default)]
pub struct DockerTimings {
    pub up: Vec<Duration>,
    pub down: Vec<Duration>,
    pub up_steps: Vec<String>,
    /// The image the containers of the timed runs ran (from the record `lsk up` leaves).
    pub image: Option<String>,
}

/// Primes the copy for the docker backend (an untimed `up` + `down`: the image is built there
/// if the copy's lsk-init differs from the one the bench built it with), then `reps` times: `up`
/// and `down` with `--backend docker`, the image built on `base`.
pub async fn run_docker(
    cli: &Path,
    mirror: &Mirror,
    base: &str,
    reps: usize,
    bench_dir: &Path,
    timings: &mut DockerTimings,
) -> Result<()> {
    let report_progress = |msg: &str| eprintln!("[devloop] {msg}");
    let backend = Backend::Docker { base };
    let state = mirror.state_dir();
    // Neither a native LocalStack nor a container of an earlier (failed) run may be left to
    // compete for the cores, or be reused by `up`.
    if lsk::backend::native::find_detached(&state).is_some() {
        lsk::backend::native::stop_detached(&state).await?;
    }
    lsk::backend::docker::stop_detached(&state).await?;
    mirror.restore()?;
    report_progress("priming: untimed `lsk up --backend docker` + `lsk down` in the copy");
    let port = free_port()?;
    let up = |port: u16, timeout: Duration, show: bool| {
        lsk(
            cli,
            mirror,
            backend,
            port,
            &["up"],
            timeout,
            bench_dir,
            show,
        )
    };
    let down = |port: u16| {
        lsk(
            cli,
            mirror,
            backend,
            port,
            &["down"],
            STEP_TIMEOUT,
            bench_dir,
            false,
        )
    };
    up(port, PRIME_TIMEOUT, true).await?;
    down(port).await?;
    for rep in 0..reps {
        let port = free_port()?;
        report_progress(&format!(
            "repetition {}/{reps}: lsk up --backend docker on port {port}",
            rep + 1
        ));
        let run = up(port, STEP_TIMEOUT, false).await?;
        timings.up.push(run.took);
        timings.up_steps.push(run.steps());
        if timings.image.is_none() {
            timings.image = lsk::backend::docker::read_record(&state).map(|r| r.image);
        }
        let run = down(port).await?;
        timings.down.push(run.took);
    }
    Ok(())
}

/// `lsk watch`, timed as a developer meets it: `save -> first answer from the new code`, next
/// to the incremental build `lsk watch` ran for that save (the same build alone), `reps` times.
#[derive(Debug, Default)]
pub struct WatchTimings {
    pub save_to_answer: Vec<Duration>,
    pub build: Vec<Duration>,
}

/// The build time `lsk watch` prints: `square: new code in place (build 3.21 s); ...`.
pub fn watch_build_time(line: &str, function: &str) -> Option<Duration> {
    let rest = line
        .split_once(&format!("{function}: new code in place (build "))?
        .1;
    let secs: f64 = rest.split_once(" s)")?.0.parse().ok()?;
    Some(Duration::from_secs_f64(secs))
}

/// Starts `lsk up` in the copy, runs `lsk watch <function>` and, `reps` times: edits the
/// function, then invokes it every few ms until an answer comes from a new bootstrap process
/// (its REPORT line has an `Init Duration`: only the swap starts one in a warm environment).
pub async fn run_watch(
    cli: &Path,
    mirror: &Mirror,
    function: &str,
    reps: usize,
    nonce: &str,
    bench_dir: &Path,
    timings: &mut WatchTimings,
) -> Result<()> {
    mirror.restore()?;
    let port = free_port()?;
    native(cli, mirror, port, &["up"], bench_dir).await?;
    let measured = async {
        let mut cmd = Command::new(cli);
        cmd.args([
            "--backend",
            "native",
            "--port",
            &port.to_string(),
            "--manifest",
        ])
        .arg(&mirror.manifest)
        .args(["watch", function])
        .current_dir(&mirror.dir)
        .env("CARGO_TARGET_DIR", &mirror.target_dir)
        .env(MARKER, bench_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
        for k in CLEARED_ENV {
            cmd.env_remove(k);
        }
        let mut child = cmd.spawn().context("starting lsk watch")?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| anyhow!("lsk watch's stderr was not captured"))?;
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        let mut wait_for = async |needle: &str| -> Result<String> {
            let found = tokio::time::timeout(STEP_TIMEOUT, async {
                while let Ok(Some(line)) = lines.next_line().await {
                    seen.push(line.clone());
                    if line.contains(needle) {
                        return Some(line);
                    }
                }
                None
            })
            .await
            .ok()
            .flatten();
            found.ok_or_else(|| {
                anyhow!(
                    "`lsk watch` never printed {needle:?}; it printed:\n{}",
                    seen.join("\n")
                )
            })
        };
        wait_for("watching ").await?;
        let endpoint = format!("http://127.0.0.1:{port}");
        let clients = lsk::aws::Clients::new(&lsk::aws::sdk_config(&endpoint, "us-east-1"));
        let payload = br#"{"number": 6}"#;
        // The environment that starts on the watched code for the first time.
        lsk::invoke::invoke(&clients, function, payload, lsk::InvokeMode::Sync).await?;
        for rep in 0..reps {
            mirror.edit(&format!("{nonce}-watch-{rep}"))?;
            let saved = Instant::now();
            let build_line = async { wait_for(&format!("{function}: new code in place")).await };
            let first_new_answer = async {
                loop {
                    let inv =
                        lsk::invoke::invoke(&clients, function, payload, lsk::InvokeMode::Sync)
                            .await?;
                    if inv
                        .log_tail
                        .as_deref()
                        .is_some_and(|t| t.contains("Init Duration"))
                    {
                        return Ok::<_, anyhow::Error>(saved.elapsed());
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            };
            let (line, took) = tokio::try_join!(build_line, async {
                tokio::time::timeout(STEP_TIMEOUT, first_new_answer)
                    .await
                    .map_err(|_| anyhow!("no answer from new code within {STEP_TIMEOUT:?}"))?
            })?;
            let build = watch_build_time(&line, function)
                .ok_or_else(|| anyhow!("no build time in {line:?}"))?;
            timings.save_to_answer.push(took);
            timings.build.push(build);
        }
        let _ = child.start_kill();
        let _ = child.wait().await;
        Ok::<_, anyhow::Error>(())
    }
    .await;
    let down = native(cli, mirror, port, &["down"], bench_dir).await;
    mirror.restore()?;
    measured?;
    down.map(drop)
}

pub(crate) async fn devloop_phase(ctx: &Ctx, report: &mut Report) {
    let mut timings = Timings::default();
    let mut watch = WatchTimings::default();
    let result = async {
        let cli = build_cli(&ctx.root, &ctx.bench_dir).await?;
        let mirror = prepare(&ctx.root, &ctx.stack, &ctx.devloop_dir(), FUNCTION).await?;
        let ran = run(
            &cli,
            &mirror,
            ctx.plan.devloop_reps,
            &ctx.plan.nonce,
            &ctx.bench_dir,
            &mut timings,
        )
        .await;
        let restored = mirror.restore();
        ran?;
        restored?;
        progress("devloop: lsk watch (save -> first answer from the new code)");
        run_watch(
            &cli,
            &mirror,
            FUNCTION,
            ctx.plan.devloop_reps,
            &ctx.plan.nonce,
            &ctx.bench_dir,
            &mut watch,
        )
        .await?;
        Ok::<_, anyhow::Error>(cli)
    }
    .await;
    for (id, samples) in [
        ("watch_save_to_answer", &watch.save_to_answer),
        ("watch_build", &watch.build),
    ] {
        if let Some(m) = Measured::of_durations_s(samples) {
            report.set(id, m);
        }
    }
    let rows = [
        ("lsk_up", &timings.up),
        ("lsk_deploy_code", &timings.deploy_code),
        ("lsk_deploy_noop", &timings.deploy_noop),
        ("lsk_down", &timings.down),
        ("sam_lsk_up", &timings.sam_up),
        ("sam_lsk_deploy_noop", &timings.sam_deploy_noop),
    ];
    for (id, samples) in rows {
        if let Some(m) = Measured::of_durations_s(samples) {
            report.set(id, m);
        }
    }
    for n in &timings.notes {
        report.note("lsk_deploy_code", n.clone());
    }
    if let Some(steps) = timings.up_steps.first().filter(|s| !s.is_empty()) {
        report.note("lsk_up", format!("first run's steps: {steps}"));
    }
    if let Some(steps) = timings.deploy_code_steps.first().filter(|s| !s.is_empty()) {
        report.note("lsk_deploy_code", format!("first run's steps: {steps}"));
    }
    match result {
        Ok(cli) => report.note(
            "lsk_up",
            format!(
                "{} (profile {TOOLS_PROFILE}), in a copy of the workspace under {}",
                cli.strip_prefix(&ctx.root).unwrap_or(&cli).display(),
                ctx.devloop_dir()
                    .strip_prefix(&ctx.root)
                    .unwrap_or(&ctx.devloop_dir())
                    .display()
            ),
        ),
        Err(e) => report.fail_section(Section::Devloop, &format!("{e:#}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_time_lsk_watch_prints_is_read_back() {
        let line = "square: new code in place (build 3.21 s); its next invocation runs it";
        assert_eq!(
            watch_build_time(line, "square"),
            Some(Duration::from_secs_f64(3.21))
        );
        assert_eq!(watch_build_time(line, "other"), None);
        assert_eq!(
            watch_build_time("square: new code in place", "square"),
            None
        );
    }
}
