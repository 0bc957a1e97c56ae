//! Entry point of the `make-change` Lambda: starts the runtime with [`make_change::handle`],
//! which serves API Gateway REST proxy requests, function URL requests and direct invokes.
//!
//! Environment: none of its own (the Lambda runtime's variables only).
#![forbid(unsafe_code)]

use lambda_runtime::{Error, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(make_change::handle)).await
}
