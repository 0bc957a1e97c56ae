//! AWS SDK configuration for a LocalStack endpoint: fixed test credentials, one region, the
//! endpoint URL, and one explicitly chosen HTTP client (rustls + ring, no aws-lc to build).

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// LocalStack's default region, and ours.
pub const DEFAULT_REGION: &str = "us-east-1";
/// The account LocalStack uses for the `test` access key.
pub const ACCOUNT_ID: &str = "000000000000";
/// LocalStack does not enforce IAM; every function gets this role.
pub const LAMBDA_ROLE: &str = "arn:aws:iam::000000000000:role/lambda-role";
/// LocalStack accepts any credentials; these are the conventional ones.
pub const ACCESS_KEY_ID: &str = "test";
pub const SECRET_ACCESS_KEY: &str = "test";
/// How long connecting to LocalStack may take.
pub const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// An `SdkConfig` that talks to `endpoint` (e.g. `http://127.0.0.1:4566`).
///
/// Nothing is read from the environment or `~/.aws`, so a developer's real AWS profile can never
/// be used by accident.
pub fn sdk_config(endpoint: &str, region: &str) -> SdkConfig {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let credentials = Credentials::new(ACCESS_KEY_ID, SECRET_ACCESS_KEY, None, None, "lsk");
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint.trim_end_matches('/'))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(http_client)
        // A LocalStack that is not there should fail fast; calls themselves may be long
        // (a synchronous Invoke lasts as long as the function).
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .build(),
        )
        .build()
}

/// S3 needs path-style addressing: virtual hosts (`bucket.localhost...`) need DNS we lack.
pub fn s3_config(sdk: &SdkConfig) -> aws_sdk_s3::Config {
    aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(true)
        .build()
}

/// The service clients a deploy uses, built once from one config.
#[derive(Debug, Clone)]
pub struct Clients {
    pub lambda: aws_sdk_lambda::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sns: aws_sdk_sns::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub apigateway: aws_sdk_apigateway::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub region: String,
    /// The port LocalStack answers on, for URLs that work offline.
    pub port: u16,
}

impl Clients {
    pub fn new(sdk: &SdkConfig) -> Clients {
        Clients {
            lambda: aws_sdk_lambda::Client::new(sdk),
            sqs: aws_sdk_sqs::Client::new(sdk),
            s3: aws_sdk_s3::Client::from_conf(s3_config(sdk)),
            logs: aws_sdk_cloudwatchlogs::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            events: aws_sdk_eventbridge::Client::new(sdk),
            apigateway: aws_sdk_apigateway::Client::new(sdk),
            sfn: aws_sdk_sfn::Client::new(sdk),
            port: sdk
                .endpoint_url()
                .and_then(|u| url::Url::parse(u).ok())
                .and_then(|u| u.port_or_known_default())
                .unwrap_or(4566),
            region: sdk
                .region()
                .map_or_else(|| DEFAULT_REGION.to_owned(), |r| r.to_string()),
        }
    }
}

/// The ARN a function has (or will have) in LocalStack.
pub fn function_arn(region: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}")
}

/// The ARN of an S3 bucket.
pub fn bucket_arn(name: &str) -> String {
    format!("arn:aws:s3:::{name}")
}

/// The ARN of an SNS topic.
pub fn topic_arn(region: &str, name: &str) -> String {
    format!("arn:aws:sns:{region}:{ACCOUNT_ID}:{name}")
}

/// The ARN of an EventBridge rule on `bus` (rules on the default bus have no bus in their ARN).
pub fn rule_arn(region: &str, bus: &str, name: &str) -> String {
    if bus == "default" {
        format!("arn:aws:events:{region}:{ACCOUNT_ID}:rule/{name}")
    } else {
        format!("arn:aws:events:{region}:{ACCOUNT_ID}:rule/{bus}/{name}")
    }
}

/// The ARN of an EventBridge event bus.
pub fn bus_arn(region: &str, bus: &str) -> String {
    format!("arn:aws:events:{region}:{ACCOUNT_ID}:event-bus/{bus}")
}

/// The ARN of a Step Functions state machine.
pub fn state_machine_arn(region: &str, name: &str) -> String {
    format!("arn:aws:states:{region}:{ACCOUNT_ID}:stateMachine:{name}")
}

/// The role state machines run with (LocalStack does not enforce IAM).
pub const STATES_ROLE: &str = "arn:aws:iam::000000000000:role/lsk-states";

/// The role EventBridge uses for targets that need one (LocalStack does not enforce IAM).
pub const EVENTS_ROLE: &str = "arn:aws:iam::000000000000:role/lsk-events";

/// The ARN of an SQS queue.
pub fn queue_arn(region: &str, name: &str) -> String {
    format!("arn:aws:sqs:{region}:{ACCOUNT_ID}:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_points_at_the_endpoint_with_test_credentials() {
        let sdk = sdk_config("http://127.0.0.1:4566/", "eu-west-1");
        assert_eq!(sdk.endpoint_url(), Some("http://127.0.0.1:4566"));
        assert_eq!(sdk.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert!(sdk.credentials_provider().is_some());
        assert!(sdk.http_client().is_some());
    }

    #[test]
    fn arns_use_the_localstack_account() {
        assert_eq!(
            function_arn("us-east-1", "square"),
            "arn:aws:lambda:us-east-1:000000000000:function:square"
        );
        assert_eq!(
            queue_arn("us-east-1", "q"),
            "arn:aws:sqs:us-east-1:000000000000:q"
        );
        assert_eq!(bucket_arn("lsk-images"), "arn:aws:s3:::lsk-images");
    }
}
