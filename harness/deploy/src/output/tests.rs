//! Tests of `output.rs` (`output`).

use super::*;

const URL: &str =
    "http://9e2fsnh951l3ts5ljyyo38si21fhr341.lambda-url.us-east-1.localhost.localstack.cloud:4566/";

fn square() -> FunctionView {
    let url = url_view(URL, "NONE", "us-east-1", 4566).unwrap();
    FunctionView {
        name: "square".into(),
        function_name: "square".into(),
        state: "Active".into(),
        state_reason: None,
        arn: Some("arn:aws:lambda:us-east-1:000000000000:function:square".into()),
        memory: Some(128),
        timeout: Some(3),
        code_sha256: None,
        curl: Some(curl_line(&url, None, r#"{"number": 6}"#, "us-east-1")),
        url: Some(url),
        triggers: vec![],
        s3_triggers: vec![],
        awslocal: awslocal_invoke_line("square", r#"{"number": 6}"#),
        example: r#"{"number": 6}"#.into(),
        build: Some("host".into()),
        watched: None,
    }
}

fn view() -> StackView {
    StackView {
        endpoint: "http://127.0.0.1:4566".into(),
        region: "us-east-1".into(),
        backend: Some("native".into()),
        backend_reason: None,
        function_fs: None,
        pid: Some(4242),
        functions: vec![square()],
        queues: vec![QueueView {
            name: "image-requests".into(),
            url: Some(
                "http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/image-requests"
                    .into(),
            ),
            arn: Some("arn:aws:sqs:us-east-1:000000000000:image-requests".into()),
            fifo: false,
            dead_letter: Some("image-requests-dlq".into()),
            max_receive_count: Some(3),
            messages: Some(2),
            in_flight: Some(1),
            awslocal: Some(awslocal_send_line(
                "http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/image-requests",
                r#"{"prompt": "a lighthouse"}"#,
                false,
            )),
        }],
        buckets: vec![BucketView {
            key: "images".into(),
            name: "lsk-images".into(),
            exists: true,
            objects: Some(3),
            awslocal: awslocal_ls_line("lsk-images"),
        }],
        topics: vec![],
        rules: vec![],
        apis: vec![],
        state_machines: vec![],
        stack: None,
        outputs: vec![],
        stand_ins: vec![],
        warnings: vec![],
    }
}

#[test]
fn url_id_and_both_forms() {
    assert_eq!(
        url_id(URL).as_deref(),
        Some("9e2fsnh951l3ts5ljyyo38si21fhr341")
    );
    assert_eq!(url_id("http://127.0.0.1:4566/"), None);
    let v = url_view(URL, "NONE", "us-east-1", 4567).unwrap();
    assert_eq!(
        v.offline,
        "http://9e2fsnh951l3ts5ljyyo38si21fhr341.lambda-url.us-east-1.localhost:4567/"
    );
    assert_eq!(
        v.localstack_cloud,
        "http://9e2fsnh951l3ts5ljyyo38si21fhr341.lambda-url.us-east-1.localhost.localstack.cloud:4567/"
    );
}

#[test]
fn curl_line_posts_json_to_the_offline_url() {
    let v = url_view(URL, "NONE", "us-east-1", 4566).unwrap();
    assert_eq!(
        curl_line(&v, None, r#"{"number": 6}"#, "us-east-1"),
        r#"curl -s -X POST 'http://9e2fsnh951l3ts5ljyyo38si21fhr341.lambda-url.us-east-1.localhost:4566/' -H 'content-type: application/json' -d '{"number": 6}'"#
    );
    assert_eq!(
        curl_line(
            &v,
            Some("/generate-image"),
            r#"{"prompt": "it's"}"#,
            "us-east-1"
        ),
        r#"curl -s -X POST 'http://9e2fsnh951l3ts5ljyyo38si21fhr341.lambda-url.us-east-1.localhost:4566/generate-image' -H 'content-type: application/json' -d '{"prompt": "it'\''s"}'"#
    );
    let iam = url_view(URL, "AWS_IAM", "us-east-1", 4566).unwrap();
    assert!(
        curl_line(&iam, None, "{}", "us-east-1")
            .ends_with("--aws-sigv4 'aws:amz:us-east-1:lambda' --user test:test")
    );
}

#[test]
fn awslocal_lines_use_cli_v1_syntax() {
    assert_eq!(
        awslocal_invoke_line("square", r#"{"number": 6}"#),
        r#"awslocal lambda invoke --function-name square --payload '{"number": 6}' /dev/stdout"#
    );
    assert!(!awslocal_invoke_line("square", "{}").contains("cli-binary-format"));
    assert_eq!(
        awslocal_send_line("http://q/000000000000/jobs", "hi there", false),
        "awslocal sqs send-message --queue-url 'http://q/000000000000/jobs' --message-body 'hi there'"
    );
    assert!(awslocal_send_line("http://q/1/j.fifo", "x", true).contains("--message-group-id"));
    assert_eq!(
        awslocal_ls_line("lsk-images"),
        "awslocal s3 ls s3://lsk-images/"
    );
}

#[test]
fn shell_quoting_survives_a_round_trip_through_sh() {
    for s in [r#"{"a": "it's"}"#, "plain", "", "$HOME `x`"] {
        for quoted in [shell_quote(s), quote_always(s)] {
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {quoted}"))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), s);
        }
    }
}

#[test]
fn text_table_lists_every_resource_with_its_lines() {
    let text = render_text(&view());
    assert!(
        text.starts_with("LocalStack http://127.0.0.1:4566 (native, pid 4242, region us-east-1)"),
        "{text}"
    );
    for needle in [
        "  square  Active, 128 MB, 3 s, host build",
        "http://9e2fsnh951l3ts5ljyyo38si21fhr341.lambda-url.us-east-1.localhost:4566/  (works offline)",
        ".localhost.localstack.cloud:4566/  (needs public DNS)",
        "    curl            curl -s -X POST 'http://9e2fsnh951l3ts5ljyyo38si21fhr341.lambda-url.us-east-1.localhost:4566/'",
        "    awslocal        awslocal lambda invoke --function-name square --payload '{\"number\": 6}' /dev/stdout",
        "  image-requests  2 waiting, 1 in flight, dead letters -> image-requests-dlq after 3 receives",
        "awslocal sqs send-message --queue-url 'http://sqs.us-east-1.localhost.localstack.cloud:4566/000000000000/image-requests'",
        "  images (lsk-images)  3 objects",
        "    awslocal        awslocal s3 ls s3://lsk-images/",
        "eval \"$(lsk env)\"",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
}

#[test]
fn event_sections_list_topics_rules_apis_and_state_machines() {
    let mut v = view();
    v.topics = vec![TopicView {
        name: "image-ready".into(),
        arn: Some("arn:aws:sns:us-east-1:000000000000:image-ready".into()),
        subscriptions: vec!["queue image-ready (raw)".into()],
        awslocal: Some("awslocal sns publish --topic-arn x --message '{}'".into()),
    }];
    v.rules = vec![RuleView {
        name: "heartbeat".into(),
        bus: "default".into(),
        trigger: "schedule rate(1 minute)".into(),
        state: "ENABLED".into(),
        targets: vec!["function heartbeat".into()],
        put_events: None,
        awslocal: "awslocal events list-targets-by-rule --rule heartbeat".into(),
    }];
    v.apis = vec![
        ApiView {
            name: "examples".into(),
            id: Some("a1b2c3".into()),
            stage: "Prod".into(),
            offline: Some("http://a1b2c3.execute-api.localhost:4566/Prod".into()),
            localstack_cloud: Some(
                "http://a1b2c3.execute-api.localhost.localstack.cloud:4566/Prod".into(),
            ),
            routes: vec![RouteView {
                method: "POST".into(),
                path: "/change".into(),
                function: "make-change".into(),
                deployed: true,
                curl: Some(
                    "curl -s -X POST 'http://a1b2c3.execute-api.localhost:4566/Prod/change'".into(),
                ),
            }],
        },
        ApiView {
            name: "later".into(),
            id: None,
            stage: "Prod".into(),
            offline: None,
            localstack_cloud: None,
            routes: vec![RouteView {
                method: "GET".into(),
                path: "/x".into(),
                function: "f".into(),
                deployed: false,
                curl: None,
            }],
        },
    ];
    v.state_machines = vec![StateMachineView {
        name: "image-pipeline".into(),
        arn: None,
        status: "not deployed".into(),
        kind: "STANDARD".into(),
        definition: "workflows/image-pipeline.asl.json".into(),
        awslocal: None,
        executions: None,
    }];
    let text = render_text(&v);
    for needle in [
        "\nTOPICS\n  image-ready  1 subscription\n",
        "    subscription    queue image-ready (raw)\n",
        "\nRULES\n  heartbeat  ENABLED\n    on              schedule rate(1 minute)\n    target          function heartbeat\n",
        "\nAPIS\n  examples  REST API, stage Prod\n    url             http://a1b2c3.execute-api.localhost:4566/Prod  (works offline)\n",
        "    route           POST /change -> make-change\n    curl            curl -s -X POST",
        "  later  not deployed\n    route           GET /x -> f, not deployed: run `lsk deploy`\n",
        "\nSTATE MACHINES\n  image-pipeline  not deployed, STANDARD, from workflows/image-pipeline.asl.json\n",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    let json: serde_json::Value = serde_json::from_str(&render_json(&v)).unwrap();
    assert_eq!(json["apis"][0]["routes"][0]["function"], "make-change");
    assert_eq!(json["state_machines"][0]["status"], "not deployed");
}

#[test]
fn undeployed_resources_say_so_and_print_no_dead_lines() {
    let mut v = view();
    v.functions[0].state = "not deployed".into();
    v.functions[0].url = None;
    v.functions[0].curl = None;
    v.buckets[0].exists = false;
    let text = render_text(&v);
    assert!(text.contains("  square  not deployed"), "{text}");
    assert!(!text.contains("awslocal lambda invoke"), "{text}");
    assert!(
        text.contains("  images (lsk-images)  not deployed"),
        "{text}"
    );
    assert!(!text.contains("s3 ls"), "{text}");
}

#[test]
fn json_has_the_same_lines() {
    let json: serde_json::Value = serde_json::from_str(&render_json(&view())).unwrap();
    assert_eq!(json["functions"][0]["name"], "square");
    assert_eq!(
        json["functions"][0]["url"]["offline"],
        "http://9e2fsnh951l3ts5ljyyo38si21fhr341.lambda-url.us-east-1.localhost:4566/"
    );
    assert!(
        json["functions"][0]["curl"]
            .as_str()
            .unwrap()
            .starts_with("curl -s -X POST")
    );
    assert_eq!(json["queues"][0]["messages"], 2);
    assert_eq!(json["buckets"][0]["objects"], 3);
}

#[test]
fn env_lines_export_endpoint_credentials_and_path() {
    let text = env_lines(
        "http://127.0.0.1:4567",
        "us-east-1",
        std::path::Path::new("/ws/.lsk/venv/bin"),
    );
    assert_eq!(
        text,
        "export AWS_ENDPOINT_URL=http://127.0.0.1:4567\n\
             export AWS_ACCESS_KEY_ID=test\n\
             export AWS_SECRET_ACCESS_KEY=test\n\
             export AWS_DEFAULT_REGION=us-east-1\n\
             export AWS_REGION=us-east-1\n\
             export PATH=/ws/.lsk/venv/bin:\"$PATH\"\n"
    );
}
