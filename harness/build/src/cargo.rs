//! Running cargo: the arguments of a build (cargo and cargo-lambda), where its binaries are kept,
//! its progress lines.

use super::*;

pub(crate) fn cargo() -> String {
    // Under `cargo test`/`cargo run`, CARGO is the cargo that runs us: build with the same one.
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

pub(crate) fn unique_pairs<'a>(
    wanted: impl IntoIterator<Item = &'a Wanted>,
) -> BTreeSet<(&'a str, &'a str)> {
    wanted
        .into_iter()
        .map(|w| (w.package.as_str(), w.bin.as_str()))
        .collect()
}

/// The target directory of a host build: `<target>/lsk/functions` for every set of functions,
/// `<target>/lsk/lsk-init` for lsk-init.
///
/// Every set of functions (`lsk up`'s, a test's probe, another workspace's sharing this target)
/// builds into one directory, so the AWS SDK compiles once for all of them: cargo keeps a
/// dependency once per feature set, and sets that unify features differently add their variant
/// beside the others. lsk-init has its own directory because it builds at the same time as the
/// functions, by a second cargo (one directory admits one cargo at a time).
pub fn host_target_dir(target_directory: &Path, include_init: bool) -> PathBuf {
    target_directory
        .join("lsk")
        .join(if include_init { INIT_BIN } else { "functions" })
}

/// Where the binaries a host build made for `workspace_root` are kept for packaging:
/// `<build dir>/kept/<hash of the workspace root>/`.
///
/// A later build into the shared directory, from another set or another workspace, replaces
/// cargo's `release/<bin>`; a kept binary changes only when this workspace builds it again.
pub fn kept_dir(build_dir: &Path, workspace_root: &Path) -> PathBuf {
    let digest = Sha256::digest(workspace_root.as_os_str().as_encoded_bytes());
    build_dir.join("kept").join(hex::encode(&digest[..8]))
}

/// Copies a built binary to `to` unless it is there already: same size and modification time
/// (the copy keeps cargo's, so `lsk watch` still sees an unchanged binary as unchanged). The copy
/// is renamed into place, so a zip being made from the previous one reads it whole.
pub(crate) fn keep(from: &Path, to: &Path) -> std::io::Result<()> {
    let source = std::fs::metadata(from)?;
    let modified = source.modified()?;
    if let Ok(kept) = std::fs::metadata(to)
        && kept.len() == source.len()
        && kept.modified().ok() == Some(modified)
    {
        return Ok(());
    }
    let dir = to.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = to.file_name().unwrap_or_default().to_string_lossy();
    let next = dir.join(format!(".{name}.{}.next", std::process::id()));
    std::fs::copy(from, &next)?;
    std::fs::File::options()
        .write(true)
        .open(&next)?
        .set_modified(modified)?;
    std::fs::rename(&next, to)
}

/// Arguments of one `cargo build` for host binaries into `target_dir`.
pub fn cargo_build_args(wanted: &[Wanted], include_init: bool, target_dir: &Path) -> Vec<String> {
    let mut pairs = unique_pairs(wanted);
    if include_init {
        pairs.insert((INIT_PACKAGE, INIT_BIN));
    }
    let mut args: Vec<String> = vec![
        "build".into(),
        "--release".into(),
        "--message-format=json-render-diagnostics".into(),
        "--target-dir".into(),
        target_dir.display().to_string(),
    ];
    let packages: BTreeSet<&str> = pairs.iter().map(|(p, _)| *p).collect();
    for p in packages {
        args.push("-p".into());
        args.push(p.into());
    }
    for (_, b) in &pairs {
        args.push("--bin".into());
        args.push((*b).into());
    }
    args
}

/// The generated AWS SDK service crates (`aws-sdk-*`) a `Cargo.lock` holds (none when it
/// cannot be read as one: the build then only takes longer).
pub fn sdk_service_crates(lock: &str) -> BTreeSet<String> {
    #[derive(Deserialize)]
    struct Lock {
        #[serde(default)]
        package: Vec<Locked>,
    }
    #[derive(Deserialize)]
    struct Locked {
        name: String,
    }
    toml::from_str::<Lock>(lock)
        .map(|l| l.package)
        .unwrap_or_default()
        .into_iter()
        .map(|p| p.name)
        .filter(|name| name.starts_with("aws-sdk-"))
        .collect()
}

/// The opt-level of the generated AWS SDK service crates (`aws-sdk-*`) in the release builds
/// lsk makes for LocalStack.
///
/// They are most of a function's compile and do little work in a Lambda talking to LocalStack:
/// request and response (de)serialisation. Measured on two cores, the examples' five functions
/// with lsk-init beside them: 280 s at opt-level 1 (aws-sdk-s3 alone 91 s), 217 s at 0 (25 s),
/// for binaries 10% larger. Everything else, your code and the SDK's runtime crates
/// (`aws-smithy-*`, `aws-sigv4`, `aws-config`) included, stays at the release profile's level.
pub const SDK_OPT_LEVEL: u8 = 0;

/// `--config` arguments that build `crates` at [`SDK_OPT_LEVEL`] in lsk's release builds (your
/// own `cargo build --release` is untouched).
pub fn sdk_opt_level_args(crates: &BTreeSet<String>) -> Vec<String> {
    crates
        .iter()
        .flat_map(|c| {
            [
                "--config".to_owned(),
                format!("profile.release.package.{c}.opt-level={SDK_OPT_LEVEL}"),
            ]
        })
        .collect()
}

/// The glibc Lambda builds link against: Amazon Linux 2's (2.26), so binaries run on
/// `provided.al2023` (2.34), `provided.al2` and our bookworm image (2.36) alike. Without it,
/// zig links for its own default (2.31 with zig 0.15), which ties binaries to newer symbol
/// versions (`pow@GLIBC_2.29`, `gettid@GLIBC_2.30`) and moves with the zig release.
pub const LAMBDA_GLIBC: &str = "2.26";

/// The cargo-zigbuild target for `arch` (a Rust target triple with a glibc version).
pub fn lambda_target(arch: Architecture) -> String {
    let triple = match arch {
        Architecture::X86_64 => "x86_64-unknown-linux-gnu",
        Architecture::Arm64 => "aarch64-unknown-linux-gnu",
    };
    format!("{triple}.{LAMBDA_GLIBC}")
}

/// Arguments of `cargo lambda build` for the functions of one architecture (`--target` with a
/// glibc version in place of `--x86-64`/`--arm64`, which take zig's default glibc).
pub fn cargo_lambda_args(wanted: &[Wanted], arch: Architecture, lambda_dir: &Path) -> Vec<String> {
    let pairs = unique_pairs(wanted.iter().filter(|w| w.architecture == arch));
    let mut args: Vec<String> = vec![
        "lambda".into(),
        "build".into(),
        "--release".into(),
        "--target".into(),
        lambda_target(arch),
        "--lambda-dir".into(),
        lambda_dir.join(arch.as_str()).display().to_string(),
    ];
    let packages: BTreeSet<&str> = pairs.iter().map(|(p, _)| *p).collect();
    for p in packages {
        args.push("--package".into());
        args.push(p.into());
    }
    for (_, b) in &pairs {
        args.push("--bin".into());
        args.push((*b).into());
    }
    args
}

/// Where `cargo lambda build --lambda-dir DIR` puts a binary.
pub fn lambda_output(lambda_dir: &Path, arch: Architecture, bin: &str) -> PathBuf {
    lambda_dir.join(arch.as_str()).join(bin).join("bootstrap")
}

/// A line cargo prints with `--message-format=json`: the executables it produced.
pub(crate) fn artifact_executable(line: &str) -> Option<(String, PathBuf)> {
    match serde_json::from_str(line).ok()? {
        Message::CompilerArtifact(a) if a.target.is_bin() => {
            Some((a.target.name, a.executable?.into_std_path_buf()))
        }
        _ => None,
    }
}

/// Cargo's progress lines that are noise in an error message.
pub(crate) fn is_progress_line(line: &str) -> bool {
    let t = line.trim_start();
    [
        "Compiling ",
        "Checking ",
        "Fresh ",
        "Downloaded ",
        "Downloading ",
        "Blocking ",
        "Updating ",
        "Locking ",
        "Adding ",
    ]
    .iter()
    .any(|p| t.starts_with(p))
}

/// Variables cargo sets for the program it runs (`cargo test`, `cargo run`), which a nested
/// build must not inherit: ring's build script reruns when `CARGO_MANIFEST_DIR` changes, so a
/// build started from a test binary (`/ws/tests`), then from another (`/ws/harness`), then from
/// the shell (unset) recompiled ring, rustls and the AWS SDK's HTTP client each time (~50 s).
pub fn is_cargo_run_variable(key: &str) -> bool {
    matches!(
        key,
        "CARGO_MANIFEST_DIR"
            | "CARGO_MANIFEST_PATH"
            | "CARGO_CRATE_NAME"
            | "CARGO_BIN_NAME"
            | "CARGO_PRIMARY_PACKAGE"
            | "CARGO_TARGET_TMPDIR"
            | "OUT_DIR"
    ) || key.starts_with("CARGO_PKG_")
        || key.starts_with("CARGO_BIN_EXE_")
}

/// Runs a build command: stderr streamed to `phase` and kept for the error, stdout returned.
pub(crate) async fn run_streaming(
    program: &str,
    args: &[String],
    root: &Path,
    phase: &crate::progress::Phase,
) -> Result<Vec<String>, BuildError> {
    run_streaming_with(OsStr::new(program), args, root, phase, &[]).await
}

/// [`run_streaming`] with variables set for the command.
pub(crate) async fn run_streaming_with(
    program: &OsStr,
    args: &[String],
    root: &Path,
    phase: &crate::progress::Phase,
    env: &[(&str, OsString)],
) -> Result<Vec<String>, BuildError> {
    let command = format!("{} {}", program.to_string_lossy(), args.join(" "));
    let mut cmd = Command::new(program);
    for (key, _) in std::env::vars_os() {
        if is_cargo_run_variable(&key.to_string_lossy()) {
            cmd.env_remove(&key);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)))
        .args(args)
        .current_dir(root);
    // cargo reports progress and errors on stderr, artifacts (JSON) on stdout.
    let ran = run_with_progress(cmd, &command, phase, ShownStream::OnStderr).await?;
    if ran.success {
        Ok(ran.quiet)
    } else {
        // Keep the end: the summary and the last errors matter most.
        let kept: Vec<String> = ran
            .shown
            .into_iter()
            .filter(|l| !is_progress_line(l))
            .collect();
        let start = kept.len().saturating_sub(400);
        Err(BuildError::Compile {
            command,
            output: kept[start..].join("\n"),
        })
    }
}

/// Which of a child's streams is shown as progress.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShownStream {
    OnStdout,
    OnStderr,
}

/// A finished child: whether it succeeded, the lines of the stream shown as progress, and the
/// lines of the other one.
pub(crate) struct Ran {
    pub(crate) success: bool,
    pub(crate) shown: Vec<String>,
    pub(crate) quiet: Vec<String>,
}

/// Every line of `stream`, each shown in `phase` as it comes when one is given.
pub(crate) async fn read_lines(
    stream: Option<impl tokio::io::AsyncRead + Unpin>,
    phase: Option<&crate::progress::Phase>,
) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(stream) = stream {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(l)) = reader.next_line().await {
            if let Some(phase) = phase {
                phase.update(&l);
            }
            lines.push(l);
        }
    }
    lines
}

/// Runs `cmd` to the end, each line of the `progress` stream shown in `phase` as it comes; both
/// streams are read at once, so neither can fill its pipe and stall the child.
pub(crate) async fn run_with_progress(
    mut cmd: Command,
    command: &str,
    phase: &crate::progress::Phase,
    progress: ShownStream,
) -> Result<Ran, BuildError> {
    let spawn_error = |source| BuildError::Spawn {
        command: command.to_owned(),
        source,
    };
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(spawn_error)?;
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let (shown, quiet) = match progress {
        ShownStream::OnStderr => {
            let quiet = tokio::spawn(read_lines(stdout, None));
            (read_lines(stderr, Some(phase)).await, quiet)
        }
        ShownStream::OnStdout => {
            let quiet = tokio::spawn(read_lines(stderr, None));
            (read_lines(stdout, Some(phase)).await, quiet)
        }
    };
    let quiet = quiet.await.unwrap_or_default();
    let status = child.wait().await.map_err(spawn_error)?;
    Ok(Ran {
        success: status.success(),
        shown,
        quiet,
    })
}
