//! Embeds the kit's own files (`localstack/`: install script, locks, plugin, Docker files and
//! `lsk-init`'s sources, plus the workspace's `Cargo.toml` and `Cargo.lock`) into `lsk-kit`, so
//! an installed `lsk` works in any Cargo workspace; `src/lib.rs` unpacks them under `.lsk/kit/`.
//!
//! The files are listed by walking the directory, so a file added to the plugin or to
//! `lsk-init` is picked up without editing a list here.
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Directories never shipped: tests, caches and build leftovers of the plugin and `lsk-init`.
fn excluded(name: &str) -> bool {
    name == "tests"
        || name == "__pycache__"
        || name == "build"
        || name == "target"
        || name.starts_with('.')
        || name.ends_with(".egg-info")
        || name.ends_with(".pyc")
}

/// Files under `dir` (relative to `base`), in a stable order. Returns whether anything excluded
/// other than `__pycache__` lies under `dir`: cargo's `rerun-if-changed` on a directory scans it
/// whole, so a directory holding caches that tools rewrite (ruff's, pytest's) is not watched.
fn walk(base: &Path, dir: &Path, files: &mut Vec<PathBuf>, watched: &mut Vec<PathBuf>) -> bool {
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(read) => read.filter_map(Result::ok).map(|e| e.path()).collect(),
        Err(e) => panic!("reading {}: {e}", dir.display()),
    };
    entries.sort();
    let mut noisy = false;
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if excluded(&name) {
            noisy |= name != "__pycache__";
            continue;
        }
        if path.is_dir() {
            noisy |= walk(base, &path, files, watched);
        } else if path.is_file() {
            files.push(path.strip_prefix(base).unwrap_or(&path).to_path_buf());
        }
    }
    if !noisy {
        watched.push(dir.to_path_buf());
    }
    noisy
}

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    // The repository root: `cargo install --path harness/cli`, `cargo install --git` and a path or
    // git dependency all build from a checkout that has it.
    let repo = manifest_dir
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let kit = repo.join("localstack");
    assert!(
        kit.join("install.sh").is_file(),
        "{} is missing: lsk is built from a checkout of its repository, which holds the kit's files in localstack/",
        kit.display()
    );
    let mut files = Vec::new();
    let mut watched = Vec::new();
    walk(&repo, &kit, &mut files, &mut watched);

    let mut code = String::from("/// The kit's files: path relative to the kit root, contents.\n");
    code.push_str("pub(crate) const FILES: &[(&str, &[u8])] = &[\n");
    for rel in &files {
        let abs = repo.join(rel);
        let rel = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        let _ = writeln!(
            code,
            "    ({rel:?}, include_bytes!({:?})),",
            abs.display().to_string()
        );
        println!("cargo:rerun-if-changed={}", abs.display());
    }
    code.push_str("];\n");
    for (name, file) in [
        ("WORKSPACE_MANIFEST", "Cargo.toml"),
        ("WORKSPACE_LOCK", "Cargo.lock"),
    ] {
        let abs = repo.join(file);
        let _ = writeln!(
            code,
            "pub(crate) const {name}: &str = include_str!({:?});",
            abs.display().to_string()
        );
        println!("cargo:rerun-if-changed={}", abs.display());
    }
    for dir in &watched {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("kit_files.rs");
    if let Err(e) = std::fs::write(&out, code) {
        panic!("writing {}: {e}", out.display());
    }
}
