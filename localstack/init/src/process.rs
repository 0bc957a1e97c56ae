//! The function's `bootstrap` process: spawning it with a built-from-scratch
//! environment in its own process group, capturing its output, noticing its exit,
//! killing and restarting it, and reading its peak memory.

use std::ffi::OsString;
use std::io::{self, Write as _};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use rustix::process::{Pid, Signal};
use tokio::net::unix::pipe;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::{Config, Mode};
use crate::error::{ApiError, SpawnError, lambda_error_json};
use crate::logs::{CapturedOutput, kb_to_mb_ceil};
use crate::sandbox::{self, EnvDirs, FsRequest};
use crate::state::{App, Outcome};

/// How long a killed bootstrap may take to be reaped before we stop waiting.
const REAP_WAIT: Duration = Duration::from_secs(2);
/// SIGTERM grace period on shutdown before SIGKILL.
const TERM_GRACE: Duration = Duration::from_millis(500);

/// The bootstrap of this execution environment (at most one process at a time).
#[derive(Debug)]
pub struct Bootstrap {
    /// The function's `bootstrap`.
    program: PathBuf,
    /// What is executed: the bootstrap itself, or `lsk-init` as the namespace helper
    /// ([`crate::sandbox`]) with the bootstrap as its last argument.
    launcher: PathBuf,
    args: Vec<OsString>,
    task_root: PathBuf,
    env: Vec<(OsString, OsString)>,
    output: Arc<Mutex<CapturedOutput>>,
    slot: Mutex<Slot>,
}

#[derive(Debug, Default)]
struct Slot {
    last_generation: u64,
    running: Option<Running>,
    /// Some bootstrap of this environment has asked for an event at least once.
    ever_ready: bool,
}

#[derive(Debug)]
struct Running {
    generation: u64,
    pid: u32,
    spawned_at: Instant,
    phase: Phase,
    pipe: Arc<pipe::Receiver>,
    exited: watch::Receiver<Option<String>>,
    hwm_kb: u64,
    /// Spawn to first `/next`, until reported with an invocation.
    init_duration: Option<Duration>,
    /// The `bootstrap` file this process was started from (see [`restart_if_code_changed`]).
    code: Option<CodeIdentity>,
}

/// Which file a bootstrap was started from: a new build put in place by rename (`lsk watch`)
/// has another inode, one written in place another size or modification time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CodeIdentity {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
}

fn code_identity(path: &Path) -> Option<CodeIdentity> {
    use std::os::unix::fs::MetadataExt as _;
    let m = std::fs::metadata(path).ok()?;
    Some(CodeIdentity {
        dev: m.dev(),
        ino: m.ino(),
        len: m.len(),
        mtime: (m.mtime(), m.mtime_nsec()),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Spawned, has not asked for an event yet.
    Starting,
    /// Has called `/next` at least once.
    Ready,
    /// We are killing it on purpose.
    Stopping,
    /// It posted `/runtime/init/error` and is being killed.
    InitFailed,
    Exited,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Critical sections are short and panic-free, so a poisoned lock is still consistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Bootstrap {
    /// `env_dir`: this environment's own directory (see [`EnvDirs`]).
    pub fn new(config: &Config, runtime_api: SocketAddr, env_dir: &Path) -> Bootstrap {
        let program = config.task_root.join("bootstrap");
        let dirs = EnvDirs {
            task_root: config.task_root.clone(),
            env_dir: env_dir.to_owned(),
        };
        // The helper is this very binary; without it, host paths are all there is.
        let helper = match (config.fs, std::env::current_exe()) {
            (FsRequest::Auto, Ok(exe)) => Some(exe),
            (FsRequest::Auto, Err(e)) => {
                tracing::warn!(error = %e, "cannot find lsk-init's own binary; the function runs from host paths");
                None
            }
            (FsRequest::Host, _) => None,
        };
        let (launcher, args) = match &helper {
            Some(exe) => (exe.clone(), sandbox::exec_args(&dirs, &program)),
            None => (program.clone(), Vec::new()),
        };
        Bootstrap {
            env: config.bootstrap_env(runtime_api, helper.is_some(), &dirs),
            program,
            launcher,
            args,
            task_root: config.task_root.clone(),
            output: Arc::default(),
            slot: Mutex::default(),
        }
    }
}

/// Starts a new bootstrap (the previous one, if any, must be gone or going).
pub async fn spawn(app: &Arc<App>) -> Result<(), SpawnError> {
    let b = &app.bootstrap;
    check_program(&b.program)?;
    // Read before the spawn: a swap right after it is then seen as a change, never missed.
    let code = code_identity(&b.program);
    let (sender, receiver) = pipe::pipe().map_err(SpawnError::Pipe)?;
    // stdout and stderr share one pipe so their lines keep the order they were written in.
    let stdout = sender.into_blocking_fd().map_err(SpawnError::Pipe)?;
    let stderr = stdout.try_clone().map_err(SpawnError::Pipe)?;

    let mut child = {
        let mut cmd = tokio::process::Command::new(&b.launcher);
        cmd.args(&b.args)
            .current_dir(&b.task_root)
            .env_clear()
            .envs(b.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr))
            .process_group(0)
            .kill_on_drop(false);
        die_with_parent(&mut cmd);
        spawn_retrying_busy_text(&mut cmd)
            .await
            .map_err(|e| exec_error(&b.program, e))?
        // `cmd` drops here, closing our copies of the pipe's write end.
    };
    let Some(pid) = child.id() else {
        return Err(exec_error(
            &b.program,
            io::Error::other("the process vanished at once"),
        ));
    };
    let pipe = Arc::new(receiver);
    lock(&b.output).reset_tail();
    app.invocations.clear_waiter();
    let (exit_tx, exit_rx) = watch::channel(None);

    let generation = {
        let mut slot = lock(&b.slot);
        if let Some(old) = slot.running.as_ref().filter(|r| r.phase != Phase::Exited) {
            // Callers stop the previous bootstrap first; this only guards against leaks.
            signal_group(old.pid, Signal::KILL);
        }
        slot.last_generation += 1;
        slot.running = Some(Running {
            generation: slot.last_generation,
            pid,
            spawned_at: Instant::now(),
            phase: Phase::Starting,
            pipe: pipe.clone(),
            exited: exit_rx,
            hwm_kb: 0,
            init_duration: None,
            code,
        });
        slot.last_generation
    };
    tracing::info!(pid, generation, program = %b.program.display(), "bootstrap started");

    tokio::spawn(pump(pipe, b.output.clone()));
    let app = app.clone();
    tokio::spawn(async move {
        let reason = match child.wait().await {
            Ok(status) => describe_exit(status),
            Err(e) => format!("unknown exit (waiting for it failed: {e})"),
        };
        exit_tx.send_replace(Some(reason.clone()));
        on_exit(&app, generation, reason);
    });
    Ok(())
}

/// With `LSK_INIT_WATCH_CODE` (LocalStack's hot-reload code, `lsk watch`): when the idle
/// environment's `bootstrap` is no longer the file its process was started from, the process is
/// stopped so that the invocation about to be queued starts the new code. Called before an
/// invocation is queued, so it never interrupts one: an invocation in flight finishes on the code
/// it started with. Returns whether it restarted.
pub async fn restart_if_code_changed(app: &Arc<App>) -> bool {
    if !app.config.watch_code || !app.invocations.is_idle() {
        return false;
    }
    let started_from = {
        let slot = lock(&app.bootstrap.slot);
        match &slot.running {
            Some(r) if matches!(r.phase, Phase::Starting | Phase::Ready) => r.code.clone(),
            _ => return false,
        }
    };
    let now = code_identity(&app.bootstrap.program);
    if now.is_none() || now == started_from {
        return false;
    }
    tracing::info!(program = %app.bootstrap.program.display(), "new code: restarting the bootstrap");
    kill(app).await;
    true
}

/// Makes sure a bootstrap is running (or starting) before an invocation is queued.
pub async fn ensure_running(app: &Arc<App>) -> Result<(), SpawnError> {
    let needed = match &lock(&app.bootstrap.slot).running {
        None => true,
        Some(r) => matches!(r.phase, Phase::Exited | Phase::InitFailed),
    };
    if needed && !app.shutdown.is_triggered() {
        spawn(app).await
    } else {
        Ok(())
    }
}

/// Called on every `/next`. Returns true on the very first `/next` of the
/// environment, when LocalStack must be told it is ready.
pub fn on_next(app: &App) -> bool {
    let mut slot = lock(&app.bootstrap.slot);
    let Slot {
        running,
        ever_ready,
        ..
    } = &mut *slot;
    let Some(r) = running.as_mut() else {
        return false;
    };
    if let Some(kb) = vm_hwm_kb(r.pid) {
        r.hwm_kb = r.hwm_kb.max(kb);
    }
    if r.phase != Phase::Starting {
        return false;
    }
    r.phase = Phase::Ready;
    r.init_duration = Some(r.spawned_at.elapsed());
    let first = !*ever_ready;
    *ever_ready = true;
    first
}

/// The bootstrap posted `/runtime/init/error` with `error` (a Lambda error JSON).
pub fn on_init_error(app: &Arc<App>, error: Bytes) -> Result<(), ApiError> {
    let (pid, ever_ready) = {
        let mut slot = lock(&app.bootstrap.slot);
        let ever_ready = slot.ever_ready;
        match slot.running.as_mut() {
            Some(r) if r.phase == Phase::Starting => {
                r.phase = Phase::InitFailed;
                (r.pid, ever_ready)
            }
            _ => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidStateTransition",
                    "/runtime/init/error is only accepted before the first /runtime/invocation/next",
                ));
            }
        }
    };
    tracing::warn!(error = %String::from_utf8_lossy(&error), "bootstrap reported an init error");
    signal_group(pid, Signal::KILL);
    if app.invocations.fail_open(Outcome::InitError(error.clone())) {
        return Ok(());
    }
    if !ever_ready && matches!(app.config.mode, Mode::LocalStack(_)) {
        report_init_failure(app, error);
    } else {
        print_standalone_output(app);
    }
    Ok(())
}

fn on_exit(app: &Arc<App>, generation: u64, reason: String) {
    let (phase, pid, ever_ready) = {
        let mut slot = lock(&app.bootstrap.slot);
        let ever_ready = slot.ever_ready;
        match slot.running.as_mut().filter(|r| r.generation == generation) {
            Some(r) => (
                std::mem::replace(&mut r.phase, Phase::Exited),
                r.pid,
                ever_ready,
            ),
            None => return,
        }
    };
    // Whatever the bootstrap left behind in its group goes with it.
    signal_group(pid, Signal::KILL);
    app.invocations.clear_waiter();
    match phase {
        Phase::Starting | Phase::Ready => {}
        Phase::Stopping | Phase::InitFailed | Phase::Exited => {
            tracing::debug!(pid, %reason, "bootstrap stopped");
            return;
        }
    }
    if app
        .invocations
        .fail_open(Outcome::BootstrapExited(reason.clone()))
    {
        tracing::info!(pid, %reason, "bootstrap exited during an invocation");
        return;
    }
    if phase == Phase::Starting && !ever_ready && matches!(app.config.mode, Mode::LocalStack(_)) {
        let tail = lock(&app.bootstrap.output).tail();
        let message = init_exit_message(&reason, &tail);
        report_init_failure(app, lambda_error_json("Runtime.ExitError", &message));
        return;
    }
    tracing::warn!(pid, %reason, "bootstrap exited while idle; the next invocation starts a new one");
    print_standalone_output(app);
}

/// Tells LocalStack the environment failed to start, then stops the init (exit 1).
pub fn report_init_failure(app: &Arc<App>, error: Bytes) {
    tracing::error!(error = %String::from_utf8_lossy(&error), "execution environment failed to start");
    let app = app.clone();
    tokio::spawn(async move {
        if let Some(callback) = &app.callback
            && let Err(e) = callback.status_error(error).await
        {
            tracing::error!(error = %e, "could not report the startup failure to LocalStack");
        }
        app.shutdown.trigger(1);
    });
}

/// Standalone has no LocalStack to hand logs to: output nobody will collect goes to stderr.
fn print_standalone_output(app: &App) {
    if app.config.mode == Mode::Standalone {
        let text = take_output(app);
        if !text.is_empty() {
            let _ = io::stderr().write_all(text.as_bytes());
        }
    }
}

fn init_exit_message(reason: &str, tail: &[String]) -> String {
    let mut message = format!(
        "Runtime exited with error: {reason} (the bootstrap exited before asking for its first event)"
    );
    if tail.is_empty() {
        message.push_str("; it wrote nothing to stdout or stderr");
    } else {
        message.push_str(". Last output:\n");
        message.push_str(&tail.join("\n"));
    }
    message
}

/// Signals the bootstrap's process group and waits (bounded) until it is reaped.
/// Returns whether it is gone.
pub async fn kill_and_wait(app: &App, signal: Signal, wait: Duration) -> bool {
    let (pid, mut exited) = {
        let mut slot = lock(&app.bootstrap.slot);
        let Some(r) = slot.running.as_mut() else {
            return true;
        };
        if matches!(r.phase, Phase::Starting | Phase::Ready) {
            r.phase = Phase::Stopping;
        }
        (r.pid, r.exited.clone())
    };
    signal_group(pid, signal);
    match tokio::time::timeout(wait, exited.wait_for(Option::is_some)).await {
        Ok(Ok(_)) => true,
        Ok(Err(_)) => true,
        Err(_) => {
            tracing::warn!(pid, ?signal, ?wait, "bootstrap did not exit in time");
            false
        }
    }
}

/// Kills the bootstrap for a restart (timeout, crash): SIGKILL, then wait for it.
pub async fn kill(app: &App) {
    kill_and_wait(app, Signal::KILL, REAP_WAIT).await;
}

/// Shutdown: SIGTERM to the group, SIGKILL after the grace period.
pub async fn stop(app: &App) {
    if !kill_and_wait(app, Signal::TERM, TERM_GRACE).await {
        kill_and_wait(app, Signal::KILL, REAP_WAIT).await;
    }
}

/// Everything the function wrote since the last call, including bytes still in
/// the pipe (read until it would block, so nothing written before now is missed).
pub fn take_output(app: &App) -> String {
    let pipe = lock(&app.bootstrap.slot)
        .running
        .as_ref()
        .map(|r| r.pipe.clone());
    if let Some(pipe) = pipe {
        drain(&pipe, &app.bootstrap.output);
    }
    lock(&app.bootstrap.output).take()
}

/// Peak resident memory of the bootstrap in MB (rounded up).
pub fn max_memory_mb(app: &App) -> u64 {
    let mut slot = lock(&app.bootstrap.slot);
    let Some(r) = slot.running.as_mut() else {
        return 0;
    };
    if r.phase != Phase::Exited
        && let Some(kb) = vm_hwm_kb(r.pid)
    {
        r.hwm_kb = r.hwm_kb.max(kb);
    }
    kb_to_mb_ceil(r.hwm_kb)
}

/// The current bootstrap's init duration, once: only its first invocation reports it.
pub fn take_init_duration(app: &App) -> Option<Duration> {
    lock(&app.bootstrap.slot)
        .running
        .as_mut()
        .and_then(|r| r.init_duration.take())
}

/// Moves the bootstrap's output into the shared buffer as it arrives, so the
/// function never blocks on a full pipe.
async fn pump(pipe: Arc<pipe::Receiver>, output: Arc<Mutex<CapturedOutput>>) {
    loop {
        if let Err(e) = pipe.readable().await {
            tracing::debug!(error = %e, "output pipe failed");
            return;
        }
        if drain(&pipe, &output) {
            return;
        }
    }
}

/// Reads until the pipe would block. Returns true at end of stream.
fn drain(pipe: &pipe::Receiver, output: &Mutex<CapturedOutput>) -> bool {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match pipe.try_read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => lock(output).push(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::debug!(error = %e, "reading the bootstrap's output failed");
                return true;
            }
        }
    }
}

fn check_program(path: &Path) -> Result<(), SpawnError> {
    match std::fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Err(SpawnError::Missing { path: path.into() })
        }
        Err(e) => Err(SpawnError::Exec {
            path: path.into(),
            hint: "",
            source: e,
        }),
        Ok(m) if !m.is_file() => Err(SpawnError::NotAFile { path: path.into() }),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => Err(SpawnError::NotExecutable {
            path: path.into(),
            mode: m.permissions().mode() & 0o7777,
        }),
        Ok(_) => Ok(()),
    }
}

/// Spawns, retrying briefly on ETXTBSY: a freshly written bootstrap can still be open
/// for writing in a process forked at that moment (a well-known fork/exec race). The wait
/// between attempts is async: the runtime's one thread also serves the Runtime API.
async fn spawn_retrying_busy_text(
    cmd: &mut tokio::process::Command,
) -> io::Result<tokio::process::Child> {
    let mut attempts = 0;
    loop {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && attempts < 5 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => return other,
        }
    }
}

/// Lets the kernel kill the bootstrap if the init dies without cleaning up.
/// The death signal fires when the spawning *thread* exits: the init spawns from its
/// single runtime thread, which lives as long as the process.
#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut tokio::process::Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: `pre_exec` runs the closure in the forked child before exec. It only
    // calls prctl(2) and getppid(2), which are async-signal-safe, and allocates nothing
    // (io::Error from an errno does not allocate).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then nobody would kill us.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

fn exec_error(path: &Path, source: io::Error) -> SpawnError {
    let hint = match source.raw_os_error() {
        Some(libc::ENOENT) => " (does the interpreter named on its #! line exist on this machine?)",
        Some(libc::ENOEXEC) => {
            " (not a program this machine can run: build it for Linux on this CPU architecture, or start a script with a #! line)"
        }
        Some(libc::EACCES) => {
            " (permission denied: is it executable and is the task root readable?)"
        }
        _ => "",
    };
    SpawnError::Exec {
        path: path.into(),
        hint,
        source,
    }
}

/// Sends `signal` to the process group led by `pid` (the bootstrap is its leader).
fn signal_group(pid: u32, signal: Signal) {
    // kill(-1) would signal every process we may signal: never let pid 1 through.
    let Some(pid) = i32::try_from(pid)
        .ok()
        .filter(|p| *p > 1)
        .and_then(Pid::from_raw)
    else {
        return;
    };
    match rustix::process::kill_process_group(pid, signal) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => {}
        Err(e) => {
            tracing::warn!(pid = pid.as_raw_nonzero().get(), ?signal, error = %e, "could not signal the bootstrap")
        }
    }
}

/// `exit status 101` or `signal: 9 (SIGKILL)`, as Lambda reports them.
pub fn describe_exit(status: ExitStatus) -> String {
    match status.code() {
        Some(code) => format!("exit status {code}"),
        None => status.to_string(),
    }
}

/// `VmHWM` (peak resident set) of a process, in kB.
fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn exit_reasons_read_like_lambdas() {
        assert_eq!(
            describe_exit(ExitStatus::from_raw(101 << 8)),
            "exit status 101"
        );
        assert_eq!(
            describe_exit(ExitStatus::from_raw(9)),
            "signal: 9 (SIGKILL)"
        );
    }

    #[test]
    fn own_peak_memory_is_readable() {
        let kb = vm_hwm_kb(std::process::id()).expect("VmHWM of this test process");
        assert!(kb > 0);
        assert_eq!(vm_hwm_kb(u32::MAX), None);
    }

    #[test]
    fn init_exit_message_quotes_the_last_output() {
        let m = init_exit_message("exit status 3", &["missing CONFIG".into()]);
        assert!(
            m.contains("exit status 3") && m.ends_with("Last output:\nmissing CONFIG"),
            "{m}"
        );
        assert!(init_exit_message("signal: 9 (SIGKILL)", &[]).contains("wrote nothing"));
    }

    #[test]
    fn missing_or_non_executable_bootstrap_is_explained() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bootstrap");
        assert!(matches!(
            check_program(&path),
            Err(SpawnError::Missing { .. })
        ));
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            check_program(&path),
            Err(SpawnError::NotExecutable { mode: 0o644, .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(check_program(&path).is_ok());
        assert!(matches!(
            check_program(dir.path()),
            Err(SpawnError::NotAFile { .. })
        ));
    }
}
