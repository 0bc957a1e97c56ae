//! Deploying functions: the deploy half of the kind; its manifest half (types,
//! validation) is `lsk_manifest::kinds::function`, re-exported here.

pub use lsk_manifest::kinds::function::*;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types as lt;

use crate::aws::{self, Clients};
use crate::kinds::sqs_trigger::{self};
use crate::package::Package;
use crate::{Change, DeployError, Resolved, ResourceType, aws_error};

/// Every function runs on the OS-only runtime with the binary as `bootstrap`.
pub const RUNTIME: &str = "provided.al2023";
pub const HANDLER: &str = "bootstrap";

pub use crate::reconcile::{TAG_BUILD, TAG_MANAGED, TAG_PROJECT};

/// A function as the manifest wants it, with references resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredFunction {
    pub name: String,
    pub code_sha256: String,
    pub memory: i32,
    pub timeout: i32,
    pub environment: BTreeMap<String, String>,
    pub architecture: Architecture,
    pub description: String,
    pub role: String,
    pub tags: BTreeMap<String, String>,
}

/// A function as LocalStack reports it (GetFunction).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedFunction {
    pub code_sha256: Option<String>,
    pub memory: Option<i32>,
    pub timeout: Option<i32>,
    pub environment: BTreeMap<String, String>,
    pub architecture: Option<String>,
    pub description: Option<String>,
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub role: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub state: Option<String>,
    pub last_update_status: Option<String>,
    /// Where the code comes from (`Code.Location`): `file://<dir>` for hot-reload code.
    pub code_location: Option<String>,
}

/// What to do with a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FunctionAction {
    Create,
    Update {
        /// Upload the zip (the code or the architecture changed).
        code: bool,
        /// Configuration fields to update, by name.
        config: Vec<&'static str>,
        /// Tags to add or correct.
        tags: BTreeMap<String, String>,
    },
    Unchanged,
}

impl FunctionAction {
    /// What an update changes, for the report (`code`, `memory`, ...).
    pub fn changed(&self) -> Vec<String> {
        match self {
            FunctionAction::Update { code, config, tags } => {
                let mut out = Vec::new();
                if *code {
                    out.push("code".to_owned());
                }
                out.extend(config.iter().map(|c| (*c).to_owned()));
                if !tags.is_empty() {
                    out.push("tags".to_owned());
                }
                out
            }
            _ => Vec::new(),
        }
    }
}

/// Compares desired and observed; `None` observed means the function does not exist.
pub fn plan_function(
    desired: &DesiredFunction,
    observed: Option<&ObservedFunction>,
) -> FunctionAction {
    let Some(o) = observed else {
        return FunctionAction::Create;
    };
    let arch_differs = o.architecture.as_deref() != Some(desired.architecture.as_str());
    let code = o.code_sha256.as_deref() != Some(desired.code_sha256.as_str()) || arch_differs;
    let mut config = Vec::new();
    if o.memory != Some(desired.memory) {
        config.push("memory");
    }
    if o.timeout != Some(desired.timeout) {
        config.push("timeout");
    }
    if o.environment != desired.environment {
        config.push("environment");
    }
    if o.runtime.as_deref() != Some(RUNTIME) {
        config.push("runtime");
    }
    if o.handler.as_deref() != Some(HANDLER) {
        config.push("handler");
    }
    if o.role.as_deref() != Some(desired.role.as_str()) {
        config.push("role");
    }
    if o.description.as_deref().unwrap_or("") != desired.description {
        config.push("description");
    }
    let tags: BTreeMap<String, String> = desired
        .tags
        .iter()
        .filter(|(k, v)| o.tags.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !code && config.is_empty() && tags.is_empty() {
        FunctionAction::Unchanged
    } else {
        FunctionAction::Update { code, config, tags }
    }
}

/// Whether a function must be waited for before it can be changed, and for what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    Nothing,
    /// State Pending: wait until Active.
    Active,
    /// LastUpdateStatus InProgress: wait until the update ends.
    Updated,
}

pub fn wait_before_change(observed: &ObservedFunction) -> WaitFor {
    if observed.state.as_deref() == Some("Pending") {
        WaitFor::Active
    } else if observed.last_update_status.as_deref() == Some("InProgress") {
        WaitFor::Updated
    } else {
        WaitFor::Nothing
    }
}

/// Functions deployed by lsk for this project that the manifest no longer lists.
pub fn functions_to_prune(
    in_manifest: &BTreeSet<String>,
    deployed: &[(String, BTreeMap<String, String>)],
    project: &str,
) -> Vec<String> {
    deployed
        .iter()
        .filter(|(name, tags)| {
            !in_manifest.contains(name)
                && tags.get(TAG_MANAGED).map(String::as_str) == Some("lsk")
                && tags.get(TAG_PROJECT).map(String::as_str) == Some(project)
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// The function's desired configuration, with references resolved.
pub fn desired_function(
    f: &Function,
    package: &Package,
    resolved: &Resolved,
    project: &str,
) -> Result<DesiredFunction, DeployError> {
    let mut environment = BTreeMap::new();
    for (var, value) in &f.environment {
        let text =
            value
                .resolve(&|r| resolved.lookup(r))
                .map_err(|source| DeployError::Unresolved {
                    function: f.name.clone(),
                    var: var.clone(),
                    source,
                })?;
        environment.insert(var.clone(), text);
    }
    Ok(DesiredFunction {
        name: f.name.clone(),
        code_sha256: package.sha256.clone(),
        memory: f.memory,
        timeout: f.timeout,
        environment,
        architecture: f.architecture,
        description: f
            .description
            .clone()
            .unwrap_or_else(|| format!("{} (deployed by lsk)", f.package)),
        role: aws::LAMBDA_ROLE.to_owned(),
        tags: BTreeMap::from_iter(
            [
                (TAG_MANAGED.to_owned(), "lsk".to_owned()),
                (TAG_PROJECT.to_owned(), project.to_owned()),
            ]
            .into_iter()
            .chain(package.build.clone().map(|b| (TAG_BUILD.to_owned(), b))),
        ),
    })
}

/// A function's configuration and tags as LocalStack reports them; `None` when it does not exist.
///
/// GetFunctionConfiguration and ListTags, not GetFunction: LocalStack answers GetFunction with a
/// presigned URL for the code, for which it makes a new S3 client each time, and that costs more
/// of its CPU than the rest of a deploy's reads. The code's location is asked for only when it
/// matters: for hot-reload code, whose directory `lsk status` shows.
pub async fn observe_function(
    clients: &Clients,
    name: &str,
) -> Result<Option<(ObservedFunction, lt::FunctionConfiguration)>, DeployError> {
    let cfg = match clients
        .lambda
        .get_function_configuration()
        .function_name(name)
        .send()
        .await
    {
        Ok(out) => function_configuration(out),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(aws_error("GetFunctionConfiguration", name, e)),
    };
    let tags = match cfg.function_arn() {
        Some(arn) => clients
            .lambda
            .list_tags()
            .resource(arn)
            .send()
            .await
            .map_err(|e| aws_error("ListTags", name, e))?
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        None => BTreeMap::new(),
    };
    let code_location = if cfg.code_sha256() == Some(HOT_RELOAD_SHA256) {
        clients
            .lambda
            .get_function()
            .function_name(name)
            .send()
            .await
            .map_err(|e| aws_error("GetFunction", name, e))?
            .code()
            .and_then(|c| c.location())
            .map(str::to_owned)
    } else {
        None
    };
    let observed = ObservedFunction {
        code_sha256: cfg.code_sha256().map(str::to_owned),
        memory: cfg.memory_size(),
        timeout: cfg.timeout(),
        environment: cfg
            .environment()
            .and_then(|e| e.variables())
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        architecture: cfg.architectures().first().map(|a| a.as_str().to_owned()),
        description: cfg.description().map(str::to_owned),
        runtime: cfg.runtime().map(|r| r.as_str().to_owned()),
        handler: cfg.handler().map(str::to_owned),
        role: cfg.role().map(str::to_owned),
        tags,
        state: cfg.state().map(|s| s.as_str().to_owned()),
        last_update_status: cfg.last_update_status().map(|s| s.as_str().to_owned()),
        code_location,
    };
    Ok(Some((observed, cfg)))
}

/// GetFunctionConfiguration's answer as the `FunctionConfiguration` GetFunction would hold (the
/// SDK gives the two their own types with the same fields).
fn function_configuration(
    out: aws_sdk_lambda::operation::get_function_configuration::GetFunctionConfigurationOutput,
) -> lt::FunctionConfiguration {
    lt::FunctionConfiguration::builder()
        .set_function_name(out.function_name)
        .set_function_arn(out.function_arn)
        .set_runtime(out.runtime)
        .set_role(out.role)
        .set_handler(out.handler)
        .set_code_size(Some(out.code_size))
        .set_description(out.description)
        .set_timeout(out.timeout)
        .set_memory_size(out.memory_size)
        .set_last_modified(out.last_modified)
        .set_code_sha256(out.code_sha256)
        .set_version(out.version)
        .set_environment(out.environment)
        .set_state(out.state)
        .set_state_reason(out.state_reason)
        .set_state_reason_code(out.state_reason_code)
        .set_last_update_status(out.last_update_status)
        .set_last_update_status_reason(out.last_update_status_reason)
        .set_last_update_status_reason_code(out.last_update_status_reason_code)
        .set_architectures(out.architectures)
        .set_package_type(out.package_type)
        .set_ephemeral_storage(out.ephemeral_storage)
        .set_logging_config(out.logging_config)
        .build()
}

fn architecture(a: Architecture) -> lt::Architecture {
    match a {
        crate::manifest::Architecture::X86_64 => lt::Architecture::X8664,
        crate::manifest::Architecture::Arm64 => lt::Architecture::Arm64,
    }
}

fn environment(vars: &BTreeMap<String, String>) -> lt::Environment {
    lt::Environment::builder()
        .set_variables(Some(
            vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        ))
        .build()
}

/// After a waiter gave up: the function's state and reason, as an error.
async fn stuck(clients: &Clients, name: &str, waiting_for: &str, waited: Duration) -> DeployError {
    match observe_function(clients, name).await {
        Ok(Some((_, cfg))) => {
            let state = cfg
                .state()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default();
            let update = cfg
                .last_update_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default();
            if state == "Pending" || update == "InProgress" {
                DeployError::Timeout {
                    what: format!("function {name} ({waiting_for})"),
                    waited,
                }
            } else {
                let reason = cfg
                    .state_reason()
                    .or(cfg.last_update_status_reason())
                    .unwrap_or("no reason given")
                    .to_owned();
                DeployError::FunctionFailed {
                    name: name.to_owned(),
                    state: if update == "Failed" {
                        "Failed (last update)".to_owned()
                    } else {
                        state
                    },
                    reason,
                }
            }
        }
        Ok(None) => DeployError::FunctionFailed {
            name: name.to_owned(),
            state: "gone".into(),
            reason: format!("it disappeared while waiting for it to be {waiting_for}"),
        },
        Err(e) => e,
    }
}

/// The first and the longest pause between two polls of a function that is settling. The SDK's
/// FunctionActiveV2 / FunctionUpdatedV2 waiters start at 1 s, sized for AWS, and its waiter
/// machinery counts delays in whole seconds; a LocalStack function settles in a fraction of a
/// second, and 1 s made a five-function deploy wait 3 s.
const SETTLE_POLL: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(1));

/// What a poll of a settling function says, with the SDK waiters' acceptors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    Done,
    Failed,
    Waiting,
}

/// Polls GetFunctionConfiguration, with a doubling pause from [`SETTLE_POLL`], until `settled` says it is done
/// or failed, for at most [`FUNCTION_WAIT`]. Err when it failed, ran out of time or GetFunction
/// failed.
async fn wait_until(
    clients: &Clients,
    name: &str,
    settled: fn(&lt::FunctionConfiguration) -> Settle,
) -> Result<(), ()> {
    let deadline = tokio::time::Instant::now() + FUNCTION_WAIT;
    let mut pause = SETTLE_POLL.0;
    loop {
        let out = clients
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send()
            .await
            .map_err(|_| ())?;
        match settled(&function_configuration(out)) {
            Settle::Done => return Ok(()),
            Settle::Failed => return Err(()),
            Settle::Waiting if tokio::time::Instant::now() + pause > deadline => {
                return Err(());
            }
            Settle::Waiting => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(SETTLE_POLL.1);
            }
        }
    }
}

/// FunctionActiveV2's acceptors.
fn active(cfg: &lt::FunctionConfiguration) -> Settle {
    match cfg.state() {
        Some(lt::State::Active) => Settle::Done,
        Some(lt::State::Pending) => Settle::Waiting,
        _ => Settle::Failed,
    }
}

/// FunctionUpdatedV2's acceptors.
fn updated(cfg: &lt::FunctionConfiguration) -> Settle {
    match cfg.last_update_status() {
        Some(lt::LastUpdateStatus::Successful) => Settle::Done,
        Some(lt::LastUpdateStatus::InProgress) => Settle::Waiting,
        _ => Settle::Failed,
    }
}

async fn wait_active(clients: &Clients, name: &str) -> Result<(), DeployError> {
    match wait_until(clients, name, active).await {
        Ok(()) => Ok(()),
        Err(()) => Err(stuck(clients, name, "Active", FUNCTION_WAIT).await),
    }
}

async fn wait_updated(clients: &Clients, name: &str) -> Result<(), DeployError> {
    match wait_until(clients, name, updated).await {
        Ok(()) => Ok(()),
        Err(()) => Err(stuck(clients, name, "updated", FUNCTION_WAIT).await),
    }
}

/// LocalStack's marker bucket for hot-reload code: the key is a host directory the function's
/// code is read from as it is, at every start of an execution environment.
pub const HOT_RELOAD_BUCKET: &str = "hot-reload";
/// The `CodeSha256` LocalStack reports for hot-reload code.
pub const HOT_RELOAD_SHA256: &str = "hot-reloading-hash-not-available";

/// Points `name` at the code in host directory `dir` (LocalStack's hot-reload code), unless it
/// reads from there already. Returns whether it changed anything.
pub async fn use_hot_reload_code(
    clients: &Clients,
    name: &str,
    dir: &std::path::Path,
) -> Result<bool, DeployError> {
    let dir_text = dir.display().to_string();
    let current = clients
        .lambda
        .get_function()
        .function_name(name)
        .send()
        .await
        .map_err(|e| aws_error("GetFunction", name, e))?;
    let sha = current.configuration().and_then(|c| c.code_sha256());
    let location = current.code().and_then(|c| c.location());
    if sha == Some(HOT_RELOAD_SHA256) && location == Some(format!("file://{dir_text}").as_str()) {
        return Ok(false);
    }
    clients
        .lambda
        .update_function_code()
        .function_name(name)
        .s3_bucket(HOT_RELOAD_BUCKET)
        .s3_key(&dir_text)
        .send()
        .await
        .map_err(|e| aws_error("UpdateFunctionCode", name, e))?;
    wait_updated(clients, name).await?;
    Ok(true)
}

/// Creates or updates the function (code only when its SHA-256 differs).
pub async fn ensure_function(
    clients: &Clients,
    desired: &DesiredFunction,
    package: &Package,
) -> Result<Change, DeployError> {
    let name = desired.name.as_str();
    let observed = observe_function(clients, name).await?;
    let action = plan_function(desired, observed.as_ref().map(|(o, _)| o));
    match &action {
        FunctionAction::Unchanged => return Ok(Change::Unchanged),
        FunctionAction::Create => {
            let mut create = clients
                .lambda
                .create_function()
                .function_name(name)
                .runtime(lt::Runtime::from(RUNTIME))
                .handler(HANDLER)
                .role(&desired.role)
                .code(
                    lt::FunctionCode::builder()
                        .zip_file(Blob::new(package.zip.clone()))
                        .build(),
                )
                .memory_size(desired.memory)
                .timeout(desired.timeout)
                .description(&desired.description)
                .environment(environment(&desired.environment))
                .architectures(architecture(desired.architecture));
            for (k, v) in &desired.tags {
                create = create.tags(k, v);
            }
            create
                .send()
                .await
                .map_err(|e| aws_error("CreateFunction", name, e))?;
            wait_active(clients, name).await?;
            return Ok(Change::Created);
        }
        FunctionAction::Update { code, config, tags } => {
            if let Some((o, _)) = &observed {
                match wait_before_change(o) {
                    WaitFor::Active => wait_active(clients, name).await?,
                    WaitFor::Updated => wait_updated(clients, name).await?,
                    WaitFor::Nothing => {}
                }
            }
            if *code {
                clients
                    .lambda
                    .update_function_code()
                    .function_name(name)
                    .zip_file(Blob::new(package.zip.clone()))
                    .architectures(architecture(desired.architecture))
                    .send()
                    .await
                    .map_err(|e| aws_error("UpdateFunctionCode", name, e))?;
                wait_updated(clients, name).await?;
            }
            if !config.is_empty() {
                clients
                    .lambda
                    .update_function_configuration()
                    .function_name(name)
                    .runtime(lt::Runtime::from(RUNTIME))
                    .handler(HANDLER)
                    .role(&desired.role)
                    .memory_size(desired.memory)
                    .timeout(desired.timeout)
                    .description(&desired.description)
                    .environment(environment(&desired.environment))
                    .send()
                    .await
                    .map_err(|e| aws_error("UpdateFunctionConfiguration", name, e))?;
                wait_updated(clients, name).await?;
            }
            if !tags.is_empty() {
                clients
                    .lambda
                    .tag_resource()
                    .resource(aws::function_arn(&clients.region, name))
                    .set_tags(Some(
                        tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    ))
                    .send()
                    .await
                    .map_err(|e| aws_error("TagResource", name, e))?;
            }
        }
    }
    Ok(Change::Updated(action.changed()))
}

/// Every function in LocalStack with its tags.
async fn deployed_functions(
    clients: &Clients,
) -> Result<Vec<(String, BTreeMap<String, String>)>, DeployError> {
    let names: Vec<(String, String)> = clients
        .lambda
        .list_functions()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("ListFunctions", "", e))?
        .iter()
        .filter_map(|f| Some((f.function_name()?.to_owned(), f.function_arn()?.to_owned())))
        .collect();
    let mut out = Vec::new();
    for (name, arn) in names {
        let tags = clients
            .lambda
            .list_tags()
            .resource(&arn)
            .send()
            .await
            .map_err(|e| aws_error("ListTags", &name, e))?
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        out.push((name, tags));
    }
    Ok(out)
}

/// Removes the functions (with their mappings) lsk deployed for `project` that are not in
/// `in_manifest`.
pub async fn prune(
    clients: &Clients,
    in_manifest: &BTreeSet<String>,
    project: &str,
) -> Result<Vec<(ResourceType, String)>, DeployError> {
    let deployed = deployed_functions(clients).await?;
    let mut removed = Vec::new();
    for name in functions_to_prune(in_manifest, &deployed, project) {
        // Mappings outlive their function in AWS; remove them first.
        for m in sqs_trigger::observe_mappings(clients, &name).await? {
            sqs_trigger::delete_mapping(clients, &m.uuid).await?;
            removed.push((
                ResourceType::EventSourceMapping,
                format!("{} -> {name}", sqs_trigger::queue_of(&m.source_arn)),
            ));
        }
        clients
            .lambda
            .delete_function()
            .function_name(&name)
            .send()
            .await
            .map_err(|e| aws_error("DeleteFunction", &name, e))?;
        removed.push((ResourceType::Function, name));
    }
    Ok(removed)
}

#[cfg(test)]
mod tests;
