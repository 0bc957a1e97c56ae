//! HTTP/1 plumbing shared by both listeners: the accept loop (TCP_NODELAY on every
//! socket), request bodies read with a size limit, and small JSON answers.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::error::ApiError;
use crate::state::App;

pub type Request = http::Request<Incoming>;
pub type Reply = Response<Full<Bytes>>;

/// Accepts connections forever and serves each with `handler`.
pub async fn serve<H, F>(listener: TcpListener, app: Arc<App>, handler: H)
where
    H: Fn(Arc<App>, Request) -> F + Copy + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, %peer, "could not set TCP_NODELAY");
        }
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let app = app.clone();
                async move { Ok::<_, Infallible>(handler(app, req).await) }
            });
            let result = http1::Builder::new()
                .header_read_timeout(None)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(e) = result {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        });
    }
}

/// A request body read up to a limit.
#[derive(Debug)]
pub enum Body {
    Complete(Bytes),
    /// Larger than allowed: the body was read to the end to learn its size, but not kept.
    TooLarge {
        size: u64,
    },
}

/// Reads a whole body, keeping at most `limit` bytes.
pub async fn read_body(mut body: Incoming, limit: usize) -> Result<Body, hyper::Error> {
    let limit = limit as u64;
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut size: u64 = 0;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        size += data.len() as u64;
        if size <= limit {
            chunks.push(data);
        } else if !chunks.is_empty() {
            chunks = Vec::new();
        }
    }
    if size > limit {
        return Ok(Body::TooLarge { size });
    }
    Ok(Body::Complete(match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.swap_remove(0),
        _ => {
            let mut all = BytesMut::with_capacity(size as usize);
            for c in chunks {
                all.extend_from_slice(&c);
            }
            all.freeze()
        }
    }))
}

/// A response with a body and a content type.
pub fn reply(status: StatusCode, content_type: &'static str, body: Bytes) -> Reply {
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

pub fn json(status: StatusCode, body: Bytes) -> Reply {
    reply(status, "application/json", body)
}

pub fn empty(status: StatusCode) -> Reply {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = status;
    resp
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Reply {
        if e.status.is_server_error() {
            tracing::warn!(error = %e, "request failed");
        } else {
            tracing::debug!(error = %e, "request rejected");
        }
        json(e.status, e.body())
    }
}

/// 404 for paths the init does not serve.
pub fn not_found(path: &str) -> Reply {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("lsk-init does not serve {path}"),
    )
    .into()
}

/// 405 for a known path with the wrong method.
pub fn method_not_allowed(method: &http::Method, path: &str) -> Reply {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!("{method} is not allowed on {path}"),
    )
    .into()
}
