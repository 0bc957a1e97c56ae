//! AWS SDK configuration shared by the Lambda and `image-client`: the standard provider chain
//! (which honours `AWS_ENDPOINT_URL`, as LocalStack sets it) over an explicit rustls + ring HTTPS
//! client, so no aws-lc or OpenSSL is built.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// Region the CLI uses when neither its flag nor the environment names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Overrides of the standard configuration. The Lambda uses none (its environment has region,
/// credentials and endpoint); the CLI pins all three so it never consults instance metadata or
/// profiles and only talks to the endpoint it was given.
#[derive(Debug, Clone, Default)]
pub struct SdkSettings {
    /// Send every request here instead of the resolved AWS endpoint.
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    pub credentials: Option<Credentials>,
}

impl SdkSettings {
    /// Settings for a local tool talking to LocalStack: the given endpoint; region from
    /// `region`, else `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`; credentials
    /// from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`), else
    /// LocalStack's `test`/`test`.
    pub fn for_local_tool(
        endpoint_url: &str,
        region: Option<&str>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let set = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let region = region
            .map(str::to_owned)
            .or_else(|| set("AWS_REGION"))
            .or_else(|| set("AWS_DEFAULT_REGION"))
            .unwrap_or_else(|| DEFAULT_REGION.to_owned());
        let credentials = match (set("AWS_ACCESS_KEY_ID"), set("AWS_SECRET_ACCESS_KEY")) {
            (Some(key), Some(secret)) => {
                Credentials::new(key, secret, set("AWS_SESSION_TOKEN"), None, "environment")
            }
            _ => Credentials::new("test", "test", None, None, "localstack-default"),
        };
        SdkSettings {
            endpoint_url: Some(endpoint_url.to_owned()),
            region: Some(region),
            credentials: Some(credentials),
        }
    }
}

/// Loads the SDK configuration from the environment, then applies `settings`.
pub async fn load_sdk_config(settings: &SdkSettings) -> SdkConfig {
    // hyper with rustls on the ring crypto provider: the SDK's default client would build aws-lc.
    let https_client = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(https_client);
    if let Some(endpoint) = &settings.endpoint_url {
        loader = loader.endpoint_url(endpoint.clone());
    }
    if let Some(region) = &settings.region {
        loader = loader.region(Region::new(region.clone()));
    }
    if let Some(credentials) = &settings.credentials {
        loader = loader.credentials_provider(credentials.clone());
    }
    loader.load().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(flag: Option<&str>, vars: &[(&str, &str)]) -> SdkSettings {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        SdkSettings::for_local_tool("http://127.0.0.1:4566", flag, |name| {
            vars.get(name).cloned()
        })
    }

    #[test]
    fn local_tool_defaults_to_localstack_credentials_and_us_east_1() {
        let s = settings(None, &[]);
        assert_eq!(s.endpoint_url.as_deref(), Some("http://127.0.0.1:4566"));
        assert_eq!(s.region.as_deref(), Some("us-east-1"));
        let credentials = s.credentials.unwrap();
        assert_eq!(credentials.access_key_id(), "test");
        assert_eq!(credentials.secret_access_key(), "test");
    }

    #[test]
    fn local_tool_prefers_flag_then_environment() {
        let s = settings(
            Some("eu-north-1"),
            &[("AWS_REGION", "eu-west-1"), ("AWS_ACCESS_KEY_ID", "AKIA")],
        );
        assert_eq!(s.region.as_deref(), Some("eu-north-1"));
        // Half a key pair is not usable: fall back rather than fail later with a signature error.
        assert_eq!(s.credentials.unwrap().access_key_id(), "test");

        let s = settings(
            None,
            &[
                ("AWS_DEFAULT_REGION", "ap-south-1"),
                ("AWS_ACCESS_KEY_ID", "AKIA"),
                ("AWS_SECRET_ACCESS_KEY", "secret"),
            ],
        );
        assert_eq!(s.region.as_deref(), Some("ap-south-1"));
        assert_eq!(s.credentials.unwrap().access_key_id(), "AKIA");
    }
}
