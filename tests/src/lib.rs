//! Shared setup for the end-to-end tests: one LocalStack per test binary, deployed once.
//!
//! The first test that asks for a [`Kit`] starts LocalStack (through the harness library, as a
//! user's own tests would) and deploys a manifest; the others reuse it. Teardown needs no
//! hook: on the native backend LocalStack is attached to this process through a stdin pipe,
//! so when the test binary exits, however it exits, LocalStack and every Lambda process it
//! started stop by themselves.
//!
//! Each test talks to LocalStack with clients made in its own tokio runtime
//! ([`Kit::deployed`]): SDK clients hold connection pools tied to the runtime that made them.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use lsk::{BackendChoice, BackendKind, Deployed, HttpReply, LocalStack, Stack, StartOptions};

/// The workspace root (holds `lsk.toml`, `localstack/`, `.lsk/`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// What a stack is written in: resources are addressed by their manifest names, or by the
/// logical IDs `lsk export sam` gives them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Manifest,
    ExportedSam,
}

/// What a test binary deploys and how LocalStack is chosen.
pub struct Spec {
    /// Names the state dir (`target/lsk-e2e/<name>`), so binaries running at once never share one.
    pub name: &'static str,
    pub stack: Stack,
    pub backend: BackendChoice,
    /// Extra LocalStack settings on the native backend.
    pub native_env: Vec<(String, String)>,
    pub source: Source,
}

impl Spec {
    /// The examples' own `lsk.toml`, on the backend `auto` picks (an endpoint in the
    /// environment, else native where it runs, else Docker if a daemon answers).
    pub fn examples() -> Spec {
        Spec::examples_on(BackendChoice::Auto)
    }

    /// The examples' own `lsk.toml` on `backend`.
    pub fn examples_on(backend: BackendChoice) -> Spec {
        Spec {
            name: match backend {
                BackendChoice::Native => "examples-native",
                BackendChoice::Docker => "examples-docker",
                BackendChoice::DockerOfficial => "examples-docker-official",
                BackendChoice::Auto | BackendChoice::External => "examples",
            },
            stack: Stack::load(root().join("lsk.toml")).expect("lsk.toml loads"),
            backend,
            native_env: Vec::new(),
            source: Source::Manifest,
        }
    }

    /// The examples' `lsk.toml` exported with `lsk export sam` to
    /// `target/lsk-e2e/examples-exported/template.yaml` and run from there as a SAM project, with
    /// the queues' `local` visibility timeouts given as parameter overrides (the template holds
    /// the AWS values).
    pub fn examples_exported(backend: BackendChoice) -> Spec {
        let manifest = Stack::load(root().join("lsk.toml")).expect("lsk.toml loads");
        let path = root().join("target/lsk-e2e/examples-exported/template.yaml");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let runtime = tokio::runtime::Runtime::new().expect("a runtime for the export");
        let yaml = runtime
            .block_on(manifest.export_sam(&path))
            .unwrap_or_else(|e| panic!("lsk export sam failed: {e}"));
        std::fs::write(&path, yaml).unwrap();
        let overrides = manifest
            .manifest()
            .queues
            .values()
            .filter_map(|q| {
                let local = q.local_visibility_timeout?;
                Some((
                    lsk::sam::export::visibility_parameter(&q.name),
                    local.to_string(),
                ))
            })
            .collect();
        let options = lsk::sam::LoadOptions {
            parameter_overrides: overrides,
            stack_name: Some("examples".into()),
        };
        Spec {
            name: match backend {
                BackendChoice::Docker => "examples-exported-docker",
                _ => "examples-exported",
            },
            stack: Stack::load_template(&path, &options)
                .unwrap_or_else(|e| panic!("the exported template does not load: {e}")),
            backend,
            native_env: Vec::new(),
            source: Source::ExportedSam,
        }
    }

    /// The SAM template at `path` (relative to the workspace root), with its defaults.
    pub fn template(name: &'static str, path: &str, backend: BackendChoice) -> Spec {
        let path = root().join(path);
        Spec {
            name,
            stack: Stack::load(&path)
                .unwrap_or_else(|e| panic!("test template {} is invalid: {e}", path.display())),
            backend,
            native_env: Vec::new(),
            source: Source::Manifest,
        }
    }

    /// A manifest given as text, rooted at the workspace (as if it were `<root>/<name>.lsk.toml`).
    pub fn inline(name: &'static str, manifest: &str, backend: BackendChoice) -> Spec {
        let path = root().join(format!("{name}.lsk.toml"));
        let manifest = lsk::Manifest::parse(manifest, &path)
            .unwrap_or_else(|e| panic!("test manifest {name} is invalid: {e}"));
        Spec {
            name,
            stack: Stack::from_manifest(manifest),
            backend,
            native_env: Vec::new(),
            source: Source::Manifest,
        }
    }
}

/// A LocalStack with a stack deployed into it, shared by the tests of one binary.
pub struct Kit {
    pub endpoint: String,
    pub region: String,
    pub backend: BackendKind,
    /// Why the backend was picked, as the harness said it.
    pub reason: String,
    /// LocalStack's process id when this binary started it (native).
    pub pid: Option<u32>,
    /// The container LocalStack runs in (docker backends).
    pub container: Option<String>,
    pub state_dir: PathBuf,
    pub stack: Stack,
    pub source: Source,
    /// Keeps LocalStack (and its lifeline) alive for the life of the test binary.
    _localstack: Mutex<LocalStack>,
}

impl Kit {
    /// The kit in `cell`, started and deployed from `spec()` on first use.
    ///
    /// Panics with the harness's own error (what a user would have seen) when it cannot start.
    pub fn shared(
        cell: &'static OnceLock<Result<Kit, String>>,
        spec: fn() -> Spec,
    ) -> &'static Kit {
        let kit = cell.get_or_init(|| {
            // Its own thread and runtime: the caller may be inside a test's runtime, and the
            // start must not depend on that runtime living on.
            std::thread::spawn(move || {
                let rt = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
                rt.block_on(start(spec()))
            })
            .join()
            .unwrap_or_else(|_| Err("starting the kit panicked".into()))
        });
        match kit {
            Ok(kit) => kit,
            Err(e) => panic!("could not start LocalStack and deploy:\n{e}"),
        }
    }

    /// Handles on what is deployed, with clients bound to the calling test's runtime.
    pub async fn deployed(&self) -> Deployed {
        let ls = LocalStack::attach(&self.endpoint, &self.region)
            .await
            .unwrap_or_else(|e| panic!("LocalStack at {} stopped answering: {e}", self.endpoint));
        self.stack
            .observe(&ls)
            .await
            .unwrap_or_else(|e| panic!("could not read the deployed stack: {e}"))
    }

    /// How the stack's source names a resource of the examples' manifest.
    pub fn id(&self, kind: lsk::manifest::RefKind, name: &str) -> String {
        match self.source {
            Source::Manifest => name.to_owned(),
            Source::ExportedSam => lsk::sam::export::logical_id(kind, name),
        }
    }
    pub fn function_id(&self, name: &str) -> String {
        self.id(lsk::manifest::RefKind::Function, name)
    }
    pub fn queue_id(&self, name: &str) -> String {
        self.id(lsk::manifest::RefKind::Queue, name)
    }
    /// A bucket by its key in the manifest.
    pub fn bucket_id(&self, key: &str) -> String {
        self.id(lsk::manifest::RefKind::Bucket, key)
    }
    pub fn machine_id(&self, name: &str) -> String {
        self.id(lsk::manifest::RefKind::StateMachine, name)
    }

    /// SDK configuration for this LocalStack (static test credentials, path-style S3).
    pub fn sdk(&self) -> aws_config::SdkConfig {
        lsk::aws::sdk_config(&self.endpoint, &self.region)
    }

    /// Environment for the real command-line clients (`awslocal`, `aws`) against this LocalStack.
    pub fn cli_env(&self) -> Vec<(String, String)> {
        let path = format!(
            "{}:{}",
            lsk::stack::venv_bin(&root()).display(),
            std::env::var("PATH").unwrap_or_default()
        );
        vec![
            ("PATH".into(), path),
            ("AWS_ENDPOINT_URL".into(), self.endpoint.clone()),
            ("LOCALSTACK_ENDPOINT".into(), self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID".into(), "test".into()),
            ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
            ("AWS_DEFAULT_REGION".into(), self.region.clone()),
            ("AWS_REGION".into(), self.region.clone()),
        ]
    }
}

async fn start(spec: Spec) -> Result<Kit, String> {
    let root = root();
    let state_dir = root.join("target").join("lsk-e2e").join(spec.name);
    let mut opts = StartOptions::new(&root)
        .port(0)
        .native_env(spec.native_env)
        .services(spec.stack.services())
        .progress(lsk::Progress::plain());
    opts.state_dir = state_dir.clone();
    let up = spec
        .stack
        .up(spec.backend, opts, &lsk::DeployOpts::default())
        .await
        .map_err(|e| {
            format!(
                "bringing {} up failed: {e}{}",
                spec.name,
                e.hint().map(|h| format!("\nhint: {h}")).unwrap_or_default()
            )
        })?;
    let ls = up.localstack;
    Ok(Kit {
        endpoint: ls.endpoint().to_owned(),
        region: ls.region().to_owned(),
        backend: ls.backend(),
        reason: ls.reason().to_owned(),
        pid: ls.pid(),
        container: ls.container().map(str::to_owned),
        state_dir,
        stack: spec.stack,
        source: spec.source,
        _localstack: Mutex::new(ls),
    })
}

/// One suite, run against each backend: `backend_suite!(spec_for; test_a, test_b, ...)` makes
/// a module per backend (`native::test_a`, `docker::test_a`, ...), each with its own LocalStack
/// started from `spec_for(BackendChoice::...)` on first use, calling `test_a(kit)`. Where no
/// Docker daemon answered when the tests were built, the docker ones show as ignored, with the
/// reason, instead of passing without running.
#[macro_export]
macro_rules! backend_suite {
    ($spec:path; $($test:ident),+ $(,)?) => {
        fn __backend_suite_spec(backend: ::lsk::BackendChoice) -> $crate::Spec {
            $spec(backend)
        }
        $crate::backend_suite!(@module native, Native, [], $($test),+);
        $crate::backend_suite!(
            @module docker,
            Docker,
            [cfg_attr(
                lsk_no_docker,
                ignore = "no Docker daemon answered when these tests were built (start one and rebuild)"
            )],
            $($test),+
        );
    };
    (@module $module:ident, $choice:ident, $attrs:tt, $($test:ident),+) => {
        mod $module {
            static KIT: ::std::sync::OnceLock<::std::result::Result<$crate::Kit, String>> =
                ::std::sync::OnceLock::new();

            pub(super) fn kit() -> &'static $crate::Kit {
                $crate::Kit::shared(&KIT, || {
                    super::__backend_suite_spec(::lsk::BackendChoice::$choice)
                })
            }

            $( $crate::backend_suite!(@test $attrs, $test); )+
        }
    };
    (@test [$($attr:meta)*], $test:ident) => {
        #[tokio::test]
        $(#[$attr])*
        async fn $test() {
            super::$test(kit()).await
        }
    };
}

/// A suite run once, on the native backend, in module `$module`, against the stack
/// `$spec(BackendChoice::Native)` gives: `native_suite!(exported; Spec::examples_exported; a, b)`.
#[macro_export]
macro_rules! native_suite {
    ($module:ident; $spec:path; $($test:ident),+ $(,)?) => {
        mod $module {
            static KIT: ::std::sync::OnceLock<::std::result::Result<$crate::Kit, String>> =
                ::std::sync::OnceLock::new();

            pub(super) fn kit() -> &'static $crate::Kit {
                $crate::Kit::shared(&KIT, || $spec(::lsk::BackendChoice::Native))
            }

            $(
                #[tokio::test]
                async fn $test() {
                    super::$test(kit()).await
                }
            )+
        }
    };
}

/// What a user would have seen from an HTTP call, for assertion messages.
pub fn seen(method: &str, url: &str, reply: &HttpReply) -> String {
    let text = reply.text();
    let body = if text.chars().count() > 600 {
        let head: String = text.chars().take(600).collect();
        format!("{head}... ({} bytes)", reply.body.len())
    } else {
        text
    };
    format!("{method} {url} -> HTTP {}: {body}", reply.status)
}

/// A header of a reply, case-insensitively.
pub fn header<'a>(reply: &'a HttpReply, name: &str) -> Option<&'a str> {
    reply
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Polls `check` until it returns Some or `timeout` passes; the error names what was awaited.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = check().await {
            return Ok(v);
        }
        if start.elapsed() > timeout {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// A short random-enough tag so repeated runs never collide on names or content-addressed keys.
pub fn nonce() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{:x}{:x}", t, std::process::id())
}

/// Whether a container of that exact name exists (running or not).
pub fn container_exists(name: &str) -> bool {
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("name=^{name}$"),
            "--format",
            "{{.ID}}",
        ])
        .output()
        .unwrap_or_else(|e| panic!("running docker ps: {e}"));
    !String::from_utf8_lossy(&out.stdout).trim().is_empty()
}

/// Invokes the `probe` test function (tests/probe) asking it to write `line` to its output,
/// which lands in the invocation's logs.
pub async fn probe_log(
    probe: &lsk::FunctionHandle<'_>,
    line: &str,
    mode: lsk::InvokeMode,
) -> lsk::Invocation {
    let payload = serde_json::json!({"action": "log", "line": line}).to_string();
    probe
        .invoke_raw(payload.as_bytes(), mode)
        .await
        .unwrap_or_else(|e| panic!("invoking the probe to log {line:?} failed: {e}"))
}

/// Every line of `function`'s CloudWatch log of the last ten minutes, as one text.
pub async fn log_text(deployed: &lsk::Deployed, function: &str) -> String {
    let lines = deployed
        .function(function)
        .unwrap_or_else(|e| panic!("{e}"))
        .logs(std::time::Duration::from_secs(600))
        .await
        .unwrap_or_default();
    lines
        .iter()
        .map(|l| l.message.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}
