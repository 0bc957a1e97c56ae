//! Entry point of the `labeller` Lambda: builds the S3 client and the labeller once, then serves
//! every S3 event with [`labeller::handle`].
#![forbid(unsafe_code)]

use aws_lambda_events::event::s3::S3Event;
use labeller::s3::S3Objects;
use labeller::{StubLabeller, handle};
use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let store = S3Objects::new(&labeller::aws::load_sdk_config().await);
    let labeller = StubLabeller;
    let (store, labeller) = (&store, &labeller);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<S3Event>| async move {
        let report = handle(labeller, store, event.payload).await?;
        for line in &report.labelled {
            tracing::info!("labelled: {line}");
        }
        for line in &report.skipped {
            tracing::info!("skipped: {line}");
        }
        Ok::<_, labeller::HandlerError>(report)
    }))
    .await
}
