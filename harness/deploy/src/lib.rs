//! Idempotent create-or-update of a whole stack, in dependency order:
//!
//! 1. buckets and queues (dead-letter queues first);
//! 2. topics and REST APIs themselves, so functions can refer to their ARN and URL;
//! 3. functions (code uploaded only when its SHA-256 differs), each with its URL, S3 permissions
//!    and SQS event source mappings;
//! 4. what points at functions: S3 triggers, topic subscriptions, rules, API routes and stages,
//!    each with the Lambda permission its service needs, then state machines;
//! 5. pruning.
//!
//! The manifest is the truth: functions, topics, rules, APIs and state machines that lsk
//! deployed for this project and that the manifest no longer lists are removed (unless pruning is
//! turned off), and so are mappings, triggers, subscriptions, targets and routes it no longer
//! lists. Queues and buckets are never deleted, since they hold data.
//!
//! This module orders the kinds and reports what changed; each kind's observe, plan and
//! reconcile live in its module under [`crate::kinds`], the plans as pure functions.

pub mod kinds;
pub mod output;

use lsk_aws as aws;
use lsk_build::package;
use lsk_kit::progress;
use lsk_manifest as manifest;

pub use crate::kinds::function::use_hot_reload_code;
pub use crate::kinds::function::{HOT_RELOAD_BUCKET, HOT_RELOAD_SHA256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use serde::Serialize;

use crate::aws::{AwsError, Clients};
use crate::kinds::{
    api, bucket, function, queue, rule, s3_trigger, sqs_trigger, state_machine, topic, url,
};
use crate::manifest::{Function, Manifest, RefAttr, RefKind, Reference, UnresolvedRef};
use crate::package::Package;
use crate::progress::Progress;

pub use crate::kinds::function::FUNCTION_WAIT;
pub use crate::kinds::function::desired_function;
pub use crate::kinds::sqs_trigger::MAPPING_WAIT;

/// What can go wrong deploying.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error(transparent)]
    Aws(#[from] AwsError),
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
    #[error("state_machines.{state_machine}.definition: {source}")]
    UnresolvedDefinition {
        state_machine: String,
        #[source]
        source: UnresolvedRef,
    },
    #[error("no package was built for function {0}")]
    MissingPackage(String),
}

impl DeployError {
    pub fn hint(&self) -> Option<String> {
        match self {
            DeployError::Aws(e) => e.hint(),
            DeployError::FunctionFailed { name, .. } => Some(format!(
                "`lsk logs {name}` shows the function's output; the LocalStack log may say more"
            )),
            _ => None,
        }
    }
}

impl miette::Diagnostic for DeployError {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.hint()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display + 'a>)
    }
}

/// Turns an SDK error into a [`DeployError::Aws`] naming the call and the resource.
pub(crate) fn aws_error<E, R>(
    operation: &str,
    resource: &str,
    err: aws_sdk_lambda::error::SdkError<E, R>,
) -> DeployError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    DeployError::Aws(AwsError::sdk(operation, resource, err))
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
    S3Notification,
    Topic,
    Subscription,
    Rule,
    Bus,
    Target,
    Api,
    Route,
    StateMachine,
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
            ResourceType::S3Notification => "s3 trigger",
            ResourceType::Topic => "topic",
            ResourceType::Subscription => "subscription",
            ResourceType::Rule => "rule",
            ResourceType::Bus => "bus",
            ResourceType::Target => "target",
            ResourceType::Api => "api",
            ResourceType::Route => "route",
            ResourceType::StateMachine => "state machine",
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
                "  {:<13} {:<width$}  {change}",
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
    /// The services LocalStack offers: a kind whose service is not there has nothing to prune
    /// (and asking would fail).
    pub offered: BTreeSet<String>,
}

/// Where deployed queues and buckets are, for references and handles.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// queue name -> (url, arn)
    pub queues: BTreeMap<String, (String, String)>,
    /// bucket key -> S3 name
    pub buckets: BTreeMap<String, String>,
    /// topic name -> ARN
    pub topics: BTreeMap<String, String>,
    /// API name -> (id, offline stage URL)
    pub apis: BTreeMap<String, (String, String)>,
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
            (RefKind::Topic, RefAttr::Name) => self.topic(&r.name).map(|_| r.name.clone()),
            (RefKind::Topic, RefAttr::Arn) => self.topic(&r.name),
            (RefKind::Api, RefAttr::Id) => self.api(&r.name).map(|(id, _)| id),
            (RefKind::Api, RefAttr::Url) => self.api(&r.name).map(|(_, url)| url),
            (RefKind::StateMachine, RefAttr::Name) => Ok(r.name.clone()),
            (RefKind::StateMachine, RefAttr::Arn) => {
                Ok(aws::state_machine_arn(&self.region, &r.name))
            }
            (kind, attr) => Err(format!("a {} has no {}", kind.word(), attr.word())),
        }
    }

    fn bucket(&self, key: &str) -> Result<String, String> {
        self.buckets
            .get(key)
            .cloned()
            .ok_or_else(|| format!("bucket {key} was not deployed"))
    }

    fn topic(&self, name: &str) -> Result<String, String> {
        self.topics
            .get(name)
            .cloned()
            .ok_or_else(|| format!("topic {name} was not deployed"))
    }

    fn api(&self, name: &str) -> Result<(String, String), String> {
        self.apis
            .get(name)
            .cloned()
            .ok_or_else(|| format!("api {name} was not deployed"))
    }

    fn queue(&self, name: &str) -> Result<(String, String), String> {
        self.queues
            .get(name)
            .cloned()
            .ok_or_else(|| format!("queue {name} was not deployed"))
    }
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

    // What functions refer to: buckets, queues, topics and APIs. The four groups are
    // independent, and the first request to a service loads it in LocalStack (API Gateway
    // takes about a second), so they go at once.
    let buckets = async {
        let mut out = Vec::new();
        for bucket in manifest.buckets.values() {
            phase.update(&format!("bucket {}", bucket.name));
            out.push((bucket, bucket::ensure_bucket(clients, &bucket.name).await?));
        }
        Ok::<_, DeployError>(out)
    };
    let queues = async {
        let mut out: Vec<(&str, Change, String, String)> = Vec::new();
        for queue in manifest.queues_in_deploy_order() {
            phase.update(&format!("queue {}", queue.name));
            let dlq_arn = queue.dead_letter.as_ref().and_then(|dl| {
                out.iter()
                    .find(|(name, ..)| *name == dl.queue)
                    .map(|(.., arn)| arn.clone())
            });
            let (change, url, arn) =
                queue::ensure_queue(clients, queue, dlq_arn.as_deref()).await?;
            out.push((&queue.name, change, url, arn));
        }
        Ok::<_, DeployError>(out)
    };
    let topics = async {
        let mut out = Vec::new();
        for topic in manifest.topics.values() {
            phase.update(&format!("topic {}", topic.name));
            out.push((
                topic,
                topic::ensure_topic(clients, topic, &opts.project).await?,
            ));
        }
        Ok::<_, DeployError>(out)
    };
    let apis = async {
        let mut out = Vec::new();
        for a in manifest.apis.values() {
            phase.update(&format!("api {}", a.name));
            out.push((a, api::ensure_api(clients, a, &opts.project).await?));
        }
        Ok::<_, DeployError>(out)
    };
    let (buckets, queues, topics, apis) = futures::try_join!(buckets, queues, topics, apis)?;
    for (bucket, change) in buckets {
        report.push(
            ResourceType::Bucket,
            format!("{} ({})", bucket.key, bucket.name),
            change,
        );
        resolved
            .buckets
            .insert(bucket.key.clone(), bucket.name.clone());
    }
    for (name, change, url, arn) in queues {
        report.push(ResourceType::Queue, name, change);
        resolved.queues.insert(name.to_owned(), (url, arn));
    }
    for (topic, (change, arn)) in topics {
        report.push(ResourceType::Topic, &topic.name, change);
        resolved.topics.insert(topic.name.clone(), arn);
    }
    for (a, (change, id)) in apis {
        report.push(ResourceType::Api, &a.name, change);
        let url = api::offline_url(&id, clients.port, &a.stage);
        resolved.apis.insert(a.name.clone(), (id, url));
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

    // Bucket notifications check that their functions exist, and go before a pruned function.
    // What points at functions. Permissions first, one kind after the other (they edit the
    // same functions' policies); then the kinds themselves at once, since they are independent.
    let pruning = |service: &str| opts.prune && opts.offered.contains(service);
    let sns = !manifest.topics.is_empty() || pruning("sns");
    let events = !manifest.rules.is_empty() || pruning("events");
    let apigateway = !manifest.apis.is_empty() || pruning("apigateway");
    phase.update("permissions");
    if sns {
        for (name, change) in
            topic::reconcile_permissions(clients, manifest, &resolved.region).await?
        {
            report.push(ResourceType::Permission, name, change);
        }
    }
    if events {
        for (name, change) in
            rule::reconcile_permissions(clients, manifest, &resolved.region).await?
        {
            report.push(ResourceType::Permission, name, change);
        }
    }
    if apigateway {
        for (name, change) in api::reconcile_permissions(clients, manifest, &resolved).await? {
            report.push(ResourceType::Permission, name, change);
        }
    }
    phase.update("triggers, subscriptions, rules, routes, state machines");
    fn none<T>() -> Result<Vec<T>, DeployError> {
        Ok(Vec::new())
    }
    // Bucket notifications check that their functions exist, and go before a pruned function.
    let s3 = s3_trigger::reconcile(clients, manifest, &resolved);
    let subscriptions = async {
        if sns {
            topic::reconcile_subscriptions(clients, manifest, &resolved).await
        } else {
            none()
        }
    };
    let rules = async {
        if events {
            rule::reconcile(clients, manifest, &opts.project).await
        } else {
            none()
        }
    };
    let routes = async {
        if apigateway {
            api::reconcile_routes(clients, manifest, &resolved).await
        } else {
            none()
        }
    };
    let machines = async {
        if manifest.state_machines.is_empty() {
            none()
        } else {
            state_machine::reconcile(clients, manifest, &resolved, &opts.project).await
        }
    };
    let (s3, subscriptions, rules, routes, machines) =
        futures::try_join!(s3, subscriptions, rules, routes, machines)?;
    for (name, change) in s3 {
        report.push(ResourceType::S3Notification, name, change);
    }
    for (name, change) in subscriptions {
        report.push(ResourceType::Subscription, name, change);
    }
    for (resource, name, change) in rules {
        report.push(resource, name, change);
    }
    for (name, change) in routes {
        report.push(ResourceType::Route, name, change);
    }
    for (name, change) in machines {
        report.push(ResourceType::StateMachine, name, change);
    }

    if opts.prune {
        phase.update("removing what is no longer in the manifest");
        // Whatever invokes a function goes before the function.
        if pruning("stepfunctions") {
            for name in state_machine::prune(clients, manifest, &opts.project).await? {
                report.push(ResourceType::StateMachine, name, Change::Removed);
            }
        }
        if pruning("apigateway") {
            for name in api::prune(clients, manifest, &opts.project).await? {
                report.push(ResourceType::Api, name, Change::Removed);
            }
        }
        if pruning("events") {
            for (resource, name) in rule::prune(clients, manifest, &opts.project).await? {
                report.push(resource, name, Change::Removed);
            }
        }
        if pruning("sns") {
            for name in topic::prune(clients, manifest, &opts.project).await? {
                report.push(ResourceType::Topic, name, Change::Removed);
            }
        }
        let in_manifest: BTreeSet<String> = manifest.functions.keys().cloned().collect();
        for (resource, name) in function::prune(clients, &in_manifest, &opts.project).await? {
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
    let change = function::ensure_function(clients, &desired, package).await?;
    changes.push((ResourceType::Function, f.name.clone(), change));

    phase.update(&format!("function URL {}", f.name));
    let (url_change, perm_change) = url::ensure_url(clients, f).await?;
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

    phase.update(&format!("S3 permissions {}", f.name));
    for (name, change) in s3_trigger::reconcile_permissions(clients, f, resolved).await? {
        changes.push((ResourceType::Permission, name, change));
    }

    phase.update(&format!("SQS mappings {}", f.name));
    for (name, change) in sqs_trigger::reconcile(clients, f, resolved).await? {
        changes.push((ResourceType::EventSourceMapping, name, change));
    }
    Ok(changes)
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
            text.contains("function      square              updated: code, memory"),
            "{text}"
        );
        assert!(
            text.contains("function      old                 removed"),
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
            topics: BTreeMap::from([(
                "ready".to_owned(),
                "arn:aws:sns:us-east-1:000000000000:ready".to_owned(),
            )]),
            apis: BTreeMap::from([(
                "shop".to_owned(),
                (
                    "a1b2c3".to_owned(),
                    "http://a1b2c3.execute-api.localhost:4566/Prod".to_owned(),
                ),
            )]),
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
        assert_eq!(
            resolve("${topic.ready.arn}").unwrap(),
            "arn:aws:sns:us-east-1:000000000000:ready"
        );
        assert_eq!(
            resolve("${api.shop.url}/change").unwrap(),
            "http://a1b2c3.execute-api.localhost:4566/Prod/change"
        );
        assert_eq!(resolve("${api.shop.id}").unwrap(), "a1b2c3");
        assert_eq!(
            resolve("${state_machine.flow.arn}").unwrap(),
            "arn:aws:states:us-east-1:000000000000:stateMachine:flow"
        );
        let err = resolve("${queue.missing.url}").unwrap_err();
        assert!(
            err.to_string().contains("queue missing was not deployed"),
            "{err}"
        );
    }

    #[test]
    fn desired_function_from_the_example_manifest() {
        let m = Manifest::parse(
            include_str!("../../../lsk.toml"),
            Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../lsk.toml")),
        )
        .unwrap();
        let pkg = crate::package::zip_bootstrap(b"binary").unwrap();
        let resolved = Resolved {
            buckets: BTreeMap::from([("images".to_owned(), "lsk-images".to_owned())]),
            topics: BTreeMap::from([(
                "image-ready".to_owned(),
                aws::topic_arn("us-east-1", "image-ready"),
            )]),
            region: "us-east-1".into(),
            ..Resolved::default()
        };
        let d = desired_function(&m.functions["image-generator"], &pkg, &resolved, "main").unwrap();
        assert_eq!(d.environment["IMAGES_BUCKET"], "lsk-images");
        assert_eq!(d.environment["MODEL_CLIENT"], "stub");
        assert_eq!(
            d.environment["IMAGE_READY_TOPIC_ARN"],
            "arn:aws:sns:us-east-1:000000000000:image-ready"
        );
        assert_eq!((d.memory, d.timeout), (256, 30));
        assert_eq!(d.code_sha256, pkg.sha256);
        assert_eq!(d.tags[function::TAG_PROJECT], "main");
        assert_eq!(d.role, "arn:aws:iam::000000000000:role/lambda-role");
    }
}
