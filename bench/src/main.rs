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
mod args;
mod cold;
mod devloop;
mod docker;
mod http;
mod lambda;
mod load;
mod localstack;
mod machine;
mod memory;
mod native;
mod output;
mod pipeline;
mod plan;
mod procs;
mod reader;
mod report;
mod standalone;
mod stats;

/// The cargo profile `make bench` builds lsk and lsk-bench with (workspace Cargo.toml).
pub const TOOLS_PROFILE: &str = "bench-tools";

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

use lsk::{BuildTarget, Progress};

use crate::args::Args;
use crate::machine::Machine;
use crate::plan::Ctx;
use crate::report::{Report, Section};
use crate::stats::Measured;

/// The function the floor, cold and memory figures are about.
const FUNCTION: &str = "square";

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
    output::print_results(&ctx, &report, &machine, started.elapsed());
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
            if let Err(e) = standalone::standalone_phase(ctx, built, report).await {
                report.fail_section(Section::Standalone, &format!("{e:#}"));
            }
        }
        native::main_localstack(ctx, report, machine, &mut cold_first).await;
        if ctx.plan.runs(Section::Cold) {
            native::reap_localstack(ctx, report, &mut cold_first).await;
        }
        if ctx.plan.runs(Section::Reader) {
            reader::reader_phase(ctx, report, &mut cold_first).await;
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
        devloop::devloop_phase(ctx, report).await;
    }
    if ctx.plan.runs(Section::Docker) {
        docker::lsk_up_phase(ctx, report, docker).await;
    }
    if ctx.plan.runs(Section::Anchor) {
        anchor::anchor_phase(ctx, report).await;
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
