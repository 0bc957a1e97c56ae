//! The vocabulary every kind reconciles with: what changed, the deploy error, the resource types,
//! references resolved from what was deployed, and the tags that mark what lsk owns.

use super::*;

/// Tags marking a resource as deployed by lsk, and the project it belongs to (for pruning).
pub const TAG_MANAGED: &str = "lsk:managed-by";
pub const TAG_PROJECT: &str = "lsk:project";

/// How the deployed binary was built (`host`, `cargo-lambda ...`), shown by `lsk status`.
pub const TAG_BUILD: &str = "lsk:build";

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
    /// Any other resource of a template (an IAM role, a log group, ...), named with its type.
    Other,
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
            ResourceType::Other => "resource",
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
