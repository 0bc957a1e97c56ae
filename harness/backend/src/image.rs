//! Our LocalStack image: made when missing, reused otherwise.
//!
//! The tag carries a hash of everything that goes into the image (the image's configuration
//! below, `prepare-site.py`, the lock, the plugin's sources, `lsk-init`'s sources and dependency
//! lock, the base image's id), so a change to any of them makes a new image and an unchanged kit
//! reuses the one made before, whichever workspace made it: `lsk-init` built in another
//! workspace differs in its bytes (paths end up in the binary), not in what it does. One image
//! is made at a time on the machine (a lock file in the temp dir), so two `lsk` processes asking
//! for the same image make it once.
//!
//! How, with nothing fetched: the lock's packages are installed on the host by
//! `uv pip install --target` for the image's Python and platform, hashes checked, with our
//! plugin beside them and `lsk-init`, into a directory laid out as the image's `/`;
//! `localstack/docker/prepare-site.py` then runs in a throwaway container of the base (its own
//! Python, `--network=none`) with that directory mounted, to make the venv, the bytecode and
//! LocalStack's service catalog index; and `docker import` takes the base's files
//! (`docker export`) with ours on top as a one-layer image ([`super::rootfs`]), with the
//! configuration of [`IMAGE_ENV`], [`ENTRYPOINT`] and the labels. The base is a public Python
//! image of the same Debian release where a registry answers, else an offline base that
//! `make-base.sh` makes from Debian's packages.
//!
//! The script, the lock, the plugin and `make-base.sh` are the kit's ([`crate::kit`]): this
//! checkout's in this repository, the copy inside `lsk` in any other workspace.

mod base;
mod import;
pub use base::*;
use import::*;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::process::Command;

use super::BackendError;
use crate::progress::Progress;

/// Relative to the kit's root ([`crate::kit::Kit::root`]).
pub const PREPARE_SITE: &str = "localstack/docker/prepare-site.py";
pub const MAKE_BASE: &str = "localstack/docker/make-base.sh";
pub const LOCK: &str = "localstack/requirements.lock";
pub const PLUGIN: &str = "localstack/plugin";
/// Repository of the images lsk builds; the tag is the inputs' hash.
pub const REPOSITORY: &str = "lsk-localstack";
/// The offline base `make-base.sh` makes (Debian bookworm, Python 3.11).
pub const OFFLINE_BASE: &str = "lsk-base:bookworm";
/// Offline bases are `lsk-base:<Debian suite>`; `make-base.sh` makes any of them.
pub const OFFLINE_REPOSITORY: &str = "lsk-base";
/// The public base of the same Debian release and Python, for machines with a registry.
pub const REGISTRY_BASE: &str = "python:3.11-slim-bookworm";
/// Overrides the base (any Debian image with python3 3.11-3.13 and its venv module).
pub const BASE_ENV: &str = "LSK_DOCKER_BASE";
/// Label recording the base an image was built on (pruning keeps other bases' images).
pub const BASE_LABEL: &str = "dev.lsk.base-image";
/// Label on every image and container lsk makes.
pub const MANAGED_LABEL: &str = "dev.lsk.managed=true";

/// The image's environment. What never changes between runs; lsk passes the rest (ports,
/// services, tuning) with `-e`. The image's LocalStack decides its directories as it would in
/// its own image.
pub const IMAGE_ENV: &[(&str, &str)] = &[
    ("OVERRIDE_IN_DOCKER", "1"),
    ("LAMBDA_RUNTIME_EXECUTOR", "process"),
    ("LSK_INIT_BIN", "/opt/lsk/bin/lsk-init"),
    ("GATEWAY_LISTEN", "0.0.0.0:4566"),
    ("GATEWAY_SERVER", "lsk-twisted"),
    ("LOCALSTACK_VOLUME_DIR", "/var/lib/localstack"),
    ("DNS_ADDRESS", "0"),
    ("SKIP_SSL_CERT_DOWNLOAD", "1"),
    ("DISABLE_EVENTS", "1"),
    ("LANG", "C.UTF-8"),
];
/// What a container of the image runs: LocalStack through our launcher.
pub const ENTRYPOINT: &str = r#"["/opt/lsk/venv/bin/python", "-m", "lsk_localstack.launch"]"#;
/// Where the venv lives in the image (and `lsk-init` beside it, in `/opt/lsk/bin`).
const IMAGE_OPT: &str = "opt/lsk";

const PULL_TIMEOUT: Duration = Duration::from_secs(300);
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);
const BASE_TIMEOUT: Duration = Duration::from_secs(600);

/// The image tag for these inputs: `lsk-localstack:<16 hex digits>`.
pub fn tag_for(parts: &[(&str, &[u8])]) -> String {
    let mut hasher = Sha256::new();
    for (name, bytes) in parts {
        // Length-prefixed, so moving bytes between parts changes the hash.
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    let digest = hex::encode(hasher.finalize());
    format!("{REPOSITORY}:{}", &digest[..16])
}

/// The `uv --python-platform` of Linux images on this machine's architecture.
pub fn python_platform() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "aarch64-manylinux_2_28",
        _ => "x86_64-manylinux_2_28",
    }
}

/// The files of the plugin that go into the image, in a stable order.
fn plugin_files(root: &Path) -> Result<Vec<PathBuf>, BackendError> {
    let plugin = root.join(PLUGIN);
    let mut files = vec![plugin.join("pyproject.toml")];
    let pkg = plugin.join("lsk_localstack");
    let entries = std::fs::read_dir(&pkg).map_err(|e| io_error("reading", &pkg, e))?;
    let mut sources: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "py"))
        .collect();
    sources.sort();
    files.extend(sources);
    Ok(files)
}

fn io_error(what: &str, path: &Path, e: std::io::Error) -> BackendError {
    BackendError::Image {
        step: format!("{what} {}", path.display()),
        detail: e.to_string(),
        hint: None,
    }
}

/// The kit's files for the workspace at `root`.
fn kit_for(root: &Path) -> Result<crate::kit::Kit, BackendError> {
    crate::kit::Kit::for_workspace(root).map_err(|e| BackendError::Image {
        step: "finding the kit's files".into(),
        detail: e.to_string(),
        hint: None,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, BackendError> {
    std::fs::read(path).map_err(|e| io_error("reading", path, e))
}

/// Runs a docker (or other) command to completion, with stdout returned.
async fn run(
    program: &str,
    args: &[&str],
    step: &str,
    timeout: Duration,
) -> Result<String, BackendError> {
    super::docker::run_to_end(program, args, timeout)
        .await
        .map_err(|detail| BackendError::Image {
            step: step.to_owned(),
            detail,
            hint: None,
        })
}

/// The id of a local image, or None when the engine does not have it.
pub async fn local_image_id(image: &str) -> Option<String> {
    run(
        "docker",
        &["image", "inspect", "--format", "{{.Id}}", image],
        "docker image inspect",
        Duration::from_secs(30),
    )
    .await
    .ok()
    .map(|s| s.trim().to_owned())
    .filter(|s| !s.is_empty())
}

/// `e` with `hint` in place of its own, when it is an image step's error.
fn hinted(e: BackendError, hint: String) -> BackendError {
    match e {
        BackendError::Image { step, detail, .. } => BackendError::Image {
            step,
            detail,
            hint: Some(hint),
        },
        other => other,
    }
}

/// `uv pip install --no-deps --target <target>` of `args` for the image's Python `python`.
async fn uv_install(
    uv: &str,
    target: &Path,
    python: &str,
    args: &[&str],
    step: &str,
) -> Result<String, BackendError> {
    let target = target.display().to_string();
    let mut all = vec![
        "pip",
        "install",
        "--quiet",
        "--no-deps",
        "--target",
        &target,
        "--python-version",
        python,
    ];
    all.extend_from_slice(args);
    run(uv, &all, step, BUILD_TIMEOUT).await
}

/// The kit venv's `uv` and Python (`.lsk/venv`, installed when missing): uv installs the
/// image's packages, and builds our plugin with that Python, whose setuptools comes from the
/// lock.
async fn kit_tools(
    root: &Path,
    progress: &crate::progress::Phase,
) -> Result<(PathBuf, PathBuf), BackendError> {
    let bin = lsk_kit::paths::venv_bin(root);
    let (uv, python) = (bin.join("uv"), bin.join("python"));
    if uv.is_file() && python.is_file() {
        return Ok((uv, python));
    }
    progress.update(
        "installing the kit's Python tools into .lsk/venv (uv builds the image's packages)",
    );
    let installed = lsk_kit::venv::ensure_installed(root, &|line| progress.update(line)).await;
    match installed {
        Ok(_) if uv.is_file() && python.is_file() => Ok((uv, python)),
        outcome => Err(BackendError::Image {
            step: "installing the kit's Python tools".into(),
            detail: match outcome {
                Err(e) => format!("installing .lsk/venv failed: {e}"),
                Ok(_) => format!("{} holds no uv or no python", bin.display()),
            },
            hint: Some(
                "lsk needs a Python 3.11-3.13 on PATH to install the kit's own tools into .lsk/venv; `make install` shows the installer's output".into(),
            ),
        }),
    }
}

/// A value as a double-quoted word of a Dockerfile instruction.
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// What our image keeps of its base's configuration, as a `docker build` on it would: its
/// environment and its labels (`docker import` starts from neither).
#[derive(Debug, Default, serde::Deserialize)]
pub struct BaseConfig {
    #[serde(rename = "Env", default)]
    env: Option<Vec<String>>,
    #[serde(rename = "Labels", default)]
    labels: Option<std::collections::BTreeMap<String, String>>,
}

/// Labels lsk sets on its images (over any the base has).
const IMAGE_LABELS: [(&str, &str); 2] = [
    ("dev.lsk.image", "localstack"),
    super::docker::LABEL_MANAGED,
];

/// The `docker import --change` instructions of our image on `base`, whose configuration is
/// `inherited` (ours win where both set a variable or a label).
pub fn image_config(base: &str, inherited: &BaseConfig) -> Vec<String> {
    let mut changes: Vec<String> = inherited
        .env
        .iter()
        .flatten()
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| !IMAGE_ENV.iter().any(|(ours, _)| ours == k))
        .map(|(k, v)| format!("ENV {k}={}", quoted(v)))
        .collect();
    changes.extend(
        IMAGE_ENV
            .iter()
            .map(|(k, v)| format!("ENV {k}={}", quoted(v))),
    );
    let ours: Vec<(&str, &str)> = IMAGE_LABELS
        .into_iter()
        .chain([(BASE_LABEL, base)])
        .collect();
    let labels: Vec<String> = inherited
        .labels
        .iter()
        .flatten()
        .filter(|(k, _)| !ours.iter().any(|(o, _)| o == k))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .chain(ours.iter().copied())
        .map(|(k, v)| format!("{k}={}", quoted(v)))
        .collect();
    changes.push(format!("LABEL {}", labels.join(" ")));
    changes.push("EXPOSE 4566".to_owned());
    changes.push(format!("ENTRYPOINT {ENTRYPOINT}"));
    changes
}

/// The base's id, environment and labels (`docker import` would drop the last two), in one
/// `docker image inspect`: every `lsk up --backend docker` asks.
async fn inspect_base(base: &str) -> Result<(String, BaseConfig), BackendError> {
    #[derive(serde::Deserialize)]
    struct Inspected {
        #[serde(rename = "Id")]
        id: String,
        #[serde(rename = "Config", default)]
        config: Option<BaseConfig>,
    }
    let out = run(
        "docker",
        &["image", "inspect", "--format", "{{json .}}", base],
        &format!("reading {base}'s configuration"),
        Duration::from_secs(30),
    )
    .await?;
    serde_json::from_str::<Inspected>(out.trim())
        .map(|i| (i.id, i.config.unwrap_or_default()))
        .map_err(|e| BackendError::Image {
            step: format!("reading {base}'s configuration"),
            detail: format!(
                "docker printed {} bytes that are not an image: {e}",
                out.len()
            ),
            hint: None,
        })
}

/// Our LocalStack image for this checkout and `init_bin` on `base` (default: see
/// [`ensure_base`]), made if the engine lacks it.
pub async fn ensure(
    root: &Path,
    init_bin: &Path,
    base: Option<&str>,
    progress: &Progress,
) -> Result<String, BackendError> {
    let base = ensure_base(root, base, progress).await?;
    let (base_id, inherited) = inspect_base(&base).await?;
    let config = image_config(&base, &inherited);
    let config_text = config.join("\n");
    let kit = kit_for(root)?;
    let script = read(&kit.path(PREPARE_SITE))?;
    let lock = read(&kit.path(LOCK))?;
    let init = init_sources(&kit)?;
    let files = plugin_files(kit.root())?;
    let mut plugin = Vec::new();
    for f in &files {
        // Named relative to the kit root: the same tag from the checkout and from the copy.
        let rel = f
            .strip_prefix(kit.root())
            .unwrap_or(f)
            .display()
            .to_string();
        plugin.push((rel, read(f)?));
    }
    let mut parts: Vec<(&str, &[u8])> = vec![
        ("config", config_text.as_bytes()),
        ("prepare-site.py", &script),
        ("requirements.lock", &lock),
        ("base", base.as_bytes()),
        ("base-id", base_id.as_bytes()),
    ];
    parts.extend(plugin.iter().map(|(n, b)| (n.as_str(), b.as_slice())));
    parts.extend(init.iter().map(|(n, b)| (n.as_str(), b.as_slice())));
    let tag = tag_for(&parts);
    if local_image_id(&tag).await.is_some() {
        progress.note(&format!("image {tag} (already built)"));
        return Ok(tag);
    }
    // One build at a time on this machine: two callers (tests running in parallel, in this
    // process or another) asking for the same tag would each build it. The second one then finds
    // the first one's image.
    let _building = image_build_lock().await?;
    if local_image_id(&tag).await.is_some() {
        progress.note(&format!("image {tag} (built meanwhile)"));
        return Ok(tag);
    }

    let phase = progress.phase("image");
    // One directory per process: two test binaries may build the same tag at once. Under
    // .lsk/, the only place lsk writes to in a workspace; absolute, as docker mounts it.
    let ctx = std::path::absolute(lsk_kit::paths::image_context(root).join(format!(
        "{}-{}",
        tag.rsplit(':').next().unwrap_or("ctx"),
        std::process::id()
    )))
    .map_err(|e| io_error("locating", root, e))?;
    if ctx.exists() {
        std::fs::remove_dir_all(&ctx).map_err(|e| io_error("clearing", &ctx, e))?;
    }
    let made = make(
        root, &ctx, &kit, &files, init_bin, &base, &tag, &config, &phase,
    )
    .await;
    let _ = std::fs::remove_dir_all(&ctx);
    let python = made?;
    prune_older(&tag, &base).await;
    phase.done(&format!("{tag} built (Python {python})"));
    Ok(tag)
}

/// Makes the image `tag` in `ctx`: the image's own files under `ctx/root`, then the import.
/// Returns the image's Python version.
#[allow(clippy::too_many_arguments)]
async fn make(
    root: &Path,
    ctx: &Path,
    kit: &crate::kit::Kit,
    files: &[PathBuf],
    init_bin: &Path,
    base: &str,
    tag: &str,
    config: &[String],
    phase: &crate::progress::Phase,
) -> Result<String, BackendError> {
    let image_root = ctx.join("root");
    let python = base_python(base).await?;
    let site = image_root.join(format!("{IMAGE_OPT}/venv/lib/python{python}/site-packages"));
    std::fs::create_dir_all(&site).map_err(|e| io_error("creating", &site, e))?;
    phase.update(&format!(
        "installing the lock's packages for Python {python} ({})",
        python_platform()
    ));
    let (uv, tools_python) = kit_tools(root, phase).await?;
    let (uv, tools_python) = (uv.display().to_string(), tools_python.display().to_string());
    let lock_path = kit.path(LOCK).display().to_string();
    uv_install(
        &uv,
        &site,
        &python,
        &[
            "--require-hashes",
            "--python-platform",
            python_platform(),
            "-r",
            &lock_path,
        ],
        "installing the lock's packages for the image (uv pip install --target)",
    )
    .await?;
    // Our plugin beside them (pure Python: built from a copy, which the build writes into, by
    // the kit venv's setuptools, whatever the image's Python).
    let source = ctx.join("plugin");
    for f in files {
        let rel = f.strip_prefix(kit.path(PLUGIN)).unwrap_or(f);
        let dest = source.join(rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error("creating", parent, e))?;
        }
        std::fs::copy(f, &dest).map_err(|e| io_error("copying", f, e))?;
    }
    let source_arg = source.display().to_string();
    uv_install(
        &uv,
        &site,
        &python,
        &[
            "--no-index",
            "--no-build-isolation",
            "--python",
            &tools_python,
            &source_arg,
        ],
        "installing our plugin for the image (uv pip install --target)",
    )
    .await?;
    // uv's lock of the target directory, not part of any package.
    let _ = std::fs::remove_file(site.join(".lock"));
    let ctx_init = image_root.join(IMAGE_OPT).join("bin/lsk-init");
    if let Some(parent) = ctx_init.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_error("creating", parent, e))?;
    }
    std::fs::copy(init_bin, &ctx_init).map_err(|e| io_error("copying", init_bin, e))?;

    phase.update(&format!(
        "making the venv, bytecode and service catalog index in a container of {base}"
    ));
    let mount_root = format!("{}:/ctx/root", image_root.display());
    let mount_opt = format!("{}:/{IMAGE_OPT}", image_root.join(IMAGE_OPT).display());
    let mount_script = format!(
        "{}:/ctx/prepare-site.py:ro",
        kit.path(PREPARE_SITE).display()
    );
    run(
        "docker",
        &[
            "run",
            "--rm",
            "--network=none",
            "--label",
            MANAGED_LABEL,
            "-e",
            "PYTHONDONTWRITEBYTECODE=1",
            "-v",
            &mount_root,
            "-v",
            &mount_opt,
            "-v",
            &mount_script,
            "--entrypoint",
            "python3",
            base,
            "/ctx/prepare-site.py",
            "/ctx/root",
        ],
        &format!("preparing the image's files in a container of {base} ({PREPARE_SITE})"),
        BUILD_TIMEOUT,
    )
    .await
    .map_err(|e| {
        hinted(
            e,
            format!(
                "the engine mounts {} from this machine: with a remote engine (DOCKER_HOST), use the native backend or run lsk on the engine's machine",
                image_root.display()
            ),
        )
    })?;

    phase.update(&format!(
        "docker import {tag} ({base}'s files with ours on top)"
    ));
    import(base, &image_root, config, tag).await?;
    Ok(python)
}

/// `lsk-init`'s sources (`localstack/init/src/**`) and the lock its dependencies build from,
/// named as in the checkout: the same in the checkout and in an unpacked kit.
fn init_sources(kit: &crate::kit::Kit) -> Result<Vec<(String, Vec<u8>)>, BackendError> {
    let src = kit.path(INIT_SRC);
    let mut files = Vec::new();
    let mut dirs = vec![src.clone()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| io_error("reading", &dir, e))?;
        for entry in entries {
            let path = entry.map_err(|e| io_error("reading", &dir, e))?.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut parts = Vec::with_capacity(files.len() + 1);
    for f in files {
        let rel = f
            .strip_prefix(kit.root())
            .unwrap_or(&f)
            .display()
            .to_string();
        parts.push((rel, read(&f)?));
    }
    let lock = kit
        .init_lock()
        .map_err(|e| io_error("reading lsk-init's Cargo.lock in", kit.root(), e))?;
    parts.push(("Cargo.lock".to_owned(), lock));
    Ok(parts)
}

/// `lsk-init`'s sources, relative to the kit's root.
const INIT_SRC: &str = "localstack/init/src";

/// Image and base builds take turns on this machine (`<temp dir>/lsk-image-build.lock`).
async fn image_build_lock() -> Result<crate::file_lock::FileLock, BackendError> {
    let path = std::env::temp_dir().join("lsk-image-build.lock");
    crate::file_lock::FileLock::acquire(&path)
        .await
        .map_err(|e| io_error("locking", &e.path, e.source))
}

/// Builds lsk-init and our image (when missing) and tags it `lsk-localstack:latest`, the tag
/// the compose file starts. Returns the image's own (hash) tag.
pub async fn build_and_tag_latest(
    root: &Path,
    base: Option<&str>,
    progress: &Progress,
) -> Result<String, BackendError> {
    let init = crate::build::build_init_for_image(root, progress)
        .await
        .map_err(|e| BackendError::Init(Box::new(e)))?;
    let tag = ensure(root, &init, base, progress).await?;
    run(
        "docker",
        &["tag", &tag, super::docker::LATEST_IMAGE],
        "docker tag",
        Duration::from_secs(30),
    )
    .await?;
    Ok(tag)
}

#[cfg(test)]
mod tests;
