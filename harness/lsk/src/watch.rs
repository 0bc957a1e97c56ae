//! `lsk watch`: rebuild on save and put each new binary where the running function's next
//! invocation picks it up, without a deploy round-trip.
//!
//! How the swap works (ARCHITECTURE.md, "lsk watch"): each watched function reads its code
//! from a host directory, `.lsk/watch/<function>/` (LocalStack's hot-reload code: bucket
//! `hot-reload`, key = the directory). A new build is copied next to `bootstrap` and renamed
//! over it. lsk-init, told by our executor that the code may change, compares the file with the
//! one its bootstrap process was started from before it queues each invocation, and starts the
//! new one when they differ: an invocation in flight finishes on the old code, the next runs the
//! new one, and nothing runs twice.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::mpsc;

use crate::aws::Clients;
use crate::backend::LocalStack;
use crate::build::{self, BuildTarget};
use crate::deploy;
use crate::error::Error;
use crate::invoke;
use crate::progress::Progress;
use crate::stack::Stack;

/// Quiet time after a file event before building: editors write a file in several steps.
const SETTLE: Duration = Duration::from_millis(40);
/// How long `lsk watch` looks for the first invocation on new code in the function's logs.
const FIRST_INVOKE_WINDOW: Duration = Duration::from_secs(600);

pub use lsk_kit::paths::{watch_code_dir as code_dir, watch_root};

/// What `lsk watch` is asked to do.
#[derive(Debug, Clone, Default)]
pub struct WatchOpts {
    /// Functions to watch; empty means every function of the manifest.
    pub functions: Vec<String>,
    /// How to build; None decides from the backend as `lsk deploy` does.
    pub target: Option<BuildTarget>,
    pub progress: Progress,
}

/// One swap, as reported to the caller (the CLI prints them; the bench times them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Swap {
    pub function: String,
    /// When the change that led to it was seen.
    pub changed_at: SystemTime,
    pub build: Duration,
}

/// The files that matter: everything in the workspace but build output, state and VCS data.
pub fn is_source(path: &Path, root: &Path, target_dir: &Path) -> bool {
    if path.starts_with(target_dir) {
        return false;
    }
    let Ok(rel) = path.strip_prefix(root) else {
        return false;
    };
    let first = rel.components().next().and_then(|c| c.as_os_str().to_str());
    if matches!(first, Some("target" | ".lsk" | ".git")) {
        return false;
    }
    // Editors' swap and backup files.
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !(name.ends_with('~') || name.ends_with(".swp") || name.starts_with(".#"))
}

/// Which of `functions` a change to `changed` may affect: a function whose package (or a
/// workspace package it depends on) holds the file. Files outside every package (the workspace
/// manifest, the lock) affect them all.
pub fn affected(
    changed: &[PathBuf],
    package_dirs: &BTreeMap<String, PathBuf>,
    closures: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for path in changed {
        // The deepest package directory holding the file owns it.
        let owner = package_dirs
            .iter()
            .filter(|(_, dir)| path.starts_with(dir))
            .max_by_key(|(_, dir)| dir.components().count())
            .map(|(name, _)| name);
        for (function, packages) in closures {
            if owner.is_none_or(|o| packages.contains(o)) {
                out.insert(function.clone());
            }
        }
    }
    out
}

/// Copies `binary` into `dir` as `bootstrap`: written beside it, then renamed over it, so a
/// process starting at that moment sees either the old file or the new one, never half of one.
pub fn put_in_place(binary: &Path, dir: &Path) -> Result<(), Error> {
    let io = |what: String| move |source| Error::Io { what, source };
    std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    let next = dir.join(".bootstrap.next");
    std::fs::copy(binary, &next).map_err(io(format!(
        "copying {} to {}",
        binary.display(),
        next.display()
    )))?;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&next, std::fs::Permissions::from_mode(0o755))
        .map_err(io(format!("making {} executable", next.display())))?;
    std::fs::rename(&next, dir.join("bootstrap")).map_err(io(format!(
        "putting the new bootstrap in {}",
        dir.display()
    )))
}

/// A built binary's identity: cargo leaves a fresh binary untouched.
fn identity(path: &Path) -> Option<(u64, SystemTime)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()?))
}

/// Watches the workspace until `stop` completes, rebuilding and swapping `opts.functions` (all
/// by default) in the running `localstack`. `on_swap` hears of each swap. A failed build is
/// shown and the previous code keeps serving; Ctrl-C (the CLI's `stop`) leaves the stack running
/// with the last good build.
pub async fn watch(
    stack: &Stack,
    localstack: &LocalStack,
    opts: &WatchOpts,
    stop: impl Future<Output = ()>,
    mut on_swap: impl FnMut(&Swap),
) -> Result<(), Error> {
    if stack.template().is_some() {
        return Err(Error::NotForTemplates { what: "lsk watch" });
    }
    let manifest = stack.manifest();
    let root = stack.root().to_path_buf();
    let functions: Vec<String> = if opts.functions.is_empty() {
        manifest.functions.keys().cloned().collect()
    } else {
        opts.functions.clone()
    };
    for f in &functions {
        if !manifest.functions.contains_key(f) {
            return Err(Error::UnknownResource {
                kind: "function",
                name: f.clone(),
                known: manifest
                    .functions
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let target = match opts.target {
        Some(t) => t,
        None => {
            let (t, note) = stack.build_target_for(localstack).await;
            if let Some(n) = note {
                opts.progress.note(&format!("note: {n}"));
            }
            t
        }
    };
    let ws = build::workspace(&root).await?;
    let closures = build::workspace_closures(&root).await?;
    let function_closures: BTreeMap<String, BTreeSet<String>> = functions
        .iter()
        .filter_map(|f| {
            let package = &manifest.functions.get(f)?.package;
            Some((
                f.clone(),
                closures.get(package).cloned().unwrap_or_default(),
            ))
        })
        .collect();

    // Events are collected from here on, so a save during the first build is not missed.
    let (tx, mut rx) = mpsc::unbounded_channel::<PathBuf>();
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        if let Ok(event) = res
            && !matches!(event.kind, notify::EventKind::Access(_))
        {
            for path in event.paths {
                let _ = tx.send(path);
            }
        }
    })
    .map_err(|e| Error::Io {
        what: "starting the file watcher".into(),
        source: std::io::Error::other(e),
    })?;
    use notify::Watcher as _;
    watcher
        .watch(&root, notify::RecursiveMode::Recursive)
        .map_err(|e| Error::Io {
            what: format!("watching {}", root.display()),
            source: std::io::Error::other(e),
        })?;

    let clients = Clients::new(&localstack.sdk_config());
    let built = stack.build(target, false, &opts.progress).await?;
    let mut installed: BTreeMap<String, Option<(u64, SystemTime)>> = BTreeMap::new();
    // One log reader per function: a newer swap makes the previous one's report moot.
    let mut reporters: BTreeMap<String, tokio::task::JoinHandle<()>> = BTreeMap::new();
    for f in &functions {
        // Every function of the manifest is built; a missing one was refused by the build.
        let Some(binary) = built.binaries.get(f) else {
            continue;
        };
        let dir = code_dir(&root, f);
        put_in_place(binary, &dir)?;
        installed.insert(f.clone(), identity(binary));
        if deploy::use_hot_reload_code(&clients, f, &dir).await? {
            opts.progress
                .note(&format!("{f}: now runs the code in {}", dir.display()));
        }
    }
    opts.progress.note(&format!(
        "watching {} for changes to {} (Ctrl-C stops watching; the stack keeps running the last good build)",
        root.display(),
        functions.join(", ")
    ));

    tokio::pin!(stop);
    loop {
        let first = tokio::select! {
            () = &mut stop => break,
            p = rx.recv() => match p {
                Some(p) => p,
                None => break,
            },
        };
        let changed_at = SystemTime::now();
        let mut changed = vec![first];
        // Take the rest of the burst.
        while let Ok(Some(p)) = tokio::time::timeout(SETTLE, rx.recv()).await {
            changed.push(p);
        }
        let mut changed: Vec<PathBuf> = changed
            .into_iter()
            .filter(|p| is_source(p, &root, &ws.target_directory))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if changed.is_empty() {
            continue;
        }
        let hit = affected(&changed, &ws.package_dirs, &function_closures);
        changed.truncate(5);
        let shown: Vec<String> = changed
            .iter()
            .map(|p| p.strip_prefix(&root).unwrap_or(p).display().to_string())
            .collect();
        if hit.is_empty() {
            continue;
        }
        opts.progress.note(&format!(
            "changed: {} (affects {})",
            shown.join(", "),
            hit.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
        let started = Instant::now();
        // The whole function set, as `lsk deploy` builds it: the same target directory and
        // features, so only what changed recompiles.
        let built = match stack.build(target, false, &opts.progress).await {
            Ok(b) => b,
            Err(e) => {
                opts.progress.note(&format!(
                    "build failed; the previous code keeps serving: {e}"
                ));
                continue;
            }
        };
        let build_time = started.elapsed();
        for f in &functions {
            let Some(binary) = built.binaries.get(f) else {
                continue;
            };
            let now = identity(binary);
            if installed.get(f) == Some(&now) {
                continue;
            }
            put_in_place(binary, &code_dir(&root, f))?;
            installed.insert(f.clone(), now);
            opts.progress.note(&format!(
                "{f}: new code in place (build {:.2} s); its next invocation runs it",
                build_time.as_secs_f64()
            ));
            let swap = Swap {
                function: f.clone(),
                changed_at,
                build: build_time,
            };
            on_swap(&swap);
            let reporter = tokio::spawn(report_first_invocation(
                clients.clone(),
                f.clone(),
                changed_at,
                opts.progress.clone(),
            ));
            if let Some(previous) = reporters.insert(f.clone(), reporter) {
                previous.abort();
            }
        }
    }
    for reporter in reporters.into_values() {
        reporter.abort();
    }
    Ok(())
}

/// Prints the first REPORT line with an `Init Duration` after `since`: the first invocation
/// that ran the new code (each new bootstrap process reports its init once).
async fn report_first_invocation(
    clients: Clients,
    function: String,
    since: SystemTime,
    progress: Progress,
) {
    let start_ms = since
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    let deadline = Instant::now() + FIRST_INVOKE_WINDOW;
    let mut poll = tokio::time::interval(Duration::from_millis(500));
    while Instant::now() < deadline {
        poll.tick().await;
        let Ok(lines) = invoke::logs(&clients, &function, start_ms).await else {
            continue;
        };
        if let Some(report) = lines
            .iter()
            .map(|l| l.message.trim())
            .find(|m| m.starts_with("REPORT ") && m.contains("Init Duration"))
        {
            progress.note(&format!(
                "{function}: first invocation on the new code: {report}"
            ));
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_output_state_and_editor_files_are_not_sources() {
        let root = Path::new("/ws");
        let target = Path::new("/ws/target");
        assert!(is_source(
            Path::new("/ws/lambdas/a/src/lib.rs"),
            root,
            target
        ));
        assert!(is_source(Path::new("/ws/Cargo.toml"), root, target));
        for not in [
            "/ws/target/debug/a",
            "/ws/.lsk/watch/a/bootstrap",
            "/ws/.git/index",
            "/ws/lambdas/a/src/lib.rs~",
            "/ws/lambdas/a/src/.lib.rs.swp",
            "/elsewhere/x.rs",
        ] {
            assert!(!is_source(Path::new(not), root, target), "{not}");
        }
        let outside = Path::new("/build/target");
        assert!(!is_source(Path::new("/build/target/x"), root, outside));
    }

    #[test]
    fn a_change_affects_the_functions_whose_packages_hold_it_or_depend_on_it() {
        let dirs: BTreeMap<String, PathBuf> = [
            ("square", "/ws/lambdas/square"),
            ("gen", "/ws/lambdas/gen"),
            ("shared", "/ws/lambdas/shared"),
        ]
        .into_iter()
        .map(|(n, d)| (n.to_owned(), PathBuf::from(d)))
        .collect();
        let closures: BTreeMap<String, BTreeSet<String>> = [
            ("square", vec!["square"]),
            ("image-generator", vec!["gen", "shared"]),
        ]
        .into_iter()
        .map(|(f, ps)| (f.to_owned(), ps.into_iter().map(String::from).collect()))
        .collect();
        let hit = |p: &str| affected(&[PathBuf::from(p)], &dirs, &closures);
        assert_eq!(
            hit("/ws/lambdas/square/src/lib.rs"),
            ["square".to_owned()].into()
        );
        assert_eq!(
            hit("/ws/lambdas/shared/src/lib.rs"),
            ["image-generator".to_owned()].into()
        );
        assert_eq!(hit("/ws/Cargo.lock").len(), 2, "outside every package: all");
    }

    #[test]
    fn put_in_place_replaces_the_bootstrap_by_rename() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, b"first").unwrap();
        let code = dir.path().join("code");
        put_in_place(&a, &code).unwrap();
        use std::os::unix::fs::MetadataExt as _;
        let before = std::fs::metadata(code.join("bootstrap")).unwrap().ino();
        std::fs::write(&a, b"second").unwrap();
        put_in_place(&a, &code).unwrap();
        let after = std::fs::metadata(code.join("bootstrap")).unwrap();
        assert_ne!(
            after.ino(),
            before,
            "a new file, not a write into the running one"
        );
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(after.permissions().mode() & 0o777, 0o755);
        assert_eq!(std::fs::read(code.join("bootstrap")).unwrap(), b"second");
        assert!(!code.join(".bootstrap.next").exists());
    }
}
