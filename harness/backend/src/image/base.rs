//! The base our image is made on: given (`LSK_DOCKER_BASE`), found locally, pulled, or made offline
//! from Debian's packages; its Python.

use super::*;

/// Makes the offline base `lsk-base:<suite>` from Debian's packages.
pub(crate) async fn make_offline_base(
    root: &Path,
    tag: &str,
    why: &str,
) -> Result<(), BackendError> {
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
    .map_err(|e| {
        hinted(
            e,
            format!(
                "{why}; set {BASE_ENV} to a Debian image with python3 (3.11-3.13) and python3-venv that this engine has"
            ),
        )
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
    match crate::native::parse_python_version(&version) {
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
pub(crate) async fn prune_older(keep: &str, base: &str) {
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
