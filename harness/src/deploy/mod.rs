//! Idempotent create-or-update of a whole stack: buckets, queues (dead-letter queues first),
//! functions (code uploaded only when its SHA-256 differs), function URLs with their public
//! permission, and SQS event source mappings.
//!
//! The manifest is the truth: functions that lsk deployed for this project and that the
//! manifest no longer lists are removed with their mappings (unless pruning is turned off), and
//! mappings a function should no longer have are deleted. Queues and buckets are never deleted,
//! since they hold data. The decisions live in [`plan`] as pure functions.

pub mod plan;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::time::Duration;

use aws_sdk_lambda::client::Waiters;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types as lt;
use aws_sdk_sqs::types::QueueAttributeName;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;

use crate::aws::{self, Clients};
use crate::manifest::{Cors, Function, Manifest, RefAttr, RefKind, Reference, UnresolvedRef};
use crate::package::Package;
use crate::progress::Progress;
use plan::{
    DesiredFunction, DesiredMapping, FunctionAction, MappingAction, ObservedFunction,
    ObservedMapping, ObservedUrl, PermissionAction, UrlAction, WaitFor,
};

/// How long a function may stay Pending / InProgress before the deploy gives up.
pub const FUNCTION_WAIT: Duration = Duration::from_secs(300);
/// How long an event source mapping may stay in a transitional state.
pub const MAPPING_WAIT: Duration = Duration::from_secs(60);

/// What can go wrong deploying.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{action} {resource} failed: {detail}")]
    Aws {
        action: String,
        resource: String,
        detail: String,
    },
    #[error("function {name} is {state}: {reason}")]
    FunctionFailed {
        name: String,
        state: String,
        reason: String,
    },
    #[error("{what} did not settle within {} s", .waited.as_secs())]
    Timeout { what: String, waited: Duration },
    #[error("functions.{function}.environment.{var}: {source}")]
    Unresolved {
        function: String,
        var: String,
        #[source]
        source: UnresolvedRef,
    },
    #[error("no package was built for function {0}")]
    MissingPackage(String),
}

impl DeployError {
    pub fn hint(&self) -> Option<String> {
        match self {
            DeployError::Aws { detail, .. } if detail.contains("onnect") => {
                Some("is LocalStack running? `lsk status` checks, `lsk up` starts it".into())
            }
            DeployError::FunctionFailed { name, .. } => Some(format!(
                "`lsk logs {name}` shows the function's output; the LocalStack log may say more"
            )),
            _ => None,
        }
    }
}

/// Turns an SDK error into a [`DeployError::Aws`] naming the call and the resource.
pub(crate) fn aws_error<E, R>(
    action: &str,
    resource: &str,
    err: aws_sdk_lambda::error::SdkError<E, R>,
) -> DeployError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug,
{
    let detail = match err.as_service_error() {
        Some(se) if se.code().is_some() => format!(
            "{}: {}",
            se.code().unwrap_or_default(),
            se.message().unwrap_or("(no message)")
        ),
        _ => DisplayErrorContext(&err).to_string(),
    };
    DeployError::Aws {
        action: action.to_owned(),
        resource: resource.to_owned(),
        detail,
    }
}

/// Which kind of resource a report line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResourceType {
    Bucket,
    Queue,
    Function,
    FunctionUrl,
    Permission,
    EventSourceMapping,
}

impl ResourceType {
    pub fn label(self) -> &'static str {
        match self {
            ResourceType::Bucket => "bucket",
            ResourceType::Queue => "queue",
            ResourceType::Function => "function",
            ResourceType::FunctionUrl => "url",
            ResourceType::Permission => "permission",
            ResourceType::EventSourceMapping => "sqs mapping",
        }
    }
}

/// What happened to one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", content = "what", rename_all = "lowercase")]
pub enum Change {
    Created,
    Updated(Vec<String>),
    Unchanged,
    Removed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceChange {
    pub resource: ResourceType,
    pub name: String,
    #[serde(flatten)]
    pub change: Change,
}

/// Everything a deploy did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeployReport {
    pub changes: Vec<ResourceChange>,
}

impl DeployReport {
    fn push(&mut self, resource: ResourceType, name: impl Into<String>, change: Change) {
        self.changes.push(ResourceChange {
            resource,
            name: name.into(),
            change,
        });
    }

    /// True when nothing was created, updated or removed.
    pub fn is_noop(&self) -> bool {
        self.changes.iter().all(|c| c.change == Change::Unchanged)
    }

    /// Functions whose code was uploaded (created, or updated with new code).
    pub fn uploaded(&self) -> Vec<&str> {
        self.changes
            .iter()
            .filter(|c| c.resource == ResourceType::Function)
            .filter(|c| match &c.change {
                Change::Created => true,
                Change::Updated(what) => what.iter().any(|w| w == "code"),
                _ => false,
            })
            .map(|c| c.name.as_str())
            .collect()
    }
}

impl fmt::Display for DeployReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_noop() {
            return write!(
                f,
                "no changes ({} resources up to date)",
                self.changes.len()
            );
        }
        let width = self.changes.iter().map(|c| c.name.len()).max().unwrap_or(0);
        for (i, c) in self.changes.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            let change = match &c.change {
                Change::Created => "created".to_owned(),
                Change::Updated(what) => format!("updated: {}", what.join(", ")),
                Change::Unchanged => "unchanged".to_owned(),
                Change::Removed => "removed".to_owned(),
            };
            write!(
                f,
                "  {:<11} {:<width$}  {change}",
                c.resource.label(),
                c.name
            )?;
        }
        Ok(())
    }
}

/// Deploy settings.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// Remove functions (and their mappings) that lsk deployed for this project but the
    /// manifest no longer lists. Default true.
    pub prune: bool,
    /// Project name recorded in a tag, so pruning never touches another project's functions.
    pub project: String,
}

/// Where deployed queues and buckets are, for references and handles.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// queue name -> (url, arn)
    pub queues: BTreeMap<String, (String, String)>,
    /// bucket key -> S3 name
    pub buckets: BTreeMap<String, String>,
    pub region: String,
}

impl Resolved {
    /// The value of a `${...}` reference.
    pub fn lookup(&self, r: &Reference) -> Result<String, String> {
        match (r.kind, r.attr) {
            (RefKind::Bucket, RefAttr::Name) => self.bucket(&r.name),
            (RefKind::Bucket, RefAttr::Arn) => self.bucket(&r.name).map(|n| aws::bucket_arn(&n)),
            (RefKind::Queue, RefAttr::Name) => self.queue(&r.name).map(|_| r.name.clone()),
            (RefKind::Queue, RefAttr::Url) => self.queue(&r.name).map(|(u, _)| u),
            (RefKind::Queue, RefAttr::Arn) => self.queue(&r.name).map(|(_, a)| a),
            (RefKind::Function, RefAttr::Name) => Ok(r.name.clone()),
            (RefKind::Function, RefAttr::Arn) => Ok(aws::function_arn(&self.region, &r.name)),
            (RefKind::Bucket | RefKind::Function, RefAttr::Url) => {
                Err("only queues have a url".into())
            }
        }
    }

    fn bucket(&self, key: &str) -> Result<String, String> {
        self.buckets
            .get(key)
            .cloned()
            .ok_or_else(|| format!("bucket {key} was not deployed"))
    }

    fn queue(&self, name: &str) -> Result<(String, String), String> {
        self.queues
            .get(name)
            .cloned()
            .ok_or_else(|| format!("queue {name} was not deployed"))
    }
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
                (plan::TAG_MANAGED.to_owned(), "lsk".to_owned()),
                (plan::TAG_PROJECT.to_owned(), project.to_owned()),
            ]
            .into_iter()
            .chain(
                package
                    .build
                    .clone()
                    .map(|b| (plan::TAG_BUILD.to_owned(), b)),
            ),
        ),
    })
}

/// Deploys `manifest` with the packaged functions.
pub async fn apply(
    manifest: &Manifest,
    packages: &BTreeMap<String, Package>,
    clients: &Clients,
    opts: &DeployOptions,
    progress: &Progress,
) -> Result<(DeployReport, Resolved), DeployError> {
    let phase = progress.phase("deploy");
    let mut report = DeployReport::default();
    let mut resolved = Resolved {
        region: clients.region.clone(),
        ..Resolved::default()
    };

    for bucket in manifest.buckets.values() {
        phase.update(&format!("bucket {}", bucket.name));
        let change = ensure_bucket(clients, &bucket.name).await?;
        report.push(
            ResourceType::Bucket,
            format!("{} ({})", bucket.key, bucket.name),
            change,
        );
        resolved
            .buckets
            .insert(bucket.key.clone(), bucket.name.clone());
    }

    for queue in manifest.queues_in_deploy_order() {
        phase.update(&format!("queue {}", queue.name));
        let dlq_arn = queue
            .dead_letter
            .as_ref()
            .and_then(|dl| resolved.queues.get(&dl.queue))
            .map(|(_, arn)| arn.clone());
        let (change, url, arn) = ensure_queue(clients, queue, dlq_arn.as_deref()).await?;
        report.push(ResourceType::Queue, &queue.name, change);
        resolved.queues.insert(queue.name.clone(), (url, arn));
    }

    // Functions are independent of each other once queues and buckets exist: deploying them
    // at once overlaps the SDK waiters' polls (at least 1 s each while a function is Pending).
    let deploys = manifest
        .functions
        .values()
        .map(|f| deploy_function(clients, f, packages, &resolved, opts, &phase));
    for changes in futures::future::try_join_all(deploys).await? {
        for (resource, name, change) in changes {
            report.push(resource, name, change);
        }
    }

    if opts.prune {
        phase.update("removing functions no longer in the manifest");
        let in_manifest: BTreeSet<String> = manifest.functions.keys().cloned().collect();
        for (resource, name) in prune(clients, &in_manifest, &opts.project).await? {
            report.push(resource, name, Change::Removed);
        }
    }

    phase.done(&if report.is_noop() {
        "no changes".to_owned()
    } else {
        let changed = report
            .changes
            .iter()
            .filter(|c| c.change != Change::Unchanged)
            .count();
        format!("{changed} change(s), uploaded: {}", {
            let up = report.uploaded();
            if up.is_empty() {
                "nothing".to_owned()
            } else {
                up.join(", ")
            }
        })
    });
    Ok((report, resolved))
}

/// One function, its URL and its SQS mappings; the changes in the order they were made.
async fn deploy_function(
    clients: &Clients,
    f: &Function,
    packages: &BTreeMap<String, Package>,
    resolved: &Resolved,
    opts: &DeployOptions,
    phase: &crate::progress::Phase,
) -> Result<Vec<(ResourceType, String, Change)>, DeployError> {
    let mut changes = Vec::new();
    phase.update(&format!("function {}", f.name));
    let package = packages
        .get(&f.name)
        .ok_or_else(|| DeployError::MissingPackage(f.name.clone()))?;
    let desired = desired_function(f, package, resolved, &opts.project)?;
    let change = ensure_function(clients, &desired, package).await?;
    changes.push((ResourceType::Function, f.name.clone(), change));

    phase.update(&format!("function URL {}", f.name));
    let (url_change, perm_change) = ensure_url(clients, f).await?;
    if let Some(c) = url_change {
        changes.push((ResourceType::FunctionUrl, f.name.clone(), c));
    }
    if let Some(c) = perm_change {
        changes.push((
            ResourceType::Permission,
            format!("{} public URL", f.name),
            c,
        ));
    }

    phase.update(&format!("SQS mappings {}", f.name));
    let desired_mappings: Vec<DesiredMapping> = f
        .sqs
        .iter()
        .map(|t| DesiredMapping {
            queue: t.queue.clone(),
            source_arn: resolved
                .queues
                .get(&t.queue)
                .map(|(_, arn)| arn.clone())
                .unwrap_or_else(|| aws::queue_arn(&clients.region, &t.queue)),
            batch_size: t.batch_size,
            batching_window: t.batching_window,
            report_failures: t.report_batch_item_failures,
            enabled: t.enabled,
        })
        .collect();
    for (name, change) in ensure_mappings(clients, &f.name, &desired_mappings).await? {
        changes.push((ResourceType::EventSourceMapping, name, change));
    }
    Ok(changes)
}

async fn ensure_bucket(clients: &Clients, name: &str) -> Result<Change, DeployError> {
    match clients.s3.head_bucket().bucket(name).send().await {
        Ok(_) => return Ok(Change::Unchanged),
        Err(e) if e.as_service_error().is_some_and(|se| se.is_not_found()) => {}
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {}
        Err(e) => return Err(aws_error("HeadBucket", name, e)),
    }
    let mut create = clients.s3.create_bucket().bucket(name);
    if clients.region != "us-east-1" {
        create = create.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(
                    clients.region.as_str(),
                ))
                .build(),
        );
    }
    match create.send().await {
        Ok(_) => Ok(Change::Created),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_bucket_already_owned_by_you()) =>
        {
            Ok(Change::Unchanged)
        }
        Err(e) => Err(aws_error("CreateBucket", name, e)),
    }
}

async fn queue_url(clients: &Clients, name: &str) -> Result<Option<String>, DeployError> {
    match clients.sqs.get_queue_url().queue_name(name).send().await {
        Ok(out) => Ok(out.queue_url().map(str::to_owned)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_queue_does_not_exist())
                || e.as_service_error()
                    .and_then(|se| se.code())
                    .is_some_and(|c| {
                        c.contains("NonExistentQueue") || c.contains("QueueDoesNotExist")
                    }) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error("GetQueueUrl", name, e)),
    }
}

/// All attributes of a queue, by name.
pub(crate) async fn queue_attributes(
    clients: &Clients,
    url: &str,
) -> Result<HashMap<String, String>, DeployError> {
    let out = clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .map_err(|e| aws_error("GetQueueAttributes", url, e))?;
    Ok(out
        .attributes()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.clone()))
                .collect()
        })
        .unwrap_or_default())
}

async fn ensure_queue(
    clients: &Clients,
    queue: &crate::manifest::Queue,
    dlq_arn: Option<&str>,
) -> Result<(Change, String, String), DeployError> {
    let desired = plan::desired_queue_attributes(queue, dlq_arn);
    let arn_of = |attrs: &HashMap<String, String>| {
        attrs
            .get("QueueArn")
            .cloned()
            .unwrap_or_else(|| aws::queue_arn(&clients.region, &queue.name))
    };
    let Some(url) = queue_url(clients, &queue.name).await? else {
        let mut create = clients.sqs.create_queue().queue_name(&queue.name);
        for (k, v) in desired
            .iter()
            .chain(plan::creation_only_attributes(queue).iter())
            .filter(|(_, v)| !v.is_empty())
        {
            create = create.attributes(QueueAttributeName::from(k.as_str()), v);
        }
        let out = create
            .send()
            .await
            .map_err(|e| aws_error("CreateQueue", &queue.name, e))?;
        let url = out
            .queue_url()
            .map(str::to_owned)
            .ok_or_else(|| DeployError::Aws {
                action: "CreateQueue".into(),
                resource: queue.name.clone(),
                detail: "no QueueUrl in the answer".into(),
            })?;
        let arn = arn_of(&queue_attributes(clients, &url).await?);
        return Ok((Change::Created, url, arn));
    };
    let observed = queue_attributes(clients, &url).await?;
    let arn = arn_of(&observed);
    let changes = plan::queue_attribute_changes(&desired, &observed);
    if changes.is_empty() {
        return Ok((Change::Unchanged, url, arn));
    }
    let mut set = clients.sqs.set_queue_attributes().queue_url(&url);
    for (k, v) in &changes {
        set = set.attributes(QueueAttributeName::from(k.as_str()), v);
    }
    set.send()
        .await
        .map_err(|e| aws_error("SetQueueAttributes", &queue.name, e))?;
    Ok((Change::Updated(changes.into_keys().collect()), url, arn))
}

/// A function's configuration and tags as LocalStack reports them; `None` when it does not exist.
pub(crate) async fn observe_function(
    clients: &Clients,
    name: &str,
) -> Result<Option<(ObservedFunction, lt::FunctionConfiguration)>, DeployError> {
    let out = match clients
        .lambda
        .get_function()
        .function_name(name)
        .send()
        .await
    {
        Ok(out) => out,
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_not_found_exception()) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(aws_error("GetFunction", name, e)),
    };
    let Some(cfg) = out.configuration().cloned() else {
        return Ok(None);
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
        tags: match out.tags() {
            Some(t) => t.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            // Not every LocalStack version returns tags with GetFunction; ask for them.
            None => match cfg.function_arn() {
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
            },
        },
        state: cfg.state().map(|s| s.as_str().to_owned()),
        last_update_status: cfg.last_update_status().map(|s| s.as_str().to_owned()),
        code_location: out.code().and_then(|c| c.location()).map(str::to_owned),
    };
    Ok(Some((observed, cfg)))
}

fn architecture(a: crate::manifest::Architecture) -> lt::Architecture {
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

async fn wait_active(clients: &Clients, name: &str) -> Result<(), DeployError> {
    match clients
        .lambda
        .wait_until_function_active_v2()
        .function_name(name)
        .wait(FUNCTION_WAIT)
        .await
    {
        Ok(_) => Ok(()),
        Err(_) => Err(stuck(clients, name, "Active", FUNCTION_WAIT).await),
    }
}

async fn wait_updated(clients: &Clients, name: &str) -> Result<(), DeployError> {
    match clients
        .lambda
        .wait_until_function_updated_v2()
        .function_name(name)
        .wait(FUNCTION_WAIT)
        .await
    {
        Ok(_) => Ok(()),
        Err(_) => Err(stuck(clients, name, "updated", FUNCTION_WAIT).await),
    }
}

/// LocalStack's marker bucket for hot-reload code: the key is a host directory the function's
/// code is read from as it is, at every start of an execution environment.
pub const HOT_RELOAD_BUCKET: &str = "hot-reload";
/// The `CodeSha256` LocalStack reports for hot-reload code.
pub const HOT_RELOAD_SHA256: &str = "hot-reloading-hash-not-available";

/// Points `name` at the code in host directory `dir` (LocalStack's hot-reload code), unless it
/// reads from there already. Returns whether it changed anything.
pub(crate) async fn use_hot_reload_code(
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

async fn ensure_function(
    clients: &Clients,
    desired: &DesiredFunction,
    package: &Package,
) -> Result<Change, DeployError> {
    let name = desired.name.as_str();
    let observed = observe_function(clients, name).await?;
    let action = plan::plan_function(desired, observed.as_ref().map(|(o, _)| o));
    match &action {
        FunctionAction::Unchanged => return Ok(Change::Unchanged),
        FunctionAction::Create => {
            let mut create = clients
                .lambda
                .create_function()
                .function_name(name)
                .runtime(lt::Runtime::from(plan::RUNTIME))
                .handler(plan::HANDLER)
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
                match plan::wait_before_change(o) {
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
                    .runtime(lt::Runtime::from(plan::RUNTIME))
                    .handler(plan::HANDLER)
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

fn to_sdk_cors(c: &Cors) -> lt::Cors {
    lt::Cors::builder()
        .set_allow_origins(Some(c.allow_origins.clone()))
        .set_allow_methods(Some(c.allow_methods.clone()))
        .set_allow_headers(Some(c.allow_headers.clone()))
        .set_expose_headers(Some(c.expose_headers.clone()))
        .set_allow_credentials(c.allow_credentials)
        .set_max_age(c.max_age)
        .build()
}

fn from_sdk_cors(c: &lt::Cors) -> Cors {
    Cors {
        allow_origins: c.allow_origins().to_vec(),
        allow_methods: c.allow_methods().to_vec(),
        allow_headers: c.allow_headers().to_vec(),
        expose_headers: c.expose_headers().to_vec(),
        allow_credentials: c.allow_credentials(),
        max_age: c.max_age(),
    }
}

/// The function URL LocalStack reports; `None` when there is none.
pub(crate) async fn observe_url(
    clients: &Clients,
    name: &str,
) -> Result<Option<(ObservedUrl, String)>, DeployError> {
    match clients
        .lambda
        .get_function_url_config()
        .function_name(name)
        .send()
        .await
    {
        Ok(out) => Ok(Some((
            ObservedUrl {
                auth: out.auth_type().as_str().to_owned(),
                cors: out.cors().map(from_sdk_cors),
            },
            out.function_url().to_owned(),
        ))),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error("GetFunctionUrlConfig", name, e)),
    }
}

async fn has_public_statement(clients: &Clients, name: &str) -> Result<bool, DeployError> {
    match clients.lambda.get_policy().function_name(name).send().await {
        Ok(out) => Ok(out
            .policy()
            .is_some_and(|p| plan::policy_has_statement(p, plan::PUBLIC_URL_STATEMENT))),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(aws_error("GetPolicy", name, e)),
    }
}

async fn ensure_url(
    clients: &Clients,
    f: &Function,
) -> Result<(Option<Change>, Option<Change>), DeployError> {
    let name = f.name.as_str();
    let observed = observe_url(clients, name).await?;
    let action = plan::plan_url(f.url.as_ref(), observed.as_ref().map(|(o, _)| o));
    let auth = |u: &crate::manifest::FunctionUrl| lt::FunctionUrlAuthType::from(u.auth.as_str());
    let url_change = match (&action, &f.url) {
        (UrlAction::Absent, _) => None,
        (UrlAction::Unchanged, _) => Some(Change::Unchanged),
        (UrlAction::Create, Some(u)) => {
            let mut req = clients
                .lambda
                .create_function_url_config()
                .function_name(name)
                .auth_type(auth(u));
            if let Some(c) = &u.cors {
                req = req.cors(to_sdk_cors(c));
            }
            req.send()
                .await
                .map_err(|e| aws_error("CreateFunctionUrlConfig", name, e))?;
            Some(Change::Created)
        }
        (UrlAction::Update(what), Some(u)) => {
            clients
                .lambda
                .update_function_url_config()
                .function_name(name)
                .auth_type(auth(u))
                .cors(to_sdk_cors(&u.cors.clone().unwrap_or_default()))
                .send()
                .await
                .map_err(|e| aws_error("UpdateFunctionUrlConfig", name, e))?;
            Some(Change::Updated(
                what.iter().map(|w| (*w).to_owned()).collect(),
            ))
        }
        (UrlAction::Delete, _) => {
            clients
                .lambda
                .delete_function_url_config()
                .function_name(name)
                .send()
                .await
                .map_err(|e| aws_error("DeleteFunctionUrlConfig", name, e))?;
            Some(Change::Removed)
        }
        // plan_url only plans Create/Update when a URL is wanted.
        (UrlAction::Create | UrlAction::Update(_), None) => None,
    };

    let exists = has_public_statement(clients, name).await?;
    let perm_change = match plan::plan_public_permission(f.url.as_ref(), exists) {
        PermissionAction::Absent => None,
        PermissionAction::Keep => Some(Change::Unchanged),
        PermissionAction::Add => {
            let added = clients
                .lambda
                .add_permission()
                .function_name(name)
                .statement_id(plan::PUBLIC_URL_STATEMENT)
                .action("lambda:InvokeFunctionUrl")
                .principal("*")
                .function_url_auth_type(lt::FunctionUrlAuthType::None)
                .send()
                .await;
            match added {
                Ok(_) => Some(Change::Created),
                // Someone added it between our look and now: it is there, which is what we want.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_resource_conflict_exception()) =>
                {
                    Some(Change::Unchanged)
                }
                Err(e) => return Err(aws_error("AddPermission", name, e)),
            }
        }
        PermissionAction::Remove => {
            let removed = clients
                .lambda
                .remove_permission()
                .function_name(name)
                .statement_id(plan::PUBLIC_URL_STATEMENT)
                .send()
                .await;
            match removed {
                Ok(_) => Some(Change::Removed),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_resource_not_found_exception()) =>
                {
                    None
                }
                Err(e) => return Err(aws_error("RemovePermission", name, e)),
            }
        }
    };
    Ok((url_change, perm_change))
}

/// The event source mappings of a function.
pub(crate) async fn observe_mappings(
    clients: &Clients,
    function: &str,
) -> Result<Vec<ObservedMapping>, DeployError> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = clients
            .lambda
            .list_event_source_mappings()
            .function_name(function)
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| aws_error("ListEventSourceMappings", function, e))?;
        for m in page.event_source_mappings() {
            let (Some(uuid), Some(arn)) = (m.uuid(), m.event_source_arn()) else {
                continue;
            };
            out.push(ObservedMapping {
                uuid: uuid.to_owned(),
                source_arn: arn.to_owned(),
                batch_size: m.batch_size(),
                batching_window: m.maximum_batching_window_in_seconds(),
                report_failures: m
                    .function_response_types()
                    .contains(&lt::FunctionResponseType::ReportBatchItemFailures),
                state: m.state().map(str::to_owned),
            });
        }
        marker = page.next_marker().map(str::to_owned);
        if marker.is_none() {
            return Ok(out);
        }
    }
}

/// Waits until a mapping leaves Creating/Updating/... (there is no SDK waiter for mappings).
/// Returns false when the mapping is gone (LocalStack deletes asynchronously).
async fn settle_mapping(clients: &Clients, uuid: &str) -> Result<bool, DeployError> {
    let deadline = tokio::time::Instant::now() + MAPPING_WAIT;
    loop {
        let state = match clients
            .lambda
            .get_event_source_mapping()
            .uuid(uuid)
            .send()
            .await
        {
            Ok(out) => out.state().map(str::to_owned),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(aws_error("GetEventSourceMapping", uuid, e)),
        };
        if !plan::mapping_is_transitional(state.as_deref()) {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(DeployError::Timeout {
                what: format!(
                    "event source mapping {uuid} ({})",
                    state.unwrap_or_default()
                ),
                waited: MAPPING_WAIT,
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Deletes a mapping once it has settled; a mapping already gone counts as deleted.
async fn delete_mapping(clients: &Clients, uuid: &str) -> Result<(), DeployError> {
    if !settle_mapping(clients, uuid).await? {
        return Ok(());
    }
    match clients
        .lambda
        .delete_event_source_mapping()
        .uuid(uuid)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error("DeleteEventSourceMapping", uuid, e)),
    }
}

fn queue_of(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

async fn ensure_mappings(
    clients: &Clients,
    function: &str,
    desired: &[DesiredMapping],
) -> Result<Vec<(String, Change)>, DeployError> {
    // A mapping being deleted is already on its way out: plan as if it were gone.
    let observed: Vec<ObservedMapping> = observe_mappings(clients, function)
        .await?
        .into_iter()
        .filter(|m| m.state.as_deref() != Some("Deleting"))
        .collect();
    let response_types = |d: &DesiredMapping| {
        if d.report_failures {
            vec![lt::FunctionResponseType::ReportBatchItemFailures]
        } else {
            Vec::new()
        }
    };
    let mut changes = Vec::new();
    for action in plan::plan_mappings(desired, &observed) {
        match action {
            MappingAction::Unchanged { queue, .. } => {
                changes.push((format!("{queue} -> {function}"), Change::Unchanged));
            }
            MappingAction::Create(d) => {
                clients
                    .lambda
                    .create_event_source_mapping()
                    .function_name(function)
                    .event_source_arn(&d.source_arn)
                    .batch_size(d.batch_size)
                    .maximum_batching_window_in_seconds(d.batching_window)
                    .set_function_response_types(Some(response_types(&d)))
                    .enabled(d.enabled)
                    .send()
                    .await
                    .map_err(|e| {
                        aws_error(
                            "CreateEventSourceMapping",
                            &format!("{} -> {function}", d.queue),
                            e,
                        )
                    })?;
                changes.push((format!("{} -> {function}", d.queue), Change::Created));
            }
            MappingAction::Update {
                uuid,
                desired: d,
                changes: what,
            } => {
                if !settle_mapping(clients, &uuid).await? {
                    return Err(DeployError::Aws {
                        action: "UpdateEventSourceMapping".into(),
                        resource: uuid,
                        detail: "the mapping disappeared while the deploy was updating it; run the deploy again".into(),
                    });
                }
                clients
                    .lambda
                    .update_event_source_mapping()
                    .uuid(&uuid)
                    .batch_size(d.batch_size)
                    .maximum_batching_window_in_seconds(d.batching_window)
                    .set_function_response_types(Some(response_types(&d)))
                    .enabled(d.enabled)
                    .send()
                    .await
                    .map_err(|e| aws_error("UpdateEventSourceMapping", &uuid, e))?;
                changes.push((
                    format!("{} -> {function}", d.queue),
                    Change::Updated(what.iter().map(|w| (*w).to_owned()).collect()),
                ));
            }
            MappingAction::Delete { uuid, source_arn } => {
                delete_mapping(clients, &uuid).await?;
                changes.push((
                    format!("{} -> {function}", queue_of(&source_arn)),
                    Change::Removed,
                ));
            }
        }
    }
    Ok(changes)
}

/// Every function in LocalStack with its tags.
async fn deployed_functions(
    clients: &Clients,
) -> Result<Vec<(String, BTreeMap<String, String>)>, DeployError> {
    let mut names = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let page = clients
            .lambda
            .list_functions()
            .set_marker(marker.clone())
            .send()
            .await
            .map_err(|e| aws_error("ListFunctions", "", e))?;
        for f in page.functions() {
            if let (Some(name), Some(arn)) = (f.function_name(), f.function_arn()) {
                names.push((name.to_owned(), arn.to_owned()));
            }
        }
        marker = page.next_marker().map(str::to_owned);
        if marker.is_none() {
            break;
        }
    }
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

async fn prune(
    clients: &Clients,
    in_manifest: &BTreeSet<String>,
    project: &str,
) -> Result<Vec<(ResourceType, String)>, DeployError> {
    let deployed = deployed_functions(clients).await?;
    let mut removed = Vec::new();
    for name in plan::functions_to_prune(in_manifest, &deployed, project) {
        // Mappings outlive their function in AWS; remove them first.
        for m in observe_mappings(clients, &name).await? {
            delete_mapping(clients, &m.uuid).await?;
            removed.push((
                ResourceType::EventSourceMapping,
                format!("{} -> {name}", queue_of(&m.source_arn)),
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
mod tests {
    use super::*;
    use crate::manifest::EnvValue;
    use std::path::Path;

    fn report(changes: Vec<(ResourceType, &str, Change)>) -> DeployReport {
        DeployReport {
            changes: changes
                .into_iter()
                .map(|(resource, name, change)| ResourceChange {
                    resource,
                    name: name.into(),
                    change,
                })
                .collect(),
        }
    }

    #[test]
    fn unchanged_everything_reads_no_changes_and_uploads_nothing() {
        let r = report(vec![
            (
                ResourceType::Bucket,
                "images (lsk-images)",
                Change::Unchanged,
            ),
            (ResourceType::Function, "square", Change::Unchanged),
        ]);
        assert!(r.is_noop());
        assert!(r.uploaded().is_empty());
        assert_eq!(r.to_string(), "no changes (2 resources up to date)");
    }

    #[test]
    fn report_lists_each_change() {
        let r = report(vec![
            (ResourceType::Queue, "image-requests-dlq", Change::Created),
            (
                ResourceType::Function,
                "square",
                Change::Updated(vec!["code".into(), "memory".into()]),
            ),
            (ResourceType::Function, "image-generator", Change::Created),
            (ResourceType::Function, "old", Change::Removed),
            (ResourceType::FunctionUrl, "square", Change::Unchanged),
        ]);
        assert!(!r.is_noop());
        assert_eq!(r.uploaded(), ["square", "image-generator"]);
        let text = r.to_string();
        assert!(
            text.contains("function    square              updated: code, memory"),
            "{text}"
        );
        assert!(
            text.contains("function    old                 removed"),
            "{text}"
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(
            json["changes"][1],
            serde_json::json!({"resource": "function", "name": "square", "change": "updated", "what": ["code", "memory"]})
        );
        assert_eq!(json["changes"][0]["change"], "created");
    }

    #[test]
    fn references_resolve_from_what_was_deployed() {
        let resolved = Resolved {
            queues: BTreeMap::from([(
                "jobs".to_owned(),
                (
                    "http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/jobs"
                        .to_owned(),
                    "arn:aws:sqs:us-east-1:000000000000:jobs".to_owned(),
                ),
            )]),
            buckets: BTreeMap::from([("images".to_owned(), "lsk-images".to_owned())]),
            region: "us-east-1".into(),
        };
        let resolve = |text: &str| {
            EnvValue::parse(text)
                .unwrap()
                .resolve(&|r| resolved.lookup(r))
        };
        assert_eq!(resolve("${bucket.images.name}").unwrap(), "lsk-images");
        assert_eq!(
            resolve("${bucket.images.arn}").unwrap(),
            "arn:aws:s3:::lsk-images"
        );
        assert_eq!(
            resolve("${queue.jobs.url}").unwrap(),
            "http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/jobs"
        );
        assert_eq!(
            resolve("${queue.jobs.arn}").unwrap(),
            "arn:aws:sqs:us-east-1:000000000000:jobs"
        );
        assert_eq!(
            resolve("${function.square.arn}").unwrap(),
            "arn:aws:lambda:us-east-1:000000000000:function:square"
        );
        let err = resolve("${queue.missing.url}").unwrap_err();
        assert!(
            err.to_string().contains("queue missing was not deployed"),
            "{err}"
        );
    }

    #[test]
    fn desired_function_from_the_example_manifest() {
        let m = Manifest::parse(include_str!("../../../lsk.toml"), Path::new("lsk.toml")).unwrap();
        let pkg = crate::package::zip_bootstrap(b"binary").unwrap();
        let resolved = Resolved {
            buckets: BTreeMap::from([("images".to_owned(), "lsk-images".to_owned())]),
            region: "us-east-1".into(),
            ..Resolved::default()
        };
        let d = desired_function(&m.functions["image-generator"], &pkg, &resolved, "main").unwrap();
        assert_eq!(d.environment["IMAGES_BUCKET"], "lsk-images");
        assert_eq!(d.environment["MODEL_CLIENT"], "stub");
        assert_eq!((d.memory, d.timeout), (256, 30));
        assert_eq!(d.code_sha256, pkg.sha256);
        assert_eq!(d.tags[plan::TAG_PROJECT], "main");
        assert_eq!(d.role, "arn:aws:iam::000000000000:role/lambda-role");
    }
}
