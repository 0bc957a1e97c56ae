//! Manifest parsing and every validation rule, checked through the messages a user would read.

use super::*;

const EXAMPLE: &str = include_str!("../../../lsk.toml");

fn parse(src: &str) -> Result<Manifest, ManifestError> {
    Manifest::parse(src, Path::new("/proj/lsk.toml"))
}

/// The issues of an invalid manifest; fails the test when it is valid.
fn issues(src: &str) -> Vec<Issue> {
    match parse(src) {
        Ok(m) => panic!("expected validation errors, got a valid manifest: {m:?}"),
        Err(ManifestError::Invalid { issues, .. }) => issues,
        Err(other) => panic!("expected Invalid, got {other}"),
    }
}

/// Asserts exactly one issue exists at `key` whose message contains every fragment.
fn assert_issue(src: &str, key: &str, fragments: &[&str]) {
    let all = issues(src);
    let found: Vec<&Issue> = all.iter().filter(|i| i.key == key).collect();
    assert_eq!(found.len(), 1, "want one issue at {key}, got {all:#?}");
    for f in fragments {
        assert!(
            found[0].message.contains(f),
            "issue at {key} should mention {f:?}: {}",
            found[0].message
        );
    }
    // The rendered error names the file and the key.
    let rendered = parse(src).unwrap_err().to_string();
    assert!(rendered.contains("/proj/lsk.toml"), "{rendered}");
    assert!(rendered.contains(&format!(": {key}: ")), "{rendered}");
}

const SQUARE: &str = "[functions.square]\npackage = \"square\"\n";

#[test]
fn example_manifest_parses_with_the_documented_values() {
    let m = Manifest::parse(
        EXAMPLE,
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../lsk.toml")),
    )
    .expect("lsk.toml is valid");
    let square = &m.functions["square"];
    assert_eq!(square.package, "square");
    assert_eq!(square.memory, 128);
    assert_eq!(square.timeout, 3);
    assert_eq!(square.url.as_ref().map(|u| u.auth), Some(UrlAuth::None));

    let gen_ = &m.functions["image-generator"];
    assert_eq!(gen_.bin.as_deref(), Some("image-generator"));
    assert_eq!((gen_.memory, gen_.timeout), (256, 30));
    assert_eq!(gen_.environment["MODEL_CLIENT"].raw(), "stub");
    let refs: Vec<_> = gen_.environment["IMAGES_BUCKET"].references().collect();
    assert_eq!(
        refs,
        vec![&Reference {
            kind: RefKind::Bucket,
            name: "images".into(),
            attr: RefAttr::Name
        }]
    );
    assert_eq!(
        gen_.sqs,
        vec![SqsTrigger {
            queue: "image-requests".into(),
            batch_size: 5,
            batching_window: 0,
            report_batch_item_failures: true,
            enabled: true,
        }]
    );
    assert_eq!(gen_.example_path.as_deref(), Some("/generate-image"));

    let q = &m.queues["image-requests"];
    assert_eq!(
        (q.visibility_timeout, q.deployed_visibility_timeout()),
        (180, 2),
        "AWS gets at least the function's timeout; LocalStack the short local one"
    );
    assert_eq!(
        q.dead_letter,
        Some(DeadLetter {
            queue: "image-requests-dlq".into(),
            max_receive_count: 3
        })
    );
    assert_eq!(m.queues["image-requests-dlq"].message_retention, 1_209_600);
    assert_eq!(m.buckets["images"].name, "lsk-images");
    // DLQ first so the redrive policy can point at its ARN.
    let order: Vec<_> = m
        .queues_in_deploy_order()
        .iter()
        .map(|q| q.name.clone())
        .collect();
    assert_eq!(
        order,
        [
            "image-labelled",
            "image-ready",
            "image-requests-dlq",
            "image-requests"
        ]
    );
    // The examples are valid on AWS: nothing to warn about.
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);

    // The event-driven examples: a REST API, a schedule, a topic with a filtered subscription and
    // a workflow whose definition refers to functions and the topic.
    let api = &m.apis["examples"];
    assert_eq!(api.stage, "Prod");
    let routes: Vec<_> = api
        .routes
        .iter()
        .map(|r| format!("{} {} -> {}", r.method, r.path, r.function))
        .collect();
    assert_eq!(
        routes,
        [
            "POST /change -> make-change",
            "POST /generate-image -> image-generator"
        ]
    );
    let beat = &m.rules["heartbeat"];
    assert_eq!(beat.trigger, Trigger::Schedule("rate(1 minute)".into()));
    assert_eq!(beat.targets[0].target, Target::Function("heartbeat".into()));
    let topic = &m.topics["image-ready"];
    assert_eq!(topic.subscriptions.len(), 2);
    assert!(topic.subscriptions.iter().all(|s| s.raw));
    assert_eq!(
        topic.subscriptions[1].filter_policy,
        Some(serde_json::json!({"event": ["labelled"]}))
    );
    let pipeline = &m.state_machines["image-pipeline"];
    let refs: Vec<String> = pipeline
        .definition
        .references()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(
        refs,
        [
            "${function.image-generator.arn}",
            "${function.labeller.arn}",
            "${topic.image-ready.arn}"
        ]
    );
    assert_eq!(
        m.services(),
        ["sns", "events", "apigateway", "stepfunctions"],
        "LocalStack starts the services the examples use"
    );
}

#[test]
fn a_manifest_of_functions_queues_and_buckets_needs_no_extra_services() {
    let m = parse(&format!("{SQUARE}[queues.q]\n[buckets.files]\n")).unwrap();
    assert!(m.services().is_empty(), "{:?}", m.services());
}

#[test]
fn topic_subscriptions_are_checked() {
    let head = format!("{SQUARE}[queues.q]\n");
    assert_issue(
        &format!("{head}[topics.t]\nsubscriptions = [{{ queue = \"nope\" }}]\n"),
        "topics.t.subscriptions[0].queue",
        &["queue `nope` is not declared", "[queues.nope]"],
    );
    assert_issue(
        &format!(
            "{head}[topics.t]\nsubscriptions = [{{ function = \"square\", queue = \"q\" }}]\n"
        ),
        "topics.t.subscriptions[0]",
        &["either a function or a queue"],
    );
    assert_issue(
        &format!("{head}[topics.t]\nsubscriptions = [{{ function = \"square\", raw = true }}]\n"),
        "topics.t.subscriptions[0].raw",
        &["raw message delivery is for queues"],
    );
    assert_issue(
        &format!(
            "{head}[topics.t]\nsubscriptions = [{{ queue = \"q\", filter_policy = '{{\"a\": ' }}]\n"
        ),
        "topics.t.subscriptions[0].filter_policy",
        &["not valid JSON"],
    );
    assert_issue(
        &format!("{head}[topics.\"a.b\"]\n"),
        "topics.\"a.b\"",
        &["contains '.'"],
    );
    // A filter policy may be a table or JSON text; both give the same document.
    let table = parse(&format!(
        "{head}[topics.t]\nsubscriptions = [{{ queue = \"q\", filter_policy = {{ kind = [\"png\"] }} }}]\n"
    ))
    .unwrap();
    let text = parse(&format!(
        "{head}[topics.t]\nsubscriptions = [{{ queue = \"q\", filter_policy = '{{\"kind\": [\"png\"]}}' }}]\n"
    ))
    .unwrap();
    assert_eq!(
        table.topics["t"].subscriptions[0].filter_policy,
        text.topics["t"].subscriptions[0].filter_policy
    );
}

#[test]
fn rules_are_checked() {
    let target = "[[rules.r.targets]]\nfunction = \"square\"\n";
    assert_issue(
        &format!("{SQUARE}[rules.r]\nschedule = \"rate(1 minutes)\"\n{target}"),
        "rules.r.schedule",
        &["rate(1 minute)"],
    );
    assert_issue(
        &format!("{SQUARE}[rules.r]\n{target}"),
        "rules.r",
        &["needs `schedule", "or `pattern"],
    );
    assert_issue(
        &format!("{SQUARE}[rules.r]\nschedule = \"rate(5 minutes)\"\nbus = \"shop\"\n{target}"),
        "rules.r.bus",
        &["default bus only"],
    );
    assert_issue(
        &format!("{SQUARE}[rules.r]\npattern = {{}}\n{target}"),
        "rules.r.pattern",
        &["non-empty object"],
    );
    assert_issue(
        &format!("{SQUARE}[rules.r]\nschedule = \"rate(5 minutes)\"\n"),
        "rules.r",
        &["needs targets"],
    );
    assert_issue(
        &format!(
            "{SQUARE}[rules.r]\nschedule = \"rate(5 minutes)\"\n[[rules.r.targets]]\nfunction = \"nope\"\n"
        ),
        "rules.r.targets[0].function",
        &["function `nope` is not declared"],
    );
    let m = parse(&format!(
        "{SQUARE}[rules.r]\npattern = {{ source = [\"shop\"] }}\nbus = \"orders\"\n[[rules.r.targets]]\nfunction = \"square\"\ninput = {{ number = 6 }}\n"
    ))
    .unwrap();
    let r = &m.rules["r"];
    assert_eq!(r.bus, "orders");
    assert_eq!(
        r.trigger,
        Trigger::Pattern(serde_json::json!({"source": ["shop"]}))
    );
    assert_eq!(r.targets[0].input, Some(serde_json::json!({"number": 6})));
}

#[test]
fn api_routes_are_checked() {
    let api = |route: &str| format!("{SQUARE}[apis.a]\n[[apis.a.routes]]\n{route}\n");
    assert_issue(
        &api("method = \"FETCH\"\npath = \"/x\"\nfunction = \"square\""),
        "apis.a.routes[0].method",
        &["not an HTTP method"],
    );
    assert_issue(
        &api("method = \"POST\"\npath = \"x\"\nfunction = \"square\""),
        "apis.a.routes[0].path",
        &["must start with '/'"],
    );
    assert_issue(
        &api("method = \"POST\"\npath = \"/x\"\nfunction = \"nope\""),
        "apis.a.routes[0].function",
        &["function `nope` is not declared"],
    );
    assert_issue(&format!("{SQUARE}[apis.a]\n"), "apis.a", &["needs routes"]);
    let m = parse(&api(
        "method = \"post\"\npath = \"/x\"\nfunction = \"square\"",
    ))
    .unwrap();
    assert_eq!(m.apis["a"].routes[0].method, "POST");
    assert_eq!(m.apis["a"].stage, "Prod");
}

#[test]
fn state_machine_definitions_are_read_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("lsk.toml");
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    let parse_here = |src: &str| Manifest::parse(src, &manifest);
    let sm = |file: &str| format!("{SQUARE}[state_machines.m]\ndefinition = \"{file}\"\n");

    write(
        "ok.json",
        r#"{"StartAt": "Go", "States": {"Go": {"Type": "Task", "Resource": "${function.square.arn}", "End": true}}}"#,
    );
    let m = parse_here(&sm("ok.json")).unwrap();
    assert_eq!(m.state_machines["m"].definition_file, "ok.json");

    let rendered = parse_here(&sm("missing.json")).unwrap_err().to_string();
    assert!(
        rendered.contains("state_machines.m.definition: cannot read")
            && rendered.contains("relative to the directory of lsk.toml"),
        "{rendered}"
    );
    write(
        "badref.json",
        r#"{"StartAt": "Go", "States": {"Go": {"Type": "Task", "Resource": "${function.nope.arn}", "End": true}}}"#,
    );
    let rendered = parse_here(&sm("badref.json")).unwrap_err().to_string();
    assert!(
        rendered.contains("${function.nope.arn} refers to functions.nope which is not declared"),
        "{rendered}"
    );
    write("notjson.json", "StartAt: Go");
    let rendered = parse_here(&sm("notjson.json")).unwrap_err().to_string();
    assert!(
        rendered.contains("notjson.json is not valid JSON"),
        "{rendered}"
    );
}

#[test]
fn a_local_visibility_timeout_is_deployed_and_the_aws_one_is_checked() {
    let head = "[functions.f]\npackage = \"p\"\ntimeout = 30\n[[functions.f.sqs]]\nqueue = \"q\"\n";
    let m = parse(&format!(
        "{head}[queues.q]\nvisibility_timeout = 30\nlocal = {{ visibility_timeout = 2 }}\n"
    ))
    .unwrap();
    assert_eq!(m.queues["q"].deployed_visibility_timeout(), 2);
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);

    let m = parse(&format!("{head}[queues.q]\nvisibility_timeout = 2\n")).unwrap();
    assert_eq!(m.queues["q"].deployed_visibility_timeout(), 2);
    let warning = m.warnings.join("\n");
    assert!(
        warning.contains(
            "queues.q.visibility_timeout (2 s) is shorter than functions.f.timeout (30 s)"
        ) && warning.contains("local = { visibility_timeout = ... }"),
        "{warning}"
    );

    assert_issue(
        &format!("{head}[queues.q]\nlocal = {{ visibility_timeout = 43201 }}\n"),
        "queues.q.local.visibility_timeout",
        &["43201"],
    );
    let all = issues(&format!("{head}[queues.q]\nlocal = {{ delay = 3 }}\n"));
    assert!(
        all.iter()
            .any(|i| i.key.starts_with("queues.q") && i.message.contains("delay")),
        "an unknown local key is reported: {all:#?}"
    );
}

#[test]
fn defaults_apply_when_keys_are_left_out() {
    let m = parse(
        "[functions.f]\npackage = \"p\"\n[[functions.f.sqs]]\nqueue = \"q\"\n[queues.q]\n[buckets.my-bucket]\n",
    )
    .unwrap();
    let f = &m.functions["f"];
    assert_eq!((f.memory, f.timeout), (128, 3));
    assert_eq!(f.architecture, Architecture::X86_64);
    assert_eq!(f.sqs[0].batch_size, 10);
    assert!(f.sqs[0].report_batch_item_failures);
    let q = &m.queues["q"];
    assert_eq!((q.visibility_timeout, q.message_retention), (30, 345_600));
    assert!(!q.fifo);
    assert_eq!(m.buckets["my-bucket"].name, "my-bucket");
}

#[test]
fn syntax_error_has_line_and_column() {
    let all = issues("[functions.square]\npackage = \n");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].position.map(|p| p.0), Some(2));
    assert!(all[0].message.contains("not valid TOML"), "{:?}", all[0]);
}

#[test]
fn unknown_key_is_named_with_its_path_and_position() {
    let src = "[functions.square]\npackage = \"square\"\ntimout = 5\n";
    assert_issue(src, "functions.square.timout", &["unknown field `timout`"]);
    assert_eq!(issues(src)[0].position, Some((3, 1)));
}

#[test]
fn unknown_keys_get_the_spelling_hint_and_a_wrong_type_does_not() {
    // A misspelt scalar key and a misspelt table key in one entry: both are reported (the first
    // does not hide the second), each with the hint. A wrong type is reported without it.
    let src = "[functions.square]\npackage = \"square\"\ntimout = 5\n\
               [functions.square.urll]\nauth = \"NONE\"\n";
    let all = issues(src);
    let hint = "check the spelling";
    for key in ["functions.square.timout", "functions.square.urll"] {
        let issue = all.iter().find(|i| i.key == key);
        assert!(
            issue.is_some_and(|i| i.message.contains(hint)),
            "{key} should be reported as unknown, with the hint: {all:#?}"
        );
    }
    let wrong_type = issues("[functions.square]\npackage = \"square\"\nmemory = \"big\"\n");
    assert!(
        wrong_type
            .iter()
            .any(|i| i.key == "functions.square.memory" && !i.message.contains(hint)),
        "a wrong type is reported, without the spelling hint: {wrong_type:#?}"
    );
}

#[test]
fn a_missing_key_in_a_header_table_is_not_taken_for_an_unknown_one() {
    let all = issues("[functions.square]\ntimeout = 5\n");
    assert!(
        all.iter()
            .any(|i| i.message.contains("package") && !i.message.contains("check the spelling")),
        "the missing `package` is reported as missing: {all:#?}"
    );
}

#[test]
fn unknown_nested_key_is_named_with_its_full_path() {
    let src = "[functions.square]\npackage = \"square\"\nurl = { auth = \"NONE\", cors = { allow_origin = [\"*\"] } }\n";
    assert_issue(
        src,
        "functions.square.url.cors.allow_origin",
        &["unknown field `allow_origin`"],
    );
}

#[test]
fn unknown_section_is_rejected() {
    assert_issue(
        &format!("{SQUARE}[tables.t]\n"),
        "tables",
        &[
            "unknown section",
            "functions",
            "queues",
            "buckets",
            "state_machines",
        ],
    );
}

#[test]
fn wrong_type_is_reported_at_the_value() {
    let src = "[functions.square]\npackage = \"square\"\nmemory = \"lots\"\n";
    let all = issues(src);
    assert_eq!(all[0].key, "functions.square.memory", "{all:?}");
    assert_eq!(all[0].position, Some((3, 10)));
}

#[test]
fn timeout_out_of_range() {
    assert_issue(
        &format!("{SQUARE}timeout = 0\n"),
        "functions.square.timeout",
        &["timeout must be 1..=900 seconds, got 0"],
    );
    assert_issue(
        &format!("{SQUARE}timeout = 901\n"),
        "functions.square.timeout",
        &["got 901"],
    );
}

#[test]
fn memory_out_of_range() {
    assert_issue(
        &format!("{SQUARE}memory = 64\n"),
        "functions.square.memory",
        &["memory must be 128..=10240 MB, got 64"],
    );
}

#[test]
fn bad_architecture() {
    assert_issue(
        &format!("{SQUARE}architecture = \"amd64\"\n"),
        "functions.square.architecture",
        &["amd64", "x86_64", "arm64"],
    );
}

#[test]
fn bad_function_name() {
    assert_issue(
        "[functions.\"sq uare\"]\npackage = \"square\"\n",
        "functions.\"sq uare\"",
        &["contains ' '"],
    );
    let long = "f".repeat(65);
    assert_issue(
        &format!("[functions.{long}]\npackage = \"p\"\n"),
        &format!("functions.{long}"),
        &["1-64 characters"],
    );
}

#[test]
fn missing_package() {
    assert_issue(
        "[functions.square]\nmemory = 256\n",
        "functions.square",
        &["missing field `package`"],
    );
}

#[test]
fn undeclared_references_are_named() {
    let src = format!(
        "{SQUARE}[functions.square.environment]\nBUCKET = \"${{bucket.nope.name}}\"\nQUEUE = \"${{queue.missing.url}}\"\n"
    );
    let all = issues(&src);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_issue(
        &src,
        "functions.square.environment.BUCKET",
        &["${bucket.nope.name}", "buckets.nope", "not declared"],
    );
    assert_issue(
        &src,
        "functions.square.environment.QUEUE",
        &["${queue.missing.url}", "queues.missing"],
    );
}

#[test]
fn malformed_references() {
    let cases = [
        ("${bucket.images}", "is not a reference"),
        ("${table.x.arn}", "unknown resource kind `table`"),
        ("${bucket.images.url}", "unknown attribute `url`"),
        ("${queue.q.arn", "unterminated reference"),
    ];
    for (value, fragment) in cases {
        let src = format!(
            "{SQUARE}[functions.square.environment]\nX1 = \"{value}\"\n[buckets.images]\n[queues.q]\n"
        );
        assert_issue(&src, "functions.square.environment.X1", &[fragment]);
    }
}

#[test]
fn references_resolve_inside_longer_text_and_escape() {
    let v = EnvValue::parse("s3://${bucket.images.name}/out $${literal} $HOME").unwrap();
    let resolved = v.resolve(&|r| Ok(format!("<{}>", r.name))).unwrap();
    assert_eq!(resolved, "s3://<images>/out ${literal} $HOME");
    let dotted = EnvValue::parse("${queue.jobs.fifo.url}").unwrap();
    assert_eq!(dotted.references().next().unwrap().name, "jobs.fifo");
    let err = v.resolve(&|_| Err("not deployed".into())).unwrap_err();
    assert_eq!(
        err.to_string(),
        "${bucket.images.name} cannot be resolved: not deployed"
    );
}

#[test]
fn reserved_and_malformed_env_names() {
    assert_issue(
        &format!("{SQUARE}environment = {{ AWS_REGION = \"eu\" }}\n"),
        "functions.square.environment.AWS_REGION",
        &["reserved"],
    );
    assert_issue(
        &format!("{SQUARE}environment = {{ 1X = \"v\" }}\n"),
        "functions.square.environment.1X",
        &["must start with a letter"],
    );
}

#[test]
fn trigger_on_undeclared_queue() {
    assert_issue(
        &format!("{SQUARE}[[functions.square.sqs]]\nqueue = \"jobs\"\n"),
        "functions.square.sqs[0].queue",
        &["queue `jobs` is not declared"],
    );
}

#[test]
fn trigger_ranges() {
    let src = format!(
        "{SQUARE}[[functions.square.sqs]]\nqueue = \"q\"\nbatch_size = 0\nbatching_window = 301\n[queues.q]\n"
    );
    let all = issues(&src);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_issue(
        &src,
        "functions.square.sqs[0].batch_size",
        &["batch_size must be 1..=10000, got 0"],
    );
    assert_issue(
        &src,
        "functions.square.sqs[0].batching_window",
        &["0..=300 seconds, got 301"],
    );
}

#[test]
fn large_batches_need_a_batching_window() {
    assert_issue(
        &format!("{SQUARE}[[functions.square.sqs]]\nqueue = \"q\"\nbatch_size = 100\n[queues.q]\n"),
        "functions.square.sqs[0].batching_window",
        &["above 10", "at least 1 second"],
    );
}

#[test]
fn duplicate_trigger_on_one_queue() {
    assert_issue(
        &format!(
            "{SQUARE}[[functions.square.sqs]]\nqueue = \"q\"\n[[functions.square.sqs]]\nqueue = \"q\"\n[queues.q]\n"
        ),
        "functions.square.sqs[1].queue",
        &["already a trigger"],
    );
}

#[test]
fn fifo_trigger_batch_limit() {
    assert_issue(
        &format!(
            "{SQUARE}[[functions.square.sqs]]\nqueue = \"q.fifo\"\nbatch_size = 20\nbatching_window = 5\n[queues.\"q.fifo\"]\n"
        ),
        "functions.square.sqs[0].batch_size",
        &["FIFO", "1..=10"],
    );
}

#[test]
fn queue_ranges() {
    let src = "[queues.q]\nvisibility_timeout = 43201\nmessage_retention = 59\n";
    let all = issues(src);
    assert_eq!(all.len(), 2, "{all:#?}");
    assert_issue(
        src,
        "queues.q.visibility_timeout",
        &["0..=43200 seconds, got 43201"],
    );
    assert_issue(
        src,
        "queues.q.message_retention",
        &["60..=1209600 seconds, got 59"],
    );
}

#[test]
fn dead_letter_queue_must_be_declared() {
    assert_issue(
        "[queues.q]\ndead_letter = { queue = \"q-dlq\" }\n",
        "queues.q.dead_letter.queue",
        &["`q-dlq` is not declared", "[queues.q-dlq]"],
    );
}

#[test]
fn dead_letter_queue_cannot_be_itself_or_a_cycle() {
    assert_issue(
        "[queues.q]\ndead_letter = { queue = \"q\" }\n",
        "queues.q.dead_letter.queue",
        &["own dead-letter queue"],
    );
    let all = issues(
        "[queues.a]\ndead_letter = { queue = \"b\" }\n[queues.b]\ndead_letter = { queue = \"a\" }\n",
    );
    assert!(
        all.iter().any(|i| i.message.contains("cycle: a -> b -> a")),
        "{all:#?}"
    );
}

#[test]
fn max_receive_count_range() {
    assert_issue(
        "[queues.q]\ndead_letter = { queue = \"d\", max_receive_count = 0 }\n[queues.d]\n",
        "queues.q.dead_letter.max_receive_count",
        &["1..=1000, got 0"],
    );
}

#[test]
fn fifo_name_mismatch_both_ways() {
    assert_issue(
        "[queues.jobs]\nfifo = true\n",
        "queues.jobs.fifo",
        &["FIFO mismatch", "must end in .fifo"],
    );
    assert_issue(
        "[queues.\"jobs.fifo\"]\nfifo = false\n",
        "queues.\"jobs.fifo\".fifo",
        &["FIFO mismatch", "set fifo = true"],
    );
    let m = parse("[queues.\"jobs.fifo\"]\n").unwrap();
    assert!(m.queues["jobs.fifo"].fifo, "a .fifo name implies fifo");
}

#[test]
fn fifo_queue_with_standard_dead_letter_queue() {
    assert_issue(
        "[queues.\"jobs.fifo\"]\ndead_letter = { queue = \"dlq\" }\n[queues.dlq]\n",
        "queues.\"jobs.fifo\".dead_letter.queue",
        &["FIFO mismatch", "both must be FIFO"],
    );
}

#[test]
fn bad_queue_name() {
    assert_issue(
        "[queues.\"my queue\"]\n",
        "queues.\"my queue\"",
        &["contains ' '"],
    );
}

#[test]
fn bucket_name_rules() {
    let bad = [
        ("Images", "contains 'I'"),
        ("ab", "3-63 characters"),
        ("-images", "begin and end"),
        ("a..b", "adjacent dots"),
        ("192.168.0.1", "IP address"),
        ("xn--abc", "reserved prefix"),
        ("img_1", "contains '_'"),
    ];
    for (name, fragment) in bad {
        assert_issue(
            &format!("[buckets.images]\nname = \"{name}\"\n"),
            "buckets.images.name",
            &[fragment],
        );
    }
    // Without `name` the key is the S3 name, and the message says how to choose another.
    assert_issue(
        "[buckets.Images]\n",
        "buckets.Images",
        &["contains 'I'", "set `name"],
    );
}

#[test]
fn two_buckets_with_one_s3_name() {
    assert_issue(
        "[buckets.a]\nname = \"shared-name\"\n[buckets.b]\nname = \"shared-name\"\n",
        "buckets.b.name",
        &["already used by buckets.a"],
    );
}

#[test]
fn cors_checks() {
    let src = format!(
        "{SQUARE}url = {{ auth = \"NONE\", cors = {{ allow_methods = [\"FETCH\"], max_age = 90000, allow_origins = [\"\"] }} }}\n"
    );
    let all = issues(&src);
    assert_eq!(all.len(), 3, "{all:#?}");
    assert_issue(&src, "functions.square.url.cors.allow_methods", &["FETCH"]);
    assert_issue(&src, "functions.square.url.cors.max_age", &["0..=86400"]);
    assert_issue(&src, "functions.square.url.cors.allow_origins", &["empty"]);
}

#[test]
fn bad_url_auth() {
    assert_issue(
        &format!("{SQUARE}url = {{ auth = \"OPEN\" }}\n"),
        "functions.square.url.auth",
        &["OPEN", "NONE", "AWS_IAM"],
    );
}

#[test]
fn example_must_be_json_and_path_needs_a_url() {
    assert_issue(
        &format!("{SQUARE}example = '{{number: 6}}'\n"),
        "functions.square.example",
        &["must be JSON"],
    );
    assert_issue(
        &format!("{SQUARE}example_path = \"/x\"\n"),
        "functions.square.example_path",
        &["only applies to a function URL"],
    );
    assert_issue(
        &format!("{SQUARE}url = {{ auth = \"NONE\" }}\nexample_path = \"x\"\n"),
        "functions.square.example_path",
        &["must start with '/'"],
    );
}

#[test]
fn every_problem_is_collected_not_just_the_first() {
    let src = "\
[functions.a]
package = \"a\"
timeout = 0

[functions.b]
package = \"b\"
colour = \"blue\"

[functions.c]
package = \"c\"
environment = { Q = \"${queue.nope.url}\" }

[queues.q]
fifo = true

[buckets.BAD]
";
    let all = issues(src);
    let keys: Vec<&str> = all.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "functions.a.timeout",
            "functions.b.colour",
            "functions.c.environment.Q",
            "queues.q.fifo",
            "buckets.BAD"
        ],
        "{all:#?}"
    );
    // Sorted by position, each with its line.
    assert_eq!(all[0].position.map(|p| p.0), Some(3));
    assert_eq!(all[4].position.map(|p| p.0), Some(16));
    let text = parse(src).unwrap_err().to_string();
    assert!(
        text.starts_with("/proj/lsk.toml is not valid (5 problems):"),
        "{text}"
    );
    assert!(
        text.contains(
            "/proj/lsk.toml:3:11: functions.a.timeout: timeout must be 1..=900 seconds, got 0"
        ),
        "{text}"
    );
}

#[test]
fn find_walks_up_from_a_subdirectory() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("lambdas/square/src");
    std::fs::create_dir_all(&nested).unwrap();
    std::fs::write(dir.path().join(FILE_NAME), SQUARE).unwrap();
    assert_eq!(Manifest::find(&nested).unwrap(), dir.path().join(FILE_NAME));
    let m = Manifest::load(&Manifest::find(&nested).unwrap()).unwrap();
    assert_eq!(m.root(), dir.path());

    let empty = tempfile::tempdir().unwrap();
    let err = Manifest::find(empty.path()).unwrap_err();
    assert!(err.to_string().contains("--manifest"), "{err}");
}

#[test]
fn missing_file_is_a_read_error_naming_the_path() {
    let err = Manifest::load(Path::new("/nonexistent/lsk.toml")).unwrap_err();
    assert!(matches!(err, ManifestError::Read { .. }));
    assert!(err.to_string().contains("/nonexistent/lsk.toml"), "{err}");
}

#[test]
fn a_typo_does_not_hide_the_other_problems_of_the_same_entry() {
    let src = "[functions.square]\npackage = \"square\"\ntimeout = 0\nmemroy = 256\nurl = { auth = \"NONE\", cors = { allow_origin = [\"*\"], max_age = -1 } }\n";
    let all = issues(src);
    let keys: Vec<&str> = all.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "functions.square.timeout",
            "functions.square.memroy",
            "functions.square.url.cors.allow_origin",
            "functions.square.url.cors.max_age",
        ],
        "{all:#?}"
    );
}

#[test]
fn an_invalid_queue_still_takes_part_in_cross_checks() {
    let all =
        issues("[queues.\"jobs.fifo\"]\nfifo = false\ndead_letter = { queue = \"jobs-dlq\" }\n");
    let keys: Vec<&str> = all.iter().map(|i| i.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "queues.\"jobs.fifo\".fifo",
            "queues.\"jobs.fifo\".dead_letter.queue"
        ],
        "{all:#?}"
    );
}

const UPLOADS: &str = "[buckets.uploads]\nname = \"lsk-uploads\"\n";

#[test]
fn s3_trigger_defaults_to_object_created_and_keeps_its_filters() {
    let m = parse(&format!(
        "{SQUARE}[[functions.square.s3]]\nbucket = \"uploads\"\nprefix = \"uploads/\"\n{UPLOADS}"
    ))
    .unwrap();
    assert_eq!(
        m.functions["square"].s3,
        [S3Trigger {
            bucket: "uploads".into(),
            events: vec!["s3:ObjectCreated:*".into()],
            prefix: Some("uploads/".into()),
            suffix: None,
        }]
    );
    assert!(m.services().is_empty(), "S3 triggers need no extra service");
}

#[test]
fn s3_trigger_on_undeclared_bucket_or_unknown_event_is_reported_where_written() {
    let src = format!(
        "{SQUARE}[[functions.square.s3]]\nbucket = \"lsk-uploads\"\nevents = [\"s3:ObjectCreated\"]\nsuffix = \"\"\n{UPLOADS}"
    );
    assert_issue(
        &src,
        "functions.square.s3[0].bucket",
        &["bucket `lsk-uploads` is not declared", "the bucket's key"],
    );
    assert_issue(
        &src,
        "functions.square.s3[0].events",
        &[
            "\"s3:ObjectCreated\" is not an S3 event type",
            "s3:ObjectCreated:*",
        ],
    );
    assert_issue(
        &src,
        "functions.square.s3[0].suffix",
        &["must not be empty"],
    );
    let at = issues(&src)
        .into_iter()
        .find(|i| i.key == "functions.square.s3[0].bucket")
        .and_then(|i| i.position);
    assert_eq!(at, Some((4, 10)), "points at the bucket's value");
}

#[test]
fn overlapping_s3_triggers_on_one_bucket_are_refused() {
    let src = format!(
        "{SQUARE}[[functions.square.s3]]\nbucket = \"uploads\"\nprefix = \"uploads/\"\n\
         [functions.other]\npackage = \"other\"\n[[functions.other.s3]]\nbucket = \"uploads\"\nprefix = \"uploads/png/\"\n{UPLOADS}"
    );
    assert_issue(
        &src,
        "functions.square.s3[0]",
        &[
            "overlaps functions.other.s3[0]",
            "different prefixes or suffixes",
        ],
    );
    let disjoint = src.replace("uploads/png/", "incoming/");
    assert!(parse(&disjoint).is_ok());
}
