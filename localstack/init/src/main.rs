//! `lsk-init` binary: parses config, binds the two listeners, announces the invoke
//! address on stdout, starts the bootstrap and runs until told to stop.
#![forbid(unsafe_code)]

use std::io::{IsTerminal, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

use lsk_init::callback::Callback;
use lsk_init::config::{Cli, Config, Mode};
use lsk_init::error::{InitError, lambda_error_json};
use lsk_init::process::{self, Bootstrap};
use lsk_init::state::{App, Invocations, Shutdown};
use lsk_init::{interop, runtime_api, sandbox, server};

fn main() -> ExitCode {
    // The namespace helpers run before anything else, single-threaded (see sandbox.rs).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    match args.get(1).and_then(|a| a.to_str()) {
        Some(sandbox::EXEC_FLAG) => {
            let e = sandbox::exec_main(&args[2..]);
            eprintln!("lsk-init: could not start the bootstrap: {e}");
            return ExitCode::from(127);
        }
        Some(sandbox::PROBE_CHILD_FLAG) => {
            return match sandbox::probe_child(&args[2..]) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("{e}");
                    ExitCode::from(1)
                }
            };
        }
        _ => {}
    }
    let cli = Cli::parse();
    init_tracing();
    if cli.fs_probe {
        let request = std::env::var(sandbox::FS_ENV)
            .ok()
            .and_then(|v| sandbox::FsRequest::parse(&v))
            .unwrap_or_default();
        match sandbox::probe(request) {
            Ok(()) => println!("namespaced"),
            Err(why) => println!("host-paths: {why}"),
        }
        return ExitCode::SUCCESS;
    }
    let config = match Config::from_cli_and_env(cli, std::env::vars_os()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("lsk-init: {e}");
            return ExitCode::from(2);
        }
    };
    // One thread for everything: the bootstrap's parent-death signal is tied to the
    // thread that spawned it, and an invoke's hops stay on one core.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lsk-init: could not start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = match runtime.block_on(run(config)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("lsk-init: {e:#}");
            1
        }
    };
    // Do not wait for a blocking stdin read that will never finish.
    runtime.shutdown_background();
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn init_tracing() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;

    // `Targets` reads the same `target=level,level` directives as `EnvFilter` for what lsk-init
    // logs, without the regex engine `EnvFilter` compiles in (a minute of a fresh build).
    let filter = std::env::var("LSK_INIT_LOG")
        .ok()
        .and_then(|v| v.parse::<tracing_subscriber::filter::Targets>().ok())
        .unwrap_or_else(|| {
            tracing_subscriber::filter::Targets::new().with_default(tracing::Level::WARN)
        });
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal()),
        )
        .with(filter)
        .init();
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, InitError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| InitError::Bind { addr, source })
}

async fn run(config: Config) -> anyhow::Result<i32> {
    let mut sigterm = signal(SignalKind::terminate()).map_err(|source| InitError::Signal {
        signal: "SIGTERM",
        source,
    })?;
    let mut sigint = signal(SignalKind::interrupt()).map_err(|source| InitError::Signal {
        signal: "SIGINT",
        source,
    })?;

    let runtime_listener = bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    let runtime_api_addr = runtime_listener
        .local_addr()
        .context("runtime API listener address")?;
    let interop_listener = bind(config.listen).await?;
    let interop_addr = interop_listener
        .local_addr()
        .context("invoke listener address")?;
    // Private to the function: other local users must not read what it writes. Its `tmp/`
    // is the function's /tmp (or TMPDIR), see sandbox.rs.
    let tmp_dir = tempfile::Builder::new()
        .prefix("lsk-init-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .map_err(InitError::TempDir)?;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(tmp_dir.path().join("tmp"))
        .map_err(InitError::TempDir)?;

    let callback = match &config.mode {
        Mode::LocalStack(target) => Some(Callback::new(target)),
        Mode::Standalone => None,
    };
    let bootstrap = Bootstrap::new(&config, runtime_api_addr, tmp_dir.path());
    let app = Arc::new(App {
        config,
        callback,
        invocations: Invocations::default(),
        bootstrap,
        shutdown: Shutdown::default(),
    });

    tokio::spawn(server::serve(
        runtime_listener,
        app.clone(),
        runtime_api::handle,
    ));
    tokio::spawn(server::serve(
        interop_listener,
        app.clone(),
        interop::handle,
    ));
    announce(interop_addr)?;
    tracing::info!(%interop_addr, %runtime_api_addr, tmp_dir = %tmp_dir.path().display(), "lsk-init listening");

    if let Err(e) = process::spawn(&app).await {
        match app.config.mode {
            Mode::LocalStack(_) => process::report_init_failure(
                &app,
                lambda_error_json(e.error_type(), &e.to_string()),
            ),
            Mode::Standalone => {
                eprintln!("lsk-init: {e}");
                app.shutdown.trigger(1);
            }
        }
    }
    if let Mode::LocalStack(_) = app.config.mode {
        tokio::spawn(interop::lifeline(app.clone()));
    }

    let code = tokio::select! {
        code = app.shutdown.wait() => code,
        _ = sigterm.recv() => 0,
        _ = sigint.recv() => 0,
    };
    app.shutdown.trigger(code);
    process::stop(&app).await;
    if app.config.mode == Mode::Standalone {
        let rest = process::take_output(&app);
        let _ = std::io::stderr().write_all(rest.as_bytes());
    }
    let tmp_path = tmp_dir.path().to_owned();
    if let Err(e) = tmp_dir.close() {
        tracing::warn!(error = %e, path = %tmp_path.display(), "could not remove the temp dir");
    }
    Ok(code)
}

/// Prints `LSK_INIT_LISTENING 127.0.0.1:<port>`, flushed: the only line ever written to
/// stdout; the executor waits for it.
fn announce(addr: SocketAddr) -> Result<(), InitError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{} {addr}", lsk_init::protocol::LISTENING_PREFIX)
        .and_then(|()| out.flush())
        .map_err(InitError::Announce)
}
