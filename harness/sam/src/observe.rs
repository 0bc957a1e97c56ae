//! What a deployed template is now: its stack's status, resources (logical ID, type, physical
//! ID) and `Outputs`, with the AWS URLs LocalStack writes into outputs turned into ones that work
//! here.

use aws_sdk_cloudformation::Client as Cfn;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use lsk_aws::AwsError;

use crate::error::SamError;

/// One resource of a deployed stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackResource {
    pub logical_id: String,
    pub kind: String,
    pub physical_id: Option<String>,
    pub status: String,
}

/// One output, as deployed and as it works here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackOutput {
    pub key: String,
    pub value: String,
    pub description: Option<String>,
}

/// A deployed stack: `None` from [`describe`] when there is none (a deleted stack, which
/// LocalStack keeps listing, is none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackState {
    pub name: String,
    pub status: String,
    pub outputs: Vec<StackOutput>,
}

pub async fn describe(cfn: &Cfn, stack: &str) -> Result<Option<StackState>, SamError> {
    let out = match cfn.describe_stacks().stack_name(stack).send().await {
        Ok(out) => out,
        Err(e) if e.code() == Some("ValidationError") => return Ok(None),
        Err(e) => return Err(AwsError::sdk("DescribeStacks", stack, e).into()),
    };
    let Some(s) = out.stacks().first() else {
        return Ok(None);
    };
    let status = s
        .stack_status()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default();
    if status == "DELETE_COMPLETE" || status == "REVIEW_IN_PROGRESS" {
        return Ok(None);
    }
    Ok(Some(StackState {
        name: stack.to_owned(),
        status,
        outputs: s
            .outputs()
            .iter()
            .map(|o| StackOutput {
                key: o.output_key().unwrap_or_default().to_owned(),
                value: o.output_value().unwrap_or_default().to_owned(),
                description: o.description().map(str::to_owned),
            })
            .collect(),
    }))
}

/// Every resource of the stack (none when there is no stack).
pub async fn list_resources(cfn: &Cfn, stack: &str) -> Result<Vec<StackResource>, SamError> {
    let mut pages = cfn
        .list_stack_resources()
        .stack_name(stack)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e) if e.code() == Some("ValidationError") => return Ok(Vec::new()),
            Err(e) => return Err(AwsError::sdk("ListStackResources", stack, e).into()),
        };
        for r in page.stack_resource_summaries() {
            let status = r.resource_status().map(|s| s.as_str()).unwrap_or_default();
            if status == "DELETE_COMPLETE" {
                continue;
            }
            out.push(StackResource {
                logical_id: r.logical_resource_id().unwrap_or_default().to_owned(),
                kind: r.resource_type().unwrap_or_default().to_owned(),
                physical_id: r.physical_resource_id().map(str::to_owned),
                status: status.to_owned(),
            });
        }
    }
    Ok(out)
}

/// An output's value in the form that works here, when it is a URL LocalStack rewrote:
/// `https://<id>.execute-api[.<region>].amazonaws.com[:<port>]/...` becomes
/// `http://<id>.execute-api.localhost:<port>/...`, a function URL on `lambda-url.<region>.on.aws`
/// or `localhost.localstack.cloud` becomes the `*.localhost` form. Anything else: `None`.
pub fn local_url(value: &str, port: u16) -> Option<String> {
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let host = authority.split(':').next().unwrap_or(authority);
    let local_host = if let Some(base) = host.strip_suffix(".amazonaws.com") {
        let (id, _) = base.split_once(".execute-api")?;
        format!("{id}.execute-api.localhost")
    } else if let Some(base) = host.strip_suffix(".on.aws") {
        // <id>.lambda-url.<region>
        format!("{base}.localhost")
    } else if let Some(base) = host.strip_suffix(".localhost.localstack.cloud") {
        format!("{base}.localhost")
    } else if host == "localhost.localstack.cloud" {
        "localhost".to_owned()
    } else {
        return None;
    };
    Some(format!("http://{local_host}:{port}{path}"))
}
