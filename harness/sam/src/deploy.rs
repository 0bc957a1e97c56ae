//! `sam deploy` on the kit: local code uploaded to the kit's artifact bucket and the template
//! rewritten to point at it (CloudFormation takes only S3 locations), then one change set through
//! LocalStack's CloudFormation engine, which applies the real SAM transform. Waits poll every
//! 100 ms (the CLI's waiter polls every 30 s).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_cloudformation::Client as Cfn;
use aws_sdk_cloudformation::types::{
    Capability, ChangeAction, ChangeSetStatus, ChangeSetType, Parameter, TemplateStage,
};
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use lsk_aws::{AwsError, Clients};
use lsk_build::package::Package;
use lsk_deploy::{Change, DeployReport, ResourceType};
use lsk_kit::progress::Progress;
use serde_json::{Value, json};

use crate::Project;
use crate::error::SamError;
use crate::support::resources;

/// Where local code and definitions go, as `sam deploy`'s managed bucket.
pub const ARTIFACT_BUCKET: &str = "lsk-sam-artifacts";
/// How often a change set or a stack operation is looked at.
pub const POLL: Duration = Duration::from_millis(100);
/// How long a stack operation may take (functions wait for their environment to be ready).
pub const STACK_WAIT: Duration = Duration::from_secs(900);
/// What `sam deploy` passes: SAM's roles and the transform's macros need them.
const CAPABILITIES: [Capability; 3] = [
    Capability::CapabilityIam,
    Capability::CapabilityNamedIam,
    Capability::CapabilityAutoExpand,
];

/// Settings of one deploy.
#[derive(Debug, Clone, Default)]
pub struct SamDeployOptions {
    /// Deploy resources the kit does not run (as LocalStack's stand-ins) instead of refusing.
    pub allow_unsupported: bool,
}

/// Uploads the packaged code, deploys the template as one change set and reports each resource.
pub async fn deploy(
    project: &Project,
    packages: &BTreeMap<String, Package>,
    cfn: &Cfn,
    clients: &Clients,
    options: &SamDeployOptions,
    progress: &Progress,
) -> Result<DeployReport, SamError> {
    check_supported(project, options)?;
    let phase = progress.phase("deploy");
    phase.update("uploading code");
    let body = deployable_template(project, packages, clients).await?;
    let stack = project.stack_name.as_str();
    let parameters: Vec<Parameter> = project
        .parameters
        .iter()
        .map(|(k, v)| {
            Parameter::builder()
                .parameter_key(k)
                .parameter_value(v)
                .build()
        })
        .collect();

    let exists = match settle(cfn, stack, &phase).await? {
        None => false,
        // A stack whose creation failed can only be deleted (as on AWS).
        Some(status) if status == "ROLLBACK_COMPLETE" || status == "ROLLBACK_FAILED" => {
            phase.update(&format!("deleting the failed stack ({status})"));
            cfn.delete_stack()
                .stack_name(stack)
                .send()
                .await
                .map_err(|e| AwsError::sdk("DeleteStack", stack, e))?;
            settle(cfn, stack, &phase).await?;
            false
        }
        Some(_) => true,
    };
    if exists && unchanged(cfn, stack, &body, &project.parameters).await? {
        phase.done("no changes");
        return all_unchanged(cfn, stack).await;
    }

    phase.update("creating the change set (SAM transform)");
    let change_set_name = format!(
        "lsk-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    let created = cfn
        .create_change_set()
        .stack_name(stack)
        .change_set_name(&change_set_name)
        .change_set_type(if exists {
            ChangeSetType::Update
        } else {
            ChangeSetType::Create
        })
        .template_body(&body)
        .set_parameters(Some(parameters))
        .set_capabilities(Some(CAPABILITIES.to_vec()))
        .send()
        .await
        .map_err(|e| AwsError::sdk("CreateChangeSet", stack, e))?;
    let change_set = created.id().unwrap_or(&change_set_name).to_owned();

    let started = Instant::now();
    let described = loop {
        let d = cfn
            .describe_change_set()
            .stack_name(stack)
            .change_set_name(&change_set)
            .send()
            .await
            .map_err(|e| AwsError::sdk("DescribeChangeSet", stack, e))?;
        match d.status() {
            Some(ChangeSetStatus::CreateComplete) | Some(ChangeSetStatus::Failed) => break d,
            _ if started.elapsed() > STACK_WAIT => {
                return Err(SamError::Timeout {
                    stack: stack.into(),
                    what: "creating the change set".into(),
                    seconds: STACK_WAIT.as_secs(),
                });
            }
            _ => tokio::time::sleep(POLL).await,
        }
    };
    if described.status() == Some(&ChangeSetStatus::Failed) {
        discard(cfn, stack, &change_set).await;
        if exists && described.changes().is_empty() {
            phase.done("no changes");
            return all_unchanged(cfn, stack).await;
        }
        return Err(SamError::Stack {
            stack: stack.into(),
            message: format!(
                "the change set failed: {}",
                described.status_reason().unwrap_or("no reason given")
            ),
            failures: Vec::new(),
        });
    }

    // Nothing AWS would keep is lost: a bucket that still holds objects is not deleted.
    let mut report = DeployReport::default();
    let mut touched = BTreeSet::new();
    for change in described.changes() {
        let Some(rc) = change.resource_change() else {
            continue;
        };
        let id = rc.logical_resource_id().unwrap_or_default().to_owned();
        let ty = rc.resource_type().unwrap_or_default().to_owned();
        let action = rc.action().cloned();
        if action == Some(ChangeAction::Remove)
            && ty == "AWS::S3::Bucket"
            && let Some(bucket) = rc.physical_resource_id()
            && bucket_has_objects(clients, bucket).await?
        {
            discard(cfn, stack, &change_set).await;
            return Err(SamError::BucketNotEmpty {
                stack: stack.into(),
                logical_id: id,
                bucket: bucket.to_owned(),
            });
        }
        let (kind, name) = report_name(&id, &ty);
        let what = match action {
            Some(ChangeAction::Add) => Change::Created,
            Some(ChangeAction::Remove) => Change::Removed,
            _ => Change::Updated(vec![match rc.replacement().map(|r| r.as_str()) {
                Some("True") => "replaced".to_owned(),
                _ => "properties".to_owned(),
            }]),
        };
        touched.insert(id);
        report.push(kind, name, what);
    }

    phase.update(&format!("executing {} change(s)", report.changes.len()));
    cfn.execute_change_set()
        .stack_name(stack)
        .change_set_name(&change_set)
        .send()
        .await
        .map_err(|e| AwsError::sdk("ExecuteChangeSet", stack, e))?;
    let status = settle(cfn, stack, &phase).await?.unwrap_or_default();
    if status != "CREATE_COMPLETE" && status != "UPDATE_COMPLETE" {
        return Err(SamError::Stack {
            stack: stack.into(),
            message: format!("the deploy ended in {status}"),
            failures: failures(cfn, stack).await?,
        });
    }
    for (id, ty) in stack_resources(cfn, stack).await? {
        if !touched.contains(&id) {
            let (kind, name) = report_name(&id, &ty);
            report.push(kind, name, Change::Unchanged);
        }
    }
    phase.done(&format!("stack {stack}: {status}"));
    Ok(report)
}

/// Refuses a template with resources the kit does not run, unless they are allowed.
pub fn check_supported(project: &Project, options: &SamDeployOptions) -> Result<(), SamError> {
    if project.unsupported.is_empty() || options.allow_unsupported {
        return Ok(());
    }
    Err(SamError::Unsupported {
        resources: project
            .unsupported
            .iter()
            .map(|u| (u.logical_id.clone(), u.kind.clone(), u.why.clone()))
            .collect(),
    })
}

/// The stack's status once no operation is in progress; `None` when there is no stack (or only
/// a deleted one, which LocalStack keeps listing).
async fn settle(
    cfn: &Cfn,
    stack: &str,
    phase: &lsk_kit::progress::Phase,
) -> Result<Option<String>, SamError> {
    let started = Instant::now();
    let mut said = String::new();
    loop {
        let status = match cfn.describe_stacks().stack_name(stack).send().await {
            Ok(out) => out
                .stacks()
                .first()
                .and_then(|s| s.stack_status())
                .map(|s| s.as_str().to_owned()),
            Err(e) if e.code() == Some("ValidationError") => None,
            Err(e) => return Err(AwsError::sdk("DescribeStacks", stack, e).into()),
        };
        match status {
            None => return Ok(None),
            Some(s) if s == "DELETE_COMPLETE" || s == "REVIEW_IN_PROGRESS" => return Ok(None),
            Some(s) if s.ends_with("_IN_PROGRESS") => {
                if started.elapsed() > STACK_WAIT {
                    return Err(SamError::Timeout {
                        stack: stack.into(),
                        what: format!("waiting for {s}"),
                        seconds: STACK_WAIT.as_secs(),
                    });
                }
                if said != s {
                    phase.update(&format!("stack {stack}: {s}"));
                    said = s;
                }
                tokio::time::sleep(POLL).await;
            }
            Some(s) => return Ok(Some(s)),
        }
    }
}

/// True when the deployed template and parameters are the ones about to be deployed.
async fn unchanged(
    cfn: &Cfn,
    stack: &str,
    body: &str,
    parameters: &BTreeMap<String, String>,
) -> Result<bool, SamError> {
    let template = cfn
        .get_template()
        .stack_name(stack)
        .template_stage(TemplateStage::Original)
        .send()
        .await
        .map_err(|e| AwsError::sdk("GetTemplate", stack, e))?;
    let same_body = template
        .template_body()
        .and_then(|b| serde_json::from_str::<Value>(b).ok())
        .zip(serde_json::from_str::<Value>(body).ok())
        .is_some_and(|(a, b)| a == b);
    if !same_body {
        return Ok(false);
    }
    let described = cfn
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| AwsError::sdk("DescribeStacks", stack, e))?;
    let deployed: BTreeMap<String, String> = described
        .stacks()
        .first()
        .map(|s| {
            s.parameters()
                .iter()
                .map(|p| {
                    (
                        p.parameter_key().unwrap_or_default().to_owned(),
                        p.parameter_value().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(&deployed == parameters)
}

/// Deletes a change set that will not be executed (best effort: an unexecuted change set
/// changes nothing, and a stack keeps at most the ones it was given).
async fn discard(cfn: &Cfn, stack: &str, change_set: &str) {
    let _ = cfn
        .delete_change_set()
        .stack_name(stack)
        .change_set_name(change_set)
        .send()
        .await;
}

/// The report of a deploy that changed nothing: every resource of the stack, unchanged.
async fn all_unchanged(cfn: &Cfn, stack: &str) -> Result<DeployReport, SamError> {
    let mut report = DeployReport::default();
    for (id, ty) in stack_resources(cfn, stack).await? {
        let (kind, name) = report_name(&id, &ty);
        report.push(kind, name, Change::Unchanged);
    }
    Ok(report)
}

/// Every resource of the stack: logical ID and type.
pub async fn stack_resources(cfn: &Cfn, stack: &str) -> Result<Vec<(String, String)>, SamError> {
    Ok(crate::observe::list_resources(cfn, stack)
        .await?
        .into_iter()
        .map(|r| (r.logical_id, r.kind))
        .collect())
}

/// The failed resources of the last operation, with their reasons.
async fn failures(cfn: &Cfn, stack: &str) -> Result<Vec<(String, String, String)>, SamError> {
    let events = cfn
        .describe_stack_events()
        .stack_name(stack)
        .send()
        .await
        .map_err(|e| AwsError::sdk("DescribeStackEvents", stack, e))?;
    let mut out: Vec<(String, String, String)> = Vec::new();
    for e in events.stack_events() {
        let failed = e
            .resource_status()
            .is_some_and(|s| s.as_str().ends_with("FAILED"));
        let id = e.logical_resource_id().unwrap_or_default();
        if failed && id != stack && !out.iter().any(|(i, _, _)| i == id) {
            out.push((
                id.to_owned(),
                e.resource_type().unwrap_or_default().to_owned(),
                e.resource_status_reason()
                    .unwrap_or("no reason given")
                    .to_owned(),
            ));
        }
    }
    Ok(out)
}

async fn bucket_has_objects(clients: &Clients, bucket: &str) -> Result<bool, SamError> {
    match clients
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .max_keys(1)
        .send()
        .await
    {
        Ok(out) => Ok(out.key_count().unwrap_or(0) > 0),
        Err(e) if e.code() == Some("NoSuchBucket") => Ok(false),
        Err(e) => Err(AwsError::sdk("ListObjectsV2", bucket, e).into()),
    }
}

/// How a report line names a template resource.
pub fn report_name(logical_id: &str, kind: &str) -> (ResourceType, String) {
    let known = match kind {
        "AWS::Lambda::Function" => Some(ResourceType::Function),
        "AWS::Lambda::Url" => Some(ResourceType::FunctionUrl),
        "AWS::Lambda::Permission" => Some(ResourceType::Permission),
        "AWS::Lambda::EventSourceMapping" => Some(ResourceType::EventSourceMapping),
        "AWS::SQS::Queue" => Some(ResourceType::Queue),
        "AWS::S3::Bucket" => Some(ResourceType::Bucket),
        "AWS::SNS::Topic" => Some(ResourceType::Topic),
        "AWS::SNS::Subscription" => Some(ResourceType::Subscription),
        "AWS::Events::Rule" => Some(ResourceType::Rule),
        "AWS::Events::EventBus" => Some(ResourceType::Bus),
        "AWS::ApiGateway::RestApi" => Some(ResourceType::Api),
        "AWS::StepFunctions::StateMachine" => Some(ResourceType::StateMachine),
        _ => None,
    };
    match known {
        Some(k) => (k, logical_id.to_owned()),
        None => (ResourceType::Other, format!("{logical_id} ({kind})")),
    }
}

/// The template as CloudFormation gets it: each function's local code replaced by its S3
/// location in the artifact bucket (uploaded when not there yet), with its build recorded as the
/// function's `lsk:build` tag; local state machine and API definitions uploaded the same way.
async fn deployable_template(
    project: &Project,
    packages: &BTreeMap<String, Package>,
    clients: &Clients,
) -> Result<String, SamError> {
    ensure_bucket(clients).await?;
    let mut template = project.template.clone();
    let stack = &project.stack_name;
    let root = project.root();
    let Some(resources_map) = template.get_mut("Resources").and_then(Value::as_object_mut) else {
        return Ok(template.to_string());
    };
    for (id, resource) in resources_map.iter_mut() {
        let kind = resource
            .get("Type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let Some(props) = resource
            .get_mut("Properties")
            .and_then(Value::as_object_mut)
        else {
            if let Some(p) = packages.get(id) {
                let key = upload(clients, stack, id, "zip", &p.zip).await?;
                resource["Properties"] =
                    json!({"CodeUri": {"Bucket": ARTIFACT_BUCKET, "Key": key}});
            }
            continue;
        };
        if let Some(p) = packages.get(id) {
            let key = upload(clients, stack, id, "zip", &p.zip).await?;
            props.insert(
                "CodeUri".into(),
                json!({"Bucket": ARTIFACT_BUCKET, "Key": key}),
            );
            if let Some(build) = &p.build {
                let tags = props.entry("Tags").or_insert_with(|| json!({}));
                if let Some(t) = tags.as_object_mut() {
                    t.insert("lsk:build".into(), Value::String(build.clone()));
                }
            }
        }
        let definition_key = match kind.as_str() {
            "AWS::Serverless::StateMachine" | "AWS::Serverless::Api" => Some("DefinitionUri"),
            "AWS::ApiGateway::RestApi" => Some("BodyS3Location"),
            "AWS::StepFunctions::StateMachine" => Some("DefinitionS3Location"),
            _ => None,
        };
        if let Some(key) = definition_key
            && let Some(Value::String(local)) = props.get(key)
            && !local.starts_with("s3://")
        {
            let path = root.join(local);
            let bytes = std::fs::read(&path).map_err(|source| SamError::Read {
                path: path.clone(),
                source,
            })?;
            let ext = Path::new(local)
                .extension()
                .and_then(|e| e.to_str())
                .unwrap_or("json");
            let object = upload(clients, stack, id, ext, &bytes).await?;
            props.insert(
                key.into(),
                json!({"Bucket": ARTIFACT_BUCKET, "Key": object}),
            );
        }
    }
    Ok(template.to_string())
}

async fn ensure_bucket(clients: &Clients) -> Result<(), SamError> {
    match clients
        .s3
        .create_bucket()
        .bucket(ARTIFACT_BUCKET)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if matches!(
                e.code(),
                Some("BucketAlreadyOwnedByYou" | "BucketAlreadyExists")
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(AwsError::sdk("CreateBucket", ARTIFACT_BUCKET, e).into()),
    }
}

/// Puts `bytes` at `<stack>/<logical id>/<sha256>.<ext>` unless it is there already.
async fn upload(
    clients: &Clients,
    stack: &str,
    id: &str,
    ext: &str,
    bytes: &[u8],
) -> Result<String, SamError> {
    let digest = lsk_build::package::code_sha256(bytes)
        .replace('/', "_")
        .replace('+', "-")
        .trim_end_matches('=')
        .to_owned();
    let key = format!("{stack}/{id}/{digest}.{ext}");
    let there = clients
        .s3
        .head_object()
        .bucket(ARTIFACT_BUCKET)
        .key(&key)
        .send()
        .await
        .is_ok();
    if !there {
        clients
            .s3
            .put_object()
            .bucket(ARTIFACT_BUCKET)
            .key(&key)
            .body(bytes.to_vec().into())
            .send()
            .await
            .map_err(|e| AwsError::sdk("PutObject", format!("s3://{ARTIFACT_BUCKET}/{key}"), e))?;
    }
    Ok(key)
}

/// The logical IDs of `template`'s resources.
pub fn logical_ids(template: &Value) -> Vec<String> {
    resources(template).map(|(id, _)| id.clone()).collect()
}
