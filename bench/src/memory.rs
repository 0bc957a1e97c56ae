//! Resident memory: LocalStack's, and each warm execution environment's (lsk-init + bootstrap),
//! with exactly the environments two concurrent invokes of square need; then a soak: LocalStack's
//! RSS after a warm-up and after many more warm invokes, and how much it grew per 1,000.

use std::time::Duration;

use anyhow::{Result, bail};

use crate::http::{Check, Client};
use crate::lambda::Endpoints;
use crate::load;
use crate::procs;
use crate::report::Report;
use crate::stats::{Measured, Unit};

/// Rounds of two simultaneous invokes tried before giving up on a second environment.
const MAX_ROUNDS: usize = 50;

/// Makes exactly the two warm square environments under `localstack_pid` (a LocalStack's
/// process, or a container's first process) that two concurrent invokes need, lets their memory
/// settle, and returns how many rounds of two invokes it took.
pub async fn two_warm(ep: &Endpoints, localstack_pid: u32) -> Result<usize> {
    let check = Check::Exact(ep.invoke_body.clone());
    let mut a = Client::connect(ep.addr).await?;
    let mut b = Client::connect(ep.addr).await?;
    let mut rounds = 0;
    // LocalStack starts a second environment only when an invoke arrives while the first is busy.
    while procs::inits_of(localstack_pid, "square").len() < 2 {
        rounds += 1;
        if rounds > MAX_ROUNDS {
            bail!(
                "square still has {} environment(s) after {MAX_ROUNDS} rounds of two concurrent invokes",
                procs::inits_of(localstack_pid, "square").len()
            );
        }
        let (ra, rb) = tokio::join!(a.send(&ep.invoke), b.send(&ep.invoke));
        check.check(&ra?)?;
        check.check(&rb?)?;
    }
    // Both environments warm: each has served at least one invoke; let RSS settle.
    for _ in 0..20 {
        let (ra, rb) = tokio::join!(a.send(&ep.invoke), b.send(&ep.invoke));
        check.check(&ra?)?;
        check.check(&rb?)?;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    Ok(rounds)
}

pub async fn run(ep: &Endpoints, localstack_pid: u32, report: &mut Report) -> Result<()> {
    let rounds = two_warm(ep, localstack_pid).await?;

    let envs: Vec<procs::Environment> = procs::environments(localstack_pid)
        .into_iter()
        .filter(|e| e.function == "square")
        .collect();
    let Some(ls_kb) = procs::localstack_rss_kb(localstack_pid) else {
        bail!("cannot read LocalStack's RSS (pid {localstack_pid})");
    };
    let mut pairs = Vec::new();
    let mut detail = Vec::new();
    for e in &envs {
        if let Some(kb) = e.rss_kb() {
            let init_kb = procs::rss_kb(e.init).unwrap_or(0);
            detail.push(format!(
                "init pid {} {:.1} MB + bootstrap {:.1} MB",
                e.init,
                init_kb as f64 / 1024.0,
                (kb - init_kb) as f64 / 1024.0
            ));
            pairs.push(kb as f64 / 1024.0);
        }
    }
    if pairs.len() < 2 {
        bail!(
            "only {} square environment(s) readable in /proc",
            pairs.len()
        );
    }
    let ls_mb = ls_kb as f64 / 1024.0;
    report.set("rss_localstack", Measured::value(Unit::Megabytes, ls_mb, 1));
    report.note("rss_localstack", format!("python pid {localstack_pid}"));
    if let Some(m) = Measured::of(Unit::Megabytes, &pairs) {
        report.set("rss_env", m);
    }
    report.note("rss_env", detail.join(", "));
    let two: f64 = pairs.iter().take(2).sum();
    report.set(
        "rss_total",
        Measured::value(Unit::Megabytes, ls_mb + two, 3),
    );
    report.note(
        "rss_total",
        format!(
            "{} square environment(s) alive; {rounds} round(s) of 2 concurrent invokes to get 2",
            envs.len()
        ),
    );
    Ok(())
}

/// How many invokes the soak sends, and with how many clients.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Soak {
    pub warmup: usize,
    pub invokes: usize,
    /// As many as the warm environments [`two_warm`] made, so the soak adds none.
    pub clients: usize,
}

/// LocalStack's RSS in MB once its background work (log shipping batches every 100 ms) is done.
async fn settled_rss_mb(localstack_pid: u32) -> Result<f64> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    match procs::localstack_rss_kb(localstack_pid) {
        Some(kb) => Ok(kb as f64 / 1024.0),
        None => bail!("cannot read LocalStack's RSS (pid {localstack_pid})"),
    }
}

/// `soak.warmup` warm invokes of square, LocalStack's RSS, `soak.invokes` more, RSS again.
pub async fn soak(
    ep: &Endpoints,
    localstack_pid: u32,
    soak: Soak,
    report: &mut Report,
) -> Result<()> {
    let check = Check::Exact(ep.invoke_body.clone());
    let warm = load::fixed(ep.addr, &ep.invoke, &check, soak.clients, soak.warmup).await?;
    let before = settled_rss_mb(localstack_pid).await?;
    let run = load::fixed(ep.addr, &ep.invoke, &check, soak.clients, soak.invokes).await?;
    let after = settled_rss_mb(localstack_pid).await?;
    let n = run.ok as usize;
    if n == 0 {
        bail!("no soak invoke succeeded");
    }
    report.set("soak_rss_warm", Measured::value(Unit::Megabytes, before, 1));
    report.note(
        "soak_rss_warm",
        format!(
            "after {} warm invokes ({} clients) on top of the earlier sections' requests",
            warm.ok, soak.clients
        ),
    );
    report.set("soak_rss_after", Measured::value(Unit::Megabytes, after, 1));
    let mut note = format!(
        "{n} invokes with {} clients in {:.1} s ({:.0}/s); {} square environment(s) alive",
        soak.clients,
        run.elapsed.as_secs_f64(),
        run.per_second(),
        procs::inits_of(localstack_pid, "square").len()
    );
    if run.errors > 0 {
        note.push_str(&format!(
            "; {} errors (first: {})",
            run.errors,
            run.first_error.unwrap_or_default()
        ));
    }
    report.note("soak_rss_after", note);
    report.set(
        "soak_growth",
        Measured::value(Unit::Megabytes, (after - before) * 1000.0 / n as f64, n),
    );
    report.note(
        "soak_growth",
        format!("{:+.1} MB over {n} invokes", after - before),
    );
    Ok(())
}
