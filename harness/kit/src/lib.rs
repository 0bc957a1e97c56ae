//! Where the kit's own files live for a workspace: the install script, the locks, the plugin,
//! the Docker files and `lsk-init`'s sources.
//!
//! `lsk` carries a copy of them (embedded at build time by `build.rs`), so an `lsk` installed
//! with `cargo install` works in any Cargo workspace: the copy is unpacked into
//! `<workspace>/.lsk/kit/<version>/`, laid out as in this repository, and nothing else of the
//! kit's is written into the workspace. The version is a hash of the files, so a newer `lsk`
//! unpacks its own files beside (and then in place of) an older one's.
//!
//! Run in the checkout it was built from, `lsk` uses that checkout's files instead, so edits to
//! the plugin or to `lsk-init` take effect without rebuilding `lsk`, and `lsk-init` is built as
//! the workspace member it is there.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use toml_edit::{DocumentMut, InlineTable, Item, Table, Value};

pub mod file_lock;
pub mod paths;
pub mod progress;
pub mod venv;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/kit_files.rs"));
}

/// The install script, relative to the kit root.
pub const INSTALL_SCRIPT: &str = "localstack/install.sh";
/// `lsk-init`'s manifest, relative to the kit root (standalone in an unpacked kit).
pub const INIT_MANIFEST: &str = "localstack/init/Cargo.toml";
/// Where unpacked kits go, relative to the workspace root.
pub const UNPACK_DIR: &str = ".lsk/kit";
/// Written last into an unpacked kit: its presence says the unpacking finished.
const STAMP: &str = ".lsk-kit-version";

/// What can go wrong finding or unpacking the kit's files.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    #[error(
        "could not unpack lsk's files into {dir}: {source}; check that the workspace is writable, or remove {dir} and retry"
    )]
    Unpack {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "lsk-init's manifest could not be made standalone ({detail}); this lsk was built from a checkout whose localstack/init/Cargo.toml it cannot read: reinstall lsk from a clean checkout"
    )]
    InitManifest { detail: String },
}

/// Where a kit's files come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The repository `lsk` was built from: its files as they are on disk now.
    Checkout,
    /// The copy embedded in `lsk`, unpacked under `<workspace>/.lsk/kit/`.
    Embedded,
}

/// The kit's files for one workspace: a directory laid out as this repository
/// (`localstack/install.sh`, `localstack/plugin/`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kit {
    root: PathBuf,
    origin: Origin,
}

impl Kit {
    /// The kit for `workspace_root`: the checkout `lsk` was built from when that is the
    /// workspace, else the embedded copy unpacked into `<workspace_root>/.lsk/kit/<version>/`.
    pub fn for_workspace(workspace_root: &Path) -> Result<Kit, KitError> {
        let checkout = checkout();
        let same = |a: &Path, b: &Path| match (fs::canonicalize(a), fs::canonicalize(b)) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if same(workspace_root, &checkout) && checkout.join(INSTALL_SCRIPT).is_file() {
            return Ok(Kit {
                root: checkout,
                origin: Origin::Checkout,
            });
        }
        Kit::unpack_into(&workspace_root.join(UNPACK_DIR))
    }

    /// The embedded copy unpacked into `<dir>/<version>/` (kept when already there); older
    /// versions in `dir` are removed.
    pub fn unpack_into(dir: &Path) -> Result<Kit, KitError> {
        let root = dir.join(version());
        if !root.join(STAMP).is_file() {
            unpack(dir, &root)?;
            prune_others(dir, version());
        }
        Ok(Kit {
            root,
            origin: Origin::Embedded,
        })
    }

    /// The directory holding `localstack/`.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn origin(&self) -> Origin {
        self.origin
    }

    /// A kit file by its path in this repository (`localstack/requirements.lock`).
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// The dependency lock `lsk-init` builds with: the checkout's `Cargo.lock` as it is now, or
    /// the one an unpacked kit was written with. Not the unpacked file: the first build there
    /// rewrites it (cargo drops the entries lsk-init does not need), and what names an image
    /// must not change because something was built.
    pub fn init_lock(&self) -> std::io::Result<Vec<u8>> {
        match self.origin {
            Origin::Checkout => fs::read(self.path("Cargo.lock")),
            Origin::Embedded => Ok(embedded::WORKSPACE_LOCK.as_bytes().to_vec()),
        }
    }

    /// `lsk-init`'s manifest: a member of the checkout's workspace, or standalone (with its own
    /// `[workspace]` and `Cargo.lock`) in an unpacked kit.
    pub fn init_manifest(&self) -> PathBuf {
        self.path(INIT_MANIFEST)
    }
}

/// The repository `lsk` was built from (it may have moved or gone since).
pub fn checkout() -> PathBuf {
    // This crate is `harness/kit` in the repository.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The embedded files: path relative to the kit root, contents.
pub fn files() -> &'static [(&'static str, &'static [u8])] {
    embedded::FILES
}

/// The embedded kit's version: 16 hex digits of a hash of every file and of lsk's version.
pub fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut hasher = Sha256::new();
        let parts = files().iter().copied().chain([
            ("Cargo.toml", embedded::WORKSPACE_MANIFEST.as_bytes()),
            ("Cargo.lock", embedded::WORKSPACE_LOCK.as_bytes()),
            ("lsk", env!("CARGO_PKG_VERSION").as_bytes()),
        ]);
        for (name, bytes) in parts {
            // Length-prefixed, so moving bytes between files changes the hash.
            hasher.update((name.len() as u64).to_le_bytes());
            hasher.update(name.as_bytes());
            hasher.update((bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        }
        hex::encode(&hasher.finalize()[..8])
    })
}

/// Writes the kit into a fresh directory beside `root` and renames it into place, so a process
/// never sees half a kit and two processes unpacking at once both end up with a whole one.
fn unpack(dir: &Path, root: &Path) -> Result<(), KitError> {
    let failed = |path: &Path| {
        let dir = path.to_path_buf();
        move |source| KitError::Unpack { dir, source }
    };
    fs::create_dir_all(dir).map_err(failed(dir))?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{}.{}.{nanos}", version(), std::process::id()));
    let write = |rel: &str, bytes: &[u8]| -> Result<(), KitError> {
        let path = tmp.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(failed(parent))?;
        }
        fs::write(&path, bytes).map_err(failed(&path))
    };
    let result = (|| {
        for (rel, bytes) in files() {
            if *rel != INIT_MANIFEST {
                write(rel, bytes)?;
            }
        }
        write(INIT_MANIFEST, standalone_init_manifest()?.as_bytes())?;
        // The checkout's lock: lsk-init builds with the dependency versions it was tested with
        // (cargo drops the entries it does not need).
        write(
            "localstack/init/Cargo.lock",
            embedded::WORKSPACE_LOCK.as_bytes(),
        )?;
        write(STAMP, version().as_bytes())?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if fs::rename(&tmp, root).is_err() {
        // Another process put the same version in place first: use that one.
        let _ = fs::remove_dir_all(&tmp);
        if !root.join(STAMP).is_file() {
            // A leftover without a stamp (an interrupted older lsk): replace it.
            let _ = fs::remove_dir_all(root);
            return unpack(dir, root);
        }
    }
    Ok(())
}

/// Removes kits of other versions from `dir` (best effort: one in use by another lsk is
/// simply unpacked again by it).
fn prune_others(dir: &Path, keep: &str) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        // Dot-names are other processes' unpacking in progress.
        if name != keep && !name.starts_with('.') && entry.path().join(STAMP).is_file() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// `lsk-init`'s `Cargo.toml` with what it inherits from this repository's workspace written
/// out, no dev-dependencies (its tests are not shipped), the workspace's release profile and a
/// `[workspace]` of its own, so cargo builds it anywhere with `--manifest-path`.
pub fn standalone_init_manifest() -> Result<String, KitError> {
    let init = files()
        .iter()
        .find(|(rel, _)| *rel == INIT_MANIFEST)
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
        .ok_or_else(|| KitError::InitManifest {
            detail: format!("{INIT_MANIFEST} is not among the embedded files"),
        })?;
    standalone_manifest(&init, embedded::WORKSPACE_MANIFEST)
        .map_err(|detail| KitError::InitManifest { detail })
}

/// Whether a manifest entry is `{ workspace = true, ... }` (or `key.workspace = true`).
fn inherits(item: &Item) -> bool {
    item.as_table_like()
        .and_then(|t| t.get("workspace"))
        .and_then(Item::as_bool)
        == Some(true)
}

/// [`standalone_init_manifest`] for any member manifest and its workspace's manifest.
pub fn standalone_manifest(member: &str, workspace: &str) -> Result<String, String> {
    let mut doc: DocumentMut = member.parse().map_err(|e| format!("member: {e}"))?;
    let ws: DocumentMut = workspace.parse().map_err(|e| format!("workspace: {e}"))?;
    let ws_table = ws
        .get("workspace")
        .and_then(Item::as_table_like)
        .ok_or("the workspace manifest has no [workspace]")?;

    if let Some(package) = doc.get_mut("package").and_then(Item::as_table_like_mut) {
        let inherited = ws_table.get("package").and_then(Item::as_table_like);
        for (key, item) in package.iter_mut() {
            if inherits(item) {
                let value = inherited
                    .and_then(|p| p.get(&key))
                    .and_then(Item::as_value)
                    .ok_or_else(|| format!("package.{key} is not in [workspace.package]"))?;
                *item = Item::Value(value.clone());
            }
        }
    }

    let ws_deps = ws_table.get("dependencies").and_then(Item::as_table_like);
    for section in ["dependencies", "build-dependencies"] {
        let Some(deps) = doc.get(section).and_then(Item::as_table_like) else {
            continue;
        };
        let mut resolved = Table::new();
        for (name, item) in deps.iter() {
            let value = if inherits(item) {
                let base = ws_deps.and_then(|d| d.get(name)).ok_or_else(|| {
                    format!("{section}.{name} is not in [workspace.dependencies]")
                })?;
                merge_dependency(base, item).map_err(|e| format!("{section}.{name}: {e}"))?
            } else {
                item.as_value()
                    .cloned()
                    .or_else(|| item.as_table_like().map(inline))
                    .ok_or_else(|| format!("{section}.{name} has an unexpected shape"))?
            };
            resolved.insert(name, Item::Value(value));
        }
        doc.insert(section, Item::Table(resolved));
    }
    doc.remove("dev-dependencies");
    if doc.get("lints").is_some_and(inherits) {
        match ws_table.get("lints") {
            Some(lints) => {
                doc.insert("lints", lints.clone());
            }
            None => {
                doc.remove("lints");
            }
        }
    }

    let mut profile = Table::new();
    profile.set_implicit(true);
    if let Some(release) = ws.get("profile").and_then(|p| p.get("release")) {
        profile.insert("release", release.clone());
        doc.insert("profile", Item::Table(profile));
    }
    doc.insert("workspace", Item::Table(Table::new()));
    let mut text = String::from(
        "# Generated by lsk from localstack/init/Cargo.toml and its workspace's Cargo.toml.\n",
    );
    text.push_str(&doc.to_string());
    Ok(text)
}

/// A table-like item as an inline table (`{ version = "1", features = [...] }`).
fn inline(table: &dyn toml_edit::TableLike) -> Value {
    let mut out = InlineTable::new();
    for (k, v) in table.iter() {
        if let Some(v) = v.as_value() {
            out.insert(k, v.clone());
        }
    }
    Value::InlineTable(out)
}

/// The workspace's entry for a dependency with the member's additions: features are added to
/// the workspace's, `optional` is the member's.
fn merge_dependency(base: &Item, member: &Item) -> Result<Value, String> {
    let mut out = match base {
        Item::Value(Value::String(version)) => {
            let mut t = InlineTable::new();
            t.insert("version", Value::from(version.value().as_str()));
            t
        }
        other => match other.as_table_like().map(inline) {
            Some(Value::InlineTable(t)) => t,
            _ => return Err("the workspace entry has an unexpected shape".into()),
        },
    };
    if out.contains_key("path") {
        return Err("a path dependency of the workspace cannot be shipped".into());
    }
    let Some(member) = member.as_table_like() else {
        return Ok(Value::InlineTable(out));
    };
    if let Some(extra) = member.get("features").and_then(Item::as_array) {
        let mut features = out
            .get("features")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for f in extra.iter() {
            let present = features.iter().any(|g| g.as_str() == f.as_str());
            if !present {
                features.push_formatted(f.clone().decorated("", ""));
            }
        }
        out.insert("features", Value::Array(features));
    }
    if let Some(optional) = member.get("optional").and_then(Item::as_value) {
        out.insert("optional", optional.clone());
    }
    Ok(Value::InlineTable(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_any_backend_reads_is_embedded_and_nothing_of_the_tests() {
        let names: Vec<&str> = files().iter().map(|(n, _)| *n).collect();
        for wanted in [
            INSTALL_SCRIPT,
            "localstack/requirements.lock",
            "localstack/build-tools.txt",
            "localstack/docker-compose.yml",
            "localstack/docker/prepare-site.py",
            "localstack/docker/make-base.sh",
            "localstack/plugin/pyproject.toml",
            "localstack/plugin/lsk_localstack/__init__.py",
            "localstack/plugin/lsk_localstack/executor.py",
            INIT_MANIFEST,
            "localstack/init/src/main.rs",
        ] {
            assert!(names.contains(&wanted), "{wanted} not in {names:?}");
        }
        for name in &names {
            assert!(
                !name.contains("/tests/") && !name.contains("__pycache__") && !name.contains("/."),
                "{name} should not be shipped"
            );
        }
        // The embedded bytes are the checkout's (a stale build would differ).
        for (rel, bytes) in files() {
            let on_disk = fs::read(checkout().join(rel)).unwrap();
            assert!(on_disk == *bytes, "{rel} differs from the checkout's");
        }
        // Every plugin module is shipped, so a new one needs no list updated.
        let plugin = checkout().join("localstack/plugin/lsk_localstack");
        for entry in fs::read_dir(plugin).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if name.ends_with(".py") {
                let rel = format!("localstack/plugin/lsk_localstack/{name}");
                assert!(names.contains(&rel.as_str()), "{rel} is not embedded");
            }
        }
    }

    #[test]
    fn the_checkout_is_used_in_place_and_any_other_workspace_gets_an_unpacked_copy() {
        let here = Kit::for_workspace(&checkout()).unwrap();
        assert_eq!(here.origin(), Origin::Checkout);
        assert_eq!(here.root(), checkout());

        let dir = tempfile::tempdir().unwrap();
        let kit = Kit::for_workspace(dir.path()).unwrap();
        assert_eq!(kit.origin(), Origin::Embedded);
        assert_eq!(kit.root(), dir.path().join(UNPACK_DIR).join(version()));
        for rel in [INSTALL_SCRIPT, "localstack/plugin/lsk_localstack/launch.py"] {
            assert_eq!(
                fs::read(kit.path(rel)).unwrap(),
                fs::read(checkout().join(rel)).unwrap(),
                "{rel}"
            );
        }
        // Only .lsk/ is written into the workspace.
        let top: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(top, [".lsk"]);
        // Unpacked once; an older version beside it is removed by the next unpacking.
        let old = dir.path().join(UNPACK_DIR).join("0123456789abcdef");
        fs::create_dir_all(&old).unwrap();
        fs::write(old.join(STAMP), "0123456789abcdef").unwrap();
        fs::remove_file(kit.path(STAMP)).unwrap();
        let again = Kit::for_workspace(dir.path()).unwrap();
        assert_eq!(again, kit);
        assert!(kit.path(STAMP).is_file());
        assert!(!old.exists(), "the older kit is pruned");
    }

    #[test]
    fn lsk_init_gets_a_standalone_manifest_and_the_checkouts_lock() {
        let dir = tempfile::tempdir().unwrap();
        let kit = Kit::unpack_into(dir.path()).unwrap();
        let text = fs::read_to_string(kit.init_manifest()).unwrap();
        assert!(!text.contains("workspace = true"), "{text}");
        let doc: DocumentMut = text.parse().unwrap();
        assert!(doc.get("workspace").is_some(), "its own workspace:\n{text}");
        assert!(doc.get("dev-dependencies").is_none(), "{text}");
        assert_eq!(doc["package"]["name"].as_str(), Some("lsk-init"));
        assert!(doc["package"]["edition"].as_str().is_some(), "{text}");
        // The workspace entry plus the member's own features.
        let tokio = doc["dependencies"]["tokio"].as_inline_table().unwrap();
        let features: Vec<&str> = tokio["features"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(features.contains(&"io-std") && features.contains(&"macros"));
        assert_eq!(
            doc["profile"]["release"]["codegen-units"].as_integer(),
            Some(16)
        );
        assert_eq!(
            fs::read_to_string(kit.path("localstack/init/Cargo.lock")).unwrap(),
            fs::read_to_string(checkout().join("Cargo.lock")).unwrap()
        );
    }

    #[test]
    fn inherited_keys_that_the_workspace_lacks_are_reported() {
        let ws = "[workspace]\n[workspace.package]\nedition = \"2024\"\n[workspace.dependencies]\nserde = \"1\"\nlocal = { path = \"x\" }\n";
        let err = standalone_manifest("[package]\nname = \"a\"\nlicense.workspace = true\n", ws)
            .unwrap_err();
        assert!(err.contains("package.license"), "{err}");
        let err = standalone_manifest(
            "[package]\nname = \"a\"\n[dependencies]\nnope.workspace = true\n",
            ws,
        )
        .unwrap_err();
        assert!(err.contains("dependencies.nope"), "{err}");
        let err = standalone_manifest(
            "[package]\nname = \"a\"\n[dependencies]\nlocal.workspace = true\n",
            ws,
        )
        .unwrap_err();
        assert!(err.contains("path dependency"), "{err}");
        let ok = standalone_manifest(
            "[package]\nname = \"a\"\nedition.workspace = true\n[dependencies]\nserde = { workspace = true, optional = true }\nbytes = \"1\"\n",
            ws,
        )
        .unwrap();
        assert!(ok.contains("edition = \"2024\""), "{ok}");
        assert!(
            ok.contains("serde = { version = \"1\", optional = true }"),
            "{ok}"
        );
        assert!(ok.contains("bytes = \"1\""), "{ok}");
    }
}
