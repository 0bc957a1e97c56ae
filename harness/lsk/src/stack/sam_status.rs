//! `lsk status` of a SAM template: the stack's resources read back by type into the same views
//! an `lsk.toml` stack has, each named by its logical ID, and the template's outputs in the form
//! that works here.

use std::collections::BTreeMap;

use aws_sdk_apigateway::types::Resource as ApiResource;

use crate::aws::{AwsError, Clients};
use crate::backend::LocalStack;
use crate::deploy::DeployReport;
use crate::error::Error;
use crate::output::{
    self, ApiView, OutputView, QueueView, RouteView, RuleView, StackView, StateMachineView,
    TopicView,
};
use crate::sam::Project;
use crate::sam::observe::{self, StackResource};

use super::status::{Named, empty_view, function_view, observe_bucket};
use super::{Deployed, Stack};

impl Stack {
    /// Lambda's name of the function `name`: the manifest's name itself, or the physical name
    /// of a template's function (by logical ID; a Lambda name is taken as it is).
    pub async fn lambda_name(&self, localstack: &LocalStack, name: &str) -> Result<String, Error> {
        let Some(project) = &self.sam else {
            return Ok(name.to_owned());
        };
        let cfn = aws_sdk_cloudformation::Client::new(&localstack.sdk_config());
        let functions: Vec<StackResource> = observe::list_resources(&cfn, &project.stack_name)
            .await?
            .into_iter()
            .filter(|r| r.kind == "AWS::Lambda::Function")
            .collect();
        if let Some(physical) = functions
            .iter()
            .find(|r| r.logical_id == name)
            .and_then(|r| r.physical_id.clone())
        {
            return Ok(physical);
        }
        if functions
            .iter()
            .any(|r| r.physical_id.as_deref() == Some(name))
        {
            return Ok(name.to_owned());
        }
        if project.function(name).is_some() {
            return Err(Error::NotDeployed {
                kind: "function",
                name: name.to_owned(),
            });
        }
        Err(Error::UnknownResource {
            kind: "function",
            name: name.to_owned(),
            known: functions
                .iter()
                .map(|r| r.logical_id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    pub(super) async fn observe_template(
        &self,
        localstack: &LocalStack,
        project: &Project,
    ) -> Result<Deployed, Error> {
        let sdk = localstack.sdk_config();
        let clients = Clients::new(&sdk);
        let cfn = aws_sdk_cloudformation::Client::new(&sdk);
        let port = localstack.port();
        let region = localstack.region().to_owned();
        let stack = &project.stack_name;
        let state = observe::describe(&cfn, stack).await?;
        let resources = match &state {
            Some(_) => observe::list_resources(&cfn, stack).await?,
            None => Vec::new(),
        };
        let physical = |kind: &str| -> Vec<(&str, &str)> {
            resources
                .iter()
                .filter(|r| r.kind == kind)
                .filter_map(|r| Some((r.logical_id.as_str(), r.physical_id.as_deref()?)))
                .collect()
        };

        let queues = futures::future::try_join_all(
            physical("AWS::SQS::Queue")
                .into_iter()
                .map(|(id, url)| queue_view(&clients, id, url)),
        )
        .await?;
        let queue_names_by_arn: BTreeMap<String, String> = queues
            .iter()
            .filter_map(|q| Some((q.arn.clone()?, q.name.clone())))
            .collect();
        let queues: Vec<QueueView> = queues
            .into_iter()
            .map(|mut q| {
                q.dead_letter = q
                    .dead_letter
                    .map(|arn| queue_names_by_arn.get(&arn).cloned().unwrap_or(arn));
                q
            })
            .collect();

        let mut functions = Vec::new();
        let deployed_functions = physical("AWS::Lambda::Function");
        for (id, name) in &deployed_functions {
            functions.push(
                function_view(
                    &clients,
                    Named {
                        name: id,
                        function_name: name,
                        example: None,
                        example_path: None,
                    },
                    &region,
                    port,
                    &queue_names_by_arn,
                )
                .await?,
            );
        }
        // A function of the template that is not in the stack is shown as not deployed.
        for f in &project.functions {
            if !deployed_functions.iter().any(|(id, _)| *id == f.logical_id) {
                functions.push(output::FunctionView::not_deployed(
                    &f.logical_id,
                    &f.logical_id,
                    "{}",
                ));
            }
        }
        let function_ids: BTreeMap<&str, &str> = deployed_functions
            .iter()
            .map(|(id, name)| (*name, *id))
            .collect();

        let mut buckets = Vec::new();
        for (id, name) in physical("AWS::S3::Bucket") {
            buckets.push(observe_bucket(&clients, id, name).await?);
        }
        let mut topics = Vec::new();
        for (id, arn) in physical("AWS::SNS::Topic") {
            topics.push(topic_view(&clients, id, arn).await?);
        }
        let mut rules = Vec::new();
        for (id, name) in physical("AWS::Events::Rule") {
            rules.push(rule_view(&clients, id, name).await?);
        }
        let mut apis = Vec::new();
        for (id, api_id) in physical("AWS::ApiGateway::RestApi") {
            apis.push(api_view(&clients, id, api_id, &function_ids).await?);
        }
        let mut state_machines = Vec::new();
        for (id, arn) in physical("AWS::StepFunctions::StateMachine") {
            state_machines.push(state_machine_view(&clients, id, arn).await?);
        }

        let outputs = state
            .as_ref()
            .map(|s| {
                s.outputs
                    .iter()
                    .map(|o| {
                        let local = observe::local_url(&o.value, port);
                        OutputView {
                            key: o.key.clone(),
                            deployed: local.as_ref().map(|_| o.value.clone()),
                            value: local.unwrap_or_else(|| o.value.clone()),
                            description: o.description.clone(),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let stand_ins = stand_ins(project, &resources);
        let view = StackView {
            functions,
            queues,
            buckets,
            topics,
            rules,
            apis,
            state_machines,
            stack: Some(match &state {
                Some(s) => format!("{} ({}) from {}", s.name, s.status, project.path.display()),
                None => format!(
                    "{} (not deployed) from {}",
                    project.stack_name,
                    project.path.display()
                ),
            }),
            outputs,
            stand_ins,
            ..empty_view(localstack, project.warnings.clone()).await
        };
        Ok(Deployed {
            view,
            report: DeployReport::default(),
            clients,
            endpoint: localstack.endpoint().to_owned(),
        })
    }
}

/// The template's unsupported resources that are in the stack (deployed as stand-ins).
fn stand_ins(project: &Project, resources: &[StackResource]) -> Vec<String> {
    project
        .unsupported
        .iter()
        .filter(|u| {
            let resource = u.logical_id.split('.').next().unwrap_or(&u.logical_id);
            resources.iter().any(|r| r.logical_id == resource)
        })
        .map(|u| format!("{} ({}): {}", u.logical_id, u.kind, u.why))
        .collect()
}

async fn queue_view(clients: &Clients, id: &str, url: &str) -> Result<QueueView, Error> {
    let attrs = crate::kinds::queue::queue_attributes(clients, url)
        .await
        .map_err(Error::observing)?;
    let number = |k: &str| attrs.get(k).and_then(|v| v.parse::<i64>().ok());
    let redrive: Option<serde_json::Value> = attrs
        .get("RedrivePolicy")
        .and_then(|r| serde_json::from_str(r).ok());
    let fifo = url.ends_with(".fifo");
    Ok(QueueView {
        name: id.to_owned(),
        arn: attrs.get("QueueArn").cloned(),
        fifo,
        dead_letter: redrive
            .as_ref()
            .and_then(|r| r["deadLetterTargetArn"].as_str())
            .map(str::to_owned),
        max_receive_count: redrive.as_ref().and_then(|r| match &r["maxReceiveCount"] {
            serde_json::Value::Number(n) => n.as_i64().map(|n| n as i32),
            serde_json::Value::String(s) => s.parse().ok(),
            _ => None,
        }),
        messages: number("ApproximateNumberOfMessages"),
        in_flight: number("ApproximateNumberOfMessagesNotVisible"),
        awslocal: Some(output::awslocal_send_line(
            url,
            r#"{"hello": "from lsk"}"#,
            fifo,
        )),
        url: Some(url.to_owned()),
    })
}

async fn topic_view(clients: &Clients, id: &str, arn: &str) -> Result<TopicView, Error> {
    let out = clients
        .sns
        .list_subscriptions_by_topic()
        .topic_arn(arn)
        .send()
        .await
        .map_err(|e| Error::Aws(AwsError::sdk("ListSubscriptionsByTopic", arn, e)))?;
    let mut subscriptions: Vec<String> = out
        .subscriptions()
        .iter()
        .map(|s| {
            let endpoint = s.endpoint().unwrap_or_default();
            format!(
                "{} {}",
                s.protocol().unwrap_or_default(),
                endpoint.rsplit(':').next().unwrap_or(endpoint)
            )
        })
        .collect();
    subscriptions.sort();
    Ok(TopicView {
        name: id.to_owned(),
        arn: Some(arn.to_owned()),
        subscriptions,
        awslocal: Some(crate::kinds::topic::awslocal_publish_line(
            arn,
            r#"{"hello": "from lsk"}"#,
        )),
    })
}

async fn rule_view(clients: &Clients, id: &str, physical: &str) -> Result<RuleView, Error> {
    // CloudFormation's physical ID of a rule on a custom bus is `bus|name`.
    let (bus, name) = physical.split_once('|').unwrap_or(("default", physical));
    let name = name.rsplit('/').next().unwrap_or(name);
    let described = clients
        .events
        .describe_rule()
        .name(name)
        .event_bus_name(bus)
        .send()
        .await;
    let (state, trigger) = match &described {
        Ok(d) => (
            d.state()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|| "unknown".into()),
            match (d.schedule_expression(), d.event_pattern()) {
                (Some(s), _) => format!("schedule {s}"),
                (None, Some(p)) => format!("pattern {p}"),
                _ => String::new(),
            },
        ),
        Err(_) => ("not deployed".to_owned(), String::new()),
    };
    let targets = match &described {
        Ok(_) => clients
            .events
            .list_targets_by_rule()
            .rule(name)
            .event_bus_name(bus)
            .send()
            .await
            .map_err(|e| Error::Aws(AwsError::sdk("ListTargetsByRule", name, e)))?
            .targets()
            .iter()
            .map(|t| t.arn().rsplit(':').next().unwrap_or(t.arn()).to_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    let mut awslocal = format!(
        "awslocal events list-targets-by-rule --rule {}",
        output::shell_quote(name)
    );
    if bus != "default" {
        awslocal.push_str(&format!(" --event-bus-name {}", output::shell_quote(bus)));
    }
    Ok(RuleView {
        name: id.to_owned(),
        bus: bus.to_owned(),
        trigger,
        state,
        targets,
        put_events: None,
        awslocal,
    })
}

async fn api_view(
    clients: &Clients,
    id: &str,
    api_id: &str,
    function_ids: &BTreeMap<&str, &str>,
) -> Result<ApiView, Error> {
    let stage = clients
        .apigateway
        .get_stages()
        .rest_api_id(api_id)
        .send()
        .await
        .map_err(|e| Error::Aws(AwsError::sdk("GetStages", api_id, e)))?
        .item()
        .iter()
        .filter_map(|s| s.stage_name().map(str::to_owned))
        .find(|s| s != "Stage")
        .unwrap_or_else(|| "Prod".into());
    let offline = crate::kinds::api::offline_url(api_id, clients.port, &stage);
    let mut routes = Vec::new();
    let mut pages = clients
        .apigateway
        .get_resources()
        .rest_api_id(api_id)
        .embed("methods")
        .into_paginator()
        .items()
        .send();
    while let Some(resource) = pages.next().await {
        let resource: ApiResource =
            resource.map_err(|e| Error::Aws(AwsError::sdk("GetResources", api_id, e)))?;
        let path = resource.path().unwrap_or("/").to_owned();
        for (method, m) in resource.resource_methods().into_iter().flatten() {
            if method == "OPTIONS" {
                continue;
            }
            let uri = m
                .method_integration()
                .and_then(|i| i.uri())
                .unwrap_or_default();
            let function = function_ids
                .iter()
                .find(|(name, _)| uri.contains(&format!(":function:{name}/")))
                .map(|(_, id)| (*id).to_owned())
                .unwrap_or_else(|| uri.to_owned());
            let route = crate::kinds::api::Route {
                method: method.clone(),
                path: path.clone(),
                function: function.clone(),
                example: None,
            };
            routes.push(RouteView {
                method: method.clone(),
                path: path.clone(),
                function,
                deployed: true,
                curl: Some(crate::kinds::api::curl_line(&offline, &route)),
            });
        }
    }
    routes.sort_by(|a, b| (&a.path, &a.method).cmp(&(&b.path, &b.method)));
    Ok(ApiView {
        name: id.to_owned(),
        id: Some(api_id.to_owned()),
        localstack_cloud: Some(crate::kinds::api::localstack_url(
            api_id,
            clients.port,
            &stage,
        )),
        offline: Some(offline),
        stage,
        routes,
    })
}

async fn state_machine_view(
    clients: &Clients,
    id: &str,
    arn: &str,
) -> Result<StateMachineView, Error> {
    let described = clients
        .sfn
        .describe_state_machine()
        .state_machine_arn(arn)
        .send()
        .await
        .map_err(|e| Error::Aws(AwsError::sdk("DescribeStateMachine", arn, e)))?;
    Ok(StateMachineView {
        name: id.to_owned(),
        arn: Some(arn.to_owned()),
        status: described
            .status()
            .map(|s| s.as_str().to_owned())
            .unwrap_or_else(|| "ACTIVE".into()),
        kind: described.r#type().as_str().to_owned(),
        definition: "the template".into(),
        awslocal: Some(crate::kinds::state_machine::awslocal_start_line(arn, "{}")),
        executions: Some(crate::kinds::state_machine::awslocal_list_line(arn)),
    })
}
