//! Entry point of the `probe` test Lambda: wires the runtime to [`probe::handle`].
#![forbid(unsafe_code)]

use lambda_runtime::{Error, service_fn};

/// Exit status when `PROBE_FAIL_INIT=1` asks the probe to fail during init.
const INIT_FAILURE_EXIT_CODE: i32 = 7;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // Lets the runtime tests exercise an init failure: the bootstrap dies before it ever
    // asks the Runtime API for an invocation.
    if std::env::var("PROBE_FAIL_INIT").as_deref() == Ok("1") {
        eprintln!(
            "probe: PROBE_FAIL_INIT=1, exiting with code {INIT_FAILURE_EXIT_CODE} before the runtime starts"
        );
        std::process::exit(INIT_FAILURE_EXIT_CODE);
    }
    lambda_runtime::tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(probe::handle)).await
}
