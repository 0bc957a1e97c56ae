//! The bench's image: built cold on a base alias of this run's, then found cached, from a copy
//! of its inputs; and the bench's images found by their labels and removed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use lsk::Progress;
use lsk::backend::docker as kit;
use lsk::backend::image;

use super::cli::docker;
use super::{BASE_REPOSITORY, DOCKER_TIMEOUT, OWNER_LABEL, Owned, RUN_LABEL};
use crate::plan::Ctx;
use crate::report::Report;
use crate::stats::{Measured, Unit};
use crate::{devloop, procs, progress};

/// Timed `image::ensure` calls that find the image built.
const CACHED_SAMPLES: usize = 3;

/// Makes this run's base alias: `base` with the bench's labels (a new image id, the same layers).
async fn make_alias(base: &str, nonce: &str) -> Result<String> {
    let alias = format!("{BASE_REPOSITORY}:{nonce}");
    let owner = format!("{OWNER_LABEL}={}", std::process::id());
    let run = format!("{RUN_LABEL}={nonce}");
    docker(
        &[
            "build",
            "--network=none",
            "--label",
            &owner,
            "--label",
            &run,
            "-t",
            &alias,
            "-",
        ],
        Some(format!("FROM {base}\n").as_bytes()),
        DOCKER_TIMEOUT,
    )
    .await
    .with_context(|| format!("making the base alias {alias} of {base}"))?;
    Ok(alias)
}

/// Top-level images (tagged, or the dangling last image of an interrupted build) carrying the
/// label `filter` (`key` or `key=value`): (id, `repository:tag`).
pub(super) async fn images_with(filter: &str) -> Result<Vec<(String, String)>> {
    let out = docker(
        &[
            "images",
            "--filter",
            &format!("label={filter}"),
            "--format",
            "{{.ID}} {{.Repository}}:{{.Tag}}",
        ],
        None,
        DOCKER_TIMEOUT,
    )
    .await?;
    Ok(out
        .lines()
        .filter_map(|l| l.trim().split_once(' '))
        .map(|(id, tag)| (id.to_owned(), tag.to_owned()))
        .collect())
}

/// Removes images the bench built (found by its labels): by tag where they have one (the
/// alias last), else by id. Their untagged parents go with them.
pub(super) async fn remove_images(images: &[(String, String)]) -> Result<()> {
    let mut order: Vec<&(String, String)> = images.iter().collect();
    // Built images, then aliases, then what has no tag.
    order.sort_by_key(|(_, tag)| {
        (
            tag.contains("<none>"),
            tag.starts_with(BASE_REPOSITORY),
            tag.clone(),
        )
    });
    let mut failed = Vec::new();
    let mut done = std::collections::HashSet::new();
    for (id, tag) in order {
        let target = if tag.contains("<none>") { id } else { tag };
        if !done.insert(target.clone()) {
            continue;
        }
        if let Err(e) = docker(&["rmi", target], None, DOCKER_TIMEOUT).await {
            // An untagged image already deleted with its child is no failure.
            if !format!("{e:#}").contains("No such image") {
                failed.push(format!("{e:#}"));
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        bail!("{}", failed.join("; "))
    }
}

/// Removes what a bench that was killed left in Docker: the container of its developer-loop
/// `lsk up`, and its images (those of a bench still running are left alone).
pub(super) async fn sweep_stale(ctx: &Ctx) {
    let state = lsk::backend::state_dir(&ctx.devloop_dir());
    if let Ok(true) = kit::stop_detached(&state).await {
        progress("docker: removed the container an earlier bench's `lsk up` left");
    }
    let Ok(images) = images_with(OWNER_LABEL).await else {
        return;
    };
    let label = format!("{{{{index .Config.Labels \"{OWNER_LABEL}\"}}}}");
    let mut stale = Vec::new();
    for (id, tag) in images {
        let owner = docker(
            &["image", "inspect", "--format", &label, &id],
            None,
            DOCKER_TIMEOUT,
        )
        .await
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok());
        if owner.is_some_and(|pid| pid != std::process::id() && procs::is_alive(pid)) {
            continue;
        }
        stale.push((id, tag));
    }
    if stale.is_empty() {
        return;
    }
    progress(&format!(
        "docker: removing {} image(s) an earlier bench left",
        stale.len()
    ));
    if let Err(e) = remove_images(&stale).await {
        progress(&format!("docker: could not remove them all: {e:#}"));
    }
}

/// Copies what our image is made of (prepare-site.py, lock, plugin; the venv linked for its `uv`)
/// and `init` under `dir`; returns the copy's root and lsk-init.
fn snapshot_inputs(root: &Path, init: &Path, dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let inputs = dir.join("inputs");
    let ls = Path::new("localstack");
    for sub in [Path::new(image::PLUGIN), &ls.join("docker")] {
        devloop::sync_dir(&root.join(sub), &inputs.join(sub))?;
    }
    let lock = std::fs::read(root.join(image::LOCK))
        .with_context(|| format!("reading {}", root.join(image::LOCK).display()))?;
    devloop::write_if_changed(&inputs.join(image::LOCK), &lock)?;
    let venv = root.join(".lsk").join("venv");
    let link = inputs.join(".lsk").join("venv");
    std::fs::create_dir_all(inputs.join(".lsk"))?;
    if std::fs::read_link(&link).ok().as_deref() != Some(venv.as_path()) {
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&venv, &link)
            .with_context(|| format!("linking {} to {}", link.display(), venv.display()))?;
    }
    let init_copy = dir.join("lsk-init");
    std::fs::copy(init, &init_copy)
        .with_context(|| format!("copying {} to {}", init.display(), init_copy.display()))?;
    Ok((inputs, init_copy))
}

/// Builds the image cold on this run's alias, then times `ensure` finding it.
pub(super) async fn image_phase(ctx: &Ctx, report: &mut Report, owned: &mut Owned) -> Result<()> {
    let shown = Progress::plain();
    let started = Instant::now();
    // Made or pulled here the first time (untimed: the cold row is the image on a present base).
    let base = image::ensure_base(&ctx.root, None, &shown).await?;
    let base_took = started.elapsed();
    let alias = make_alias(&base, &ctx.plan.nonce).await?;
    owned.base = Some(alias.clone());
    let built_init = lsk::build::build_init_for_image(&ctx.root, &shown).await?;
    let (inputs, init) = snapshot_inputs(&ctx.root, &built_init, &ctx.bench_dir.join("docker"))?;
    owned.inputs = Some(inputs.clone());
    owned.init = Some(init.clone());

    let started = Instant::now();
    let tag = image::ensure(&inputs, &init, Some(&alias), &shown).await?;
    let cold = started.elapsed();
    owned.image = Some(tag.clone());
    report.set(
        "docker_image_cold",
        Measured::value(Unit::Seconds, cold.as_secs_f64(), 1),
    );
    report.note(
        "docker_image_cold",
        format!(
            "{tag} on {alias} ({base} with this run's labels; the base was there after {:.1} s, untimed)",
            base_took.as_secs_f64()
        ),
    );

    let mut cached = Vec::with_capacity(CACHED_SAMPLES);
    for _ in 0..CACHED_SAMPLES {
        let started = Instant::now();
        let again = image::ensure(&inputs, &init, Some(&alias), &Progress::silent()).await?;
        cached.push(started.elapsed());
        if again != tag {
            bail!("ensure gave {again} after building {tag}: an input changed while the bench ran");
        }
    }
    if let Some(m) = Measured::of_durations_ms(&cached) {
        report.set("docker_image_cached", m);
    }
    Ok(())
}
