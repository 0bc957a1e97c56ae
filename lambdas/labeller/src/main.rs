//! Entry point of the `labeller` Lambda: builds the S3 client and the labeller once, then serves
//! every S3 event and direct invoke (`{"bucket": "...", "key": "..."}`) with
//! [`labeller::handle_payload`].
//!
//! Environment: none of its own (the AWS SDK's: `AWS_REGION`, credentials, `AWS_ENDPOINT_URL`
//! under LocalStack).
#![forbid(unsafe_code)]

use labeller::s3::S3Objects;
use labeller::{Output, StubLabeller, handle_payload};
use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let store = S3Objects::new(&labeller::aws::load_sdk_config().await);
    let labeller = StubLabeller;
    let (store, labeller) = (&store, &labeller);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let output = handle_payload(labeller, store, event.payload).await;
        match &output {
            Ok(Output::S3(report)) => {
                for line in &report.labelled {
                    tracing::info!("labelled: {line}");
                }
                for line in &report.skipped {
                    tracing::info!("skipped: {line}");
                }
            }
            Ok(Output::Labelled(labelled)) => {
                tracing::info!("labelled: s3://{}/{}", labelled.bucket, labelled.labels_key)
            }
            Err(error) => tracing::warn!(%error, "invocation failed"),
        }
        output
    }))
    .await
}
