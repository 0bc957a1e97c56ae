//! Optional anchor: cargo-lambda's emulator (`cargo lambda watch`) serving square, measured with
//! the same client, for a sense of scale against the tool most Rust Lambda developers know.
//! Runs only when cargo-lambda is installed: in the project's tool venv (`make bench-tools`,
//! which pip-installs the pinned `cargo-lambda` wheel into `.lsk/venv`) or on PATH. The bench
//! itself never installs it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use hyper::Method;
use tokio::process::{Child, Command};

use crate::http::{Check, Client, Prepared};
use crate::lambda::{PAYLOAD, check_36, invoke_path};
use crate::plan::Ctx;
use crate::procs::MARKER;
use crate::report::{Report, Section};
use crate::stats::Measured;
use crate::{devloop, load, progress};

pub const NOT_INSTALLED: &str =
    "not installed: `make bench-tools` (pip install cargo-lambda into .lsk/venv)";
/// The emulator compiles the function before its first answer.
const FIRST_ANSWER_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// The `cargo-lambda` executable: the project venv's, else the one on PATH.
pub fn find(root: &Path) -> Option<PathBuf> {
    let venv = lsk::stack::venv_bin(root).join("cargo-lambda");
    if venv.is_file() {
        return Some(venv);
    }
    which::which("cargo-lambda").ok()
}

/// `cargo lambda watch` in its own process group, so stopping it takes the function down too.
pub struct Watch {
    child: Child,
    pub addr: SocketAddr,
}

impl Watch {
    pub async fn start(
        cargo_lambda: &Path,
        root: &Path,
        target_dir: &Path,
        port: u16,
        bench_dir: &Path,
    ) -> Result<Watch> {
        // `cargo lambda watch` runs `cargo-lambda lambda watch`; calling it so needs no PATH.
        let child = Command::new(cargo_lambda)
            .args([
                "lambda",
                "watch",
                "--ignore-changes",
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
            ])
            .arg(port.to_string())
            .args(["--release", "-p", "square", "--bin", "square"])
            .current_dir(root)
            // Its own target dir: never replaces the project's release binaries.
            .env("CARGO_TARGET_DIR", target_dir)
            .env(MARKER, bench_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .context("starting cargo lambda watch")?;
        Ok(Watch {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        })
    }

    pub fn request(&self) -> Result<Prepared> {
        Prepared::new(
            "cargo lambda invoke",
            Method::POST,
            &self.addr.to_string(),
            &invoke_path("square"),
            &[("content-type", "application/json")],
            PAYLOAD,
        )
    }

    /// Waits for the emulator to answer a first invoke correctly (it builds square first).
    pub async fn first_answer(&mut self) -> Result<bytes::Bytes> {
        let req = self.request()?;
        let deadline = Instant::now() + FIRST_ANSWER_TIMEOUT;
        let mut last = String::from("no answer yet");
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                bail!("cargo lambda watch exited ({status}) before answering; last: {last}");
            }
            match Client::connect(self.addr).await {
                Ok(mut c) => match c.send_with_timeout(&req, Duration::from_secs(600)).await {
                    Ok(reply) => match check_36(&reply) {
                        Ok(()) => return Ok(reply.body),
                        Err(e) => last = e.to_string(),
                    },
                    Err(e) => last = e.to_string(),
                },
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(anyhow!(
            "cargo lambda watch gave no correct answer within {FIRST_ANSWER_TIMEOUT:?}; last: {last}"
        ))
    }

    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id()
            && let Ok(raw) = i32::try_from(pid)
        {
            let group = nix::unistd::Pid::from_raw(raw);
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGTERM);
            if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
                .await
                .is_err()
            {
                let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
                let _ = self.child.wait().await;
            }
            // Whatever of the group is left (the function it ran).
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

pub(crate) async fn anchor_phase(ctx: &Ctx, report: &mut Report) {
    let Some(cargo_lambda) = find(&ctx.root) else {
        report.fail("anchor_cargo_lambda", NOT_INSTALLED);
        return;
    };
    progress("anchor: cargo lambda watch serving square");
    let result = async {
        let port = devloop::free_port()?;
        let mut watch = Watch::start(
            &cargo_lambda,
            &ctx.root,
            &ctx.bench_dir.join("cargo-lambda-target"),
            port,
            &ctx.bench_dir,
        )
        .await?;
        let measured = async {
            let body = watch.first_answer().await?;
            load::latency(
                watch.addr,
                &watch.request()?,
                &Check::Exact(body),
                ctx.plan.warmup,
                ctx.plan.samples,
            )
            .await
        }
        .await;
        watch.stop().await;
        measured
    }
    .await;
    match result {
        Ok(samples) => {
            if let Some(m) = Measured::of_durations_ms(&samples) {
                report.set("anchor_cargo_lambda", m);
            }
        }
        Err(e) => report.fail_section(Section::Anchor, &format!("{e:#}")),
    }
}
