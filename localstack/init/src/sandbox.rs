//! What the function sees of the filesystem. On AWS its code is at `/var/task` (read-only),
//! `/tmp` is its own and `/bin/sh` is bash. Where the OS lets a process have a mount namespace
//! of its own (as root, or unprivileged through a user namespace), the bootstrap gets that same
//! view; elsewhere it runs from host paths (`LAMBDA_TASK_ROOT` = the unzipped code, `TMPDIR` = a
//! private directory) and says so in its first log line.
//!
//! The namespace is entered by a re-exec of `lsk-init` itself ([`EXEC_FLAG`]) between fork and
//! the bootstrap's exec: `unshare(CLONE_NEWUSER)` needs a single-threaded process, and the
//! helper is one, where the init's async runtime may not be.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::mount::{MsFlags, mount};
use nix::sched::{CloneFlags, unshare};
use nix::sys::statvfs::{FsFlags, statvfs};
use nix::unistd::{getgid, getuid};

/// First argument of the helper: `lsk-init --lsk-sandbox-exec TASK_ROOT ENV_DIR BOOTSTRAP`.
pub const EXEC_FLAG: &str = "--lsk-sandbox-exec";
/// Where AWS puts the function's code.
pub const TASK_DIR: &str = "/var/task";
/// AWS's `LAMBDA_RUNTIME_DIR`.
pub const RUNTIME_DIR: &str = "/var/runtime";
/// Chooses the filesystem view: `auto` (default: namespaced where allowed) or `host`.
pub use crate::protocol::FS_ENV;
/// Prefix of the line a bootstrap writes first when it runs from host paths.
pub const HOST_PATHS_NOTICE: &str = "lsk-init: this environment runs from host paths";

/// The `PATH` of `provided.al2023`.
pub const AWS_PATH: &str = "/usr/local/bin:/usr/bin/:/bin:/opt/bin";
/// `LANG` on AWS.
pub const AWS_LANG: &str = "en_US.UTF-8";

/// What `LSK_INIT_FS` asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FsRequest {
    /// `/var/task` and a private `/tmp` where the OS allows it, else host paths.
    #[default]
    Auto,
    /// Always host paths (today's behaviour; an escape hatch).
    Host,
}

impl FsRequest {
    pub fn parse(value: &str) -> Option<FsRequest> {
        match value.trim() {
            "" | "auto" => Some(FsRequest::Auto),
            "host" => Some(FsRequest::Host),
            _ => None,
        }
    }
}

/// The host directories behind one execution environment's view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvDirs {
    /// The unzipped code (holds `bootstrap`).
    pub task_root: PathBuf,
    /// The environment's own directory: `tmp/` becomes `/tmp`, `host-var/` is scratch.
    pub env_dir: PathBuf,
}

impl EnvDirs {
    pub fn tmp(&self) -> PathBuf {
        self.env_dir.join("tmp")
    }

    fn host_var(&self) -> PathBuf {
        self.env_dir.join("host-var")
    }
}

/// Variables whose value depends on the view: the code's directory and the temp directory.
/// Namespaced: `/var/task` and no `TMPDIR` (as on AWS); host paths: the real directories.
pub fn path_env(namespaced: bool, dirs: &EnvDirs) -> Vec<(OsString, OsString)> {
    let task: OsString = if namespaced {
        TASK_DIR.into()
    } else {
        dirs.task_root.clone().into()
    };
    let mut ld = OsString::from("/lib64:/usr/lib64:");
    ld.push(RUNTIME_DIR);
    ld.push(":");
    ld.push(RUNTIME_DIR);
    ld.push("/lib:");
    ld.push(&task);
    ld.push(":");
    ld.push(&task);
    ld.push("/lib:/opt/lib");
    let mut env = vec![
        ("LAMBDA_TASK_ROOT".into(), task),
        ("LD_LIBRARY_PATH".into(), ld),
    ];
    if !namespaced {
        env.push(("TMPDIR".into(), dirs.tmp().into()));
    }
    env
}

/// Why the namespaced view could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{step}: {source}")]
    Sys {
        step: String,
        #[source]
        source: nix::Error,
    },
    #[error("{step}: {source}")]
    Io {
        step: String,
        #[source]
        source: io::Error,
    },
}

fn sys(step: impl Into<String>) -> impl FnOnce(nix::Error) -> SandboxError {
    let step = step.into();
    move |source| SandboxError::Sys { step, source }
}

fn io_err(step: impl Into<String>) -> impl FnOnce(io::Error) -> SandboxError {
    let step = step.into();
    move |source| SandboxError::Io { step, source }
}

fn bind(source: &Path, target: &Path) -> Result<(), SandboxError> {
    mount(
        Some(source),
        target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(sys(format!(
        "bind-mounting {} on {}",
        source.display(),
        target.display()
    )))
}

/// Moves this (single-threaded) process into a mount namespace of its own where `/var/task`
/// is the code (read-only when the mount allows), `/tmp` the environment's own directory, and
/// `/bin/sh` bash when bash exists. Changes nothing outside the new namespace.
pub fn enter(dirs: &EnvDirs) -> Result<(), SandboxError> {
    let (uid, gid) = (getuid(), getgid());
    if uid.is_root() {
        unshare(CloneFlags::CLONE_NEWNS).map_err(sys("unshare(CLONE_NEWNS)"))?;
    } else {
        unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS)
            .map_err(sys("unshare(CLONE_NEWUSER | CLONE_NEWNS)"))?;
        // The function keeps its own uid and gid; only the mounts differ.
        fs::write("/proc/self/setgroups", "deny").map_err(io_err("writing setgroups"))?;
        fs::write("/proc/self/uid_map", format!("{uid} {uid} 1"))
            .map_err(io_err("writing uid_map"))?;
        fs::write("/proc/self/gid_map", format!("{gid} {gid} 1"))
            .map_err(io_err("writing gid_map"))?;
    }
    // Nothing mounted from here on may leak back into the host's namespace.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(sys("making / private"))?;

    let task = Path::new(TASK_DIR);
    if !task.is_dir() || !Path::new(RUNTIME_DIR).is_dir() {
        rebuild_var(dirs)?;
    }
    bind(&dirs.task_root, task)?;
    make_read_only(task, &dirs.task_root);

    let tmp = dirs.tmp();
    fs::create_dir_all(&tmp).map_err(io_err(format!("creating {}", tmp.display())))?;
    bind(&tmp, Path::new("/tmp"))?;

    let bash = Path::new("/bin/bash");
    let sh = Path::new("/bin/sh");
    if bash.is_file() && fs::canonicalize(sh).ok() != fs::canonicalize(bash).ok() {
        // Amazon Linux's /bin/sh is bash; Debian's dash dies on `set -o pipefail`.
        bind(bash, sh)?;
    }
    Ok(())
}

/// Without root, `/var/task` cannot be created on the host: put a tmpfs on `/var` in the new
/// namespace that holds every entry of the host's `/var` again (bind mounts and symlinks),
/// plus `task` and `runtime`.
fn rebuild_var(dirs: &EnvDirs) -> Result<(), SandboxError> {
    let var = Path::new("/var");
    let saved = dirs.host_var();
    fs::create_dir_all(&saved).map_err(io_err(format!("creating {}", saved.display())))?;
    bind(var, &saved)?;
    mount(
        Some("tmpfs"),
        var,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        Some("mode=0755"),
    )
    .map_err(sys("mounting a tmpfs on /var"))?;
    let entries = fs::read_dir(&saved).map_err(io_err("reading the host's /var"))?;
    for entry in entries {
        let entry = entry.map_err(io_err("reading the host's /var"))?;
        let name = entry.file_name();
        let from = entry.path();
        let to = var.join(&name);
        let kind = entry
            .file_type()
            .map_err(io_err(format!("inspecting {}", from.display())))?;
        if kind.is_symlink() {
            let target =
                fs::read_link(&from).map_err(io_err(format!("reading {}", from.display())))?;
            std::os::unix::fs::symlink(target, &to)
                .map_err(io_err(format!("linking {}", to.display())))?;
        } else if kind.is_dir() {
            fs::create_dir(&to).map_err(io_err(format!("creating {}", to.display())))?;
            bind(&from, &to)?;
        } else {
            fs::File::create(&to).map_err(io_err(format!("creating {}", to.display())))?;
            bind(&from, &to)?;
        }
    }
    for dir in [TASK_DIR, RUNTIME_DIR] {
        if !Path::new(dir).exists() {
            fs::create_dir(dir).map_err(io_err(format!("creating {dir}")))?;
        }
    }
    Ok(())
}

/// `/var/task` is read-only on AWS. A remount must keep the flags the source mount has (the
/// kernel refuses to clear them inside a user namespace); if it is refused all the same the
/// code stays writable, which only matters to a function that writes next to its binary.
fn make_read_only(task: &Path, source: &Path) {
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    if let Ok(stat) = statvfs(source) {
        let kept = stat.flags();
        for (fs_flag, ms_flag) in [
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ] {
            if kept.contains(fs_flag) {
                flags |= ms_flag;
            }
        }
    }
    if let Err(e) = mount(None::<&str>, task, None::<&str>, flags, None::<&str>) {
        eprintln!("lsk-init: /var/task stays writable (read-only remount refused: {e})");
    }
}

/// The arguments that make `lsk-init` run `bootstrap` through [`exec_main`].
pub fn exec_args(dirs: &EnvDirs, bootstrap: &Path) -> Vec<OsString> {
    vec![
        EXEC_FLAG.into(),
        dirs.task_root.clone().into(),
        dirs.env_dir.clone().into(),
        bootstrap.into(),
    ]
}

/// The helper: enters the namespace and execs the bootstrap there, or, when the OS refuses,
/// execs it from host paths after one line that says why. Returns only if exec failed.
pub fn exec_main(args: &[OsString]) -> io::Error {
    let [task_root, env_dir, bootstrap] = args else {
        return io::Error::other(format!(
            "{EXEC_FLAG} needs TASK_ROOT ENV_DIR BOOTSTRAP, got {args:?}"
        ));
    };
    let dirs = EnvDirs {
        task_root: PathBuf::from(task_root),
        env_dir: PathBuf::from(env_dir),
    };
    // The init prepared the namespaced environment; only the path variables change.
    match enter(&dirs) {
        Ok(()) => {
            let name = Path::new(bootstrap).file_name().unwrap_or(OsStr::new(""));
            Command::new(Path::new(TASK_DIR).join(name))
                .current_dir(TASK_DIR)
                .exec()
        }
        Err(why) => {
            eprintln!(
                "{HOST_PATHS_NOTICE} ({why}): LAMBDA_TASK_ROOT={}, TMPDIR={}",
                dirs.task_root.display(),
                dirs.tmp().display()
            );
            Command::new(bootstrap)
                .current_dir(&dirs.task_root)
                .envs(path_env(false, &dirs))
                .exec()
        }
    }
}

/// First argument of the probe's child: `lsk-init --lsk-fs-probe-child DIR`.
pub const PROBE_CHILD_FLAG: &str = "--lsk-fs-probe-child";

/// What this machine gives a function: `Ok(())` when the namespaced view can be set up, else
/// why not. The attempt runs in a child process (`lsk-init` again, [`PROBE_CHILD_FLAG`]) so
/// that this process never enters the namespace: its scratch directory is then removed in the
/// host's namespace, where the saved `/var` is an empty directory and not a bind mount.
pub fn probe(request: FsRequest) -> Result<(), String> {
    if request == FsRequest::Host {
        return Err(format!("{FS_ENV}=host"));
    }
    let dir = tempfile::Builder::new()
        .prefix("lsk-init-probe-")
        .tempdir()
        .map_err(|e| format!("creating a probe directory: {e}"))?;
    let exe = std::env::current_exe().map_err(|e| format!("finding lsk-init itself: {e}"))?;
    let out = Command::new(exe)
        .arg(PROBE_CHILD_FLAG)
        .arg(dir.path())
        .output()
        .map_err(|e| format!("running the probe: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// The probe's child: tries the setup in `dir` and reports; never cleans up (see [`probe`]).
pub fn probe_child(args: &[OsString]) -> Result<(), SandboxError> {
    let [dir] = args else {
        return Err(SandboxError::Io {
            step: format!("{PROBE_CHILD_FLAG} needs DIR"),
            source: io::Error::other(format!("got {args:?}")),
        });
    };
    let code = Path::new(dir).join("code");
    fs::create_dir_all(&code).map_err(io_err("creating a probe directory"))?;
    enter(&EnvDirs {
        task_root: code,
        env_dir: PathBuf::from(dir),
    })?;
    if !Path::new(TASK_DIR).is_dir() {
        return Err(SandboxError::Io {
            step: "checking /var/task".into(),
            source: io::Error::other("not a directory after mounting"),
        });
    }
    Ok(())
}
