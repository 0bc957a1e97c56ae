//! Building the functions' binaries (and `lsk-init` for the native backend) in release mode.
//!
//! One cargo invocation builds every function. Where the binaries end up comes from cargo itself
//! (`--message-format=json` artifact messages, and `cargo metadata`'s `target_directory`), so
//! `CARGO_TARGET_DIR` and `.cargo/config.toml` are respected.
//!
//! Two targets: `host` (plain `cargo build`, for the native backend where Lambdas run as host
//! processes) and `lambda` (`cargo lambda build` with zig, binaries linked for glibc 2.26 that run
//! on Amazon Linux 2 and 2023, for the docker backend and real AWS). When no cargo-lambda is
//! installed, the pinned cargo-lambda and zig (the kit's `localstack/build-tools.txt`) are
//! installed into `<root>/.lsk/venv` first.
//!
//! `lsk-init` is built from the kit's sources (see [`crate::kit`]): in the kit's own checkout as
//! the workspace member it is there, in any other workspace from the standalone manifest of the
//! unpacked kit (`--manifest-path`), into the workspace's target directory.

pub mod package;

use lsk_kit::{self as kit, file_lock, progress};
use lsk_manifest as manifest;

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use cargo_metadata::{Message, Metadata, PackageId};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::manifest::{Architecture, Manifest};
use crate::progress::Progress;

/// The package and binary of the per-environment init the native backend runs.
pub const INIT_PACKAGE: &str = "lsk-init";
pub const INIT_BIN: &str = "lsk-init";

/// What the binaries are built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum BuildTarget {
    /// this machine (native backend: Lambdas run as host processes)
    Host,
    /// Amazon Linux 2023 via `cargo lambda build` (docker backend, real AWS)
    Lambda,
}

/// The glibc of our LocalStack image (Debian bookworm).
pub const KIT_IMAGE_GLIBC: (u32, u32) = (2, 36);

/// Parses `getconf GNU_LIBC_VERSION` output (`glibc 2.36`).
pub fn parse_glibc(text: &str) -> Option<(u32, u32)> {
    let version = text.trim().strip_prefix("glibc ")?;
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()?
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()?;
    Some((major, minor))
}

/// Whether binaries built on this host run in our image: Linux, and a glibc no newer than
/// the image's (a binary links against the glibc of the machine that built it). `Err` says why not.
/// Asked once per process: the host does not change under us.
pub async fn host_runs_in_kit_image() -> Result<(), String> {
    static ANSWER: tokio::sync::OnceCell<Result<(), String>> = tokio::sync::OnceCell::const_new();
    ANSWER.get_or_init(ask_host_glibc).await.clone()
}

async fn ask_host_glibc() -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return Err(format!(
            "this host is {}, and the image runs Linux binaries",
            std::env::consts::OS
        ));
    }
    let out = tokio::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("`getconf GNU_LIBC_VERSION` could not run: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    match parse_glibc(&text) {
        Some(v) if v <= KIT_IMAGE_GLIBC => Ok(()),
        Some((major, minor)) => Err(format!(
            "this host's glibc {major}.{minor} is newer than the image's {}.{}",
            KIT_IMAGE_GLIBC.0, KIT_IMAGE_GLIBC.1
        )),
        None => Err(format!("this host has no glibc ({})", text.trim())),
    }
}

/// What can go wrong building.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("could not run `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`cargo metadata` failed in {root}: {detail}")]
    Metadata { root: PathBuf, detail: String },
    #[error(
        "{key}: package `{package}` is not a member of the workspace at {root}; members are: {members}"
    )]
    UnknownPackage {
        key: String,
        package: String,
        root: PathBuf,
        members: String,
    },
    #[error(
        "{key}: package `{package}` has no binary target; a Lambda needs a `[[bin]]` (or src/main.rs)"
    )]
    NoBinary { key: String, package: String },
    #[error(
        "{key}: package `{package}` has several binaries ({bins}); say which with `bin = \"...\"`"
    )]
    AmbiguousBinary {
        key: String,
        package: String,
        bins: String,
    },
    #[error("{key}: package `{package}` has no binary `{bin}`; it has: {bins}")]
    UnknownBinary {
        key: String,
        package: String,
        bin: String,
        bins: String,
    },
    #[error(
        "functions {first} and {second} use binaries named `{bin}` from different packages; cargo cannot build both into one target directory"
    )]
    BinaryClash {
        bin: String,
        first: String,
        second: String,
    },
    #[error("`{command}` failed:\n{output}")]
    Compile { command: String, output: String },
    #[error("cargo reported success but {bin} was not found (looked for {path})")]
    Missing { bin: String, path: PathBuf },
    #[error("could not take the build directory's lock {path}: {source}")]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not keep the built {from} as {to}: {source}")]
    Keep {
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "building for Lambda needs cargo-lambda, which is neither in {venv} nor on PATH, and {path}, which pins the version lsk installs, does not exist"
    )]
    BuildToolsMissing { venv: PathBuf, path: PathBuf },
    #[error("could not create {venv} to install cargo-lambda into: {source}")]
    ToolVenv {
        venv: PathBuf,
        #[source]
        source: lsk_kit::venv::VenvError,
    },
    #[error(transparent)]
    Kit(#[from] crate::kit::KitError),
    #[error(
        "{}: functions.{function}.architecture is \"{}\", but this host builds and runs {} binaries (LocalStack runs functions as processes of this machine)",
        .manifest.display(), .declared.as_str(), .host
    )]
    ForeignArchitecture {
        manifest: PathBuf,
        function: String,
        declared: Architecture,
        /// The host's CPU, as Rust names it (`x86_64`, `aarch64`).
        host: &'static str,
    },
    #[error("installing cargo-lambda and zig into {venv} failed (`{command}`):\n{output}")]
    ToolInstall {
        venv: PathBuf,
        command: String,
        output: String,
    },
}

impl BuildError {
    pub fn hint(&self) -> Option<String> {
        match self {
            BuildError::BuildToolsMissing { .. } => Some(
                "remove .lsk/kit so lsk unpacks its files again, or install cargo-lambda and zig yourself (`pip install cargo-lambda ziglang`, or `cargo install cargo-lambda` and a zig on PATH); the native backend (--backend native) needs neither"
                    .into(),
            ),
            BuildError::ToolVenv { .. } => Some(
                "see .lsk/install.log for what failed, or install cargo-lambda and zig yourself (`pip install cargo-lambda ziglang`) so lsk finds cargo-lambda on PATH"
                    .into(),
            ),
            BuildError::ToolInstall { .. } => Some(
                "pip must reach the package index (set PIP_INDEX_URL for a mirror); retry with `make bench-tools`, or install cargo-lambda and zig yourself (`pip install cargo-lambda ziglang`) so lsk finds cargo-lambda on PATH"
                    .into(),
            ),
            BuildError::Compile { .. } => {
                Some("fix the compiler errors above and run the command again".into())
            }
            BuildError::ForeignArchitecture { function, .. } => Some(format!(
                "remove `architecture` from [functions.{function}] to build it for this machine; an arm64 function runs on an arm64 host (e.g. Apple silicon, Graviton), and `--build-target lambda` builds it for AWS"
            )),
            _ => None,
        }
    }
}

impl miette::Diagnostic for BuildError {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.hint()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display + 'a>)
    }
}

/// One binary to build for a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// Function name (or `lsk-init`).
    pub function: String,
    pub package: String,
    pub bin: String,
    pub architecture: Architecture,
}

/// The workspace as `cargo metadata` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    pub target_directory: PathBuf,
    /// Where `Cargo.toml` and `Cargo.lock` of the workspace are.
    pub workspace_root: PathBuf,
    /// package name -> binary target names
    pub packages: BTreeMap<String, Vec<String>>,
    /// package name -> the directory holding its `Cargo.toml`
    pub package_dirs: BTreeMap<String, PathBuf>,
}

/// Parses `cargo metadata --format-version 1 --no-deps` output.
pub fn parse_metadata(json: &str) -> Result<Workspace, String> {
    let meta: Metadata = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let mut packages = BTreeMap::new();
    let mut package_dirs = BTreeMap::new();
    for p in meta.workspace_packages() {
        let bins = p
            .targets
            .iter()
            .filter(|t| t.is_bin())
            .map(|t| t.name.clone())
            .collect();
        if let Some(dir) = p.manifest_path.parent() {
            package_dirs.insert(p.name.to_string(), dir.as_std_path().to_path_buf());
        }
        packages.insert(p.name.to_string(), bins);
    }
    Ok(Workspace {
        target_directory: meta.target_directory.into_std_path_buf(),
        workspace_root: meta.workspace_root.into_std_path_buf(),
        packages,
        package_dirs,
    })
}

/// Runs `cargo metadata` in `root`.
pub async fn workspace(root: &Path) -> Result<Workspace, BuildError> {
    run_cargo_metadata(root, &["--no-deps"], parse_metadata).await
}

/// `cargo metadata --format-version 1 <extra>` in `root`, its JSON read by `parse`.
async fn run_cargo_metadata<T>(
    root: &Path,
    extra: &[&str],
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, BuildError> {
    let mut args = vec!["metadata", "--format-version", "1"];
    args.extend_from_slice(extra);
    let output = Command::new(cargo())
        .args(&args)
        .current_dir(root)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|source| BuildError::Spawn {
            command: format!("cargo {}", args.join(" ")),
            source,
        })?;
    if !output.status.success() {
        return Err(BuildError::Metadata {
            root: root.to_path_buf(),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    parse(&String::from_utf8_lossy(&output.stdout)).map_err(|detail| BuildError::Metadata {
        root: root.to_path_buf(),
        detail,
    })
}

/// From `cargo metadata --format-version 1` (with dependencies): for each workspace package,
/// the workspace packages it is built from (itself included), through any depth of
/// dependencies. What `lsk watch` rebuilds a function for.
pub fn parse_closures(json: &str) -> Result<BTreeMap<String, BTreeSet<String>>, String> {
    let meta: Metadata = serde_json::from_str(json).map_err(|e| e.to_string())?;
    let members: BTreeSet<&PackageId> = meta.workspace_members.iter().collect();
    let names: BTreeMap<&PackageId, String> = meta
        .packages
        .iter()
        .map(|p| (&p.id, p.name.to_string()))
        .collect();
    let deps: BTreeMap<&PackageId, &[PackageId]> = meta
        .resolve
        .as_ref()
        .map(|r| {
            r.nodes
                .iter()
                .map(|n| (&n.id, n.dependencies.as_slice()))
                .collect()
        })
        .unwrap_or_default();
    let mut out = BTreeMap::new();
    for &member in &members {
        let mut seen: BTreeSet<&PackageId> = BTreeSet::new();
        let mut todo = vec![member];
        while let Some(id) = todo.pop() {
            if !seen.insert(id) {
                continue;
            }
            for d in deps.get(id).copied().unwrap_or_default() {
                if members.contains(d) {
                    todo.push(d);
                }
            }
        }
        let closure = seen
            .into_iter()
            .filter_map(|id| names.get(id).cloned())
            .collect();
        if let Some(name) = names.get(member) {
            out.insert(name.clone(), closure);
        }
    }
    Ok(out)
}

/// Runs `cargo metadata` (with the dependency graph) in `root`; see [`parse_closures`].
pub async fn workspace_closures(
    root: &Path,
) -> Result<BTreeMap<String, BTreeSet<String>>, BuildError> {
    run_cargo_metadata(root, &[], parse_closures).await
}

/// Decides each function's package and binary, checking them against the workspace.
pub fn resolve(
    manifest: &Manifest,
    ws: &Workspace,
    root: &Path,
) -> Result<Vec<Wanted>, BuildError> {
    let mut wanted = Vec::new();
    let mut by_bin: BTreeMap<String, (String, String)> = BTreeMap::new();
    for f in manifest.functions.values() {
        let key = format!("functions.{}", f.name);
        let bins = ws
            .packages
            .get(&f.package)
            .ok_or_else(|| BuildError::UnknownPackage {
                key: format!("{key}.package"),
                package: f.package.clone(),
                root: root.to_path_buf(),
                members: ws.packages.keys().cloned().collect::<Vec<_>>().join(", "),
            })?;
        let bin = match (&f.bin, bins.as_slice()) {
            (Some(b), _) if bins.contains(b) => b.clone(),
            (Some(b), _) => {
                return Err(BuildError::UnknownBinary {
                    key: format!("{key}.bin"),
                    package: f.package.clone(),
                    bin: b.clone(),
                    bins: bins.join(", "),
                });
            }
            (None, [only]) => only.clone(),
            (None, []) => {
                return Err(BuildError::NoBinary {
                    key,
                    package: f.package.clone(),
                });
            }
            (None, many) => {
                return Err(BuildError::AmbiguousBinary {
                    key,
                    package: f.package.clone(),
                    bins: many.join(", "),
                });
            }
        };
        if let Some((other_fn, _)) = by_bin.get(&bin).filter(|(_, pkg)| *pkg != f.package) {
            return Err(BuildError::BinaryClash {
                bin,
                first: other_fn.clone(),
                second: f.name.clone(),
            });
        }
        by_bin.insert(bin.clone(), (f.name.clone(), f.package.clone()));
        wanted.push(Wanted {
            function: f.name.clone(),
            package: f.package.clone(),
            bin,
            architecture: f.architecture,
        });
    }
    Ok(wanted)
}

fn cargo() -> String {
    // Under `cargo test`/`cargo run`, CARGO is the cargo that runs us: build with the same one.
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn unique_pairs<'a>(wanted: impl IntoIterator<Item = &'a Wanted>) -> BTreeSet<(&'a str, &'a str)> {
    wanted
        .into_iter()
        .map(|w| (w.package.as_str(), w.bin.as_str()))
        .collect()
}

/// The target directory of a host build: `<target>/lsk/functions` for every set of functions,
/// `<target>/lsk/lsk-init` for lsk-init.
///
/// Every set of functions (`lsk up`'s, a test's probe, another workspace's sharing this target)
/// builds into one directory, so the AWS SDK compiles once for all of them: cargo keeps a
/// dependency once per feature set, and sets that unify features differently add their variant
/// beside the others. lsk-init has its own directory because it builds at the same time as the
/// functions, by a second cargo (one directory admits one cargo at a time).
pub fn host_target_dir(target_directory: &Path, include_init: bool) -> PathBuf {
    target_directory
        .join("lsk")
        .join(if include_init { INIT_BIN } else { "functions" })
}

/// Where the binaries a host build made for `workspace_root` are kept for packaging:
/// `<build dir>/kept/<hash of the workspace root>/`.
///
/// A later build into the shared directory, from another set or another workspace, replaces
/// cargo's `release/<bin>`; a kept binary changes only when this workspace builds it again.
pub fn kept_dir(build_dir: &Path, workspace_root: &Path) -> PathBuf {
    let digest = Sha256::digest(workspace_root.as_os_str().as_encoded_bytes());
    build_dir.join("kept").join(hex::encode(&digest[..8]))
}

/// Copies a built binary to `to` unless it is there already: same size and modification time
/// (the copy keeps cargo's, so `lsk watch` still sees an unchanged binary as unchanged). The copy
/// is renamed into place, so a zip being made from the previous one reads it whole.
fn keep(from: &Path, to: &Path) -> std::io::Result<()> {
    let source = std::fs::metadata(from)?;
    let modified = source.modified()?;
    if let Ok(kept) = std::fs::metadata(to)
        && kept.len() == source.len()
        && kept.modified().ok() == Some(modified)
    {
        return Ok(());
    }
    let dir = to.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = to.file_name().unwrap_or_default().to_string_lossy();
    let next = dir.join(format!(".{name}.{}.next", std::process::id()));
    std::fs::copy(from, &next)?;
    std::fs::File::options()
        .write(true)
        .open(&next)?
        .set_modified(modified)?;
    std::fs::rename(&next, to)
}

/// Arguments of one `cargo build` for host binaries into `target_dir`.
pub fn cargo_build_args(wanted: &[Wanted], include_init: bool, target_dir: &Path) -> Vec<String> {
    let mut pairs = unique_pairs(wanted);
    if include_init {
        pairs.insert((INIT_PACKAGE, INIT_BIN));
    }
    let mut args: Vec<String> = vec![
        "build".into(),
        "--release".into(),
        "--message-format=json-render-diagnostics".into(),
        "--target-dir".into(),
        target_dir.display().to_string(),
    ];
    let packages: BTreeSet<&str> = pairs.iter().map(|(p, _)| *p).collect();
    for p in packages {
        args.push("-p".into());
        args.push(p.into());
    }
    for (_, b) in &pairs {
        args.push("--bin".into());
        args.push((*b).into());
    }
    args
}

/// The generated AWS SDK service crates (`aws-sdk-*`) a `Cargo.lock` holds (none when it
/// cannot be read as one: the build then only takes longer).
pub fn sdk_service_crates(lock: &str) -> BTreeSet<String> {
    #[derive(Deserialize)]
    struct Lock {
        #[serde(default)]
        package: Vec<Locked>,
    }
    #[derive(Deserialize)]
    struct Locked {
        name: String,
    }
    toml::from_str::<Lock>(lock)
        .map(|l| l.package)
        .unwrap_or_default()
        .into_iter()
        .map(|p| p.name)
        .filter(|name| name.starts_with("aws-sdk-"))
        .collect()
}

/// The opt-level of the generated AWS SDK service crates (`aws-sdk-*`) in the release builds
/// lsk makes for LocalStack.
///
/// They are most of a function's compile and do little work in a Lambda talking to LocalStack:
/// request and response (de)serialisation. Measured on two cores, the examples' five functions
/// with lsk-init beside them: 280 s at opt-level 1 (aws-sdk-s3 alone 91 s), 217 s at 0 (25 s),
/// for binaries 10% larger. Everything else, your code and the SDK's runtime crates
/// (`aws-smithy-*`, `aws-sigv4`, `aws-config`) included, stays at the release profile's level.
pub const SDK_OPT_LEVEL: u8 = 0;

/// `--config` arguments that build `crates` at [`SDK_OPT_LEVEL`] in lsk's release builds (your
/// own `cargo build --release` is untouched).
pub fn sdk_opt_level_args(crates: &BTreeSet<String>) -> Vec<String> {
    crates
        .iter()
        .flat_map(|c| {
            [
                "--config".to_owned(),
                format!("profile.release.package.{c}.opt-level={SDK_OPT_LEVEL}"),
            ]
        })
        .collect()
}

/// The glibc Lambda builds link against: Amazon Linux 2's (2.26), so binaries run on
/// `provided.al2023` (2.34), `provided.al2` and our bookworm image (2.36) alike. Without it,
/// zig links for its own default (2.31 with zig 0.15), which ties binaries to newer symbol
/// versions (`pow@GLIBC_2.29`, `gettid@GLIBC_2.30`) and moves with the zig release.
pub const LAMBDA_GLIBC: &str = "2.26";

/// The cargo-zigbuild target for `arch` (a Rust target triple with a glibc version).
pub fn lambda_target(arch: Architecture) -> String {
    let triple = match arch {
        Architecture::X86_64 => "x86_64-unknown-linux-gnu",
        Architecture::Arm64 => "aarch64-unknown-linux-gnu",
    };
    format!("{triple}.{LAMBDA_GLIBC}")
}

/// Arguments of `cargo lambda build` for the functions of one architecture (`--target` with a
/// glibc version in place of `--x86-64`/`--arm64`, which take zig's default glibc).
pub fn cargo_lambda_args(wanted: &[Wanted], arch: Architecture, lambda_dir: &Path) -> Vec<String> {
    let pairs = unique_pairs(wanted.iter().filter(|w| w.architecture == arch));
    let mut args: Vec<String> = vec![
        "lambda".into(),
        "build".into(),
        "--release".into(),
        "--target".into(),
        lambda_target(arch),
        "--lambda-dir".into(),
        lambda_dir.join(arch.as_str()).display().to_string(),
    ];
    let packages: BTreeSet<&str> = pairs.iter().map(|(p, _)| *p).collect();
    for p in packages {
        args.push("--package".into());
        args.push(p.into());
    }
    for (_, b) in &pairs {
        args.push("--bin".into());
        args.push((*b).into());
    }
    args
}

/// Where `cargo lambda build --lambda-dir DIR` puts a binary.
pub fn lambda_output(lambda_dir: &Path, arch: Architecture, bin: &str) -> PathBuf {
    lambda_dir.join(arch.as_str()).join(bin).join("bootstrap")
}

/// A line cargo prints with `--message-format=json`: the executables it produced.
fn artifact_executable(line: &str) -> Option<(String, PathBuf)> {
    match serde_json::from_str(line).ok()? {
        Message::CompilerArtifact(a) if a.target.is_bin() => {
            Some((a.target.name, a.executable?.into_std_path_buf()))
        }
        _ => None,
    }
}

/// Cargo's progress lines that are noise in an error message.
fn is_progress_line(line: &str) -> bool {
    let t = line.trim_start();
    [
        "Compiling ",
        "Checking ",
        "Fresh ",
        "Downloaded ",
        "Downloading ",
        "Blocking ",
        "Updating ",
        "Locking ",
        "Adding ",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

/// Variables cargo sets for the program it runs (`cargo test`, `cargo run`), which a nested
/// build must not inherit: ring's build script reruns when `CARGO_MANIFEST_DIR` changes, so a
/// build started from a test binary (`/ws/tests`), then from another (`/ws/harness`), then from
/// the shell (unset) recompiled ring, rustls and the AWS SDK's HTTP client each time (~50 s).
pub fn is_cargo_run_variable(key: &str) -> bool {
    matches!(
        key,
        "CARGO_MANIFEST_DIR"
            | "CARGO_MANIFEST_PATH"
            | "CARGO_CRATE_NAME"
            | "CARGO_BIN_NAME"
            | "CARGO_PRIMARY_PACKAGE"
            | "CARGO_TARGET_TMPDIR"
            | "OUT_DIR"
    ) || key.starts_with("CARGO_PKG_")
        || key.starts_with("CARGO_BIN_EXE_")
}

/// Runs a build command: stderr streamed to `phase` and kept for the error, stdout returned.
async fn run_streaming(
    program: &str,
    args: &[String],
    root: &Path,
    phase: &crate::progress::Phase,
) -> Result<Vec<String>, BuildError> {
    run_streaming_with(OsStr::new(program), args, root, phase, &[]).await
}

/// [`run_streaming`] with variables set for the command.
async fn run_streaming_with(
    program: &OsStr,
    args: &[String],
    root: &Path,
    phase: &crate::progress::Phase,
    env: &[(&str, OsString)],
) -> Result<Vec<String>, BuildError> {
    let command = format!("{} {}", program.to_string_lossy(), args.join(" "));
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        if is_cargo_run_variable(&key.to_string_lossy()) {
            cmd.env_remove(&key);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)))
        .args(args)
        .current_dir(root);
    // cargo reports progress and errors on stderr, artifacts (JSON) on stdout.
    let ran = run_with_progress(cmd, &command, phase, ShownStream::OnStderr).await?;
    if ran.success {
        Ok(ran.quiet)
    } else {
        // Keep the end: the summary and the last errors matter most.
        let kept: Vec<String> = ran
            .shown
            .into_iter()
            .filter(|l| !is_progress_line(l))
            .collect();
        let start = kept.len().saturating_sub(400);
        Err(BuildError::Compile {
            command,
            output: kept[start..].join("\n"),
        })
    }
}

/// Which of a child's streams is shown as progress.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ShownStream {
    OnStdout,
    OnStderr,
}

/// A finished child: whether it succeeded, the lines of the stream shown as progress, and the
/// lines of the other one.
struct Ran {
    success: bool,
    shown: Vec<String>,
    quiet: Vec<String>,
}

/// Every line of `stream`, each shown in `phase` as it comes when one is given.
async fn read_lines(
    stream: Option<impl tokio::io::AsyncRead + Unpin>,
    phase: Option<&crate::progress::Phase>,
) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(stream) = stream {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(l)) = reader.next_line().await {
            if let Some(phase) = phase {
                phase.update(&l);
            }
            lines.push(l);
        }
    }
    lines
}

/// Runs `cmd` to the end, each line of the `progress` stream shown in `phase` as it comes; both
/// streams are read at once, so neither can fill its pipe and stall the child.
async fn run_with_progress(
    mut cmd: Command,
    command: &str,
    phase: &crate::progress::Phase,
    progress: ShownStream,
) -> Result<Ran, BuildError> {
    let spawn_error = |source| BuildError::Spawn {
        command: command.to_owned(),
        source,
    };
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(spawn_error)?;
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let (shown, quiet) = match progress {
        ShownStream::OnStderr => {
            let quiet = tokio::spawn(read_lines(stdout, None));
            (read_lines(stderr, Some(phase)).await, quiet)
        }
        ShownStream::OnStdout => {
            let quiet = tokio::spawn(read_lines(stderr, None));
            (read_lines(stdout, Some(phase)).await, quiet)
        }
    };
    let quiet = quiet.await.unwrap_or_default();
    let status = child.wait().await.map_err(spawn_error)?;
    Ok(Ran {
        success: status.success(),
        shown,
        quiet,
    })
}

/// Built binaries: function name -> executable path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Built {
    pub binaries: BTreeMap<String, PathBuf>,
    /// `lsk-init`, when it was built too.
    pub init: Option<PathBuf>,
    /// What built the binaries (see [`BuildTarget::label`]).
    pub target: Option<BuildTarget>,
}

impl BuildTarget {
    /// How `lsk status` names binaries built this way.
    pub fn label(self) -> &'static str {
        match self {
            BuildTarget::Host => "host",
            BuildTarget::Lambda => "cargo-lambda (glibc 2.26)",
        }
    }
}

/// The Lambda architecture of this machine's CPU, if Lambda has it.
pub fn host_architecture() -> Option<Architecture> {
    match std::env::consts::ARCH {
        "x86_64" => Some(Architecture::X86_64),
        "aarch64" => Some(Architecture::Arm64),
        _ => None,
    }
}

/// A host build makes binaries for this machine's CPU only: a function declared for another
/// is refused here, before anything is compiled (the zip would refuse the binary anyway).
fn check_host_architecture(manifest: &Manifest) -> Result<(), BuildError> {
    let host = host_architecture();
    match manifest
        .functions
        .values()
        .find(|f| Some(f.architecture) != host)
    {
        Some(f) => Err(BuildError::ForeignArchitecture {
            manifest: manifest.path.clone(),
            function: f.name.clone(),
            declared: f.architecture,
            host: std::env::consts::ARCH,
        }),
        None => Ok(()),
    }
}

/// Builds every function of `manifest` for `target` (and `lsk-init` when `include_init`).
pub async fn build(
    manifest: &Manifest,
    target: BuildTarget,
    include_init: bool,
    progress: &Progress,
) -> Result<Built, BuildError> {
    if target == BuildTarget::Host {
        check_host_architecture(manifest)?;
    }
    let root = manifest.root().to_path_buf();
    let ws = workspace(&root).await?;
    let wanted = resolve(manifest, &ws, &root)?;
    let mut built = match target {
        BuildTarget::Host => build_host(&root, &ws, &wanted, include_init, progress).await?,
        BuildTarget::Lambda => {
            let mut built = build_lambda(&root, &ws, &wanted, None, progress).await?;
            if include_init {
                built.init = Some(build_init(&root, progress).await?);
            }
            built
        }
    };
    built.target = Some(target);
    Ok(built)
}

async fn build_host(
    root: &Path,
    ws: &Workspace,
    wanted: &[Wanted],
    include_init: bool,
    progress: &Progress,
) -> Result<Built, BuildError> {
    if wanted.is_empty() && !include_init {
        return Ok(Built::default());
    }
    let phase = progress.phase("build");
    // Functions and lsk-init are built separately (see `host_target_dir`).
    let mut runs: Vec<(&[Wanted], bool)> = Vec::new();
    if !wanted.is_empty() {
        runs.push((wanted, false));
    }
    if include_init {
        runs.push((&[], true));
    }
    // The two builds run at once: each has long stretches where one big crate keeps a single
    // core busy (the AWS SDK's), which the other build fills.
    let program = cargo();
    let lock = std::fs::read_to_string(ws.workspace_root.join("Cargo.lock")).unwrap_or_default();
    let sdk_args = sdk_opt_level_args(&sdk_service_crates(&lock));
    let init_manifest = if include_init {
        init_manifest(root, ws)?
    } else {
        None
    };
    let jobs = runs.iter().map(|&(set, init)| {
        let dir = host_target_dir(&ws.target_directory, init);
        let mut args = cargo_build_args(set, init, &dir);
        if let Some(manifest) = init_manifest.as_ref().filter(|_| init) {
            args.extend(["--manifest-path".into(), manifest.display().to_string()]);
        }
        args.extend(sdk_args.iter().cloned());
        let (program, phase) = (&program, &phase);
        let mut bins: Vec<&str> = unique_pairs(set).into_iter().map(|(_, b)| b).collect();
        if init {
            bins.push(INIT_BIN);
        }
        async move {
            // Builds into a shared directory take turns, each keeping its binaries before the
            // next one can replace cargo's `release/<bin>` (see `kept_dir`).
            let lock_path = dir.with_extension("lock");
            let _turn = crate::file_lock::FileLock::acquire_or_wait(&lock_path, || {
                phase.update(&format!(
                    "waiting for another build into {} to finish",
                    dir.display()
                ))
            })
            .await
            .map_err(|e| BuildError::Lock {
                path: e.path,
                source: e.source,
            })?;
            let stdout = run_streaming(program, &args, root, phase).await?;
            let produced: BTreeMap<String, PathBuf> = stdout
                .iter()
                .filter_map(|l| artifact_executable(l))
                .collect();
            let kept = kept_dir(&dir, &ws.workspace_root);
            let mut paths = Vec::new();
            for bin in bins {
                let path = produced
                    .get(bin)
                    .cloned()
                    .unwrap_or_else(|| dir.join("release").join(bin));
                if !path.is_file() {
                    return Err(BuildError::Missing {
                        bin: bin.to_owned(),
                        path,
                    });
                }
                let to = kept.join(bin);
                keep(&path, &to).map_err(|source| BuildError::Keep {
                    from: path.clone(),
                    to: to.clone(),
                    source,
                })?;
                paths.push((bin.to_owned(), to));
            }
            Ok::<_, BuildError>(paths)
        }
    });
    let produced: BTreeMap<String, PathBuf> = futures::future::try_join_all(jobs)
        .await?
        .into_iter()
        .flatten()
        .collect();
    let locate = |bin: &str| -> Result<PathBuf, BuildError> {
        produced
            .get(bin)
            .cloned()
            .ok_or_else(|| BuildError::Missing {
                bin: bin.to_owned(),
                path: host_target_dir(&ws.target_directory, bin == INIT_BIN)
                    .join("release")
                    .join(bin),
            })
    };
    let mut built = Built::default();
    for w in wanted {
        built.binaries.insert(w.function.clone(), locate(&w.bin)?);
    }
    if include_init {
        built.init = Some(locate(INIT_BIN)?);
    }
    phase.done(&format!(
        "{} function{} (release{})",
        wanted.len(),
        if wanted.len() == 1 { "" } else { "s" },
        if include_init { ", with lsk-init" } else { "" }
    ));
    Ok(built)
}

/// The pinned build tools lsk installs into `<root>/.lsk/venv` when a Lambda build needs them:
/// cargo-lambda and ziglang, with the hash of every wheel (`make lock` writes it). Relative to
/// the kit root.
pub const BUILD_TOOLS: &str = "localstack/build-tools.txt";

/// The `cargo-lambda` a Lambda build runs: the project venv's (`<root>/.lsk/venv/bin`, where lsk
/// and `make bench-tools` install it), else one on PATH.
pub fn find_cargo_lambda(root: &Path) -> Option<PathBuf> {
    let venv = lsk_kit::paths::venv_bin(root).join("cargo-lambda");
    if venv.is_file() {
        return Some(venv);
    }
    which::which("cargo-lambda").ok()
}

/// `pip install` of the pinned build tools with the venv's python.
pub fn build_tools_install_args(requirements: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = [
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
        "--progress-bar",
        "off",
        "--require-hashes",
        "-r",
    ]
    .into_iter()
    .map(OsString::from)
    .collect();
    args.push(requirements.as_os_str().to_owned());
    args
}

/// The cargo-lambda to build with: [`find_cargo_lambda`], or, when there is none, the pinned
/// cargo-lambda and zig ([`BUILD_TOOLS`]) installed into `<root>/.lsk/venv` (created first with
/// `localstack/install.sh` when it does not exist).
pub async fn ensure_cargo_lambda(root: &Path, progress: &Progress) -> Result<PathBuf, BuildError> {
    // Builds running at once in this process (parallel tests) install once; the second finds
    // what the first installed.
    static INSTALLING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    if let Some(found) = find_cargo_lambda(root) {
        return Ok(found);
    }
    let _installing = INSTALLING.lock().await;
    if let Some(found) = find_cargo_lambda(root) {
        return Ok(found);
    }
    let venv_bin = lsk_kit::paths::venv_bin(root);
    let venv = root.join(".lsk").join("venv");
    let requirements = crate::kit::Kit::for_workspace(root)?.path(BUILD_TOOLS);
    if !requirements.is_file() {
        return Err(BuildError::BuildToolsMissing {
            venv,
            path: requirements,
        });
    }
    let phase = progress.phase("build-tools");
    let python = venv_bin.join("python");
    if !python.is_file() {
        phase.update("creating .lsk/venv with the kit's install.sh");
        lsk_kit::venv::ensure_installed(root, &|line: &str| phase.update(line))
            .await
            .map_err(|source| BuildError::ToolVenv {
                venv: venv.clone(),
                source,
            })?;
    }
    phase.update(&format!(
        "installing the pinned cargo-lambda and zig ({BUILD_TOOLS}) into .lsk/venv (first time only)"
    ));
    let args = build_tools_install_args(&requirements);
    let command = format!(
        "{} {}",
        python.display(),
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let failed = |output: String| BuildError::ToolInstall {
        venv: venv.clone(),
        command: command.clone(),
        output,
    };
    let mut cmd = Command::new(&python);
    cmd.args(&args).current_dir(root);
    // pip reports progress on stdout (Collecting, Downloading, Installing) and errors on stderr.
    let ran = run_with_progress(cmd, &command, &phase, ShownStream::OnStdout).await?;
    if !ran.success {
        let mut kept = ran.shown;
        kept.extend(ran.quiet);
        let start = kept.len().saturating_sub(40);
        return Err(failed(kept[start..].join("\n")));
    }
    let installed = venv_bin.join("cargo-lambda");
    if !installed.is_file() {
        return Err(failed(format!(
            "pip succeeded, but {} does not exist",
            installed.display()
        )));
    }
    phase.done(&format!(
        "cargo-lambda and zig (pinned) installed in {}",
        venv.display()
    ));
    Ok(installed)
}

/// `PATH` for a Lambda build: the project venv's bin first, so that cargo-zigbuild (inside
/// cargo-lambda) finds the venv's zig as `python3 -m ziglang`, which it tries before a `zig` on
/// PATH, and which the linker wrappers it generates look up again. `None` when the venv has no
/// bin directory (or its path cannot be part of PATH): the inherited PATH is kept.
pub fn lambda_build_path(venv_bin: &Path, inherited: Option<&OsStr>) -> Option<OsString> {
    if !venv_bin.is_dir() {
        return None;
    }
    let mut dirs = vec![venv_bin.to_path_buf()];
    if let Some(path) = inherited {
        dirs.extend(std::env::split_paths(path).filter(|d| d != venv_bin));
    }
    std::env::join_paths(dirs).ok()
}

/// `manifest`: build from this manifest rather than the workspace's (the kit's `lsk-init`).
async fn build_lambda(
    root: &Path,
    ws: &Workspace,
    wanted: &[Wanted],
    manifest: Option<&Path>,
    progress: &Progress,
) -> Result<Built, BuildError> {
    if wanted.is_empty() {
        return Ok(Built::default());
    }
    let cargo_lambda = ensure_cargo_lambda(root, progress).await?;
    let mut env = Vec::new();
    let inherited = std::env::var_os("PATH");
    if let Some(path) = lambda_build_path(&lsk_kit::paths::venv_bin(root), inherited.as_deref()) {
        env.push(("PATH", path));
    }
    let phase = progress.phase("build");
    let lambda_dir = ws.target_directory.join("lambda");
    let mut built = Built::default();
    for arch in [Architecture::X86_64, Architecture::Arm64] {
        if !wanted.iter().any(|w| w.architecture == arch) {
            continue;
        }
        // `cargo lambda build` runs `cargo-lambda lambda build`: called so, it needs no PATH.
        let mut args = cargo_lambda_args(wanted, arch, &lambda_dir);
        if let Some(manifest) = manifest {
            args.extend(["--manifest-path".into(), manifest.display().to_string()]);
        }
        run_streaming_with(cargo_lambda.as_os_str(), &args, root, &phase, &env).await?;
        for w in wanted.iter().filter(|w| w.architecture == arch) {
            let path = lambda_output(&lambda_dir, arch, &w.bin);
            if !path.is_file() {
                return Err(BuildError::Missing {
                    bin: w.bin.clone(),
                    path,
                });
            }
            built.binaries.insert(w.function.clone(), path);
        }
    }
    phase.done(&format!(
        "{} function(s) for Amazon Linux 2023 (cargo lambda)",
        wanted.len()
    ));
    Ok(built)
}

/// Builds `lsk-init` for our LocalStack image: a host build where it runs there (see
/// [`host_runs_in_kit_image`]), else through cargo-lambda for an old glibc baseline.
pub async fn build_init_for_image(root: &Path, progress: &Progress) -> Result<PathBuf, BuildError> {
    if host_runs_in_kit_image().await.is_ok() {
        return build_init(root, progress).await;
    }
    let ws = workspace(root).await?;
    let architecture = if std::env::consts::ARCH == "aarch64" {
        Architecture::Arm64
    } else {
        Architecture::X86_64
    };
    let wanted = [Wanted {
        function: INIT_BIN.into(),
        package: INIT_PACKAGE.into(),
        bin: INIT_BIN.into(),
        architecture,
    }];
    let manifest = init_manifest(root, &ws)?;
    let built = build_lambda(root, &ws, &wanted, manifest.as_deref(), progress).await?;
    built
        .binaries
        .get(INIT_BIN)
        .cloned()
        .ok_or_else(|| BuildError::Missing {
            bin: INIT_BIN.into(),
            path: ws.target_directory.join("lambda"),
        })
}

/// The manifest `lsk-init` is built from: `None` in the kit's own checkout, where it is a member
/// of the workspace; else the unpacked kit's standalone one.
fn init_manifest(root: &Path, ws: &Workspace) -> Result<Option<PathBuf>, BuildError> {
    let kit = crate::kit::Kit::for_workspace(root)?;
    match kit.origin() {
        crate::kit::Origin::Checkout if ws.packages.contains_key(INIT_PACKAGE) => Ok(None),
        crate::kit::Origin::Checkout => Err(BuildError::UnknownPackage {
            key: "native backend".into(),
            package: INIT_PACKAGE.into(),
            root: root.to_path_buf(),
            members: ws.packages.keys().cloned().collect::<Vec<_>>().join(", "),
        }),
        crate::kit::Origin::Embedded => Ok(Some(kit.init_manifest())),
    }
}

/// Builds `lsk-init` in release for the native backend and returns its path.
pub async fn build_init(root: &Path, progress: &Progress) -> Result<PathBuf, BuildError> {
    let ws = workspace(root).await?;
    let built = build_host(root, &ws, &[], true, progress).await?;
    built.init.ok_or_else(|| BuildError::Missing {
        bin: INIT_BIN.into(),
        path: ws.target_directory.join("release").join(INIT_BIN),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_versions_are_read_and_compared_with_the_image() {
        assert_eq!(parse_glibc("glibc 2.36\n"), Some((2, 36)));
        assert_eq!(parse_glibc("glibc 2.41"), Some((2, 41)));
        assert_eq!(parse_glibc("musl"), None);
        assert!(parse_glibc("glibc 2.39").unwrap() > KIT_IMAGE_GLIBC);
        assert!(parse_glibc("glibc 2.31").unwrap() <= KIT_IMAGE_GLIBC);
    }

    fn want(function: &str, package: &str, bin: &str, arch: Architecture) -> Wanted {
        Wanted {
            function: function.into(),
            package: package.into(),
            bin: bin.into(),
            architecture: arch,
        }
    }

    fn manifest(src: &str) -> Manifest {
        Manifest::parse(src, Path::new("/ws/lsk.toml")).unwrap()
    }

    fn ws() -> Workspace {
        Workspace {
            target_directory: "/ws/target".into(),
            workspace_root: "/ws".into(),
            package_dirs: BTreeMap::new(),
            packages: BTreeMap::from([
                ("square".into(), vec!["square".into()]),
                (
                    "image-generator".into(),
                    vec!["image-generator".into(), "image-client".into()],
                ),
                ("lsk".into(), vec!["lsk".into()]),
                ("lib-only".into(), vec![]),
            ]),
        }
    }

    #[test]
    fn sdk_service_crates_are_built_at_opt_level_0() {
        let lock = "version = 4\n\n[[package]]\nname = \"aws-sdk-s3\"\nversion = \"1\"\ndependencies = [\n \"aws-sdk-sqs\",\n]\n\n[[package]]\nname = \"aws-smithy-types\"\n\n[[package]]\nname = \"aws-sdk-sqs\"\n";
        let crates = sdk_service_crates(lock);
        assert_eq!(
            crates.iter().map(String::as_str).collect::<Vec<_>>(),
            ["aws-sdk-s3", "aws-sdk-sqs"]
        );
        assert_eq!(
            sdk_opt_level_args(&crates).join(" "),
            "--config profile.release.package.aws-sdk-s3.opt-level=0 --config profile.release.package.aws-sdk-sqs.opt-level=0"
        );
        assert!(sdk_opt_level_args(&BTreeSet::new()).is_empty());
    }

    #[test]
    fn nested_builds_drop_what_cargo_sets_for_the_running_program() {
        for k in [
            "CARGO_MANIFEST_DIR",
            "CARGO_PKG_NAME",
            "CARGO_BIN_EXE_lsk",
            "CARGO_TARGET_TMPDIR",
        ] {
            assert!(is_cargo_run_variable(k), "{k}");
        }
        // What configures cargo itself is the user's to keep.
        for k in [
            "CARGO",
            "CARGO_HOME",
            "CARGO_TARGET_DIR",
            "CARGO_BUILD_JOBS",
            "PATH",
        ] {
            assert!(!is_cargo_run_variable(k), "{k}");
        }
    }

    #[test]
    fn one_cargo_invocation_for_all_functions_plus_init() {
        let wanted = [
            want("square", "square", "square", Architecture::X86_64),
            want(
                "image-generator",
                "image-generator",
                "image-generator",
                Architecture::X86_64,
            ),
            want("square-copy", "square", "square", Architecture::X86_64),
        ];
        let dir = Path::new("/ws/target/lsk/x");
        assert_eq!(
            cargo_build_args(&wanted, true, dir).join(" "),
            "build --release --message-format=json-render-diagnostics --target-dir /ws/target/lsk/x -p image-generator -p lsk-init -p square --bin image-generator --bin lsk-init --bin square"
        );
        assert_eq!(
            cargo_build_args(&wanted[..1], false, dir).join(" "),
            "build --release --message-format=json-render-diagnostics --target-dir /ws/target/lsk/x -p square --bin square"
        );
    }

    #[test]
    fn every_function_set_shares_one_build_dir_and_keeps_binaries_per_workspace() {
        let t = Path::new("/ws/target");
        assert_eq!(host_target_dir(t, false), t.join("lsk/functions"));
        assert_eq!(host_target_dir(t, true), t.join("lsk/lsk-init"));
        let dir = host_target_dir(t, false);
        let mine = kept_dir(&dir, Path::new("/ws"));
        assert!(mine.starts_with(t.join("lsk/functions/kept")), "{mine:?}");
        assert_eq!(mine, kept_dir(&dir, Path::new("/ws")));
        assert_ne!(mine, kept_dir(&dir, Path::new("/other-ws")));
    }

    #[test]
    fn a_kept_binary_changes_only_when_the_build_changed_it() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().unwrap();
        let built = dir.path().join("release/square");
        let kept = dir.path().join("kept/abc/square");
        std::fs::create_dir_all(built.parent().unwrap()).unwrap();
        std::fs::write(&built, b"v1").unwrap();
        keep(&built, &kept).unwrap();
        assert_eq!(std::fs::read(&kept).unwrap(), b"v1");
        let modified = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
        assert_eq!(
            modified(&kept),
            modified(&built),
            "lsk watch compares times"
        );

        // A fresh build (cargo left the binary alone) keeps the same file.
        let inode = std::fs::metadata(&kept).unwrap().ino();
        keep(&built, &kept).unwrap();
        assert_eq!(std::fs::metadata(&kept).unwrap().ino(), inode);

        // A reader of the kept binary still reads v1 whole when a rebuild puts v2 in place.
        let mut reader = std::fs::File::open(&kept).unwrap();
        std::fs::write(&built, b"v2, longer").unwrap();
        keep(&built, &kept).unwrap();
        let mut old = Vec::new();
        std::io::Read::read_to_end(&mut reader, &mut old).unwrap();
        assert_eq!(old, b"v1");
        assert_eq!(std::fs::read(&kept).unwrap(), b"v2, longer");
        assert_eq!(
            std::fs::read_dir(kept.parent().unwrap()).unwrap().count(),
            1,
            "no temporary copy is left behind"
        );
    }

    #[test]
    fn cargo_lambda_command_per_architecture() {
        let wanted = [
            want("square", "square", "square", Architecture::X86_64),
            want(
                "gen",
                "image-generator",
                "image-generator",
                Architecture::Arm64,
            ),
        ];
        let dir = Path::new("/ws/target/lambda");
        assert_eq!(
            cargo_lambda_args(&wanted, Architecture::X86_64, dir).join(" "),
            "lambda build --release --target x86_64-unknown-linux-gnu.2.26 --lambda-dir /ws/target/lambda/x86_64 --package square --bin square"
        );
        assert_eq!(
            cargo_lambda_args(&wanted, Architecture::Arm64, dir).join(" "),
            "lambda build --release --target aarch64-unknown-linux-gnu.2.26 --lambda-dir /ws/target/lambda/arm64 --package image-generator --bin image-generator"
        );
        assert_eq!(
            lambda_output(dir, Architecture::Arm64, "image-generator"),
            Path::new("/ws/target/lambda/arm64/image-generator/bootstrap")
        );
    }

    #[test]
    fn binaries_are_resolved_and_checked() {
        let m = manifest(
            "[functions.square]\npackage = \"square\"\n[functions.gen]\npackage = \"image-generator\"\nbin = \"image-generator\"\narchitecture = \"arm64\"\n",
        );
        let wanted = resolve(&m, &ws(), Path::new("/ws")).unwrap();
        assert_eq!(
            wanted,
            [
                want(
                    "gen",
                    "image-generator",
                    "image-generator",
                    Architecture::Arm64
                ),
                want("square", "square", "square", Architecture::X86_64),
            ]
        );
    }

    #[test]
    fn resolution_errors_name_the_manifest_key() {
        let cases = [
            (
                "[functions.f]\npackage = \"nope\"\n",
                "functions.f.package: package `nope` is not a member",
            ),
            (
                "[functions.f]\npackage = \"image-generator\"\n",
                "several binaries (image-generator, image-client)",
            ),
            (
                "[functions.f]\npackage = \"square\"\nbin = \"sq\"\n",
                "functions.f.bin: package `square` has no binary `sq`; it has: square",
            ),
            (
                "[functions.f]\npackage = \"lib-only\"\n",
                "has no binary target",
            ),
        ];
        for (src, fragment) in cases {
            let err = resolve(&manifest(src), &ws(), Path::new("/ws")).unwrap_err();
            assert!(err.to_string().contains(fragment), "{err}");
        }
    }

    #[test]
    fn same_binary_name_from_two_packages_is_refused() {
        let mut w = ws();
        w.packages.insert("other".into(), vec!["square".into()]);
        let m =
            manifest("[functions.a]\npackage = \"square\"\n[functions.b]\npackage = \"other\"\n");
        let err = resolve(&m, &w, Path::new("/ws")).unwrap_err();
        assert!(matches!(err, BuildError::BinaryClash { .. }), "{err}");
    }

    #[test]
    fn metadata_keeps_workspace_members_and_their_bins() {
        let json = r#"{
          "packages": [
            {"name": "square", "version": "0.1.0", "id": "path+file:///ws/lambdas/square#0.1.0",
             "manifest_path": "/ws/lambdas/square/Cargo.toml", "dependencies": [], "features": {},
             "targets": [{"name": "square", "kind": ["bin"], "src_path": "/ws/lambdas/square/src/main.rs"},
                         {"name": "square", "kind": ["lib"], "src_path": "/ws/lambdas/square/src/lib.rs"}]},
            {"name": "serde", "version": "1.0.0", "id": "registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0",
             "manifest_path": "/registry/serde-1.0.0/Cargo.toml", "dependencies": [], "features": {},
             "targets": [{"name": "serde", "kind": ["lib"], "src_path": "/registry/serde-1.0.0/src/lib.rs"}]}
          ],
          "resolve": null,
          "workspace_members": ["path+file:///ws/lambdas/square#0.1.0"],
          "target_directory": "/elsewhere/target",
          "workspace_root": "/ws",
          "version": 1
        }"#;
        let ws = parse_metadata(json).unwrap();
        assert_eq!(ws.target_directory, Path::new("/elsewhere/target"));
        assert_eq!(ws.workspace_root, Path::new("/ws"));
        assert_eq!(
            ws.package_dirs,
            BTreeMap::from([("square".to_owned(), PathBuf::from("/ws/lambdas/square"))])
        );
        assert_eq!(
            ws.packages,
            BTreeMap::from([("square".to_owned(), vec!["square".to_owned()])])
        );
    }

    #[test]
    fn closures_follow_workspace_dependencies_at_any_depth() {
        let pkg = |name: &str, id: &str| {
            format!(
                r#"{{"name": "{name}", "version": "0.1.0", "id": "{id}", "manifest_path": "/ws/{name}/Cargo.toml", "dependencies": [], "features": {{}}, "targets": []}}"#
            )
        };
        let (a, b, c, core, serde) = (
            "path+file:///ws/a#0.1.0",
            "path+file:///ws/b#0.1.0",
            "path+file:///ws/c#0.1.0",
            "path+file:///ws/core#0.1.0",
            "registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0",
        );
        let json = format!(
            r#"{{"packages": [{}, {}, {}, {}, {}],
                "workspace_members": ["{a}", "{b}", "{c}", "{core}"],
                "resolve": {{"root": null, "nodes": [
                  {{"id": "{a}", "dependencies": ["{b}"]}},
                  {{"id": "{b}", "dependencies": ["{core}", "{serde}"]}},
                  {{"id": "{c}", "dependencies": ["{serde}"]}},
                  {{"id": "{core}", "dependencies": []}},
                  {{"id": "{serde}", "dependencies": []}}]}},
                "target_directory": "/ws/target", "workspace_root": "/ws", "version": 1}}"#,
            pkg("a", a),
            pkg("b", b),
            pkg("c", c),
            pkg("core", core),
            pkg("serde", serde),
        );
        let closures = parse_closures(&json).unwrap();
        let names = |p: &str| closures[p].iter().map(String::as_str).collect::<Vec<_>>();
        assert_eq!(names("a"), ["a", "b", "core"]);
        assert_eq!(names("c"), ["c"]);
        assert!(!closures.contains_key("serde"));
    }

    #[tokio::test]
    async fn this_workspaces_closures_come_from_cargo() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let closures = workspace_closures(&root).await.unwrap();
        assert_eq!(
            closures["lsk"]
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
            ["lsk"]
        );
        assert!(closures["lsk-e2e"].contains("lsk"), "{closures:?}");
        assert!(closures.contains_key("square"), "{closures:?}");
    }

    #[test]
    fn this_workspaces_lock_names_its_sdk_crates() {
        let crates = sdk_service_crates(include_str!("../../../Cargo.lock"));
        for sdk in ["aws-sdk-lambda", "aws-sdk-s3", "aws-sdk-sqs"] {
            assert!(crates.contains(sdk), "{sdk} not in {crates:?}");
        }
        assert!(crates.iter().all(|c| c.starts_with("aws-sdk-")));
        assert!(sdk_service_crates("not a lock [").is_empty());
    }

    #[test]
    fn artifact_lines_give_executables() {
        let line = r#"{"reason":"compiler-artifact","package_id":"path+file:///ws#square@0.1.0","manifest_path":"/ws/Cargo.toml","target":{"kind":["bin"],"crate_types":["bin"],"name":"square","src_path":"/ws/src/main.rs","edition":"2024","doc":true,"doctest":false,"test":true},"profile":{"opt_level":"3","debuginfo":0,"debug_assertions":false,"overflow_checks":false,"test":false},"features":[],"filenames":["/t/release/square"],"executable":"/t/release/square","fresh":true}"#;
        assert_eq!(
            artifact_executable(line),
            Some(("square".into(), PathBuf::from("/t/release/square")))
        );
        let lib = r#"{"reason":"compiler-artifact","package_id":"registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0","target":{"kind":["lib"],"crate_types":["lib"],"name":"serde","src_path":"/r/serde/src/lib.rs"},"profile":{"opt_level":"0","debuginfo":0,"debug_assertions":true,"overflow_checks":true,"test":false},"features":[],"filenames":["/t/libserde.rlib"],"executable":null,"fresh":true}"#;
        assert_eq!(artifact_executable(lib), None);
        assert_eq!(
            artifact_executable(r#"{"reason":"build-finished","success":true}"#),
            None
        );
        assert_eq!(artifact_executable("not json"), None);
    }

    #[test]
    fn progress_lines_are_dropped_from_errors() {
        assert!(is_progress_line(
            "   Compiling square v0.1.0 (/ws/lambdas/square)"
        ));
        assert!(!is_progress_line("error[E0308]: mismatched types"));
    }

    #[test]
    fn the_venv_cargo_lambda_comes_first_and_its_bin_leads_path() {
        let dir = tempfile::tempdir().unwrap();
        let bin = lsk_kit::paths::venv_bin(dir.path());
        // No venv: PATH is left alone.
        assert_eq!(lambda_build_path(&bin, Some(OsStr::new("/usr/bin"))), None);
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("cargo-lambda"), b"").unwrap();
        assert_eq!(
            find_cargo_lambda(dir.path()),
            Some(bin.join("cargo-lambda"))
        );
        let path = lambda_build_path(&bin, Some(OsStr::new("/usr/bin:/bin"))).unwrap();
        let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
        assert_eq!(dirs, [bin.clone(), "/usr/bin".into(), "/bin".into()]);
        // Already on PATH: moved to the front, not repeated.
        let again = std::env::join_paths([Path::new("/usr/bin"), &bin]).unwrap();
        let path = lambda_build_path(&bin, Some(&again)).unwrap();
        let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
        assert_eq!(dirs, [bin.clone(), "/usr/bin".into()]);
        assert_eq!(
            std::env::split_paths(&lambda_build_path(&bin, None).unwrap()).collect::<Vec<_>>(),
            [bin]
        );
    }

    #[test]
    fn build_tools_are_installed_only_as_pinned() {
        let args = build_tools_install_args(Path::new("/ws/localstack/build-tools.txt"));
        let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into()).collect();
        assert_eq!(
            args.join(" "),
            "-m pip install --disable-pip-version-check --no-input --progress-bar off --require-hashes -r /ws/localstack/build-tools.txt"
        );
        // The kit's file pins cargo-lambda and the zig it needs, each with hashes.
        let file = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(BUILD_TOOLS);
        let text = std::fs::read_to_string(&file).unwrap();
        for name in ["cargo-lambda==", "ziglang=="] {
            let at = text
                .find(name)
                .unwrap_or_else(|| panic!("{name} not in {file:?}"));
            assert!(
                text[at..]
                    .lines()
                    .nth(1)
                    .is_some_and(|l| l.trim().starts_with("--hash=sha256:")),
                "{name} has no hash in {file:?}"
            );
        }
    }

    #[tokio::test]
    async fn without_cargo_lambda_or_the_pins_the_error_says_so() {
        if which::which("cargo-lambda").is_ok() {
            return; // a cargo-lambda on PATH is used as it is
        }
        let dir = tempfile::tempdir().unwrap();
        // A kit whose pins went missing (someone tidied .lsk/kit by hand).
        let kit = crate::kit::Kit::for_workspace(dir.path()).unwrap();
        std::fs::remove_file(kit.path(BUILD_TOOLS)).unwrap();
        let err = ensure_cargo_lambda(dir.path(), &Progress::silent())
            .await
            .unwrap_err();
        assert!(matches!(err, BuildError::BuildToolsMissing { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("localstack/build-tools.txt"), "{text}");
        assert!(text.contains("needs cargo-lambda"), "{text}");
        assert!(err.hint().is_some());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_missing_cargo_lambda_is_installed_into_the_venv_with_pip() {
        use std::os::unix::fs::PermissionsExt;
        if which::which("cargo-lambda").is_ok() {
            return; // a cargo-lambda on PATH is used as it is
        }
        let dir = tempfile::tempdir().unwrap();
        let bin = lsk_kit::paths::venv_bin(dir.path());
        std::fs::create_dir_all(&bin).unwrap();
        // The pins come from the kit, unpacked into the scratch workspace's .lsk/kit.
        let kit = crate::kit::Kit::for_workspace(dir.path()).unwrap();
        assert!(kit.path(BUILD_TOOLS).is_file());
        let python = bin.join("python");
        let fake = |script: &str| {
            std::fs::write(&python, script).unwrap();
            std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
        };
        // pip fails: its output, both streams, is in the error.
        fake(
            "#!/bin/sh\necho 'Collecting cargo-lambda==1.9.2'\necho 'ERROR: THESE PACKAGES DO NOT MATCH THE HASHES' >&2\nexit 1\n",
        );
        let err = ensure_cargo_lambda(dir.path(), &Progress::silent())
            .await
            .unwrap_err();
        assert!(matches!(err, BuildError::ToolInstall { .. }), "{err}");
        let text = err.to_string();
        for fragment in [
            "installing cargo-lambda and zig into",
            "--require-hashes -r",
            "Collecting cargo-lambda==1.9.2",
            "DO NOT MATCH THE HASHES",
        ] {
            assert!(text.contains(fragment), "{fragment:?} not in {text}");
        }
        assert!(err.hint().is_some_and(|h| h.contains("PIP_INDEX_URL")));
        // pip says it worked but installed nothing.
        fake("#!/bin/sh\nexit 0\n");
        let err = ensure_cargo_lambda(dir.path(), &Progress::silent())
            .await
            .unwrap_err();
        assert!(err.to_string().contains("does not exist"), "{err}");
        // pip installs it: the venv's cargo-lambda is used from then on.
        fake("#!/bin/sh\ntouch \"$(dirname \"$0\")/cargo-lambda\"\n");
        let found = ensure_cargo_lambda(dir.path(), &Progress::silent())
            .await
            .unwrap();
        assert_eq!(found, bin.join("cargo-lambda"));
        std::fs::remove_file(&python).unwrap();
        assert_eq!(
            ensure_cargo_lambda(dir.path(), &Progress::silent())
                .await
                .unwrap(),
            found
        );
    }

    /// The newest `GLIBC_2.x` version an ELF refers to (its version needs).
    fn newest_glibc(bytes: &[u8]) -> Option<(u32, u32)> {
        let needle = b"GLIBC_2.";
        let mut newest = None;
        for at in 0..bytes.len().saturating_sub(needle.len()) {
            if &bytes[at..at + needle.len()] != needle {
                continue;
            }
            let digits: String = bytes[at + needle.len()..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .map(|&b| b as char)
                .collect();
            if let Ok(minor) = digits.parse::<u32>() {
                newest = newest.max(Some((2, minor)));
            }
        }
        newest
    }

    /// A real Lambda build through the kit: installs the pinned cargo-lambda and zig into
    /// `.lsk/venv` when no cargo-lambda is found, then cross-builds `square` with them.
    /// `cargo test -p lsk --lib -- --ignored --nocapture square_builds_for_lambda`
    #[tokio::test]
    #[ignore = "installs cargo-lambda + zig into .lsk/venv when missing and builds square for Lambda (minutes)"]
    async fn square_builds_for_lambda_with_an_old_glibc_baseline() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .parent()
            .unwrap();
        let m = Manifest::parse(
            "[functions.square]\npackage = \"square\"\n",
            &root.join("lsk.toml"),
        )
        .unwrap();
        let started = std::time::Instant::now();
        let built = build(&m, BuildTarget::Lambda, false, &Progress::plain())
            .await
            .unwrap();
        eprintln!("lambda build of square: {:?}", started.elapsed());
        let path = &built.binaries["square"];
        let bytes = std::fs::read(path).unwrap();
        crate::package::check_executable(&bytes, Architecture::X86_64).unwrap();
        let glibc = newest_glibc(&bytes).expect("a glibc-linked binary");
        eprintln!("{} needs glibc {}.{}", path.display(), glibc.0, glibc.1);
        // Linked for LAMBDA_GLIBC (Amazon Linux 2); AL2023 has 2.34, our image (bookworm) 2.36.
        assert!(glibc <= (2, 26), "{glibc:?}");
    }

    #[tokio::test]
    async fn a_function_for_another_cpu_is_refused_before_a_host_build() {
        let foreign = match host_architecture() {
            Some(Architecture::Arm64) => Architecture::X86_64,
            _ => Architecture::Arm64,
        };
        // No such package: the refusal comes before cargo is asked anything.
        let m = Manifest::parse(
            &format!(
                "[functions.square]\npackage = \"square\"\n[functions.gen]\npackage = \"nowhere\"\narchitecture = \"{}\"\n",
                foreign.as_str()
            ),
            Path::new("/ws/lsk.toml"),
        )
        .unwrap();
        let err = build(&m, BuildTarget::Host, false, &Progress::silent())
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!(
                "/ws/lsk.toml: functions.gen.architecture is \"{}\", but this host builds and runs {} binaries",
                foreign.as_str(),
                std::env::consts::ARCH
            )),
            "{text}"
        );
        let hint = err.hint().unwrap();
        assert!(hint.contains("[functions.gen]"), "{hint}");
    }

    #[tokio::test]
    async fn a_compile_error_carries_the_compiler_message() {
        // A throw-away crate outside the workspace, with its own target dir.
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"broken\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[workspace]\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("src/main.rs"),
            "fn main() { let x: u32 = \"not a number\"; }\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("lsk.toml"),
            "[functions.broken]\npackage = \"broken\"\n",
        )
        .unwrap();
        let m = Manifest::load(&dir.path().join("lsk.toml")).unwrap();
        let err = build(&m, BuildTarget::Host, false, &Progress::silent())
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, BuildError::Compile { .. }), "{text}");
        assert!(text.contains("mismatched types"), "{text}");
        assert!(text.contains("src/main.rs"), "{text}");
        assert!(!text.contains("Compiling broken"), "{text}");
    }
}
