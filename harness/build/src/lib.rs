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

mod cargo;
mod error;
mod glibc;
mod init;
mod tools;
mod workspace;
pub use cargo::*;
pub use error::*;
pub use glibc::*;
pub use init::*;
pub use tools::*;
pub use workspace::*;

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

#[cfg(test)]
mod tests;
