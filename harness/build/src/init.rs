//! `lsk-init`'s builds: for the native backend from the kit's sources, and for our image.

use super::*;

/// The package and binary of the per-environment init the native backend runs.
pub const INIT_PACKAGE: &str = "lsk-init";
pub const INIT_BIN: &str = "lsk-init";

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
pub(crate) fn init_manifest(root: &Path, ws: &Workspace) -> Result<Option<PathBuf>, BuildError> {
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
