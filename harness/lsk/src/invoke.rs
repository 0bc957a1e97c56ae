//! Calling deployed functions: `Invoke` (with the decoded log tail), their function URLs over
//! HTTP without DNS, and their CloudWatch logs.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{InvocationType, LogType};
use base64::Engine;
use serde::Serialize;

use crate::aws::{AwsError, Clients};
use crate::error::Error;

/// Synchronous (wait for the result) or asynchronous (queued, 202) invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvokeMode {
    Sync,
    Async,
}

/// The result of one `Invoke`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invocation {
    pub function: String,
    pub status: i32,
    /// The function's answer (empty for async invocations).
    pub payload: String,
    /// `Unhandled` / `Handled` when the function failed.
    pub function_error: Option<String>,
    /// The last 4 KB of the log, decoded (sync invocations only).
    pub log_tail: Option<String>,
    pub executed_version: Option<String>,
}

/// `errorType` and `errorMessage` of a failed invocation's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionFailure {
    pub error_type: String,
    pub message: String,
}

impl Invocation {
    /// The answer as JSON.
    pub fn json(&self) -> Result<serde_json::Value, Error> {
        serde_json::from_str(&self.payload).map_err(|e| Error::NotJson {
            function: self.function.clone(),
            detail: format!("{e} (payload: {})", truncate(&self.payload, 200)),
        })
    }

    /// What went wrong, when the function failed.
    pub fn failure(&self) -> Option<FunctionFailure> {
        self.function_error.as_ref()?;
        let parsed: Option<serde_json::Value> = serde_json::from_str(&self.payload).ok();
        let field = |k: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        Some(FunctionFailure {
            error_type: field("errorType")
                .or_else(|| self.function_error.clone())
                .unwrap_or_default(),
            message: field("errorMessage").unwrap_or_else(|| self.payload.clone()),
        })
    }

    /// `Err(Error::FunctionError)` when the function failed.
    pub fn ok(self) -> Result<Invocation, Error> {
        match self.failure() {
            None => Ok(self),
            Some(f) => Err(Error::FunctionError {
                function: self.function,
                error_type: f.error_type,
                message: f.message,
                log_tail: self.log_tail,
            }),
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        s.to_owned()
    } else {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    }
}

/// Decodes Lambda's base64 `LogResult`.
pub fn decode_log_tail(encoded: &str) -> Option<String> {
    base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// Invokes `function` with `payload` (JSON text or bytes).
pub async fn invoke(
    clients: &Clients,
    function: &str,
    payload: &[u8],
    mode: InvokeMode,
) -> Result<Invocation, Error> {
    let mut req = clients
        .lambda
        .invoke()
        .function_name(function)
        .payload(Blob::new(payload.to_vec()));
    req = match mode {
        InvokeMode::Sync => req
            .invocation_type(InvocationType::RequestResponse)
            .log_type(LogType::Tail),
        InvokeMode::Async => req.invocation_type(InvocationType::Event),
    };
    let out = req
        .send()
        .await
        .map_err(|e| Error::Aws(AwsError::sdk("Invoke", function, e)))?;
    Ok(Invocation {
        function: function.to_owned(),
        status: out.status_code(),
        payload: out
            .payload()
            .map(|b| String::from_utf8_lossy(b.as_ref()).into_owned())
            .unwrap_or_default(),
        function_error: out.function_error().map(str::to_owned),
        log_tail: out.log_result().and_then(decode_log_tail),
        executed_version: out.executed_version().map(str::to_owned),
    })
}

/// An HTTP answer from a function URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpReply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
    /// A header's value (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The address the LocalStack endpoint's host resolves to.
pub async fn endpoint_addr(endpoint: &str) -> Result<SocketAddr, Error> {
    let not_a_url = |detail: String| Error::Http {
        method: String::new(),
        url: endpoint.to_owned(),
        detail,
    };
    let url = url::Url::parse(endpoint).map_err(|e| not_a_url(format!("not a URL: {e}")))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let domain = match url.host() {
        Some(url::Host::Ipv4(ip)) => return Ok(SocketAddr::new(ip.into(), port)),
        Some(url::Host::Ipv6(ip)) => return Ok(SocketAddr::new(ip.into(), port)),
        Some(url::Host::Domain(domain)) => domain,
        None => return Err(not_a_url("no host".into())),
    };
    tokio::net::lookup_host((domain, port))
        .await
        .map_err(|source| Error::Io {
            what: format!("resolving {domain}:{port}"),
            source,
        })?
        .next()
        .ok_or_else(|| not_a_url(format!("{domain}:{port} resolves to no address")))
}

/// Sends `method` to a function URL given in its offline (`*.localhost`) form, connecting to
/// the LocalStack endpoint directly so no DNS is needed.
pub async fn call_url(
    endpoint: &str,
    url: &str,
    method: &str,
    body: Option<Vec<u8>>,
    content_type: Option<&str>,
) -> Result<HttpReply, Error> {
    let http_err = |detail: String| Error::Http {
        method: method.to_owned(),
        url: url.to_owned(),
        detail,
    };
    let host = url::Url::parse(url)
        .map_err(|e| http_err(format!("not a URL: {e}")))?
        .host_str()
        .unwrap_or_default()
        .to_owned();
    let addr = endpoint_addr(endpoint).await?;
    let client = reqwest::Client::builder()
        .resolve(&host, addr)
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| http_err(e.to_string()))?;
    let method_value = reqwest::Method::from_bytes(method.as_bytes())
        .map_err(|e| http_err(format!("bad method: {e}")))?;
    let mut req = client.request(method_value, url);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let resp = req.send().await.map_err(|e| http_err(e.to_string()))?;
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = resp
        .bytes()
        .await
        .map_err(|e| http_err(e.to_string()))?
        .to_vec();
    Ok(HttpReply {
        status,
        headers,
        body,
    })
}

/// One CloudWatch log line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub timestamp_ms: i64,
    pub stream: String,
    pub message: String,
    #[serde(skip)]
    pub event_id: String,
}

/// The log group Lambda writes a function's output to.
pub fn log_group(function: &str) -> String {
    format!("/aws/lambda/{function}")
}

/// Milliseconds since the epoch, `ago` before now.
pub fn millis_ago(ago: Duration) -> i64 {
    SystemTime::now()
        .checked_sub(ago)
        .unwrap_or(UNIX_EPOCH)
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Log lines of `function` from `start_ms` on; an empty list when it has not logged yet.
pub async fn logs(clients: &Clients, function: &str, start_ms: i64) -> Result<Vec<LogLine>, Error> {
    let group = log_group(function);
    let mut out = Vec::new();
    let mut pages = clients
        .logs
        .filter_log_events()
        .log_group_name(&group)
        .start_time(start_ms)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                return Ok(Vec::new());
            }
            Err(e) => return Err(Error::Aws(AwsError::sdk("FilterLogEvents", &group, e))),
        };
        for ev in page.events() {
            out.push(LogLine {
                timestamp_ms: ev.timestamp().unwrap_or_default(),
                stream: ev.log_stream_name().unwrap_or_default().to_owned(),
                message: ev.message().unwrap_or_default().trim_end().to_owned(),
                event_id: ev.event_id().unwrap_or_default().to_owned(),
            });
        }
        // A page with no events ends the lines there are so far (CloudWatch may still hand
        // out a token, for lines to come).
        if page.events().is_empty() {
            break;
        }
    }
    out.sort_by_key(|l| l.timestamp_ms);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(payload: &str, error: Option<&str>) -> Invocation {
        Invocation {
            function: "square".into(),
            status: 200,
            payload: payload.into(),
            function_error: error.map(str::to_owned),
            log_tail: Some("START RequestId: 1\nEND RequestId: 1\n".into()),
            executed_version: Some("$LATEST".into()),
        }
    }

    #[test]
    fn successful_invocation_is_json() {
        let i = inv(r#"{"result": 36}"#, None);
        assert_eq!(i.json().unwrap(), serde_json::json!({"result": 36}));
        assert!(i.failure().is_none());
        assert!(i.ok().is_ok());
    }

    #[test]
    fn function_error_carries_type_and_message() {
        let i = inv(
            r#"{"errorType": "InvalidInput", "errorMessage": "number is missing"}"#,
            Some("Unhandled"),
        );
        assert_eq!(
            i.failure(),
            Some(FunctionFailure {
                error_type: "InvalidInput".into(),
                message: "number is missing".into()
            })
        );
        let err = i.ok().unwrap_err();
        assert_eq!(
            err.to_string(),
            "function square failed: InvalidInput: number is missing"
        );
        assert!(matches!(
            err,
            Error::FunctionError {
                log_tail: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn non_json_error_payload_still_reports() {
        let f = inv("Segmentation fault", Some("Unhandled"))
            .failure()
            .unwrap();
        assert_eq!(f.error_type, "Unhandled");
        assert_eq!(f.message, "Segmentation fault");
        let err = inv("not json", None).json().unwrap_err();
        assert!(err.to_string().contains("not JSON"), "{err}");
    }

    #[test]
    fn log_tail_is_decoded() {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode("START RequestId: x\nhello\n");
        assert_eq!(
            decode_log_tail(&encoded).as_deref(),
            Some("START RequestId: x\nhello\n")
        );
        assert_eq!(decode_log_tail("%%%"), None);
    }

    #[test]
    fn log_group_name() {
        assert_eq!(log_group("square"), "/aws/lambda/square");
    }

    #[tokio::test]
    async fn function_url_is_reached_through_the_endpoint_without_dns() {
        // A one-shot HTTP server on loopback stands in for LocalStack and records the Host header.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let mut got = Vec::new();
            loop {
                let n = sock.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got);
                if let Some(head_end) = text.find("\r\n\r\n")
                    && (got.len() >= head_end + 4 + 13 || n == 0)
                {
                    break;
                }
            }
            let body = r#"{"result": 36}"#;
            sock.write_all(
                format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            )
            .await
            .unwrap();
            String::from_utf8_lossy(&got).into_owned()
        });
        let url = format!("http://abc123.lambda-url.us-east-1.localhost:{port}/");
        let reply = call_url(
            &format!("http://127.0.0.1:{port}"),
            &url,
            "POST",
            Some(br#"{"number": 6}"#.to_vec()),
            Some("application/json"),
        )
        .await
        .unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(reply.json().unwrap(), serde_json::json!({"result": 36}));
        assert_eq!(reply.header("Content-Type"), Some("application/json"));
        let request = server.await.unwrap();
        assert!(request.starts_with("POST / HTTP/1.1\r\n"), "{request}");
        assert!(
            request.to_ascii_lowercase().contains(&format!(
                "host: abc123.lambda-url.us-east-1.localhost:{port}"
            )),
            "{request}"
        );
        assert!(request.ends_with(r#"{"number": 6}"#), "{request}");
    }
}
