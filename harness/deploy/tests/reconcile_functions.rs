//! Proves, without LocalStack, that `lsk deploy` reconciles functions (and their code), function
//! URLs, SQS mappings, resource-policy statements, queues and buckets: a second deploy with
//! nothing changed writes nothing, pruning removes only what lsk made for this project, queues
//! and buckets are never deleted, and a difference sends exactly the write that fixes it.
//!
//! The AWS SDK clients are answered by `aws-smithy-mocks` rules. [`LocalStack`] holds the
//! answers of every read as the first deploy of [`STACK`] left things; a test changes one of
//! them and runs the kind's reconcile exactly as `lsk_deploy::apply` calls it. Every write any
//! of these kinds can send is answered by a counting rule ([`Writes`]), and every operation sent
//! at all is recorded ([`Calls`]); an operation no rule answers fails, so nothing unexpected
//! goes unseen. Every answer says the function is Active and its last update Successful, and
//! every mapping Enabled, so no wait ever pauses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

use aws_sdk_lambda::operation as lop;
use aws_sdk_lambda::types as lt;
use aws_sdk_s3::operation as s3op;
use aws_sdk_sqs::operation as sqsop;
use aws_sdk_sqs::types::QueueAttributeName;
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeSerializationInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use lsk_aws::Clients;
use lsk_build::package::{Package, code_sha256};
use lsk_deploy::kinds::{bucket, function, queue, s3_trigger, sqs_trigger, url};
use lsk_deploy::{Change, DeployOptions, Resolved, ResourceType};
use lsk_kit::progress::Progress;
use lsk_manifest::Manifest;

// ---------------------------------------------------------------------------------------------
// The stack, and LocalStack as its first deploy left it
// ---------------------------------------------------------------------------------------------

const REGION: &str = "us-east-1";
const PROJECT: &str = "shop";

/// One function with everything these kinds cover: code, configuration, a public URL with
/// CORS, an SQS trigger (so a mapping), an S3 trigger (so a resource-policy statement), two
/// queues (one the other's dead-letter queue) and a bucket.
const STACK: &str = r#"
[functions.resize]
package = "resize"
description = "Resizes uploaded images"
memory = 256
timeout = 10
environment = { NO_COLOR = "1", QUEUE_URL = "${queue.jobs.url}" }
url = { auth = "NONE", cors = { allow_origins = ["*"], allow_methods = ["GET", "POST"] } }

[[functions.resize.sqs]]
queue = "jobs"
batch_size = 5
report_batch_item_failures = true

[[functions.resize.s3]]
bucket = "uploads"
events = ["s3:ObjectCreated:*"]
prefix = "in/"

[queues.jobs]
visibility_timeout = 60
local = { visibility_timeout = 2 }
dead_letter = { queue = "jobs-dlq", max_receive_count = 3 }

[queues.jobs-dlq]
message_retention = 1209600

[buckets.uploads]
name = "shop-uploads"
"#;

/// The line of [`STACK`] that gives `resize` its URL.
const URL_LINE: &str = "url = { auth = \"NONE\", cors = { allow_origins = [\"*\"], allow_methods = [\"GET\", \"POST\"] } }\n";

const RESIZE_ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:resize";
const RESIZE_URL: &str = "http://resize1234.lambda-url.us-east-1.localhost.localstack.cloud:4566/";
const JOBS_URL: &str = "http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/jobs";
const JOBS_ARN: &str = "arn:aws:sqs:us-east-1:000000000000:jobs";
const DLQ_URL: &str = "http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/jobs-dlq";
const DLQ_ARN: &str = "arn:aws:sqs:us-east-1:000000000000:jobs-dlq";
const BUCKET: &str = "shop-uploads";
const BUCKET_ARN: &str = "arn:aws:s3:::shop-uploads";
/// The zip `lsk build` made of `resize`.
const ZIP: &[u8] = b"PK\x03\x04 resize: bootstrap";
/// The statement id of the public URL permission, and of S3's permission on `shop-uploads`.
const PUBLIC_SID: &str = "lsk-function-url-public";
const S3_SID: &str = "lsk-s3-shop-uploads";

/// A manifest from TOML, as `lsk deploy` reads `lsk.toml`.
fn manifest(toml: &str) -> Manifest {
    Manifest::parse(toml, Path::new("/shop/lsk.toml"))
        .unwrap_or_else(|e| panic!("the test's manifest is invalid: {e}"))
}

fn resize(m: &Manifest) -> &function::Function {
    &m.functions["resize"]
}

/// What `lsk build` hands the deploy for `resize`.
fn package() -> Package {
    Package {
        zip: ZIP.to_vec(),
        sha256: code_sha256(ZIP),
        build: Some("host".to_owned()),
    }
}

/// What `apply` resolves from the queues and buckets before it deploys functions.
fn resolved() -> Resolved {
    Resolved {
        queues: BTreeMap::from([
            (
                "jobs".to_owned(),
                (JOBS_URL.to_owned(), JOBS_ARN.to_owned()),
            ),
            (
                "jobs-dlq".to_owned(),
                (DLQ_URL.to_owned(), DLQ_ARN.to_owned()),
            ),
        ]),
        buckets: BTreeMap::from([("uploads".to_owned(), BUCKET.to_owned())]),
        region: REGION.to_owned(),
        ..Resolved::default()
    }
}

/// `resize`'s configuration as LocalStack reports it after the first deploy, settled.
fn resize_as_deployed() -> lop::get_function_configuration::GetFunctionConfigurationOutput {
    lop::get_function_configuration::GetFunctionConfigurationOutput::builder()
        .function_name("resize")
        .function_arn(RESIZE_ARN)
        .runtime(lt::Runtime::Providedal2023)
        .handler("bootstrap")
        .role("arn:aws:iam::000000000000:role/lambda-role")
        .code_size(ZIP.len() as i64)
        .code_sha256(code_sha256(ZIP))
        .memory_size(256)
        .timeout(10)
        .description("Resizes uploaded images")
        .environment(
            lt::EnvironmentResponse::builder()
                .variables("NO_COLOR", "1")
                .variables("QUEUE_URL", JOBS_URL)
                .build(),
        )
        .architectures(lt::Architecture::X8664)
        .state(lt::State::Active)
        .last_update_status(lt::LastUpdateStatus::Successful)
        .build()
}

/// GetFunctionConfiguration of `resize` answered with `answer` (every poll of a wait, too).
fn resize_config(
    answer: impl Fn() -> lop::get_function_configuration::GetFunctionConfigurationOutput
    + Send
    + Sync
    + 'static,
) -> Rule {
    mock!(aws_sdk_lambda::Client::get_function_configuration)
        .match_requests(|r| r.function_name() == Some("resize"))
        .then_output(answer)
}

/// The tags of a function: lsk's own, a project's, or none.
const LSK_SHOP: &[(&str, &str)] = &[("lsk:managed-by", "lsk"), ("lsk:project", PROJECT)];
const LSK_BLOG: &[(&str, &str)] = &[("lsk:managed-by", "lsk"), ("lsk:project", "blog")];
const HAND_MADE: &[(&str, &str)] = &[("team", "imaging")];

/// ListTags of `function` answered with `tags`.
fn tags_of(function: &str, tags: &[(&str, &str)]) -> Rule {
    let arn = lsk_aws::function_arn(REGION, function);
    let tags: Vec<(String, String)> = tags
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    mock!(aws_sdk_lambda::Client::list_tags)
        .match_requests(move |r| r.resource() == Some(arn.as_str()))
        .then_output(move || {
            let mut out = lop::list_tags::ListTagsOutput::builder();
            for (k, v) in &tags {
                out = out.tags(k, v);
            }
            out.build()
        })
}

/// ListFunctions answered with these functions.
fn functions_listed(names: &'static [&'static str]) -> Rule {
    mock!(aws_sdk_lambda::Client::list_functions).then_output(move || {
        let mut out = lop::list_functions::ListFunctionsOutput::builder();
        for name in names {
            out = out.functions(
                lt::FunctionConfiguration::builder()
                    .function_name(*name)
                    .function_arn(lsk_aws::function_arn(REGION, name))
                    .build(),
            );
        }
        out.build()
    })
}

/// `resize`'s function URL as LocalStack reports it: CORS methods in another order, and the
/// defaults LocalStack fills in, which mean the same as the manifest's.
fn resize_url_as_deployed(
    auth: lt::FunctionUrlAuthType,
) -> lop::get_function_url_config::GetFunctionUrlConfigOutput {
    lop::get_function_url_config::GetFunctionUrlConfigOutput::builder()
        .function_url(RESIZE_URL)
        .function_arn(RESIZE_ARN)
        .auth_type(auth)
        .cors(
            lt::Cors::builder()
                .allow_origins("*")
                .allow_methods("POST")
                .allow_methods("GET")
                .allow_credentials(false)
                .max_age(0)
                .build(),
        )
        .creation_time("2025-01-01T00:00:00.000+0000")
        .last_modified_time("2025-01-01T00:00:00.000+0000")
        .build()
        .expect("a complete GetFunctionUrlConfig answer")
}

fn resize_url(
    answer: impl Fn() -> lop::get_function_url_config::GetFunctionUrlConfigOutput
    + Send
    + Sync
    + 'static,
) -> Rule {
    mock!(aws_sdk_lambda::Client::get_function_url_config)
        .match_requests(|r| r.function_name() == Some("resize"))
        .then_output(answer)
}

/// One statement of a resource policy: its id and, for a service's statement, the source ARN.
struct Statement {
    sid: &'static str,
    principal: &'static str,
    source: Option<&'static str>,
}

const PUBLIC_URL: Statement = Statement {
    sid: PUBLIC_SID,
    principal: "*",
    source: None,
};
const FROM_UPLOADS: Statement = Statement {
    sid: S3_SID,
    principal: "s3.amazonaws.com",
    source: Some(BUCKET_ARN),
};

/// GetPolicy's JSON for `resize` with these statements, as Lambda writes them.
fn policy_json(statements: &[Statement]) -> String {
    let statements: Vec<serde_json::Value> = statements
        .iter()
        .map(|s| {
            let mut st = serde_json::json!({
                "Sid": s.sid,
                "Effect": "Allow",
                "Principal": if s.principal == "*" {
                    serde_json::json!("*")
                } else {
                    serde_json::json!({ "Service": s.principal })
                },
                "Action": if s.principal == "*" { "lambda:InvokeFunctionUrl" } else { "lambda:InvokeFunction" },
                "Resource": RESIZE_ARN,
            });
            st["Condition"] = match s.source {
                Some(arn) => serde_json::json!({ "ArnLike": { "AWS:SourceArn": arn } }),
                None => serde_json::json!({ "StringEquals": { "lambda:FunctionUrlAuthType": "NONE" } }),
            };
            st
        })
        .collect();
    serde_json::json!({ "Version": "2012-10-17", "Id": "default", "Statement": statements })
        .to_string()
}

/// GetPolicy of `resize` answered with these statements.
fn resize_policy(statements: &[Statement]) -> Rule {
    let json = policy_json(statements);
    mock!(aws_sdk_lambda::Client::get_policy)
        .match_requests(|r| r.function_name() == Some("resize"))
        .then_output(move || {
            lop::get_policy::GetPolicyOutput::builder()
                .policy(&json)
                .build()
        })
}

/// An event source mapping as LocalStack lists it.
fn mapping(
    uuid: &str,
    function: &str,
    queue_arn: &str,
    batch_size: i32,
    state: &str,
) -> lt::EventSourceMappingConfiguration {
    lt::EventSourceMappingConfiguration::builder()
        .uuid(uuid)
        .function_arn(lsk_aws::function_arn(REGION, function))
        .event_source_arn(queue_arn)
        .batch_size(batch_size)
        .maximum_batching_window_in_seconds(0)
        .function_response_types(lt::FunctionResponseType::ReportBatchItemFailures)
        .state(state)
        .build()
}

/// ListEventSourceMappings of `function` answered with `mappings`.
fn mappings_of(
    function: &'static str,
    mappings: impl Fn() -> Vec<lt::EventSourceMappingConfiguration> + Send + Sync + 'static,
) -> Rule {
    mock!(aws_sdk_lambda::Client::list_event_source_mappings)
        .match_requests(move |r| r.function_name() == Some(function))
        .then_output(move || {
            lop::list_event_source_mappings::ListEventSourceMappingsOutput::builder()
                .set_event_source_mappings(Some(mappings()))
                .build()
        })
}

/// GetQueueAttributes of the queue at `url` answered with `attributes`.
fn queue_attributes(
    url: &'static str,
    attributes: &'static [(&'static str, &'static str)],
) -> Rule {
    mock!(aws_sdk_sqs::Client::get_queue_attributes)
        .match_requests(move |r| r.queue_url() == Some(url))
        .then_output(move || {
            let mut out = sqsop::get_queue_attributes::GetQueueAttributesOutput::builder();
            for (k, v) in attributes {
                out = out.attributes(QueueAttributeName::from(*k), *v);
            }
            out.build()
        })
}

/// `jobs`'s attributes as SQS reports them: the redrive policy with its count as a string and
/// its keys in another order, and attributes the manifest does not set.
const JOBS_ATTRIBUTES: &[(&str, &str)] = &[
    ("VisibilityTimeout", "2"),
    ("MessageRetentionPeriod", "345600"),
    (
        "RedrivePolicy",
        r#"{"maxReceiveCount": "3", "deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:jobs-dlq"}"#,
    ),
    ("QueueArn", JOBS_ARN),
    ("DelaySeconds", "0"),
    ("ApproximateNumberOfMessages", "7"),
];
const DLQ_ATTRIBUTES: &[(&str, &str)] = &[
    ("VisibilityTimeout", "30"),
    ("MessageRetentionPeriod", "1209600"),
    ("QueueArn", DLQ_ARN),
];

/// A bucket notification entry for a function.
fn notification(
    id: &str,
    function_arn: &str,
    prefix: &str,
) -> aws_sdk_s3::types::LambdaFunctionConfiguration {
    use aws_sdk_s3::types as st;
    st::LambdaFunctionConfiguration::builder()
        .id(id)
        .lambda_function_arn(function_arn)
        .events(st::Event::from("s3:ObjectCreated:*"))
        .filter(
            st::NotificationConfigurationFilter::builder()
                .key(
                    st::S3KeyFilter::builder()
                        .filter_rules(
                            st::FilterRule::builder()
                                .name(st::FilterRuleName::Prefix)
                                .value(prefix)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .build()
        .expect("a complete notification entry")
}

/// The answers of every read, as LocalStack holds [`STACK`] after its first deploy. Besides
/// `resize`, LocalStack has a function of another lsk project and one lsk did not make.
fn first_deploy() -> Vec<(Service, Rule)> {
    use aws_sdk_lambda::Client as Lambda;
    use aws_sdk_s3::Client as S3;
    use aws_sdk_sqs::Client as Sqs;
    let build_tag: &[(&str, &str)] = &[
        ("lsk:managed-by", "lsk"),
        ("lsk:project", PROJECT),
        ("lsk:build", "host"),
        ("team", "imaging"),
    ];
    vec![
        // Functions.
        (Service::Lambda, resize_config(resize_as_deployed)),
        (Service::Lambda, tags_of("resize", build_tag)),
        (
            Service::Lambda,
            functions_listed(&["resize", "blog-render", "hand-made"]),
        ),
        (Service::Lambda, tags_of("blog-render", LSK_BLOG)),
        (Service::Lambda, tags_of("hand-made", HAND_MADE)),
        // The URL and the policy.
        (
            Service::Lambda,
            resize_url(|| resize_url_as_deployed(lt::FunctionUrlAuthType::None)),
        ),
        (Service::Lambda, resize_policy(&[PUBLIC_URL, FROM_UPLOADS])),
        // SQS mappings, settled.
        (
            Service::Lambda,
            mappings_of("resize", || {
                vec![mapping("u-jobs", "resize", JOBS_ARN, 5, "Enabled")]
            }),
        ),
        // Other functions have none.
        (
            Service::Lambda,
            mock!(Lambda::list_event_source_mappings).then_output(|| {
                lop::list_event_source_mappings::ListEventSourceMappingsOutput::builder().build()
            }),
        ),
        (
            Service::Lambda,
            mock!(Lambda::get_event_source_mapping).then_output(|| {
                lop::get_event_source_mapping::GetEventSourceMappingOutput::builder()
                    .state("Enabled")
                    .build()
            }),
        ),
        // Queues.
        (
            Service::Sqs,
            mock!(Sqs::get_queue_url)
                .match_requests(|r| r.queue_name() == Some("jobs"))
                .then_output(|| {
                    sqsop::get_queue_url::GetQueueUrlOutput::builder()
                        .queue_url(JOBS_URL)
                        .build()
                }),
        ),
        (
            Service::Sqs,
            mock!(Sqs::get_queue_url)
                .match_requests(|r| r.queue_name() == Some("jobs-dlq"))
                .then_output(|| {
                    sqsop::get_queue_url::GetQueueUrlOutput::builder()
                        .queue_url(DLQ_URL)
                        .build()
                }),
        ),
        (Service::Sqs, queue_attributes(JOBS_URL, JOBS_ATTRIBUTES)),
        (Service::Sqs, queue_attributes(DLQ_URL, DLQ_ATTRIBUTES)),
        // The bucket and its notification.
        (
            Service::S3,
            mock!(S3::head_bucket)
                .match_requests(|r| r.bucket() == Some(BUCKET))
                .then_output(|| s3op::head_bucket::HeadBucketOutput::builder().build()),
        ),
        (
            Service::S3,
            mock!(S3::get_bucket_notification_configuration)
                .match_requests(|r| r.bucket() == Some(BUCKET))
                .then_output(|| {
                    s3op::get_bucket_notification_configuration::GetBucketNotificationConfigurationOutput::builder()
                        .lambda_function_configurations(notification("lsk-resize-0", RESIZE_ARN, "in/"))
                        .build()
                }),
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Mocked clients: answers, counted writes, and a record of every call
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    Lambda,
    Sqs,
    S3,
}

/// Every operation the clients sent, in order, recorded before any rule answers it.
#[derive(Debug, Clone, Default)]
struct Calls(Arc<Mutex<Vec<String>>>);

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "reconcile_functions::Calls"
    }

    // Not `read_before_execution`: a client's interceptors see that before the operation's
    // configuration, which names the operation, is applied.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg
            .load::<Metadata>()
            .map_or_else(|| "(unknown operation)".to_owned(), |m| m.name().to_owned());
        self.0.lock().expect("calls").push(operation);
        Ok(())
    }
}

impl Calls {
    fn all(&self) -> Vec<String> {
        self.0.lock().expect("calls").clone()
    }

    /// The operations that change something: everything but Get*, List* and Head*.
    fn writes(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .filter(|op| !["Get", "List", "Head"].iter().any(|p| op.starts_with(p)))
            .collect()
    }

    fn count(&self, operation: &str) -> usize {
        self.all().iter().filter(|op| *op == operation).count()
    }
}

/// Every write these kinds can send, each answered with success by a rule of its own, which
/// counts its calls. A test's own rule for an expected write goes before these, so these count
/// only writes nobody expected.
struct Writes(Vec<(&'static str, Service, Rule)>);

impl Writes {
    fn every() -> Writes {
        use aws_sdk_lambda::Client as Lambda;
        use aws_sdk_s3::Client as S3;
        use aws_sdk_sqs::Client as Sqs;
        let url_config = |auth: lt::FunctionUrlAuthType| {
            lop::create_function_url_config::CreateFunctionUrlConfigOutput::builder()
                .function_url(RESIZE_URL)
                .function_arn(RESIZE_ARN)
                .auth_type(auth)
                .creation_time("2025-01-01T00:00:00.000+0000")
                .build()
                .expect("a complete CreateFunctionUrlConfig answer")
        };
        Writes(vec![
            (
                "CreateFunction",
                Service::Lambda,
                mock!(Lambda::create_function).then_output(|| {
                    lop::create_function::CreateFunctionOutput::builder().build()
                }),
            ),
            (
                "UpdateFunctionCode",
                Service::Lambda,
                mock!(Lambda::update_function_code).then_output(|| {
                    lop::update_function_code::UpdateFunctionCodeOutput::builder().build()
                }),
            ),
            (
                "UpdateFunctionConfiguration",
                Service::Lambda,
                mock!(Lambda::update_function_configuration).then_output(|| {
                    lop::update_function_configuration::UpdateFunctionConfigurationOutput::builder()
                        .build()
                }),
            ),
            (
                "TagResource",
                Service::Lambda,
                mock!(Lambda::tag_resource)
                    .then_output(|| lop::tag_resource::TagResourceOutput::builder().build()),
            ),
            (
                "UntagResource",
                Service::Lambda,
                mock!(Lambda::untag_resource)
                    .then_output(|| lop::untag_resource::UntagResourceOutput::builder().build()),
            ),
            (
                "DeleteFunction",
                Service::Lambda,
                mock!(Lambda::delete_function)
                    .then_output(|| lop::delete_function::DeleteFunctionOutput::builder().build()),
            ),
            (
                "CreateFunctionUrlConfig",
                Service::Lambda,
                mock!(Lambda::create_function_url_config)
                    .then_output(move || url_config(lt::FunctionUrlAuthType::None)),
            ),
            (
                "UpdateFunctionUrlConfig",
                Service::Lambda,
                mock!(Lambda::update_function_url_config).then_output(|| {
                    lop::update_function_url_config::UpdateFunctionUrlConfigOutput::builder()
                        .function_url(RESIZE_URL)
                        .function_arn(RESIZE_ARN)
                        .auth_type(lt::FunctionUrlAuthType::None)
                        .creation_time("2025-01-01T00:00:00.000+0000")
                        .last_modified_time("2025-01-01T00:00:00.000+0000")
                        .build()
                        .expect("a complete UpdateFunctionUrlConfig answer")
                }),
            ),
            (
                "DeleteFunctionUrlConfig",
                Service::Lambda,
                mock!(Lambda::delete_function_url_config).then_output(|| {
                    lop::delete_function_url_config::DeleteFunctionUrlConfigOutput::builder()
                        .build()
                }),
            ),
            (
                "AddPermission",
                Service::Lambda,
                mock!(Lambda::add_permission)
                    .then_output(|| lop::add_permission::AddPermissionOutput::builder().build()),
            ),
            (
                "RemovePermission",
                Service::Lambda,
                mock!(Lambda::remove_permission).then_output(|| {
                    lop::remove_permission::RemovePermissionOutput::builder().build()
                }),
            ),
            (
                "CreateEventSourceMapping",
                Service::Lambda,
                mock!(Lambda::create_event_source_mapping).then_output(|| {
                    lop::create_event_source_mapping::CreateEventSourceMappingOutput::builder()
                        .build()
                }),
            ),
            (
                "UpdateEventSourceMapping",
                Service::Lambda,
                mock!(Lambda::update_event_source_mapping).then_output(|| {
                    lop::update_event_source_mapping::UpdateEventSourceMappingOutput::builder()
                        .build()
                }),
            ),
            (
                "DeleteEventSourceMapping",
                Service::Lambda,
                mock!(Lambda::delete_event_source_mapping).then_output(|| {
                    lop::delete_event_source_mapping::DeleteEventSourceMappingOutput::builder()
                        .build()
                }),
            ),
            (
                "CreateQueue",
                Service::Sqs,
                mock!(Sqs::create_queue).then_output(|| {
                    sqsop::create_queue::CreateQueueOutput::builder()
                        .queue_url(JOBS_URL)
                        .build()
                }),
            ),
            (
                "SetQueueAttributes",
                Service::Sqs,
                mock!(Sqs::set_queue_attributes).then_output(|| {
                    sqsop::set_queue_attributes::SetQueueAttributesOutput::builder().build()
                }),
            ),
            (
                "DeleteQueue",
                Service::Sqs,
                mock!(Sqs::delete_queue)
                    .then_output(|| sqsop::delete_queue::DeleteQueueOutput::builder().build()),
            ),
            (
                "PurgeQueue",
                Service::Sqs,
                mock!(Sqs::purge_queue)
                    .then_output(|| sqsop::purge_queue::PurgeQueueOutput::builder().build()),
            ),
            (
                "TagQueue",
                Service::Sqs,
                mock!(Sqs::tag_queue)
                    .then_output(|| sqsop::tag_queue::TagQueueOutput::builder().build()),
            ),
            (
                "CreateBucket",
                Service::S3,
                mock!(S3::create_bucket)
                    .then_output(|| s3op::create_bucket::CreateBucketOutput::builder().build()),
            ),
            (
                "DeleteBucket",
                Service::S3,
                mock!(S3::delete_bucket)
                    .then_output(|| s3op::delete_bucket::DeleteBucketOutput::builder().build()),
            ),
            (
                "PutBucketTagging",
                Service::S3,
                mock!(S3::put_bucket_tagging).then_output(|| {
                    s3op::put_bucket_tagging::PutBucketTaggingOutput::builder().build()
                }),
            ),
            (
                "PutBucketNotificationConfiguration",
                Service::S3,
                mock!(S3::put_bucket_notification_configuration).then_output(|| {
                    s3op::put_bucket_notification_configuration::PutBucketNotificationConfigurationOutput::builder()
                        .build()
                }),
            ),
        ])
    }
}

/// A stand-in for LocalStack: the test's own answers first, then those of [`first_deploy`],
/// then [`Writes`]. Rules are matched in that order (`RuleMode::MatchAny`:
/// the first rule whose type and `match_requests` fit answers). An operation no rule answers
/// goes to the mock HTTP client, whose 418 makes the call fail.
struct LocalStack {
    own: Vec<(Service, Rule)>,
    base: Vec<(Service, Rule)>,
}

impl LocalStack {
    /// LocalStack as the first deploy of [`STACK`] left it.
    fn as_first_deployed() -> LocalStack {
        LocalStack {
            own: Vec::new(),
            base: first_deploy(),
        }
    }

    fn lambda(mut self, rule: &Rule) -> Self {
        self.own.push((Service::Lambda, rule.clone()));
        self
    }

    fn sqs(mut self, rule: &Rule) -> Self {
        self.own.push((Service::Sqs, rule.clone()));
        self
    }

    fn s3(mut self, rule: &Rule) -> Self {
        self.own.push((Service::S3, rule.clone()));
        self
    }

    /// The clients a deploy gets, every one of them mocked (a call to a service these kinds do
    /// not use is recorded and fails), and the record of what they send.
    fn connect(self, writes: &Writes) -> (Clients, Calls) {
        let calls = Calls::default();
        let rules: Vec<(Service, Rule)> = self
            .own
            .into_iter()
            .chain(self.base)
            .chain(writes.0.iter().map(|(_, s, r)| (*s, r.clone())))
            .collect();
        let answers = |service: Option<Service>| {
            let mut answers = MockResponseInterceptor::new()
                .rule_mode(RuleMode::MatchAny)
                .allow_passthrough();
            for (_, rule) in rules.iter().filter(|(s, _)| Some(*s) == service) {
                answers = answers.with_rule(rule);
            }
            answers
        };
        // The deploy's own configuration (region, credentials); only the HTTP client differs.
        let sdk = lsk_aws::sdk_config("http://localhost.localstack.cloud:4566", REGION);
        macro_rules! client {
            ($sdk:ident, $builder:expr, $service:expr) => {
                $sdk::Client::from_conf(
                    $builder
                        .http_client(create_mock_http_client())
                        .retry_config($sdk::config::retry::RetryConfig::disabled())
                        .interceptor(calls.clone())
                        .interceptor(answers($service))
                        .build(),
                )
            };
        }
        let clients = Clients {
            lambda: client!(
                aws_sdk_lambda,
                aws_sdk_lambda::config::Builder::from(&sdk),
                Some(Service::Lambda)
            ),
            sqs: client!(
                aws_sdk_sqs,
                aws_sdk_sqs::config::Builder::from(&sdk),
                Some(Service::Sqs)
            ),
            s3: client!(
                aws_sdk_s3,
                lsk_aws::s3_config(&sdk).to_builder(),
                Some(Service::S3)
            ),
            logs: client!(
                aws_sdk_cloudwatchlogs,
                aws_sdk_cloudwatchlogs::config::Builder::from(&sdk),
                None
            ),
            sns: client!(aws_sdk_sns, aws_sdk_sns::config::Builder::from(&sdk), None),
            events: client!(
                aws_sdk_eventbridge,
                aws_sdk_eventbridge::config::Builder::from(&sdk),
                None
            ),
            apigateway: client!(
                aws_sdk_apigateway,
                aws_sdk_apigateway::config::Builder::from(&sdk),
                None
            ),
            sfn: client!(aws_sdk_sfn, aws_sdk_sfn::config::Builder::from(&sdk), None),
            region: REGION.to_owned(),
            port: 4566,
        };
        (clients, calls)
    }
}

/// Asserts the writes sent were exactly `expected` (operation names, in order), each answered
/// by a test's own rule (so with the parameters it checks). `story` is what the user did.
fn assert_writes(story: &str, calls: &Calls, writes: &Writes, expected: &[&str]) {
    for (operation, _, rule) in &writes.0 {
        assert_eq!(
            rule.num_calls(),
            0,
            "{story} would have called {operation}{} (every call: {:?})",
            if expected.contains(operation) {
                ", but not with the parameters expected"
            } else {
                ""
            },
            calls.all()
        );
    }
    let sent = calls.writes();
    assert_eq!(
        sent,
        expected,
        "{story} would have sent {sent:?}, not {expected:?} (every call: {:?})",
        calls.all()
    );
}

/// Asserts what the deploy reports (the lines `lsk deploy` prints).
fn assert_reported<T: std::fmt::Debug + PartialEq<W>, W: std::fmt::Debug>(
    story: &str,
    got: T,
    want: W,
) {
    assert!(
        got == want,
        "{story} would have reported {got:?}, not {want:?}"
    );
}

/// The result of a reconcile, which must have succeeded.
fn ok<T, E: std::fmt::Display>(story: &str, calls: &Calls, result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| panic!("{story} failed: {e} (every call: {:?})", calls.all()))
}

const AGAIN: &str = "a second `lsk deploy` with nothing changed";

// ---------------------------------------------------------------------------------------------
// function (and its code)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_unchanged_function_is_neither_uploaded_nor_reconfigured() {
    let m = manifest(STACK);
    let package = package();
    let desired = lsk_deploy::desired_function(resize(&m), &package, &resolved(), PROJECT)
        .expect("references resolve");
    let writes = Writes::every();
    let (clients, calls) = LocalStack::as_first_deployed().connect(&writes);

    let change = function::ensure_function(&clients, &desired, &package).await;

    assert_writes(AGAIN, &calls, &writes, &[]);
    assert_reported(AGAIN, ok(AGAIN, &calls, change), Change::Unchanged);
    // The code's hash comes from GetFunctionConfiguration: GetFunction (a presigned code URL,
    // costly in LocalStack) is asked only for hot-reload code.
    assert_eq!(calls.all(), ["GetFunctionConfiguration", "ListTags"]);
}

#[tokio::test]
async fn a_function_whose_code_changed_gets_exactly_its_new_zip_uploaded() {
    let story = "a deploy after a code change";
    let m = manifest(STACK);
    let package = package();
    let desired = lsk_deploy::desired_function(resize(&m), &package, &resolved(), PROJECT)
        .expect("references resolve");
    let older_build = resize_config(|| {
        let mut out = resize_as_deployed();
        out.code_sha256 = Some(code_sha256(b"the previous build"));
        out
    });
    let upload = mock!(aws_sdk_lambda::Client::update_function_code)
        .match_requests(|r| {
            r.function_name() == Some("resize")
                && r.zip_file().map(|z| z.as_ref()) == Some(ZIP)
                && r.architectures() == [lt::Architecture::X8664]
        })
        .then_output(|| lop::update_function_code::UpdateFunctionCodeOutput::builder().build());
    let writes = Writes::every();
    let (clients, calls) = LocalStack::as_first_deployed()
        .lambda(&older_build)
        .lambda(&upload)
        .connect(&writes);

    let change = function::ensure_function(&clients, &desired, &package).await;

    assert_eq!(
        upload.num_calls(),
        1,
        "{story} would not have uploaded the new zip"
    );
    assert_writes(story, &calls, &writes, &["UpdateFunctionCode"]);
    assert_reported(
        story,
        ok(story, &calls, change),
        Change::Updated(vec!["code".into()]),
    );
    // The upload is waited for (LastUpdateStatus Successful at once: no pause).
    assert_eq!(calls.count("GetFunctionConfiguration"), 2);
}

#[tokio::test]
async fn a_function_whose_memory_changed_gets_one_configuration_update_and_no_upload() {
    let story = "a deploy after `memory` changed in lsk.toml";
    let m = manifest(STACK);
    let package = package();
    let desired = lsk_deploy::desired_function(resize(&m), &package, &resolved(), PROJECT)
        .expect("references resolve");
    let smaller = resize_config(|| {
        let mut out = resize_as_deployed();
        out.memory_size = Some(128);
        out
    });
    let reconfigure = mock!(aws_sdk_lambda::Client::update_function_configuration)
        .match_requests(|r| {
            r.function_name() == Some("resize")
                && r.memory_size() == Some(256)
                && r.timeout() == Some(10)
                && r.environment()
                    .and_then(|e| e.variables())
                    .is_some_and(|v| {
                        v.len() == 2 && v["QUEUE_URL"] == JOBS_URL && v["NO_COLOR"] == "1"
                    })
        })
        .then_output(|| {
            lop::update_function_configuration::UpdateFunctionConfigurationOutput::builder().build()
        });
    let writes = Writes::every();
    let (clients, calls) = LocalStack::as_first_deployed()
        .lambda(&smaller)
        .lambda(&reconfigure)
        .connect(&writes);

    let change = function::ensure_function(&clients, &desired, &package).await;

    assert_eq!(
        reconfigure.num_calls(),
        1,
        "{story} would not have set memory 256"
    );
    assert_writes(story, &calls, &writes, &["UpdateFunctionConfiguration"]);
    assert_reported(
        story,
        ok(story, &calls, change),
        Change::Updated(vec!["memory".into()]),
    );
}

#[tokio::test]
async fn a_missing_function_is_created_with_its_zip_and_lsks_tags() {
    let story = "a first `lsk deploy`";
    let m = manifest(STACK);
    let package = package();
    let desired = lsk_deploy::desired_function(resize(&m), &package, &resolved(), PROJECT)
        .expect("references resolve");
    // Not there; once created, Active at the first poll.
    let missing_then_active = mock!(aws_sdk_lambda::Client::get_function_configuration)
        .match_requests(|r| r.function_name() == Some("resize"))
        .sequence()
        .error(|| {
            lop::get_function_configuration::GetFunctionConfigurationError::ResourceNotFoundException(
                lt::error::ResourceNotFoundException::builder()
                    .message("Function not found: resize")
                    .build(),
            )
        })
        .output(resize_as_deployed)
        .repeatedly()
        .build();
    let create = mock!(aws_sdk_lambda::Client::create_function)
        .match_requests(|r| {
            let tags = r.tags().cloned().unwrap_or_default();
            r.function_name() == Some("resize")
                && r.code().and_then(|c| c.zip_file()).map(|z| z.as_ref()) == Some(ZIP)
                && r.runtime() == Some(&lt::Runtime::Providedal2023)
                && r.handler() == Some("bootstrap")
                && r.memory_size() == Some(256)
                && r.architectures() == [lt::Architecture::X8664]
                && tags.get("lsk:managed-by").map(String::as_str) == Some("lsk")
                && tags.get("lsk:project").map(String::as_str) == Some(PROJECT)
        })
        .then_output(|| lop::create_function::CreateFunctionOutput::builder().build());
    let writes = Writes::every();
    let (clients, calls) = LocalStack::as_first_deployed()
        .lambda(&missing_then_active)
        .lambda(&create)
        .connect(&writes);

    let change = function::ensure_function(&clients, &desired, &package).await;

    assert_eq!(
        create.num_calls(),
        1,
        "{story} would not have created resize with its zip and lsk's tags"
    );
    assert_writes(story, &calls, &writes, &["CreateFunction"]);
    assert_reported(story, ok(story, &calls, change), Change::Created);
}

#[tokio::test]
async fn pruning_deletes_only_this_projects_functions_with_their_mappings() {
    let story = "a deploy after `old-report` was removed from lsk.toml";
    let m = manifest(STACK);
    // LocalStack: resize (in the manifest), old-report (lsk's, this project's, no longer in the
    // manifest), blog-render (lsk's, project blog's) and hand-made (not lsk's).
    let listed = functions_listed(&["resize", "old-report", "blog-render", "hand-made"]);
    let old_report_tags = tags_of("old-report", LSK_SHOP);
    let reports_arn = lsk_aws::queue_arn(REGION, "reports");
    let old_mappings = mappings_of("old-report", move || {
        vec![mapping("m-old", "old-report", &reports_arn, 10, "Enabled")]
    });
    let others_mappings = [("blog-render", "m-blog"), ("hand-made", "m-hand")]
        .map(|(f, uuid)| mappings_of(f, move || vec![mapping(uuid, f, JOBS_ARN, 10, "Enabled")]));
    let delete_mapping = mock!(aws_sdk_lambda::Client::delete_event_source_mapping)
        .match_requests(|r| r.uuid() == Some("m-old"))
        .then_output(|| {
            lop::delete_event_source_mapping::DeleteEventSourceMappingOutput::builder().build()
        });
    let delete = |name: &'static str| {
        mock!(aws_sdk_lambda::Client::delete_function)
            .match_requests(move |r| r.function_name() == Some(name))
            .then_output(|| lop::delete_function::DeleteFunctionOutput::builder().build())
    };
    let (delete_old, delete_resize, delete_blog, delete_hand_made) = (
        delete("old-report"),
        delete("resize"),
        delete("blog-render"),
        delete("hand-made"),
    );
    let writes = Writes::every();
    let mut stack = LocalStack::as_first_deployed()
        .lambda(&listed)
        .lambda(&old_report_tags)
        .lambda(&old_mappings)
        .lambda(&delete_mapping)
        .lambda(&delete_old)
        .lambda(&delete_resize)
        .lambda(&delete_blog)
        .lambda(&delete_hand_made);
    for rule in &others_mappings {
        stack = stack.lambda(rule);
    }
    let (clients, calls) = stack.connect(&writes);

    // As `apply` calls it: the manifest's functions are kept.
    let in_manifest: BTreeSet<String> = m.functions.keys().cloned().collect();
    let removed = function::prune(&clients, &in_manifest, PROJECT).await;

    assert_eq!(
        delete_blog.num_calls(),
        0,
        "{story} would have deleted blog-render, a function of the lsk project `blog`"
    );
    assert_eq!(
        delete_hand_made.num_calls(),
        0,
        "{story} would have deleted hand-made, a function lsk did not make"
    );
    assert_eq!(
        delete_resize.num_calls(),
        0,
        "{story} would have deleted resize, which lsk.toml still lists"
    );
    for rule in &others_mappings {
        assert_eq!(
            rule.num_calls(),
            0,
            "{story} would have looked at (to delete) the mappings of a function it must keep"
        );
    }
    assert_eq!(
        delete_mapping.num_calls(),
        1,
        "{story} would have left old-report's mapping behind (mappings outlive functions)"
    );
    assert_eq!(
        delete_old.num_calls(),
        1,
        "{story} would have kept old-report"
    );
    assert_writes(
        story,
        &calls,
        &writes,
        &["DeleteEventSourceMapping", "DeleteFunction"],
    );
    assert_reported(
        story,
        ok(story, &calls, removed),
        [
            (
                ResourceType::EventSourceMapping,
                "reports -> old-report".to_owned(),
            ),
            (ResourceType::Function, "old-report".to_owned()),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// url (the function URL and its public permission)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_unchanged_url_and_its_public_permission_are_left_alone() {
    let m = manifest(STACK);
    let writes = Writes::every();
    let (clients, calls) = LocalStack::as_first_deployed().connect(&writes);

    let changes = url::ensure_url(&clients, resize(&m)).await;

    assert_writes(AGAIN, &calls, &writes, &[]);
    assert_reported(
        AGAIN,
        ok(AGAIN, &calls, changes),
        (Some(Change::Unchanged), Some(Change::Unchanged)),
    );
}

#[tokio::test]
async fn a_url_made_public_in_the_manifest_is_updated_and_given_the_public_permission() {
    let story = "a deploy after the URL's auth changed to NONE";
    let m = manifest(STACK);
    // Deployed as an IAM URL: no public statement.
    let iam_url = resize_url(|| resize_url_as_deployed(lt::FunctionUrlAuthType::AwsIam));
    let no_public = resize_policy(&[FROM_UPLOADS]);
    let update = mock!(aws_sdk_lambda::Client::update_function_url_config)
        .match_requests(|r| {
            r.function_name() == Some("resize")
                && r.auth_type() == Some(&lt::FunctionUrlAuthType::None)
                && r.cors().is_some_and(|c| {
                    c.allow_origins() == ["*"] && c.allow_methods() == ["GET", "POST"]
                })
        })
        .then_output(|| {
            lop::update_function_url_config::UpdateFunctionUrlConfigOutput::builder()
                .function_url(RESIZE_URL)
                .function_arn(RESIZE_ARN)
                .auth_type(lt::FunctionUrlAuthType::None)
                .creation_time("2025-01-01T00:00:00.000+0000")
                .last_modified_time("2025-01-02T00:00:00.000+0000")
                .build()
                .expect("a complete UpdateFunctionUrlConfig answer")
        });
    let make_public = mock!(aws_sdk_lambda::Client::add_permission)
        .match_requests(|r| {
            r.function_name() == Some("resize")
                && r.statement_id() == Some(PUBLIC_SID)
                && r.action() == Some("lambda:InvokeFunctionUrl")
                && r.principal() == Some("*")
                && r.function_url_auth_type() == Some(&lt::FunctionUrlAuthType::None)
        })
        .then_output(|| lop::add_permission::AddPermissionOutput::builder().build());
    let writes = Writes::every();
    let (clients, calls) = LocalStack::as_first_deployed()
        .lambda(&iam_url)
        .lambda(&no_public)
        .lambda(&update)
        .lambda(&make_public)
        .connect(&writes);

    let changes = url::ensure_url(&clients, resize(&m)).await;

    assert_eq!(
        update.num_calls(),
        1,
        "{story} would have left the URL's auth"
    );
    assert_eq!(
        make_public.num_calls(),
        1,
        "{story} would have left the URL answering 403 (no public permission)"
    );
    assert_writes(
        story,
        &calls,
        &writes,
        &["UpdateFunctionUrlConfig", "AddPermission"],
    );
    assert_reported(
        story,
        ok(story, &calls, changes),
        (
            Some(Change::Updated(vec!["auth".into()])),
            Some(Change::Created),
        ),
    );
}

#[tokio::test]
async fn a_url_dropped_from_the_manifest_is_deleted_with_only_its_public_statement() {
    let story = "a deploy after `url` was removed from lsk.toml";
    assert!(STACK.contains(URL_LINE));
    let m = manifest(&STACK.replace(URL_LINE, ""));
    // Besides lsk's public statement: S3's (lsk's, another kind's) and one lsk did not make.
    let policy = resize_policy(&[
        PUBLIC_URL,
        FROM_UPLOADS,
        Statement {
            sid: "hand-made-public",
            principal: "*",
            source: None,
        },
    ]);
    let delete_url = mock!(aws_sdk_lambda::Client::delete_function_url_config)
        .match_requests(|r| r.function_name() == Some("resize"))
        .then_output(|| {
            lop::delete_function_url_config::DeleteFunctionUrlConfigOutput::builder().build()
        });
    let remove = |sid: &'static str| {
        mock!(aws_sdk_lambda::Client::remove_permission)
            .match_requests(move |r| {
                r.function_name() == Some("resize") && r.statement_id() == Some(sid)
            })
            .then_output(|| lop::remove_permission::RemovePermissionOutput::builder().build())
    };
    let (remove_public, remove_s3, remove_hand_made) = (
        remove(PUBLIC_SID),
        remove(S3_SID),
        remove("hand-made-public"),
    );
    let writes = Writes::every();
    let (clients, calls) = LocalStack::as_first_deployed()
        .lambda(&policy)
        .lambda(&delete_url)
        .lambda(&remove_public)
        .lambda(&remove_s3)
        .lambda(&remove_hand_made)
        .connect(&writes);

    let changes = url::ensure_url(&clients, resize(&m)).await;

    assert_eq!(
        remove_hand_made.num_calls(),
        0,
        "{story} would have removed a statement lsk did not make"
    );
    assert_eq!(
        remove_s3.num_calls(),
        0,
        "{story} would have removed S3's permission to invoke resize"
    );
    assert_eq!(delete_url.num_calls(), 1, "{story} would have kept the URL");
    assert_eq!(
        remove_public.num_calls(),
        1,
        "{story} would have left resize invokable by anyone"
    );
    assert_writes(
        story,
        &calls,
        &writes,
        &["DeleteFunctionUrlConfig", "RemovePermission"],
    );
    assert_reported(
        story,
        ok(story, &calls, changes),
        (Some(Change::Removed), Some(Change::Removed)),
    );
}

// ---------------------------------------------------------------------------------------------
// sqs_trigger (event source mappings)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_unchanged_sqs_mapping_is_left_alone() {
    let m = manifest(STACK);
    let writes = Writes::every();
    let (clients, calls) = LocalStack::as_first_deployed().connect(&writes);

    let changes = sqs_trigger::reconcile(&clients, resize(&m), &resolved()).await;

    assert_writes(AGAIN, &calls, &writes, &[]);
    assert_reported(
        AGAIN,
        ok(AGAIN, &calls, changes),
        [("jobs -> resize".to_owned(), Change::Unchanged)],
    );
}

#[tokio::test]
async fn a_mapping_whose_batch_size_changed_is_updated_in_place() {
    let story = "a deploy after `batch_size` changed in lsk.toml";
    let m = manifest(STACK);
    let batch_of_ten = mappings_of("resize", || {
        vec![mapping("u-jobs", "resize", JOBS_ARN, 10, "Enabled")]
    });
    let update = mock!(aws_sdk_lambda::Client::update_event_source_mapping)
        .match_requests(|r| {
            r.uuid() == Some("u-jobs")
                && r.batch_size() == Some(5)
                && r.function_response_types()
                    == [lt::FunctionResponseType::ReportBatchItemFailures]
                && r.enabled() == Some(true)
        })
        .then_output(|| {
            lop::update_event_source_mapping::UpdateEventSourceMappingOutput::builder().build()
        });
    let writes = Writes::every();
    let (clients, calls) = LocalStack::as_first_deployed()
        .lambda(&batch_of_ten)
        .lambda(&update)
        .connect(&writes);

    let changes = sqs_trigger::reconcile(&clients, resize(&m), &resolved()).await;

    assert_eq!(
        update.num_calls(),
        1,
        "{story} would not have set batch size 5 on the mapping"
    );
    assert_writes(story, &calls, &writes, &["UpdateEventSourceMapping"]);
    assert_reported(
        story,
        ok(story, &calls, changes),
        [(
            "jobs -> resize".to_owned(),
            Change::Updated(vec!["batch_size".into()]),
        )],
    );
}

#[tokio::test]
async fn only_the_functions_mappings_no_longer_listed_are_deleted() {
    let story = "a deploy after the trigger on `retired` was removed from lsk.toml";
    let m = manifest(STACK);
    let retired_arn = lsk_aws::queue_arn(REGION, "retired");
    let leaving_arn = lsk_aws::queue_arn(REGION, "old");
    // resize's mappings: the wanted one, one from a queue no longer listed, and one LocalStack
    // is already deleting. Another function's mappings are never even listed.
    let resizes = mappings_of("resize", move || {
        vec![
            mapping("u-jobs", "resize", JOBS_ARN, 5, "Enabled"),
            mapping("u-retired", "resize", &retired_arn, 10, "Enabled"),
            mapping("u-leaving", "resize", &leaving_arn, 10, "Deleting"),
        ]
    });
    let blogs = mappings_of("blog-render", || {
        vec![mapping("u-blog", "blog-render", JOBS_ARN, 1, "Enabled")]
    });
    let delete = |uuid: &'static str| {
        mock!(aws_sdk_lambda::Client::delete_event_source_mapping)
            .match_requests(move |r| r.uuid() == Some(uuid))
            .then_output(|| {
                lop::delete_event_source_mapping::DeleteEventSourceMappingOutput::builder().build()
            })
    };
    let (delete_retired, delete_jobs, delete_leaving, delete_blog) = (
        delete("u-retired"),
        delete("u-jobs"),
        delete("u-leaving"),
        delete("u-blog"),
    );
    let writes = Writes::every();
    let (clients, calls) = LocalStack::as_first_deployed()
        .lambda(&resizes)
        .lambda(&blogs)
        .lambda(&delete_retired)
        .lambda(&delete_jobs)
        .lambda(&delete_leaving)
        .lambda(&delete_blog)
        .connect(&writes);

    let changes = sqs_trigger::reconcile(&clients, resize(&m), &resolved()).await;

    assert_eq!(
        delete_jobs.num_calls(),
        0,
        "{story} would have deleted the mapping from jobs, which lsk.toml still lists"
    );
    assert_eq!(
        delete_leaving.num_calls(),
        0,
        "{story} would have deleted a mapping LocalStack is deleting already"
    );
    assert_eq!(
        blogs.num_calls() + delete_blog.num_calls(),
        0,
        "{story} would have touched another function's mappings"
    );
    assert_eq!(
        delete_retired.num_calls(),
        1,
        "{story} would have kept resize reading from retired"
    );
    assert_writes(story, &calls, &writes, &["DeleteEventSourceMapping"]);
    assert_reported(
        story,
        ok(story, &calls, changes),
        [
            ("jobs -> resize".to_owned(), Change::Unchanged),
            ("retired -> resize".to_owned(), Change::Removed),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// permission (resource-policy statements, here S3's, as `apply` reconciles them per function)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_unchanged_permission_statement_is_left_alone() {
    let m = manifest(STACK);
    let writes = Writes::every();
    let (clients, calls) = LocalStack::as_first_deployed().connect(&writes);

    let changes = s3_trigger::reconcile_permissions(&clients, resize(&m), &resolved()).await;

    assert_writes(AGAIN, &calls, &writes, &[]);
    assert_reported(
        AGAIN,
        ok(AGAIN, &calls, changes),
        [("resize from s3 shop-uploads".to_owned(), Change::Unchanged)],
    );
}

#[tokio::test]
async fn a_missing_permission_statement_is_added_for_its_source() {
    let story = "a deploy after S3's permission to invoke resize was lost";
    let m = manifest(STACK);
    let without = resize_policy(&[PUBLIC_URL]);
    let add = mock!(aws_sdk_lambda::Client::add_permission)
        .match_requests(|r| {
            r.function_name() == Some("resize")
                && r.statement_id() == Some(S3_SID)
                && r.action() == Some("lambda:InvokeFunction")
                && r.principal() == Some("s3.amazonaws.com")
                && r.source_arn() == Some(BUCKET_ARN)
                && r.source_account() == Some("000000000000")
        })
        .then_output(|| lop::add_permission::AddPermissionOutput::builder().build());
    let writes = Writes::every();
    let (clients, calls) = LocalStack::as_first_deployed()
        .lambda(&without)
        .lambda(&add)
        .connect(&writes);

    let changes = s3_trigger::reconcile_permissions(&clients, resize(&m), &resolved()).await;

    assert_eq!(
        add.num_calls(),
        1,
        "{story} would have left uploads to shop-uploads unable to invoke resize"
    );
    assert_writes(story, &calls, &writes, &["AddPermission"]);
    assert_reported(
        story,
        ok(story, &calls, changes),
        [("resize from s3 shop-uploads".to_owned(), Change::Created)],
    );
}

#[tokio::test]
async fn a_permission_statement_with_another_source_is_replaced() {
    let story = "a deploy after S3's statement came to name another bucket";
    let m = manifest(STACK);
    let elsewhere = resize_policy(&[
        PUBLIC_URL,
        Statement {
            sid: S3_SID,
            principal: "s3.amazonaws.com",
            source: Some("arn:aws:s3:::elsewhere"),
        },
    ]);
    let remove = mock!(aws_sdk_lambda::Client::remove_permission)
        .match_requests(|r| r.function_name() == Some("resize") && r.statement_id() == Some(S3_SID))
        .then_output(|| lop::remove_permission::RemovePermissionOutput::builder().build());
    let add = mock!(aws_sdk_lambda::Client::add_permission)
        .match_requests(|r| r.statement_id() == Some(S3_SID) && r.source_arn() == Some(BUCKET_ARN))
        .then_output(|| lop::add_permission::AddPermissionOutput::builder().build());
    let writes = Writes::every();
    let (clients, calls) = LocalStack::as_first_deployed()
        .lambda(&elsewhere)
        .lambda(&remove)
        .lambda(&add)
        .connect(&writes);

    let changes = s3_trigger::reconcile_permissions(&clients, resize(&m), &resolved()).await;

    assert_eq!(
        (remove.num_calls(), add.num_calls()),
        (1, 1),
        "{story} would not have replaced it"
    );
    assert_writes(
        story,
        &calls,
        &writes,
        &["RemovePermission", "AddPermission"],
    );
    assert_reported(
        story,
        ok(story, &calls, changes),
        [(
            "resize from s3 shop-uploads".to_owned(),
            Change::Updated(vec!["source".into()]),
        )],
    );
}

#[tokio::test]
async fn only_statements_the_kind_owns_and_no_longer_wants_are_removed() {
    let story = "a deploy after the S3 trigger on old-photos was removed from lsk.toml";
    let m = manifest(STACK);
    // lsk's S3 statement for a bucket no longer triggering resize; lsk's statements of other
    // kinds (SNS, the public URL); and one lsk did not make.
    let policy = resize_policy(&[
        PUBLIC_URL,
        FROM_UPLOADS,
        Statement {
            sid: "lsk-s3-old-photos",
            principal: "s3.amazonaws.com",
            source: Some("arn:aws:s3:::old-photos"),
        },
        Statement {
            sid: "lsk-sns-ready",
            principal: "sns.amazonaws.com",
            source: Some("arn:aws:sns:us-east-1:000000000000:ready"),
        },
        Statement {
            sid: "s3-by-hand",
            principal: "s3.amazonaws.com",
            source: Some("arn:aws:s3:::by-hand"),
        },
    ]);
    let remove = |sid: &'static str| {
        mock!(aws_sdk_lambda::Client::remove_permission)
            .match_requests(move |r| {
                r.function_name() == Some("resize") && r.statement_id() == Some(sid)
            })
            .then_output(|| lop::remove_permission::RemovePermissionOutput::builder().build())
    };
    let removals = [
        ("lsk-s3-old-photos", true),
        (S3_SID, false),
        ("lsk-sns-ready", false),
        (PUBLIC_SID, false),
        ("s3-by-hand", false),
    ]
    .map(|(sid, removed)| (sid, removed, remove(sid)));
    let writes = Writes::every();
    let mut stack = LocalStack::as_first_deployed().lambda(&policy);
    for (_, _, rule) in &removals {
        stack = stack.lambda(rule);
    }
    let (clients, calls) = stack.connect(&writes);

    let changes = s3_trigger::reconcile_permissions(&clients, resize(&m), &resolved()).await;

    for (sid, removed, rule) in &removals {
        assert_eq!(
            rule.num_calls(),
            usize::from(*removed),
            "{story} would {}have removed statement {sid}",
            if *removed { "not " } else { "" }
        );
    }
    assert_writes(story, &calls, &writes, &["RemovePermission"]);
    assert_reported(
        story,
        ok(story, &calls, changes),
        [
            ("resize from s3 shop-uploads".to_owned(), Change::Unchanged),
            ("resize from s3 old-photos".to_owned(), Change::Removed),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// queue
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn unchanged_queues_are_left_alone() {
    let m = manifest(STACK);
    let writes = Writes::every();
    let (clients, calls) = LocalStack::as_first_deployed().connect(&writes);

    // As `apply` does: dead-letter queues first, each queue given its DLQ's ARN.
    let mut deployed: Vec<(String, Change, String, String)> = Vec::new();
    for q in m.queues_in_deploy_order() {
        let dlq_arn = q.dead_letter.as_ref().and_then(|dl| {
            deployed
                .iter()
                .find(|(name, ..)| *name == dl.queue)
                .map(|(.., arn)| arn.clone())
        });
        let (change, url, arn) = ok(
            AGAIN,
            &calls,
            queue::ensure_queue(&clients, q, dlq_arn.as_deref()).await,
        );
        deployed.push((q.name.clone(), change, url, arn));
    }

    assert_writes(AGAIN, &calls, &writes, &[]);
    assert_reported(
        AGAIN,
        deployed,
        [
            (
                "jobs-dlq".to_owned(),
                Change::Unchanged,
                DLQ_URL.to_owned(),
                DLQ_ARN.to_owned(),
            ),
            (
                "jobs".to_owned(),
                Change::Unchanged,
                JOBS_URL.to_owned(),
                JOBS_ARN.to_owned(),
            ),
        ],
    );
}

#[tokio::test]
async fn a_queue_whose_visibility_timeout_changed_gets_only_that_attribute_set() {
    let story = "a deploy after `local.visibility_timeout` changed in lsk.toml";
    let m = manifest(STACK);
    let thirty: &'static [(&str, &str)] = &[
        ("VisibilityTimeout", "30"),
        ("MessageRetentionPeriod", "345600"),
        (
            "RedrivePolicy",
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:jobs-dlq","maxReceiveCount":3}"#,
        ),
        ("QueueArn", JOBS_ARN),
    ];
    let older = queue_attributes(JOBS_URL, thirty);
    let set = mock!(aws_sdk_sqs::Client::set_queue_attributes)
        .match_requests(|r| {
            r.queue_url() == Some(JOBS_URL)
                && r.attributes().is_some_and(|a| {
                    a.len() == 1
                        && a.get(&QueueAttributeName::VisibilityTimeout)
                            .map(String::as_str)
                            == Some("2")
                })
        })
        .then_output(|| sqsop::set_queue_attributes::SetQueueAttributesOutput::builder().build());
    let writes = Writes::every();
    let (clients, calls) = LocalStack::as_first_deployed()
        .sqs(&older)
        .sqs(&set)
        .connect(&writes);

    let jobs = &m.queues["jobs"];
    let result = queue::ensure_queue(&clients, jobs, Some(DLQ_ARN)).await;

    assert_eq!(
        set.num_calls(),
        1,
        "{story} would not have set VisibilityTimeout 2 (and only it)"
    );
    assert_writes(story, &calls, &writes, &["SetQueueAttributes"]);
    assert_reported(
        story,
        ok(story, &calls, result).0,
        Change::Updated(vec!["VisibilityTimeout".into()]),
    );
}

// ---------------------------------------------------------------------------------------------
// bucket
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_existing_bucket_is_left_alone() {
    let writes = Writes::every();
    let (clients, calls) = LocalStack::as_first_deployed().connect(&writes);

    let change = bucket::ensure_bucket(&clients, BUCKET).await;

    assert_writes(AGAIN, &calls, &writes, &[]);
    assert_reported(AGAIN, ok(AGAIN, &calls, change), Change::Unchanged);
}

#[tokio::test]
async fn a_missing_bucket_is_created() {
    let story = "a first `lsk deploy`";
    let missing = mock!(aws_sdk_s3::Client::head_bucket)
        .match_requests(|r| r.bucket() == Some(BUCKET))
        .then_error(|| {
            s3op::head_bucket::HeadBucketError::NotFound(
                aws_sdk_s3::types::error::NotFound::builder().build(),
            )
        });
    // us-east-1 takes no location constraint (it rejects one).
    let create = mock!(aws_sdk_s3::Client::create_bucket)
        .match_requests(|r| r.bucket() == Some(BUCKET) && r.create_bucket_configuration().is_none())
        .then_output(|| s3op::create_bucket::CreateBucketOutput::builder().build());
    let writes = Writes::every();
    let (clients, calls) = LocalStack::as_first_deployed()
        .s3(&missing)
        .s3(&create)
        .connect(&writes);

    let change = bucket::ensure_bucket(&clients, BUCKET).await;

    assert_eq!(
        create.num_calls(),
        1,
        "{story} would not have created shop-uploads"
    );
    assert_writes(story, &calls, &writes, &["CreateBucket"]);
    assert_reported(story, ok(story, &calls, change), Change::Created);
}

// ---------------------------------------------------------------------------------------------
// The whole deploy: `apply` over all of these kinds at once
// ---------------------------------------------------------------------------------------------

fn deploy_options() -> DeployOptions {
    DeployOptions {
        prune: true,
        project: PROJECT.to_owned(),
        offered: ["lambda", "s3", "sqs", "logs"].map(str::to_owned).into(),
    }
}

#[tokio::test]
async fn a_second_deploy_of_an_unchanged_stack_writes_nothing_and_prunes_nothing() {
    let m = manifest(STACK);
    let packages = BTreeMap::from([("resize".to_owned(), package())]);
    let writes = Writes::every();
    let (clients, calls) = LocalStack::as_first_deployed().connect(&writes);

    let result = lsk_deploy::apply(
        &m,
        &packages,
        &clients,
        &deploy_options(),
        &Progress::silent(),
    )
    .await;

    assert_writes(AGAIN, &calls, &writes, &[]);
    let (report, resolved) = ok(AGAIN, &calls, result);
    assert!(report.is_noop(), "{AGAIN} would have reported:\n{report}");
    let mut seen: Vec<(ResourceType, &str)> = report
        .changes
        .iter()
        .map(|c| (c.resource, c.name.as_str()))
        .collect();
    seen.sort_by_key(|(r, n)| (r.label(), *n));
    assert_eq!(
        seen,
        [
            (ResourceType::Bucket, "uploads (shop-uploads)"),
            (ResourceType::Function, "resize"),
            (ResourceType::Permission, "resize from s3 shop-uploads"),
            (ResourceType::Permission, "resize public URL"),
            (ResourceType::Queue, "jobs"),
            (ResourceType::Queue, "jobs-dlq"),
            (ResourceType::S3Notification, "shop-uploads -> resize"),
            (ResourceType::EventSourceMapping, "jobs -> resize"),
            (ResourceType::FunctionUrl, "resize"),
        ],
        "{AGAIN} would have reported other resources:\n{report}"
    );
    assert_eq!(
        resolved.queues["jobs"],
        (JOBS_URL.to_owned(), JOBS_ARN.to_owned())
    );
}

#[tokio::test]
async fn a_deploy_prunes_this_projects_dropped_function_but_never_a_queue_or_bucket() {
    let story = "a deploy after a function, a queue and a bucket were removed from lsk.toml";
    let m = manifest(STACK);
    let packages = BTreeMap::from([("resize".to_owned(), package())]);
    // LocalStack still has what the manifest dropped: the function old-report, the queue
    // archive and the bucket shop-archive.
    let listed = functions_listed(&["resize", "old-report", "blog-render", "hand-made"]);
    let old_report_tags = tags_of("old-report", LSK_SHOP);
    let no_mappings = mappings_of("old-report", Vec::new);
    let delete_old = mock!(aws_sdk_lambda::Client::delete_function)
        .match_requests(|r| r.function_name() == Some("old-report"))
        .then_output(|| lop::delete_function::DeleteFunctionOutput::builder().build());
    let queues = mock!(aws_sdk_sqs::Client::list_queues).then_output(|| {
        sqsop::list_queues::ListQueuesOutput::builder()
            .queue_urls(JOBS_URL)
            .queue_urls(DLQ_URL)
            .queue_urls("http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/archive")
            .build()
    });
    let buckets = mock!(aws_sdk_s3::Client::list_buckets).then_output(|| {
        s3op::list_buckets::ListBucketsOutput::builder()
            .buckets(aws_sdk_s3::types::Bucket::builder().name(BUCKET).build())
            .buckets(
                aws_sdk_s3::types::Bucket::builder()
                    .name("shop-archive")
                    .build(),
            )
            .build()
    });
    let writes = Writes::every();
    let (clients, calls) = LocalStack::as_first_deployed()
        .lambda(&listed)
        .lambda(&old_report_tags)
        .lambda(&no_mappings)
        .lambda(&delete_old)
        .sqs(&queues)
        .s3(&buckets)
        .connect(&writes);

    let result = lsk_deploy::apply(
        &m,
        &packages,
        &clients,
        &deploy_options(),
        &Progress::silent(),
    )
    .await;

    for (operation, _, rule) in &writes.0 {
        if ["DeleteQueue", "PurgeQueue", "DeleteBucket"].contains(operation) {
            assert_eq!(
                rule.num_calls(),
                0,
                "{story} would have called {operation}: queues and buckets hold data and are never deleted"
            );
        }
    }
    assert_eq!(
        delete_old.num_calls(),
        1,
        "{story} would have kept old-report"
    );
    assert_writes(story, &calls, &writes, &["DeleteFunction"]);
    let (report, _) = ok(story, &calls, result);
    let removed: Vec<(ResourceType, &str)> = report
        .changes
        .iter()
        .filter(|c| c.change == Change::Removed)
        .map(|c| (c.resource, c.name.as_str()))
        .collect();
    assert_eq!(
        removed,
        [(ResourceType::Function, "old-report")],
        "{report}"
    );
}
