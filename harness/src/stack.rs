//! The library entry points: load a stack, build and deploy it into a [`LocalStack`], and reach
//! what was deployed (invoke functions, call their URLs, use queues and buckets) from tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), lsk::Error> {
//! use lsk::{BackendChoice, LocalStack, Stack};
//! let stack = Stack::load("lsk.toml")?;
//! // The stack's root, and the services its kinds need (SNS for topics, ...).
//! let localstack = LocalStack::start(BackendChoice::Auto, stack.start_options()).await?;
//! let deployed = stack.deploy(&localstack).await?;
//! let answer = deployed.function("square")?.invoke(&serde_json::json!({"number": 6})).await?;
//! assert_eq!(answer["result"], 36);
//! localstack.stop().await?;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;

use crate::aws::{AwsError, Clients};
use crate::backend::{BackendKind, LocalStack};
use crate::build::{self, BuildTarget};
use crate::deploy::{self, DeployOptions, DeployReport};
use crate::error::Error;
use crate::invoke::{self, HttpReply, Invocation, InvokeMode, LogLine};
use crate::manifest::Manifest;
use crate::output::{
    self, BucketView, FunctionView, QueueView, S3TriggerView, StackView, TriggerView,
};
use crate::package::{self, Package};
use crate::progress::Progress;

/// A manifest and the workspace it belongs to.
#[derive(Debug, Clone)]
pub struct Stack {
    manifest: Manifest,
}

/// Settings of [`Stack::deploy_with`].
#[derive(Debug, Clone)]
pub struct DeployOpts {
    /// Remove functions lsk deployed for this project that the manifest no longer lists.
    pub prune: bool,
    /// Override how binaries are built (default: from the backend).
    pub target: Option<BuildTarget>,
    pub progress: Progress,
}

impl Default for DeployOpts {
    fn default() -> Self {
        DeployOpts {
            prune: true,
            target: None,
            progress: Progress::silent(),
        }
    }
}

impl Stack {
    /// Loads and validates the manifest at `path`.
    pub fn load(path: impl AsRef<Path>) -> Result<Stack, Error> {
        let path = path.as_ref();
        // Relative paths are kept absolute so the root is right whatever the cwd becomes.
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()
                .map_err(|source| Error::Io {
                    what: "reading the current directory".into(),
                    source,
                })?
                .join(path)
        };
        Ok(Stack {
            manifest: Manifest::load(&path)?,
        })
    }

    /// Finds `lsk.toml` from `start` upwards and loads it.
    pub fn discover(start: impl AsRef<Path>) -> Result<Stack, Error> {
        let path = Manifest::find(start.as_ref())?;
        Stack::load(path)
    }

    pub fn from_manifest(manifest: Manifest) -> Stack {
        Stack { manifest }
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The workspace root (the manifest's directory).
    pub fn root(&self) -> &Path {
        self.manifest.root()
    }

    /// Options to start a LocalStack for this stack: its root, and the services its kinds need
    /// besides the kit's own (a LocalStack without them refuses the deploy).
    pub fn start_options(&self) -> crate::backend::StartOptions {
        crate::backend::StartOptions::new(self.root()).services(self.manifest.services())
    }

    /// The project name recorded on deployed functions (the root directory's name).
    pub fn project(&self) -> String {
        self.root()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "lsk".into())
    }

    /// How binaries must be built for `localstack`, and a note when it had to guess.
    pub fn build_target_for(&self, localstack: &LocalStack) -> (BuildTarget, Option<String>) {
        match localstack.backend() {
            BackendKind::Native => (BuildTarget::Host, None),
            // Our image is Debian bookworm: a host build runs there when this host is Linux
            // with a glibc no newer than bookworm's; otherwise cargo-lambda builds for an old glibc.
            BackendKind::Docker => match build::host_runs_in_kit_image() {
                Ok(()) => (BuildTarget::Host, None),
                Err(why) => (
                    BuildTarget::Lambda,
                    Some(format!("building with cargo-lambda: {why}")),
                ),
            },
            BackendKind::DockerOfficial => (BuildTarget::Lambda, None),
            BackendKind::External => {
                if which::which("cargo-lambda").is_ok() {
                    (BuildTarget::Lambda, None)
                } else {
                    (
                        BuildTarget::Host,
                        Some(format!(
                            "building for this host: {} is an external LocalStack and cargo-lambda is not installed; if it runs Lambdas in containers, install cargo-lambda (pip install cargo-lambda ziglang) or pass --build-target lambda",
                            localstack.endpoint()
                        )),
                    )
                }
            }
        }
    }

    /// Builds every function for `target` in one cargo invocation (with `lsk-init` too when
    /// `include_init`, for the native backend).
    pub async fn build(
        &self,
        target: BuildTarget,
        include_init: bool,
        progress: &Progress,
    ) -> Result<build::Built, Error> {
        Ok(build::build(&self.manifest, target, include_init, progress).await?)
    }

    /// Zips each built binary as `bootstrap`.
    pub fn package_built(&self, built: &build::Built) -> Result<BTreeMap<String, Package>, Error> {
        let mut packages = BTreeMap::new();
        for (function, path) in &built.binaries {
            // Every built function comes from the manifest; the default is Lambda's own.
            let architecture = self
                .manifest
                .functions
                .get(function)
                .map(|f| f.architecture)
                .unwrap_or_default();
            let mut package = package::package_binary(path, architecture)?;
            package.build = built.target.map(|t| t.label().to_owned());
            packages.insert(function.clone(), package);
        }
        Ok(packages)
    }

    /// Builds every function for `target` and zips each as `bootstrap`.
    pub async fn package(
        &self,
        target: BuildTarget,
        progress: &Progress,
    ) -> Result<BTreeMap<String, Package>, Error> {
        let built = self.build(target, false, progress).await?;
        self.package_built(&built)
    }

    /// Builds, packages and deploys everything, removing functions no longer in the manifest.
    pub async fn deploy(&self, localstack: &LocalStack) -> Result<Deployed, Error> {
        self.deploy_with(localstack, &DeployOpts::default()).await
    }

    pub async fn deploy_with(
        &self,
        localstack: &LocalStack,
        opts: &DeployOpts,
    ) -> Result<Deployed, Error> {
        let target = match opts.target {
            Some(t) => t,
            None => {
                let (t, note) = self.build_target_for(localstack);
                if let Some(n) = note {
                    opts.progress.note(&format!("note: {n}"));
                }
                t
            }
        };
        let packages = self.package(target, &opts.progress).await?;
        self.apply(localstack, &packages, opts).await
    }

    /// Deploys already packaged functions (see [`Stack::package`]).
    pub async fn apply(
        &self,
        localstack: &LocalStack,
        packages: &BTreeMap<String, Package>,
        opts: &DeployOpts,
    ) -> Result<Deployed, Error> {
        let offered = crate::backend::external::check_services(
            localstack.endpoint(),
            &self.manifest.services(),
        )
        .await?;
        let clients = Clients::new(&localstack.sdk_config());
        let (report, _) = deploy::apply(
            &self.manifest,
            packages,
            &clients,
            &DeployOptions {
                prune: opts.prune,
                project: self.project(),
                offered,
            },
            &opts.progress,
        )
        .await?;
        let mut deployed = self.observe(localstack).await?;
        deployed.report = report;
        Ok(deployed)
    }

    /// What is deployed now, without changing anything (`lsk status`).
    pub async fn observe(&self, localstack: &LocalStack) -> Result<Deployed, Error> {
        let clients = Clients::new(&localstack.sdk_config());
        let port = localstack.port();
        let region = localstack.region().to_owned();
        let mut view = StackView {
            endpoint: localstack.endpoint().to_owned(),
            region: region.clone(),
            backend: Some(localstack.backend().to_string()),
            backend_reason: Some(localstack.reason().to_owned()),
            pid: localstack.pid(),
            function_fs: crate::backend::external::kit_info(localstack.endpoint())
                .await
                .and_then(|i| i.function_fs_line()),
            functions: Vec::new(),
            queues: Vec::new(),
            buckets: Vec::new(),
            topics: Vec::new(),
            rules: Vec::new(),
            apis: Vec::new(),
            state_machines: Vec::new(),
            warnings: self.manifest.warnings.clone(),
        };

        // Each resource is read independently of the others (only function views need the
        // queues' ARNs), so the reads go at once: `lsk up` prints this view after every deploy.
        use futures::future::try_join_all;
        let queues = try_join_all(
            self.manifest
                .queues
                .values()
                .map(|q| observe_queue(&clients, q, &self.manifest)),
        )
        .await?;
        let queue_names_by_arn: BTreeMap<String, String> = self
            .manifest
            .queues
            .values()
            .zip(&queues)
            .filter_map(|(q, qv)| qv.arn.clone().map(|arn| (arn, q.name.clone())))
            .collect();
        view.queues = queues;
        let project = self.project();
        let functions = try_join_all(self.manifest.functions.values().map(|f| {
            observe_function_view(
                &clients,
                f,
                &self.manifest,
                &region,
                port,
                &queue_names_by_arn,
            )
        }));
        let buckets = try_join_all(
            self.manifest
                .buckets
                .values()
                .map(|b| observe_bucket(&clients, &b.key, &b.name)),
        );
        let topics = try_join_all(
            self.manifest
                .topics
                .values()
                .map(|t| crate::kinds::topic::view(&clients, t)),
        );
        let rules = try_join_all(
            self.manifest
                .rules
                .values()
                .map(|r| crate::kinds::rule::view(&clients, r)),
        );
        let apis = try_join_all(
            self.manifest
                .apis
                .values()
                .map(|a| crate::kinds::api::view(&clients, a, &project)),
        );
        let machines = try_join_all(
            self.manifest
                .state_machines
                .values()
                .map(|m| crate::kinds::state_machine::view(&clients, m)),
        );
        let (functions, buckets, topics, rules, apis, machines) =
            futures::join!(functions, buckets, topics, rules, apis, machines);
        view.functions = functions?;
        view.buckets = buckets?;
        view.topics = topics.map_err(Error::observing)?;
        view.rules = rules.map_err(Error::observing)?;
        view.apis = apis.map_err(Error::observing)?;
        view.state_machines = machines.map_err(Error::observing)?;
        Ok(Deployed {
            view,
            report: DeployReport::default(),
            clients,
            endpoint: localstack.endpoint().to_owned(),
        })
    }
}

async fn observe_function_view(
    clients: &Clients,
    f: &crate::manifest::Function,
    manifest: &Manifest,
    region: &str,
    port: u16,
    queue_names_by_arn: &BTreeMap<String, String>,
) -> Result<FunctionView, Error> {
    let example = f.example.clone().unwrap_or_else(|| "{}".to_owned());
    let observed = crate::kinds::function::observe_function(clients, &f.name)
        .await
        .map_err(Error::observing)?;
    let Some(observed) = observed else {
        return Ok(FunctionView {
            name: f.name.clone(),
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
            build: None,
            watched: None,
            awslocal: output::awslocal_invoke_line(&f.name, &example),
            example,
        });
    };
    let (observed, cfg) = (observed.0, observed.1);
    let s3_triggers = observe_s3_triggers(clients, f, manifest, region).await?;
    let url = crate::kinds::url::observe_url(clients, &f.name)
        .await
        .map_err(Error::observing)?
        .and_then(|(o, function_url)| output::url_view(&function_url, &o.auth, region, port));
    let triggers = crate::kinds::sqs_trigger::observe_mappings(clients, &f.name)
        .await
        .map_err(Error::observing)?
        .into_iter()
        .map(|m| TriggerView {
            queue: queue_names_by_arn
                .get(&m.source_arn)
                .cloned()
                .unwrap_or_else(|| {
                    m.source_arn
                        .rsplit(':')
                        .next()
                        .unwrap_or_default()
                        .to_owned()
                }),
            batch_size: m.batch_size,
            report_batch_item_failures: m.report_failures,
            state: m.state,
        })
        .collect();
    Ok(FunctionView {
        name: f.name.clone(),
        state: cfg
            .state()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_else(|| "unknown".into()),
        state_reason: cfg
            .state_reason()
            .filter(|_| cfg.state().is_some_and(|s| s.as_str() != "Active"))
            .map(str::to_owned),
        arn: cfg.function_arn().map(str::to_owned),
        memory: cfg.memory_size(),
        timeout: cfg.timeout(),
        code_sha256: cfg.code_sha256().map(str::to_owned),
        curl: url
            .as_ref()
            .map(|u| output::curl_line(u, f.example_path.as_deref(), &example, region)),
        url,
        triggers,
        s3_triggers,
        build: observed
            .tags
            .get(crate::kinds::function::TAG_BUILD)
            .cloned(),
        watched: observed
            .code_location
            .as_deref()
            .filter(|_| observed.code_sha256.as_deref() == Some(deploy::HOT_RELOAD_SHA256))
            .map(|l| l.trim_start_matches("file://").to_owned()),
        awslocal: output::awslocal_invoke_line(&f.name, &example),
        example,
    })
}

/// The function's S3 triggers as the manifest lists them, each marked with whether its bucket has
/// it.
async fn observe_s3_triggers(
    clients: &Clients,
    f: &crate::manifest::Function,
    manifest: &Manifest,
    region: &str,
) -> Result<Vec<S3TriggerView>, Error> {
    use crate::kinds::s3_trigger;
    let mut out = Vec::new();
    for (i, t) in f.s3.iter().enumerate() {
        let Some(bucket) = manifest.buckets.get(&t.bucket) else {
            continue;
        };
        let id = format!("{}{}-{i}", s3_trigger::CONFIG_PREFIX, f.name);
        let deployed = s3_trigger::observe(clients, &bucket.name)
            .await
            .map_err(Error::observing)?
            .is_some_and(|config| {
                let wanted = s3_trigger::desired_notifications(manifest, &t.bucket, region);
                let there = s3_trigger::owned(&config);
                wanted
                    .iter()
                    .find(|n| n.id == id)
                    .is_some_and(|w| there.contains(w))
            });
        out.push(S3TriggerView {
            bucket: bucket.name.clone(),
            events: t.events.clone(),
            prefix: t.prefix.clone(),
            suffix: t.suffix.clone(),
            deployed,
            awslocal: output::awslocal_upload_line(&bucket.name, &s3_trigger::example_key(t)),
        });
    }
    Ok(out)
}

async fn observe_queue(
    clients: &Clients,
    q: &crate::manifest::Queue,
    manifest: &Manifest,
) -> Result<QueueView, Error> {
    let url = crate::kinds::queue::queue_url(clients, &q.name)
        .await
        .map_err(Error::observing)?;
    let attrs = match &url {
        Some(u) => crate::kinds::queue::queue_attributes(clients, u)
            .await
            .map_err(Error::observing)?,
        None => Default::default(),
    };
    let number = |k: &str| attrs.get(k).and_then(|v| v.parse::<i64>().ok());
    let body = q
        .example
        .clone()
        .or_else(|| {
            manifest
                .consumer_of(&q.name)
                .and_then(|f| f.example.clone())
        })
        .unwrap_or_else(|| r#"{"hello": "from lsk"}"#.to_owned());
    Ok(QueueView {
        name: q.name.clone(),
        arn: attrs.get("QueueArn").cloned(),
        fifo: q.fifo,
        dead_letter: q.dead_letter.as_ref().map(|d| d.queue.clone()),
        max_receive_count: q.dead_letter.as_ref().map(|d| d.max_receive_count),
        messages: number("ApproximateNumberOfMessages"),
        in_flight: number("ApproximateNumberOfMessagesNotVisible"),
        awslocal: url
            .as_ref()
            .map(|u| output::awslocal_send_line(u, &body, q.fifo)),
        url,
    })
}

/// Most objects counted per bucket before giving up (status stays quick on big buckets).
const MAX_COUNTED_PAGES: usize = 20;

async fn observe_bucket(clients: &Clients, key: &str, name: &str) -> Result<BucketView, Error> {
    let mut objects = 0u64;
    let mut exists = true;
    let mut pages = clients
        .s3
        .list_objects_v2()
        .bucket(name)
        .into_paginator()
        .send();
    for _ in 0..MAX_COUNTED_PAGES {
        let Some(page) = pages.next().await else {
            break;
        };
        match page {
            Ok(page) => objects += page.contents().len() as u64,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_no_such_bucket()) =>
            {
                exists = false;
                break;
            }
            Err(e) => return Err(Error::Aws(AwsError::sdk("ListObjectsV2", name, e))),
        }
    }
    Ok(BucketView {
        key: key.to_owned(),
        name: name.to_owned(),
        exists,
        objects: exists.then_some(objects),
        awslocal: output::awslocal_ls_line(name),
    })
}

/// A deployed stack: what is there, what the deploy changed, and handles to use it.
#[derive(Debug, Clone)]
pub struct Deployed {
    view: StackView,
    report: DeployReport,
    clients: Clients,
    endpoint: String,
}

impl Deployed {
    /// What the deploy changed (empty for [`Stack::observe`]).
    pub fn report(&self) -> &DeployReport {
        &self.report
    }
    /// Everything printed about the stack.
    pub fn view(&self) -> &StackView {
        &self.view
    }
    pub fn clients(&self) -> &Clients {
        &self.clients
    }
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A deployed function.
    pub fn function(&self, name: &str) -> Result<FunctionHandle<'_>, Error> {
        let view = self
            .view
            .functions
            .iter()
            .find(|f| f.name == name)
            .ok_or_else(|| Error::UnknownResource {
                kind: "function",
                name: name.to_owned(),
                known: names(self.view.functions.iter().map(|f| f.name.as_str())),
            })?;
        if view.arn.is_none() {
            return Err(Error::NotDeployed {
                kind: "function",
                name: name.to_owned(),
            });
        }
        Ok(FunctionHandle {
            deployed: self,
            view,
        })
    }

    /// A deployed queue.
    pub fn queue(&self, name: &str) -> Result<QueueHandle<'_>, Error> {
        let view = self
            .view
            .queues
            .iter()
            .find(|q| q.name == name)
            .ok_or_else(|| Error::UnknownResource {
                kind: "queue",
                name: name.to_owned(),
                known: names(self.view.queues.iter().map(|q| q.name.as_str())),
            })?;
        let url = view.url.as_deref().ok_or_else(|| Error::NotDeployed {
            kind: "queue",
            name: name.to_owned(),
        })?;
        Ok(QueueHandle {
            deployed: self,
            view,
            url,
        })
    }

    /// A deployed bucket, by its key in the manifest.
    pub fn bucket(&self, key: &str) -> Result<BucketHandle<'_>, Error> {
        let view = self
            .view
            .buckets
            .iter()
            .find(|b| b.key == key)
            .ok_or_else(|| Error::UnknownResource {
                kind: "bucket",
                name: key.to_owned(),
                known: names(self.view.buckets.iter().map(|b| b.key.as_str())),
            })?;
        if !view.exists {
            return Err(Error::NotDeployed {
                kind: "bucket",
                name: key.to_owned(),
            });
        }
        Ok(BucketHandle {
            deployed: self,
            view,
        })
    }
}

impl Deployed {
    /// A deployed REST API.
    pub fn api(&self, name: &str) -> Result<ApiHandle<'_>, Error> {
        let view = self
            .view
            .apis
            .iter()
            .find(|a| a.name == name)
            .ok_or_else(|| Error::UnknownResource {
                kind: "api",
                name: name.to_owned(),
                known: names(self.view.apis.iter().map(|a| a.name.as_str())),
            })?;
        let url = view.offline.as_deref().ok_or_else(|| Error::NotDeployed {
            kind: "api",
            name: name.to_owned(),
        })?;
        Ok(ApiHandle {
            deployed: self,
            view,
            url,
        })
    }

    /// A deployed SNS topic.
    pub fn topic(&self, name: &str) -> Result<TopicHandle<'_>, Error> {
        let view = self
            .view
            .topics
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::UnknownResource {
                kind: "topic",
                name: name.to_owned(),
                known: names(self.view.topics.iter().map(|t| t.name.as_str())),
            })?;
        let arn = view.arn.as_deref().ok_or_else(|| Error::NotDeployed {
            kind: "topic",
            name: name.to_owned(),
        })?;
        Ok(TopicHandle {
            deployed: self,
            view,
            arn,
        })
    }

    /// A deployed state machine.
    pub fn state_machine(&self, name: &str) -> Result<StateMachineHandle<'_>, Error> {
        let view = self
            .view
            .state_machines
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| Error::UnknownResource {
                kind: "state machine",
                name: name.to_owned(),
                known: names(self.view.state_machines.iter().map(|m| m.name.as_str())),
            })?;
        let arn = view.arn.as_deref().ok_or_else(|| Error::NotDeployed {
            kind: "state machine",
            name: name.to_owned(),
        })?;
        Ok(StateMachineHandle {
            deployed: self,
            view,
            arn,
        })
    }
}

/// A deployed REST API.
#[derive(Debug, Clone, Copy)]
pub struct ApiHandle<'a> {
    deployed: &'a Deployed,
    view: &'a output::ApiView,
    url: &'a str,
}

impl ApiHandle<'_> {
    /// The stage's URL in the form that works offline (`http://<id>.execute-api.localhost:<port>/<stage>`).
    pub fn url(&self) -> &str {
        self.url
    }
    pub fn view(&self) -> &output::ApiView {
        self.view
    }

    /// Any HTTP request to `path` under the stage, without needing DNS.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        content_type: Option<&str>,
    ) -> Result<HttpReply, Error> {
        let url = format!("{}/{}", self.url, path.trim_start_matches('/'));
        invoke::call_url(&self.deployed.endpoint, &url, method, body, content_type).await
    }

    /// POSTs `body` as JSON to `path` under the stage.
    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<HttpReply, Error> {
        self.call(
            "POST",
            path,
            Some(body.to_string().into_bytes()),
            Some("application/json"),
        )
        .await
    }
}

/// A deployed SNS topic.
#[derive(Debug, Clone, Copy)]
pub struct TopicHandle<'a> {
    deployed: &'a Deployed,
    view: &'a output::TopicView,
    arn: &'a str,
}

impl TopicHandle<'_> {
    pub fn arn(&self) -> &str {
        self.arn
    }
    pub fn view(&self) -> &output::TopicView {
        self.view
    }

    /// Publishes `message`; returns SNS's message id.
    pub async fn publish(&self, message: &str) -> Result<String, Error> {
        let out = self
            .deployed
            .clients
            .sns
            .publish()
            .topic_arn(self.arn)
            .message(message)
            .send()
            .await
            .map_err(|e| Error::Aws(AwsError::sdk("Publish", &self.view.name, e)))?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }
}

/// A deployed state machine.
#[derive(Debug, Clone, Copy)]
pub struct StateMachineHandle<'a> {
    deployed: &'a Deployed,
    view: &'a output::StateMachineView,
    arn: &'a str,
}

/// How an execution ended (or where it was when the wait ran out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Execution {
    pub arn: String,
    /// RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED.
    pub status: String,
    /// The output document, when it succeeded.
    pub output: Option<serde_json::Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl StateMachineHandle<'_> {
    pub fn arn(&self) -> &str {
        self.arn
    }
    pub fn view(&self) -> &output::StateMachineView {
        self.view
    }

    /// Starts an execution with `input` and waits up to `within` for it to end.
    pub async fn run(
        &self,
        input: &serde_json::Value,
        within: Duration,
    ) -> Result<Execution, Error> {
        let sfn = &self.deployed.clients.sfn;
        let started = sfn
            .start_execution()
            .state_machine_arn(self.arn)
            .input(input.to_string())
            .send()
            .await
            .map_err(|e| Error::Aws(AwsError::sdk("StartExecution", &self.view.name, e)))?;
        let arn = started.execution_arn().to_owned();
        // Step Functions has no SDK waiter for executions; poll DescribeExecution at a fixed
        // interval until it ends or the bound passes.
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let out = sfn
                .describe_execution()
                .execution_arn(&arn)
                .send()
                .await
                .map_err(|e| Error::Aws(AwsError::sdk("DescribeExecution", &arn, e)))?;
            let status = out.status().as_str().to_owned();
            if status != "RUNNING" || tokio::time::Instant::now() >= deadline {
                return Ok(Execution {
                    arn,
                    status,
                    output: out.output().and_then(|o| serde_json::from_str(o).ok()),
                    error: out.error().map(str::to_owned),
                    cause: out.cause().map(str::to_owned),
                });
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    let v: Vec<&str> = it.collect();
    if v.is_empty() {
        "(none)".into()
    } else {
        v.join(", ")
    }
}

/// A deployed function.
#[derive(Debug, Clone, Copy)]
pub struct FunctionHandle<'a> {
    deployed: &'a Deployed,
    view: &'a FunctionView,
}

impl FunctionHandle<'_> {
    pub fn name(&self) -> &str {
        &self.view.name
    }
    pub fn arn(&self) -> Option<&str> {
        self.view.arn.as_deref()
    }
    /// Active / Pending / Failed.
    pub fn state(&self) -> &str {
        &self.view.state
    }
    /// The function URL in the form that works offline (`http://<id>.lambda-url.<region>.localhost:<port>/`).
    pub fn url(&self) -> Option<&str> {
        self.view.url.as_ref().map(|u| u.offline.as_str())
    }
    /// Both forms of the function URL and its id.
    pub fn url_view(&self) -> Option<&output::UrlView> {
        self.view.url.as_ref()
    }
    pub fn view(&self) -> &FunctionView {
        self.view
    }

    /// Invokes synchronously with a JSON payload; a function error is `Err(Error::FunctionError)`.
    pub async fn invoke(&self, payload: &serde_json::Value) -> Result<serde_json::Value, Error> {
        self.invoke_raw(payload.to_string().as_bytes(), InvokeMode::Sync)
            .await?
            .ok()?
            .json()
    }

    /// Invokes with raw bytes; the result says whether the function failed.
    pub async fn invoke_raw(&self, payload: &[u8], mode: InvokeMode) -> Result<Invocation, Error> {
        invoke::invoke(&self.deployed.clients, &self.view.name, payload, mode).await
    }

    /// POSTs `body` as JSON to `path` of the function URL, without needing DNS.
    pub async fn post_json(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<HttpReply, Error> {
        self.call_url(
            "POST",
            path,
            Some(body.to_string().into_bytes()),
            Some("application/json"),
        )
        .await
    }

    /// Any HTTP request to `path` of the function URL.
    pub async fn call_url(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
        content_type: Option<&str>,
    ) -> Result<HttpReply, Error> {
        let base = self
            .url()
            .ok_or_else(|| Error::NoUrl(self.view.name.clone()))?;
        let url = format!("{base}{}", path.trim_start_matches('/'));
        invoke::call_url(&self.deployed.endpoint, &url, method, body, content_type).await
    }

    /// Log lines from `since` ago until now.
    pub async fn logs(&self, since: Duration) -> Result<Vec<LogLine>, Error> {
        invoke::logs(
            &self.deployed.clients,
            &self.view.name,
            invoke::millis_ago(since),
        )
        .await
    }
}

/// A deployed queue.
#[derive(Debug, Clone, Copy)]
pub struct QueueHandle<'a> {
    deployed: &'a Deployed,
    view: &'a QueueView,
    url: &'a str,
}

impl QueueHandle<'_> {
    pub fn name(&self) -> &str {
        &self.view.name
    }
    pub fn url(&self) -> &str {
        self.url
    }
    pub fn arn(&self) -> Option<&str> {
        self.view.arn.as_deref()
    }

    /// Sends one message; returns its id.
    pub async fn send(&self, body: &str) -> Result<String, Error> {
        let mut req = self
            .deployed
            .clients
            .sqs
            .send_message()
            .queue_url(self.url)
            .message_body(body);
        if self.view.fifo {
            req = req
                .message_group_id("lsk")
                .message_deduplication_id(format!("{:x}", invoke::millis_ago(Duration::ZERO)));
        }
        let out = req
            .send()
            .await
            .map_err(|e| Error::Aws(AwsError::sdk("SendMessage", &self.view.name, e)))?;
        Ok(out.message_id().unwrap_or_default().to_owned())
    }

    /// (waiting, in flight): ApproximateNumberOfMessages and ...NotVisible.
    pub async fn depth(&self) -> Result<(i64, i64), Error> {
        let out = self
            .deployed
            .clients
            .sqs
            .get_queue_attributes()
            .queue_url(self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| Error::Aws(AwsError::sdk("GetQueueAttributes", &self.view.name, e)))?;
        let get = |k: QueueAttributeName| {
            out.attributes()
                .and_then(|m| m.get(&k))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok((
            get(QueueAttributeName::ApproximateNumberOfMessages),
            get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
        ))
    }

    /// Receives up to `max` (1..=10) message bodies, waiting up to `wait` for the first, and
    /// deletes what it received.
    pub async fn receive(&self, max: i32, wait: Duration) -> Result<Vec<String>, Error> {
        let sqs = &self.deployed.clients.sqs;
        let out = sqs
            .receive_message()
            .queue_url(self.url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .send()
            .await
            .map_err(|e| Error::Aws(AwsError::sdk("ReceiveMessage", &self.view.name, e)))?;
        let mut bodies = Vec::new();
        for m in out.messages() {
            bodies.push(m.body().unwrap_or_default().to_owned());
            if let Some(handle) = m.receipt_handle() {
                sqs.delete_message()
                    .queue_url(self.url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| Error::Aws(AwsError::sdk("DeleteMessage", &self.view.name, e)))?;
            }
        }
        Ok(bodies)
    }
}

/// A deployed bucket.
#[derive(Debug, Clone, Copy)]
pub struct BucketHandle<'a> {
    deployed: &'a Deployed,
    view: &'a BucketView,
}

impl BucketHandle<'_> {
    /// The S3 bucket name.
    pub fn name(&self) -> &str {
        &self.view.name
    }
    /// The key in the manifest.
    pub fn key(&self) -> &str {
        &self.view.key
    }

    /// Every object key (all pages).
    pub async fn keys(&self) -> Result<Vec<String>, Error> {
        let mut keys = Vec::new();
        let mut pages = self
            .deployed
            .clients
            .s3
            .list_objects_v2()
            .bucket(&self.view.name)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| Error::Aws(AwsError::sdk("ListObjectsV2", &self.view.name, e)))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_owned)),
            );
        }
        Ok(keys)
    }

    /// An object's bytes.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, Error> {
        let what = format!("s3://{}/{key}", self.view.name);
        let out = self
            .deployed
            .clients
            .s3
            .get_object()
            .bucket(&self.view.name)
            .key(key)
            .send()
            .await
            .map_err(|e| Error::Aws(AwsError::sdk("GetObject", &what, e)))?;
        let bytes = out.body.collect().await.map_err(|e| Error::Http {
            method: "GET".into(),
            url: what,
            detail: e.to_string(),
        })?;
        Ok(bytes.into_bytes().to_vec())
    }
}

/// The venv `lsk env` puts on PATH (awslocal lives there).
pub fn venv_bin(root: &Path) -> PathBuf {
    root.join(".lsk").join("venv").join("bin")
}
