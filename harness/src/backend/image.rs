//! Our LocalStack image (`localstack/docker/Dockerfile`): built when missing, reused otherwise.
//!
//! The tag carries a hash of everything that goes into the image (the Dockerfile, the lock, the
//! plugin's sources, `lsk-init`'s sources and dependency lock, the base image's id), so a change
//! to any of them builds a new image and an unchanged kit reuses the one built before, whichever
//! workspace built it: `lsk-init` built in another workspace differs in its bytes (paths end up
//! in the binary), not in what it does. One image builds at a time on the machine (a lock file
//! in the temp dir), so two `lsk` processes asking for the same image build it once.
//!
//! Nothing is fetched while the image builds (`docker build --network=none`): the lock's
//! packages are installed on the host by `uv pip install --target` for the image's Python and
//! platform, hashes checked, and copied in. The base is a public Python image of the same Debian
//! release where a registry answers, else an offline base that `make-base.sh` makes from
//! Debian's packages.
//!
//! The Dockerfile, the lock, the plugin and `make-base.sh` are the kit's ([`crate::kit`]): this
//! checkout's in this repository, the copy inside `lsk` in any other workspace.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::BackendError;
use crate::progress::Progress;

/// Relative to the kit's root ([`crate::kit::Kit::root`]).
pub const DOCKERFILE: &str = "localstack/docker/Dockerfile";
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

/// Makes the offline base `lsk-base:<suite>` from Debian's packages.
async fn make_offline_base(root: &Path, tag: &str, why: &str) -> Result<(), BackendError> {
    // Another process may be making the same base: wait for it, then use what it made.
    let _building = image_build_lock().await?;
    if local_image_id(tag).await.is_some() {
        return Ok(());
    }
    let script = kit_for(root)?.path(MAKE_BASE).display().to_string();
    run(
        "bash",
        &[&script, tag],
        "making the offline base image",
        BASE_TIMEOUT,
    )
    .await
    .map_err(|e| match e {
        BackendError::Image { step, detail, .. } => BackendError::Image {
            step,
            detail,
            hint: Some(format!(
                "{why}; set {BASE_ENV} to a Debian image with python3 (3.11-3.13) and python3-venv that this engine has"
            )),
        },
        other => other,
    })
    .map(|_| ())
}

/// The base to build on, made or pulled if needed: `requested` (or `LSK_DOCKER_BASE`) if
/// given, made offline when it is an `lsk-base:<suite>`; else a local offline base or public
/// Python image; else the public image if it can be pulled; else the offline bookworm base,
/// made now from Debian's packages.
pub async fn ensure_base(
    root: &Path,
    requested: Option<&str>,
    progress: &Progress,
) -> Result<String, BackendError> {
    let phase = progress.phase("base image");
    let requested = requested.map(str::to_owned).or_else(|| {
        std::env::var(BASE_ENV)
            .ok()
            .filter(|b| !b.trim().is_empty())
    });
    if let Some(base) = requested {
        if local_image_id(&base).await.is_none() {
            if base.starts_with(&format!("{OFFLINE_REPOSITORY}:")) {
                phase.update(&format!(
                    "making {base} from Debian's packages (about 1 min)"
                ));
                make_offline_base(root, &base, "it is made with debootstrap").await?;
            } else {
                phase.update(&format!("docker pull {base}"));
                run(
                    "docker",
                    &["pull", &base],
                    &format!("pulling {base}"),
                    PULL_TIMEOUT,
                )
                .await?;
            }
        }
        phase.done(&base);
        return Ok(base);
    }
    for local in [OFFLINE_BASE, REGISTRY_BASE] {
        if local_image_id(local).await.is_some() {
            phase.done(&format!("{local} (already here)"));
            return Ok(local.to_owned());
        }
    }
    phase.update(&format!("docker pull {REGISTRY_BASE}"));
    let pulled = run(
        "docker",
        &["pull", "--quiet", REGISTRY_BASE],
        "docker pull",
        PULL_TIMEOUT,
    )
    .await;
    if pulled.is_ok() {
        phase.done(&format!("{REGISTRY_BASE} (pulled)"));
        return Ok(REGISTRY_BASE.to_owned());
    }
    phase.update(&format!(
        "no registry answers; making the offline base {OFFLINE_BASE} from Debian's packages (about 1 min)"
    ));
    make_offline_base(
        root,
        OFFLINE_BASE,
        &format!("{REGISTRY_BASE} could not be pulled either"),
    )
    .await?;
    phase.done(&format!("{OFFLINE_BASE} (made offline)"));
    Ok(OFFLINE_BASE.to_owned())
}

/// The `major.minor` of the base's `python3`, which the packages are installed for.
pub async fn base_python(base: &str) -> Result<String, BackendError> {
    let out = run(
        "docker",
        &[
            "run",
            "--rm",
            "--network=none",
            "--label",
            MANAGED_LABEL,
            "--entrypoint",
            "python3",
            base,
            "-c",
            "import sys; print('%d.%d' % sys.version_info[:2])",
        ],
        &format!("asking {base} for its python3 version"),
        Duration::from_secs(60),
    )
    .await?;
    let version = out.trim().to_owned();
    match crate::backend::native::parse_python_version(&version) {
        Some((3, minor)) if (11..=13).contains(&minor) => Ok(version),
        _ => Err(BackendError::Image {
            step: format!("checking the python3 of {base}"),
            detail: format!("it is {version:?}; the pinned LocalStack runs on Python 3.11 to 3.13"),
            hint: Some(format!(
                "set {BASE_ENV} to a Debian image with Python 3.11-3.13 (e.g. {REGISTRY_BASE})"
            )),
        }),
    }
}

/// Removes images lsk built earlier on the same base that no container uses (each is ~500 MB).
async fn prune_older(keep: &str, base: &str) {
    let Ok(out) = run(
        "docker",
        &[
            "images",
            "--filter",
            &format!("label={BASE_LABEL}={base}"),
            "--format",
            "{{.Repository}}:{{.Tag}}",
            REPOSITORY,
        ],
        "docker images",
        Duration::from_secs(30),
    )
    .await
    else {
        return;
    };
    for image in out.lines().map(str::trim) {
        if image != keep && image.starts_with(REPOSITORY) && !image.ends_with(":latest") {
            // Fails (and is left alone) while a container uses it.
            let _ = run(
                "docker",
                &["rmi", image],
                "docker rmi",
                Duration::from_secs(60),
            )
            .await;
        }
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
    let bin = root.join(".lsk/venv/bin");
    let (uv, python) = (bin.join("uv"), bin.join("python"));
    if uv.is_file() && python.is_file() {
        return Ok((uv, python));
    }
    progress.update(
        "installing the kit's Python tools into .lsk/venv (uv builds the image's packages)",
    );
    let installed = super::native::ensure_installed(root, &|line| progress.update(line)).await;
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

/// Our LocalStack image for this checkout and `init_bin` on `base` (default: see
/// [`ensure_base`]), built if the engine lacks it.
pub async fn ensure(
    root: &Path,
    init_bin: &Path,
    base: Option<&str>,
    progress: &Progress,
) -> Result<String, BackendError> {
    let base = ensure_base(root, base, progress).await?;
    let base_id = local_image_id(&base).await.unwrap_or_default();
    let kit = kit_for(root)?;
    let dockerfile = read(&kit.path(DOCKERFILE))?;
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
        ("Dockerfile", &dockerfile),
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
    // One context per process: two test binaries may build the same tag at once (the second
    // build then takes every layer from the first one's cache). Under .lsk/, the only place
    // lsk writes to in a workspace.
    let ctx = root.join(".lsk").join("image").join(format!(
        "{}-{}",
        tag.rsplit(':').next().unwrap_or("ctx"),
        std::process::id()
    ));
    if ctx.exists() {
        std::fs::remove_dir_all(&ctx).map_err(|e| io_error("clearing", &ctx, e))?;
    }
    let site = ctx.join("site");
    std::fs::create_dir_all(&site).map_err(|e| io_error("creating", &site, e))?;

    let python = base_python(&base).await?;
    phase.update(&format!(
        "installing the lock's packages for Python {python} ({})",
        python_platform()
    ));
    let (uv, tools_python) = kit_tools(root, &phase).await?;
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

    // What changes most goes in one layer (see the Dockerfile): our plugin, installed here into
    // the layer's site-packages (pure Python: built by the kit venv's setuptools, whatever the
    // image's Python), and lsk-init. A RUN step in the image would cost another pass over the
    // site on the engine's storage.
    let layer = ctx.join("kit");
    let source = ctx.join("plugin");
    for f in &files {
        let rel = f.strip_prefix(kit.path(PLUGIN)).unwrap_or(f);
        let dest = source.join(rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_error("creating", parent, e))?;
        }
        std::fs::copy(f, &dest).map_err(|e| io_error("copying", f, e))?;
    }
    let plugin_site = layer.join(format!("opt/lsk/venv/lib/python{python}/site-packages"));
    let source_arg = source.display().to_string();
    uv_install(
        &uv,
        &plugin_site,
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
    let _ = std::fs::remove_file(plugin_site.join(".lock"));
    let ctx_init = layer.join("opt/lsk/bin/lsk-init");
    if let Some(parent) = ctx_init.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_error("creating", parent, e))?;
    }
    std::fs::copy(init_bin, &ctx_init).map_err(|e| io_error("copying", init_bin, e))?;

    phase.update(&format!("docker build {tag} on {base} (--network=none)"));
    let dockerfile_path = kit.path(DOCKERFILE).display().to_string();
    let ctx_arg = ctx.display().to_string();
    let base_arg = format!("BASE={base}");
    let python_arg = format!("PYTHON_VERSION={python}");
    // The Dockerfile labels the image (managed, and BASE_LABEL with the base): a `--label` here
    // would add a step after the big layers.
    run(
        "docker",
        &[
            "build",
            "--network=none",
            "--build-arg",
            &base_arg,
            "--build-arg",
            &python_arg,
            "-t",
            &tag,
            "-f",
            &dockerfile_path,
            &ctx_arg,
        ],
        &format!("docker build {tag}"),
        BUILD_TIMEOUT,
    )
    .await?;
    let _ = std::fs::remove_dir_all(&ctx);
    prune_older(&tag, &base).await;
    phase.done(&format!("{tag} built (Python {python})"));
    Ok(tag)
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
mod tests {
    use super::*;

    #[test]
    fn the_dockerfile_labels_images_as_lsk_finds_and_prunes_them() {
        let kit = crate::kit::Kit::for_workspace(&crate::kit::checkout()).unwrap();
        let dockerfile = std::fs::read_to_string(kit.path(DOCKERFILE)).unwrap();
        let label = dockerfile
            .lines()
            .find(|l| l.starts_with("LABEL "))
            .expect("the Dockerfile labels the image");
        assert!(label.contains(&format!(" {MANAGED_LABEL}")), "{label}");
        assert!(
            label.contains(&format!(" {BASE_LABEL}=${{BASE}}")),
            "{label}"
        );
    }

    #[test]
    fn an_unpacked_kit_names_the_same_image_as_the_checkout() {
        // A workspace of a user's own builds lsk-init from the kit lsk carries; its binary
        // differs in its bytes, and it must not cost a second image.
        let checkout = crate::kit::Kit::for_workspace(&crate::kit::checkout()).unwrap();
        assert_eq!(checkout.origin(), crate::kit::Origin::Checkout);
        let dir = tempfile::tempdir().unwrap();
        let unpacked = crate::kit::Kit::unpack_into(dir.path()).unwrap();
        let here = init_sources(&checkout).unwrap();
        let there = init_sources(&unpacked).unwrap();
        let names: Vec<&str> = here.iter().map(|(n, _)| n.as_str()).collect();
        assert!(names.contains(&"localstack/init/src/main.rs"), "{names:?}");
        assert!(names.contains(&"Cargo.lock"), "{names:?}");
        assert_eq!(here, there);
        // The first build of lsk-init in the unpacked kit trims its lock: the image stays the same.
        let lock = unpacked.path("localstack/init/Cargo.lock");
        let full = std::fs::read_to_string(&lock).unwrap();
        let trimmed = full
            .split("\n[[package]]")
            .take(3)
            .collect::<Vec<_>>()
            .join("\n[[package]]");
        std::fs::write(&lock, trimmed).unwrap();
        assert_eq!(
            init_sources(&unpacked).unwrap(),
            here,
            "after cargo trimmed the lock"
        );
    }

    #[test]
    fn the_tag_changes_with_any_input_and_only_then() {
        let a = tag_for(&[("Dockerfile", b"FROM x"), ("lsk-init", b"\x7fELF1")]);
        let same = tag_for(&[("Dockerfile", b"FROM x"), ("lsk-init", b"\x7fELF1")]);
        let init_changed = tag_for(&[("Dockerfile", b"FROM x"), ("lsk-init", b"\x7fELF2")]);
        let moved = tag_for(&[("Dockerfile", b"FROM x\x7fELF1"), ("lsk-init", b"")]);
        assert_eq!(a, same);
        assert_ne!(a, init_changed);
        assert_ne!(a, moved);
        assert!(a.starts_with("lsk-localstack:"), "{a}");
        assert_eq!(a.len(), "lsk-localstack:".len() + 16);
    }

    #[test]
    fn the_dockerfile_builds_offline_from_a_base_argument() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let text = std::fs::read_to_string(root.join(DOCKERFILE)).unwrap();
        assert!(
            !text.lines().any(|l| l.starts_with("# syntax")),
            "a syntax line makes BuildKit fetch a frontend"
        );
        assert!(text.contains("ARG BASE="), "the base is a build argument");
        assert!(text.contains("FROM ${BASE}"));
        // Packages (ours too) are installed on the host, hashes checked; a pip in the build
        // could reach for an index.
        let steps: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
        assert!(
            !steps.iter().any(|l| l.contains("pip ")),
            "no step runs pip: {steps:#?}"
        );
        assert!(text.contains("LAMBDA_RUNTIME_EXECUTOR=process"));
    }
}
