//! The workspace's Python venv (`.lsk/venv`): the pinned LocalStack, awscli-local and our
//! plugin, installed by the kit's `install.sh`; the native backend runs LocalStack from it, the
//! image build takes its uv, and cargo-lambda is installed into it when a build needs one.

use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Why the venv could not be made.
#[derive(Debug, thiserror::Error)]
pub enum VenvError {
    #[error(
        "no Python 3.11, 3.12 or 3.13 was found on PATH; install one (with pip and venv), point PYTHON= at one, or use --backend docker"
    )]
    PythonMissing,
    #[error("installing the pinned LocalStack failed ({step}): {detail}")]
    Install { step: String, detail: String },
    #[error(transparent)]
    Kit(#[from] crate::KitError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl miette::Diagnostic for VenvError {}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> VenvError {
    let what = what.into();
    move |source| VenvError::Io { what, source }
}

/// Make sure `<root>/.lsk/venv` holds the pinned LocalStack and our plugin; returns its python.
/// The install script, lock and plugin are the kit's ([`crate::Kit::for_workspace`]).
pub async fn ensure_installed(
    project_root: &Path,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<PathBuf, VenvError> {
    let kit = crate::Kit::for_workspace(project_root)?;
    let script = kit.path(crate::INSTALL_SCRIPT);
    let venv = crate::paths::venv(project_root);
    let python = venv.join("bin").join("python");
    if !script.is_file() {
        return Err(VenvError::Install {
            step: "finding the installer".into(),
            detail: format!("{} does not exist", script.display()),
        });
    }
    progress("checking the native LocalStack install (.lsk/venv)");
    let mut cmd = tokio::process::Command::new("bash");
    // The venv is the workspace's, wherever the script itself lives.
    cmd.arg(&script)
        .env("LSK_VENV", &venv)
        .current_dir(project_root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(io(format!("running bash {}", script.display())))?;
    // Relay the installer's "==>" lines as progress; keep everything for the error message.
    let stderr = child.stderr.take();
    let mut lines_seen = Vec::new();
    if let Some(stderr) = stderr {
        use tokio::io::{AsyncBufReadExt, BufReader};
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(msg) = line.strip_prefix("==> ") {
                progress(msg);
            }
            lines_seen.push(line);
        }
    }
    let status = child
        .wait()
        .await
        .map_err(io(format!("waiting for {}", script.display())))?;
    match status.code() {
        Some(0) => Ok(python),
        Some(3) => Err(VenvError::PythonMissing),
        _ => Err(VenvError::Install {
            step: format!("bash {} exited with {status}", script.display()),
            detail: lines_seen.join("\n"),
        }),
    }
}
