//! AWS SDK configuration: the standard provider chain (which honours `AWS_ENDPOINT_URL`, as
//! LocalStack sets it) over an explicit rustls + ring HTTPS client, so no aws-lc is built.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// Loads the SDK configuration from the function's environment.
pub async fn load_sdk_config() -> SdkConfig {
    let https_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client)
        .load()
        .await
}
