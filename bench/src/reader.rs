//! The opt-in reader section: the executor's own HTTP/1.1 reader against h11, each in a
//! LocalStack of its own.

use std::time::Duration;

use anyhow::{Result, bail};

use crate::http::Check;
use crate::lambda::Endpoints;
use crate::localstack::{first_invoke, stop_localstack, up_native};
use crate::plan::{Ctx, Plan};
use crate::report::{Report, Section};
use crate::stats::{Measured, Unit};
use crate::{load, progress};

/// The executor's two HTTP readers (`LSK_EXECUTOR_HTTP`), each in a LocalStack of its own. Both
/// run for the whole section and are measured in alternating turns, so drift on a shared
/// machine falls on both.
pub(crate) async fn reader_phase(ctx: &Ctx, report: &mut Report, cold_first: &mut Vec<Duration>) {
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
