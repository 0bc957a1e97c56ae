//! Driving requests: sequential latency samples on one kept-alive connection, and throughput
//! with N concurrent connections for a fixed time.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow, bail};

use crate::http::{Check, Client, Prepared};

/// Most failed requests tolerated in a latency run before it is abandoned.
const MAX_ERRORS: usize = 5;

/// `warmup` unmeasured requests, then `samples` timed ones, each answer checked.
/// Returns the latencies.
pub async fn latency(
    addr: SocketAddr,
    req: &Prepared,
    check: &Check,
    warmup: usize,
    samples: usize,
) -> Result<Vec<Duration>> {
    let mut client = Client::connect(addr).await?;
    for _ in 0..warmup {
        let reply = client.send(req).await?;
        check.check(&reply)?;
    }
    let mut out = Vec::with_capacity(samples);
    let mut errors = Vec::new();
    while out.len() < samples {
        match client.timed(req, check).await {
            Ok(d) => out.push(d),
            Err(e) => {
                errors.push(e.to_string());
                if errors.len() > MAX_ERRORS {
                    bail!(
                        "{} failed {} times after {} good samples; last: {}",
                        req.name,
                        errors.len(),
                        out.len(),
                        errors.last().cloned().unwrap_or_default()
                    );
                }
                // A broken connection is replaced; the failed request is not a sample.
                client = Client::connect(addr).await?;
            }
        }
    }
    Ok(out)
}

/// What a throughput run did.
#[derive(Debug, Clone)]
pub struct Throughput {
    pub ok: u64,
    pub errors: u64,
    pub elapsed: Duration,
    pub first_error: Option<String>,
}

impl Throughput {
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }
}

/// `clients` connections each sending `req` back to back until `duration` has passed; only
/// checked answers count.
pub async fn throughput(
    addr: SocketAddr,
    req: &Prepared,
    check: &Check,
    clients: usize,
    duration: Duration,
) -> Result<Throughput> {
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(Client::connect(addr).await?);
    }
    let start = Instant::now();
    let deadline = start + duration;
    let tasks = conns.into_iter().map(|mut client| {
        let req = req.clone();
        let check = check.clone();
        async move {
            let (mut ok, mut errors, mut first_error) = (0u64, 0u64, None::<String>);
            while Instant::now() < deadline {
                let left =
                    deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(30);
                match client.send_with_timeout(&req, left).await {
                    Ok(reply) => match check.check(&reply) {
                        Ok(()) => ok += 1,
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| e.to_string());
                        }
                    },
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| e.to_string());
                        match Client::connect(addr).await {
                            Ok(c) => client = c,
                            Err(_) => break,
                        }
                    }
                }
            }
            (ok, errors, first_error)
        }
    });
    let results = futures::future::join_all(tasks).await;
    let elapsed = start.elapsed();
    let mut total = Throughput {
        ok: 0,
        errors: 0,
        elapsed,
        first_error: None,
    };
    for (ok, errors, first) in results {
        total.ok += ok;
        total.errors += errors;
        if total.first_error.is_none() {
            total.first_error = first;
        }
    }
    if total.ok == 0 {
        return Err(anyhow!(
            "no request succeeded in {:?} with {clients} clients: {}",
            duration,
            total.first_error.unwrap_or_default()
        ));
    }
    Ok(total)
}

/// Exactly `total` requests (rounded down to a multiple of `clients`) spread over `clients`
/// kept-alive connections, each answer checked. Fails if more than `MAX_ERRORS` go wrong.
pub async fn fixed(
    addr: SocketAddr,
    req: &Prepared,
    check: &Check,
    clients: usize,
    total: usize,
) -> Result<Throughput> {
    let clients = clients.max(1);
    let per_client = total / clients;
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(Client::connect(addr).await?);
    }
    let start = Instant::now();
    let tasks = conns.into_iter().map(|mut client| {
        let req = req.clone();
        let check = check.clone();
        async move {
            let (mut ok, mut errors, mut first_error) = (0u64, 0u64, None::<String>);
            let mut sent = 0;
            while sent < per_client && errors <= MAX_ERRORS as u64 {
                sent += 1;
                let outcome = match client.send(&req).await {
                    Ok(reply) => check.check(&reply).map_err(|e| (e.to_string(), false)),
                    Err(e) => Err((e.to_string(), true)),
                };
                match outcome {
                    Ok(()) => ok += 1,
                    Err((e, broken)) => {
                        errors += 1;
                        first_error.get_or_insert(e);
                        if broken {
                            match Client::connect(addr).await {
                                Ok(c) => client = c,
                                Err(_) => break,
                            }
                        }
                    }
                }
            }
            (ok, errors, first_error)
        }
    });
    let results = futures::future::join_all(tasks).await;
    let mut total_run = Throughput {
        ok: 0,
        errors: 0,
        elapsed: start.elapsed(),
        first_error: None,
    };
    for (ok, errors, first) in results {
        total_run.ok += ok;
        total_run.errors += errors;
        if total_run.first_error.is_none() {
            total_run.first_error = first;
        }
    }
    if total_run.errors > MAX_ERRORS as u64 {
        bail!(
            "{} failed {} times in {} requests; first: {}",
            req.name,
            total_run.errors,
            total_run.ok + total_run.errors,
            total_run.first_error.unwrap_or_default()
        );
    }
    Ok(total_run)
}
