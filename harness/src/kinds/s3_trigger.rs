//! S3 triggers: `[[functions.<name>.s3]]`, a bucket notification that invokes the function when
//! objects matching the events and the prefix/suffix filters change, with the Lambda permission
//! AWS needs for S3 to invoke it.
//!
//! A bucket has one notification configuration, shared by everything that listens to it: lsk
//! owns the Lambda entries whose id starts with `lsk-` and leaves the others alone. A trigger the
//! manifest no longer lists is removed from the bucket at the next deploy, and so is its
//! permission.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_s3::types::{
    Event, FilterRule, FilterRuleName, LambdaFunctionConfiguration, NotificationConfiguration,
    NotificationConfigurationFilter, S3KeyFilter,
};
use serde::{Deserialize, Serialize};

use crate::aws::{self, AwsError, Clients};
use crate::deploy::{Change, DeployError, Resolved, aws_error};
use crate::kinds::bucket::Bucket;
use crate::kinds::function::Function;
use crate::kinds::permission::{self, Invoker};
use crate::manifest::spans::{Collector, Seg, key, keys, render_path, with};
use crate::manifest::{Declared, Manifest};

/// What a trigger listens to when `events` is left out.
pub const DEFAULT_EVENTS: &[&str] = &["s3:ObjectCreated:*"];
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

/// The event types S3 sends to Lambda.
const S3_EVENTS: &[&str] = &[
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:ObjectRestore:*",
    "s3:ObjectRestore:Post",
    "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete",
    "s3:ObjectTagging:*",
    "s3:ObjectTagging:Put",
    "s3:ObjectTagging:Delete",
    "s3:ObjectAcl:Put",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    "s3:LifecycleTransition",
    "s3:IntelligentTiering",
    "s3:ReducedRedundancyLostObject",
    "s3:Replication:*",
];

/// An S3 trigger of a function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct S3Trigger {
    /// The bucket's key in the manifest.
    pub bucket: String,
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawS3Trigger {
    bucket: String,
    #[serde(default)]
    events: Option<Vec<String>>,
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    suffix: Option<String>,
}

/// Checks a function's `s3` triggers: declared buckets, known event types, non-empty filters.
pub(crate) fn validate(
    c: &mut Collector<'_, '_>,
    base: &[Seg],
    raw: Vec<RawS3Trigger>,
    known: &Declared,
) -> Vec<S3Trigger> {
    let mut out = Vec::new();
    for (i, t) in raw.into_iter().enumerate() {
        let at = with(base, &[key("s3"), Seg::Index(i)]);
        if !known.buckets.contains(&t.bucket) {
            c.at(
                &with(&at, &[key("bucket")]),
                format!(
                    "bucket `{}` is not declared; add [buckets.{}] (a trigger names the bucket's key, not its S3 name)",
                    t.bucket,
                    render_path(&[key(&t.bucket)])
                ),
            );
        }
        let events = match t.events {
            None => DEFAULT_EVENTS.iter().map(|e| (*e).to_owned()).collect(),
            Some(events) => {
                if events.is_empty() {
                    c.at(
                        &with(&at, &[key("events")]),
                        format!(
                            "events must not be empty; leave it out for {DEFAULT_EVENTS:?} or name some, e.g. [\"s3:ObjectCreated:*\"]"
                        ),
                    );
                }
                for e in &events {
                    if !S3_EVENTS.contains(&e.as_str()) {
                        c.at(
                            &with(&at, &[key("events")]),
                            format!(
                                "{e:?} is not an S3 event type; use one of {}",
                                S3_EVENTS.join(", ")
                            ),
                        );
                    }
                }
                events
            }
        };
        for (what, value) in [("prefix", &t.prefix), ("suffix", &t.suffix)] {
            if value.as_deref() == Some("") {
                c.at(
                    &with(&at, &[key(what)]),
                    format!("{what} must not be empty; leave it out to match every key"),
                );
            }
        }
        out.push(S3Trigger {
            bucket: t.bucket,
            events,
            prefix: t.prefix,
            suffix: t.suffix,
        });
    }
    out
}

/// S3 refuses a bucket configuration where two entries could fire for the same object and event:
/// one's prefix starts the other's and one's suffix ends the other's, with an event in common.
pub(crate) fn validate_overlaps(c: &mut Collector<'_, '_>, functions: &BTreeMap<String, Function>) {
    let all: Vec<(&Function, usize, &S3Trigger)> = functions
        .values()
        .flat_map(|f| f.s3.iter().enumerate().map(move |(i, t)| (f, i, t)))
        .collect();
    for (n, (f, i, t)) in all.iter().enumerate() {
        for (g, j, u) in &all[..n] {
            if t.bucket == u.bucket && overlaps(t, u) {
                c.at(
                    &keys(&["functions", &f.name, "s3"])
                        .into_iter()
                        .chain([Seg::Index(*i)])
                        .collect::<Vec<_>>(),
                    format!(
                        "overlaps functions.{}.s3[{j}] on bucket `{}`: S3 refuses two notifications that match the same key and event; give them different prefixes or suffixes",
                        render_path(&[key(&g.name)]),
                        t.bucket
                    ),
                );
            }
        }
    }
}

fn event_family(e: &str) -> &str {
    e.rsplit_once(':').map_or(e, |(family, _)| family)
}

fn overlaps(a: &S3Trigger, b: &S3Trigger) -> bool {
    let events_meet = a.events.iter().any(|x| {
        b.events.iter().any(|y| {
            x == y
                || (event_family(x) == event_family(y) && (x.ends_with(":*") || y.ends_with(":*")))
        })
    });
    let nested = |x: &Option<String>, y: &Option<String>, f: fn(&str, &str) -> bool| {
        let (x, y) = (x.as_deref().unwrap_or(""), y.as_deref().unwrap_or(""));
        f(x, y) || f(y, x)
    };
    events_meet
        && nested(&a.prefix, &b.prefix, |x, y| x.starts_with(y))
        && nested(&a.suffix, &b.suffix, |x, y| x.ends_with(y))
}

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
pub(crate) async fn observe(
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
pub(crate) async fn reconcile(
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
pub(crate) async fn reconcile_permissions(
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
    fn overlapping_filters_are_found() {
        let t = |events: &[&str], prefix: Option<&str>, suffix: Option<&str>| S3Trigger {
            bucket: "b".into(),
            events: events.iter().map(|e| (*e).to_owned()).collect(),
            prefix: prefix.map(str::to_owned),
            suffix: suffix.map(str::to_owned),
        };
        let all = ["s3:ObjectCreated:*"];
        assert!(overlaps(
            &t(&all, Some("uploads/"), None),
            &t(&all, Some("uploads/png/"), None)
        ));
        assert!(!overlaps(
            &t(&all, Some("uploads/"), None),
            &t(&all, Some("labels/"), None)
        ));
        assert!(!overlaps(
            &t(&all, None, Some(".png")),
            &t(&all, None, Some(".jpg"))
        ));
        assert!(overlaps(
            &t(&all, None, None),
            &t(&["s3:ObjectCreated:Put"], Some("x/"), None)
        ));
        assert!(!overlaps(
            &t(&all, None, None),
            &t(&["s3:ObjectRemoved:*"], None, None)
        ));
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
