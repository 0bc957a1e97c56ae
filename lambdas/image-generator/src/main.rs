//! Entry point of the `image-generator` Lambda: reads its configuration, builds the model, the
//! S3 store and the notifier once, then serves every event with [`image_generator::handle`].
//!
//! Environment: `IMAGES_BUCKET` (required), `MODEL_CLIENT` (default `stub`),
//! `IMAGE_READY_TOPIC_ARN` (optional: an SNS topic ARN that gets an `image-ready` message
//! `{"bucket", "key", "prompt", "uri", "width", "height", "seed", "bytes", "content_type",
//! "model"}` after every stored image; unset publishes nothing), and the AWS SDK's own
//! (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL` under LocalStack).
#![forbid(unsafe_code)]
// The handler's future nests every way in (URL, REST, SQS, direct) around the AWS SDK's deep
// futures; laying it out takes the compiler past its default query depth of 128.
#![recursion_limit = "256"]

use image_generator::aws::{SdkSettings, load_sdk_config};
use image_generator::config::Config;
use image_generator::model::{ModelKind, StubModel};
use image_generator::s3::S3Store;
use image_generator::sns::SnsNotifier;
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
    // `None` when no topic is configured: the service then publishes nothing.
    let notifier = config
        .image_ready_topic
        .as_deref()
        .map(|topic| SnsNotifier::new(&sdk_config, topic));
    tracing::info!(
        bucket = %config.bucket,
        model = config.model.model_name(),
        image_ready_topic = config.image_ready_topic.as_deref().unwrap_or("(none)"),
        "image-generator ready"
    );
    let service = ImageService::new(model, store).with_notifier(notifier);
    let service = &service;
    lambda_runtime::run(service_fn(move |event| handle(service, event))).await
}
