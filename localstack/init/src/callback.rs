//! Client for LocalStack's callback endpoint: environment status (ready / error) and
//! each invocation's logs and result, over one keep-alive HTTP/1.1 connection pool.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::config::LocalStackTarget;
use crate::error::CallbackError;

/// Posts to `LOCALSTACK_RUNTIME_ENDPOINT`.
#[derive(Clone, Debug)]
pub struct Callback {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    runtime_id: String,
}

impl Callback {
    pub fn new(target: &LocalStackTarget) -> Callback {
        let mut connector = HttpConnector::new();
        // Each callback is a small request on the invoke's critical path: no Nagle.
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(4)
            .build(connector);
        Callback {
            client,
            base: target.runtime_endpoint.clone(),
            runtime_id: target.runtime_id.clone(),
        }
    }

    /// `POST {endpoint}/status/{runtime-id}/ready`: the bootstrap asked for its first event.
    pub async fn status_ready(&self) -> Result<(), CallbackError> {
        let url = format!("{}/status/{}/ready", self.base, self.runtime_id);
        self.post("status ready", url, Bytes::new(), None).await
    }

    /// `POST {endpoint}/status/{runtime-id}/error`: the environment could not start.
    pub async fn status_error(&self, body: Bytes) -> Result<(), CallbackError> {
        let url = format!("{}/status/{}/error", self.base, self.runtime_id);
        self.post("status error", url, body, Some("application/json"))
            .await
    }

    /// `POST {endpoint}/invocations/{id}/logs` with `{"logs": ...}`.
    pub async fn logs(&self, request_id: &str, logs: &str) -> Result<(), CallbackError> {
        let url = format!("{}/invocations/{request_id}/logs", self.base);
        let body = Bytes::from(serde_json::json!({ "logs": logs }).to_string());
        self.post("invocation logs", url, body, Some("application/json"))
            .await
    }

    /// `POST {endpoint}/invocations/{id}/response` with the function's raw response.
    pub async fn response(&self, request_id: &str, body: Bytes) -> Result<(), CallbackError> {
        let url = format!("{}/invocations/{request_id}/response", self.base);
        self.post("invocation response", url, body, Some("application/json"))
            .await
    }

    /// `POST {endpoint}/invocations/{id}/error` with a Lambda error JSON.
    pub async fn error(&self, request_id: &str, body: Bytes) -> Result<(), CallbackError> {
        let url = format!("{}/invocations/{request_id}/error", self.base);
        self.post("invocation error", url, body, Some("application/json"))
            .await
    }

    async fn post(
        &self,
        what: &'static str,
        url: String,
        body: Bytes,
        content_type: Option<&'static str>,
    ) -> Result<(), CallbackError> {
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = url
            .parse()
            .map_err(|e: http::uri::InvalidUri| CallbackError::Url {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        if let Some(ct) = content_type {
            req.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|source| CallbackError::Send {
                what,
                url: url.clone(),
                source,
            })?;
        let status = resp.status();
        // Read the answer to the end so the connection goes back to the pool.
        let body = resp
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if status.is_success() {
            tracing::debug!(what, %url, %status, "callback delivered");
            Ok(())
        } else {
            Err(CallbackError::Status {
                what,
                url,
                status,
                body: String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
            })
        }
    }
}
