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

mod reconcile;
pub use reconcile::*;

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

/// Everything a deploy did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DeployReport {
    pub changes: Vec<ResourceChange>,
}

impl DeployReport {
    /// Adds one line to the report.
    pub fn push(&mut self, resource: ResourceType, name: impl Into<String>, change: Change) {
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
mod tests;
