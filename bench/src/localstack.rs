//! The LocalStacks the bench starts itself: up with the stack deployed, the first invoke after
//! the deploy timed, the version asked for, stopped.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};

use lsk::build::Built;
use lsk::{BackendChoice, DeployOpts, LocalStack, Progress, StartOptions};

use crate::http::Client;
use crate::lambda::{Endpoints, check_36};
use crate::plan::Ctx;
use crate::report::Report;
use crate::{FUNCTION, progress};

/// Brings the stack up in a native LocalStack of the bench's own, through `Stack::up` as `lsk up`
/// does (the functions are built already, so its build is a freshness check): free port, fresh
/// state dir, stopped by the caller (and by its stdin lifeline if the bench dies).
pub(crate) async fn up_native(
    ctx: &Ctx,
    label: &str,
    env: Vec<(String, String)>,
) -> Result<lsk::Up> {
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

pub(crate) async fn stop_localstack(ls: LocalStack, label: &str, report: &mut Report) {
    progress(&format!("stopping the {label} LocalStack"));
    if let Err(e) = ls.stop().await {
        report
            .errors
            .push(format!("stopping the {label} LocalStack: {e}"));
    }
}

/// Deploys the stack (already built) into `ls`, a LocalStack the caller started itself to time
/// its start, then [`first_invoke`].
pub(crate) async fn deploy_and_prepare(
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
pub(crate) async fn first_invoke(
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

pub(crate) async fn localstack_version(endpoint: &str) -> String {
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
