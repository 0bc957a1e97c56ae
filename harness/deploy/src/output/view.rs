//! The endpoint views: what `lsk status` reads of each resource and `lsk up` prints, one type per
//! kind, serialised as `--json` prints them.

use serde::Serialize;

/// A function URL in both printed forms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UrlView {
    /// As LocalStack returned it.
    pub function_url: String,
    /// The host label LocalStack routes on.
    pub url_id: String,
    pub auth: String,
    /// `http://<id>.lambda-url.<region>.localhost:<port>/`: works offline.
    pub offline: String,
    /// `http://<id>.lambda-url.<region>.localhost.localstack.cloud:<port>/`: needs public DNS.
    pub localstack_cloud: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriggerView {
    pub queue: String,
    pub batch_size: Option<i32>,
    pub report_batch_item_failures: bool,
    pub state: Option<String>,
}

/// An S3 trigger of a function, as configured on its bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct S3TriggerView {
    /// The bucket's S3 name.
    pub bucket: String,
    pub events: Vec<String>,
    pub prefix: Option<String>,
    pub suffix: Option<String>,
    /// false when the manifest lists it but the bucket does not have it (deploy again).
    pub deployed: bool,
    /// Ready-to-paste upload that fires it.
    pub awslocal: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionView {
    /// How it is addressed: its name in the manifest, or its logical ID in a template.
    pub name: String,
    /// Lambda's name for it (a template's functions get `<stack>-<LogicalId>-<suffix>`).
    pub function_name: String,
    /// Active / Pending / Failed / Inactive, or `not deployed`.
    pub state: String,
    pub state_reason: Option<String>,
    pub arn: Option<String>,
    pub memory: Option<i32>,
    pub timeout: Option<i32>,
    pub code_sha256: Option<String>,
    pub url: Option<UrlView>,
    pub triggers: Vec<TriggerView>,
    pub s3_triggers: Vec<S3TriggerView>,
    /// Ready-to-paste `curl` to the function URL (offline form), when there is one.
    pub curl: Option<String>,
    /// Ready-to-paste `awslocal lambda invoke`.
    pub awslocal: String,
    /// Payload used in both lines.
    pub example: String,
    /// How the running binary was built (`host`, `cargo-lambda ...`), from its `lsk:build` tag.
    pub build: Option<String>,
    /// The host directory it runs from when `lsk watch` put it on watched code.
    pub watched: Option<String>,
}

impl FunctionView {
    /// A function the stack declares that LocalStack does not have.
    pub fn not_deployed(name: &str, function_name: &str, example: &str) -> FunctionView {
        FunctionView {
            name: name.to_owned(),
            function_name: function_name.to_owned(),
            state: "not deployed".into(),
            state_reason: None,
            arn: None,
            memory: None,
            timeout: None,
            code_sha256: None,
            url: None,
            triggers: Vec::new(),
            s3_triggers: Vec::new(),
            curl: None,
            awslocal: super::awslocal_invoke_line(function_name, example),
            example: example.to_owned(),
            build: None,
            watched: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueView {
    pub name: String,
    pub url: Option<String>,
    pub arn: Option<String>,
    pub fifo: bool,
    pub dead_letter: Option<String>,
    pub max_receive_count: Option<i32>,
    /// ApproximateNumberOfMessages
    pub messages: Option<i64>,
    /// ApproximateNumberOfMessagesNotVisible
    pub in_flight: Option<i64>,
    pub awslocal: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BucketView {
    pub key: String,
    pub name: String,
    pub exists: bool,
    pub objects: Option<u64>,
    pub awslocal: String,
}

/// An SNS topic and its subscriptions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopicView {
    pub name: String,
    /// `None` when it is not deployed.
    pub arn: Option<String>,
    /// `function square`, `queue inbox (raw, filtered)`, ...
    pub subscriptions: Vec<String>,
    /// Ready-to-paste `awslocal sns publish`.
    pub awslocal: Option<String>,
}

/// An EventBridge rule and its targets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleView {
    pub name: String,
    pub bus: String,
    /// `rate(1 minute)` or the pattern as JSON.
    pub trigger: String,
    /// ENABLED / DISABLED, or `not deployed`.
    pub state: String,
    /// `function heartbeat`, `queue jobs (constant input)`, ...
    pub targets: Vec<String>,
    /// Ready-to-paste `awslocal events put-events` for pattern rules.
    pub put_events: Option<String>,
    /// Ready-to-paste `awslocal events describe-rule`.
    pub awslocal: String,
}

/// One route of a REST API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteView {
    pub method: String,
    pub path: String,
    pub function: String,
    /// false when the manifest lists it but the API does not have it (deploy again).
    pub deployed: bool,
    /// Ready-to-paste `curl` to the offline URL.
    pub curl: Option<String>,
}

/// A REST API (API Gateway v1) and its routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiView {
    pub name: String,
    pub id: Option<String>,
    pub stage: String,
    /// `http://<id>.execute-api.localhost:<port>/<stage>`: works offline.
    pub offline: Option<String>,
    /// `http://<id>.execute-api.localhost.localstack.cloud:<port>/<stage>`: needs public DNS.
    pub localstack_cloud: Option<String>,
    pub routes: Vec<RouteView>,
}

/// A Step Functions state machine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateMachineView {
    pub name: String,
    pub arn: Option<String>,
    /// ACTIVE, or `not deployed`.
    pub status: String,
    pub kind: String,
    /// The definition file, relative to the workspace root.
    pub definition: String,
    /// Ready-to-paste `awslocal stepfunctions start-execution`.
    pub awslocal: Option<String>,
    /// Ready-to-paste `awslocal stepfunctions list-executions`.
    pub executions: Option<String>,
}

/// Everything printed about a stack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StackView {
    pub endpoint: String,
    pub region: String,
    pub backend: Option<String>,
    pub backend_reason: Option<String>,
    pub pid: Option<u32>,
    /// What functions see of the filesystem (our LocalStack plugin's `/_lsk/info`).
    pub function_fs: Option<String>,
    pub functions: Vec<FunctionView>,
    pub queues: Vec<QueueView>,
    pub buckets: Vec<BucketView>,
    pub topics: Vec<TopicView>,
    pub rules: Vec<RuleView>,
    pub apis: Vec<ApiView>,
    pub state_machines: Vec<StateMachineView>,
    /// A template's CloudFormation stack and its status (`None` for `lsk.toml`).
    pub stack: Option<String>,
    /// A template's `Outputs`.
    pub outputs: Vec<OutputView>,
    /// A template's resources the kit does not run, deployed as stand-ins (`--allow-unsupported`).
    pub stand_ins: Vec<String>,
    pub warnings: Vec<String>,
}

/// One of a template's `Outputs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutputView {
    pub key: String,
    /// In the form that works here (LocalStack's AWS URLs turned into `*.localhost` ones).
    pub value: String,
    /// As the stack returned it, when that differs.
    pub deployed: Option<String>,
    pub description: Option<String>,
}
