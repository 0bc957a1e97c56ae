//! SNS topics: `[topics.<name>]` with `[[topics.<name>.subscriptions]]` to functions and queues,
//! each with an optional filter policy and, for queues, raw message delivery.
//!
//! A topic is created before the functions, so `${topic.<name>.arn}` resolves in their
//! environment; its subscriptions are reconciled after them, with the Lambda permission SNS needs.
//! The manifest is the truth for the topics it declares: a function or queue subscription it no
//! longer lists is removed, and a topic lsk created for this project that the manifest no longer
//! lists is deleted (topics hold no messages).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use crate::Declared;
use crate::kinds::{RawTarget, Target, json_document};
use crate::spans::{Collector, Seg, key, keys, with};

/// The manifest section of this kind.
pub(crate) const SECTION: &str = "topics";

/// A validated topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Topic {
    pub name: String,
    pub subscriptions: Vec<Subscription>,
    /// Example message for the printed `awslocal sns publish` line.
    pub example: Option<String>,
}

/// Whether a filter policy looks at message attributes (SNS's default) or the message body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum FilterScope {
    MessageAttributes,
    MessageBody,
}

impl FilterScope {
    pub fn as_str(self) -> &'static str {
        match self {
            FilterScope::MessageAttributes => "MessageAttributes",
            FilterScope::MessageBody => "MessageBody",
        }
    }
}

/// One subscription of a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subscription {
    pub target: Target,
    /// Raw message delivery (queues only): the queue gets the message itself, not SNS's JSON
    /// envelope.
    pub raw: bool,
    pub filter_policy: Option<serde_json::Value>,
    pub filter_scope: FilterScope,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopic {
    #[serde(default)]
    subscriptions: Vec<RawSubscription>,
    #[serde(default)]
    example: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSubscription {
    #[serde(default)]
    function: Option<String>,
    #[serde(default)]
    queue: Option<String>,
    #[serde(default)]
    raw: Option<bool>,
    #[serde(default)]
    filter_policy: Option<serde_json::Value>,
    #[serde(default)]
    filter_scope: Option<FilterScope>,
}

/// SNS topic names: 1-256 of letters, digits, hyphens and underscores.
pub fn check_topic_name(name: &str) -> Result<(), String> {
    if name.ends_with(".fifo") {
        return Err(format!(
            "{name:?} would be a FIFO topic, which lsk does not deploy yet; use a standard topic name"
        ));
    }
    if name.is_empty() || name.len() > 256 {
        return Err(format!(
            "topic name must be 1-256 characters, got {} ({name:?})",
            name.len()
        ));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        Some(bad) => Err(format!(
            "topic name {name:?} contains {bad:?}; use letters, digits, '-' and '_'"
        )),
        None => Ok(()),
    }
}

/// Checks `[topics.*]`.
pub(crate) fn validate_section(
    c: &mut Collector<'_, '_>,
    entries: &[(String, Spanned<DeValue<'_>>)],
    known: &Declared,
) -> BTreeMap<String, Topic> {
    let mut topics = BTreeMap::new();
    for (name, value) in entries {
        let base = keys(&[SECTION, name]);
        if let Err(e) = check_topic_name(name) {
            c.at(&base, e);
        }
        let Some(raw) = c.entry::<RawTopic>(&base, value) else {
            continue;
        };
        let mut subscriptions: Vec<Subscription> = Vec::new();
        for (i, s) in raw.subscriptions.into_iter().enumerate() {
            let at = with(&base, &[key("subscriptions"), Seg::Index(i)]);
            let target = RawTarget {
                function: s.function,
                queue: s.queue,
            }
            .validate(c, &at, known);
            let filter_policy = s.filter_policy.and_then(|p| {
                let doc =
                    json_document(c, &with(&at, &[key("filter_policy")]), p, "filter_policy")?;
                if doc.is_object() {
                    Some(doc)
                } else {
                    c.at(
                        &with(&at, &[key("filter_policy")]),
                        "filter_policy must be an object, e.g. { kind = [\"png\"] }",
                    );
                    None
                }
            });
            let Some(target) = target else { continue };
            let raw_delivery = s.raw.unwrap_or(false);
            if raw_delivery && matches!(target, Target::Function(_)) {
                c.at(
                    &with(&at, &[key("raw")]),
                    "raw message delivery is for queues; a function always gets the SNS event",
                );
            }
            if subscriptions.iter().any(|o| o.target == target) {
                c.at(
                    &at,
                    format!(
                        "{} is subscribed twice; SNS keeps one subscription per endpoint",
                        target.describe()
                    ),
                );
                continue;
            }
            subscriptions.push(Subscription {
                target,
                raw: raw_delivery,
                filter_policy,
                filter_scope: s.filter_scope.unwrap_or(FilterScope::MessageAttributes),
            });
        }
        if raw.example.as_deref() == Some("") {
            c.at(
                &with(&base, &[key("example")]),
                "example must not be empty: SNS refuses empty messages",
            );
        }
        topics.insert(
            name.clone(),
            Topic {
                name: name.clone(),
                subscriptions,
                example: raw.example,
            },
        );
    }
    topics
}
