//! Cold starts: the first invoke that needs a new execution environment, after a deploy and
//! after LocalStack reaped the previous one. Each sample is checked against /proc: a new
//! `lsk-init` must have appeared for it to count as cold.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_lambda::client::Waiters;
use aws_sdk_lambda::types::Environment;

use crate::http::{Check, Client};
use crate::lambda::Endpoints;
use crate::procs;

/// Cold samples and how many of them were seen to start a new environment.
#[derive(Debug, Clone, Default)]
pub struct ColdSamples {
    pub samples: Vec<Duration>,
    pub new_environment: usize,
}

const UPDATE_WAIT: Duration = Duration::from_secs(60);
const REAP_WAIT: Duration = Duration::from_secs(20);

/// `n` times: change one environment variable of `function` (a configuration deploy, which
/// makes LocalStack replace its environments), wait until the update is done, time the next
/// invoke.
pub async fn after_update(
    ep: &Endpoints,
    lambda: &aws_sdk_lambda::Client,
    localstack_pid: u32,
    function: &str,
    n: usize,
    nonce: &str,
) -> Result<ColdSamples> {
    let check = Check::Exact(ep.invoke_body.clone());
    let cfg = lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .map_err(|e| anyhow!("GetFunctionConfiguration {function}: {e:?}"))?;
    let mut vars = cfg
        .environment()
        .and_then(|e| e.variables())
        .cloned()
        .unwrap_or_default();
    let mut out = ColdSamples::default();
    let mut client = Client::connect(ep.addr).await?;
    for i in 0..n {
        vars.insert("LSK_BENCH_COLD".into(), format!("{nonce}-{i}"));
        lambda
            .update_function_configuration()
            .function_name(function)
            .environment(
                Environment::builder()
                    .set_variables(Some(vars.clone()))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| anyhow!("UpdateFunctionConfiguration {function}: {e:?}"))?;
        lambda
            .wait_until_function_updated_v2()
            .function_name(function)
            .wait(UPDATE_WAIT)
            .await
            .map_err(|e| anyhow!("waiting for {function} to be updated: {e:?}"))?;
        let before = procs::inits_of(localstack_pid, function);
        let took = match client.timed(&ep.invoke, &check).await {
            Ok(d) => d,
            Err(_) => {
                // The kept-alive connection may have been closed while we waited: retry once
                // on a new one (the sample is still the first invoke of the new version).
                client = Client::connect(ep.addr).await?;
                client
                    .timed(&ep.invoke, &check)
                    .await
                    .with_context(|| format!("first invoke after update {i}"))?
            }
        };
        let after = procs::inits_of(localstack_pid, function);
        if after.difference(&before).next().is_some() {
            out.new_environment += 1;
        }
        out.samples.push(took);
    }
    Ok(out)
}

/// `n` times: wait until LocalStack (started with a short `LAMBDA_KEEPALIVE_MS`) has stopped
/// every environment of `function`, then time the next invoke on a fresh connection.
pub async fn after_reap(
    ep: &Endpoints,
    localstack_pid: u32,
    function: &str,
    n: usize,
) -> Result<ColdSamples> {
    let check = Check::Exact(ep.invoke_body.clone());
    let mut out = ColdSamples::default();
    for i in 0..n {
        let reaped = procs::wait_until(REAP_WAIT, || {
            procs::inits_of(localstack_pid, function).is_empty()
        })
        .await;
        if !reaped {
            bail!(
                "{function}'s environment was not reaped within {REAP_WAIT:?} (sample {i}); is LAMBDA_KEEPALIVE_MS honoured?"
            );
        }
        // Connecting is not part of the sample.
        let mut client = Client::connect(ep.addr).await?;
        let took = client
            .timed(&ep.invoke, &check)
            .await
            .with_context(|| format!("invoke after reaping, sample {i}"))?;
        if !procs::inits_of(localstack_pid, function).is_empty() {
            out.new_environment += 1;
        }
        out.samples.push(took);
    }
    Ok(out)
}
