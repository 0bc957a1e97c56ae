//! Entry point of the `heartbeat` Lambda: reads its configuration, builds the S3 store once,
//! then serves every scheduled event and direct invoke with [`heartbeat::handle`].
//!
//! Environment: `HEARTBEAT_BUCKET` (required: the bucket `heartbeats/<time>.json` objects are
//! written to), and the AWS SDK's own (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL` under
//! LocalStack).
#![forbid(unsafe_code)]

use heartbeat::config::Config;
use heartbeat::handle;
use heartbeat::s3::S3Beats;
use lambda_runtime::{Error, service_fn, tracing};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    // A bad configuration stops the function at init, with the reason in its logs, instead of
    // failing every beat later. Logged here because returning it from main would print its
    // Debug form.
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!("cannot start: {error}");
            std::process::exit(1);
        }
    };
    let store = S3Beats::new(&heartbeat::aws::load_sdk_config().await, &config.bucket);
    tracing::info!(bucket = %config.bucket, "heartbeat ready");
    let store = &store;
    lambda_runtime::run(service_fn(move |event| handle(store, event))).await
}
