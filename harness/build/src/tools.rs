//! cargo-lambda and zig: found on PATH, or installed (pinned, with hashes) into the workspace's
//! venv.

use super::*;

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
    let venv = lsk_kit::paths::venv(root);
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
