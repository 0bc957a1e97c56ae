//! The `.lsk/` layout of a workspace: one place that says where the kit keeps its venv, state,
//! watched code and unpacked files, so no module has to ask another for a path.

use std::path::{Path, PathBuf};

/// The kit's directory in a workspace (ignored by git).
pub fn lsk_dir(root: &Path) -> PathBuf {
    root.join(".lsk")
}

/// The workspace's Python venv (LocalStack, awscli-local, uv; cargo-lambda when needed).
pub fn venv(root: &Path) -> PathBuf {
    lsk_dir(root).join("venv")
}

/// The venv's `bin`, which `lsk env` puts on PATH (awslocal lives there).
pub fn venv_bin(root: &Path) -> PathBuf {
    venv(root).join("bin")
}

/// LocalStack's state, logs and pid file (or container record), unless `--state-dir` says
/// otherwise.
pub fn state_dir(root: &Path) -> PathBuf {
    lsk_dir(root).join("state")
}

/// Where our image's files are laid out before `docker import` (a folder per build).
pub fn image_context(root: &Path) -> PathBuf {
    lsk_dir(root).join("image")
}

/// Where `lsk watch` keeps each watched function's code (LocalStack reads it as hot-reload code;
/// the docker backend mounts it at the same path).
pub fn watch_root(root: &Path) -> PathBuf {
    lsk_dir(root).join("watch")
}

/// The code directory of one watched function.
pub fn watch_code_dir(root: &Path, function: &str) -> PathBuf {
    watch_root(root).join(function)
}
