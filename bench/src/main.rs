//! `lsk-bench`: measures the kit against LocalStack's own floor (issue 6): warm invoke and
//! function URL latency beside ListFunctions, the same function with no LocalStack, throughput,
//! cold starts, the SQS -> S3 image pipeline, the `lsk` developer loop, and memory.
//!
//! Everything runs on 127.0.0.1, in LocalStacks the bench starts itself (free ports, state
//! under `<target>/bench/state`) and always stops, even on error or Ctrl-C; at the end it
//! proves from /proc that none of its processes is left. Results: a markdown table and
//! PASS/FAIL lines on stdout, the same as JSON in `<target>/bench/bench.json`. The exit status
//! is 0 when every measurement was made (whatever the verdicts), 1 when some could not be.
#![forbid(unsafe_code)]

mod anchor;
mod cold;
mod devloop;
mod docker;
mod http;
mod lambda;
mod load;
mod machine;
mod memory;
mod pipeline;
mod procs;
mod report;
mod standalone;
mod stats;

/// The cargo profile `make bench` builds lsk and lsk-bench with (workspace Cargo.toml).
pub const TOOLS_PROFILE: &str = "bench-tools";

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use serde::Serialize;

use lsk::build::Built;
use lsk::{BackendChoice, BuildTarget, DeployOpts, LocalStack, Progress, Stack, StartOptions};

use crate::http::{Check, Client};
use crate::lambda::{Endpoints, check_36};
use crate::machine::Machine;
use crate::report::{Report, Section};
use crate::stats::{Measured, Unit};

/// The function the floor, cold and memory figures are about.
const FUNCTION: &str = "square";

/// Measure the kit: latency against LocalStack's floor, throughput, cold starts, the image
/// pipeline, the developer loop, memory.
#[derive(Debug, Parser)]
#[command(name = "lsk-bench", version)]
struct Args {
    /// Fewer samples and shorter runs: a smoke test of the bench itself, not figures to quote
    #[arg(long)]
    quick: bool,
    /// Leave out a part (repeatable)
    #[arg(long, value_enum, value_name = "SECTION")]
    skip: Vec<Section>,
    /// Add a part the default run leaves out (repeatable): `reader`, the executor's own HTTP
    /// reader against h11
    #[arg(long = "with", value_enum, value_name = "SECTION")]
    with: Vec<Section>,
    /// Workspace root (default: the nearest directory holding lsk.toml, from the current one up)
    #[arg(long)]
    root: Option<PathBuf>,
    /// Extra setting for the LocalStacks the bench starts itself (not the developer loop's
    /// `lsk up`), e.g. `--ls-env LS_LOG=error` (repeatable; to see what a setting changes)
    #[arg(long = "ls-env", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    ls_env: Vec<(String, String)>,
}

impl Args {
    /// `--skip`, and the opt-in parts not asked for with `--with`.
    fn skipped(&self) -> Vec<Section> {
        let mut skipped = self.skip.clone();
        skipped.extend(
            report::OPT_IN
                .iter()
                .filter(|s| !self.with.contains(s) && !self.skip.contains(s)),
        );
        skipped
    }
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v))
            if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            Ok((k.to_owned(), v.to_owned()))
        }
        _ => Err(format!("{s:?} is not KEY=VALUE (e.g. LS_LOG=error)")),
    }
}

/// How much of everything to do.
#[derive(Debug, Clone, Serialize)]
struct Plan {
    quick: bool,
    warmup: usize,
    samples: usize,
    standalone_samples: usize,
    throughput_secs: f64,
    cold_samples: usize,
    pipeline_prompts: usize,
    pipeline_timeout_secs: u64,
    devloop_reps: usize,
    /// LocalStack's memory over many warm invokes.
    soak: memory::Soak,
    /// Containers started only to time their start to Ready, besides the measured one.
    docker_starts: usize,
    nonce: String,
    skipped: Vec<Section>,
    /// Extra settings given with `--ls-env`.
    localstack_env: Vec<(String, String)>,
}

impl Plan {
    fn new(quick: bool, skipped: Vec<Section>, localstack_env: Vec<(String, String)>) -> Plan {
        let nonce = format!(
            "{:x}{:x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis()),
            std::process::id()
        );
        if quick {
            Plan {
                quick,
                warmup: 20,
                samples: 200,
                standalone_samples: 300,
                throughput_secs: 1.0,
                cold_samples: 3,
                pipeline_prompts: 100,
                pipeline_timeout_secs: 120,
                devloop_reps: 1,
                soak: memory::Soak {
                    warmup: 500,
                    invokes: 2_000,
                    clients: 2,
                },
                docker_starts: 0,
                nonce,
                skipped,
                localstack_env,
            }
        } else {
            Plan {
                quick,
                warmup: 50,
                samples: 1000,
                standalone_samples: 2000,
                throughput_secs: 3.0,
                cold_samples: 10,
                pipeline_prompts: 500,
                pipeline_timeout_secs: 300,
                devloop_reps: 3,
                soak: memory::Soak {
                    warmup: 2_000,
                    invokes: report::SOAK_INVOKES,
                    clients: 2,
                },
                docker_starts: 4,
                nonce,
                skipped,
                localstack_env,
            }
        }
    }

    fn runs(&self, s: Section) -> bool {
        !self.skipped.contains(&s)
    }
}

struct Ctx {
    root: PathBuf,
    bench_dir: PathBuf,
    plan: Plan,
    stack: Stack,
}

impl Ctx {
    async fn new(args: &Args) -> Result<Ctx> {
        let root = match &args.root {
            Some(r) => r.clone(),
            None => {
                let cwd = std::env::current_dir().context("reading the current directory")?;
                match lsk::Manifest::find(&cwd) {
                    Ok(path) => path
                        .parent()
                        .map(Path::to_path_buf)
                        .ok_or_else(|| anyhow!("{} has no parent", path.display()))?,
                    // Run from elsewhere: the workspace this binary was built from.
                    Err(_) => Path::new(env!("CARGO_MANIFEST_DIR"))
                        .parent()
                        .map(Path::to_path_buf)
                        .ok_or_else(|| anyhow!("no workspace root above the bench crate"))?,
                }
            }
        };
        let root = root
            .canonicalize()
            .with_context(|| format!("workspace root {}", root.display()))?;
        let stack = Stack::load(root.join("lsk.toml"))
            .with_context(|| format!("loading {}", root.join("lsk.toml").display()))?;
        if !stack.manifest().functions.contains_key(FUNCTION) {
            return Err(anyhow!(
                "lsk.toml has no function `{FUNCTION}`; the bench measures the example stack"
            ));
        }
        let target_dir = lsk::build::workspace(&root)
            .await
            .context("asking cargo metadata for the target directory")?
            .target_directory;
        let bench_dir = target_dir.join("bench");
        std::fs::create_dir_all(&bench_dir)
            .with_context(|| format!("creating {}", bench_dir.display()))?;
        Ok(Ctx {
            root,
            bench_dir,
            plan: Plan::new(args.quick, args.skipped(), args.ls_env.clone()),
            stack,
        })
    }

    fn devloop_dir(&self) -> PathBuf {
        self.bench_dir.join("devloop")
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    // One thread: the client adds no cross-thread wake-ups to a sample, and leaves the cores
    // to LocalStack and the functions (the bottleneck is LocalStack's Python, not the client).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lsk-bench: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(run(args))
}

/// A progress line, with the time since the bench's first one: where a run's minutes go.
fn progress(msg: &str) {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let secs = START.get_or_init(Instant::now).elapsed().as_secs();
    eprintln!("[lsk-bench {}:{:02}] {msg}", secs / 60, secs % 60);
}

async fn run(args: Args) -> ExitCode {
    let ctx = match Ctx::new(&args).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("lsk-bench: {e:#}");
            return ExitCode::from(2);
        }
    };
    let stale = procs::owned_by_bench(&ctx.bench_dir);
    if !stale.is_empty() {
        progress(&format!(
            "stopping {} process(es) left by an earlier bench run: {:?}",
            stale.len(),
            stale
        ));
        let pids: Vec<u32> = stale.iter().map(|(p, _)| *p).collect();
        procs::terminate_all(&pids, Duration::from_secs(10)).await;
    }
    let mut report = Report::new(&ctx.plan.skipped);
    let mut machine = Machine::detect();
    let mut docker = docker::Owned::default();
    let started = Instant::now();
    let interrupted = tokio::select! {
        () = all(&ctx, &mut report, &mut machine, &mut docker) => false,
        _ = tokio::signal::ctrl_c() => true,
    };
    if interrupted {
        report
            .errors
            .push("interrupted (Ctrl-C): stopped early".into());
    }
    cleanup(&ctx, &mut report, &docker).await;
    report.close();
    print_results(&ctx, &report, &machine, started.elapsed());
    if report.incomplete() || interrupted {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Every part, in an order that keeps them from disturbing each other.
async fn all(ctx: &Ctx, report: &mut Report, machine: &mut Machine, docker: &mut docker::Owned) {
    let needs_build = [
        Section::Floor,
        Section::Standalone,
        Section::Throughput,
        Section::Memory,
        Section::Cold,
        Section::Pipeline,
        Section::Docker,
        Section::Reader,
    ]
    .iter()
    .any(|s| ctx.plan.runs(*s));
    let built = if needs_build {
        progress("building the functions and lsk-init (release)");
        match ctx
            .stack
            .build(BuildTarget::Host, true, &Progress::plain())
            .await
        {
            Ok(b) => Some(b),
            Err(e) => {
                let why = format!("building the functions failed: {e}");
                for s in [
                    Section::Floor,
                    Section::Standalone,
                    Section::Throughput,
                    Section::Memory,
                    Section::Cold,
                    Section::Pipeline,
                    Section::Docker,
                    Section::Reader,
                ] {
                    report.fail_section(s, &why);
                }
                None
            }
        }
    } else {
        None
    };
    let mut cold_first = Vec::new();
    if let Some(built) = &built {
        if ctx.plan.runs(Section::Standalone) {
            progress("standalone: square behind lsk-init --standalone");
            if let Err(e) = standalone_phase(ctx, built, report).await {
                report.fail_section(Section::Standalone, &format!("{e:#}"));
            }
        }
        main_localstack(ctx, report, machine, &mut cold_first).await;
        if ctx.plan.runs(Section::Cold) {
            reap_localstack(ctx, report, &mut cold_first).await;
        }
        if ctx.plan.runs(Section::Reader) {
            reader_phase(ctx, report, &mut cold_first).await;
        }
        // Right after the native LocalStacks, so the two are compared under the same load.
        if ctx.plan.runs(Section::Docker) {
            docker::container_phases(ctx, built, report, machine, docker).await;
        }
    }
    if let Some(m) = Measured::of_durations_ms(&cold_first) {
        report.set("cold_first", m);
        report.note("cold_first", "one per LocalStack started");
    }
    if ctx.plan.runs(Section::Devloop) {
        progress("developer loop: lsk up / deploy / down");
        devloop_phase(ctx, report).await;
    }
    if ctx.plan.runs(Section::Docker) {
        docker::lsk_up_phase(ctx, report, docker).await;
    }
    if ctx.plan.runs(Section::Anchor) {
        anchor_phase(ctx, report).await;
    }
}

async fn standalone_phase(ctx: &Ctx, built: &Built, report: &mut Report) -> Result<()> {
    let init = built
        .init
        .as_deref()
        .ok_or_else(|| anyhow!("lsk-init was not built"))?;
    let square = built
        .binaries
        .get(FUNCTION)
        .ok_or_else(|| anyhow!("{FUNCTION} was not built"))?;
    let dir = ctx.bench_dir.join("standalone").join(FUNCTION);
    let sa = standalone::Standalone::start(init, square, &dir, &ctx.bench_dir).await?;
    let measured = async {
        let body = sa.learn_answer().await?;
        load::latency(
            sa.addr,
            &sa.request()?,
            &Check::Exact(body),
            ctx.plan.warmup,
            ctx.plan.standalone_samples,
        )
        .await
    }
    .await;
    let stopped = sa.stop().await;
    let samples = measured?;
    stopped?;
    if let Some(m) = Measured::of_durations_ms(&samples) {
        report.set("standalone", m);
    }
    Ok(())
}

/// Brings the stack up in a native LocalStack of the bench's own, through `Stack::up` as `lsk up`
/// does (the functions are built already, so its build is a freshness check): free port, fresh
/// state dir, stopped by the caller (and by its stdin lifeline if the bench dies).
async fn up_native(ctx: &Ctx, label: &str, env: Vec<(String, String)>) -> Result<lsk::Up> {
    let state_dir = ctx.bench_dir.join("state").join(label);
    let mut env = env;
    for (k, v) in &ctx.plan.localstack_env {
        env.retain(|(ek, _)| ek != k);
        env.push((k.clone(), v.clone()));
    }
    if state_dir.exists() {
        std::fs::remove_dir_all(&state_dir)
            .with_context(|| format!("clearing {}", state_dir.display()))?;
    }
    let mut opts = StartOptions::new(&ctx.root)
        .port(0)
        .native_env(env)
        .services(ctx.stack.manifest().services())
        .env(lsk::Env::default())
        .progress(Progress::plain());
    opts.state_dir = state_dir;
    let deploy = DeployOpts {
        progress: Progress::plain(),
        ..DeployOpts::default()
    };
    Ok(ctx.stack.up(BackendChoice::Native, opts, &deploy).await?)
}

async fn stop_localstack(ls: LocalStack, label: &str, report: &mut Report) {
    progress(&format!("stopping the {label} LocalStack"));
    if let Err(e) = ls.stop().await {
        report
            .errors
            .push(format!("stopping the {label} LocalStack: {e}"));
    }
}

/// Deploys the stack (already built) into `ls`, a LocalStack the caller started itself to time
/// its start, then [`first_invoke`].
async fn deploy_and_prepare(
    ctx: &Ctx,
    built: &Built,
    ls: &LocalStack,
    cold_first: &mut Vec<Duration>,
) -> Result<(lsk::Deployed, Endpoints)> {
    let packages = ctx.stack.package_built(built)?;
    let opts = DeployOpts {
        progress: Progress::plain(),
        ..DeployOpts::default()
    };
    let deployed = ctx.stack.apply(ls, &packages, &opts).await?;
    let ep = first_invoke(ls, &deployed, cold_first).await?;
    Ok((deployed, ep))
}

/// Times the very first invoke of square after the deploy (into `cold_first`), before anything
/// else touches it, and prepares the requests the measurements send.
async fn first_invoke(
    ls: &LocalStack,
    deployed: &lsk::Deployed,
    cold_first: &mut Vec<Duration>,
) -> Result<Endpoints> {
    let square = deployed.function(FUNCTION)?;
    let url_id = square
        .url_view()
        .ok_or_else(|| anyhow!("{FUNCTION} has no function URL; lsk.toml must give it one"))?
        .url_id
        .clone();
    let mut ep = Endpoints::new(ls.port(), FUNCTION, &url_id)?;
    let mut client = Client::connect(ep.addr).await?;
    let start = Instant::now();
    let reply = client.send(&ep.invoke).await?;
    let took = start.elapsed();
    check_36(&reply).context("first invoke after the deploy")?;
    cold_first.push(took);
    ep.learn_answers().await?;
    Ok(ep)
}

const MAIN_SECTIONS: [Section; 5] = [
    Section::Floor,
    Section::Memory,
    Section::Throughput,
    Section::Cold,
    Section::Pipeline,
];

async fn main_localstack(
    ctx: &Ctx,
    report: &mut Report,
    machine: &mut Machine,
    cold_first: &mut Vec<Duration>,
) {
    if !MAIN_SECTIONS.iter().any(|s| ctx.plan.runs(*s)) {
        return;
    }
    progress("the main LocalStack: lsk's up (start, deploy the stack)");
    let lsk::Up {
        localstack: ls,
        deployed,
    } = match up_native(ctx, "main", Vec::new()).await {
        Ok(up) => up,
        Err(e) => {
            for s in MAIN_SECTIONS {
                report.fail_section(s, &format!("LocalStack did not come up: {e:#}"));
            }
            return;
        }
    };
    machine.localstack = localstack_version(ls.endpoint()).await;
    let result = main_phases(ctx, &ls, &deployed, report, cold_first).await;
    if let Err(e) = result {
        for s in MAIN_SECTIONS {
            report.fail_section(s, &format!("{e:#}"));
        }
    }
    stop_localstack(ls, "main", report).await;
}

async fn localstack_version(endpoint: &str) -> String {
    let get = async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()?;
        let v: serde_json::Value = client
            .get(format!("{endpoint}/_localstack/health"))
            .send()
            .await?
            .json()
            .await?;
        Ok::<_, anyhow::Error>(v["version"].as_str().unwrap_or("unknown").to_owned())
    };
    get.await.unwrap_or_else(|e| format!("unknown ({e})"))
}

async fn main_phases(
    ctx: &Ctx,
    ls: &LocalStack,
    deployed: &lsk::Deployed,
    report: &mut Report,
    cold_first: &mut Vec<Duration>,
) -> Result<()> {
    let ep = first_invoke(ls, deployed, cold_first).await?;
    let pid = ls
        .pid()
        .ok_or_else(|| anyhow!("the native LocalStack has no pid"))?;
    let plan = &ctx.plan;

    if plan.runs(Section::Floor) {
        progress("floor: ListFunctions, invoke, function URL");
        if let Err(e) = floor_phase(&ep, plan, report).await {
            report.fail_section(Section::Floor, &format!("{e:#}"));
        }
    }
    if plan.runs(Section::Memory) {
        progress("memory: two warm square environments");
        if let Err(e) = memory::run(&ep, pid, report).await {
            report.fail_section(Section::Memory, &format!("{e:#}"));
        }
        progress(&format!(
            "memory: soak of {} warm invokes after {} more",
            plan.soak.invokes, plan.soak.warmup
        ));
        if let Err(e) = memory::soak(&ep, pid, plan.soak, report).await {
            report.fail_section(Section::Memory, &format!("{e:#}"));
        }
    }
    if plan.runs(Section::Throughput) {
        progress("throughput: 1 and 8 clients");
        if let Err(e) = throughput_phase(&ep, pid, plan, report).await {
            report.fail_section(Section::Throughput, &format!("{e:#}"));
        }
    }
    if plan.runs(Section::Cold) {
        progress("cold starts after a configuration deploy");
        let lambda = deployed.clients().lambda.clone();
        match cold::after_update(&ep, &lambda, pid, FUNCTION, plan.cold_samples, &plan.nonce).await
        {
            Ok(c) => set_cold(report, "cold_update", "cold_update_delta", "invoke_api", &c),
            Err(e) => {
                let why = format!("{e:#}");
                report.fail("cold_update", &why);
                report.fail("cold_update_delta", &why);
            }
        }
    }
    if plan.runs(Section::Pipeline) {
        progress(&format!(
            "pipeline: {} prompts through SQS to S3",
            plan.pipeline_prompts
        ));
        match pipeline::run(
            deployed,
            plan.pipeline_prompts,
            &plan.nonce,
            Duration::from_secs(plan.pipeline_timeout_secs),
        )
        .await
        {
            Ok(p) => {
                set_pipeline(report, &p, plan);
                report.note(
                    "pipeline_rate",
                    format!(
                        "{} image-generator environment(s) alive at the end",
                        procs::inits_of(pid, "image-generator").len()
                    ),
                );
            }
            Err(e) => report.fail_section(Section::Pipeline, &format!("{e:#}")),
        }
    }
    Ok(())
}

/// The three floor requests measured against one LocalStack.
struct Floor {
    list: Measured,
    invoke: Measured,
    url: Measured,
}

/// `plan.samples` timed ListFunctions, Invoke and function URL requests (after `plan.warmup`
/// each), every answer checked.
async fn floor_samples(ep: &Endpoints, plan: &Plan) -> Result<Floor> {
    let (w, n) = (plan.warmup, plan.samples);
    // ListFunctions' answer is the same every time here, but only its status is checked: the
    // floor must not depend on the body's content.
    let list = load::latency(ep.addr, &ep.list, &Check::Ok, w, n).await?;
    let invoke = load::latency(
        ep.addr,
        &ep.invoke,
        &Check::Exact(ep.invoke_body.clone()),
        w,
        n,
    )
    .await?;
    let url = load::latency(ep.addr, &ep.url, &Check::Exact(ep.url_body.clone()), w, n).await?;
    let (Some(list), Some(invoke), Some(url)) = (
        Measured::of_durations_ms(&list),
        Measured::of_durations_ms(&invoke),
        Measured::of_durations_ms(&url),
    ) else {
        return Err(anyhow!("no samples"));
    };
    Ok(Floor { list, invoke, url })
}

/// The note of a latency row: its warm-up and fastest sample.
fn warmup_note(plan: &Plan, m: &Measured) -> String {
    format!(
        "warm-up {}; min {}",
        plan.warmup,
        Unit::Ms.format(m.min.unwrap_or(0.0))
    )
}

async fn floor_phase(ep: &Endpoints, plan: &Plan, report: &mut Report) -> Result<()> {
    let Floor { list, invoke, url } = floor_samples(ep, plan).await?;
    report.set(
        "ratio_invoke",
        Measured::value(
            Unit::Ratio,
            invoke.median / list.median,
            invoke.n.min(list.n),
        ),
    );
    report.set(
        "ratio_url",
        Measured::value(Unit::Ratio, url.median / list.median, url.n.min(list.n)),
    );
    report.note("list_functions", warmup_note(plan, &list));
    report.note("invoke_api", warmup_note(plan, &invoke));
    report.note("invoke_url", warmup_note(plan, &url));
    report.set("list_functions", list);
    report.set("invoke_api", invoke);
    report.set("invoke_url", url);
    Ok(())
}

async fn throughput_phase(
    ep: &Endpoints,
    pid: u32,
    plan: &Plan,
    report: &mut Report,
) -> Result<()> {
    let secs = Duration::from_secs_f64(plan.throughput_secs);
    let invoke = Check::Exact(ep.invoke_body.clone());
    // Let LocalStack start the environments 8 concurrent invokes need before timing them.
    load::throughput(ep.addr, &ep.invoke, &invoke, 8, Duration::from_secs(1)).await?;
    let runs = [
        ("tput_list_1", &ep.list, Check::Ok, 1),
        ("tput_invoke_1", &ep.invoke, invoke.clone(), 1),
        ("tput_list_8", &ep.list, Check::Ok, 8),
        ("tput_invoke_8", &ep.invoke, invoke.clone(), 8),
    ];
    for (id, req, check, clients) in runs {
        let t = load::throughput(ep.addr, req, &check, clients, secs).await?;
        report.set(
            id,
            Measured::value(Unit::PerSecond, t.per_second(), t.ok as usize),
        );
        let mut note = format!("{:.1} s", t.elapsed.as_secs_f64());
        if t.errors > 0 {
            note.push_str(&format!(
                ", {} errors (first: {})",
                t.errors,
                t.first_error.unwrap_or_default()
            ));
        }
        if id == "tput_invoke_8" {
            note.push_str(&format!(
                ", {} square environments",
                procs::inits_of(pid, FUNCTION).len()
            ));
        }
        report.note(id, note);
    }
    Ok(())
}

/// Sets the cold row `id` and its difference to the warm p50 of row `warm_id` (`delta_id`).
fn set_cold(report: &mut Report, id: &str, delta_id: &str, warm_id: &str, c: &cold::ColdSamples) {
    let Some(m) = Measured::of_durations_ms(&c.samples) else {
        report.fail(id, "no samples");
        report.fail(delta_id, "no samples");
        return;
    };
    report.note(
        id,
        format!(
            "{}/{} samples started a new lsk-init (seen in /proc)",
            c.new_environment,
            c.samples.len()
        ),
    );
    match report.get(warm_id).map(|w| w.median) {
        Some(warm) => {
            report.set(delta_id, Measured::value(Unit::Ms, m.median - warm, m.n));
            report.note(delta_id, format!("warm p50 {}", Unit::Ms.format(warm)));
        }
        None => report.fail(
            delta_id,
            &format!("needs the warm invoke p50 ({warm_id}) measured first"),
        ),
    }
    report.set(id, m);
}

fn set_pipeline(report: &mut Report, p: &pipeline::PipelineResult, plan: &Plan) {
    let secs = p.elapsed.as_secs_f64();
    report.set(
        "pipeline_secs",
        Measured::value(Unit::Seconds, secs, p.sent),
    );
    let mut note = format!(
        "{} prompts sent in {:.2} s (batches of 10); DLQ holds {}",
        p.sent,
        p.send_time.as_secs_f64(),
        p.dlq_messages
    );
    if p.timed_out {
        note.push_str(&format!(
            "; TIMED OUT after {} s",
            plan.pipeline_timeout_secs
        ));
    }
    if plan.quick {
        note.push_str("; --quick: fewer prompts than the 500 of the target");
    }
    report.note("pipeline_secs", note);
    report.set(
        "pipeline_rate",
        Measured::value(Unit::ImagesPerSecond, p.stored as f64 / secs, p.stored),
    );
    report.set(
        "pipeline_missing",
        Measured::value(Unit::Count, p.missing as f64, p.sent),
    );
}

async fn reap_localstack(ctx: &Ctx, report: &mut Report, cold_first: &mut Vec<Duration>) {
    progress("starting a second LocalStack with LAMBDA_KEEPALIVE_MS=1000");
    let env = vec![("LAMBDA_KEEPALIVE_MS".to_owned(), "1000".to_owned())];
    let lsk::Up {
        localstack: ls,
        deployed,
    } = match up_native(ctx, "reap", env).await {
        Ok(up) => up,
        Err(e) => {
            let why = format!("the second LocalStack did not come up: {e:#}");
            report.fail("cold_reap", &why);
            report.fail("cold_reap_delta", &why);
            return;
        }
    };
    let result = async {
        let ep = first_invoke(&ls, &deployed, cold_first).await?;
        let pid = ls
            .pid()
            .ok_or_else(|| anyhow!("the native LocalStack has no pid"))?;
        progress("cold starts after the environment was reaped");
        cold::after_reap(&ep, pid, FUNCTION, ctx.plan.cold_samples).await
    }
    .await;
    match result {
        Ok(c) => set_cold(report, "cold_reap", "cold_reap_delta", "invoke_api", &c),
        Err(e) => {
            let why = format!("{e:#}");
            report.fail("cold_reap", &why);
            report.fail("cold_reap_delta", &why);
        }
    }
    stop_localstack(ls, "second", report).await;
}

/// The executor's two HTTP readers (`LSK_EXECUTOR_HTTP`), each in a LocalStack of its own. Both
/// run for the whole section and are measured in alternating turns, so drift on a shared
/// machine falls on both.
async fn reader_phase(ctx: &Ctx, report: &mut Report, cold_first: &mut Vec<Duration>) {
    const READERS: [&str; 2] = ["own", "h11"];
    progress("reader: two LocalStacks, LSK_EXECUTOR_HTTP=own and =h11");
    let mut started: Vec<lsk::Up> = Vec::new();
    let mut failure = None;
    for reader in READERS {
        let env = vec![("LSK_EXECUTOR_HTTP".to_owned(), reader.to_owned())];
        match up_native(ctx, &format!("reader-{reader}"), env).await {
            Ok(up) => started.push(up),
            Err(e) => {
                failure = Some(format!("the {reader} LocalStack did not come up: {e:#}"));
                break;
            }
        }
    }
    if failure.is_none() {
        let measured = async {
            let mut eps = Vec::new();
            for up in &started {
                eps.push(first_invoke(&up.localstack, &up.deployed, cold_first).await?);
            }
            reader_turns(&eps, &ctx.plan).await
        }
        .await;
        match measured {
            Ok(rows) => {
                for (id, m) in rows {
                    report.set(id, m);
                }
            }
            Err(e) => failure = Some(format!("{e:#}")),
        }
    }
    if let Some(why) = failure {
        report.fail_section(Section::Reader, &why);
    }
    for (up, reader) in started.into_iter().zip(READERS) {
        stop_localstack(up.localstack, &format!("{reader}-reader"), report).await;
    }
}

/// Two turns per reader of latency, then of throughput: own, h11, own, h11.
async fn reader_turns(eps: &[Endpoints], plan: &Plan) -> Result<Vec<(&'static str, Measured)>> {
    let [own, h11] = eps else {
        bail!("expected two LocalStacks, have {}", eps.len());
    };
    let turns = 2;
    let (mut lat_own, mut lat_h11) = (Vec::new(), Vec::new());
    for _ in 0..turns {
        for (ep, into) in [(own, &mut lat_own), (h11, &mut lat_h11)] {
            let check = Check::Exact(ep.invoke_body.clone());
            let samples = load::latency(
                ep.addr,
                &ep.invoke,
                &check,
                plan.warmup,
                plan.samples / turns,
            );
            into.extend(samples.await?);
        }
    }
    let secs = Duration::from_secs_f64(plan.throughput_secs / turns as f64);
    let (mut done_own, mut done_h11) = ((0u64, Duration::ZERO), (0u64, Duration::ZERO));
    for ep in [own, h11] {
        // Let LocalStack start the environments 8 concurrent invokes need before timing them.
        let check = Check::Exact(ep.invoke_body.clone());
        load::throughput(ep.addr, &ep.invoke, &check, 8, Duration::from_secs(1)).await?;
    }
    for _ in 0..turns {
        for (ep, into) in [(own, &mut done_own), (h11, &mut done_h11)] {
            let check = Check::Exact(ep.invoke_body.clone());
            let t = load::throughput(ep.addr, &ep.invoke, &check, 8, secs).await?;
            if t.errors > 0 {
                bail!(
                    "{} of the 8-client invokes failed (first: {})",
                    t.errors,
                    t.first_error.unwrap_or_default()
                );
            }
            into.0 += t.ok;
            into.1 += t.elapsed;
        }
    }
    let (Some(api_own), Some(api_h11)) = (
        Measured::of_durations_ms(&lat_own),
        Measured::of_durations_ms(&lat_h11),
    ) else {
        bail!("no samples");
    };
    let per_second = |(ok, took): (u64, Duration)| ok as f64 / took.as_secs_f64().max(1e-9);
    let (tput_own, tput_h11) = (per_second(done_own), per_second(done_h11));
    let n = api_own.n.min(api_h11.n);
    let ratio_api = Measured::value(Unit::Ratio, api_h11.median / api_own.median, n);
    Ok(vec![
        ("reader_ratio_api", ratio_api),
        ("reader_own_api", api_own),
        ("reader_h11_api", api_h11),
        (
            "reader_own_tput_8",
            Measured::value(Unit::PerSecond, tput_own, done_own.0 as usize),
        ),
        (
            "reader_h11_tput_8",
            Measured::value(Unit::PerSecond, tput_h11, done_h11.0 as usize),
        ),
        (
            "reader_ratio_tput_8",
            Measured::value(
                Unit::Ratio,
                tput_h11 / tput_own.max(1e-9),
                done_own.0.min(done_h11.0) as usize,
            ),
        ),
    ])
}

async fn devloop_phase(ctx: &Ctx, report: &mut Report) {
    let mut timings = devloop::Timings::default();
    let mut watch = devloop::WatchTimings::default();
    let result = async {
        let cli = devloop::build_cli(&ctx.root, &ctx.bench_dir).await?;
        let mirror = devloop::prepare(&ctx.root, &ctx.stack, &ctx.devloop_dir(), FUNCTION).await?;
        let ran = devloop::run(
            &cli,
            &mirror,
            ctx.plan.devloop_reps,
            &ctx.plan.nonce,
            &ctx.bench_dir,
            &mut timings,
        )
        .await;
        let restored = mirror.restore();
        ran?;
        restored?;
        progress("devloop: lsk watch (save -> first answer from the new code)");
        devloop::run_watch(
            &cli,
            &mirror,
            FUNCTION,
            ctx.plan.devloop_reps,
            &ctx.plan.nonce,
            &ctx.bench_dir,
            &mut watch,
        )
        .await?;
        Ok::<_, anyhow::Error>(cli)
    }
    .await;
    for (id, samples) in [
        ("watch_save_to_answer", &watch.save_to_answer),
        ("watch_build", &watch.build),
    ] {
        if let Some(m) = Measured::of_durations_s(samples) {
            report.set(id, m);
        }
    }
    let rows = [
        ("lsk_up", &timings.up),
        ("lsk_deploy_code", &timings.deploy_code),
        ("lsk_deploy_noop", &timings.deploy_noop),
        ("lsk_down", &timings.down),
    ];
    for (id, samples) in rows {
        if let Some(m) = Measured::of_durations_s(samples) {
            report.set(id, m);
        }
    }
    for n in &timings.notes {
        report.note("lsk_deploy_code", n.clone());
    }
    if let Some(steps) = timings.up_steps.first().filter(|s| !s.is_empty()) {
        report.note("lsk_up", format!("first run's steps: {steps}"));
    }
    if let Some(steps) = timings.deploy_code_steps.first().filter(|s| !s.is_empty()) {
        report.note("lsk_deploy_code", format!("first run's steps: {steps}"));
    }
    match result {
        Ok(cli) => report.note(
            "lsk_up",
            format!(
                "{} (profile {TOOLS_PROFILE}), in a copy of the workspace under {}",
                cli.strip_prefix(&ctx.root).unwrap_or(&cli).display(),
                ctx.devloop_dir()
                    .strip_prefix(&ctx.root)
                    .unwrap_or(&ctx.devloop_dir())
                    .display()
            ),
        ),
        Err(e) => report.fail_section(Section::Devloop, &format!("{e:#}")),
    }
}

async fn anchor_phase(ctx: &Ctx, report: &mut Report) {
    let Some(cargo_lambda) = anchor::find(&ctx.root) else {
        report.fail("anchor_cargo_lambda", anchor::NOT_INSTALLED);
        return;
    };
    progress("anchor: cargo lambda watch serving square");
    let result = async {
        let port = devloop::free_port()?;
        let mut watch = anchor::Watch::start(
            &cargo_lambda,
            &ctx.root,
            &ctx.bench_dir.join("cargo-lambda-target"),
            port,
            &ctx.bench_dir,
        )
        .await?;
        let measured = async {
            let body = watch.first_answer().await?;
            load::latency(
                watch.addr,
                &watch.request()?,
                &Check::Exact(body),
                ctx.plan.warmup,
                ctx.plan.samples,
            )
            .await
        }
        .await;
        watch.stop().await;
        measured
    }
    .await;
    match result {
        Ok(samples) => {
            if let Some(m) = Measured::of_durations_ms(&samples) {
                report.set("anchor_cargo_lambda", m);
            }
        }
        Err(e) => report.fail_section(Section::Anchor, &format!("{e:#}")),
    }
}

/// Stops whatever is still running (a detached developer-loop LocalStack, the bench's
/// containers and images, anything of the bench's found in /proc) and records what had to be
/// killed.
async fn cleanup(ctx: &Ctx, report: &mut Report, docker: &docker::Owned) {
    docker::cleanup(ctx, report, docker).await;
    let devloop_state = lsk::backend::state_dir(&ctx.devloop_dir());
    if lsk::backend::native::find_detached(&devloop_state).is_some() {
        progress("stopping the developer-loop LocalStack");
        if let Err(e) = lsk::backend::native::stop_detached(&devloop_state).await {
            report
                .errors
                .push(format!("stopping the developer-loop LocalStack: {e}"));
        }
    }
    // A LocalStack dropped on interruption shuts itself down through its lifeline: give it
    // the time its launcher allows before calling anything a leftover.
    let gone = procs::wait_until(Duration::from_secs(15), || {
        procs::owned_by_bench(&ctx.bench_dir).is_empty()
    })
    .await;
    if !gone {
        let left = procs::owned_by_bench(&ctx.bench_dir);
        let pids: Vec<u32> = left.iter().map(|(p, _)| *p).collect();
        procs::terminate_all(&pids, Duration::from_secs(5)).await;
        report.leftovers = left
            .into_iter()
            .map(|(p, cl)| format!("{p} {cl} (killed)"))
            .collect();
    }
}

fn print_results(ctx: &Ctx, report: &Report, machine: &Machine, took: Duration) {
    let mut out = String::new();
    out.push_str(&format!(
        "\n## lsk-bench{}\n\n",
        if ctx.plan.quick { " (--quick)" } else { "" }
    ));
    out.push_str(&report.table());
    out.push('\n');
    out.push_str(&machine.line());
    out.push_str(&format!("; bench took {:.0} s\n", took.as_secs_f64()));
    if !ctx.plan.localstack_env.is_empty() {
        let settings: Vec<String> = ctx
            .plan
            .localstack_env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out.push_str(&format!(
            "LocalStack settings (--ls-env): {}\n",
            settings.join(" ")
        ));
    }
    out.push('\n');
    for t in report.targets() {
        out.push_str(&format!("{t}\n"));
    }
    if !report.errors.is_empty() {
        out.push_str("\nerrors:\n");
        for e in &report.errors {
            out.push_str(&format!("- {}\n", e.replace('\n', "\n  ")));
        }
    }
    out.push_str(&format!(
        "\nleftover processes: {}\n",
        if report.leftovers.is_empty() {
            "none".to_owned()
        } else {
            report.leftovers.join(", ")
        }
    ));
    let json_path = ctx.bench_dir.join("bench.json");
    let json = report.json(machine, &ctx.plan);
    match serde_json::to_string_pretty(&json)
        .map_err(anyhow::Error::from)
        .and_then(|text| {
            std::fs::write(&json_path, text + "\n")
                .with_context(|| format!("writing {}", json_path.display()))
        }) {
        Ok(()) => out.push_str(&format!("json: {}\n", json_path.display())),
        Err(e) => out.push_str(&format!("json: not written: {e:#}\n")),
    }
    print!("{out}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reader_comparison_runs_only_when_asked_for() {
        let default = Args::parse_from(["lsk-bench"]).skipped();
        assert_eq!(default, [Section::Reader]);
        let with = Args::parse_from(["lsk-bench", "--with", "reader"]).skipped();
        assert!(with.is_empty(), "{with:?}");
        let both = Args::parse_from(["lsk-bench", "--with", "reader", "--skip", "reader"]);
        assert_eq!(both.skipped(), [Section::Reader]);
        let docker = Args::parse_from(["lsk-bench", "--skip", "docker"]).skipped();
        assert_eq!(docker, [Section::Docker, Section::Reader]);
    }
}
