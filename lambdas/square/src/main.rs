//! Entry point of the `square` Lambda: starts the runtime with [`square::handle`], which serves
//! both direct invocations and function URL requests.
#![forbid(unsafe_code)]

use lambda_runtime::{Error, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(square::handle)).await
}
