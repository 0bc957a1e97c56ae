//! `lsk export sam`: a stack written in `lsk.toml` as a SAM template that `sam build && sam
//! deploy` ships to AWS. Functions get `rust-cargolambda` metadata and `CodeUri` at their crate,
//! queues their AWS values (the `local` overrides are for the kit only), bucket names become
//! parameters (they are global on AWS), topics and rules get the queue policies AWS requires,
//! and each function gets the policy templates its environment's references need.
//!
//! References (`${queue.jobs.url}`) become `Fn::Sub` over the logical IDs [`logical_id`] gives,
//! the same IDs the kit's SAM path addresses resources by.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use lsk_manifest::kinds::Target;
use lsk_manifest::kinds::rule::Trigger;
use lsk_manifest::{EnvValue, Manifest, RefAttr, RefKind, Reference};
use serde_json::{Map, Value, json};

/// What a logical ID ends with, per kind.
fn suffix(kind: RefKind) -> &'static str {
    match kind {
        RefKind::Bucket => "Bucket",
        RefKind::Queue => "Queue",
        RefKind::Function => "Function",
        RefKind::Topic => "Topic",
        RefKind::Api => "Api",
        RefKind::StateMachine => "StateMachine",
    }
}

/// The logical ID of a manifest resource: its name in CamelCase, then its kind
/// (`image-generator` -> `ImageGeneratorFunction`, `jobs.fifo` -> `JobsFifoQueue`).
pub fn logical_id(kind: RefKind, name: &str) -> String {
    let mut out = String::new();
    for word in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(chars);
        }
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'R');
    }
    out.push_str(suffix(kind));
    out
}

fn rule_id(name: &str) -> String {
    logical_id(RefKind::Function, name)
        .trim_end_matches("Function")
        .to_owned()
        + "Rule"
}

fn bus_id(name: &str) -> String {
    logical_id(RefKind::Function, name)
        .trim_end_matches("Function")
        .to_owned()
        + "Bus"
}

/// The parameter holding a queue's visibility timeout, when its `local` value differs from its
/// AWS value: the template's default is AWS's, the kit passes the local one.
pub fn visibility_parameter(queue: &str) -> String {
    logical_id(RefKind::Queue, queue) + "VisibilityTimeout"
}

fn bucket_parameter(key: &str) -> String {
    logical_id(RefKind::Bucket, key) + "Name"
}

/// `${...}` of CloudFormation's `Fn::Sub` for a reference.
fn sub_variable(r: &Reference, manifest: &Manifest) -> String {
    let id = logical_id(r.kind, &r.name);
    match (r.kind, r.attr) {
        (RefKind::Bucket, RefAttr::Name) | (RefKind::Queue, RefAttr::Url) => format!("${{{id}}}"),
        (RefKind::Queue, RefAttr::Name) => format!("${{{id}.QueueName}}"),
        (RefKind::Topic, RefAttr::Name) => format!("${{{id}.TopicName}}"),
        (RefKind::Topic, _) => format!("${{{id}}}"),
        (RefKind::Function, RefAttr::Name) => format!("${{{id}}}"),
        (RefKind::StateMachine, RefAttr::Name) => format!("${{{id}.Name}}"),
        (RefKind::StateMachine, _) => format!("${{{id}}}"),
        (RefKind::Api, RefAttr::Id) => format!("${{{id}}}"),
        (RefKind::Api, _) => {
            let stage = manifest
                .apis
                .get(&r.name)
                .map(|a| a.stage.as_str())
                .unwrap_or("Prod");
            format!("https://${{{id}}}.execute-api.${{AWS::Region}}.amazonaws.com/{stage}")
        }
        (_, _) => format!("${{{id}.Arn}}"),
    }
}

/// A value with references as CloudFormation takes it: plain text when it has none, else
/// `Fn::Sub` (a literal `${` written as `${!`).
fn sub(value: &EnvValue, manifest: &Manifest) -> Value {
    if value.references().next().is_none() {
        return Value::String(value.raw().replace("$${", "${"));
    }
    const MARK: char = '\u{1}';
    let refs: Vec<Reference> = value.references().cloned().collect();
    let counter = std::cell::Cell::new(0usize);
    let marked = value
        .resolve(&|_| {
            let i = counter.get();
            counter.set(i + 1);
            Ok(format!("{MARK}{i}{MARK}"))
        })
        .unwrap_or_default();
    let mut out = marked.replace("${", "${!");
    for (i, r) in refs.iter().enumerate() {
        out = out.replace(&format!("{MARK}{i}{MARK}"), &sub_variable(r, manifest));
    }
    json!({"Fn::Sub": out})
}

/// The policy template a function needs for what a reference points at.
fn policy_for(kind: RefKind, name: &str, manifest: &Manifest) -> Option<Value> {
    let id = logical_id(kind, name);
    Some(match kind {
        RefKind::Bucket => {
            let key = manifest
                .buckets
                .get(name)
                .map(|b| b.key.as_str())
                .unwrap_or(name);
            json!({"S3CrudPolicy": {"BucketName": {"Ref": bucket_parameter(key)}}})
        }
        RefKind::Queue => {
            json!({"SQSSendMessagePolicy": {"QueueName": {"Fn::GetAtt": [id, "QueueName"]}}})
        }
        RefKind::Topic => {
            json!({"SNSPublishMessagePolicy": {"TopicName": {"Fn::GetAtt": [id, "TopicName"]}}})
        }
        RefKind::Function => json!({"LambdaInvokePolicy": {"FunctionName": {"Ref": id}}}),
        RefKind::StateMachine => {
            json!({"StepFunctionsExecutionPolicy": {"StateMachineName": {"Fn::GetAtt": [id, "Name"]}}})
        }
        RefKind::Api => return None,
    })
}

/// `to` relative to `from` (both absolute), with `/` separators.
fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<Component> = from.components().collect();
    let to_parts: Vec<Component> = to.components().collect();
    let common = from
        .iter()
        .zip(&to_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for part in &to_parts[common..] {
        out.push(part.as_os_str());
    }
    let text = out.to_string_lossy().replace('\\', "/");
    if text.is_empty() { ".".into() } else { text }
}

/// Where each function's crate is, and its binary.
pub struct Crates {
    /// package name -> crate directory (absolute)
    pub dirs: BTreeMap<String, PathBuf>,
    /// package name -> binary names
    pub bins: BTreeMap<String, Vec<String>>,
}

/// The template for `manifest`, to be written at `out` (paths in it are relative to its directory).
pub fn export(manifest: &Manifest, crates: &Crates, out: &Path) -> Value {
    let out_dir = out.parent().unwrap_or(Path::new("."));
    let mut parameters = Map::new();
    let mut resources = Map::new();
    let mut outputs = Map::new();
    // queue -> statements allowing topics and rules to send to it
    let mut queue_senders: BTreeMap<String, Vec<(String, Value)>> = BTreeMap::new();

    for b in manifest.buckets.values() {
        let param = bucket_parameter(&b.key);
        parameters.insert(
            param.clone(),
            json!({"Type": "String", "Default": b.name,
                   "Description": format!("Name of the {} bucket: S3 bucket names are global on AWS, choose your own", b.key)}),
        );
        let id = logical_id(RefKind::Bucket, &b.key);
        resources.insert(
            id.clone(),
            json!({"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Ref": param}}}),
        );
        outputs.insert(id.clone(), json!({"Value": {"Ref": id}}));
    }

    for q in manifest.queues.values() {
        let id = logical_id(RefKind::Queue, &q.name);
        let mut props = Map::new();
        match q.local_visibility_timeout {
            Some(local) if local != q.visibility_timeout => {
                let param = visibility_parameter(&q.name);
                parameters.insert(
                    param.clone(),
                    json!({"Type": "Number", "Default": q.visibility_timeout,
                           "Description": format!("Visibility timeout of {} in seconds (lsk.toml's `local` value on the kit: {local})", q.name)}),
                );
                props.insert("VisibilityTimeout".into(), json!({"Ref": param}));
            }
            _ => {
                props.insert("VisibilityTimeout".into(), json!(q.visibility_timeout));
            }
        }
        props.insert("MessageRetentionPeriod".into(), json!(q.message_retention));
        if q.fifo {
            props.insert("FifoQueue".into(), json!(true));
        }
        if let Some(dl) = &q.dead_letter {
            props.insert(
                "RedrivePolicy".into(),
                json!({"deadLetterTargetArn": {"Fn::GetAtt": [logical_id(RefKind::Queue, &dl.queue), "Arn"]},
                       "maxReceiveCount": dl.max_receive_count}),
            );
        }
        resources.insert(
            id.clone(),
            json!({"Type": "AWS::SQS::Queue", "Properties": props}),
        );
        outputs.insert(format!("{id}Url"), json!({"Value": {"Ref": id}}));
    }

    for t in manifest.topics.values() {
        let id = logical_id(RefKind::Topic, &t.name);
        resources.insert(id.clone(), json!({"Type": "AWS::SNS::Topic"}));
        outputs.insert(format!("{id}Arn"), json!({"Value": {"Ref": id}}));
        for (i, s) in t.subscriptions.iter().enumerate() {
            if let Target::Queue(q) = &s.target {
                let mut props = json!({
                    "TopicArn": {"Ref": id},
                    "Protocol": "sqs",
                    "Endpoint": {"Fn::GetAtt": [logical_id(RefKind::Queue, q), "Arn"]},
                    "RawMessageDelivery": s.raw,
                });
                if let Some(f) = &s.filter_policy {
                    props["FilterPolicy"] = f.clone();
                    props["FilterPolicyScope"] = json!(s.filter_scope.as_str());
                }
                resources.insert(
                    format!("{id}Subscription{}", i + 1),
                    json!({"Type": "AWS::SNS::Subscription", "Properties": props}),
                );
                queue_senders
                    .entry(q.clone())
                    .or_default()
                    .push(("sns.amazonaws.com".into(), json!({"Ref": id})));
            }
        }
    }

    for r in manifest.rules.values() {
        let id = rule_id(&r.name);
        let mut props = Map::new();
        if let Some(d) = &r.description {
            props.insert("Description".into(), json!(d));
        }
        match &r.trigger {
            Trigger::Schedule(s) => props.insert("ScheduleExpression".into(), json!(s)),
            Trigger::Pattern(p) => props.insert("EventPattern".into(), p.clone()),
        };
        props.insert(
            "State".into(),
            json!(if r.enabled { "ENABLED" } else { "DISABLED" }),
        );
        if r.bus != "default" {
            let bus = bus_id(&r.bus);
            resources.entry(bus.clone()).or_insert_with(
                || json!({"Type": "AWS::Events::EventBus", "Properties": {"Name": r.bus}}),
            );
            props.insert("EventBusName".into(), json!({"Ref": bus}));
        }
        let mut targets = Vec::new();
        for t in &r.targets {
            let (arn, target_id) = match &t.target {
                Target::Function(f) => {
                    let fid = logical_id(RefKind::Function, f);
                    resources.insert(
                        format!("{id}{fid}Permission"),
                        json!({"Type": "AWS::Lambda::Permission", "Properties": {
                            "FunctionName": {"Ref": fid},
                            "Action": "lambda:InvokeFunction",
                            "Principal": "events.amazonaws.com",
                            "SourceArn": {"Fn::GetAtt": [id, "Arn"]}}}),
                    );
                    (json!({"Fn::GetAtt": [fid, "Arn"]}), t.id())
                }
                Target::Queue(q) => {
                    queue_senders.entry(q.clone()).or_default().push((
                        "events.amazonaws.com".into(),
                        json!({"Fn::GetAtt": [id, "Arn"]}),
                    ));
                    (
                        json!({"Fn::GetAtt": [logical_id(RefKind::Queue, q), "Arn"]}),
                        t.id(),
                    )
                }
            };
            let mut target = json!({"Id": target_id, "Arn": arn});
            if let Some(input) = &t.input {
                target["Input"] = json!(input.to_string());
            }
            targets.push(target);
        }
        props.insert("Targets".into(), Value::Array(targets));
        resources.insert(
            id,
            json!({"Type": "AWS::Events::Rule", "Properties": props}),
        );
    }

    for (queue, senders) in &queue_senders {
        let qid = logical_id(RefKind::Queue, queue);
        let statements: Vec<Value> = senders
            .iter()
            .map(|(service, source)| {
                json!({"Effect": "Allow", "Principal": {"Service": service},
                       "Action": "sqs:SendMessage", "Resource": {"Fn::GetAtt": [qid, "Arn"]},
                       "Condition": {"ArnEquals": {"aws:SourceArn": source}}})
            })
            .collect();
        resources.insert(
            format!("{qid}Policy"),
            json!({"Type": "AWS::SQS::QueuePolicy", "Properties": {
                "Queues": [{"Ref": qid}],
                "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}}),
        );
    }

    for a in manifest.apis.values() {
        let id = logical_id(RefKind::Api, &a.name);
        let mut props = json!({"StageName": a.stage});
        if let Some(d) = &a.description {
            props["Description"] = json!(d);
        }
        resources.insert(
            id.clone(),
            json!({"Type": "AWS::Serverless::Api", "Properties": props}),
        );
        outputs.insert(
            format!("{id}Url"),
            json!({"Description": format!("{} ({} stage)", a.name, a.stage),
                   "Value": {"Fn::Sub": format!("https://${{{id}}}.execute-api.${{AWS::Region}}.amazonaws.com/{}/", a.stage)}}),
        );
    }

    for f in manifest.functions.values() {
        let id = logical_id(RefKind::Function, &f.name);
        let crate_dir = crates.dirs.get(&f.package);
        let bin = f.bin.clone().or_else(|| {
            crates
                .bins
                .get(&f.package)
                .and_then(|b| (b.len() == 1).then(|| b[0].clone()))
        });
        let mut metadata = json!({"BuildMethod": "rust-cargolambda"});
        if let Some(b) = &bin {
            metadata["BuildProperties"] = json!({"Binary": b});
        }
        let mut props = Map::new();
        props.insert(
            "CodeUri".into(),
            json!(
                crate_dir
                    .map(|d| relative(out_dir, d))
                    .unwrap_or_else(|| f.package.clone())
            ),
        );
        if let Some(d) = &f.description {
            props.insert("Description".into(), json!(d));
        }
        props.insert("Architectures".into(), json!([f.architecture.as_str()]));
        props.insert("MemorySize".into(), json!(f.memory));
        props.insert("Timeout".into(), json!(f.timeout));
        if !f.environment.is_empty() {
            let vars: Map<String, Value> = f
                .environment
                .iter()
                .map(|(k, v)| (k.clone(), sub(v, manifest)))
                .collect();
            props.insert("Environment".into(), json!({"Variables": vars}));
        }
        // Least privilege: what the environment references, and the buckets that trigger it.
        let mut wanted: BTreeSet<(u8, String)> = BTreeSet::new();
        let mut policies = Vec::new();
        let mut add = |kind: RefKind, name: &str| {
            if wanted.insert((kind as u8, name.to_owned()))
                && let Some(p) = policy_for(kind, name, manifest)
            {
                policies.push(p);
            }
        };
        for v in f.environment.values() {
            for r in v.references() {
                add(r.kind, &r.name);
            }
        }
        for t in &f.s3 {
            add(RefKind::Bucket, &t.bucket);
        }
        if !policies.is_empty() {
            props.insert("Policies".into(), Value::Array(policies));
        }
        if let Some(u) = &f.url {
            let mut cfg = json!({"AuthType": u.auth.as_str()});
            if let Some(c) = &u.cors {
                let mut cors = Map::new();
                for (key, list) in [
                    ("AllowOrigins", &c.allow_origins),
                    ("AllowMethods", &c.allow_methods),
                    ("AllowHeaders", &c.allow_headers),
                    ("ExposeHeaders", &c.expose_headers),
                ] {
                    if !list.is_empty() {
                        cors.insert(key.into(), json!(list));
                    }
                }
                if let Some(b) = c.allow_credentials {
                    cors.insert("AllowCredentials".into(), json!(b));
                }
                if let Some(m) = c.max_age {
                    cors.insert("MaxAge".into(), json!(m));
                }
                cfg["Cors"] = Value::Object(cors);
            }
            props.insert("FunctionUrlConfig".into(), cfg);
            outputs.insert(
                format!("{id}Url"),
                json!({"Value": {"Fn::GetAtt": [format!("{id}Url"), "FunctionUrl"]}}),
            );
        }
        let mut events = Map::new();
        for (i, t) in f.sqs.iter().enumerate() {
            let mut p = json!({"Queue": {"Fn::GetAtt": [logical_id(RefKind::Queue, &t.queue), "Arn"]},
                               "BatchSize": t.batch_size, "Enabled": t.enabled});
            if t.batching_window > 0 {
                p["MaximumBatchingWindowInSeconds"] = json!(t.batching_window);
            }
            if t.report_batch_item_failures {
                p["FunctionResponseTypes"] = json!(["ReportBatchItemFailures"]);
            }
            events.insert(
                format!("Sqs{}", i + 1),
                json!({"Type": "SQS", "Properties": p}),
            );
        }
        for (i, t) in f.s3.iter().enumerate() {
            let key = manifest
                .buckets
                .get(&t.bucket)
                .map(|b| b.key.as_str())
                .unwrap_or(&t.bucket);
            let mut p =
                json!({"Bucket": {"Ref": logical_id(RefKind::Bucket, key)}, "Events": t.events});
            let mut rules = Vec::new();
            if let Some(pre) = &t.prefix {
                rules.push(json!({"Name": "prefix", "Value": pre}));
            }
            if let Some(suf) = &t.suffix {
                rules.push(json!({"Name": "suffix", "Value": suf}));
            }
            if !rules.is_empty() {
                p["Filter"] = json!({"S3Key": {"Rules": rules}});
            }
            events.insert(
                format!("S3{}", i + 1),
                json!({"Type": "S3", "Properties": p}),
            );
        }
        for topic in manifest.topics.values() {
            for s in &topic.subscriptions {
                if s.target == Target::Function(f.name.clone()) {
                    let mut p = json!({"Topic": {"Ref": logical_id(RefKind::Topic, &topic.name)}});
                    if let Some(fp) = &s.filter_policy {
                        p["FilterPolicy"] = fp.clone();
                        p["FilterPolicyScope"] = json!(s.filter_scope.as_str());
                    }
                    events.insert(
                        logical_id(RefKind::Topic, &topic.name),
                        json!({"Type": "SNS", "Properties": p}),
                    );
                }
            }
        }
        for a in manifest.apis.values() {
            for r in a.routes.iter().filter(|r| r.function == f.name) {
                let name: String = format!("{} {} {}", a.name, r.method, r.path)
                    .split(|c: char| !c.is_ascii_alphanumeric())
                    .map(|w| {
                        let mut c = w.chars();
                        c.next()
                            .map(|first| first.to_ascii_uppercase().to_string() + c.as_str())
                            .unwrap_or_default()
                    })
                    .collect();
                events.insert(
                    name,
                    json!({"Type": "Api", "Properties": {
                        "RestApiId": {"Ref": logical_id(RefKind::Api, &a.name)},
                        "Path": r.path, "Method": r.method.to_ascii_lowercase()}}),
                );
            }
        }
        if !events.is_empty() {
            props.insert("Events".into(), Value::Object(events));
        }
        resources.insert(
            id,
            json!({"Type": "AWS::Serverless::Function", "Metadata": metadata, "Properties": props}),
        );
    }

    for m in manifest.state_machines.values() {
        let id = logical_id(RefKind::StateMachine, &m.name);
        let mut substitutions = Map::new();
        let mut policies = Vec::new();
        let mut seen = BTreeSet::new();
        let definition_text = m
            .definition
            .resolve(&|r| Ok(format!("${{{}}}", substitution_name(r))))
            .unwrap_or_default();
        for r in m.definition.references() {
            let var = substitution_name(r);
            substitutions.insert(var, json!({"Fn::Sub": sub_variable(r, manifest)}));
            if seen.insert((r.kind as u8, r.name.clone()))
                && let Some(p) = policy_for(r.kind, &r.name, manifest)
            {
                policies.push(p);
            }
        }
        let definition: Value =
            serde_json::from_str(&definition_text).unwrap_or(Value::String(definition_text));
        let mut props = json!({"Type": m.kind.as_str(), "Definition": definition});
        if !substitutions.is_empty() {
            props["DefinitionSubstitutions"] = Value::Object(substitutions);
        }
        if !policies.is_empty() {
            props["Policies"] = Value::Array(policies);
        }
        resources.insert(
            id.clone(),
            json!({"Type": "AWS::Serverless::StateMachine", "Properties": props}),
        );
        outputs.insert(format!("{id}Arn"), json!({"Value": {"Ref": id}}));
    }

    let mut template = Map::new();
    template.insert("AWSTemplateFormatVersion".into(), json!("2010-09-09"));
    template.insert("Transform".into(), json!("AWS::Serverless-2016-10-31"));
    template.insert(
        "Description".into(),
        json!("Exported by `lsk export sam` from lsk.toml: `sam build && sam deploy --guided` ships it to AWS."),
    );
    if !parameters.is_empty() {
        template.insert("Parameters".into(), Value::Object(parameters));
    }
    template.insert(
        "Globals".into(),
        json!({"Function": {"Runtime": "provided.al2023", "Handler": "bootstrap"}}),
    );
    template.insert("Resources".into(), Value::Object(resources));
    if !outputs.is_empty() {
        template.insert("Outputs".into(), Value::Object(outputs));
    }
    Value::Object(template)
}

/// A state machine's `DefinitionSubstitutions` key for a reference: `ImageGeneratorFunctionArn`.
fn substitution_name(r: &Reference) -> String {
    let attr = match r.attr {
        RefAttr::Name => "Name",
        RefAttr::Url => "Url",
        RefAttr::Arn => "Arn",
        RefAttr::Id => "Id",
    };
    format!("{}{attr}", logical_id(r.kind, &r.name))
}

/// The template as YAML text, with a header saying where it came from.
pub fn to_yaml(template: &Value) -> Result<String, String> {
    let body = serde_yaml_ng::to_string(template).map_err(|e| e.to_string())?;
    Ok(format!(
        "# Written by `lsk export sam` from lsk.toml; edit lsk.toml and export again.\n{body}"
    ))
}
