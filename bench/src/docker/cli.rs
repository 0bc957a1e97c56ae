//! The docker CLI, as the bench runs it, and what it reads back from `docker inspect` and
//! `docker stats`.

use std::net::IpAddr;
use std::process::Stdio;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, anyhow, bail};
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use super::DOCKER_TIMEOUT;

/// Runs `docker ARGS` to completion, `input` on its stdin; returns its stdout.
pub(super) async fn docker(
    args: &[&str],
    input: Option<&[u8]>,
    timeout: Duration,
) -> Result<String> {
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
pub(super) async fn container_pid(container: &str) -> Result<u32> {
    let text = inspect(container, "{{.State.Pid}}").await?;
    text.parse::<u32>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| anyhow!("container {container} has no running process (pid {text:?})"))
}

/// The container's address on its docker network.
pub(super) async fn container_ip(container: &str) -> Result<IpAddr> {
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
pub(super) async fn container_created(container: &str) -> Result<SystemTime> {
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
