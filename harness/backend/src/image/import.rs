//! The image made in one layer: the base's export with our tree on top, streamed into `docker
//! import`.

use super::*;

/// `docker import` of `base`'s files (`docker export` of a container made, never started, for
/// it) with the tree `ours` on top, configured by `changes`, as `tag`.
pub(crate) async fn import(
    base: &str,
    ours: &Path,
    changes: &[String],
    tag: &str,
) -> Result<(), BackendError> {
    // Labelled as ours, so the next start (or image) sweeps it if this process dies before
    // removing it.
    let _ = crate::docker::sweep_orphans().await;
    let role = format!("{}=image", crate::docker::LABEL_ROLE);
    let owner = format!("{}={}", crate::docker::LABEL_OWNER_PID, std::process::id());
    let container = run(
        "docker",
        &[
            "create",
            "--label",
            MANAGED_LABEL,
            "--label",
            &role,
            "--label",
            &owner,
            base,
            "true",
        ],
        &format!("docker create (to export {base}'s files)"),
        Duration::from_secs(60),
    )
    .await?
    .trim()
    .to_owned();
    let imported = export_import(&container, ours, changes, tag).await;
    let _ = run(
        "docker",
        &["rm", "-f", &container],
        "docker rm",
        Duration::from_secs(60),
    )
    .await;
    imported
}

pub(crate) async fn export_import(
    container: &str,
    ours: &Path,
    changes: &[String],
    tag: &str,
) -> Result<(), BackendError> {
    let step = format!("docker export {container} | docker import - {tag}");
    let failed = |detail: String| BackendError::Image {
        step: step.clone(),
        detail,
        hint: None,
    };
    let spawn = |args: &[&str], stdin: Stdio| {
        Command::new("docker")
            .args(args)
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| failed(format!("could not run docker: {e}")))
    };
    let mut export = spawn(&["export", container], Stdio::null())?;
    let mut import_args = vec!["import"];
    for change in changes {
        import_args.extend(["--change", change.as_str()]);
    }
    import_args.extend(["-", tag]);
    let mut import = spawn(&import_args, Stdio::piped())?;
    let pipe_error = |e: std::io::Error| failed(format!("connecting docker's pipes: {e}"));
    let from = export
        .stdout
        .take()
        .ok_or_else(|| failed("docker export has no stdout".into()))?
        .into_owned_fd()
        .map_err(pipe_error)?;
    let to = import
        .stdin
        .take()
        .ok_or_else(|| failed("docker import has no stdin".into()))?
        .into_owned_fd()
        .map_err(pipe_error)?;
    let ours = ours.to_path_buf();
    // The tar crate reads and writes blocking; the pipes are handed over as plain files.
    let merging = tokio::task::spawn_blocking(move || {
        crate::rootfs::merge(
            std::io::BufReader::with_capacity(1 << 20, std::fs::File::from(from)),
            &ours,
            std::io::BufWriter::with_capacity(1 << 20, std::fs::File::from(to)),
        )
    });
    let all = async {
        tokio::join!(
            merging,
            export.wait_with_output(),
            import.wait_with_output()
        )
    };
    let (merged, exported, imported) = tokio::time::timeout(BUILD_TIMEOUT, all)
        .await
        .map_err(|_| failed(format!("no answer within {} s", BUILD_TIMEOUT.as_secs())))?;
    let stderr = |out: &std::process::Output| {
        let text = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = text.trim().lines().collect();
        lines[lines.len().saturating_sub(25)..].join("\n")
    };
    let exported = exported.map_err(|e| failed(format!("docker export: {e}")))?;
    let imported = imported.map_err(|e| failed(format!("docker import: {e}")))?;
    if !exported.status.success() {
        return Err(failed(format!("docker export: {}", stderr(&exported))));
    }
    if !imported.status.success() {
        return Err(failed(format!("docker import: {}", stderr(&imported))));
    }
    merged
        .map_err(|e| failed(format!("the merge stopped: {e}")))?
        .map_err(|e| failed(format!("laying our files onto the export: {e}")))
}
