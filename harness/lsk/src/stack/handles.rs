//! Handles on a deployed stack, for tests and the CLI: invoke functions, call URLs and APIs,
//! use queues, buckets, topics and state machines.

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;

use crate::aws::{AwsError, Clients};
use crate::deploy::DeployReport;
use crate::error::Error;
use crate::invoke::{self, HttpReply, Invocation, InvokeMode, LogLine};
use crate::output::{self, BucketView, FunctionView, QueueView, StackView};

/// A deployed stack: what is there, what the deploy changed, and handles to use it.
#[derive(Debug, Clone)]
pub struct Deployed {
    pub(super) view: StackView,
    pub(super) report: DeployReport,
    pub(super) clients: Clients,
    pub(super) endpoint: String,
}

impl Deployed {
    /// What the deploy changed (empty for [`Stack::observe`]).
    pub fn report(&self) -> &DeployReport {
        &self.report
    }
    /// Everything printed about the stack.
    pub fn view(&self) -> &StackView {
        &self.view
    }
    pub fn clients(&self) -> &Clients {
        &self.clients
    }
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A deployed function.
    pub fn function(&self, name: &str) -> Result<FunctionHandle<'_>, Error> {
        let view = self
            .view
            .functions
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| Error::UnknownResource {
                kind: "function",
                name: name.to_owned(),
                known: names(self.view.functions.iter().map(|f| f.name.as_str())),
            })?;
        if view.arn.is_none() {
            return Err(Error::NotDeployed {
                kind: "function",
                name: name.to_owned(),
            });
        }
        Ok(FunctionHandle {
            deployed: self,
            view,
        })
    }

    /// A template's output by key, in the form that works here (`ApiUrl` of a SAM template is
    /// an `http://<id>.execute-api.localhost:<port>/Prod/...` URL).
    pub fn output(&self, key: &str) -> Result<&str, Error> {
        self.view
            .outputs
            .iter()
            .find(|o| o.key == key)
            .map(|o| o.value.as_str())
            .ok_or_else(|| Error::UnknownResource {
                kind: "output",
                name: key.to_owned(),
                known: names(self.view.outputs.iter().map(|o| o.key.as_str())),
            })
    }

    /// Any HTTP request to `url` (a function URL, an API's, an output), without needing DNS.
    pub async fn call(
        &self,
        method: &str,
        url: &str,
        body: Option<Vec<u8>>,
        content_type: Option<&str>,
    ) -> Result<HttpReply, Error> {
        invoke::call_url(&self.endpoint, url, method, body, content_type).await
    }

    /// A deployed queue.
    pub fn queue(&self, name: &str) -> Result<QueueHandle<'_>, Error> {
        let view = self
            .view
            .queues
            .iter()
            .find(|q| q.name == name)
            .ok_or_else(|| Error::UnknownResource {
                kind: "queue",
                name: name.to_owned(),
                known: names(self.view.queues.iter().map(|q| q.name.as_str())),
            })?;
        let url = view.url.as_deref().ok_or_else(|| Error::NotDeployed {
            kind: "queue",
            name: name.to_owned(),
        })?;
        Ok(QueueHandle {
            deployed: self,
            view,
            url,
        })
    }

    /// A deployed bucket, by its key in the manifest.
    pub fn bucket(&self, key: &str) -> Result<BucketHandle<'_>, Error> {
        let view = self
            .view
            .buckets
            .iter()
            .find(|b| b.key == key)
            .ok_or_else(|| Error::UnknownResource {
                kind: "bucket",
                name: key.to_owned(),
                known: names(self.view.buckets.iter().map(|b| b.key.as_str())),
            })?;
        if !view.exists {
            return Err(Error::NotDeployed {
                kind: "bucket",
                name: key.to_owned(),
            });
        }
        Ok(BucketHandle {
            deployed: self,
            view,
        })
    }
}

impl Deployed {
    /// A deployed REST API.
    pub fn api(&self, name: &str) -> Result<ApiHandle<'_>, Error> {
        let view = self
            .view
            .apis
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| Error::UnknownResource {
                kind: "api",
                name: name.to_owned(),
                known: names(self.view.apis.iter().map(|a| a.name.as_str())),
            })?;
        let url = view.offline.as_deref().ok_or_else(|| Error::NotDeployed {
            kind: "api",
            name: name.to_owned(),
        })?;
        Ok(ApiHandle {
            deployed: self,
            view,
            url,
        })
    }

    /// A deployed SNS topic.
    pub fn topic(&self, name: &str) -> Result<TopicHandle<'_>, Error> {
        let view = self
            .view
            .topics
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::UnknownResource {
                kind: "topic",
                name: name.to_owned(),
                known: names(self.view.topics.iter().map(|t| t.name.as_str())),
            })?;
        let arn = view.arn.as_deref().ok_or_else(|| Error::NotDeployed {
            kind: "topic",
            name: name.to_owned(),
        })?;
        Ok(TopicHandle {
            deployed: self,
            view,
            arn,
        })
    }

    /// A deployed state machine.
    pub fn state_machine(&self, name: &str) -> Result<StateMachineHandle<'_>, Error> {
        let view = self
            .view
            .state_machines
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| Error::UnknownResource {
                kind: "state machine",
                name: name.to_owned(),
                known: names(self.view.state_machines.iter().map(|m| m.name.as_str())),
            })?;
        let arn = view.arn.as_deref().ok_or_else(|| Error::NotDeployed {
            kind: "state machine",
            name: name.to_owned(),
        })?;
        Ok(StateMachineHandle {
            deployed: self,
            view,
            arn,
        })
    }
}

/// A deployed REST API.
#[derive(Debug, Clone, Copy)]
pub struct ApiHandle<'a> {
    deployed: &'a Deployed,
    view: &'a output::ApiView,
    url: &'a str,
}

impl ApiHandle<'_> {
    /// The stage's URL in the form that works offline (`http://<id>.execute-api.localhost:<port>/<stage>`).
    pub fn url(&self) -> &str {
        self.url
    }
    pub fn view(&self) -> &output::ApiView {
        self.view
    }

    /// Any HTTP request to `path` under the stage, without needing DNS.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        content_type: Option<&str>,
    ) -> Result<HttpReply, Error> {
        let url = format!("{}/{}", self.url, path.trim_start_matches('/'));
        invoke::call_url(&self.deployed.endpoint, &url, method, body, content_type).await
    }

    /// POSTs `body` as JSON to `path` under the stage.
    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<HttpReply, Error> {
        self.call(
            "POST",
            path,
            Some(body.to_string().into_bytes()),
            Some("application/json"),
        )
        .await
    }
}

/// A deployed SNS topic.
#[derive(Debug, Clone, Copy)]
pub struct TopicHandle<'a> {
    deployed: &'a Deployed,
    view: &'a output::TopicView,
    arn: &'a str,
}

impl TopicHandle<'_> {
    pub fn arn(&self) -> &str {
        self.arn
    }
    pub fn view(&self) -> &output::TopicView {
        self.view
    }

    /// Publishes `message`; returns SNS's message id.
    pub async fn publish(&self, message: &str) -> Result<String, Error> {
        let out = self
            .deployed
            .clients
            .sns
            .publish()
            .topic_arn(self.arn)
            .message(message)
            .send()
            .await
            .map_err(|e| Error::Aws(AwsError::sdk("Publish", &self.view.name, e)))?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }
}

/// A deployed state machine.
#[derive(Debug, Clone, Copy)]
pub struct StateMachineHandle<'a> {
    deployed: &'a Deployed,
    view: &'a output::StateMachineView,
    arn: &'a str,
}

/// How an execution ended (or where it was when the wait ran out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub arn: String,
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED.
    pub status: String,
    /// The output document, when it succeeded.
    pub output: Option<serde_json::Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl StateMachineHandle<'_> {
    pub fn arn(&self) -> &str {
        self.arn
    }
    pub fn view(&self) -> &output::StateMachineView {
        self.view
    }

    /// Starts an execution with `input` and waits up to `within` for it to end.
    pub async fn run(
        &self,
        input: &serde_json::Value,
        within: Duration,
    ) -> Result<Execution, Error> {
        let sfn = &self.deployed.clients.sfn;
        let started = sfn
            .start_execution()
            .state_machine_arn(self.arn)
            .input(input.to_string())
            .send()
            .await
            .map_err(|e| Error::Aws(AwsError::sdk("StartExecution", &self.view.name, e)))?;
        let arn = started.execution_arn().to_owned();
        // Step Functions has no SDK waiter for executions; poll DescribeExecution at a fixed
        // interval until it ends or the bound passes.
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let out = sfn
                .describe_execution()
                .execution_arn(&arn)
                .send()
                .await
                .map_err(|e| Error::Aws(AwsError::sdk("DescribeExecution", &arn, e)))?;
            let status = out.status().as_str().to_owned();
            if status != "RUNNING" || tokio::time::Instant::now() >= deadline {
                return Ok(Execution {
                    arn,
                    status,
                    output: out.output().and_then(|o| serde_json::from_str(o).ok()),
                    error: out.error().map(str::to_owned),
                    cause: out.cause().map(str::to_owned),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = it.collect();
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

/// A deployed function.
#[derive(Debug, Clone, Copy)]
pub struct FunctionHandle<'a> {
    deployed: &'a Deployed,
    view: &'a FunctionView,
}

impl FunctionHandle<'_> {
    pub fn name(&self) -> &str {
        &self.view.name
    }
    pub fn arn(&self) -> Option<&str> {
        self.view.arn.as_deref()
    }
    /// Active / Pending / Failed.
    pub fn state(&self) -> &str {
        &self.view.state
    }
    /// The function URL in the form that works offline (`http://<id>.lambda-url.<region>.localhost:<port>/`).
    pub fn url(&self) -> Option<&str> {
        self.view.url.as_ref().map(|u| u.offline.as_str())
    }
    /// Both forms of the function URL and its id.
    pub fn url_view(&self) -> Option<&output::UrlView> {
        self.view.url.as_ref()
    }
    pub fn view(&self) -> &FunctionView {
        self.view
    }

    /// Invokes synchronously with a JSON payload; a function error is `Err(Error::FunctionError)`.
    pub async fn invoke(&self, payload: &serde_json::Value) -> Result<serde_json::Value, Error> {
        self.invoke_raw(payload.to_string().as_bytes(), InvokeMode::Sync)
            .await?
            .ok()?
            .json()
    }

    /// Invokes with raw bytes; the result says whether the function failed.
    pub async fn invoke_raw(&self, payload: &[u8], mode: InvokeMode) -> Result<Invocation, Error> {
        invoke::invoke(
            &self.deployed.clients,
            &self.view.function_name,
            payload,
            mode,
        )
        .await
    }

    /// POSTs `body` as JSON to `path` of the function URL, without needing DNS.
    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<HttpReply, Error> {
        self.call_url(
            "POST",
            path,
            Some(body.to_string().into_bytes()),
            Some("application/json"),
        )
        .await
    }

    /// Any HTTP request to `path` of the function URL.
    pub async fn call_url(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        content_type: Option<&str>,
    ) -> Result<HttpReply, Error> {
        let base = self
            .url()
            .ok_or_else(|| Error::NoUrl(self.view.name.clone()))?;
        let url = format!("{base}{}", path.trim_start_matches('/'));
        invoke::call_url(&self.deployed.endpoint, &url, method, body, content_type).await
    }

    /// Log lines from `since` ago until now.
    pub async fn logs(&self, since: Duration) -> Result<Vec<LogLine>, Error> {
        invoke::logs(
            &self.deployed.clients,
            &self.view.function_name,
            invoke::millis_ago(since),
        )
        .await
    }
}

/// A deployed queue.
#[derive(Debug, Clone, Copy)]
pub struct QueueHandle<'a> {
    deployed: &'a Deployed,
    view: &'a QueueView,
    url: &'a str,
}

impl QueueHandle<'_> {
    pub fn name(&self) -> &str {
        &self.view.name
    }
    pub fn url(&self) -> &str {
        self.url
    }
    pub fn arn(&self) -> Option<&str> {
        self.view.arn.as_deref()
    }

    /// Sends one message; returns its id.
    pub async fn send(&self, body: &str) -> Result<String, Error> {
        let mut req = self
            .deployed
            .clients
            .sqs
            .send_message()
            .queue_url(self.url)
            .message_body(body);
        if self.view.fifo {
            req = req
                .message_group_id("lsk")
                .message_deduplication_id(format!("{:x}", invoke::millis_ago(Duration::ZERO)));
        }
        let out = req
            .send()
            .await
            .map_err(|e| Error::Aws(AwsError::sdk("SendMessage", &self.view.name, e)))?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }

    /// (waiting, in flight): ApproximateNumberOfMessages and ...NotVisible.
    pub async fn depth(&self) -> Result<(i64, i64), Error> {
        let out = self
            .deployed
            .clients
            .sqs
            .get_queue_attributes()
            .queue_url(self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| Error::Aws(AwsError::sdk("GetQueueAttributes", &self.view.name, e)))?;
        let get = |k: QueueAttributeName| {
            out.attributes()
                .and_then(|m| m.get(&k))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok((
            get(QueueAttributeName::ApproximateNumberOfMessages),
            get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        ))
    }

    /// Receives up to `max` (1..=10) message bodies, waiting up to `wait` for the first, and
    /// deletes what it received.
    pub async fn receive(&self, max: i32, wait: Duration) -> Result<Vec<String>, Error> {
        let sqs = &self.deployed.clients.sqs;
        let out = sqs
            .receive_message()
            .queue_url(self.url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .send()
            .await
            .map_err(|e| Error::Aws(AwsError::sdk("ReceiveMessage", &self.view.name, e)))?;
        let mut bodies = Vec::new();
        for m in out.messages() {
            bodies.push(m.body().unwrap_or_default().to_owned());
            if let Some(handle) = m.receipt_handle() {
                sqs.delete_message()
                    .queue_url(self.url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| Error::Aws(AwsError::sdk("DeleteMessage", &self.view.name, e)))?;
            }
        }
        Ok(bodies)
    }
}

/// A deployed bucket.
#[derive(Debug, Clone, Copy)]
pub struct BucketHandle<'a> {
    deployed: &'a Deployed,
    view: &'a BucketView,
}

impl BucketHandle<'_> {
    /// The S3 bucket name.
    pub fn name(&self) -> &str {
        &self.view.name
    }
    /// The key in the manifest.
    pub fn key(&self) -> &str {
        &self.view.key
    }

    /// Every object key (all pages).
    pub async fn keys(&self) -> Result<Vec<String>, Error> {
        let mut keys = Vec::new();
        let mut pages = self
            .deployed
            .clients
            .s3
            .list_objects_v2()
            .bucket(&self.view.name)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| Error::Aws(AwsError::sdk("ListObjectsV2", &self.view.name, e)))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        Ok(keys)
    }

    /// An object's bytes.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, Error> {
        let what = format!("s3://{}/{key}", self.view.name);
        let out = self
            .deployed
            .clients
            .s3
            .get_object()
            .bucket(&self.view.name)
            .key(key)
            .send()
            .await
            .map_err(|e| Error::Aws(AwsError::sdk("GetObject", &what, e)))?;
        let bytes = out.body.collect().await.map_err(|e| Error::Http {
            method: "GET".into(),
            url: what,
            detail: e.to_string(),
        })?;
        Ok(bytes.into_bytes().to_vec())
    }

    /// Puts `bytes` at `key` (an upload fires the bucket's triggers).
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), Error> {
        self.deployed
            .clients
            .s3
            .put_object()
            .bucket(&self.view.name)
            .key(key)
            .body(bytes.into())
            .send()
            .await
            .map_err(|e| {
                Error::Aws(AwsError::sdk(
                    "PutObject",
                    format!("s3://{}/{key}", self.view.name),
                    e,
                ))
            })?;
        Ok(())
    }
}
