//! What the kit runs of a template: the resource and event types it has a working LocalStack
//! service for, the ones it refuses (LocalStack would otherwise "deploy" them as inert
//! stand-ins), the warnings, and the services a template needs started.

use serde_json::Value;

/// A resource or event the kit does not run, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    pub logical_id: String,
    pub kind: String,
    pub why: String,
}

/// Resource types that deploy and work on the kit's LocalStack.
const SUPPORTED: &[&str] = &[
    "AWS::Serverless::Function",
    "AWS::Serverless::Api",
    "AWS::Serverless::StateMachine",
    "AWS::Serverless::Connector",
    "AWS::Lambda::Function",
    "AWS::Lambda::Permission",
    "AWS::Lambda::Url",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::Lambda::Version",
    "AWS::Lambda::Alias",
    "AWS::SQS::Queue",
    "AWS::SQS::QueuePolicy",
    "AWS::SNS::Topic",
    "AWS::SNS::Subscription",
    "AWS::SNS::TopicPolicy",
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::Events::Rule",
    "AWS::Events::EventBus",
    "AWS::Logs::LogGroup",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
    "AWS::IAM::ManagedPolicy",
    "AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Resource",
    "AWS::ApiGateway::Method",
    "AWS::ApiGateway::Deployment",
    "AWS::ApiGateway::Stage",
    "AWS::ApiGateway::Authorizer",
    "AWS::ApiGateway::Model",
    "AWS::ApiGateway::RequestValidator",
    "AWS::ApiGateway::GatewayResponse",
    "AWS::StepFunctions::StateMachine",
    "AWS::SSM::Parameter",
    "AWS::Scheduler::Schedule",
    "AWS::CloudFormation::WaitConditionHandle",
];

/// Types the kit refuses with a reason of their own (the others: "no LocalStack service here").
fn refusal(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "AWS::Serverless::HttpApi" | "AWS::ApiGatewayV2::Api" => {
            "HTTP APIs (API Gateway v2) are not in LocalStack's open-source edition; use an Api (REST) event or a function URL"
        }
        "AWS::Serverless::SimpleTable" | "AWS::DynamoDB::Table" => {
            "DynamoDB starts a Java server that LocalStack downloads on first use: it cannot run offline here yet"
        }
        "AWS::Serverless::LayerVersion" | "AWS::Lambda::LayerVersion" => {
            "layers are not mounted by the kit's process executor; build what the layer holds into the function"
        }
        "AWS::Serverless::Application" => {
            "nested applications come from the Serverless Application Repository (network)"
        }
        "AWS::CloudFront::Distribution" => "CloudFront is not in LocalStack's open-source edition",
        _ => return None,
    })
}

/// Event source types of `AWS::Serverless::Function` the kit runs.
const EVENTS: &[&str] = &[
    "Api",
    "SQS",
    "S3",
    "SNS",
    "Schedule",
    "ScheduleV2",
    "EventBridgeRule",
    "CloudWatchEvent",
];

/// Resources and function events of `template` the kit cannot run.
pub fn unsupported(template: &Value) -> Vec<Unsupported> {
    let mut out = Vec::new();
    for (id, resource) in resources(template) {
        let kind = resource.get("Type").and_then(Value::as_str).unwrap_or("");
        if !SUPPORTED.contains(&kind) {
            out.push(Unsupported {
                logical_id: id.clone(),
                kind: kind.to_owned(),
                why: refusal(kind)
                    .unwrap_or("the kit's LocalStack has no working service for this type")
                    .to_owned(),
            });
        }
        if kind == "AWS::Serverless::Function" {
            for (event, spec) in events(resource) {
                let event_type = spec.get("Type").and_then(Value::as_str).unwrap_or("");
                if !EVENTS.contains(&event_type) {
                    out.push(Unsupported {
                        logical_id: format!("{id}.Events.{event}"),
                        kind: format!("event {event_type}"),
                        why: match event_type {
                            "HttpApi" => refusal("AWS::Serverless::HttpApi")
                                .unwrap_or_default()
                                .to_owned(),
                            "DynamoDB" => refusal("AWS::DynamoDB::Table")
                                .unwrap_or_default()
                                .to_owned(),
                            _ => "the kit's LocalStack has no event source of this type".to_owned(),
                        },
                    });
                }
            }
        }
        if kind == "AWS::Serverless::Function"
            && resource
                .pointer("/Properties/PackageType")
                .and_then(Value::as_str)
                == Some("Image")
        {
            out.push(Unsupported {
                logical_id: id.clone(),
                kind: "PackageType Image".into(),
                why: "container-image functions need a registry and Docker-run Lambdas; the kit runs zip (provided.al2023) functions".into(),
            });
        }
    }
    out
}

/// What deploys but does not behave as on AWS here: said as warnings.
pub fn warnings(template: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for (id, resource) in resources(template) {
        let kind = resource.get("Type").and_then(Value::as_str).unwrap_or("");
        if kind == "AWS::ApiGateway::Authorizer"
            || (kind == "AWS::Serverless::Api"
                && resource.pointer("/Properties/Auth/Authorizers").is_some())
        {
            out.push(format!("{id}: LocalStack's open-source edition does not run API Gateway authorizers; requests reach the function without being authorized"));
        }
        if kind == "AWS::Scheduler::Schedule" {
            out.push(format!("{id}: EventBridge Scheduler schedules are created but do not fire here; only EventBridge rules (Schedule events) do"));
        }
        for (event, spec) in events(resource) {
            if spec.get("Type").and_then(Value::as_str) == Some("ScheduleV2") {
                out.push(format!("{id}.Events.{event}: ScheduleV2 (EventBridge Scheduler) is created but does not fire here; a Schedule event (an EventBridge rule) does"));
            }
            if spec.get("Type").and_then(Value::as_str) == Some("Api")
                && spec
                    .pointer("/Properties/Auth/Authorizer")
                    .and_then(Value::as_str)
                    .is_some_and(|a| a != "NONE" && a != "AWS_IAM")
            {
                out.push(format!("{id}.Events.{event}: its authorizer is not run by LocalStack's open-source edition"));
            }
        }
    }
    out.dedup();
    out
}

/// The LocalStack services the template's resources need, besides the kit's own (lambda, sqs,
/// s3, logs, iam, sts).
pub fn services(template: &Value) -> Vec<String> {
    let mut out: Vec<String> = vec!["cloudformation".into()];
    let mut add = |s: &str| {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    };
    for (_, resource) in resources(template) {
        let kind = resource.get("Type").and_then(Value::as_str).unwrap_or("");
        match kind.split("::").nth(1).unwrap_or("") {
            "SNS" => add("sns"),
            "Events" => add("events"),
            "ApiGateway" => add("apigateway"),
            "StepFunctions" => add("stepfunctions"),
            "SSM" => add("ssm"),
            "Scheduler" => add("scheduler"),
            _ => {}
        }
        match kind {
            "AWS::Serverless::Api" => add("apigateway"),
            "AWS::Serverless::StateMachine" => add("stepfunctions"),
            _ => {}
        }
        if kind == "AWS::Serverless::StateMachine" || kind == "AWS::Serverless::Function" {
            for (_, spec) in events(resource) {
                match spec.get("Type").and_then(Value::as_str).unwrap_or("") {
                    "Api" => add("apigateway"),
                    "SNS" => add("sns"),
                    "Schedule" | "EventBridgeRule" | "CloudWatchEvent" => add("events"),
                    "ScheduleV2" => add("scheduler"),
                    _ => {}
                }
            }
        }
        if resource
            .pointer("/Properties/EventInvokeConfig/DestinationConfig")
            .is_some()
        {
            add("sns");
            add("events");
        }
        if kind == "AWS::S3::Bucket"
            && resource
                .pointer("/Properties/NotificationConfiguration/EventBridgeConfiguration")
                .is_some()
        {
            add("events");
        }
    }
    out
}

/// The template's resources in order.
pub fn resources(template: &Value) -> impl Iterator<Item = (&String, &Value)> {
    template
        .get("Resources")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.iter())
}

/// A SAM function's or state machine's `Events`.
pub fn events(resource: &Value) -> impl Iterator<Item = (&String, &Value)> {
    resource
        .pointer("/Properties/Events")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|m| m.iter())
}
