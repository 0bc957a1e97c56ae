//! The workspace as `cargo metadata` sees it: packages, binaries, which packages each function
//! depends on, and the functions a manifest wants.

use super::*;

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
pub(crate) async fn run_cargo_metadata<T>(
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
