//! AWS SDK configuration for a LocalStack endpoint: fixed test credentials, one region, the
//! endpoint URL, and one explicitly chosen HTTP client (rustls + ring, no aws-lc to build).

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

pub use lsk_manifest::arn::*;

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

/// The error of any call lsk makes to an SDK operation, boxed with its type erased.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A call to LocalStack's AWS API that failed: which operation, on what, why (the SDK's own
/// error, kept as the source), and what kind of failure it was, for hints.
#[derive(Debug, thiserror::Error)]
#[error("{operation} {resource} failed: {detail}")]
pub struct AwsError {
    operation: String,
    resource: String,
    kind: AwsErrorKind,
    /// What users read: the service's error code and message, or the SDK error's chain.
    detail: String,
    #[source]
    source: Option<BoxError>,
}

/// What kind of failure an [`AwsError`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsErrorKind {
    /// No answer: the connection failed or timed out (LocalStack is not there, or stuck).
    Unreachable,
    /// The service answered with an error, e.g. `ResourceConflictException`.
    Service { code: Option<String> },
    /// The service answered something the SDK (or lsk) could not use.
    Answer,
    /// The request could not be made (a bad parameter, caught before sending).
    Request,
}

impl AwsError {
    /// Any SDK error of `operation` on `resource`.
    pub fn sdk<E, R>(
        operation: impl Into<String>,
        resource: impl Into<String>,
        err: aws_sdk_lambda::error::SdkError<E, R>,
    ) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        use aws_sdk_lambda::error::SdkError;
        let kind = match &err {
            SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() => {
                AwsErrorKind::Unreachable
            }
            SdkError::TimeoutError(_) => AwsErrorKind::Unreachable,
            SdkError::ServiceError(se) => AwsErrorKind::Service {
                code: se.err().code().map(str::to_owned),
            },
            SdkError::ResponseError(_) => AwsErrorKind::Answer,
            _ => AwsErrorKind::Request,
        };
        let detail = match err.as_service_error() {
            Some(se) if se.code().is_some() => format!(
                "{}: {}",
                se.code().unwrap_or_default(),
                se.message().unwrap_or("(no message)")
            ),
            _ => DisplayErrorContext(&err).to_string(),
        };
        AwsError {
            operation: operation.into(),
            resource: resource.into(),
            kind,
            detail,
            source: Some(Box::new(err)),
        }
    }

    /// A request lsk could not build (a field the SDK's builder requires is missing).
    pub fn request(
        operation: impl Into<String>,
        resource: impl Into<String>,
        err: aws_smithy_types::error::operation::BuildError,
    ) -> AwsError {
        AwsError {
            operation: operation.into(),
            resource: resource.into(),
            kind: AwsErrorKind::Request,
            detail: err.to_string(),
            source: Some(Box::new(err)),
        }
    }

    /// An answer that lacks what lsk needs from it (`what`, e.g. "no QueueUrl in the answer").
    pub fn answer(
        operation: impl Into<String>,
        resource: impl Into<String>,
        what: impl Into<String>,
    ) -> AwsError {
        AwsError {
            operation: operation.into(),
            resource: resource.into(),
            kind: AwsErrorKind::Answer,
            detail: what.into(),
            source: None,
        }
    }

    pub fn operation(&self) -> &str {
        &self.operation
    }

    pub fn resource(&self) -> &str {
        &self.resource
    }

    pub fn kind(&self) -> &AwsErrorKind {
        &self.kind
    }

    /// The service's error code, when the service answered with one.
    pub fn code(&self) -> Option<&str> {
        match &self.kind {
            AwsErrorKind::Service { code } => code.as_deref(),
            _ => None,
        }
    }

    /// What to do about it, when the kind of failure says.
    pub fn hint(&self) -> Option<String> {
        match self.kind {
            AwsErrorKind::Unreachable => {
                Some("is LocalStack running? `lsk status` checks, `lsk up` starts it".into())
            }
            _ => None,
        }
    }
}

impl miette::Diagnostic for AwsError {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.hint()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display + 'a>)
    }
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

    use aws_sdk_lambda::error::{ConnectorError, ErrorMetadata, SdkError};
    use aws_sdk_lambda::operation::create_function::CreateFunctionError;
    use std::error::Error as _;

    type Raw = aws_sdk_lambda::config::http::HttpResponse;

    fn refused() -> SdkError<CreateFunctionError, Raw> {
        SdkError::dispatch_failure(ConnectorError::io(Box::new(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "tcp connect error: Connection refused (os error 111)",
        ))))
    }

    fn conflict() -> SdkError<CreateFunctionError, Raw> {
        let meta = ErrorMetadata::builder()
            .code("ResourceConflictException")
            .message("Function already exist: square")
            .build();
        let raw = Raw::new(
            409u16.try_into().unwrap(),
            aws_smithy_types::body::SdkBody::empty(),
        );
        SdkError::service_error(CreateFunctionError::generic(meta), raw)
    }

    #[test]
    fn a_refused_connection_asks_whether_localstack_runs_whatever_the_text() {
        let err = AwsError::sdk("CreateFunction", "square", refused());
        assert_eq!(err.kind(), &AwsErrorKind::Unreachable);
        assert!(err.hint().unwrap().contains("is LocalStack running?"));
        // The hint comes from the kind: a service error whose message speaks of connections
        // gets none.
        let meta = ErrorMetadata::builder()
            .code("ServiceException")
            .message("could not connect to the database")
            .build();
        let raw = Raw::new(
            500u16.try_into().unwrap(),
            aws_smithy_types::body::SdkBody::empty(),
        );
        let err = AwsError::sdk(
            "CreateFunction",
            "square",
            SdkError::service_error(CreateFunctionError::generic(meta), raw),
        );
        assert_eq!(err.code(), Some("ServiceException"));
        assert_eq!(err.hint(), None);
    }

    #[test]
    fn a_service_error_reads_code_and_message_and_keeps_the_sdk_error() {
        let err = AwsError::sdk("CreateFunction", "square", conflict());
        assert_eq!(
            err.to_string(),
            "CreateFunction square failed: ResourceConflictException: Function already exist: square"
        );
        assert_eq!(err.code(), Some("ResourceConflictException"));
        assert_eq!(
            (err.operation(), err.resource()),
            ("CreateFunction", "square")
        );
        let source = err.source().expect("the SDK error is the source");
        assert!(
            source
                .downcast_ref::<SdkError<CreateFunctionError, Raw>>()
                .and_then(|e| e.as_service_error())
                .is_some_and(|se| se.code() == Some("ResourceConflictException")),
            "{source:?}"
        );
    }

    #[test]
    fn the_io_error_stays_at_the_end_of_the_chain() {
        let err = AwsError::sdk("Invoke", "square", refused());
        assert!(
            err.to_string()
                .starts_with("Invoke square failed: dispatch failure"),
            "{err}"
        );
        let mut root = err.source().expect("the SDK error");
        while let Some(next) = root.source() {
            root = next;
        }
        let io = root.downcast_ref::<std::io::Error>().expect("the io error");
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
        assert!(err.hint().unwrap().contains("`lsk up` starts it"));
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
