//! Deploying s3 triggers: the deploy half of the kind; its manifest half (types,
//! validation) is `lsk_manifest::kinds::s3_trigger`, re-exported here.

pub use lsk_manifest::kinds::s3_trigger::*;

use std::collections::BTreeSet;

use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, LambdaFunctionConfiguration, NotificationConfiguration,
    NotificationConfigurationFilter, S3KeyFilter,
};

use crate::aws::{self, AwsError, Clients};
use crate::kinds::bucket::Bucket;
use crate::kinds::function::Function;
use crate::kinds::permission::{self, Invoker};
use crate::manifest::Manifest;
use crate::{Change, DeployError, Resolved, aws_error};

/// Id prefix of the bucket notification entries lsk owns.
pub const CONFIG_PREFIX: &str = "lsk-";
/// Statement id prefix of the permissions that let S3 invoke a function.
pub const PERMISSION_PREFIX: &str = "lsk-s3-";
/// How s3 invokes functions, for their resource policies.
const INVOKER: Invoker = Invoker {
    prefix: PERMISSION_PREFIX,
    principal: "s3.amazonaws.com",
    kind: "s3",
};

/// One notification entry, as wanted or as found, in a form that compares equal when S3 would
/// behave the same.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Notification {
    pub id: String,
    pub function_arn: String,
    pub events: BTreeSet<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

/// The entries lsk wants on the bucket with key `bucket`: one per trigger naming it.
pub fn desired_notifications(manifest: &Manifest, bucket: &str, region: &str) -> Vec<Notification> {
    let mut out = Vec::new();
    for f in manifest.functions.values() {
        for (i, t) in f.s3.iter().enumerate().filter(|(_, t)| t.bucket == bucket) {
            out.push(Notification {
                id: format!("{CONFIG_PREFIX}{}-{i}", f.name),
                function_arn: aws::function_arn(region, &f.name),
                events: t.events.iter().cloned().collect(),
                prefix: t.prefix.clone(),
                suffix: t.suffix.clone(),
            });
        }
    }
    out.sort();
    out
}

/// What to do with a bucket's lsk entries: each entry's change, and whether the configuration
/// must be written.
pub fn plan_notifications(
    desired: &[Notification],
    observed: &[Notification],
) -> (Vec<(String, Change)>, bool) {
    let mut changes = Vec::new();
    for d in desired {
        let change = match observed.iter().find(|o| o.id == d.id) {
            None => Change::Created,
            Some(o) if o == d => Change::Unchanged,
            Some(o) => {
                let mut what = Vec::new();
                if o.function_arn != d.function_arn {
                    what.push("function".to_owned());
                }
                if o.events != d.events {
                    what.push("events".to_owned());
                }
                if o.prefix != d.prefix || o.suffix != d.suffix {
                    what.push("filter".to_owned());
                }
                Change::Updated(what)
            }
        };
        changes.push((d.id.clone(), change));
    }
    for o in observed {
        if !desired.iter().any(|d| d.id == o.id) {
            changes.push((o.id.clone(), Change::Removed));
        }
    }
    let write = changes.iter().any(|(_, c)| *c != Change::Unchanged);
    (changes, write)
}

fn from_sdk(c: &LambdaFunctionConfiguration) -> Notification {
    let rules = c
        .filter()
        .and_then(|f| f.key())
        .map(|k| k.filter_rules())
        .unwrap_or_default();
    let rule = |name: &str| {
        rules
            .iter()
            .find(|r| {
                r.name()
                    .is_some_and(|n| n.as_str().eq_ignore_ascii_case(name))
            })
            .and_then(|r| r.value())
            .map(str::to_owned)
    };
    Notification {
        id: c.id().unwrap_or_default().to_owned(),
        function_arn: c.lambda_function_arn().to_owned(),
        events: c.events().iter().map(|e| e.as_str().to_owned()).collect(),
        prefix: rule("prefix"),
        suffix: rule("suffix"),
    }
}

fn to_sdk(n: &Notification, bucket: &str) -> Result<LambdaFunctionConfiguration, DeployError> {
    let mut rules = Vec::new();
    for (name, value) in [
        (FilterRuleName::Prefix, &n.prefix),
        (FilterRuleName::Suffix, &n.suffix),
    ] {
        if let Some(v) = value {
            rules.push(FilterRule::builder().name(name).value(v).build());
        }
    }
    let filter = (!rules.is_empty()).then(|| {
        NotificationConfigurationFilter::builder()
            .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
            .build()
    });
    LambdaFunctionConfiguration::builder()
        .id(&n.id)
        .lambda_function_arn(&n.function_arn)
        .set_events(Some(
            n.events.iter().map(|e| Event::from(e.as_str())).collect(),
        ))
        .set_filter(filter)
        .build()
        .map_err(|e| AwsError::request("PutBucketNotificationConfiguration", bucket, e).into())
}

/// The bucket's notification configuration; `None` when the bucket does not exist.
pub async fn observe(
    clients: &Clients,
    bucket: &str,
) -> Result<Option<NotificationConfiguration>, DeployError> {
    match clients
        .s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(out) => Ok(Some(
            NotificationConfiguration::builder()
                .set_lambda_function_configurations(Some(
                    out.lambda_function_configurations().to_vec(),
                ))
                .set_queue_configurations(Some(out.queue_configurations().to_vec()))
                .set_topic_configurations(Some(out.topic_configurations().to_vec()))
                .set_event_bridge_configuration(out.event_bridge_configuration().cloned())
                .build(),
        )),
        Err(e) if e.as_service_error().and_then(|se| se.code()) == Some("NoSuchBucket") => Ok(None),
        Err(e) => Err(aws_error("GetBucketNotificationConfiguration", bucket, e)),
    }
}

/// The lsk entries of a bucket's configuration.
pub fn owned(config: &NotificationConfiguration) -> Vec<Notification> {
    let mut out: Vec<Notification> = config
        .lambda_function_configurations()
        .iter()
        .filter(|c| c.id().is_some_and(|id| id.starts_with(CONFIG_PREFIX)))
        .map(from_sdk)
        .collect();
    out.sort();
    out
}

/// Brings every bucket's lsk entries to the manifest's triggers. Runs after the functions are
/// deployed (S3 checks that the destination exists) and before functions are pruned.
pub async fn reconcile(
    clients: &Clients,
    manifest: &Manifest,
    resolved: &Resolved,
) -> Result<Vec<(String, Change)>, DeployError> {
    let mut report = Vec::new();
    for b in manifest.buckets.values() {
        let desired = desired_notifications(manifest, &b.key, &resolved.region);
        let Some(config) = observe(clients, &b.name).await? else {
            continue;
        };
        let observed = owned(&config);
        let (changes, write) = plan_notifications(&desired, &observed);
        if write {
            let mut lambdas: Vec<LambdaFunctionConfiguration> = config
                .lambda_function_configurations()
                .iter()
                .filter(|c| !c.id().is_some_and(|id| id.starts_with(CONFIG_PREFIX)))
                .cloned()
                .collect();
            for d in &desired {
                lambdas.push(to_sdk(d, &b.name)?);
            }
            let new = NotificationConfiguration::builder()
                .set_lambda_function_configurations(Some(lambdas))
                .set_queue_configurations(Some(config.queue_configurations().to_vec()))
                .set_topic_configurations(Some(config.topic_configurations().to_vec()))
                .set_event_bridge_configuration(config.event_bridge_configuration().cloned())
                .build();
            clients
                .s3
                .put_bucket_notification_configuration()
                .bucket(&b.name)
                .notification_configuration(new)
                .send()
                .await
                .map_err(|e| aws_error("PutBucketNotificationConfiguration", &b.name, e))?;
        }
        for (id, change) in changes {
            report.push((label(b, &id), change));
        }
    }
    Ok(report)
}

/// `bucket -> function` for a report line, from an entry id `lsk-<function>-<n>`.
fn label(b: &Bucket, id: &str) -> String {
    let function = id
        .strip_prefix(CONFIG_PREFIX)
        .and_then(|rest| rest.rsplit_once('-'))
        .map_or(id, |(f, _)| f);
    format!("{} -> {function}", b.name)
}

/// The statement id that lets S3 invoke a function from `bucket` (its S3 name).
pub fn permission_id(bucket: &str) -> String {
    format!("{PERMISSION_PREFIX}{bucket}")
}

/// Gives S3 the right to invoke `f` from each bucket it has a trigger on, and takes it back from
/// buckets it no longer has one on.
pub async fn reconcile_permissions(
    clients: &Clients,
    f: &Function,
    resolved: &Resolved,
) -> Result<Vec<(String, Change)>, DeployError> {
    let buckets: BTreeSet<String> =
        f.s3.iter()
            .filter_map(|t| resolved.buckets.get(&t.bucket).cloned())
            .collect();
    let sources: Vec<(String, String)> = buckets
        .into_iter()
        .map(|b| {
            let arn = aws::bucket_arn(&b);
            (b, arn)
        })
        .collect();
    permission::reconcile_function(clients, &f.name, INVOKER, &sources).await
}

/// A key that matches the trigger's filters, for the printed upload line.
pub fn example_key(t: &S3Trigger) -> String {
    format!(
        "{}hello-from-lsk{}",
        t.prefix.as_deref().unwrap_or(""),
        t.suffix.as_deref().unwrap_or(".txt")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(id: &str, events: &[&str], prefix: Option<&str>) -> Notification {
        Notification {
            id: id.into(),
            function_arn: "arn:aws:lambda:us-east-1:000000000000:function:labeller".into(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            prefix: prefix.map(str::to_owned),
            suffix: None,
        }
    }

    #[test]
    fn notifications_are_created_kept_updated_and_removed() {
        let want = [n(
            "lsk-labeller-0",
            &["s3:ObjectCreated:*"],
            Some("uploads/"),
        )];
        assert_eq!(
            plan_notifications(&want, &[]),
            (vec![("lsk-labeller-0".into(), Change::Created)], true)
        );
        assert_eq!(
            plan_notifications(&want, &want),
            (vec![("lsk-labeller-0".into(), Change::Unchanged)], false)
        );
        let other_prefix = [n("lsk-labeller-0", &["s3:ObjectCreated:*"], Some("in/"))];
        assert_eq!(
            plan_notifications(&want, &other_prefix).0,
            [(
                "lsk-labeller-0".to_owned(),
                Change::Updated(vec!["filter".into()])
            )]
        );
        let (changes, write) = plan_notifications(&[], &want);
        assert_eq!(changes, [("lsk-labeller-0".to_owned(), Change::Removed)]);
        assert!(write);
    }

    #[test]
    fn the_example_key_matches_the_filters() {
        let t = S3Trigger {
            bucket: "b".into(),
            events: vec![],
            prefix: Some("uploads/".into()),
            suffix: Some(".png".into()),
        };
        assert_eq!(example_key(&t), "uploads/hello-from-lsk.png");
    }
}
