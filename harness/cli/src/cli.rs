//! The `lsk` command line: argument parsing and one small function per command, each a thin
//! layer over the library. Errors are printed with their hint (their `Diagnostic::help`) and
//! exit with status 1.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use miette::{Diagnostic, IntoDiagnostic, Result, miette};

use lsk::backend::{self, BackendChoice, Env, LocalStack, StartOptions, native};
use lsk::build::BuildTarget;
use lsk::invoke::{self, InvokeMode};
use lsk::manifest::Manifest;
use lsk::output;
use lsk::progress::Progress;
use lsk::stack::{DeployOpts, Stack};

const EXAMPLES: &str = "\
Examples:
  lsk up                         start LocalStack, build, deploy, print every endpoint
  lsk up --backend native --port 4567
  lsk deploy                     redeploy after a change (unchanged functions are not uploaded)
  lsk status                     functions, URLs, queue depths, bucket sizes
  lsk invoke square --data '{\"number\": 6}'
  lsk invoke image-generator --data @request.json --async
  lsk url square                 the function URL (offline and DNS forms)
  lsk logs image-generator --follow
  eval \"$(lsk env)\"              then: awslocal lambda list-functions
  lsk down --purge               stop LocalStack and forget its state

Environment: LSK_BACKEND, LSK_PORT, LSK_REGION, LSK_MANIFEST; LOCALSTACK_ENDPOINT or
AWS_ENDPOINT_URL select an already running LocalStack; LOCALSTACK_AUTH_TOKEN is passed to
the docker image.";

/// Build, deploy and run Rust Lambdas in LocalStack, from one manifest (lsk.toml).
#[derive(Debug, Parser)]
#[command(name = "lsk", version, about, after_help = EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub command: Command,
}

/// Which LocalStack and which stack every command talks to.
#[derive(Debug, Clone, Args)]
pub struct Target {
    /// An already running LocalStack (implies --backend external)
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,
    /// AWS region
    #[arg(long, global = true, env = "LSK_REGION", default_value = lsk::aws::DEFAULT_REGION)]
    pub region: String,
    /// Where LocalStack runs
    #[arg(long, global = true, env = "LSK_BACKEND", value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// LocalStack port on 127.0.0.1
    #[arg(long, global = true, env = "LSK_PORT", default_value_t = backend::DEFAULT_PORT)]
    pub port: u16,
    /// The manifest (default: lsk.toml in this directory, else a SAM template here, else
    /// lsk.toml in the nearest parent)
    #[arg(long, global = true, env = "LSK_MANIFEST", value_name = "PATH")]
    pub manifest: Option<PathBuf>,
    /// A SAM template to run instead of lsk.toml (default: template.yaml, template.yml or
    /// template.json here when there is no lsk.toml)
    #[arg(
        long,
        global = true,
        env = "LSK_TEMPLATE",
        value_name = "PATH",
        conflicts_with = "manifest"
    )]
    pub template: Option<PathBuf>,
    /// A template's parameters: K=V ... (over samconfig.toml's parameter_overrides)
    #[arg(long, global = true, value_name = "K=V", num_args = 1.., value_parser = parse_override)]
    pub parameter_overrides: Vec<(String, String)>,
    /// A template's CloudFormation stack name (default: samconfig.toml's, else the directory's name)
    #[arg(long, global = true, value_name = "NAME")]
    pub stack_name: Option<String>,
    /// Native LocalStack's state, log and pid file (default: .lsk/state next to the manifest)
    #[arg(long, global = true, env = "LSK_STATE_DIR", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl Target {
    /// `--state-dir`, or `<root>/.lsk/state`.
    fn state_dir(&self, root: &std::path::Path) -> PathBuf {
        self.state_dir
            .clone()
            .unwrap_or_else(|| backend::state_dir(root))
    }
}

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Keep functions that are no longer in the manifest (default: remove them)
    #[arg(long)]
    pub no_prune: bool,
    /// Build for this host or for Amazon Linux 2023 (default: from the backend)
    #[arg(long, value_enum, env = "LSK_BUILD_TARGET")]
    pub build_target: Option<BuildTarget>,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
    /// Deploy a template's resources the kit does not run (as LocalStack's inert stand-ins,
    /// listed in the endpoint table) instead of refusing the template
    #[arg(long)]
    pub allow_unsupported: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start LocalStack if needed (it keeps running), build, deploy, print the endpoints
    Up(DeployArgs),
    /// Build and deploy into a running LocalStack, print the endpoints
    Deploy(DeployArgs),
    /// Deployed functions (state, URLs), queue depths, buckets and object counts
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Make a new function: a crate under lambdas/, a workspace member, a [functions.<name>]
    /// table in lsk.toml (created if missing), a handler test with real event fixtures
    New {
        /// Function and crate name (lowercase letters, digits, hyphens)
        name: String,
        /// Give it a function URL (auth NONE)
        #[arg(long)]
        url: bool,
        /// Trigger it from this SQS queue (declared with a dead-letter queue if lsk.toml lacks it)
        #[arg(long, value_name = "QUEUE")]
        sqs: Option<String>,
        /// Trigger it from uploads to this bucket (declared if lsk.toml lacks it)
        #[arg(long, value_name = "BUCKET")]
        s3: Option<String>,
    },
    /// Build our LocalStack image (the docker backend's) if missing, tag it lsk-localstack:latest
    /// for the compose file, and print its tag
    Image {
        /// Base image (default: a local lsk-base:bookworm or python:3.11-slim-bookworm, else
        /// pulled, else made offline from Debian's packages)
        #[arg(long, env = "LSK_DOCKER_BASE")]
        base: Option<String>,
    },
    /// Rebuild on save: each function's next invocation runs the new build, without a
    /// deploy (the stack must be up). Ctrl-C stops watching; `lsk deploy` returns the
    /// functions to zipped code
    Watch {
        /// Functions to watch (default: all)
        functions: Vec<String>,
        /// Build for this host or for Amazon Linux 2023 (default: from the backend)
        #[arg(long, value_enum, env = "LSK_BUILD_TARGET")]
        build_target: Option<BuildTarget>,
    },
    /// Stop the LocalStack `lsk up` started
    Down {
        /// Also delete .lsk/state (LocalStack's data and logs)
        #[arg(long)]
        purge: bool,
    },
    /// Invoke a function and print its answer and the end of its log
    Invoke {
        /// Function name
        function: String,
        /// Payload: JSON, @file, or @- for stdin (default: the manifest's example, else {})
        #[arg(long, short)]
        data: Option<String>,
        /// Queue the invocation (InvocationType=Event) instead of waiting
        #[arg(long = "async")]
        asynchronous: bool,
        #[arg(long)]
        json: bool,
    },
    /// Print a function's URL (offline and DNS forms)
    Url {
        function: String,
        #[arg(long)]
        json: bool,
    },
    /// Print a function's CloudWatch logs (/aws/lambda/<function>)
    Logs {
        function: String,
        /// Keep printing new lines until Ctrl-C
        #[arg(long, short)]
        follow: bool,
        /// How far back to start: 30s, 10m, 2h, 1d
        #[arg(long, default_value = "10m", value_parser = parse_duration)]
        since: Duration,
        /// One JSON object per line
        #[arg(long)]
        json: bool,
    },
    /// Write the stack of lsk.toml in another format: `lsk export sam -o template.yaml`
    Export {
        #[command(subcommand)]
        format: ExportFormat,
    },
    /// Print shell exports for awslocal and AWS SDKs: eval "$(lsk env)"
    Env {
        #[arg(long)]
        json: bool,
    },
}

/// `30s`, `10m`, `2h`, `1d`, `1h 30m` (humantime's units), or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("{s:?} is not a duration ({e}); use e.g. 30s, 10m, 2h, 1d"))
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            report_error(&e);
            ExitCode::FAILURE
        }
    }
}

/// The library's errors say their causes in their own message, so the message and the help
/// are all there is to print.
fn report_error(e: &miette::Report) {
    eprintln!("{}", error_text(e.as_ref()));
}

fn error_text(e: &dyn Diagnostic) -> String {
    match e.help() {
        Some(h) => format!("error: {e}\nhint: {h}"),
        None => format!("error: {e}"),
    }
}

/// A step of a command that failed, and the error it failed with: printed as the step, then
/// the error's own message; its help is the error's.
#[derive(Debug, thiserror::Error)]
#[error("{what}\n  caused by: {source}")]
struct Failed {
    what: String,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
    help: Option<String>,
}

impl Diagnostic for Failed {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display + 'a>)
    }
}

impl Failed {
    /// `what` failed with an I/O error.
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Failed {
        let what = what.into();
        move |source| Failed {
            what,
            source: Box::new(source),
            help: None,
        }
    }
}

/// The stack's file: `--template`, `--manifest`, else `lsk.toml` here, a SAM template here, or
/// the nearest `lsk.toml` above.
fn manifest_path(target: &Target) -> Result<PathBuf> {
    if let Some(p) = target.template.as_ref().or(target.manifest.as_ref()) {
        return Ok(p.clone());
    }
    let cwd = std::env::current_dir().map_err(Failed::io("reading the current directory"))?;
    if !cwd.join(lsk::manifest::FILE_NAME).is_file()
        && let Some(template) = lsk::sam::template::find_in(&cwd)
    {
        return Ok(template);
    }
    Ok(Manifest::find(&cwd)?)
}

/// The directory of the stack's file: where `.lsk/` is.
fn project_root(target: &Target) -> Result<PathBuf> {
    Ok(manifest_path(target)?
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".")))
}

/// Loads the stack; `up` and `deploy` also print its warnings (the others stay quiet).
fn load_stack(target: &Target, warn: bool) -> Result<Stack> {
    let path = manifest_path(target)?;
    let stack = if target.template.is_some() || lsk::sam::template::is_template_path(&path) {
        let options = lsk::sam::LoadOptions {
            parameter_overrides: target.parameter_overrides.clone(),
            stack_name: target.stack_name.clone(),
        };
        Stack::load_template(&path, &options)?
    } else {
        Stack::load(path)?
    };
    if warn {
        for w in &stack.manifest().warnings {
            eprintln!("warning: {w}");
        }
    }
    Ok(stack)
}

fn start_options(target: &Target, stack: &Stack, progress: &Progress) -> StartOptions {
    let root = stack.root();
    let mut opts = StartOptions::new(root)
        .services(stack.services())
        .port(target.port)
        .region(target.region.clone())
        .endpoint(target.endpoint.clone())
        .env(Env::from_process())
        .progress(progress.clone());
    opts.state_dir = target.state_dir(root);
    opts
}

/// The backend choice, with `--endpoint` implying external.
fn choice(target: &Target) -> BackendChoice {
    if target.endpoint.is_some() && target.backend == BackendChoice::Auto {
        BackendChoice::External
    } else {
        target.backend
    }
}

async fn connect(target: &Target, stack: &Stack) -> Result<LocalStack> {
    let progress = Progress::silent();
    Ok(LocalStack::connect(choice(target), start_options(target, stack, &progress)).await?)
}

async fn run(cli: Cli) -> Result<ExitCode> {
    let target = cli.target;
    match cli.command {
        Command::Up(args) => up(&target, args).await,
        Command::Deploy(args) => deploy(&target, args).await,
        Command::Status { json } => status(&target, json).await,
        Command::Watch {
            functions,
            build_target,
        } => watch(&target, functions, build_target).await,
        Command::Down { purge } => down(&target, purge).await,
        Command::Image { base } => image(&target, base.as_deref()).await,
        Command::New { name, url, sqs, s3 } => new_function(&target, name, url, sqs, s3),
        Command::Invoke {
            function,
            data,
            asynchronous,
            json,
        } => invoke_cmd(&target, &function, data, asynchronous, json).await,
        Command::Url { function, json } => url(&target, &function, json).await,
        Command::Logs {
            function,
            follow,
            since,
            json,
        } => logs(&target, &function, follow, since, json).await,
        Command::Env { json } => env(&target, json),
        Command::Export {
            format: ExportFormat::Sam { output, validate },
        } => export_sam(&target, output, validate).await,
    }
}

fn deploy_opts(args: &DeployArgs, progress: &Progress) -> DeployOpts {
    DeployOpts {
        prune: !args.no_prune,
        target: args.build_target,
        progress: progress.clone(),
        allow_unsupported: args.allow_unsupported,
    }
}

fn print_deployed(deployed: &lsk::Deployed, json: bool) {
    if json {
        let value = serde_json::json!({
            "report": deployed.report(),
            "stack": deployed.view(),
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    } else {
        eprintln!("{}", deployed.report());
        println!();
        print!("{}", output::render_text(deployed.view()));
    }
}

async fn up(target: &Target, args: DeployArgs) -> Result<ExitCode> {
    let stack = load_stack(target, true)?;
    let progress = Progress::auto();
    let opts = start_options(target, &stack, &progress).detach(true);
    let up = stack
        .up(choice(target), opts, &deploy_opts(&args, &progress))
        .await?;
    print_deployed(&up.deployed, args.json);
    Ok(ExitCode::SUCCESS)
}

async fn deploy(target: &Target, args: DeployArgs) -> Result<ExitCode> {
    let stack = load_stack(target, true)?;
    let progress = Progress::auto();
    let localstack = connect(target, &stack).await?;
    progress.note(&format!("backend {}", localstack.reason()));
    let deployed = stack
        .deploy_with(&localstack, &deploy_opts(&args, &progress))
        .await?;
    print_deployed(&deployed, args.json);
    Ok(ExitCode::SUCCESS)
}

async fn watch(
    target: &Target,
    functions: Vec<String>,
    build_target: Option<BuildTarget>,
) -> Result<ExitCode> {
    let stack = load_stack(target, true)?;
    let progress = Progress::plain();
    let localstack = connect(target, &stack).await?;
    let opts = lsk::watch::WatchOpts {
        functions,
        target: build_target,
        progress: progress.clone(),
    };
    let stop = async {
        // No handler means no Ctrl-C to wait for: watch until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    lsk::watch::watch(&stack, &localstack, &opts, stop, |_| {}).await?;
    progress.note("stopped watching; the stack keeps running the last good build (`lsk deploy` returns to zipped code)");
    Ok(ExitCode::SUCCESS)
}

async fn status(target: &Target, json: bool) -> Result<ExitCode> {
    let stack = load_stack(target, false)?;
    let localstack = connect(target, &stack).await?;
    let observed = stack.observe(&localstack).await?;
    if json {
        println!("{}", output::render_json(observed.view()));
    } else {
        print!("{}", output::render_text(observed.view()));
    }
    Ok(ExitCode::SUCCESS)
}

async fn down(target: &Target, purge: bool) -> Result<ExitCode> {
    let root = project_root(target)?;
    let state_dir = target.state_dir(&root);
    let mut stopped = Vec::new();
    let which = choice(target);
    if which == BackendChoice::External {
        eprintln!("nothing to stop: an external LocalStack is not managed by lsk");
    }
    if matches!(which, BackendChoice::Auto | BackendChoice::Native)
        && native::stop_detached(&state_dir).await?
    {
        stopped.push("native LocalStack");
    }
    // Only the container `lsk up` recorded in the state dir: never one it did not start.
    if matches!(
        which,
        BackendChoice::Auto | BackendChoice::Docker | BackendChoice::DockerOfficial
    ) && backend::docker::stop_detached(&state_dir).await?
    {
        stopped.push("LocalStack container");
    }
    if stopped.is_empty() && which != BackendChoice::External {
        eprintln!("no LocalStack started by `lsk up` was running");
    } else if !stopped.is_empty() {
        eprintln!("stopped: {}", stopped.join(", "));
    }
    if purge {
        match std::fs::remove_dir_all(&state_dir) {
            Ok(()) => eprintln!("deleted {}", state_dir.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Failed::io(format!("deleting {}", state_dir.display()))(e).into()),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_payload(data: Option<String>, example: Option<&str>) -> Result<Vec<u8>> {
    let bytes = match data.as_deref() {
        None => example.unwrap_or("{}").as_bytes().to_vec(),
        Some("@-") => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(Failed::io("reading the payload from stdin"))?;
            buf
        }
        Some(d) if d.starts_with('@') => std::fs::read(&d[1..])
            .map_err(Failed::io(format!("reading the payload from {}", &d[1..])))?,
        Some(d) => d.as_bytes().to_vec(),
    };
    serde_json::from_slice::<serde_json::Value>(&bytes).map_err(|e| {
        miette!(
            "the payload is not JSON ({e}); Lambda payloads are JSON, e.g. --data '{{\"number\": 6}}'"
        )
    })?;
    Ok(bytes)
}

async fn invoke_cmd(
    target: &Target,
    function: &str,
    data: Option<String>,
    asynchronous: bool,
    json: bool,
) -> Result<ExitCode> {
    let stack = load_stack(target, false)?;
    let example = stack
        .manifest()
        .functions
        .get(function)
        .and_then(|f| f.example.as_deref());
    let payload = read_payload(data, example)?;
    let localstack = connect(target, &stack).await?;
    let clients = lsk::aws::Clients::new(&localstack.sdk_config());
    let lambda_name = stack.lambda_name(&localstack, function).await?;
    let mode = if asynchronous {
        InvokeMode::Async
    } else {
        InvokeMode::Sync
    };
    let result = invoke::invoke(&clients, &lambda_name, &payload, mode).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&result).into_diagnostic()?
        );
        return Ok(if result.function_error.is_some() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        });
    }
    if asynchronous {
        eprintln!(
            "queued (status {}); `lsk logs {function}` shows what it did",
            result.status
        );
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(tail) = &result.log_tail {
        eprintln!("--- log tail ---\n{}\n----------------", tail.trim_end());
    }
    match result.failure() {
        Some(f) => {
            eprintln!(
                "error: function {function} failed: {}: {}",
                f.error_type, f.message
            );
            Ok(ExitCode::FAILURE)
        }
        None => {
            // Printed exactly as the function returned it: re-encoding through serde_json would
            // turn integers beyond 64 bits (square's exact results) into floats.
            println!("{}", result.payload);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn url(target: &Target, function: &str, json: bool) -> Result<ExitCode> {
    let stack = load_stack(target, false)?;
    let localstack = connect(target, &stack).await?;
    let observed = stack.observe(&localstack).await?;
    let handle = observed.function(function)?;
    let view = handle
        .url_view()
        .ok_or_else(|| lsk::Error::NoUrl(function.to_owned()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(view).into_diagnostic()?);
    } else {
        println!("{}", view.offline);
        eprintln!("(with public DNS: {})", view.localstack_cloud);
    }
    Ok(ExitCode::SUCCESS)
}

/// `HH:MM:SS.mmm` (UTC) of a millisecond timestamp.
pub fn clock(ms: i64) -> String {
    let day_ms = ms.rem_euclid(86_400_000);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    )
}

async fn logs(
    target: &Target,
    function: &str,
    follow: bool,
    since: Duration,
    json: bool,
) -> Result<ExitCode> {
    let stack = load_stack(target, false)?;
    let localstack = connect(target, &stack).await?;
    let clients = lsk::aws::Clients::new(&localstack.sdk_config());
    let lambda_name = stack.lambda_name(&localstack, function).await?;
    let mut start = invoke::millis_ago(since);
    let mut seen = std::collections::HashSet::new();
    let mut printed_any = false;
    loop {
        for line in invoke::logs(&clients, &lambda_name, start).await? {
            if !line.event_id.is_empty() && !seen.insert(line.event_id.clone()) {
                continue;
            }
            start = start.max(line.timestamp_ms);
            if json {
                println!("{}", serde_json::to_string(&line).into_diagnostic()?);
            } else {
                println!("{}Z {}", clock(line.timestamp_ms), line.message);
            }
            printed_any = true;
        }
        if !follow {
            break;
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
    if !printed_any && !follow {
        eprintln!(
            "no log lines for {function} in the last {} (group {})",
            humantime::format_duration(since),
            invoke::log_group(&lambda_name)
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn new_function(
    target: &Target,
    name: String,
    url: bool,
    sqs: Option<String>,
    s3: Option<String>,
) -> Result<ExitCode> {
    // The workspace root: next to `--manifest` if given, else the nearest Cargo workspace
    // around this directory (never an lsk.toml further up that belongs to another workspace).
    let root = match &target.manifest {
        Some(path) => path
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
        None => {
            let cwd =
                std::env::current_dir().map_err(Failed::io("reading the current directory"))?;
            crate::scaffold::workspace_root(&cwd)?
        }
    };
    let created = crate::scaffold::create(
        &root,
        &crate::scaffold::NewFunction {
            name: name.clone(),
            url,
            sqs,
            s3,
        },
    )?;
    eprintln!("created {}", created.crate_dir.display());
    for f in &created.files {
        eprintln!("  {}", f.strip_prefix(&root).unwrap_or(f).display());
    }
    eprintln!(
        "{} [functions.{name}] in {}; added lambdas/{name} to the workspace members",
        if created.manifest_created {
            "created lsk.toml with"
        } else {
            "added"
        },
        created.manifest.display()
    );
    eprintln!(
        "next: cargo test -p {name}, then `lsk up` (or `lsk deploy`) and `lsk invoke {name}`"
    );
    Ok(ExitCode::SUCCESS)
}

async fn image(target: &Target, base: Option<&str>) -> Result<ExitCode> {
    let root = project_root(target)?;
    let progress = Progress::auto();
    let tag = backend::image::build_and_tag_latest(&root, base, &progress).await?;
    println!("{tag}");
    eprintln!(
        "tagged {}: LSK_PORT=4566 docker compose -f {} -p {} up -d   (or docker-compose)",
        backend::docker::LATEST_IMAGE,
        backend::docker::compose_path(&root).display(),
        backend::docker::COMPOSE_PROJECT
    );
    Ok(ExitCode::SUCCESS)
}

fn env(target: &Target, json: bool) -> Result<ExitCode> {
    let root = project_root(target)?;
    let process_env = Env::from_process();
    let endpoint = match (&target.endpoint, process_env.endpoint()) {
        (Some(e), _) => e.clone(),
        (None, Some((_, e))) => e.to_owned(),
        (None, None) => native::find_detached(&target.state_dir(&root))
            .map(|(_, e)| e)
            .or_else(|| backend::docker::read_record(&target.state_dir(&root)).map(|r| r.endpoint))
            .unwrap_or_else(|| backend::local_endpoint(target.port)),
    };
    let venv_bin = lsk::stack::venv_bin(&root);
    if json {
        let value = serde_json::json!({
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": lsk::aws::ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": lsk::aws::SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": target.region,
            "AWS_REGION": target.region,
            "venv_bin": venv_bin,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&value).into_diagnostic()?
        );
        return Ok(ExitCode::SUCCESS);
    }
    print!(
        "{}",
        output::env_lines(&endpoint, &target.region, &venv_bin)
    );
    if std::io::stdout().is_terminal() {
        eprintln!("# apply with: eval \"$(lsk env)\"");
    }
    Ok(ExitCode::SUCCESS)
}

mod sam;
use sam::export_sam;
pub use sam::{ExportFormat, parse_override};

#[cfg(test)]
mod tests;
