//! S3 triggers: `[[functions.<name>.s3]]`, a bucket notification that invokes the function when
//! objects matching the events and the prefix/suffix filters change, with the Lambda permission
//! AWS needs for S3 to invoke it.
//!
//! A bucket has one notification configuration, shared by everything that listens to it: lsk
//! owns the Lambda entries whose id starts with `lsk-` and leaves the others alone. A trigger the
//! manifest no longer lists is removed from the bucket at the next deploy, and so is its
//! permission.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Declared;
use crate::kinds::function::Function;
use crate::spans::{Collector, Seg, key, keys, render_path, with};

/// What a trigger listens to when `events` is left out.
pub const DEFAULT_EVENTS: &[&str] = &["s3:ObjectCreated:*"];
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
