//! Entry point of the `image-generator` Lambda: reads its configuration, builds the model and
//! the S3 store once, then serves every event with [`image_generator::handle`].
//!
//! Environment: `IMAGES_BUCKET` (required), `MODEL_CLIENT` (default `stub`), and the AWS SDK's
//! own (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL` under LocalStack).
#![forbid(unsafe_code)]

use image_generator::aws::{SdkSettings, load_sdk_config};
use image_generator::config::Config;
use image_generator::model::{ModelKind, StubModel};
use image_generator::s3::S3Store;
use image_generator::{ImageService, handle};
use lambda_runtime::{Error, service_fn, tracing};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    // A bad configuration stops the function at init, with the reason in its logs, instead of
    // failing every request later.
    // Logged here because returning it from main would print its Debug form.
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            tracing::error!("cannot start: {error}");
            std::process::exit(1);
        }
    };
    let sdk_config = load_sdk_config(&SdkSettings::default()).await;
    let store = S3Store::new(&sdk_config, &config.bucket);
    let model = match config.model {
        ModelKind::Stub => StubModel,
    };
    tracing::info!(bucket = %config.bucket, model = config.model.model_name(), "image-generator ready");
    let service = ImageService::new(model, store);
    let service = &service;
    lambda_runtime::run(service_fn(move |event| handle(service, event))).await
}
