//! `lsk status`: what is deployed now, read from LocalStack without changing anything.

use std::collections::BTreeMap;

use crate::aws::{AwsError, Clients};
use crate::backend::LocalStack;
use crate::deploy::{self, DeployReport};
use crate::error::Error;
use crate::manifest::Manifest;
use crate::output::{
    self, BucketView, FunctionView, QueueView, S3TriggerView, StackView, TriggerView,
};

use super::{Deployed, Stack};

impl Stack {
    /// What is deployed now, without changing anything (`lsk status`).
    pub async fn observe(&self, localstack: &LocalStack) -> Result<Deployed, Error> {
        if let Some(project) = &self.sam {
            return self.observe_template(localstack, project).await;
        }
        let clients = Clients::new(&localstack.sdk_config());
        let port = localstack.port();
        let region = localstack.region().to_owned();
        let mut view = empty_view(localstack, self.manifest.warnings.clone()).await;

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

/// The view of `localstack` with no resources yet: where it is, how it runs functions.
pub(super) async fn empty_view(localstack: &LocalStack, warnings: Vec<String>) -> StackView {
    StackView {
        endpoint: localstack.endpoint().to_owned(),
        region: localstack.region().to_owned(),
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
        stack: None,
        outputs: Vec::new(),
        stand_ins: Vec::new(),
        warnings,
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
    let mut view = function_view(
        clients,
        Named {
            name: &f.name,
            function_name: &f.name,
            example: f.example.as_deref(),
            example_path: f.example_path.as_deref(),
        },
        region,
        port,
        queue_names_by_arn,
    )
    .await?;
    if view.arn.is_some() {
        view.s3_triggers = observe_s3_triggers(clients, f, manifest, region).await?;
    }
    Ok(view)
}

/// How a function is named and exampled in its view.
pub(super) struct Named<'a> {
    /// How the user addresses it (manifest name, template logical ID).
    pub name: &'a str,
    /// Lambda's name.
    pub function_name: &'a str,
    pub example: Option<&'a str>,
    pub example_path: Option<&'a str>,
}

/// A function's view: its configuration, URL and SQS triggers (S3 triggers are the caller's).
pub(super) async fn function_view(
    clients: &Clients,
    named: Named<'_>,
    region: &str,
    port: u16,
    queue_names_by_arn: &BTreeMap<String, String>,
) -> Result<FunctionView, Error> {
    let example = named.example.unwrap_or("{}").to_owned();
    let observed = crate::kinds::function::observe_function(clients, named.function_name)
        .await
        .map_err(Error::observing)?;
    let Some(observed) = observed else {
        return Ok(FunctionView::not_deployed(
            named.name,
            named.function_name,
            &example,
        ));
    };
    let (observed, cfg) = (observed.0, observed.1);
    let url = crate::kinds::url::observe_url(clients, named.function_name)
        .await
        .map_err(Error::observing)?
        .and_then(|(o, function_url)| output::url_view(&function_url, &o.auth, region, port));
    let triggers = crate::kinds::sqs_trigger::observe_mappings(clients, named.function_name)
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
        name: named.name.to_owned(),
        function_name: named.function_name.to_owned(),
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
            .map(|u| output::curl_line(u, named.example_path, &example, region)),
        url,
        triggers,
        s3_triggers: Vec::new(),
        build: observed
            .tags
            .get(crate::kinds::function::TAG_BUILD)
            .cloned(),
        watched: observed
            .code_location
            .as_deref()
            .filter(|_| observed.code_sha256.as_deref() == Some(deploy::HOT_RELOAD_SHA256))
            .map(|l| l.trim_start_matches("file://").to_owned()),
        awslocal: output::awslocal_invoke_line(named.function_name, &example),
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

pub(super) async fn observe_bucket(
    clients: &Clients,
    key: &str,
    name: &str,
) -> Result<BucketView, Error> {
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
