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

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::procs::MARKER;

/// The first `lsk up` in the copy compiles the functions and lsk-init from scratch.
const PRIME_TIMEOUT: Duration = Duration::from_secs(45 * 60);
const STEP_TIMEOUT: Duration = Duration::from_secs(10 * 60);
const BUILD_CLI_TIMEOUT: Duration = Duration::from_secs(30 * 60);
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

/// Gives the copy's empty build dirs a copy of the project's (`<target>/lsk/*`, made by the
/// bench's own deploy a moment earlier), timestamps kept. With the sources copied with their
/// mtimes too, cargo in the copy finds them fresh: the first `lsk up` there compiles nothing,
/// instead of the AWS SDK and every function once more (minutes on a fresh clone).
fn seed_target(project_target: &Path, copy_target: &Path) -> Result<()> {
    let from = project_target.join("lsk");
    let Ok(sets) = fs::read_dir(&from) else {
        return Ok(());
    };
    let to = copy_target.join("lsk");
    fs::create_dir_all(&to).with_context(|| format!("creating {}", to.display()))?;
    for set in sets {
        let set = set?;
        let dst = to.join(set.file_name());
        if !set.file_type()?.is_dir() || dst.exists() {
            continue;
        }
        let status = std::process::Command::new("cp")
            .args(["-a", "--reflink=auto"])
            .arg(set.path())
            .arg(&dst)
            .status()
            .context("running cp")?;
        if !status.success() {
            let _ = fs::remove_dir_all(&dst);
            bail!(
                "copying {} to {} failed ({status})",
                set.path().display(),
                dst.display()
            );
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` unless it already holds them (unchanged files keep their mtime, so
/// cargo stays fresh between runs); says whether it wrote.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool> {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}

fn skipped_name(name: &str) -> bool {
    matches!(name, "target" | "build" | "__pycache__" | ".git") || name.ends_with(".egg-info")
}

/// Makes `to` a copy of `from` (files only written when they differ; files `from` no longer
/// has are removed).
pub fn sync_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let mut keep = std::collections::HashSet::new();
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        if skipped_name(&name.to_string_lossy()) {
            continue;
        }
        keep.insert(name.clone());
        let (src, dst) = (entry.path(), to.join(&name));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            sync_dir(&src, &dst)?;
        } else if kind.is_file() {
            let bytes = fs::read(&src).with_context(|| format!("reading {}", src.display()))?;
            let meta = fs::metadata(&src)?;
            if write_if_changed(&dst, &bytes)? {
                // The source's mtime: with the build outputs seeded from the project's
                // (`seed_target`), cargo then sees nothing to rebuild.
                if let Ok(modified) = meta.modified() {
                    fs::File::options()
                        .write(true)
                        .open(&dst)
                        .and_then(|f| f.set_modified(modified))
                        .with_context(|| format!("setting the mtime of {}", dst.display()))?;
                }
            }
            fs::set_permissions(&dst, meta.permissions())?;
        }
    }
    for entry in fs::read_dir(to)? {
        let entry = entry?;
        if !keep.contains(&entry.file_name()) && !skipped_name(&entry.file_name().to_string_lossy())
        {
            let p = entry.path();
            if entry.file_type()?.is_dir() {
                fs::remove_dir_all(&p)?;
            } else {
                fs::remove_file(&p)?;
            }
        }
    }
    Ok(())
}

/// The copy of the workspace the loop runs in.
pub struct Mirror {
    pub dir: PathBuf,
    pub manifest: PathBuf,
    pub target_dir: PathBuf,
    /// The edited function's `src/main.rs` in the copy.
    pub edit_file: PathBuf,
    pristine_main: Vec<u8>,
}

/// Creates or refreshes the copy for the functions of `stack` (plus lsk-init).
pub async fn prepare(
    root: &Path,
    stack: &lsk::Stack,
    dir: &Path,
    edit_function: &str,
) -> Result<Mirror> {
    let venv = root.join(".lsk").join("venv");
    if !venv.join("bin").join("python").exists() {
        bail!(
            "{} has no LocalStack install; run `bash localstack/install.sh` (make bench does)",
            venv.display()
        );
    }
    let ws = lsk::build::workspace(root)
        .await
        .context("reading the workspace with cargo metadata")?;
    let (project_target, dirs) = (ws.target_directory, ws.package_dirs);
    let mut packages: Vec<String> = stack
        .manifest()
        .functions
        .values()
        .map(|f| f.package.clone())
        .collect();
    packages.push(lsk::build::INIT_PACKAGE.to_owned());
    packages.sort();
    packages.dedup();
    let mut members = Vec::new();
    for p in &packages {
        let src = dirs
            .get(p)
            .ok_or_else(|| anyhow!("package {p} is not in the workspace at {}", root.display()))?;
        let rel = src
            .strip_prefix(root)
            .with_context(|| format!("{} is outside {}", src.display(), root.display()))?;
        sync_dir(src, &dir.join(rel))?;
        members.push(rel.to_string_lossy().into_owned());
    }

    // The workspace manifest: the same shared settings, only the copied members.
    let text = fs::read_to_string(root.join("Cargo.toml")).context("reading Cargo.toml")?;
    let mut doc: toml::Table = toml::from_str(&text).context("parsing Cargo.toml")?;
    let ws = doc
        .get_mut("workspace")
        .and_then(toml::Value::as_table_mut)
        .ok_or_else(|| anyhow!("Cargo.toml has no [workspace] table"))?;
    ws.insert(
        "members".into(),
        toml::Value::Array(members.iter().cloned().map(toml::Value::String).collect()),
    );
    ws.remove("default-members");
    if let Some(deps) = ws
        .get_mut("dependencies")
        .and_then(toml::Value::as_table_mut)
    {
        // Path dependencies on crates that were not copied would not resolve.
        deps.retain(|_, v| {
            v.get("path")
                .and_then(toml::Value::as_str)
                .is_none_or(|p| members.iter().any(|m| m == p))
        });
    }
    let header =
        "# Generated by lsk-bench from the project's Cargo.toml: the developer-loop copy.\n";
    let body = toml::to_string(&doc).context("writing the copy's Cargo.toml")?;
    write_if_changed(
        &dir.join("Cargo.toml"),
        format!("{header}{body}").as_bytes(),
    )?;
    write_if_changed(&dir.join("Cargo.lock"), &fs::read(root.join("Cargo.lock"))?)?;
    let manifest = dir.join("lsk.toml");
    write_if_changed(&manifest, &fs::read(&stack.manifest().path)?)?;
    // Files the manifest reads, at the same paths relative to it.
    for machine in stack.manifest().state_machines.values() {
        let from = &machine.definition_path;
        let to = dir.join(&machine.definition_file);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        write_if_changed(
            &to,
            &fs::read(from).with_context(|| format!("reading {}", from.display()))?,
        )?;
    }

    // What the native backend needs next to the manifest.
    let ls = root.join("localstack");
    for f in ["install.sh", "requirements.lock", "requirements.in"] {
        if ls.join(f).is_file() {
            write_if_changed(&dir.join("localstack").join(f), &fs::read(ls.join(f))?)?;
        }
    }
    sync_dir(&ls.join("plugin"), &dir.join("localstack").join("plugin"))?;
    // What the docker backend makes its image from (prepare-site.py is one of the image's inputs).
    if ls.join("docker").is_dir() {
        sync_dir(&ls.join("docker"), &dir.join("localstack").join("docker"))?;
    }
    let link = dir.join(".lsk").join("venv");
    fs::create_dir_all(dir.join(".lsk"))?;
    if fs::read_link(&link).ok().as_deref() != Some(venv.as_path()) {
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(&venv, &link)
            .with_context(|| format!("linking {} to {}", link.display(), venv.display()))?;
    }

    let function = stack
        .manifest()
        .functions
        .get(edit_function)
        .ok_or_else(|| anyhow!("lsk.toml has no function {edit_function}"))?;
    let src_dir = dirs
        .get(&function.package)
        .ok_or_else(|| anyhow!("package {} not found", function.package))?;
    let rel = src_dir.strip_prefix(root)?;
    let edit_file = dir.join(rel).join("src").join("main.rs");
    let pristine_main =
        fs::read(&edit_file).with_context(|| format!("reading {}", edit_file.display()))?;
    seed_target(&project_target, &dir.join("target"))?;
    Ok(Mirror {
        dir: dir.to_path_buf(),
        manifest,
        target_dir: dir.join("target"),
        edit_file,
        pristine_main,
    })
}

impl Mirror {
    pub fn state_dir(&self) -> PathBuf {
        lsk::backend::state_dir(&self.dir)
    }

    /// Inserts a line that changes the binary (a string the optimiser must keep) at the top of
    /// `fn main`. Returns the line.
    pub fn edit(&self, nonce: &str) -> Result<String> {
        let text = String::from_utf8_lossy(&self.pristine_main);
        let line = format!("std::hint::black_box(\"lsk-bench edit {nonce}\");");
        let edited = insert_into_main(&text, &line).ok_or_else(|| {
            anyhow!(
                "{} has no `fn main(...) {{` line to put the edit after",
                self.edit_file.display()
            )
        })?;
        fs::write(&self.edit_file, edited)
            .with_context(|| format!("writing {}", self.edit_file.display()))?;
        Ok(line)
    }

    pub fn restore(&self) -> Result<()> {
        write_if_changed(&self.edit_file, &self.pristine_main).map(drop)
    }
}

/// `source` with `statement` as the first line of the body of `fn main` (whose signature must end
/// its line with `{`), or `None` if there is no such line.
pub fn insert_into_main(source: &str, statement: &str) -> Option<String> {
    let mut out = String::with_capacity(source.len() + statement.len() + 8);
    let mut inserted = false;
    for l in source.lines() {
        out.push_str(l);
        out.push('\n');
        if !inserted && l.contains("fn main(") && l.trim_end().ends_with('{') {
            out.push_str("    ");
            out.push_str(statement);
            out.push('\n');
            inserted = true;
        }
    }
    inserted.then_some(out)
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
    cmd.args([
        "--backend",
        backend_name,
        "--port",
        &port.to_string(),
        "--manifest",
    ])
    .arg(&mirror.manifest)
    .args(args)
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
async fn native(
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

/// Timings of the loop, one entry per repetition.
#[derive(Debug, Default)]
pub struct Timings {
    pub up: Vec<Duration>,
    pub deploy_noop: Vec<Duration>,
    pub deploy_code: Vec<Duration>,
    pub down: Vec<Duration>,
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
    Ok(())
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

    #[test]
    fn the_edit_goes_first_into_main_and_nowhere_else() {
        let src = "use x;\n\n#[tokio::main]\nasync fn main() -> Result<(), Error> {\n    run().await\n}\n";
        let out = insert_into_main(src, "std::hint::black_box(\"e\");").unwrap();
        assert_eq!(
            out,
            "use x;\n\n#[tokio::main]\nasync fn main() -> Result<(), Error> {\n    std::hint::black_box(\"e\");\n    run().await\n}\n"
        );
        assert!(insert_into_main("fn main()\n{\n}\n", "x;").is_none());
    }

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
