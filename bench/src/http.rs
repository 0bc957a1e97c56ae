//! A keep-alive HTTP/1.1 client for latency measurements: one TCP connection with TCP_NODELAY,
//! hyper's client connection over it (headers and body leave in one vectored write), and
//! requests prepared once so a sample measures the server, not the client.
//!
//! Why: a client that writes headers and body separately, or waits for `100-continue`, stalls
//! ~40 ms on delayed ACKs (Nagle's algorithm against the peer's delayed ACK), which would swamp
//! a ~1 ms floor.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// How long one request may take before the sample is an error (cold starts included).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A request built once and sent many times.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub name: String,
    method: Method,
    path: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
}

impl Prepared {
    /// `host` is the Host header (it selects a function URL); `path` is origin-form (`/...`).
    pub fn new(
        name: &str,
        method: Method,
        host: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Prepared> {
        let mut all = vec![(
            hyper::header::HOST,
            HeaderValue::from_str(host).with_context(|| format!("bad Host header {host:?}"))?,
        )];
        for (k, v) in headers {
            all.push((
                HeaderName::from_bytes(k.as_bytes()).with_context(|| format!("bad header {k}"))?,
                HeaderValue::from_str(v).with_context(|| format!("bad value for {k}"))?,
            ));
        }
        if !body.is_empty() {
            all.push((
                hyper::header::CONTENT_LENGTH,
                HeaderValue::from(body.len() as u64),
            ));
        }
        Ok(Prepared {
            name: name.to_owned(),
            method,
            path: path.to_owned(),
            headers: all,
            body: Bytes::copy_from_slice(body),
        })
    }

    fn request(&self) -> Result<Request<Full<Bytes>>> {
        let mut req = Request::builder()
            .method(self.method.clone())
            .uri(self.path.as_str());
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        req.body(Full::new(self.body.clone()))
            .with_context(|| format!("building {} {}", self.method, self.path))
    }
}

/// An answer: status and the whole body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One kept-alive connection.
pub struct Client {
    addr: SocketAddr,
    sender: SendRequest<Full<Bytes>>,
    conn: JoinHandle<()>,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Result<Client> {
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
            .await
            .map_err(|_| anyhow!("connecting to {addr} timed out"))?
            .with_context(|| format!("connecting to {addr}"))?;
        stream
            .set_nodelay(true)
            .context("setting TCP_NODELAY on the client socket")?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .with_context(|| format!("HTTP/1.1 handshake with {addr}"))?;
        let conn = tokio::spawn(async move {
            // The connection ends when the sender is dropped or the server closes it; an error
            // then surfaces on the next send.
            let _ = connection.await;
        });
        Ok(Client { addr, sender, conn })
    }

    /// Sends `req` and reads the whole answer, with [`REQUEST_TIMEOUT`].
    pub async fn send(&mut self, req: &Prepared) -> Result<Reply> {
        self.send_with_timeout(req, REQUEST_TIMEOUT).await
    }

    pub async fn send_with_timeout(&mut self, req: &Prepared, timeout: Duration) -> Result<Reply> {
        let request = req.request()?;
        let addr = self.addr;
        let exchange = async {
            self.sender
                .ready()
                .await
                .with_context(|| format!("connection to {addr} closed"))?;
            let resp = self
                .sender
                .send_request(request)
                .await
                .with_context(|| format!("{} to {addr}", req.name))?;
            let status = resp.status().as_u16();
            let body = resp
                .into_body()
                .collect()
                .await
                .with_context(|| format!("reading the answer to {}", req.name))?
                .to_bytes();
            Ok::<_, anyhow::Error>(Reply { status, body })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| anyhow!("{} got no answer within {timeout:?}", req.name))?
    }

    /// Sends `req` and checks the answer; returns how long it took.
    pub async fn timed(&mut self, req: &Prepared, check: &Check) -> Result<Duration> {
        let start = Instant::now();
        let reply = self.send(req).await?;
        let took = start.elapsed();
        check.check(&reply)?;
        Ok(took)
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

/// What an answer must be for a sample to count.
#[derive(Debug, Clone)]
pub enum Check {
    /// 200 with exactly these bytes as body.
    Exact(Bytes),
    /// 200, any body (answers whose content legitimately varies).
    Ok,
}

impl Check {
    pub fn check(&self, reply: &Reply) -> Result<()> {
        match self {
            Check::Exact(expected) if reply.status != 200 || reply.body != *expected => bail!(
                "unexpected answer: HTTP {} {:?} (expected 200 {:?})",
                reply.status,
                truncate(&reply.text(), 300),
                String::from_utf8_lossy(expected)
            ),
            Check::Ok => expect_ok(reply),
            Check::Exact(_) => Ok(()),
        }
    }
}

/// A check that the answer is 200.
pub fn expect_ok(reply: &Reply) -> Result<()> {
    if reply.status != 200 {
        bail!(
            "unexpected answer: HTTP {} {:?}",
            reply.status,
            truncate(&reply.text(), 300)
        );
    }
    Ok(())
}

pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}...")
    }
}
