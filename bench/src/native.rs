//! The sections measured in the bench's native LocalStacks: the floor, memory, throughput, cold
//! starts after a deploy and the pipeline in the main one; cold starts after a reap in a second
//! one.

use std::time::Duration;

use anyhow::{Result, anyhow};

use lsk::LocalStack;

use crate::http::Check;
use crate::lambda::Endpoints;
use crate::localstack::{first_invoke, localstack_version, stop_localstack, up_native};
use crate::machine::Machine;
use crate::plan::{Ctx, Plan};
use crate::report::{Report, Section};
use crate::stats::{Measured, Unit};
use crate::{FUNCTION, cold, load, memory, pipeline, procs, progress};

const MAIN_SECTIONS: [Section; 5] = [
    Section::Floor,
    Section::Memory,
    Section::Throughput,
    Section::Cold,
    Section::Pipeline,
];

pub(crate) async fn main_localstack(
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
pub(crate) struct Floor {
    pub(crate) list: Measured,
    pub(crate) invoke: Measured,
    pub(crate) url: Measured,
}

/// `plan.samples` timed ListFunctions, Invoke and function URL requests (after `plan.warmup`
/// each), every answer checked.
pub(crate) async fn floor_samples(ep: &Endpoints, plan: &Plan) -> Result<Floor> {
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
pub(crate) fn warmup_note(plan: &Plan, m: &Measured) -> String {
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
pub(crate) fn set_cold(
    report: &mut Report,
    id: &str,
    delta_id: &str,
    warm_id: &str,
    c: &cold::ColdSamples,
) {
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

pub(crate) async fn reap_localstack(
    ctx: &Ctx,
    report: &mut Report,
    cold_first: &mut Vec<Duration>,
) {
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
