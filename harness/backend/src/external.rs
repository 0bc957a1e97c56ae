//! A LocalStack that is already running somewhere: nothing is started, only its health checked
//! at `GET /_localstack/health`. Also used by the other backends to wait for readiness.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::BackendError;

/// Services a stack needs; LocalStack must report each as available or running.
pub const NEEDED_SERVICES: &[&str] = &["lambda", "sqs", "s3", "logs"];

/// What `/_localstack/health` says.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct Health {
    #[serde(default)]
    pub services: BTreeMap<String, String>,
    #[serde(default)]
    pub edition: Option<String>,
    #[serde(default)]
    pub version: Option<String>,
}

impl Health {
    /// Services from `needed` that are missing or in a state other than available/running.
    pub fn unusable(&self, needed: &[&str]) -> Vec<String> {
        needed
            .iter()
            .filter_map(|s| match self.services.get(*s).map(String::as_str) {
                Some("available" | "running") => None,
                Some(state) => Some(format!("{s} ({state})")),
                None => Some(format!("{s} (not offered)")),
            })
            .collect()
    }
}

/// `http://host:port` without a trailing slash, checked to be plain HTTP.
pub fn normalize_endpoint(endpoint: &str) -> Result<String, BackendError> {
    let bad = |why: &str| BackendError::BadEndpoint {
        endpoint: endpoint.to_owned(),
        why: why.to_owned(),
    };
    let not_http = "it must start with http:// (LocalStack here speaks plain HTTP)";
    let url = url::Url::parse(endpoint.trim()).map_err(|_| bad(not_http))?;
    if url.scheme() != "http" {
        return Err(bad(not_http));
    }
    if url.host().is_none()
        || url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(bad("expected http://HOST:PORT with no path"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// The port of `http://host:port` (80 when none is given).
pub fn endpoint_port(endpoint: &str) -> u16 {
    url::Url::parse(endpoint)
        .ok()
        .and_then(|u| u.port_or_known_default())
        .unwrap_or(80)
}

fn http_client(timeout: Duration) -> Result<reqwest::Client, BackendError> {
    reqwest::Client::builder()
        .timeout(timeout)
        .no_proxy()
        .build()
        .map_err(|e| BackendError::Unhealthy {
            endpoint: String::new(),
            detail: format!("cannot build an HTTP client: {e}"),
        })
}

/// One health request.
pub async fn health(endpoint: &str, timeout: Duration) -> Result<Health, BackendError> {
    let url = format!("{}/_localstack/health", endpoint.trim_end_matches('/'));
    let unhealthy = |detail: String| BackendError::Unhealthy {
        endpoint: endpoint.to_owned(),
        detail,
    };
    let response = http_client(timeout)?
        .get(&url)
        .send()
        .await
        .map_err(|e| unhealthy(format!("GET {url}: {e}")))?;
    let status = response.status();
    if !status.is_success() {
        return Err(unhealthy(format!("GET {url} answered {status}")));
    }
    response.json::<Health>().await.map_err(|e| {
        unhealthy(format!(
            "GET {url} did not return LocalStack's health JSON: {e}"
        ))
    })
}

/// What our LocalStack plugin says at `GET /_lsk/info` (absent on other LocalStacks).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct KitInfo {
    #[serde(default)]
    pub executor: Option<String>,
    /// `namespaced` (code at /var/task, a private /tmp) or `host-paths`.
    #[serde(default)]
    pub function_fs: Option<String>,
    /// Why functions run from host paths.
    #[serde(default)]
    pub function_fs_reason: Option<String>,
}

impl KitInfo {
    /// One line on what functions see of the filesystem, for `lsk status`.
    pub fn function_fs_line(&self) -> Option<String> {
        match self.function_fs.as_deref()? {
            "namespaced" => Some(
                "code at /var/task (read-only), a private /tmp, bash as /bin/sh (mount namespace)"
                    .into(),
            ),
            _ => Some(format!(
                "code and TMPDIR at host paths, not /var/task and /tmp ({})",
                self.function_fs_reason
                    .as_deref()
                    .unwrap_or("no reason given")
            )),
        }
    }
}

/// `GET /_lsk/info`, or None when this LocalStack does not run our plugin (or does not answer).
pub async fn kit_info(endpoint: &str) -> Option<KitInfo> {
    let url = format!("{}/_lsk/info", endpoint.trim_end_matches('/'));
    let response = http_client(Duration::from_secs(15))
        .ok()?
        .get(&url)
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json::<KitInfo>().await.ok()
}

/// Checks an existing LocalStack once: reachable and offering what a stack needs.
pub async fn check(endpoint: &str) -> Result<Health, BackendError> {
    let h = health(endpoint, Duration::from_secs(5)).await?;
    let bad = h.unusable(NEEDED_SERVICES);
    if bad.is_empty() {
        Ok(h)
    } else {
        Err(BackendError::Unhealthy {
            endpoint: endpoint.to_owned(),
            detail: format!(
                "LocalStack answers but these services are not usable: {}; enable them (SERVICES=...) and retry",
                bad.join(", ")
            ),
        })
    }
}

/// Checks that LocalStack offers `services` (what the manifest uses beyond the kit's own): one
/// started earlier, or by someone else, may have been started without them. Returns every
/// service it offers, so a deploy prunes only kinds whose service is there to ask.
pub async fn check_services(
    endpoint: &str,
    services: &[String],
) -> Result<std::collections::BTreeSet<String>, BackendError> {
    let h = health(endpoint, Duration::from_secs(5)).await?;
    let needed: Vec<&str> = services.iter().map(String::as_str).collect();
    let missing = h.unusable(&needed);
    if missing.is_empty() {
        Ok(h.services
            .iter()
            .filter(|(_, state)| matches!(state.as_str(), "available" | "running"))
            .map(|(name, _)| name.clone())
            .collect())
    } else {
        Err(BackendError::MissingServices {
            endpoint: endpoint.to_owned(),
            missing,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_json_and_unusable_services() {
        let h: Health = serde_json::from_str(
            r#"{"services": {"lambda": "running", "sqs": "available", "s3": "disabled", "dynamodb": "available"},
                "edition": "community", "version": "4.9.2"}"#,
        )
        .unwrap();
        assert_eq!(h.version.as_deref(), Some("4.9.2"));
        assert_eq!(
            h.unusable(NEEDED_SERVICES),
            ["s3 (disabled)", "logs (not offered)"]
        );
    }

    #[test]
    fn endpoints_are_checked_and_normalized() {
        assert_eq!(
            normalize_endpoint("http://127.0.0.1:4566/").unwrap(),
            "http://127.0.0.1:4566"
        );
        assert!(normalize_endpoint("https://x:4566").is_err());
        assert!(normalize_endpoint("127.0.0.1:4566").is_err());
        let err = normalize_endpoint("http://h:1/path").unwrap_err();
        assert!(err.to_string().contains("no path"), "{err}");
        assert!(normalize_endpoint("http://h:1/?q").is_err());
        assert!(normalize_endpoint("http://").is_err());
        assert_eq!(
            normalize_endpoint(" http://LocalStack:4566 ").unwrap(),
            "http://localstack:4566"
        );
        assert_eq!(endpoint_port("http://127.0.0.1:4567"), 4567);
        assert_eq!(endpoint_port("http://localstack"), 80);
    }

    #[tokio::test]
    async fn nothing_listening_is_a_clear_error() {
        // Bind then drop to get a port with (almost certainly) nobody on it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let endpoint = format!("http://127.0.0.1:{port}");
        let err = check(&endpoint).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains(&endpoint), "{text}");
        assert!(text.contains("_localstack/health"), "{text}");
    }
}
