//! The `lsk` CLI: built in the project, then run in the copy with a clean environment and a
//! timeout, what it printed kept, and its JSON deploy report read back.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use super::mirror::Mirror;
use super::{CLEARED_ENV, STEP_TIMEOUT};
use crate::procs::MARKER;

const BUILD_CLI_TIMEOUT: Duration = Duration::from_secs(30 * 60);

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Builds the `lsk` CLI in the project (profile `bench-tools`) and returns its path.
///
/// The same package set as `make bench` builds (`-p lsk-cli -p lsk-bench`): cargo unifies features
/// per set, so building `-p lsk-cli` alone would recompile the AWS SDK a second time.
pub async fn build_cli(root: &Path, bench_dir: &Path) -> Result<PathBuf> {
    let args = [
        "build",
        "--profile",
        crate::TOOLS_PROFILE,
        "-p",
        "lsk-cli",
        "-p",
        "lsk-bench",
        "--bin",
        "lsk",
        "--message-format=json-render-diagnostics",
    ];
    let mut child = Command::new(cargo())
        .args(args)
        .current_dir(root)
        .env(MARKER, bench_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .context("running cargo build -p lsk-cli")?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("cargo's stdout was not captured"))?;
    let read = async {
        let mut exe = None;
        let mut lines = BufReader::new(stdout).lines();
        while let Some(line) = lines.next_line().await? {
            let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else {
                continue;
            };
            if msg["reason"] == "compiler-artifact"
                && msg["target"]["name"] == "lsk"
                && msg["target"]["kind"]
                    .as_array()
                    .is_some_and(|k| k.iter().any(|k| k == "bin"))
                && let Some(path) = msg["executable"].as_str()
            {
                exe = Some(PathBuf::from(path));
            }
        }
        let status = child.wait().await?;
        Ok::<_, anyhow::Error>((status, exe))
    };
    let (status, exe) = tokio::time::timeout(BUILD_CLI_TIMEOUT, read)
        .await
        .map_err(|_| anyhow!("cargo build -p lsk-cli took longer than {BUILD_CLI_TIMEOUT:?}"))??;
    if !status.success() {
        bail!("`cargo {}` failed ({status})", args.join(" "));
    }
    exe.filter(|p| p.is_file())
        .ok_or_else(|| anyhow!("cargo built lsk but reported no executable"))
}

/// What one `lsk` run printed and how long it took.
pub struct Run {
    pub took: Duration,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The CLI's own step timings from its `✓ <step> ... (<elapsed>)` lines, e.g.
    /// `build 0.9 s, localstack 3.6 s, deploy 4.4 s`.
    pub fn steps(&self) -> String {
        self.stderr
            .lines()
            .filter_map(|l| l.trim().strip_prefix("✓ "))
            .filter_map(|l| {
                let step = l.split_whitespace().next()?;
                let elapsed = l.rsplit_once('(')?.1.strip_suffix(')')?;
                Some(format!("{step} {elapsed}"))
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The backend the CLI is run with.
#[derive(Debug, Clone, Copy)]
pub enum Backend<'a> {
    Native,
    /// Our image in a container, built on `base` (given to `lsk` as `LSK_DOCKER_BASE`).
    Docker {
        base: &'a str,
    },
}

/// Runs `lsk --backend <backend> --port <port> --manifest <copy> <args>` with a clean
/// environment; `show` passes its progress through to our stderr (for the long first build).
#[allow(clippy::too_many_arguments)]
pub async fn lsk(
    cli: &Path,
    mirror: &Mirror,
    backend: Backend<'_>,
    port: u16,
    args: &[&str],
    timeout: Duration,
    bench_dir: &Path,
    show: bool,
) -> Result<Run> {
    let mut cmd = Command::new(cli);
    let backend_name = match backend {
        Backend::Native => "native",
        Backend::Docker { .. } => "docker",
    };
    cmd.args(["--backend", backend_name, "--port", &port.to_string()]);
    // A call that names a SAM template (`--template PATH ...`) runs that instead of lsk.toml.
    if args.first() != Some(&"--template") {
        cmd.arg("--manifest").arg(&mirror.manifest);
    }
    cmd.args(args)
        .current_dir(&mirror.dir)
        .env("CARGO_TARGET_DIR", &mirror.target_dir)
        .env(MARKER, bench_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(if show {
            Stdio::inherit()
        } else {
            Stdio::piped()
        })
        .kill_on_drop(true);
    for k in CLEARED_ENV {
        cmd.env_remove(k);
    }
    if let Backend::Docker { base } = backend {
        cmd.env(lsk::backend::image::BASE_ENV, base);
    }
    let what = format!("lsk --backend {backend_name} {}", args.join(" "));
    let start = Instant::now();
    let out = tokio::time::timeout(timeout, cmd.output())
        .await
        .map_err(|_| anyhow!("`{what}` took longer than {timeout:?}"))?
        .with_context(|| format!("running {}", cli.display()))?;
    let took = start.elapsed();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(25).collect();
        bail!(
            "`{what}` failed ({}):\n{}",
            out.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        );
    }
    Ok(Run {
        took,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// [`lsk`] on the native backend, quietly, within the usual step timeout.
pub(super) async fn native(
    cli: &Path,
    mirror: &Mirror,
    port: u16,
    args: &[&str],
    bench_dir: &Path,
) -> Result<Run> {
    lsk(
        cli,
        mirror,
        Backend::Native,
        port,
        args,
        STEP_TIMEOUT,
        bench_dir,
        false,
    )
    .await
}

/// A free port on 127.0.0.1 for `lsk up --port`.
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

/// Functions whose code the `--json` deploy report says was uploaded, and whether it is a no-op.
pub fn parse_report(stdout: &str) -> Result<(Vec<String>, bool)> {
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).with_context(|| {
        format!(
            "`lsk deploy --json` printed no JSON: {}",
            crate::http::truncate(stdout, 300)
        )
    })?;
    let changes = v["report"]["changes"]
        .as_array()
        .ok_or_else(|| anyhow!("the deploy report has no changes list"))?;
    let mut uploaded = Vec::new();
    let mut noop = true;
    for c in changes {
        let change = c["change"].as_str().unwrap_or_default();
        if change != "unchanged" {
            noop = false;
        }
        let code = change == "created"
            || (change == "updated"
                && c["what"]
                    .as_array()
                    .is_some_and(|w| w.iter().any(|x| x == "code")));
        if c["resource"] == "function" && code {
            uploaded.push(c["name"].as_str().unwrap_or_default().to_owned());
        }
    }
    Ok((uploaded, noop))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deploy_reports_are_read_for_uploads_and_no_ops() {
        let noop = r#"{"report": {"changes": [
            {"resource": "function", "name": "square", "change": "unchanged"},
            {"resource": "queue", "name": "q", "change": "unchanged"}]}, "stack": {}}"#;
        assert_eq!(parse_report(noop).unwrap(), (vec![], true));
        let code = r#"{"report": {"changes": [
            {"resource": "function", "name": "square", "change": "updated", "what": ["code"]},
            {"resource": "function", "name": "image-generator", "change": "updated", "what": ["memory"]}]}}"#;
        assert_eq!(
            parse_report(code).unwrap(),
            (vec!["square".to_owned()], false)
        );
        assert!(parse_report("building...").is_err());
    }

    #[test]
    fn step_timings_come_from_the_check_mark_lines() {
        let run = Run {
            took: Duration::ZERO,
            stdout: String::new(),
            stderr: "backend native\n✓ build 2 functions (release, with lsk-init) (0.5 s)\n    starting\n✓ localstack native LocalStack at http://127.0.0.1:1 (pid 9) (3.8 s)\n✓ deploy 10 change(s) (4.5 s)\n".into(),
        };
        assert_eq!(run.steps(), "build 0.5 s, localstack 3.8 s, deploy 4.5 s");
    }
}
