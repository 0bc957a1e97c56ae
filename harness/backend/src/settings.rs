//! The settings every LocalStack the kit starts runs with, on either backend that starts one.

use super::*;

/// LocalStack settings both started backends run with (a variable of the same name in the
/// environment of `lsk` wins, for the native backend).
///
/// LocalStack's SQS event source poller waits `LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC`
/// (default 1 s) after every batch it handled, so a queue drained at one batch per second: 500
/// messages in batches of 5 took 114 s. AWS polls again at once while a queue has messages; with
/// 0 the same 500 took 9 s (`make bench`). An empty queue is polled again after at most 1 s
/// instead of backing off up to 10 s, so a message sent to an idle queue is picked up within a
/// second (one short `ReceiveMessage` per second and mapping; cheap).
pub const LOCALSTACK_TUNING: &[(&str, &str)] = &[
    ("LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC", "0"),
    (
        "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC",
        "1",
    ),
];

/// LocalStack settings of the backends that run our plugin (native, and docker's kit flavour)
/// for host port `port`, with `services` started besides [`native::SERVICES`]. A variable of the
/// same name in the environment of `lsk` wins.
pub fn common_env(port: u16, services: &[String]) -> Vec<(String, String)> {
    common_env_with(port, services, |k| std::env::var(k).ok())
}

/// The `SERVICES` LocalStack starts: the kit's own, then `extra` (what the manifest needs, see
/// [`crate::Manifest::services`]) without repeats.
pub fn services_setting(extra: &[String]) -> String {
    let mut all: Vec<&str> = native::SERVICES.split(',').collect();
    for s in extra {
        if !all.contains(&s.as_str()) {
            all.push(s);
        }
    }
    all.join(",")
}

/// [`common_env`] with the overriding environment given (the compose file is rendered with none).
pub fn common_env_with(
    port: u16,
    services: &[String],
    lookup: impl Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    let host = |k: &str, default: &str| lookup(k).unwrap_or_else(|| default.to_string());
    let mut env: Vec<(String, String)> = vec![
        // Returned URLs (function URLs, queue URLs) carry the real (published) port.
        (
            "LOCALSTACK_HOST".into(),
            format!("localhost.localstack.cloud:{port}"),
        ),
        ("SQS_ENDPOINT_STRATEGY".into(), "path".into()),
        (
            "SERVICES".into(),
            host("LSK_SERVICES", &services_setting(services)),
        ),
        ("EAGER_SERVICE_LOADING".into(), "1".into()),
        ("LAMBDA_RUNTIME_EXECUTOR".into(), "process".into()),
        ("DNS_ADDRESS".into(), "0".into()),
        ("SKIP_SSL_CERT_DOWNLOAD".into(), "1".into()),
        ("DISABLE_EVENTS".into(), "1".into()),
        ("LS_LOG".into(), host("LS_LOG", "warn")),
        // Read by our executor: results in the answer to /invoke ("inline") or through
        // callbacks ("callback", the Go init's protocol); see localstack/plugin.
        (
            "LSK_INVOKE_RESULTS".into(),
            host("LSK_INVOKE_RESULTS", "inline"),
        ),
        // Read by our executor: how it frames HTTP to lsk-init ("own" reader, or "h11"; both
        // timed by `make bench`'s reader rows).
        ("LSK_EXECUTOR_HTTP".into(), host("LSK_EXECUTOR_HTTP", "own")),
        // Read by our executor plugin: how long Lambda logs wait to be batched into one
        // PutLogEvents call (localstack/plugin/lsk_localstack/logs.py).
        ("LSK_LOG_BATCH_MS".into(), host("LSK_LOG_BATCH_MS", "100")),
        // Read by our plugin: the newest log events kept per CloudWatch log stream, so memory
        // stays flat under many invokes (localstack/plugin/lsk_localstack/retention.py).
        (
            "LSK_LOG_EVENTS_PER_STREAM".into(),
            host("LSK_LOG_EVENTS_PER_STREAM", "10000"),
        ),
        // glibc gives each of LocalStack's many threads up to 8 x cores malloc arenas, each
        // keeping what it freed: 2 took ~20 MB off LocalStack's RSS after a deploy (bench).
        ("MALLOC_ARENA_MAX".into(), host("MALLOC_ARENA_MAX", "2")),
        // Read by our launcher: a 1 ms GIL switch interval cut warm invoke p50 by ~13% (bench).
        (
            "LSK_SWITCH_INTERVAL_MS".into(),
            host("LSK_SWITCH_INTERVAL_MS", "1"),
        ),
    ];
    for (k, v) in LOCALSTACK_TUNING {
        env.push(((*k).into(), host(k, v)));
    }
    // lsk-init's own settings, passed on only when set: its log filter, and `LSK_INIT_FS=host`
    // to run functions from host paths instead of /var/task with a private /tmp.
    for k in ["LSK_INIT_LOG", "LSK_INIT_FS"] {
        if let Some(v) = lookup(k) {
            env.push((k.into(), v));
        }
    }
    env
}

/// `http://127.0.0.1:<port>`
pub fn local_endpoint(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}
