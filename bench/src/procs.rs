//! The process table, read from /proc: memory of LocalStack and of each execution environment,
//! which environments a function has, and proof that nothing the bench started is left.
//!
//! Ownership is decided by paths, never by names alone: everything the bench starts lives under
//! its own directory (`<target>/bench`), or carries [`MARKER`] in its environment, so a
//! LocalStack or `lsk-init` someone else runs at the same time is never touched.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

/// Environment variable set on every process the bench spawns itself.
pub const MARKER: &str = "LSK_BENCH_RUN";

// Liveness, command lines, process trees and signals: the harness's own view of /proc.
pub use lsk::backend::native::procs::{all_pids, cmdline, descendants, is_alive, signal};
use lsk::backend::native::procs::{children as children_map, parent};

/// The initial environment of a process (what it was started with).
pub fn environ(pid: u32) -> HashMap<String, String> {
    let Ok(raw) = fs::read(format!("/proc/{pid}/environ")) else {
        return HashMap::new();
    };
    raw.split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// Resident memory in kB (VmRSS), if the process is alive and readable.
pub fn rss_kb(pid: u32) -> Option<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// One execution environment: the `lsk-init` process and everything under it (the bootstrap).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub init: u32,
    pub function: String,
    pub below: Vec<u32>,
}

impl Environment {
    /// RSS of the init plus its bootstrap, in kB (None if the init is gone).
    pub fn rss_kb(&self) -> Option<u64> {
        let init = rss_kb(self.init)?;
        Some(init + self.below.iter().filter_map(|p| rss_kb(*p)).sum::<u64>())
    }
}

/// The execution environments under a LocalStack process, by function name.
pub fn environments(localstack: u32) -> Vec<Environment> {
    let map = children_map();
    let mut out = Vec::new();
    let mut stack = vec![localstack];
    let mut seen = HashSet::new();
    while let Some(p) = stack.pop() {
        for &c in map.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
            if !seen.insert(c) {
                continue;
            }
            if cmdline(c).is_some_and(|cl| cl.contains("lsk-init")) {
                let function = environ(c)
                    .remove("AWS_LAMBDA_FUNCTION_NAME")
                    .unwrap_or_default();
                let mut below = Vec::new();
                let mut inner = vec![c];
                while let Some(q) = inner.pop() {
                    for &d in map.get(&q).map(Vec::as_slice).unwrap_or(&[]) {
                        below.push(d);
                        inner.push(d);
                    }
                }
                out.push(Environment {
                    init: c,
                    function,
                    below,
                });
            } else {
                stack.push(c);
            }
        }
    }
    out.sort_by_key(|e| e.init);
    out
}

/// The inits of `function` under `localstack`.
pub fn inits_of(localstack: u32, function: &str) -> HashSet<u32> {
    environments(localstack)
        .into_iter()
        .filter(|e| e.function == function)
        .map(|e| e.init)
        .collect()
}

/// RSS of `localstack` and its descendants that are not execution environments, in kB.
pub fn localstack_rss_kb(localstack: u32) -> Option<u64> {
    let own = rss_kb(localstack)?;
    let envs: HashSet<u32> = environments(localstack)
        .iter()
        .flat_map(|e| std::iter::once(e.init).chain(e.below.iter().copied()))
        .collect();
    let helpers: u64 = descendants(localstack)
        .into_iter()
        .filter(|p| !envs.contains(p))
        .filter_map(rss_kb)
        .sum();
    Some(own + helpers)
}

fn ancestors_of_self() -> HashSet<u32> {
    let mut out = HashSet::new();
    let mut pid = std::process::id();
    out.insert(pid);
    for _ in 0..64 {
        match parent(pid) {
            Some(ppid) if ppid > 1 => {
                out.insert(ppid);
                pid = ppid;
            }
            _ => break,
        }
    }
    out
}

/// Whether `pid` is alive and runs an executable under `dir`.
pub fn exe_under(pid: u32, dir: &Path) -> bool {
    is_alive(pid) && fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|e| path_under(&e, dir))
}

fn path_under(p: &Path, dir: &Path) -> bool {
    p.starts_with(dir)
}

/// Processes the bench started (in this run or an earlier one that was killed): executables
/// under `bench_dir`, processes carrying [`MARKER`] = `bench_dir`, and LocalStack launchers or
/// `lsk-init`s whose working directory or environment points into `bench_dir`.
pub fn owned_by_bench(bench_dir: &Path) -> Vec<(u32, String)> {
    let dir_text = bench_dir.display().to_string();
    let skip = ancestors_of_self();
    let mut out = Vec::new();
    for pid in all_pids() {
        if skip.contains(&pid) || !is_alive(pid) {
            continue;
        }
        let exe = fs::read_link(format!("/proc/{pid}/exe")).ok();
        let cwd = fs::read_link(format!("/proc/{pid}/cwd")).ok();
        let cl = cmdline(pid).unwrap_or_default();
        let env = environ(pid);
        let marked = env.get(MARKER).is_some_and(|v| v == &dir_text);
        let exe_ours = exe.as_deref().is_some_and(|e| path_under(e, bench_dir));
        let kit_process = cl.contains("lsk_localstack.launch") || cl.contains("lsk-init");
        let points_here = cwd.as_deref().is_some_and(|c| path_under(c, bench_dir))
            || env.values().any(|v| v.contains(&dir_text));
        if marked || exe_ours || (kit_process && points_here) {
            out.push((pid, cl));
        }
    }
    out.sort();
    out
}

/// SIGTERM, then SIGKILL after `grace`; true if every process went.
pub async fn terminate_all(pids: &[u32], grace: Duration) -> bool {
    for &p in pids {
        signal(p, Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && pids.iter().any(|p| is_alive(*p)) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for &p in pids {
        if is_alive(p) {
            signal(p, Signal::SIGKILL);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && pids.iter().any(|p| is_alive(*p)) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    !pids.iter().any(|p| is_alive(*p))
}

/// Polls until `cond` holds or `timeout` passes; returns whether it held.
pub async fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
