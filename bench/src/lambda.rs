//! The three requests the floor is made of (ListFunctions, Invoke, function URL), prepared for
//! one LocalStack, and the check that each answer is the right one.
//!
//! LocalStack routes AWS API calls by the service in the credential scope of the
//! `Authorization` header and does not verify signatures, so a fixed header is enough.

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use hyper::Method;

use crate::http::{Client, Prepared, Reply, expect_ok};

/// Routes to Lambda; LocalStack accepts any signature.
pub const LAMBDA_AUTH: &str = "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0";
pub const PAYLOAD: &[u8] = br#"{"number": 6}"#;

pub fn invoke_path(function: &str) -> String {
    format!("/2015-03-31/functions/{function}/invocations")
}

/// The requests against one LocalStack, with the answers they must get.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub addr: SocketAddr,
    pub list: Prepared,
    pub invoke: Prepared,
    pub url: Prepared,
    /// The exact answer bodies, learned (and checked to mean 36) from a first call.
    pub invoke_body: Bytes,
    pub url_body: Bytes,
}

impl Endpoints {
    /// `url_id` is square's function URL id (the host label LocalStack routes on).
    pub fn new(port: u16, function: &str, url_id: &str) -> Result<Endpoints> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let api_host = format!("127.0.0.1:{port}");
        let list = Prepared::new(
            "ListFunctions",
            Method::GET,
            &api_host,
            "/2015-03-31/functions/",
            &[("authorization", LAMBDA_AUTH)],
            b"",
        )?;
        let invoke = Prepared::new(
            "Invoke",
            Method::POST,
            &api_host,
            &invoke_path(function),
            &[
                ("authorization", LAMBDA_AUTH),
                ("content-type", "application/json"),
            ],
            PAYLOAD,
        )?;
        let url_host = format!("{url_id}.lambda-url.us-east-1.localhost:{port}");
        let url = Prepared::new(
            "function URL POST /",
            Method::POST,
            &url_host,
            "/",
            &[("content-type", "application/json")],
            PAYLOAD,
        )?;
        Ok(Endpoints {
            addr,
            list,
            invoke,
            url,
            invoke_body: Bytes::new(),
            url_body: Bytes::new(),
        })
    }

    /// Calls each endpoint once, checks the answers, and remembers the exact bodies so every
    /// later sample is checked byte for byte.
    pub async fn learn_answers(&mut self) -> Result<()> {
        let mut client = Client::connect(self.addr).await?;
        let list = client.send(&self.list).await?;
        expect_ok(&list).context("ListFunctions")?;
        let names = serde_json::from_slice::<serde_json::Value>(&list.body)
            .context("ListFunctions answer is not JSON")?;
        if names["Functions"].as_array().is_none_or(|f| f.is_empty()) {
            bail!("ListFunctions lists no functions: {}", list.text());
        }
        let invoke = client.send(&self.invoke).await?;
        check_36(&invoke).context("Invoke square")?;
        self.invoke_body = invoke.body;
        let url = client.send(&self.url).await?;
        check_36(&url).context("square's function URL")?;
        self.url_body = url.body;
        Ok(())
    }
}

/// 200 and a JSON body whose `result` is 36.
pub fn check_36(reply: &Reply) -> Result<()> {
    expect_ok(reply)?;
    let value: serde_json::Value = serde_json::from_slice(&reply.body)
        .with_context(|| format!("answer is not JSON: {}", reply.text()))?;
    if value["result"] != 36 {
        bail!("expected {{\"result\": 36}}, got {}", reply.text());
    }
    Ok(())
}
