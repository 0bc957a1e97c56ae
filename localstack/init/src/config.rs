//! Command line and environment of `lsk-init`, parsed into one typed [`Config`].

use std::ffi::{OsStr, OsString};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;

use crate::error::ConfigError;
use crate::sandbox::{self, EnvDirs, FsRequest};

/// Default `PATH` for the bootstrap when the init was given none: the one AWS sets.
pub const DEFAULT_PATH: &str = sandbox::AWS_PATH;
const DEFAULT_TIMEOUT_SECS: u64 = 3;
/// LocalStack mode: any free port, announced on stdout.
const DEFAULT_LISTEN: ([u8; 4], u16) = ([127, 0, 0, 1], 0);
/// Standalone: the port the AWS Runtime Interface Emulator examples use.
const DEFAULT_STANDALONE_LISTEN: ([u8; 4], u16) = ([127, 0, 0, 1], 9000);
const DEFAULT_MEMORY_MB: u64 = 128;
const STANDALONE_REGION: &str = "us-east-1";

/// Variables the init sets for the bootstrap itself; never taken from the caller.
const SET_BY_INIT: &[&str] = &["AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "TMPDIR"];
/// Unreserved variables AWS sets that a function's own configuration may override.
const AWS_DEFAULTS: &[(&str, &str)] = &[("LANG", sandbox::AWS_LANG), ("TZ", ":UTC")];
/// Prefixes of variables meant for the init only (callback address, runtime id, log level).
const INIT_INTERNAL_PREFIXES: &[&str] = &["LOCALSTACK_", "LSK_INIT_"];

/// Runs a Lambda function's `bootstrap` as a host process for one LocalStack
/// execution environment, or on its own with an RIE-compatible invoke endpoint.
#[derive(Debug, Parser)]
#[command(name = "lsk-init", version, about)]
pub struct Cli {
    /// Address of the listener for LocalStack (`POST /invoke`) or, standalone, for
    /// `POST /2015-03-31/functions/function/invocations`. Port 0 picks a free port.
    /// [default: 127.0.0.1:0, standalone: 127.0.0.1:9000]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Run without LocalStack: serve the function whose `bootstrap` is in DIR.
    #[arg(long, value_name = "DIR")]
    pub standalone: Option<PathBuf>,

    /// Standalone: function timeout in seconds [default: 3].
    #[arg(long, value_name = "SECS", requires = "standalone")]
    pub timeout: Option<u64>,

    /// Standalone: memory size in MB reported to the function [default: 128].
    #[arg(long, value_name = "MB", requires = "standalone")]
    pub memory: Option<u64>,

    /// Standalone: function name [default: function].
    #[arg(long, value_name = "NAME", requires = "standalone")]
    pub function_name: Option<String>,

    /// Standalone: extra environment variable for the function (repeatable).
    #[arg(
        long = "env",
        short = 'e',
        value_name = "KEY=VALUE",
        requires = "standalone"
    )]
    pub env: Vec<String>,

    /// Print how functions see the filesystem on this machine (`namespaced`: code at
    /// /var/task, a private /tmp; or `host-paths: <why>`) and exit.
    #[arg(long, conflicts_with = "standalone")]
    pub fs_probe: bool,
}

/// Where results go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Spawned by LocalStack's runtime executor; results are posted back to it.
    LocalStack(LocalStackTarget),
    /// No LocalStack: an RIE-compatible endpoint answers invokes directly.
    Standalone,
}

/// LocalStack's callback coordinates for this execution environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalStackTarget {
    /// `LOCALSTACK_RUNTIME_ENDPOINT` without a trailing slash.
    pub runtime_endpoint: String,
    /// `LOCALSTACK_RUNTIME_ID`.
    pub runtime_id: String,
}

/// Everything the init needs to know, from CLI and environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    pub listen: SocketAddr,
    /// Absolute directory holding `bootstrap`; also the bootstrap's working directory.
    pub task_root: PathBuf,
    pub function_name: String,
    pub function_version: String,
    /// ARN used when the caller gives none (standalone).
    pub function_arn: String,
    pub timeout: Duration,
    pub memory_mb: u64,
    /// `LSK_INIT_FS`: the filesystem view the bootstrap gets (see [`crate::sandbox`]).
    pub fs: FsRequest,
    /// `LSK_INIT_WATCH_CODE=1`: the code directory may get a new `bootstrap` at any time
    /// (LocalStack's hot-reload code, `lsk watch`); each invocation then starts on the newest.
    pub watch_code: bool,
    /// The function's environment, without the variables the init adds at spawn
    /// (`AWS_LAMBDA_RUNTIME_API`, `LAMBDA_TASK_ROOT`, `TMPDIR`). Always has `PATH`.
    pub function_env: Vec<(OsString, OsString)>,
}

impl Config {
    /// Builds the config from parsed arguments and the init's own environment.
    pub fn from_cli_and_env(
        cli: Cli,
        env: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> Result<Config, ConfigError> {
        let default_listen = match cli.standalone {
            Some(_) => DEFAULT_STANDALONE_LISTEN,
            None => DEFAULT_LISTEN,
        };
        let listen = cli.listen.unwrap_or(SocketAddr::from(default_listen));
        if !listen.ip().is_loopback() {
            return Err(ConfigError::NonLoopbackListen { addr: listen });
        }
        let env: Vec<(OsString, OsString)> = env.into_iter().collect();
        match cli.standalone.clone() {
            Some(dir) => standalone(cli, dir, listen, &env),
            None => localstack(listen, env),
        }
    }

    /// The full environment of a bootstrap process, for the namespaced view (code at
    /// `/var/task`, no `TMPDIR`) or for host paths.
    pub fn bootstrap_env(
        &self,
        runtime_api: SocketAddr,
        namespaced: bool,
        dirs: &EnvDirs,
    ) -> Vec<(OsString, OsString)> {
        let mut env = self.function_env.clone();
        env.push((
            "AWS_LAMBDA_RUNTIME_API".into(),
            runtime_api.to_string().into(),
        ));
        for (key, value) in sandbox::path_env(namespaced, dirs) {
            // LD_LIBRARY_PATH is the function's to override, as on AWS.
            if !env.iter().any(|(k, _)| *k == key) {
                env.push((key, value));
            }
        }
        env
    }
}

fn lookup<'a>(env: &'a [(OsString, OsString)], name: &str) -> Option<&'a OsStr> {
    env.iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_os_str())
}

fn lookup_str(
    env: &[(OsString, OsString)],
    name: &'static str,
) -> Result<Option<String>, ConfigError> {
    match lookup(env, name) {
        None => Ok(None),
        Some(v) => match v.to_str() {
            Some(s) => Ok(Some(s.to_owned())),
            None => Err(ConfigError::InvalidEnv {
                name,
                value: v.to_string_lossy().into_owned(),
                reason: "not valid UTF-8".into(),
            }),
        },
    }
}

fn required(
    env: &[(OsString, OsString)],
    name: &'static str,
    hint: &'static str,
) -> Result<String, ConfigError> {
    match lookup_str(env, name)? {
        Some(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(ConfigError::MissingEnv { name, hint }),
    }
}

fn positive_int(
    env: &[(OsString, OsString)],
    name: &'static str,
    default: u64,
) -> Result<u64, ConfigError> {
    let Some(raw) = lookup_str(env, name)? else {
        return Ok(default);
    };
    match raw.trim().parse::<u64>() {
        Ok(v) if v >= 1 => Ok(v),
        _ => Err(ConfigError::InvalidEnv {
            name,
            value: raw,
            reason: "expected a whole number of at least 1".into(),
        }),
    }
}

fn localstack(listen: SocketAddr, env: Vec<(OsString, OsString)>) -> Result<Config, ConfigError> {
    let endpoint = required(
        &env,
        "LOCALSTACK_RUNTIME_ENDPOINT",
        "LocalStack's runtime executor sets it to its callback base URL",
    )?;
    let runtime_endpoint = endpoint.trim_end_matches('/').to_owned();
    let uri: http::Uri = runtime_endpoint
        .parse()
        .map_err(|e: http::uri::InvalidUri| ConfigError::InvalidEnv {
            name: "LOCALSTACK_RUNTIME_ENDPOINT",
            value: endpoint.clone(),
            reason: e.to_string(),
        })?;
    if uri.scheme_str() != Some("http") || uri.host().is_none() {
        return Err(ConfigError::InvalidEnv {
            name: "LOCALSTACK_RUNTIME_ENDPOINT",
            value: endpoint,
            reason: "expected an absolute http:// URL such as http://127.0.0.1:4566/_localstack_lambda/<id>".into(),
        });
    }
    let runtime_id = required(
        &env,
        "LOCALSTACK_RUNTIME_ID",
        "LocalStack's runtime executor sets it to the execution environment id",
    )?;
    if !is_url_safe(&runtime_id) {
        return Err(ConfigError::InvalidEnv {
            name: "LOCALSTACK_RUNTIME_ID",
            value: runtime_id,
            reason: "only letters, digits, '-', '_' and '.' are allowed".into(),
        });
    }
    let task_root = PathBuf::from(required(
        &env,
        "LAMBDA_TASK_ROOT",
        "it must name the directory holding the unzipped code with ./bootstrap",
    )?);
    check_task_root(&task_root)?;
    let timeout = positive_int(&env, "AWS_LAMBDA_FUNCTION_TIMEOUT", DEFAULT_TIMEOUT_SECS)?;
    let memory_mb = positive_int(&env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", DEFAULT_MEMORY_MB)?;
    let function_name =
        lookup_str(&env, "AWS_LAMBDA_FUNCTION_NAME")?.unwrap_or_else(|| "function".into());
    let function_version =
        lookup_str(&env, "AWS_LAMBDA_FUNCTION_VERSION")?.unwrap_or_else(|| "$LATEST".into());
    let region = lookup_str(&env, "AWS_REGION")?.unwrap_or_else(|| STANDALONE_REGION.into());

    let fs = fs_request(&env)?;
    let env_for_flags = env.clone();
    let mut function_env: Vec<(OsString, OsString)> =
        env.into_iter().filter(|(k, _)| passes_through(k)).collect();
    add_defaults(&mut function_env, &[("PATH", DEFAULT_PATH)]);

    Ok(Config {
        mode: Mode::LocalStack(LocalStackTarget {
            runtime_endpoint,
            runtime_id,
        }),
        listen,
        task_root,
        function_arn: function_arn(&region, &function_name),
        function_name,
        function_version,
        timeout: Duration::from_secs(timeout),
        memory_mb,
        fs,
        watch_code: flag(&env_for_flags, WATCH_CODE_ENV)?,
        function_env,
    })
}

/// Adds AWS's unreserved defaults (and `extra`) that the environment does not set already.
fn add_defaults(env: &mut Vec<(OsString, OsString)>, extra: &[(&str, &str)]) {
    for (key, value) in AWS_DEFAULTS.iter().chain(extra) {
        if !env.iter().any(|(k, _)| k == key) {
            env.push((key.into(), value.into()));
        }
    }
}

/// See [`Config::watch_code`].
pub use crate::protocol::WATCH_CODE_ENV;

fn flag(env: &[(OsString, OsString)], name: &'static str) -> Result<bool, ConfigError> {
    match lookup_str(env, name)?.as_deref().map(str::trim) {
        None | Some("" | "0") => Ok(false),
        Some("1") => Ok(true),
        Some(other) => Err(ConfigError::InvalidEnv {
            name,
            value: other.to_owned(),
            reason: "expected 1 or 0".into(),
        }),
    }
}

fn fs_request(env: &[(OsString, OsString)]) -> Result<FsRequest, ConfigError> {
    let Some(raw) = lookup_str(env, sandbox::FS_ENV)? else {
        return Ok(FsRequest::Auto);
    };
    FsRequest::parse(&raw).ok_or(ConfigError::InvalidEnv {
        name: sandbox::FS_ENV,
        value: raw,
        reason: "expected `auto` (code at /var/task where the OS allows it) or `host`".into(),
    })
}

fn standalone(
    cli: Cli,
    dir: PathBuf,
    listen: SocketAddr,
    host_env: &[(OsString, OsString)],
) -> Result<Config, ConfigError> {
    let task_root = std::path::absolute(&dir).map_err(|e| ConfigError::TaskRoot {
        path: dir.clone(),
        reason: e.to_string(),
    })?;
    check_task_root(&task_root)?;
    let timeout = cli.timeout.unwrap_or(DEFAULT_TIMEOUT_SECS);
    if timeout == 0 {
        return Err(ConfigError::OutOfRange {
            what: "--timeout",
            value: 0,
        });
    }
    let memory_mb = cli.memory.unwrap_or(DEFAULT_MEMORY_MB);
    if memory_mb == 0 {
        return Err(ConfigError::OutOfRange {
            what: "--memory",
            value: 0,
        });
    }
    let function_name = cli.function_name.unwrap_or_else(|| "function".into());
    let version = "$LATEST".to_owned();
    let stream = format!(
        "{}/[{version}]{}",
        &humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()[..10],
        uuid::Uuid::new_v4().simple()
    );
    // Only PATH comes from the host (so `#!/usr/bin/env python3` still works); the rest
    // is a fixed, credential-free environment like a fresh Lambda sandbox.
    let path = lookup(host_env, "PATH")
        .map(OsStr::to_os_string)
        .unwrap_or_else(|| DEFAULT_PATH.into());
    let mut function_env: Vec<(OsString, OsString)> = vec![
        ("PATH".into(), path),
        (
            "AWS_LAMBDA_FUNCTION_NAME".into(),
            function_name.clone().into(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION".into(), version.clone().into()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE".into(),
            memory_mb.to_string().into(),
        ),
        (
            "AWS_LAMBDA_FUNCTION_TIMEOUT".into(),
            timeout.to_string().into(),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME".into(),
            format!("/aws/lambda/{function_name}").into(),
        ),
        ("AWS_LAMBDA_LOG_STREAM_NAME".into(), stream.into()),
        ("AWS_REGION".into(), STANDALONE_REGION.into()),
        ("AWS_DEFAULT_REGION".into(), STANDALONE_REGION.into()),
        ("AWS_ACCESS_KEY_ID".into(), "test".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
        ("_HANDLER".into(), "bootstrap".into()),
        ("LAMBDA_RUNTIME_DIR".into(), sandbox::RUNTIME_DIR.into()),
    ];
    add_defaults(&mut function_env, &[]);
    for item in &cli.env {
        let Some((key, value)) = item.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(ConfigError::InvalidEnvFlag {
                value: item.clone(),
            });
        };
        if !passes_through(OsStr::new(key)) {
            return Err(ConfigError::ReservedEnvFlag {
                key: key.to_owned(),
            });
        }
        function_env.retain(|(k, _)| k != key);
        function_env.push((key.into(), value.into()));
    }

    Ok(Config {
        mode: Mode::Standalone,
        listen,
        task_root,
        function_arn: function_arn(STANDALONE_REGION, &function_name),
        function_name,
        function_version: version,
        timeout: Duration::from_secs(timeout),
        memory_mb,
        fs: fs_request(host_env)?,
        watch_code: flag(host_env, WATCH_CODE_ENV)?,
        function_env,
    })
}

fn check_task_root(path: &Path) -> Result<(), ConfigError> {
    if !path.is_absolute() {
        return Err(ConfigError::TaskRoot {
            path: path.to_owned(),
            reason: "it must be an absolute path".into(),
        });
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(ConfigError::TaskRoot {
            path: path.to_owned(),
            reason: "it is not a directory".into(),
        }),
        Err(e) => Err(ConfigError::TaskRoot {
            path: path.to_owned(),
            reason: e.to_string(),
        }),
    }
}

/// Whether a variable the init received may be handed to function code.
fn passes_through(key: &OsStr) -> bool {
    let Some(key) = key.to_str() else {
        return true;
    };
    !SET_BY_INIT.contains(&key) && !INIT_INTERNAL_PREFIXES.iter().any(|p| key.starts_with(p))
}

fn function_arn(region: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:000000000000:function:{name}")
}

/// Ids end up in callback URL paths; LocalStack's are UUIDs.
pub fn is_url_safe(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 256
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        pairs
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect()
    }

    fn cli(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("lsk-init").chain(args.iter().copied())).unwrap()
    }

    fn localstack_env(root: &str) -> Vec<(OsString, OsString)> {
        env(&[
            (
                "LOCALSTACK_RUNTIME_ENDPOINT",
                "http://127.0.0.1:4566/_localstack_lambda/abc/",
            ),
            ("LOCALSTACK_RUNTIME_ID", "abc123"),
            ("LAMBDA_TASK_ROOT", root),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "7"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
            ("AWS_LAMBDA_FUNCTION_NAME", "square"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("MY_VAR", "1"),
            ("LSK_INIT_LOG", "debug"),
            ("TMPDIR", "/somewhere"),
        ])
    }

    #[test]
    fn localstack_mode_reads_env_and_filters_internal_variables() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let c = Config::from_cli_and_env(cli(&[]), localstack_env(root)).unwrap();
        assert_eq!(
            c.mode,
            Mode::LocalStack(LocalStackTarget {
                runtime_endpoint: "http://127.0.0.1:4566/_localstack_lambda/abc".into(),
                runtime_id: "abc123".into(),
            })
        );
        assert_eq!(c.timeout, Duration::from_secs(7));
        assert_eq!(c.memory_mb, 512);
        assert_eq!(c.function_version, "$LATEST");
        assert_eq!(
            c.function_arn,
            "arn:aws:lambda:eu-west-1:000000000000:function:square"
        );
        assert_eq!(c.listen, "127.0.0.1:0".parse().unwrap());
        let keys: Vec<_> = c
            .function_env
            .iter()
            .map(|(k, _)| k.to_str().unwrap())
            .collect();
        assert!(keys.contains(&"MY_VAR") && keys.contains(&"AWS_SECRET_ACCESS_KEY"));
        assert!(keys.contains(&"PATH"), "a default PATH is added");
        for hidden in [
            "LOCALSTACK_RUNTIME_ENDPOINT",
            "LOCALSTACK_RUNTIME_ID",
            "LSK_INIT_LOG",
            "TMPDIR",
        ] {
            assert!(
                !keys.contains(&hidden),
                "{hidden} must not reach the function"
            );
        }
        let dirs = EnvDirs {
            task_root: c.task_root.clone(),
            env_dir: "/tmp/x".into(),
        };
        let host = c.bootstrap_env("127.0.0.1:9001".parse().unwrap(), false, &dirs);
        let get = |env: &[(OsString, OsString)], k: &str| {
            env.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
        };
        assert_eq!(
            get(&host, "AWS_LAMBDA_RUNTIME_API").as_deref(),
            Some("127.0.0.1:9001")
        );
        assert_eq!(get(&host, "TMPDIR").as_deref(), Some("/tmp/x/tmp"));
        assert_eq!(get(&host, "LAMBDA_TASK_ROOT").as_deref(), Some(root));

        // What AWS's provided.al2023 sets, unless the function's configuration says otherwise.
        assert_eq!(get(&host, "LANG").as_deref(), Some("en_US.UTF-8"));
        assert_eq!(get(&host, "TZ").as_deref(), Some(":UTC"));
        assert_eq!(get(&host, "PATH").as_deref(), Some(sandbox::AWS_PATH));

        let namespaced = c.bootstrap_env("127.0.0.1:9001".parse().unwrap(), true, &dirs);
        assert_eq!(
            get(&namespaced, "LAMBDA_TASK_ROOT").as_deref(),
            Some("/var/task")
        );
        assert_eq!(get(&namespaced, "TMPDIR"), None, "AWS sets no TMPDIR");
        assert_eq!(
            get(&namespaced, "LD_LIBRARY_PATH").as_deref(),
            Some(
                "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
            )
        );
    }

    #[test]
    fn the_functions_own_lang_path_and_library_path_win() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let mut e = localstack_env(root);
        e.extend(env(&[
            ("LANG", "C.UTF-8"),
            ("PATH", "/opt/mine/bin"),
            ("LD_LIBRARY_PATH", "/opt/mine/lib"),
        ]));
        let c = Config::from_cli_and_env(cli(&[]), e).unwrap();
        let dirs = EnvDirs {
            task_root: c.task_root.clone(),
            env_dir: "/tmp/x".into(),
        };
        let full = c.bootstrap_env("127.0.0.1:9001".parse().unwrap(), true, &dirs);
        for (key, want) in [
            ("LANG", "C.UTF-8"),
            ("PATH", "/opt/mine/bin"),
            ("LD_LIBRARY_PATH", "/opt/mine/lib"),
        ] {
            let values: Vec<_> = full.iter().filter(|(k, _)| k == key).collect();
            assert_eq!(values.len(), 1, "{key} once: {values:?}");
            assert_eq!(values[0].1, want, "{key}");
        }
    }

    #[test]
    fn lsk_init_fs_chooses_the_view_and_rejects_typos() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let with = |v: &str| {
            let mut e = localstack_env(root);
            e.extend(env(&[(sandbox::FS_ENV, v)]));
            Config::from_cli_and_env(cli(&[]), e)
        };
        assert_eq!(with("host").unwrap().fs, FsRequest::Host);
        assert_eq!(with("auto").unwrap().fs, FsRequest::Auto);
        assert_eq!(
            Config::from_cli_and_env(cli(&[]), localstack_env(root))
                .unwrap()
                .fs,
            FsRequest::Auto
        );
        let err = with("hots").unwrap_err().to_string();
        assert!(err.contains("LSK_INIT_FS") && err.contains("host"), "{err}");
    }

    #[test]
    fn localstack_mode_explains_missing_or_bad_settings() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let mut e = localstack_env(root);
        e.retain(|(k, _)| k != "LOCALSTACK_RUNTIME_ENDPOINT");
        let err = Config::from_cli_and_env(cli(&[]), e)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("LOCALSTACK_RUNTIME_ENDPOINT") && err.contains("--standalone"),
            "{err}"
        );

        let mut e = localstack_env(root);
        e.push(("AWS_LAMBDA_FUNCTION_TIMEOUT".into(), "soon".into()));
        let err = Config::from_cli_and_env(cli(&[]), e)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("AWS_LAMBDA_FUNCTION_TIMEOUT") && err.contains("soon"),
            "{err}"
        );

        let mut e = localstack_env(root);
        e.push(("LOCALSTACK_RUNTIME_ENDPOINT".into(), "ftp://x/y".into()));
        let err = Config::from_cli_and_env(cli(&[]), e)
            .unwrap_err()
            .to_string();
        assert!(err.contains("http://"), "{err}");

        let mut e = localstack_env(root);
        e.push(("LAMBDA_TASK_ROOT".into(), "relative/dir".into()));
        let err = Config::from_cli_and_env(cli(&[]), e)
            .unwrap_err()
            .to_string();
        assert!(err.contains("absolute"), "{err}");
    }

    #[test]
    fn listening_beyond_loopback_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = Config::from_cli_and_env(
            cli(&["--listen", "0.0.0.0:9000"]),
            localstack_env(dir.path().to_str().unwrap()),
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::NonLoopbackListen { .. }));
    }

    #[test]
    fn standalone_mode_uses_a_fixed_environment_not_the_hosts() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let host = env(&[
            ("PATH", "/opt/bin:/usr/bin"),
            ("AWS_SECRET_ACCESS_KEY", "host-secret"),
            ("HOME", "/home/dev"),
        ]);
        let c = Config::from_cli_and_env(
            cli(&[
                "--standalone",
                root,
                "--timeout",
                "5",
                "--memory",
                "256",
                "-e",
                "GREETING=hi=there",
            ]),
            host,
        )
        .unwrap();
        assert_eq!(c.mode, Mode::Standalone);
        assert_eq!(c.timeout, Duration::from_secs(5));
        assert_eq!(c.memory_mb, 256);
        assert_eq!(c.function_name, "function");
        assert_eq!(c.listen, "127.0.0.1:9000".parse().unwrap());
        let get = |k: &str| {
            c.function_env
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
        };
        assert_eq!(get("PATH").as_deref(), Some("/opt/bin:/usr/bin"));
        assert_eq!(get("AWS_SECRET_ACCESS_KEY").as_deref(), Some("test"));
        assert_eq!(get("GREETING").as_deref(), Some("hi=there"));
        assert_eq!(get("HOME"), None);
        assert_eq!(get("AWS_LAMBDA_FUNCTION_TIMEOUT").as_deref(), Some("5"));
    }

    #[test]
    fn standalone_flags_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        assert!(
            Cli::try_parse_from(["lsk-init", "--timeout", "3"]).is_err(),
            "--timeout needs --standalone"
        );
        let err = Config::from_cli_and_env(cli(&["--standalone", root, "-e", "NOEQUALS"]), vec![])
            .unwrap_err();
        assert!(matches!(err, ConfigError::InvalidEnvFlag { .. }));
        let err = Config::from_cli_and_env(cli(&["--standalone", root, "-e", "TMPDIR=/x"]), vec![])
            .unwrap_err();
        assert!(matches!(err, ConfigError::ReservedEnvFlag { .. }));
        let err = Config::from_cli_and_env(cli(&["--standalone", root, "--timeout", "0"]), vec![])
            .unwrap_err();
        assert!(matches!(err, ConfigError::OutOfRange { .. }));
        let err = Config::from_cli_and_env(cli(&["--standalone", "/definitely/not/here"]), vec![])
            .unwrap_err();
        assert!(err.to_string().contains("/definitely/not/here"));
    }

    #[test]
    fn url_safe_ids() {
        assert!(is_url_safe("0f1e2d3c-aaaa-4bbb-8ccc-123456789abc"));
        assert!(!is_url_safe("../status"));
        assert!(!is_url_safe("a b"));
        assert!(!is_url_safe(""));
    }
}
