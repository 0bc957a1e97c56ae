//! square's bootstrap behind `lsk-init --standalone`, with no LocalStack: what an invoke costs
//! in the init and the function alone, the part of the warm invoke the kit itself adds.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use hyper::Method;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use lsk::build::Built;

use crate::http::{Check, Client, Prepared};
use crate::lambda::{PAYLOAD, check_36};
use crate::plan::Ctx;
use crate::procs::{self, MARKER};
use crate::report::Report;
use crate::stats::Measured;
use crate::{FUNCTION, load};

const LISTENING_PREFIX: &str = "LSK_INIT_LISTENING ";
const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(15);

/// A running `lsk-init --standalone`; stopped by [`Standalone::stop`] (or killed on drop).
pub struct Standalone {
    child: Child,
    dir: std::path::PathBuf,
    pub addr: SocketAddr,
}

impl Standalone {
    /// Copies `bootstrap_bin` to `<dir>/bootstrap` and starts `init_bin --standalone <dir>`.
    pub async fn start(
        init_bin: &Path,
        bootstrap_bin: &Path,
        dir: &Path,
        bench_dir: &Path,
    ) -> Result<Standalone> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let bootstrap = dir.join("bootstrap");
        std::fs::copy(bootstrap_bin, &bootstrap).with_context(|| {
            format!(
                "copying {} to {}",
                bootstrap_bin.display(),
                bootstrap.display()
            )
        })?;
        let mut child = Command::new(init_bin)
            .arg("--standalone")
            .arg(dir)
            .args(["--listen", "127.0.0.1:0"])
            .current_dir(dir)
            .env(MARKER, bench_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", init_bin.display()))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("lsk-init's stdout was not captured"))?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(ANNOUNCE_TIMEOUT, lines.next_line())
            .await
            .map_err(|_| {
                anyhow!(
                    "lsk-init --standalone did not announce its port within {ANNOUNCE_TIMEOUT:?}"
                )
            })?
            .context("reading lsk-init's stdout")?
            .ok_or_else(|| anyhow!("lsk-init --standalone exited before announcing its port"))?;
        let addr: SocketAddr = line
            .strip_prefix(LISTENING_PREFIX)
            .ok_or_else(|| anyhow!("unexpected first line from lsk-init: {line:?}"))?
            .trim()
            .parse()
            .with_context(|| format!("bad address in {line:?}"))?;
        if !addr.ip().is_loopback() {
            bail!("lsk-init listens on {addr}, not on loopback");
        }
        Ok(Standalone {
            child,
            dir: dir.to_path_buf(),
            addr,
        })
    }

    pub fn request(&self) -> Result<Prepared> {
        Prepared::new(
            "standalone invoke",
            Method::POST,
            &self.addr.to_string(),
            "/2015-03-31/functions/function/invocations",
            &[("content-type", "application/json")],
            PAYLOAD,
        )
    }

    /// One checked call; returns the exact answer body for later byte-for-byte checks.
    pub async fn learn_answer(&self) -> Result<bytes::Bytes> {
        let mut client = Client::connect(self.addr).await?;
        let reply = client.send(&self.request()?).await?;
        check_36(&reply).context("square via lsk-init --standalone")?;
        Ok(reply.body)
    }

    /// SIGTERM (the init stops its bootstrap), SIGKILL if it lingers.
    pub async fn stop(mut self) -> Result<()> {
        let Some(pid) = self.child.id() else {
            return Ok(());
        };
        let below = procs::descendants(pid);
        procs::signal(pid, nix::sys::signal::Signal::SIGTERM);
        let exited = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        if exited.is_err() {
            let _ = self.child.kill().await;
        }
        // Only what still runs our bootstrap executable: a recycled pid is never signalled.
        let survivors: Vec<u32> = below
            .into_iter()
            .filter(|p| procs::exe_under(*p, &self.dir))
            .collect();
        if !survivors.is_empty() {
            procs::terminate_all(&survivors, Duration::from_secs(2)).await;
            bail!("the standalone bootstrap outlived lsk-init (pids {survivors:?}); killed");
        }
        Ok(())
    }
}

pub(crate) async fn standalone_phase(ctx: &Ctx, built: &Built, report: &mut Report) -> Result<()> {
    let init = built
        .init
        .as_deref()
        .ok_or_else(|| anyhow!("lsk-init was not built"))?;
    let square = built
        .binaries
        .get(FUNCTION)
        .ok_or_else(|| anyhow!("{FUNCTION} was not built"))?;
    let dir = ctx.bench_dir.join("standalone").join(FUNCTION);
    let sa = Standalone::start(init, square, &dir, &ctx.bench_dir).await?;
    let measured = async {
        let body = sa.learn_answer().await?;
        load::latency(
            sa.addr,
            &sa.request()?,
            &Check::Exact(body),
            ctx.plan.warmup,
            ctx.plan.standalone_samples,
        )
        .await
    }
    .await;
    let stopped = sa.stop().await;
    let samples = measured?;
    stopped?;
    if let Some(m) = Measured::of_durations_ms(&samples) {
        report.set("standalone", m);
    }
    Ok(())
}
