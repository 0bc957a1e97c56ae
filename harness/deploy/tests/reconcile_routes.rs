//! Topics, rules, APIs, S3 triggers and state machines reconcile without LocalStack: a second deploy with nothing changed writes nothing, pruning deletes only what lsk made for this project, and a difference sends exactly the write that fixes it.
//!
//! Every SDK client is answered by `aws-smithy-mocks` rules instead of LocalStack. The read
//! operations answer what a first deploy left behind; every write operation of the kind is
//! refused by a rule whose calls are counted, and a recorder on every client notes each
//! operation sent, so an unexpected operation (one no rule answers gets a 418 from the mocked
//! HTTP client and fails the call) shows up by name too. Each kind is deployed by the same calls,
//! in the same order and with the same arguments, as [`lsk_deploy::apply`] makes for it.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use aws_sdk_apigateway as apigateway;
use aws_sdk_cloudwatchlogs as logs;
use aws_sdk_eventbridge as events;
use aws_sdk_lambda as lambda;
use aws_sdk_s3 as s3;
use aws_sdk_sfn as sfn;
use aws_sdk_sns as sns;
use aws_sdk_sqs as sqs;
use aws_smithy_mocks::{
    MockResponseInterceptor, Rule, RuleBuilder, RuleMode, create_mock_http_client, mock,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::{HttpResponse, Metadata};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;

use lsk_aws::{self as aws, Clients};
use lsk_deploy::kinds::{api, rule, s3_trigger, state_machine, topic};
use lsk_deploy::{Change, DeployError, Resolved, ResourceType, TAG_MANAGED, TAG_PROJECT};
use lsk_manifest::Manifest;

// ---------------------------------------------------------------------------------------------
// The mocked AWS: clients answered by rules, a recorder of what was sent, refused writes.
// ---------------------------------------------------------------------------------------------

const REGION: &str = "us-east-1";
/// The project deploying.
const PROJECT: &str = "shop";
/// Another project lsk deployed into the same LocalStack.
const OTHER_PROJECT: &str = "warehouse";

const SECOND_DEPLOY: &str = "a second `lsk deploy` with nothing changed";

/// Every operation sent to any client, by name (`PutTargets`), in order.
#[derive(Debug, Clone, Default)]
struct Sent(Arc<Mutex<Vec<String>>>);

impl Sent {
    fn all(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// The operations that are not reads (`Get*`, `List*`, `Describe*`), in order.
    fn writes(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .filter(|op| {
                !["Get", "List", "Describe"]
                    .iter()
                    .any(|r| op.starts_with(r))
            })
            .collect()
    }
}

impl Intercept for Sent {
    fn name(&self) -> &'static str {
        "Sent"
    }

    // The operation's metadata is in the bag once its own configuration is applied, which is
    // after `read_before_execution` of client interceptors: record here.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = cfg
            .load::<Metadata>()
            .map_or_else(|| "(unnamed operation)".to_owned(), |m| m.name().to_owned());
        self.0.lock().unwrap().push(op);
        Ok(())
    }
}

/// One client of `$sdk` answered by `$rules` (the first that matches, any number of times);
/// a request no rule matches goes on to the mocked HTTP client, which answers 418.
macro_rules! mocked_client {
    ($sdk:ident, $rules:expr, $sent:expr) => {{
        let mut mocks = MockResponseInterceptor::new()
            .rule_mode(RuleMode::MatchAny)
            .allow_passthrough();
        for rule in $rules {
            mocks = mocks.with_rule(&rule);
        }
        $sdk::Client::from_conf(
            $sdk::Config::builder()
                .behavior_version($sdk::config::BehaviorVersion::latest())
                .region($sdk::config::Region::new(REGION))
                .credentials_provider($sdk::config::Credentials::new(
                    "test", "test", None, None, "mocked",
                ))
                .retry_config($sdk::config::retry::RetryConfig::disabled())
                .http_client(create_mock_http_client())
                .interceptor($sent.clone())
                .interceptor(mocks)
                .build(),
        )
    }};
}

/// A rule: ListTagsForResource of `$arn` answers `$tags`. SNS, EventBridge and Step Functions
/// name the operation, its input and its tag type alike; `unwrap` where the SDK's tag builder
/// is fallible.
macro_rules! tags_rule {
    ($sdk:ident, $arn:expr, $tags:expr $(, $unwrap:ident)?) => {{
        let arn: String = $arn;
        let tags: Vec<$sdk::types::Tag> = $tags
            .iter()
            .map(|(k, v)| $sdk::types::Tag::builder().key(*k).value(*v).build()$(.$unwrap())?)
            .collect();
        mock!($sdk::Client::list_tags_for_resource)
            .match_requests(move |r| r.resource_arn() == Some(arn.as_str()))
            .then_output(move || {
                $sdk::operation::list_tags_for_resource::ListTagsForResourceOutput::builder()
                    .set_tags(Some(tags.clone()))
                    .build()
            })
    }};
}

/// Rules per service client.
#[derive(Default)]
struct Rules {
    lambda: Vec<Rule>,
    s3: Vec<Rule>,
    sns: Vec<Rule>,
    events: Vec<Rule>,
    apigateway: Vec<Rule>,
    sfn: Vec<Rule>,
}

/// What a test's LocalStack answers: `answers` first, then the refusals of forbidden writes.
#[derive(Default)]
struct Mocked {
    answers: Rules,
    refusals: Rules,
    /// (operation, its refusing rule): each must not be called.
    forbidden: Vec<(&'static str, Rule)>,
}

/// The answer to a write that must not be sent: 403 with a body no SDK can read as an answer.
fn refused<I, O, E>(builder: RuleBuilder<I, O, E>) -> Rule
where
    I: fmt::Debug + Send + Sync + 'static,
    O: fmt::Debug + Send + Sync + 'static,
    E: fmt::Debug + Send + Sync + std::error::Error + 'static,
{
    builder.then_http_response(|| {
        HttpResponse::new(
            StatusCode::try_from(403).unwrap(),
            SdkBody::from("reconcile_routes: this write must not be sent"),
        )
    })
}

/// Refuses each listed operation of a service, counting its calls:
/// `forbid!(mocked, sns: create_topic => "CreateTopic", ...)`.
macro_rules! forbid {
    ($mocked:expr, $sdk:ident: $($op:ident => $name:literal),+ $(,)?) => {{
        $(
            let rule = refused(mock!($sdk::Client::$op));
            $mocked.refusals.$sdk.push(rule.clone());
            $mocked.forbidden.push(($name, rule));
        )+
    }};
}

impl Mocked {
    fn build(self) -> World {
        let sent = Sent::default();
        let Mocked {
            answers: a,
            refusals: r,
            forbidden,
        } = self;
        let join = |a: Vec<Rule>, r: Vec<Rule>| a.into_iter().chain(r).collect::<Vec<_>>();
        let clients = Clients {
            lambda: mocked_client!(lambda, join(a.lambda, r.lambda), sent),
            sqs: mocked_client!(sqs, Vec::<Rule>::new(), sent),
            s3: mocked_client!(s3, join(a.s3, r.s3), sent),
            logs: mocked_client!(logs, Vec::<Rule>::new(), sent),
            sns: mocked_client!(sns, join(a.sns, r.sns), sent),
            events: mocked_client!(events, join(a.events, r.events), sent),
            apigateway: mocked_client!(apigateway, join(a.apigateway, r.apigateway), sent),
            sfn: mocked_client!(sfn, join(a.sfn, r.sfn), sent),
            region: REGION.to_owned(),
            port: 4566,
        };
        World {
            clients,
            sent,
            forbidden,
        }
    }
}

/// The mocked clients of one test, and what they were asked.
struct World {
    clients: Clients,
    sent: Sent,
    forbidden: Vec<(&'static str, Rule)>,
}

impl World {
    /// Fails, saying which write `story` would have sent, when any forbidden write was called or
    /// any operation other than a read was sent.
    fn assert_nothing_written(&self, story: &str) {
        for (op, rule) in &self.forbidden {
            assert_eq!(
                rule.num_calls(),
                0,
                "{story} would have called {op}; sent: {:?}",
                self.sent.all()
            );
        }
        let writes = self.sent.writes();
        assert!(
            writes.is_empty(),
            "{story} would have called {}",
            writes.join(", ")
        );
    }

    /// Fails unless the writes sent are exactly `expected`, in order.
    fn assert_writes(&self, story: &str, expected: &[&str]) {
        assert_eq!(
            self.sent.writes(),
            expected,
            "{story} should have sent exactly these writes; sent: {:?}",
            self.sent.all()
        );
    }
}

/// The manifest `toml` as `lsk.toml` of a project in `/proj`.
fn manifest(toml: &str) -> Manifest {
    Manifest::parse(toml, Path::new("/proj/lsk.toml"))
        .unwrap_or_else(|e| panic!("the test's lsk.toml is invalid: {e}"))
}

/// The manifest `toml` as `lsk.toml` in `dir`, where the files it names are.
fn manifest_in(dir: &Path, toml: &str) -> Manifest {
    Manifest::parse(toml, &dir.join("lsk.toml"))
        .unwrap_or_else(|e| panic!("the test's lsk.toml is invalid: {e}"))
}

/// What `apply` starts from: nothing resolved yet but the region.
fn resolved() -> Resolved {
    Resolved {
        region: REGION.to_owned(),
        ..Resolved::default()
    }
}

/// Fails, saying what a user would have read in the report, unless every change is Unchanged.
fn assert_all_unchanged(story: &str, changes: &[(String, Change)]) {
    assert!(!changes.is_empty(), "{story} reported nothing at all");
    for (name, change) in changes {
        assert_eq!(
            *change,
            Change::Unchanged,
            "{story} would have reported {name} as {change:?}"
        );
    }
}

/// The change reported for `name`; fails when there is none.
fn change_of<'a>(changes: &'a [(String, Change)], name: &str) -> &'a Change {
    changes
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, c)| c)
        .unwrap_or_else(|| panic!("no report line for {name}; got {changes:?}"))
}

/// The result of a deploy; fails with the error a user would have read.
fn deployed<T>(story: &str, result: Result<T, DeployError>) -> T {
    result.unwrap_or_else(|e| panic!("{story} would have failed: {e}"))
}

// --- Lambda resource policies, which topics, rules, APIs and S3 triggers each keep a part of.

/// A function's resource policy with one statement per (statement id, source ARN).
fn policy(function: &str, statements: &[(&str, &str)]) -> String {
    let statements: Vec<_> = statements
        .iter()
        .map(|(sid, source)| {
            serde_json::json!({
                "Sid": sid,
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "lambda:InvokeFunction",
                "Resource": aws::function_arn(REGION, function),
                "Condition": {"ArnLike": {"AWS:SourceArn": source}},
            })
        })
        .collect();
    serde_json::json!({"Version": "2012-10-17", "Id": "default", "Statement": statements})
        .to_string()
}

/// GetPolicy of `function` answers `statements`.
fn answer_policy(mocked: &mut Mocked, function: &'static str, statements: &[(&str, &str)]) {
    let text = policy(function, statements);
    mocked.answers.lambda.push(
        mock!(lambda::Client::get_policy)
            .match_requests(move |r| r.function_name() == Some(function))
            .then_output(move || {
                lambda::operation::get_policy::GetPolicyOutput::builder()
                    .policy(text.clone())
                    .build()
            }),
    );
}

/// GetPolicy of `function` answers that it has no policy.
fn answer_no_policy(mocked: &mut Mocked, function: &'static str) {
    mocked.answers.lambda.push(
        mock!(lambda::Client::get_policy)
            .match_requests(move |r| r.function_name() == Some(function))
            .then_error(|| {
                lambda::operation::get_policy::GetPolicyError::ResourceNotFoundException(
                    lambda::types::error::ResourceNotFoundException::builder().build(),
                )
            }),
    );
}

fn forbid_permission_writes(mocked: &mut Mocked) {
    forbid!(mocked, lambda:
        add_permission => "AddPermission",
        remove_permission => "RemovePermission",
    );
}

// ---------------------------------------------------------------------------------------------
// Topics: SNS topics, their function and queue subscriptions, SNS's permission to invoke.
// ---------------------------------------------------------------------------------------------

const TOPICS: &str = r#"
[functions.thumbnail]
package = "thumbnail"

[functions.audit]
package = "audit"

[queues.inbox]

[topics.image-ready]

[[topics.image-ready.subscriptions]]
function = "thumbnail"

[[topics.image-ready.subscriptions]]
queue = "inbox"
raw = true
filter_policy = { kind = ["png"] }
filter_scope = "MessageBody"
"#;

/// The topic kind as `apply` deploys it: the topics (resolving their ARNs), SNS's permissions,
/// the subscriptions, then pruning.
async fn deploy_topics(
    clients: &Clients,
    manifest: &Manifest,
) -> Result<Vec<(String, Change)>, DeployError> {
    let mut resolved = resolved();
    let mut changes = Vec::new();
    for t in manifest.topics.values() {
        let (change, arn) = topic::ensure_topic(clients, t, PROJECT).await?;
        changes.push((format!("topic {}", t.name), change));
        resolved.topics.insert(t.name.clone(), arn);
    }
    changes.extend(topic::reconcile_permissions(clients, manifest, &resolved.region).await?);
    changes.extend(topic::reconcile_subscriptions(clients, manifest, &resolved).await?);
    for name in topic::prune(clients, manifest, PROJECT).await? {
        changes.push((format!("topic {name}"), Change::Removed));
    }
    Ok(changes)
}

fn forbid_topic_writes(mocked: &mut Mocked) {
    forbid!(mocked, sns:
        create_topic => "CreateTopic",
        delete_topic => "DeleteTopic",
        subscribe => "Subscribe",
        unsubscribe => "Unsubscribe",
        set_subscription_attributes => "SetSubscriptionAttributes",
        set_topic_attributes => "SetTopicAttributes",
        tag_resource => "TagResource",
        untag_resource => "UntagResource",
    );
    forbid_permission_writes(mocked);
}

const THUMBNAIL_SUBSCRIPTION: &str = "arn:aws:sns:us-east-1:000000000000:image-ready:0001";
const INBOX_SUBSCRIPTION: &str = "arn:aws:sns:us-east-1:000000000000:image-ready:0002";

/// SNS as the first deploy of [`TOPICS`] left it, plus an e-mail subscription and a pending one
/// someone added by hand; the inbox subscription's filter policy is `inbox_filter`.
fn topics_as_deployed(mocked: &mut Mocked, inbox_filter: &'static str) {
    let topic_arn = aws::topic_arn(REGION, "image-ready");
    mocked.answers.sns.push(
        mock!(sns::Client::get_topic_attributes)
            .match_requests(|r| {
                r.topic_arn() == Some("arn:aws:sns:us-east-1:000000000000:image-ready")
            })
            .then_output(|| {
                sns::operation::get_topic_attributes::GetTopicAttributesOutput::builder()
                    .attributes("TopicArn", "arn:aws:sns:us-east-1:000000000000:image-ready")
                    .build()
            }),
    );
    answer_policy(mocked, "thumbnail", &[("lsk-sns-image-ready", &topic_arn)]);
    answer_no_policy(mocked, "audit");
    mocked.answers.sns.push(
        mock!(sns::Client::list_subscriptions_by_topic)
            .match_requests(|r| r.topic_arn() == Some("arn:aws:sns:us-east-1:000000000000:image-ready"))
            .then_output(|| {
                let sub = |arn: &str, protocol: &str, endpoint: &str| {
                    sns::types::Subscription::builder()
                        .subscription_arn(arn)
                        .protocol(protocol)
                        .endpoint(endpoint)
                        .topic_arn(aws::topic_arn(REGION, "image-ready"))
                        .build()
                };
                sns::operation::list_subscriptions_by_topic::ListSubscriptionsByTopicOutput::builder()
                    .subscriptions(sub(
                        THUMBNAIL_SUBSCRIPTION,
                        "lambda",
                        &aws::function_arn(REGION, "thumbnail"),
                    ))
                    .subscriptions(sub(INBOX_SUBSCRIPTION, "sqs", &aws::queue_arn(REGION, "inbox")))
                    .subscriptions(sub(
                        "arn:aws:sns:us-east-1:000000000000:image-ready:0003",
                        "email",
                        "ops@example.com",
                    ))
                    .subscriptions(sub("PendingConfirmation", "email", "new@example.com"))
                    .build()
            }),
    );
    let attributes = |arn: &'static str, attrs: Vec<(&'static str, &'static str)>| {
        mock!(sns::Client::get_subscription_attributes)
            .match_requests(move |r| r.subscription_arn() == Some(arn))
            .then_output(move || {
                sns::operation::get_subscription_attributes::GetSubscriptionAttributesOutput::builder()
                    .set_attributes(Some(
                        attrs
                            .iter()
                            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                            .collect(),
                    ))
                    .build()
            })
    };
    mocked.answers.sns.push(attributes(
        THUMBNAIL_SUBSCRIPTION,
        vec![("RawMessageDelivery", "false"), ("Protocol", "lambda")],
    ));
    mocked.answers.sns.push(attributes(
        INBOX_SUBSCRIPTION,
        vec![
            ("RawMessageDelivery", "true"),
            // SNS gives the policy back as it was stored, formatted its own way.
            ("FilterPolicy", inbox_filter),
            ("FilterPolicyScope", "MessageBody"),
        ],
    ));
    mocked.answers.sns.push(attributes(
        "arn:aws:sns:us-east-1:000000000000:image-ready:0003",
        vec![("RawMessageDelivery", "false")],
    ));
    mocked
        .answers
        .sns
        .push(mock!(sns::Client::list_topics).then_output(|| {
            sns::operation::list_topics::ListTopicsOutput::builder()
                .topics(
                    sns::types::Topic::builder()
                        .topic_arn(aws::topic_arn(REGION, "image-ready"))
                        .build(),
                )
                .build()
        }));
}

#[tokio::test]
async fn a_second_deploy_of_unchanged_topics_writes_nothing() {
    let m = manifest(TOPICS);
    let mut mocked = Mocked::default();
    topics_as_deployed(&mut mocked, r#"{ "kind" : [ "png" ] }"#);
    forbid_topic_writes(&mut mocked);
    let world = mocked.build();

    let result = deploy_topics(&world.clients, &m).await;

    world.assert_nothing_written(SECOND_DEPLOY);
    let changes = deployed(SECOND_DEPLOY, result);
    assert_all_unchanged(SECOND_DEPLOY, &changes);
    for line in [
        "topic image-ready",
        "thumbnail from topic image-ready",
        "image-ready -> function thumbnail",
        "image-ready -> queue inbox",
    ] {
        change_of(&changes, line);
    }
}

#[tokio::test]
async fn a_changed_filter_policy_replaces_just_that_subscription() {
    let m = manifest(TOPICS);
    let mut mocked = Mocked::default();
    topics_as_deployed(&mut mocked, r#"{"kind": ["jpg"]}"#);
    let unsubscribed = mock!(sns::Client::unsubscribe)
        .match_requests(|r| r.subscription_arn() == Some(INBOX_SUBSCRIPTION))
        .then_output(|| sns::operation::unsubscribe::UnsubscribeOutput::builder().build());
    let subscribed = mock!(sns::Client::subscribe)
        .match_requests(|r| {
            let attrs = r.attributes().cloned().unwrap_or_default();
            let policy: Option<serde_json::Value> = attrs
                .get("FilterPolicy")
                .and_then(|p| serde_json::from_str(p).ok());
            r.topic_arn() == Some("arn:aws:sns:us-east-1:000000000000:image-ready")
                && r.protocol() == Some("sqs")
                && r.endpoint() == Some("arn:aws:sqs:us-east-1:000000000000:inbox")
                && policy == Some(serde_json::json!({"kind": ["png"]}))
                && attrs.get("FilterPolicyScope").map(String::as_str) == Some("MessageBody")
                && attrs.get("RawMessageDelivery").map(String::as_str) == Some("true")
        })
        .then_output(|| {
            sns::operation::subscribe::SubscribeOutput::builder()
                .subscription_arn("arn:aws:sns:us-east-1:000000000000:image-ready:0004")
                .build()
        });
    mocked.answers.sns.push(unsubscribed.clone());
    mocked.answers.sns.push(subscribed.clone());
    forbid_topic_writes(&mut mocked);
    let world = mocked.build();

    let result = deploy_topics(&world.clients, &m).await;

    assert_eq!(
        unsubscribed.num_calls(),
        1,
        "`lsk deploy` would have left the inbox subscribed with the old filter policy"
    );
    assert_eq!(
        subscribed.num_calls(),
        1,
        "`lsk deploy` would not have subscribed the inbox with the manifest's filter policy, raw"
    );
    world.assert_writes(
        "`lsk deploy` of a new filter policy",
        &["Unsubscribe", "Subscribe"],
    );
    let changes = deployed("`lsk deploy` of a new filter policy", result);
    assert_eq!(
        change_of(&changes, "image-ready -> queue inbox"),
        &Change::Updated(vec!["filter policy".into()])
    );
    assert_eq!(
        change_of(&changes, "image-ready -> function thumbnail"),
        &Change::Unchanged
    );
}

/// ListTagsForResource of `arn` answers `tags`.
fn answer_sns_tags(mocked: &mut Mocked, arn: String, tags: &[(&str, &str)]) {
    let rule = tags_rule!(sns, arn, tags, unwrap);
    mocked.answers.sns.push(rule);
}

#[tokio::test]
async fn pruning_deletes_only_this_projects_topics() {
    let m = manifest(TOPICS);
    let mut mocked = Mocked::default();
    mocked
        .answers
        .sns
        .push(mock!(sns::Client::list_topics).then_output(|| {
            let t = |name: &str| {
                sns::types::Topic::builder()
                    .topic_arn(aws::topic_arn(REGION, name))
                    .build()
            };
            sns::operation::list_topics::ListTopicsOutput::builder()
                .topics(t("image-ready"))
                .topics(t("old-news"))
                .topics(t("their-news"))
                .topics(t("hand-made"))
                .build()
        }));
    answer_sns_tags(
        &mut mocked,
        aws::topic_arn(REGION, "old-news"),
        &[(TAG_MANAGED, "lsk"), (TAG_PROJECT, PROJECT)],
    );
    answer_sns_tags(
        &mut mocked,
        aws::topic_arn(REGION, "their-news"),
        &[(TAG_MANAGED, "lsk"), (TAG_PROJECT, OTHER_PROJECT)],
    );
    answer_sns_tags(
        &mut mocked,
        aws::topic_arn(REGION, "hand-made"),
        &[("team", "ops")],
    );
    let deleted = mock!(sns::Client::delete_topic)
        .match_requests(|r| r.topic_arn() == Some("arn:aws:sns:us-east-1:000000000000:old-news"))
        .then_output(|| sns::operation::delete_topic::DeleteTopicOutput::builder().build());
    let never =
        |name: &'static str| {
            refused(mock!(sns::Client::delete_topic).match_requests(move |r| {
                r.topic_arn() == Some(aws::topic_arn(REGION, name).as_str())
            }))
        };
    let kept = [
        (
            "topic their-news, which lsk made for another project",
            never("their-news"),
        ),
        (
            "topic hand-made, which lsk did not make",
            never("hand-made"),
        ),
        (
            "topic image-ready, which the manifest lists",
            never("image-ready"),
        ),
    ];
    mocked.answers.sns.push(deleted.clone());
    for (_, never) in &kept {
        mocked.answers.sns.push(never.clone());
    }
    forbid_topic_writes(&mut mocked);
    let world = mocked.build();

    let result = topic::prune(&world.clients, &m, PROJECT).await;

    for (what, never) in &kept {
        assert_eq!(
            never.num_calls(),
            0,
            "`lsk deploy` would have deleted {what}"
        );
    }
    assert_eq!(
        deleted.num_calls(),
        1,
        "`lsk deploy` would have left topic old-news, which lsk made for this project"
    );
    world.assert_writes(
        "`lsk deploy` pruning topics (their-news is another project's, hand-made is not lsk's)",
        &["DeleteTopic"],
    );
    let removed = deployed("`lsk deploy` pruning topics", result);
    assert_eq!(removed, ["old-news"]);
}

// ---------------------------------------------------------------------------------------------
// Rules: EventBridge rules, their buses and targets, EventBridge's permission to invoke.
// ---------------------------------------------------------------------------------------------

const RULES: &str = r#"
[functions.heartbeat]
package = "heartbeat"

[queues.orders]

[rules.heartbeat]
schedule = "rate(1 minute)"
description = "Runs the heartbeat every minute"

[[rules.heartbeat.targets]]
function = "heartbeat"

[rules.order-placed]
bus = "shop-events"
pattern = { source = ["shop"], detail-type = ["Order Placed"] }

[[rules.order-placed.targets]]
queue = "orders"
input = { kind = "order" }
"#;

/// The rule kind as `apply` deploys it: EventBridge's permissions, the buses, rules and
/// targets, then pruning.
async fn deploy_rules(
    clients: &Clients,
    manifest: &Manifest,
) -> Result<Vec<(String, Change)>, DeployError> {
    let mut changes = rule::reconcile_permissions(clients, manifest, &clients.region).await?;
    for (kind, name, change) in rule::reconcile(clients, manifest, PROJECT).await? {
        changes.push((format!("{} {name}", kind.label()), change));
    }
    for (kind, name) in rule::prune(clients, manifest, PROJECT).await? {
        changes.push((format!("{} {name}", kind.label()), Change::Removed));
    }
    Ok(changes)
}

fn forbid_rule_writes(mocked: &mut Mocked) {
    forbid!(mocked, events:
        create_event_bus => "CreateEventBus",
        delete_event_bus => "DeleteEventBus",
        put_rule => "PutRule",
        delete_rule => "DeleteRule",
        enable_rule => "EnableRule",
        disable_rule => "DisableRule",
        put_targets => "PutTargets",
        remove_targets => "RemoveTargets",
        tag_resource => "TagResource",
        untag_resource => "UntagResource",
    );
    forbid_permission_writes(mocked);
}

/// ListTargetsByRule of `rule` answers `targets` (id, ARN, input).
fn answer_targets(
    mocked: &mut Mocked,
    rule: &'static str,
    targets: Vec<(String, String, Option<&'static str>)>,
) {
    mocked.answers.events.push(
        mock!(events::Client::list_targets_by_rule)
            .match_requests(move |r| r.rule() == Some(rule))
            .then_output(move || {
                let targets = targets
                    .iter()
                    .map(|(id, arn, input)| {
                        events::types::Target::builder()
                            .id(id)
                            .arn(arn)
                            .set_input(input.map(str::to_owned))
                            .build()
                            .unwrap()
                    })
                    .collect();
                events::operation::list_targets_by_rule::ListTargetsByRuleOutput::builder()
                    .set_targets(Some(targets))
                    .build()
            }),
    );
}

/// ListRules of `bus` answers `rules` (name, ARN).
fn answer_rules(mocked: &mut Mocked, bus: &'static str, rules: Vec<(&'static str, String)>) {
    mocked.answers.events.push(
        mock!(events::Client::list_rules)
            .match_requests(move |r| r.event_bus_name() == Some(bus))
            .then_output(move || {
                events::operation::list_rules::ListRulesOutput::builder()
                    .set_rules(Some(
                        rules
                            .iter()
                            .map(|(name, arn)| {
                                events::types::Rule::builder()
                                    .name(*name)
                                    .arn(arn)
                                    .event_bus_name(bus)
                                    .build()
                            })
                            .collect(),
                    ))
                    .build()
            }),
    );
}

/// ListEventBuses answers `buses`.
fn answer_buses(mocked: &mut Mocked, buses: &'static [&'static str]) {
    mocked
        .answers
        .events
        .push(mock!(events::Client::list_event_buses).then_output(|| {
            events::operation::list_event_buses::ListEventBusesOutput::builder()
                .set_event_buses(Some(
                    buses
                        .iter()
                        .map(|b| {
                            events::types::EventBus::builder()
                                .name(*b)
                                .arn(aws::bus_arn(REGION, b))
                                .build()
                        })
                        .collect(),
                ))
                .build()
        }));
}

/// EventBridge as the first deploy of [`RULES`] left it, but with the heartbeat on `schedule`.
fn rules_as_deployed(mocked: &mut Mocked, schedule: &'static str) {
    answer_policy(
        mocked,
        "heartbeat",
        &[(
            "lsk-events-heartbeat",
            &aws::rule_arn(REGION, "default", "heartbeat"),
        )],
    );
    mocked.answers.events.push(
        mock!(events::Client::describe_event_bus)
            .match_requests(|r| r.name() == Some("shop-events"))
            .then_output(|| {
                events::operation::describe_event_bus::DescribeEventBusOutput::builder()
                    .name("shop-events")
                    .arn(aws::bus_arn(REGION, "shop-events"))
                    .build()
            }),
    );
    mocked.answers.events.push(
        mock!(events::Client::describe_rule)
            .match_requests(|r| {
                r.name() == Some("heartbeat") && r.event_bus_name() == Some("default")
            })
            .then_output(move || {
                events::operation::describe_rule::DescribeRuleOutput::builder()
                    .name("heartbeat")
                    .arn(aws::rule_arn(REGION, "default", "heartbeat"))
                    .schedule_expression(schedule)
                    .state(events::types::RuleState::Enabled)
                    .description("Runs the heartbeat every minute")
                    .event_bus_name("default")
                    .build()
            }),
    );
    mocked.answers.events.push(
        mock!(events::Client::describe_rule)
            .match_requests(|r| {
                r.name() == Some("order-placed") && r.event_bus_name() == Some("shop-events")
            })
            .then_output(|| {
                events::operation::describe_rule::DescribeRuleOutput::builder()
                    .name("order-placed")
                    .arn(aws::rule_arn(REGION, "shop-events", "order-placed"))
                    // EventBridge keeps the pattern as sent; key order and spacing do not count.
                    .event_pattern(r#"{"detail-type": ["Order Placed"], "source": ["shop"]}"#)
                    .state(events::types::RuleState::Enabled)
                    // No description is reported as an empty one.
                    .description("")
                    .event_bus_name("shop-events")
                    .build()
            }),
    );
    answer_targets(
        mocked,
        "heartbeat",
        vec![(
            "function-heartbeat".into(),
            aws::function_arn(REGION, "heartbeat"),
            None,
        )],
    );
    answer_targets(
        mocked,
        "order-placed",
        vec![(
            "queue-orders".into(),
            aws::queue_arn(REGION, "orders"),
            Some(r#"{ "kind": "order" }"#),
        )],
    );
    answer_buses(mocked, &["default", "shop-events"]);
    answer_rules(
        mocked,
        "default",
        vec![("heartbeat", aws::rule_arn(REGION, "default", "heartbeat"))],
    );
    answer_rules(
        mocked,
        "shop-events",
        vec![(
            "order-placed",
            aws::rule_arn(REGION, "shop-events", "order-placed"),
        )],
    );
}

#[tokio::test]
async fn a_second_deploy_of_unchanged_rules_writes_nothing() {
    let m = manifest(RULES);
    let mut mocked = Mocked::default();
    rules_as_deployed(&mut mocked, "rate(1 minute)");
    forbid_rule_writes(&mut mocked);
    let world = mocked.build();

    let result = deploy_rules(&world.clients, &m).await;

    world.assert_nothing_written(SECOND_DEPLOY);
    let changes = deployed(SECOND_DEPLOY, result);
    assert_all_unchanged(SECOND_DEPLOY, &changes);
    for line in [
        "heartbeat from rule heartbeat",
        "bus shop-events",
        "rule heartbeat",
        "rule order-placed",
        "target heartbeat -> function-heartbeat",
        "target order-placed -> queue-orders",
    ] {
        change_of(&changes, line);
    }
}

#[tokio::test]
async fn a_changed_schedule_puts_just_that_rule() {
    let m = manifest(RULES);
    let mut mocked = Mocked::default();
    rules_as_deployed(&mut mocked, "rate(5 minutes)");
    let put = mock!(events::Client::put_rule)
        .match_requests(|r| {
            r.name() == Some("heartbeat")
                && r.event_bus_name() == Some("default")
                && r.schedule_expression() == Some("rate(1 minute)")
                && r.state() == Some(&events::types::RuleState::Enabled)
                && r.description() == Some("Runs the heartbeat every minute")
                // An update keeps the rule's tags; only a new rule is tagged.
                && r.tags().is_empty()
        })
        .then_output(|| {
            events::operation::put_rule::PutRuleOutput::builder()
                .rule_arn(aws::rule_arn(REGION, "default", "heartbeat"))
                .build()
        });
    mocked.answers.events.push(put.clone());
    forbid_rule_writes(&mut mocked);
    let world = mocked.build();

    let result = deploy_rules(&world.clients, &m).await;

    assert_eq!(
        put.num_calls(),
        1,
        "`lsk deploy` would have left the heartbeat running every 5 minutes"
    );
    world.assert_writes("`lsk deploy` of a new schedule", &["PutRule"]);
    let changes = deployed("`lsk deploy` of a new schedule", result);
    assert_eq!(
        change_of(&changes, "rule heartbeat"),
        &Change::Updated(vec!["schedule".into()])
    );
    assert_eq!(
        change_of(&changes, "target heartbeat -> function-heartbeat"),
        &Change::Unchanged
    );
}

/// ListTagsForResource of `arn` answers `tags`.
fn answer_events_tags(mocked: &mut Mocked, arn: String, tags: &[(&str, &str)]) {
    let rule = tags_rule!(events, arn, tags, unwrap);
    mocked.answers.events.push(rule);
}

#[tokio::test]
async fn pruning_deletes_only_this_projects_rules_and_buses() {
    let m = manifest(RULES);
    let mut mocked = Mocked::default();
    answer_buses(
        &mut mocked,
        &["default", "shop-events", "old-bus", "their-bus", "hand-bus"],
    );
    let rule_at = |name: &'static str| (name, aws::rule_arn(REGION, "default", name));
    answer_rules(
        &mut mocked,
        "default",
        vec![
            rule_at("heartbeat"),
            rule_at("old-beat"),
            rule_at("their-beat"),
            rule_at("hand-beat"),
        ],
    );
    answer_rules(
        &mut mocked,
        "shop-events",
        vec![(
            "order-placed",
            aws::rule_arn(REGION, "shop-events", "order-placed"),
        )],
    );
    for bus in ["old-bus", "their-bus", "hand-bus"] {
        answer_rules(&mut mocked, bus, vec![]);
    }
    let ours = [(TAG_MANAGED, "lsk"), (TAG_PROJECT, PROJECT)];
    let theirs = [(TAG_MANAGED, "lsk"), (TAG_PROJECT, OTHER_PROJECT)];
    let hand = [("team", "ops")];
    answer_events_tags(&mut mocked, rule_at("old-beat").1, &ours);
    answer_events_tags(&mut mocked, rule_at("their-beat").1, &theirs);
    answer_events_tags(&mut mocked, rule_at("hand-beat").1, &hand);
    answer_events_tags(&mut mocked, aws::bus_arn(REGION, "old-bus"), &ours);
    answer_events_tags(&mut mocked, aws::bus_arn(REGION, "their-bus"), &theirs);
    answer_events_tags(&mut mocked, aws::bus_arn(REGION, "hand-bus"), &hand);
    answer_targets(
        &mut mocked,
        "old-beat",
        vec![(
            "function-gone".into(),
            aws::function_arn(REGION, "gone"),
            None,
        )],
    );
    let targets_removed = mock!(events::Client::remove_targets)
        .match_requests(|r| {
            r.rule() == Some("old-beat")
                && r.event_bus_name() == Some("default")
                && r.ids() == ["function-gone"]
        })
        .then_output(|| events::operation::remove_targets::RemoveTargetsOutput::builder().build());
    let rule_deleted = mock!(events::Client::delete_rule)
        .match_requests(|r| r.name() == Some("old-beat") && r.event_bus_name() == Some("default"))
        .then_output(|| events::operation::delete_rule::DeleteRuleOutput::builder().build());
    let bus_deleted = mock!(events::Client::delete_event_bus)
        .match_requests(|r| r.name() == Some("old-bus"))
        .then_output(|| {
            events::operation::delete_event_bus::DeleteEventBusOutput::builder().build()
        });
    // Any other rule has no targets, so a wrong decision reaches its DeleteRule.
    mocked
        .answers
        .events
        .push(mock!(events::Client::list_targets_by_rule).then_output(|| {
            events::operation::list_targets_by_rule::ListTargetsByRuleOutput::builder().build()
        }));
    let never_rule = |name: &'static str| {
        refused(mock!(events::Client::delete_rule).match_requests(move |r| r.name() == Some(name)))
    };
    let never_bus = |name: &'static str| {
        refused(
            mock!(events::Client::delete_event_bus).match_requests(move |r| r.name() == Some(name)),
        )
    };
    let kept = [
        (
            "rule their-beat, which lsk made for another project",
            never_rule("their-beat"),
        ),
        (
            "rule hand-beat, which lsk did not make",
            never_rule("hand-beat"),
        ),
        (
            "rule heartbeat, which the manifest lists",
            never_rule("heartbeat"),
        ),
        (
            "bus their-bus, which lsk made for another project",
            never_bus("their-bus"),
        ),
        (
            "bus hand-bus, which lsk did not make",
            never_bus("hand-bus"),
        ),
        (
            "bus shop-events, which the manifest uses",
            never_bus("shop-events"),
        ),
    ];
    mocked.answers.events.push(targets_removed.clone());
    mocked.answers.events.push(rule_deleted.clone());
    mocked.answers.events.push(bus_deleted.clone());
    for (_, never) in &kept {
        mocked.answers.events.push(never.clone());
    }
    forbid_rule_writes(&mut mocked);
    let world = mocked.build();

    let result = rule::prune(&world.clients, &m, PROJECT).await;

    for (what, never) in &kept {
        assert_eq!(
            never.num_calls(),
            0,
            "`lsk deploy` would have deleted {what}"
        );
    }
    assert_eq!(
        rule_deleted.num_calls(),
        1,
        "`lsk deploy` would have left rule old-beat, which lsk made for this project"
    );
    assert_eq!(
        targets_removed.num_calls(),
        1,
        "`lsk deploy` would have deleted rule old-beat with its target still on it"
    );
    assert_eq!(
        bus_deleted.num_calls(),
        1,
        "`lsk deploy` would have left bus old-bus, which lsk made for this project"
    );
    world.assert_writes(
        "`lsk deploy` pruning rules (their-* are another project's, hand-* are not lsk's)",
        &["RemoveTargets", "DeleteRule", "DeleteEventBus"],
    );
    let removed = deployed("`lsk deploy` pruning rules", result);
    assert_eq!(
        removed,
        [
            (ResourceType::Rule, "old-beat".to_owned()),
            (ResourceType::Bus, "old-bus".to_owned()),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// APIs: REST APIs, their resources, methods and integrations, the stage, API Gateway's
// permission to invoke.
// ---------------------------------------------------------------------------------------------

const APIS: &str = r#"
[functions.make-change]
package = "make-change"

[functions.images]
package = "images"

[apis.shop]
stage = "Prod"

[[apis.shop.routes]]
method = "POST"
path = "/change"
function = "make-change"

[[apis.shop.routes]]
method = "GET"
path = "/images/{file}"
function = "images"
"#;

const API_ID: &str = "a1b2c3d4";

/// The API kind as `apply` deploys it: the APIs (resolving their ids and URLs), API Gateway's
/// permissions, the routes and stages, then pruning.
async fn deploy_apis(
    clients: &Clients,
    manifest: &Manifest,
) -> Result<Vec<(String, Change)>, DeployError> {
    let mut resolved = resolved();
    let mut changes = Vec::new();
    for a in manifest.apis.values() {
        let (change, id) = api::ensure_api(clients, a, PROJECT).await?;
        changes.push((format!("api {}", a.name), change));
        let url = api::offline_url(&id, clients.port, &a.stage);
        resolved.apis.insert(a.name.clone(), (id, url));
    }
    changes.extend(api::reconcile_permissions(clients, manifest, &resolved).await?);
    changes.extend(api::reconcile_routes(clients, manifest, &resolved).await?);
    for name in api::prune(clients, manifest, PROJECT).await? {
        changes.push((format!("api {name}"), Change::Removed));
    }
    Ok(changes)
}

fn forbid_api_writes(mocked: &mut Mocked) {
    forbid!(mocked, apigateway:
        create_rest_api => "CreateRestApi",
        delete_rest_api => "DeleteRestApi",
        create_resource => "CreateResource",
        delete_resource => "DeleteResource",
        put_method => "PutMethod",
        delete_method => "DeleteMethod",
        put_integration => "PutIntegration",
        delete_integration => "DeleteIntegration",
        create_deployment => "CreateDeployment",
        create_stage => "CreateStage",
        update_stage => "UpdateStage",
        delete_stage => "DeleteStage",
        tag_resource => "TagResource",
        untag_resource => "UntagResource",
    );
    forbid_permission_writes(mocked);
}

/// GetRestApis answers `apis`: (name, id, project it is tagged for, if lsk made it).
fn answer_rest_apis(
    mocked: &mut Mocked,
    apis: &'static [(&'static str, &'static str, Option<&'static str>)],
) {
    mocked
        .answers
        .apigateway
        .push(mock!(apigateway::Client::get_rest_apis).then_output(|| {
            apigateway::operation::get_rest_apis::GetRestApisOutput::builder()
                .set_items(Some(
                    apis.iter()
                        .map(|(name, id, project)| {
                            let tags: HashMap<String, String> = match project {
                                Some(p) => HashMap::from([
                                    (TAG_MANAGED.to_owned(), "lsk".to_owned()),
                                    (TAG_PROJECT.to_owned(), (*p).to_owned()),
                                ]),
                                None => HashMap::from([("team".to_owned(), "ops".to_owned())]),
                            };
                            apigateway::types::RestApi::builder()
                                .name(*name)
                                .id(*id)
                                .set_tags(Some(tags))
                                .build()
                        })
                        .collect(),
                ))
                .build()
        }));
}

/// API Gateway as the first deploy of [`APIS`] left it, but with POST /change proxying to
/// `change_function`. GET /images/{file} comes without its integration embedded, as some
/// API Gateways answer, so it is asked for.
fn apis_as_deployed(mocked: &mut Mocked, change_function: &'static str) {
    answer_rest_apis(mocked, &[("shop", API_ID, Some(PROJECT))]);
    let source = format!("arn:aws:execute-api:{REGION}:000000000000:{API_ID}/*");
    answer_policy(mocked, "make-change", &[("lsk-apigw-shop", &source)]);
    answer_policy(mocked, "images", &[("lsk-apigw-shop", &source)]);
    mocked.answers.apigateway.push(
        mock!(apigateway::Client::get_resources)
            .match_requests(|r| r.rest_api_id() == Some(API_ID))
            .then_output(move || {
                let resource =
                    |id: &str, path: &str| apigateway::types::Resource::builder().id(id).path(path);
                let proxy_to = |function: &str| {
                    apigateway::types::Method::builder()
                        .http_method("POST")
                        .authorization_type("NONE")
                        .method_integration(
                            apigateway::types::Integration::builder()
                                .r#type(apigateway::types::IntegrationType::AwsProxy)
                                .uri(api::integration_uri(REGION, function))
                                .build(),
                        )
                        .build()
                };
                apigateway::operation::get_resources::GetResourcesOutput::builder()
                    .items(resource("root", "/").build())
                    .items(
                        resource("change", "/change")
                            .resource_methods("POST", proxy_to(change_function))
                            .build(),
                    )
                    .items(resource("images", "/images").build())
                    .items(
                        resource("file", "/images/{file}")
                            .resource_methods(
                                "GET",
                                apigateway::types::Method::builder()
                                    .http_method("GET")
                                    .build(),
                            )
                            .build(),
                    )
                    .build()
            }),
    );
    mocked.answers.apigateway.push(
        mock!(apigateway::Client::get_integration)
            .match_requests(|r| {
                r.rest_api_id() == Some(API_ID)
                    && r.resource_id() == Some("file")
                    && r.http_method() == Some("GET")
            })
            .then_output(|| {
                apigateway::operation::get_integration::GetIntegrationOutput::builder()
                    .r#type(apigateway::types::IntegrationType::AwsProxy)
                    .uri(api::integration_uri(REGION, "images"))
                    .build()
            }),
    );
    mocked.answers.apigateway.push(
        mock!(apigateway::Client::get_stage)
            .match_requests(|r| r.rest_api_id() == Some(API_ID) && r.stage_name() == Some("Prod"))
            .then_output(|| {
                apigateway::operation::get_stage::GetStageOutput::builder()
                    .stage_name("Prod")
                    .deployment_id("dep1")
                    .build()
            }),
    );
}

#[tokio::test]
async fn a_second_deploy_of_unchanged_apis_writes_nothing() {
    let m = manifest(APIS);
    let mut mocked = Mocked::default();
    apis_as_deployed(&mut mocked, "make-change");
    forbid_api_writes(&mut mocked);
    let world = mocked.build();

    let result = deploy_apis(&world.clients, &m).await;

    world.assert_nothing_written(SECOND_DEPLOY);
    let changes = deployed(SECOND_DEPLOY, result);
    assert_all_unchanged(SECOND_DEPLOY, &changes);
    for line in [
        "api shop",
        "make-change from api shop",
        "images from api shop",
        "shop POST /change",
        "shop GET /images/{file}",
        "shop stage Prod",
    ] {
        change_of(&changes, line);
    }
}

#[tokio::test]
async fn a_route_to_another_function_is_reintegrated_and_the_stage_redeployed() {
    let m = manifest(APIS);
    let mut mocked = Mocked::default();
    apis_as_deployed(&mut mocked, "old-change");
    let integrated = mock!(apigateway::Client::put_integration)
        .match_requests(|r| {
            r.rest_api_id() == Some(API_ID)
                && r.resource_id() == Some("change")
                && r.http_method() == Some("POST")
                && r.r#type() == Some(&apigateway::types::IntegrationType::AwsProxy)
                && r.integration_http_method() == Some("POST")
                && r.uri() == Some(api::integration_uri(REGION, "make-change").as_str())
        })
        .then_output(|| {
            apigateway::operation::put_integration::PutIntegrationOutput::builder().build()
        });
    let redeployed = mock!(apigateway::Client::create_deployment)
        .match_requests(|r| r.rest_api_id() == Some(API_ID) && r.stage_name() == Some("Prod"))
        .then_output(|| {
            apigateway::operation::create_deployment::CreateDeploymentOutput::builder()
                .id("dep2")
                .build()
        });
    mocked.answers.apigateway.push(integrated.clone());
    mocked.answers.apigateway.push(redeployed.clone());
    forbid_api_writes(&mut mocked);
    let world = mocked.build();

    let result = deploy_apis(&world.clients, &m).await;

    assert_eq!(
        integrated.num_calls(),
        1,
        "`lsk deploy` would have left POST /change proxying to old-change"
    );
    assert_eq!(
        redeployed.num_calls(),
        1,
        "`lsk deploy` would have changed the route without deploying stage Prod, so curl would still reach old-change"
    );
    world.assert_writes(
        "`lsk deploy` of a route to another function",
        &["PutIntegration", "CreateDeployment"],
    );
    let changes = deployed("`lsk deploy` of a route to another function", result);
    assert_eq!(
        change_of(&changes, "shop POST /change"),
        &Change::Updated(vec!["function".into()])
    );
    assert_eq!(
        change_of(&changes, "shop GET /images/{file}"),
        &Change::Unchanged
    );
    assert_eq!(
        change_of(&changes, "shop stage Prod"),
        &Change::Updated(vec!["routes".into()])
    );
}

#[tokio::test]
async fn pruning_deletes_only_this_projects_apis() {
    let m = manifest(APIS);
    let mut mocked = Mocked::default();
    answer_rest_apis(
        &mut mocked,
        &[
            ("shop", API_ID, Some(PROJECT)),
            ("old-api", "old1", Some(PROJECT)),
            ("their-api", "their1", Some(OTHER_PROJECT)),
            ("hand-made", "hand1", None),
        ],
    );
    let deleted = mock!(apigateway::Client::delete_rest_api)
        .match_requests(|r| r.rest_api_id() == Some("old1"))
        .then_output(|| {
            apigateway::operation::delete_rest_api::DeleteRestApiOutput::builder().build()
        });
    let never = |id: &'static str| {
        refused(
            mock!(apigateway::Client::delete_rest_api)
                .match_requests(move |r| r.rest_api_id() == Some(id)),
        )
    };
    let kept = [
        (
            "API their-api, which lsk made for another project",
            never("their1"),
        ),
        ("API hand-made, which lsk did not make", never("hand1")),
        ("API shop, which the manifest lists", never(API_ID)),
    ];
    mocked.answers.apigateway.push(deleted.clone());
    for (_, never) in &kept {
        mocked.answers.apigateway.push(never.clone());
    }
    forbid_api_writes(&mut mocked);
    let world = mocked.build();

    let result = api::prune(&world.clients, &m, PROJECT).await;

    for (what, never) in &kept {
        assert_eq!(
            never.num_calls(),
            0,
            "`lsk deploy` would have deleted {what}"
        );
    }
    assert_eq!(
        deleted.num_calls(),
        1,
        "`lsk deploy` would have left API old-api, which lsk made for this project"
    );
    world.assert_writes(
        "`lsk deploy` pruning APIs (their-api is another project's, hand-made is not lsk's)",
        &["DeleteRestApi"],
    );
    let removed = deployed("`lsk deploy` pruning APIs", result);
    assert_eq!(removed, ["old-api"]);
}

// ---------------------------------------------------------------------------------------------
// S3 triggers: the bucket notification entries lsk owns (id prefix `lsk-`), S3's permission
// to invoke.
// ---------------------------------------------------------------------------------------------

const S3_TRIGGERS: &str = r#"
[buckets.uploads]
name = "lsk-uploads"

[buckets.archive]
name = "lsk-archive"

[functions.labeller]
package = "labeller"

[[functions.labeller.s3]]
bucket = "uploads"
prefix = "uploads/"
suffix = ".png"

[functions.audit]
package = "audit"
"#;

/// The S3 trigger kind as `apply` deploys it: with the buckets resolved, each function's S3
/// permissions (deployed with the function), then the buckets' notification entries.
async fn deploy_s3_triggers(
    clients: &Clients,
    manifest: &Manifest,
) -> Result<Vec<(String, Change)>, DeployError> {
    let mut resolved = resolved();
    for b in manifest.buckets.values() {
        resolved.buckets.insert(b.key.clone(), b.name.clone());
    }
    let mut changes = Vec::new();
    for f in manifest.functions.values() {
        changes.extend(s3_trigger::reconcile_permissions(clients, f, &resolved).await?);
    }
    changes.extend(s3_trigger::reconcile(clients, manifest, &resolved).await?);
    Ok(changes)
}

fn forbid_s3_trigger_writes(mocked: &mut Mocked) {
    forbid!(mocked, s3:
        put_bucket_notification_configuration => "PutBucketNotificationConfiguration",
    );
    forbid_permission_writes(mocked);
}

/// A notification entry invoking `function` for new objects under `prefix` ending in `.png`.
fn lambda_entry(id: &str, function: &str, prefix: &str) -> s3::types::LambdaFunctionConfiguration {
    let filter_rule = |name: s3::types::FilterRuleName, value: &str| {
        s3::types::FilterRule::builder()
            .name(name)
            .value(value)
            .build()
    };
    s3::types::LambdaFunctionConfiguration::builder()
        .id(id)
        .lambda_function_arn(aws::function_arn(REGION, function))
        .events(s3::types::Event::from("s3:ObjectCreated:*"))
        .filter(
            s3::types::NotificationConfigurationFilter::builder()
                .key(
                    s3::types::S3KeyFilter::builder()
                        .filter_rules(filter_rule(s3::types::FilterRuleName::Prefix, prefix))
                        .filter_rules(filter_rule(s3::types::FilterRuleName::Suffix, ".png"))
                        .build(),
                )
                .build(),
        )
        .build()
        .unwrap()
}

/// An entry someone added by hand: not lsk's.
fn hand_made_entry() -> s3::types::LambdaFunctionConfiguration {
    s3::types::LambdaFunctionConfiguration::builder()
        .id("manual-hook")
        .lambda_function_arn(aws::function_arn(REGION, "virus-scan"))
        .events(s3::types::Event::from("s3:ObjectCreated:*"))
        .build()
        .unwrap()
}

/// A queue entry someone added by hand.
fn hand_made_queue_entry() -> s3::types::QueueConfiguration {
    s3::types::QueueConfiguration::builder()
        .id("to-queue")
        .queue_arn(aws::queue_arn(REGION, "uploads-log"))
        .events(s3::types::Event::from("s3:ObjectRemoved:*"))
        .build()
        .unwrap()
}

/// GetBucketNotificationConfiguration of `bucket` answers `lambdas` and the hand-made queue
/// entry.
fn answer_notifications(
    mocked: &mut Mocked,
    bucket: &'static str,
    lambdas: Vec<s3::types::LambdaFunctionConfiguration>,
) {
    mocked.answers.s3.push(
        mock!(s3::Client::get_bucket_notification_configuration)
            .match_requests(move |r| r.bucket() == Some(bucket))
            .then_output(move || {
                s3::operation::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput::builder()
                    .set_lambda_function_configurations(Some(lambdas.clone()))
                    .queue_configurations(hand_made_queue_entry())
                    .build()
            }),
    );
}

/// The configurations PutBucketNotificationConfiguration wrote to a bucket, in order.
type Written = Arc<Mutex<Vec<s3::types::NotificationConfiguration>>>;

/// Answers PutBucketNotificationConfiguration of `bucket`, keeping what each call wrote.
fn accept_notifications(mocked: &mut Mocked, bucket: &'static str) -> Written {
    let written = Written::default();
    let keep = written.clone();
    mocked.answers.s3.push(
        mock!(s3::Client::put_bucket_notification_configuration)
            .match_requests(move |r| r.bucket() == Some(bucket))
            .then_compute_output(move |r| {
                keep.lock()
                    .unwrap()
                    .push(r.notification_configuration().cloned().unwrap_or_else(|| {
                        s3::types::NotificationConfiguration::builder().build()
                    }));
                s3::operation::put_bucket_notification_configuration::PutBucketNotificationConfigurationOutput::builder().build()
            }),
    );
    written
}

/// Fails, saying what a user would have lost or kept, unless `bucket` was written once with
/// the hand-made entries kept and lsk's entries exactly `lsk`.
fn assert_written_once(
    story: &str,
    bucket: &str,
    written: &Written,
    lsk: &[s3::types::LambdaFunctionConfiguration],
) {
    let written = written.lock().unwrap().clone();
    assert_eq!(
        written.len(),
        1,
        "{story} should have written {bucket}'s notifications once; wrote {written:?}"
    );
    let config = &written[0];
    let lambdas = config.lambda_function_configurations();
    assert!(
        lambdas.contains(&hand_made_entry()),
        "{story} would have dropped manual-hook, a notification lsk did not make, from {bucket}"
    );
    assert_eq!(
        config.queue_configurations(),
        [hand_made_queue_entry()],
        "{story} would have dropped the queue notification to-queue, which lsk did not make, from {bucket}"
    );
    let ours: Vec<_> = lambdas
        .iter()
        .filter(|c| c.id() != Some("manual-hook"))
        .cloned()
        .collect();
    assert_eq!(
        ours, lsk,
        "{story} would have left {bucket} with other lsk notifications than the manifest's"
    );
}

#[tokio::test]
async fn a_second_deploy_of_unchanged_s3_triggers_writes_nothing() {
    let m = manifest(S3_TRIGGERS);
    let mut mocked = Mocked::default();
    answer_policy(
        &mut mocked,
        "labeller",
        &[("lsk-s3-lsk-uploads", &aws::bucket_arn("lsk-uploads"))],
    );
    answer_no_policy(&mut mocked, "audit");
    answer_notifications(
        &mut mocked,
        "lsk-uploads",
        vec![
            hand_made_entry(),
            lambda_entry("lsk-labeller-0", "labeller", "uploads/"),
        ],
    );
    answer_notifications(&mut mocked, "lsk-archive", vec![]);
    forbid_s3_trigger_writes(&mut mocked);
    let world = mocked.build();

    let result = deploy_s3_triggers(&world.clients, &m).await;

    world.assert_nothing_written(SECOND_DEPLOY);
    let changes = deployed(SECOND_DEPLOY, result);
    assert_all_unchanged(SECOND_DEPLOY, &changes);
    for line in ["labeller from s3 lsk-uploads", "lsk-uploads -> labeller"] {
        change_of(&changes, line);
    }
}

#[tokio::test]
async fn a_changed_prefix_rewrites_the_entry_and_keeps_what_is_not_lsks() {
    let m = manifest(S3_TRIGGERS);
    let mut mocked = Mocked::default();
    answer_policy(
        &mut mocked,
        "labeller",
        &[("lsk-s3-lsk-uploads", &aws::bucket_arn("lsk-uploads"))],
    );
    answer_no_policy(&mut mocked, "audit");
    answer_notifications(
        &mut mocked,
        "lsk-uploads",
        vec![
            hand_made_entry(),
            lambda_entry("lsk-labeller-0", "labeller", "incoming/"),
        ],
    );
    answer_notifications(&mut mocked, "lsk-archive", vec![]);
    let written = accept_notifications(&mut mocked, "lsk-uploads");
    forbid_s3_trigger_writes(&mut mocked);
    let world = mocked.build();

    let result = deploy_s3_triggers(&world.clients, &m).await;

    assert_written_once(
        "`lsk deploy` of a new prefix",
        "lsk-uploads",
        &written,
        &[lambda_entry("lsk-labeller-0", "labeller", "uploads/")],
    );
    world.assert_writes(
        "`lsk deploy` of a new prefix",
        &["PutBucketNotificationConfiguration"],
    );
    let changes = deployed("`lsk deploy` of a new prefix", result);
    assert_eq!(
        change_of(&changes, "lsk-uploads -> labeller"),
        &Change::Updated(vec!["filter".into()])
    );
}

#[tokio::test]
async fn pruning_s3_triggers_removes_only_lsks_entries_and_statements() {
    let m = manifest(S3_TRIGGERS);
    let mut mocked = Mocked::default();
    // labeller once had a trigger on lsk-archive too; an SNS statement and one added by hand
    // are not the S3 trigger kind's.
    answer_policy(
        &mut mocked,
        "labeller",
        &[
            ("lsk-s3-lsk-uploads", &aws::bucket_arn("lsk-uploads")),
            ("lsk-s3-lsk-archive", &aws::bucket_arn("lsk-archive")),
            (
                "lsk-sns-image-ready",
                &aws::topic_arn(REGION, "image-ready"),
            ),
            ("manual-invoke", "arn:aws:s3:::somewhere-else"),
        ],
    );
    answer_no_policy(&mut mocked, "audit");
    // resizer's trigger is lsk's but no longer in the manifest.
    answer_notifications(
        &mut mocked,
        "lsk-uploads",
        vec![
            hand_made_entry(),
            lambda_entry("lsk-labeller-0", "labeller", "uploads/"),
            lambda_entry("lsk-resizer-0", "resizer", "big/"),
        ],
    );
    answer_notifications(&mut mocked, "lsk-archive", vec![]);
    let statement_removed = mock!(lambda::Client::remove_permission)
        .match_requests(|r| {
            r.function_name() == Some("labeller") && r.statement_id() == Some("lsk-s3-lsk-archive")
        })
        .then_output(|| {
            lambda::operation::remove_permission::RemovePermissionOutput::builder().build()
        });
    let never = |sid: &'static str| {
        refused(
            mock!(lambda::Client::remove_permission)
                .match_requests(move |r| r.statement_id() == Some(sid)),
        )
    };
    let kept = [
        (
            "S3's permission to invoke labeller from lsk-uploads, which the manifest still has",
            never("lsk-s3-lsk-uploads"),
        ),
        (
            "SNS's permission to invoke labeller, which is the topic kind's",
            never("lsk-sns-image-ready"),
        ),
        (
            "the permission manual-invoke, which lsk did not add",
            never("manual-invoke"),
        ),
    ];
    mocked.answers.lambda.push(statement_removed.clone());
    for (_, never) in &kept {
        mocked.answers.lambda.push(never.clone());
    }
    let written = accept_notifications(&mut mocked, "lsk-uploads");
    forbid_s3_trigger_writes(&mut mocked);
    let world = mocked.build();

    let result = deploy_s3_triggers(&world.clients, &m).await;

    for (what, never) in &kept {
        assert_eq!(
            never.num_calls(),
            0,
            "`lsk deploy` would have removed {what}"
        );
    }
    assert_eq!(
        statement_removed.num_calls(),
        1,
        "`lsk deploy` would have left S3 allowed to invoke labeller from lsk-archive"
    );
    assert_written_once(
        "`lsk deploy` pruning S3 triggers",
        "lsk-uploads",
        &written,
        &[lambda_entry("lsk-labeller-0", "labeller", "uploads/")],
    );
    world.assert_writes(
        "`lsk deploy` pruning S3 triggers (lsk-sns-* is the topic kind's, manual-* is not lsk's)",
        &["RemovePermission", "PutBucketNotificationConfiguration"],
    );
    let changes = deployed("`lsk deploy` pruning S3 triggers", result);
    assert_eq!(
        change_of(&changes, "lsk-uploads -> resizer"),
        &Change::Removed
    );
    assert_eq!(
        change_of(&changes, "labeller from s3 lsk-archive"),
        &Change::Removed
    );
    assert_eq!(
        change_of(&changes, "lsk-uploads -> labeller"),
        &Change::Unchanged
    );
}

// ---------------------------------------------------------------------------------------------
// State machines: Step Functions, with definitions whose references are resolved at deploy.
// ---------------------------------------------------------------------------------------------

const STATE_MACHINES: &str = r#"
[functions.labeller]
package = "labeller"

[state_machines.pipeline]
definition = "pipeline.asl.json"
"#;

const DEFINITION: &str = r#"{
  "StartAt": "Label",
  "States": {
    "Label": { "Type": "Task", "Resource": "${function.labeller.arn}", "End": true }
  }
}"#;

/// [`STATE_MACHINES`] with its definition file, in a directory of its own.
fn state_machine_project() -> (tempfile::TempDir, Manifest) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pipeline.asl.json"), DEFINITION).unwrap();
    let m = manifest_in(dir.path(), STATE_MACHINES);
    (dir, m)
}

/// The definition Step Functions holds when `function` is the task's resource, written its
/// own way.
fn stored_definition(function: &str) -> String {
    serde_json::json!({
        "States": {"Label": {"End": true, "Resource": aws::function_arn(REGION, function), "Type": "Task"}},
        "StartAt": "Label",
    })
    .to_string()
}

/// The state machine kind as `apply` deploys it: the machines, then pruning.
async fn deploy_state_machines(
    clients: &Clients,
    manifest: &Manifest,
) -> Result<Vec<(String, Change)>, DeployError> {
    let mut changes = state_machine::reconcile(clients, manifest, &resolved(), PROJECT).await?;
    for name in state_machine::prune(clients, manifest, PROJECT).await? {
        changes.push((name, Change::Removed));
    }
    Ok(changes)
}

fn forbid_state_machine_writes(mocked: &mut Mocked) {
    forbid!(mocked, sfn:
        create_state_machine => "CreateStateMachine",
        update_state_machine => "UpdateStateMachine",
        delete_state_machine => "DeleteStateMachine",
        tag_resource => "TagResource",
        untag_resource => "UntagResource",
    );
}

/// ListStateMachines answers `names`.
fn answer_state_machines(mocked: &mut Mocked, names: &'static [&'static str]) {
    mocked
        .answers
        .sfn
        .push(mock!(sfn::Client::list_state_machines).then_output(|| {
            sfn::operation::list_state_machines::ListStateMachinesOutput::builder()
                .set_state_machines(Some(
                    names
                        .iter()
                        .map(|n| {
                            sfn::types::StateMachineListItem::builder()
                                .name(*n)
                                .state_machine_arn(aws::state_machine_arn(REGION, n))
                                .r#type(sfn::types::StateMachineType::Standard)
                                .creation_date(aws_smithy_types::DateTime::from_secs(0))
                                .build()
                                .unwrap()
                        })
                        .collect(),
                ))
                .build()
                .unwrap()
        }));
}

/// Step Functions as the first deploy of [`STATE_MACHINES`] left it, but with the task on
/// `function`.
fn state_machines_as_deployed(mocked: &mut Mocked, function: &'static str) {
    mocked.answers.sfn.push(
        mock!(sfn::Client::describe_state_machine)
            .match_requests(|r| {
                r.state_machine_arn()
                    == Some("arn:aws:states:us-east-1:000000000000:stateMachine:pipeline")
            })
            .then_output(move || {
                sfn::operation::describe_state_machine::DescribeStateMachineOutput::builder()
                    .state_machine_arn(aws::state_machine_arn(REGION, "pipeline"))
                    .name("pipeline")
                    .status(sfn::types::StateMachineStatus::Active)
                    .definition(stored_definition(function))
                    .role_arn(aws::STATES_ROLE)
                    .r#type(sfn::types::StateMachineType::Standard)
                    .creation_date(aws_smithy_types::DateTime::from_secs(0))
                    .build()
                    .unwrap()
            }),
    );
    answer_state_machines(mocked, &["pipeline"]);
}

#[tokio::test]
async fn a_second_deploy_of_unchanged_state_machines_writes_nothing() {
    let (_dir, m) = state_machine_project();
    let mut mocked = Mocked::default();
    state_machines_as_deployed(&mut mocked, "labeller");
    forbid_state_machine_writes(&mut mocked);
    let world = mocked.build();

    let result = deploy_state_machines(&world.clients, &m).await;

    world.assert_nothing_written(SECOND_DEPLOY);
    let changes = deployed(SECOND_DEPLOY, result);
    assert_all_unchanged(SECOND_DEPLOY, &changes);
    change_of(&changes, "pipeline");
}

#[tokio::test]
async fn a_changed_definition_updates_the_machine_in_place() {
    let (_dir, m) = state_machine_project();
    let mut mocked = Mocked::default();
    state_machines_as_deployed(&mut mocked, "old-labeller");
    let updated = mock!(sfn::Client::update_state_machine)
        .match_requests(|r| {
            let sent: Option<serde_json::Value> =
                r.definition().and_then(|d| serde_json::from_str(d).ok());
            r.state_machine_arn()
                == Some("arn:aws:states:us-east-1:000000000000:stateMachine:pipeline")
                && sent == serde_json::from_str(&stored_definition("labeller")).ok()
        })
        .then_output(|| {
            sfn::operation::update_state_machine::UpdateStateMachineOutput::builder()
                .update_date(aws_smithy_types::DateTime::from_secs(1))
                .build()
                .unwrap()
        });
    mocked.answers.sfn.push(updated.clone());
    forbid_state_machine_writes(&mut mocked);
    let world = mocked.build();

    let result = deploy_state_machines(&world.clients, &m).await;

    assert_eq!(
        updated.num_calls(),
        1,
        "`lsk deploy` would have left pipeline calling old-labeller"
    );
    world.assert_writes("`lsk deploy` of a new definition", &["UpdateStateMachine"]);
    let changes = deployed("`lsk deploy` of a new definition", result);
    assert_eq!(
        change_of(&changes, "pipeline"),
        &Change::Updated(vec!["definition".into()])
    );
}

#[tokio::test]
async fn pruning_deletes_only_this_projects_state_machines() {
    let (_dir, m) = state_machine_project();
    let mut mocked = Mocked::default();
    answer_state_machines(
        &mut mocked,
        &["pipeline", "old-flow", "their-flow", "hand-flow"],
    );
    let tagged = |name: &'static str, tags: &'static [(&'static str, &'static str)]| {
        tags_rule!(sfn, aws::state_machine_arn(REGION, name), tags)
    };
    mocked.answers.sfn.push(tagged(
        "old-flow",
        &[(TAG_MANAGED, "lsk"), (TAG_PROJECT, PROJECT)],
    ));
    mocked.answers.sfn.push(tagged(
        "their-flow",
        &[(TAG_MANAGED, "lsk"), (TAG_PROJECT, OTHER_PROJECT)],
    ));
    mocked
        .answers
        .sfn
        .push(tagged("hand-flow", &[("team", "ops")]));
    let deleted = mock!(sfn::Client::delete_state_machine)
        .match_requests(|r| {
            r.state_machine_arn()
                == Some("arn:aws:states:us-east-1:000000000000:stateMachine:old-flow")
        })
        .then_output(|| {
            sfn::operation::delete_state_machine::DeleteStateMachineOutput::builder().build()
        });
    let never = |name: &'static str| {
        refused(
            mock!(sfn::Client::delete_state_machine).match_requests(move |r| {
                r.state_machine_arn() == Some(aws::state_machine_arn(REGION, name).as_str())
            }),
        )
    };
    let kept = [
        (
            "state machine their-flow, which lsk made for another project",
            never("their-flow"),
        ),
        (
            "state machine hand-flow, which lsk did not make",
            never("hand-flow"),
        ),
        (
            "state machine pipeline, which the manifest lists",
            never("pipeline"),
        ),
    ];
    mocked.answers.sfn.push(deleted.clone());
    for (_, never) in &kept {
        mocked.answers.sfn.push(never.clone());
    }
    forbid_state_machine_writes(&mut mocked);
    let world = mocked.build();

    let result = state_machine::prune(&world.clients, &m, PROJECT).await;

    for (what, never) in &kept {
        assert_eq!(
            never.num_calls(),
            0,
            "`lsk deploy` would have deleted {what}"
        );
    }

    assert_eq!(
        deleted.num_calls(),
        1,
        "`lsk deploy` would have left state machine old-flow, which lsk made for this project"
    );
    world.assert_writes(
        "`lsk deploy` pruning state machines (their-flow is another project's, hand-flow is not lsk's)",
        &["DeleteStateMachine"],
    );
    let removed = deployed("`lsk deploy` pruning state machines", result);
    assert_eq!(removed, ["old-flow"]);
}
