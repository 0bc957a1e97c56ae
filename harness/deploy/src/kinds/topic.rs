//! Deploying topics: the deploy half of the kind; its manifest half (types,
//! validation) is `lsk_manifest::kinds::topic`, re-exported here.

pub use lsk_manifest::kinds::topic::*;

use std::collections::HashMap;

use aws_sdk_sns::types::Tag;

use crate::aws::{self, AwsError, Clients};
use crate::kinds::Target;
use crate::kinds::function::{TAG_MANAGED, TAG_PROJECT};
use crate::kinds::permission::{self, Invoker};
use crate::manifest::Manifest;
use crate::{Change, DeployError, Resolved, aws_error};

/// Statement id prefix of the permissions that let SNS invoke a function.
pub const PERMISSION_PREFIX: &str = "lsk-sns-";
/// How topic invokes functions, for their resource policies.
const INVOKER: Invoker = Invoker {
    prefix: PERMISSION_PREFIX,
    principal: "sns.amazonaws.com",
    kind: "topic",
};

fn tags(project: &str) -> Result<Vec<Tag>, DeployError> {
    [(TAG_MANAGED, "lsk"), (TAG_PROJECT, project)]
        .into_iter()
        .map(|(k, v)| {
            Tag::builder()
                .key(k)
                .value(v)
                .build()
                .map_err(|e| AwsError::request("CreateTopic", k, e).into())
        })
        .collect()
}

/// Whether the topic exists.
async fn exists(clients: &Clients, arn: &str) -> Result<bool, DeployError> {
    match clients
        .sns
        .get_topic_attributes()
        .topic_arn(arn)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(aws_error("GetTopicAttributes", arn, e)),
    }
}

/// Creates the topic when it is missing; returns the change and its ARN.
pub async fn ensure_topic(
    clients: &Clients,
    topic: &Topic,
    project: &str,
) -> Result<(Change, String), DeployError> {
    let arn = aws::topic_arn(&clients.region, &topic.name);
    if exists(clients, &arn).await? {
        return Ok((Change::Unchanged, arn));
    }
    let out = clients
        .sns
        .create_topic()
        .name(&topic.name)
        .set_tags(Some(tags(project)?))
        .send()
        .await
        .map_err(|e| aws_error("CreateTopic", &topic.name, e))?;
    Ok((Change::Created, out.topic_arn().unwrap_or(&arn).to_owned()))
}

/// A subscription as wanted or as found, in a form that compares equal when SNS would deliver
/// the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionState {
    pub protocol: String,
    pub endpoint: String,
    pub raw: bool,
    pub filter_policy: Option<serde_json::Value>,
    pub filter_scope: String,
}

impl SubscriptionState {
    fn desired(s: &Subscription, region: &str) -> SubscriptionState {
        SubscriptionState {
            protocol: match s.target {
                Target::Function(_) => "lambda",
                Target::Queue(_) => "sqs",
            }
            .to_owned(),
            endpoint: s.target.arn(region),
            raw: s.raw,
            filter_policy: s.filter_policy.clone(),
            filter_scope: if s.filter_policy.is_some() {
                s.filter_scope.as_str().to_owned()
            } else {
                FilterScope::MessageAttributes.as_str().to_owned()
            },
        }
    }

    fn from_attributes(protocol: &str, endpoint: &str, attrs: &HashMap<String, String>) -> Self {
        let filter_policy = attrs
            .get("FilterPolicy")
            .filter(|p| !p.is_empty())
            .and_then(|p| serde_json::from_str(p).ok());
        SubscriptionState {
            protocol: protocol.to_owned(),
            endpoint: endpoint.to_owned(),
            raw: attrs.get("RawMessageDelivery").map(String::as_str) == Some("true"),
            filter_scope: match (&filter_policy, attrs.get("FilterPolicyScope")) {
                (Some(_), Some(scope)) => scope.clone(),
                _ => FilterScope::MessageAttributes.as_str().to_owned(),
            },
            filter_policy,
        }
    }

    fn attributes(&self) -> HashMap<String, String> {
        let mut attrs = HashMap::new();
        if self.raw {
            attrs.insert("RawMessageDelivery".to_owned(), "true".to_owned());
        }
        if let Some(p) = &self.filter_policy {
            attrs.insert("FilterPolicy".to_owned(), p.to_string());
            attrs.insert("FilterPolicyScope".to_owned(), self.filter_scope.clone());
        }
        attrs
    }

    /// What differs, in the report's words.
    fn differences(&self, other: &SubscriptionState) -> Vec<String> {
        let mut what = Vec::new();
        if self.raw != other.raw {
            what.push("raw delivery".to_owned());
        }
        if self.filter_policy != other.filter_policy || self.filter_scope != other.filter_scope {
            what.push("filter policy".to_owned());
        }
        what
    }
}

/// A subscription found on a topic, with its ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub arn: String,
    pub state: SubscriptionState,
}

/// What to do with a topic's function and queue subscriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionAction {
    Subscribe(SubscriptionState),
    Keep(String),
    /// Unsubscribe the old one and subscribe again: attributes such as a filter policy cannot
    /// always be taken back in place.
    Replace {
        old: String,
        new: SubscriptionState,
        what: Vec<String>,
    },
    Unsubscribe(Observed),
}

/// Plans a topic's subscriptions. Subscriptions of other protocols (email, http) are left alone.
pub fn plan_subscriptions(
    desired: &[SubscriptionState],
    observed: &[Observed],
) -> Vec<SubscriptionAction> {
    let mut out = Vec::new();
    for d in desired {
        let found = observed
            .iter()
            .find(|o| o.state.protocol == d.protocol && o.state.endpoint == d.endpoint);
        out.push(match found {
            None => SubscriptionAction::Subscribe(d.clone()),
            Some(o) if o.state == *d => SubscriptionAction::Keep(d.endpoint.clone()),
            Some(o) => SubscriptionAction::Replace {
                old: o.arn.clone(),
                new: d.clone(),
                what: o.state.differences(d),
            },
        });
    }
    for o in observed {
        let managed = o.state.protocol == "lambda" || o.state.protocol == "sqs";
        let wanted = desired
            .iter()
            .any(|d| d.protocol == o.state.protocol && d.endpoint == o.state.endpoint);
        if managed && !wanted {
            out.push(SubscriptionAction::Unsubscribe(o.clone()));
        }
    }
    out
}

/// The subscriptions of a topic, with their attributes.
pub async fn observe_subscriptions(
    clients: &Clients,
    topic_arn: &str,
) -> Result<Vec<Observed>, DeployError> {
    let subs: Vec<_> = clients
        .sns
        .list_subscriptions_by_topic()
        .topic_arn(topic_arn)
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| aws_error("ListSubscriptionsByTopic", topic_arn, e))?;
    let mut out = Vec::new();
    for s in subs {
        let (Some(arn), Some(protocol), Some(endpoint)) =
            (s.subscription_arn(), s.protocol(), s.endpoint())
        else {
            continue;
        };
        // A subscription still waiting for confirmation has no ARN to ask about.
        if !arn.starts_with("arn:") {
            continue;
        }
        let attrs = clients
            .sns
            .get_subscription_attributes()
            .subscription_arn(arn)
            .send()
            .await
            .map_err(|e| aws_error("GetSubscriptionAttributes", arn, e))?
            .attributes()
            .cloned()
            .unwrap_or_default();
        out.push(Observed {
            arn: arn.to_owned(),
            state: SubscriptionState::from_attributes(protocol, endpoint, &attrs),
        });
    }
    Ok(out)
}

/// `topic -> function square` for a report line.
fn label(topic: &str, state: &SubscriptionState) -> String {
    let name = state.endpoint.rsplit(':').next().unwrap_or(&state.endpoint);
    let kind = if state.protocol == "lambda" {
        "function"
    } else {
        "queue"
    };
    format!("{topic} -> {kind} {name}")
}

async fn subscribe(
    clients: &Clients,
    topic_arn: &str,
    s: &SubscriptionState,
) -> Result<(), DeployError> {
    clients
        .sns
        .subscribe()
        .topic_arn(topic_arn)
        .protocol(&s.protocol)
        .endpoint(&s.endpoint)
        .set_attributes(Some(s.attributes()))
        .return_subscription_arn(true)
        .send()
        .await
        .map_err(|e| aws_error("Subscribe", topic_arn, e))?;
    Ok(())
}

async fn unsubscribe(clients: &Clients, arn: &str) -> Result<(), DeployError> {
    match clients.sns.unsubscribe().subscription_arn(arn).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error("Unsubscribe", arn, e)),
    }
}

/// Brings every topic's subscriptions to the manifest. Runs after the functions are deployed.
pub async fn reconcile_subscriptions(
    clients: &Clients,
    manifest: &Manifest,
    resolved: &Resolved,
) -> Result<Vec<(String, Change)>, DeployError> {
    let mut report = Vec::new();
    for topic in manifest.topics.values() {
        let Some(arn) = resolved.topics.get(&topic.name) else {
            continue;
        };
        let desired: Vec<SubscriptionState> = topic
            .subscriptions
            .iter()
            .map(|s| SubscriptionState::desired(s, &resolved.region))
            .collect();
        let observed = observe_subscriptions(clients, arn).await?;
        for action in plan_subscriptions(&desired, &observed) {
            match action {
                SubscriptionAction::Keep(endpoint) => {
                    if let Some(d) = desired.iter().find(|d| d.endpoint == endpoint) {
                        report.push((label(&topic.name, d), Change::Unchanged));
                    }
                }
                SubscriptionAction::Subscribe(d) => {
                    subscribe(clients, arn, &d).await?;
                    report.push((label(&topic.name, &d), Change::Created));
                }
                SubscriptionAction::Replace { old, new, what } => {
                    unsubscribe(clients, &old).await?;
                    subscribe(clients, arn, &new).await?;
                    report.push((label(&topic.name, &new), Change::Updated(what)));
                }
                SubscriptionAction::Unsubscribe(o) => {
                    unsubscribe(clients, &o.arn).await?;
                    report.push((label(&topic.name, &o.state), Change::Removed));
                }
            }
        }
    }
    Ok(report)
}

/// Lets SNS invoke each function from the topics subscribing it, and takes that back from topics
/// that no longer do.
pub async fn reconcile_permissions(
    clients: &Clients,
    manifest: &Manifest,
    region: &str,
) -> Result<Vec<(String, Change)>, DeployError> {
    permission::reconcile_all(clients, manifest, INVOKER, |f| {
        manifest
            .topics
            .values()
            .filter(|t| {
                t.subscriptions
                    .iter()
                    .any(|s| s.target == Target::Function(f.name.clone()))
            })
            .map(|t| (t.name.clone(), aws::topic_arn(region, &t.name)))
            .collect()
    })
    .await
}

/// Deletes the topics lsk created for `project` that the manifest no longer lists.
pub async fn prune(
    clients: &Clients,
    manifest: &Manifest,
    project: &str,
) -> Result<Vec<String>, DeployError> {
    let topics: Vec<_> = clients
        .sns
        .list_topics()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| aws_error("ListTopics", "topics", e))?;
    let mut removed = Vec::new();
    for t in topics {
        let Some(arn) = t.topic_arn() else { continue };
        let name = arn.rsplit(':').next().unwrap_or(arn);
        if manifest.topics.contains_key(name) {
            continue;
        }
        let tags = clients
            .sns
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| aws_error("ListTagsForResource", arn, e))?;
        let tag = |k: &str| {
            tags.tags()
                .iter()
                .find(|t| t.key() == k)
                .map(|t| t.value().to_owned())
        };
        if tag(TAG_MANAGED).as_deref() == Some("lsk")
            && tag(TAG_PROJECT).as_deref() == Some(project)
        {
            clients
                .sns
                .delete_topic()
                .topic_arn(arn)
                .send()
                .await
                .map_err(|e| aws_error("DeleteTopic", arn, e))?;
            removed.push(name.to_owned());
        }
    }
    Ok(removed)
}

/// What `lsk status` shows of a topic.
pub async fn view(
    clients: &Clients,
    topic: &Topic,
) -> Result<crate::output::TopicView, DeployError> {
    let arn = aws::topic_arn(&clients.region, &topic.name);
    if !exists(clients, &arn).await? {
        return Ok(crate::output::TopicView {
            name: topic.name.clone(),
            arn: None,
            subscriptions: Vec::new(),
            awslocal: None,
        });
    }
    let observed = observe_subscriptions(clients, &arn).await?;
    let mut subscriptions: Vec<String> = observed
        .iter()
        .map(|o| {
            let mut text = label(&topic.name, &o.state)
                .split_once(" -> ")
                .map_or_else(String::new, |(_, t)| t.to_owned());
            let mut facts = Vec::new();
            if o.state.raw {
                facts.push("raw");
            }
            if o.state.filter_policy.is_some() {
                facts.push("filtered");
            }
            if !facts.is_empty() {
                text.push_str(&format!(" ({})", facts.join(", ")));
            }
            text
        })
        .collect();
    subscriptions.sort();
    let message = topic
        .example
        .clone()
        .unwrap_or_else(|| r#"{"hello": "from lsk"}"#.to_owned());
    Ok(crate::output::TopicView {
        name: topic.name.clone(),
        awslocal: Some(awslocal_publish_line(&arn, &message)),
        arn: Some(arn),
        subscriptions,
    })
}

/// `awslocal sns publish` of `message` to a topic.
pub fn awslocal_publish_line(topic_arn: &str, message: &str) -> String {
    format!(
        "awslocal sns publish --topic-arn {} --message {}",
        crate::output::shell_quote(topic_arn),
        crate::output::shell_quote(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(protocol: &str, endpoint: &str, raw: bool) -> SubscriptionState {
        SubscriptionState {
            protocol: protocol.into(),
            endpoint: endpoint.into(),
            raw,
            filter_policy: None,
            filter_scope: "MessageAttributes".into(),
        }
    }

    fn observed(arn: &str, s: SubscriptionState) -> Observed {
        Observed {
            arn: arn.into(),
            state: s,
        }
    }

    #[test]
    fn subscriptions_are_added_kept_replaced_and_removed() {
        let q = state("sqs", "arn:aws:sqs:us-east-1:000000000000:inbox", true);
        let f = state(
            "lambda",
            "arn:aws:lambda:us-east-1:000000000000:function:f",
            false,
        );
        assert_eq!(
            plan_subscriptions(std::slice::from_ref(&q), &[]),
            [SubscriptionAction::Subscribe(q.clone())]
        );
        assert_eq!(
            plan_subscriptions(std::slice::from_ref(&q), &[observed("arn:s1", q.clone())]),
            [SubscriptionAction::Keep(q.endpoint.clone())]
        );
        let not_raw = state("sqs", &q.endpoint, false);
        assert_eq!(
            plan_subscriptions(std::slice::from_ref(&q), &[observed("arn:s1", not_raw)]),
            [SubscriptionAction::Replace {
                old: "arn:s1".into(),
                new: q.clone(),
                what: vec!["raw delivery".into()]
            }]
        );
        let email = state("email", "me@example.com", false);
        let plan = plan_subscriptions(
            &[],
            &[observed("arn:f", f.clone()), observed("arn:e", email)],
        );
        assert_eq!(
            plan,
            [SubscriptionAction::Unsubscribe(observed("arn:f", f))],
            "only function and queue subscriptions are lsk's to remove"
        );
    }

    #[test]
    fn a_filter_policy_compares_as_json_and_carries_its_scope() {
        let attrs = HashMap::from([
            ("FilterPolicy".to_owned(), r#"{"kind": ["png"]}"#.to_owned()),
            ("FilterPolicyScope".to_owned(), "MessageBody".to_owned()),
        ]);
        let seen = SubscriptionState::from_attributes("sqs", "arn:q", &attrs);
        let wanted = SubscriptionState::desired(
            &Subscription {
                target: Target::Queue("q".into()),
                raw: false,
                filter_policy: Some(serde_json::json!({"kind": ["png"]})),
                filter_scope: FilterScope::MessageBody,
            },
            "us-east-1",
        );
        assert_eq!(seen.filter_policy, wanted.filter_policy);
        assert_eq!(seen.filter_scope, wanted.filter_scope);
        assert_eq!(wanted.attributes()["FilterPolicyScope"], "MessageBody");
    }

    #[test]
    fn topic_names_follow_sns_rules() {
        assert!(check_topic_name("image-ready").is_ok());
        assert!(check_topic_name("a.b").unwrap_err().contains("'.'"));
        assert!(check_topic_name("t.fifo").unwrap_err().contains("FIFO"));
        assert!(check_topic_name("").is_err());
    }
}
