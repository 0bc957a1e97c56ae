//! The examples as a user meets them: `lsk.toml` deployed into LocalStack, then `square` and
//! `image-generator` called by SDK invoke, over their function URLs, through the SQS queue, and
//! with the real `curl` and `awslocal` lines the kit prints; the event-driven examples (REST
//! API, topic, schedule, state machine) are in `examples/events.rs`. Part of the suite runs a
//! second time on the same stack exported as a SAM template (`exported::`).

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use lsk::{BackendChoice, BackendKind, InvokeMode};
use lsk_e2e::{Kit, Spec, eventually, header, nonce, seen};
use serde_json::{Value, json};

lsk_e2e::backend_suite!(
    Spec::examples_on;
    square_by_direct_invoke_is_exact_over_the_whole_i64_range,
    square_rejects_bad_input_by_invoke_with_invalid_input_errors,
    square_over_its_function_url,
    the_printed_curl_and_awslocal_lines_work_as_printed,
    the_readmes_curl_lines_work_without_a_content_type,
    image_generator_over_its_url_stores_a_png_and_serves_it_back,
    image_generator_url_errors_say_what_is_wrong,
    sqs_prompts_become_images_and_poison_messages_reach_the_dlq,
    functions_run_through_our_process_executor_on_every_backend,
    make_change_over_the_rest_api_as_printed,
    image_ready_fans_out_to_its_queue_from_the_rest_api_and_a_printed_publish,
    the_heartbeat_schedule_runs_every_minute,
    the_image_pipeline_runs_from_prompt_to_labelled_notification,
);

// The same examples exported with `lsk export sam` and run from that template on the kit's SAM
// path (native): the tests that address resources by name, through the logical IDs the export
// gives them. The others check the printed lines' example payloads, which only `lsk.toml` has.
lsk_e2e::native_suite!(
    exported;
    lsk_e2e::Spec::examples_exported;
    square_by_direct_invoke_is_exact_over_the_whole_i64_range,
    square_rejects_bad_input_by_invoke_with_invalid_input_errors,
    square_over_its_function_url,
    image_generator_over_its_url_stores_a_png_and_serves_it_back,
    image_generator_url_errors_say_what_is_wrong,
    sqs_prompts_become_images_and_poison_messages_reach_the_dlq,
    the_image_pipeline_runs_from_prompt_to_labelled_notification,
);

#[path = "examples/events.rs"]
mod events;
use events::*;

/// `cargo test` with no backend asked for: `auto` picks native on a Linux machine with Python
/// 3.11-3.13, even when a Docker daemon answers, and says why.
#[tokio::test]
async fn auto_picks_native_where_it_runs_and_says_why() {
    let root = lsk_e2e::root();
    let selection =
        lsk::backend::select_here(BackendChoice::Auto, None, &lsk::Env::default(), &root).await;
    match lsk::backend::native::probe(&root).await {
        lsk::backend::NativeProbe::Available { how } => {
            assert_eq!(selection.kind, BackendKind::Native, "{}", selection.reason);
            assert!(selection.reason.contains(&how), "{}", selection.reason);
        }
        lsk::backend::NativeProbe::Unavailable { why } => {
            assert_ne!(selection.kind, BackendKind::Native, "{why}");
        }
    }
}

fn stub_key(prompt: &str, width: Option<i64>, height: Option<i64>) -> String {
    let mut req = image_generator::GenerateRequest::new(prompt);
    req.width = width;
    req.height = height;
    let spec = req.validate().expect("a valid request");
    image_generator::key::image_key(&spec, "stub-v1")
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("not a PNG ({} bytes): {e}", bytes.len()));
    let info = reader.info();
    (info.width, info.height)
}

// ---------------------------------------------------------------------------------------------
// square

async fn square_by_direct_invoke_is_exact_over_the_whole_i64_range(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let square = deployed.function(&kit.function_id("square")).unwrap();
    let cases = [
        (json!({"number": 6}), "36"),
        (json!({"number": -7}), "49"),
        (json!({"number": 0}), "0"),
        (json!({"number": 1.5}), "2.25"),
        (
            json!({"number": i64::MAX}),
            "85070591730234615847396907784232501249",
        ),
        (
            json!({"number": i64::MIN}),
            "85070591730234615865843651857942052864",
        ),
    ];
    for (payload, expected) in cases {
        let inv = square
            .invoke_raw(payload.to_string().as_bytes(), InvokeMode::Sync)
            .await
            .unwrap();
        assert!(
            inv.function_error.is_none(),
            "invoke square {payload} failed: {}",
            inv.payload
        );
        // Compared as text: a JSON parser would round 128-bit integers to floats.
        assert_eq!(
            inv.payload,
            format!("{{\"result\":{expected}}}"),
            "invoke square {payload}"
        );
    }
}

async fn square_rejects_bad_input_by_invoke_with_invalid_input_errors(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let square = deployed.function(&kit.function_id("square")).unwrap();
    let bad: [&[u8]; 6] = [
        br#"{}"#,
        br#"{"number": "six"}"#,
        br#"{"number": null}"#,
        br#"{"number": 1e200}"#,
        br#"{"numbr": 6}"#,
        br#"[6]"#,
    ];
    for payload in bad {
        let inv = square.invoke_raw(payload, InvokeMode::Sync).await.unwrap();
        let shown = String::from_utf8_lossy(payload);
        let failure = inv
            .failure()
            .unwrap_or_else(|| panic!("invoke square {shown} succeeded with {}", inv.payload));
        assert_eq!(
            failure.error_type, "InvalidInput",
            "invoke square {shown}: {}",
            inv.payload
        );
        assert!(
            failure.message.contains("number"),
            "the message should say what was wrong with `number`: {}",
            failure.message
        );
    }
}

async fn square_over_its_function_url(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let square = deployed.function(&kit.function_id("square")).unwrap();
    let url = square.url().expect("square has a function URL").to_owned();

    let reply = square.post_json("/", &json!({"number": 6})).await.unwrap();
    assert_eq!(reply.status, 200, "{}", seen("POST", &url, &reply));
    assert_eq!(
        reply.text(),
        r#"{"result":36}"#,
        "{}",
        seen("POST", &url, &reply)
    );
    assert_eq!(header(&reply, "content-type"), Some("application/json"));

    let get = square
        .call_url("GET", "/?number=6", None, None)
        .await
        .unwrap();
    assert_eq!(
        get.status,
        200,
        "{}",
        seen("GET", &format!("{url}?number=6"), &get)
    );
    assert_eq!(get.text(), r#"{"result":36}"#);

    let bad_bodies: [&[u8]; 5] = [
        b"",
        b"not json",
        br#"{"number": "x"}"#,
        br#"{"number": NaN}"#,
        br#"{}"#,
    ];
    for body in bad_bodies {
        let reply = square
            .call_url("POST", "/", Some(body.to_vec()), Some("application/json"))
            .await
            .unwrap();
        let what = seen("POST", &url, &reply);
        assert_eq!(reply.status, 400, "{what}");
        let err: Value = reply
            .json()
            .unwrap_or_else(|e| panic!("not JSON ({e}): {what}"));
        assert!(
            err["error"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}"
        );
    }
    let put = square.call_url("PUT", "/", None, None).await.unwrap();
    assert_eq!(put.status, 405, "{}", seen("PUT", &url, &put));
}

async fn the_printed_curl_and_awslocal_lines_work_as_printed(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let view = deployed
        .function(&kit.function_id("square"))
        .unwrap()
        .view()
        .clone();
    let env = kit.cli_env();
    let dir = tempfile::tempdir().unwrap();

    let curl = view.curl.clone().expect("square's URL gets a curl line");
    let out = Command::new("bash")
        .args(["-c", &curl])
        .envs(env.clone())
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.trim() == r#"{"result":36}"#,
        "the printed line `{curl}` gave {} / {stdout} / {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    // The user's own invocation, as in the README.
    let out_file = dir.path().join("out.json");
    let out = Command::new("awslocal")
        .args([
            "lambda",
            "invoke",
            "--function-name",
            "square",
            "--payload",
            r#"{"number": 6}"#,
        ])
        .arg(&out_file)
        .envs(env.clone())
        .output()
        .expect("awslocal is in .lsk/venv/bin (installed by localstack/install.sh)");
    assert!(
        out.status.success(),
        "awslocal lambda invoke failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer = std::fs::read_to_string(&out_file).unwrap();
    assert_eq!(answer, r#"{"result":36}"#, "awslocal wrote {answer}");

    // The printed awslocal line writes to /dev/stdout: run it as printed, through a pipe.
    let out = Command::new("bash")
        .args(["-c", &format!("{} | cat", view.awslocal)])
        .envs(env)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(r#"{"result":36}"#),
        "the printed line `{}` gave {stdout} / {}",
        view.awslocal,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs a curl line through bash, as a user pastes it, and returns (HTTP status, body).
fn curl_as_typed(line: &str) -> (String, String) {
    let out = Command::new("bash")
        .args(["-c", &format!("{line} -w '\\n%{{http_code}}'")])
        .output()
        .expect("bash runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or((&text, ""));
    (status.to_owned(), body.to_owned())
}

/// The README's lines have no content type: curl then sends
/// `application/x-www-form-urlencoded`, and the function must still get the JSON as typed
/// (base64-encoded, as AWS delivers such bodies), on POST and on other methods.
async fn the_readmes_curl_lines_work_without_a_content_type(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let square = deployed
        .function(&kit.function_id("square"))
        .unwrap()
        .url()
        .unwrap()
        .to_owned();
    let generator = deployed
        .function(&kit.function_id("image-generator"))
        .unwrap()
        .url()
        .unwrap()
        .to_owned();

    let line = format!(r#"curl -s -X POST '{square}' -d '{{"number": 7}}'"#);
    let (status, body) = curl_as_typed(&line);
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("200", r#"{"result":49}"#),
        "`{line}` answered {status} {body}"
    );

    let line = format!(r#"curl -s -X POST '{square}' -d '{{"number": "x"}}'"#);
    let (status, body) = curl_as_typed(&line);
    assert_eq!(status, "400", "`{line}` answered {status} {body}");
    assert!(
        body.contains(r#"\"number\" must be a JSON number"#),
        "the README shows this line answering with what is wrong with the number; `{line}` answered {body}"
    );

    let prompt = format!("a couch on the moon {}", nonce());
    let line =
        format!(r#"curl -s -X POST '{generator}generate-image' -d '{{"prompt": "{prompt}"}}'"#);
    let (status, body) = curl_as_typed(&line);
    assert_eq!(status, "201", "`{line}` answered {status} {body}");
    let created: Value =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("`{line}` answered {body}: {e}"));
    assert_eq!(
        created["key"],
        stub_key(&prompt, None, None),
        "`{line}` answered {body}"
    );

    // Other body types reach the function as sent too: text/plain JSON is passed as text.
    let line = format!(
        r#"curl -s -X POST '{square}' -H 'content-type: text/plain' --data-binary '{{"number": 3}}'"#
    );
    let (status, body) = curl_as_typed(&line);
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("200", r#"{"result":9}"#),
        "`{line}` answered {status} {body}"
    );
}

// ---------------------------------------------------------------------------------------------
// image-generator

async fn image_generator_over_its_url_stores_a_png_and_serves_it_back(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let gen_fn = deployed
        .function(&kit.function_id("image-generator"))
        .unwrap();
    let bucket = deployed.bucket(&kit.bucket_id("images")).unwrap();
    let url = format!("{}generate-image", gen_fn.url().unwrap());
    let prompt = format!("a couch on the moon {}", nonce());

    let reply = gen_fn
        .post_json(
            "/generate-image",
            &json!({"prompt": prompt, "width": 320, "height": 200}),
        )
        .await
        .unwrap();
    let what = seen("POST", &url, &reply);
    assert_eq!(reply.status, 201, "{what}");
    let created: Value = reply.json().unwrap();
    let key = created["key"]
        .as_str()
        .unwrap_or_else(|| panic!("no key in {what}"));
    assert_eq!(
        key,
        stub_key(&prompt, Some(320), Some(200)),
        "content-addressed key: {what}"
    );
    assert_eq!(created["bucket"], bucket.name());
    assert_eq!(created["uri"], format!("s3://{}/{key}", bucket.name()));
    assert_eq!(created["content_type"], "image/png");
    assert_eq!(
        (created["width"].as_u64(), created["height"].as_u64()),
        (Some(320), Some(200))
    );

    let stored = bucket.get(key).await.unwrap();
    assert_eq!(png_size(&stored), (320, 200), "the object in S3");
    assert_eq!(created["bytes"].as_u64(), Some(stored.len() as u64));

    let path = format!("/{key}");
    let got = gen_fn.call_url("GET", &path, None, None).await.unwrap();
    let what = seen("GET", &format!("{}{key}", gen_fn.url().unwrap()), &got);
    assert_eq!(got.status, 200, "{what}");
    assert_eq!(header(&got, "content-type"), Some("image/png"), "{what}");
    assert_eq!(
        got.body, stored,
        "GET returns the stored bytes (curl -o out.png)"
    );

    // Same request again: same key, no duplicate object.
    let again = gen_fn
        .post_json(
            "/generate-image",
            &json!({"prompt": prompt, "width": 320, "height": 200}),
        )
        .await
        .unwrap();
    assert_eq!(again.json().unwrap()["key"], key);
}

async fn image_generator_url_errors_say_what_is_wrong(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let gen_fn = deployed
        .function(&kit.function_id("image-generator"))
        .unwrap();
    let base = gen_fn.url().unwrap().to_owned();
    let cases: [(&str, &str, Option<&[u8]>, u16); 7] = [
        ("POST", "/generate-image", Some(br#"{"prompt": ""}"#), 400),
        (
            "POST",
            "/generate-image",
            Some(br#"{"prompt": "x", "width": 5}"#),
            400,
        ),
        ("POST", "/generate-image", Some(b"{not json"), 400),
        (
            "POST",
            "/generate-image",
            Some(br#"{"prompt": "x", "colour": "red"}"#),
            400,
        ),
        ("GET", "/generate-image", None, 405),
        ("GET", "/nowhere", None, 404),
        (
            "GET",
            "/images/0000000000000000000000000000000000000000000000000000000000000000.png",
            None,
            404,
        ),
    ];
    for (method, path, body, status) in cases {
        let reply = gen_fn
            .call_url(
                method,
                path,
                body.map(<[u8]>::to_vec),
                Some("application/json"),
            )
            .await
            .unwrap();
        let what = seen(
            method,
            &format!("{base}{}", path.trim_start_matches('/')),
            &reply,
        );
        assert_eq!(reply.status, status, "{what}");
        let err: Value = reply
            .json()
            .unwrap_or_else(|e| panic!("not JSON ({e}): {what}"));
        assert!(err["error"].as_str().is_some_and(|m| m.len() > 5), "{what}");
    }
}

async fn sqs_prompts_become_images_and_poison_messages_reach_the_dlq(kit: &'static Kit) {
    let deployed = kit.deployed().await;
    let queue = deployed.queue(&kit.queue_id("image-requests")).unwrap();
    let dlq = deployed.queue(&kit.queue_id("image-requests-dlq")).unwrap();
    let bucket = deployed.bucket(&kit.bucket_id("images")).unwrap();
    let run = nonce();

    let prompts: Vec<String> = (0..20)
        .map(|i| format!("queued picture {i} of run {run}"))
        .collect();
    let poison = [
        format!("poison {run}: not json"),
        format!(r#"{{"prompt": "", "run": "{run}"}}"#),
        format!(r#"{{"prompt": "too wide {run}", "width": 99999}}"#),
    ];
    for p in &prompts {
        queue.send(&json!({"prompt": p}).to_string()).await.unwrap();
    }
    for p in &poison {
        queue.send(p).await.unwrap();
    }
    let expected: BTreeSet<String> = prompts.iter().map(|p| stub_key(p, None, None)).collect();

    let stored = eventually("20 images in S3", Duration::from_secs(120), || async {
        let keys: BTreeSet<String> = bucket.keys().await.ok()?.into_iter().collect();
        expected.is_subset(&keys).then_some(keys)
    })
    .await;
    let stored = match stored {
        Ok(keys) => keys,
        Err(e) => panic!("{e}; queue depth {:?}", queue.depth().await.ok()),
    };
    assert_eq!(expected.len(), 20, "distinct prompts give distinct keys");
    for key in &expected {
        let png = bucket.get(key).await.unwrap();
        assert_eq!(png_size(&png), (512, 512), "{key}");
    }
    assert!(stored.is_superset(&expected));

    // After 3 receives each (2 s visibility timeout), the three poison messages sit in the DLQ.
    let dead = eventually(
        "3 messages in image-requests-dlq",
        Duration::from_secs(120),
        || async {
            let (visible, _) = dlq.depth().await.ok()?;
            (visible >= 3).then_some(())
        },
    )
    .await;
    if let Err(e) = dead {
        panic!(
            "{e}; main queue depth {:?}, dlq depth {:?}",
            queue.depth().await.ok(),
            dlq.depth().await.ok()
        );
    }
    let bodies: BTreeSet<String> = dlq
        .receive(10, Duration::from_secs(2))
        .await
        .unwrap()
        .into_iter()
        .collect();
    let poison: BTreeSet<String> = poison.into_iter().collect();
    assert_eq!(
        bodies, poison,
        "exactly the poison messages are dead-lettered"
    );
    let drained = eventually(
        "image-requests to drain",
        Duration::from_secs(30),
        || async {
            let (visible, in_flight) = queue.depth().await.ok()?;
            (visible == 0 && in_flight == 0).then_some(())
        },
    )
    .await;
    assert!(
        drained.is_ok(),
        "nothing may be left on image-requests: {:?}",
        queue.depth().await.ok()
    );
}

// ---------------------------------------------------------------------------------------------
// which backend ran

async fn functions_run_through_our_process_executor_on_every_backend(kit: &'static Kit) {
    eprintln!("backend: {} ({})", kit.backend.as_str(), kit.reason);
    // Make sure an environment exists, then find its init among LocalStack's processes.
    let deployed = kit.deployed().await;
    deployed
        .function(&kit.function_id("square"))
        .unwrap()
        .invoke(&json!({"number": 2}))
        .await
        .unwrap();
    match kit.backend {
        BackendKind::Native => {
            let pid = kit
                .pid
                .expect("native LocalStack started by this test binary has a pid");
            let inits = lsk::backend::native::descendants_named(pid, "lsk-init");
            assert!(
                !inits.is_empty(),
                "LocalStack (pid {pid}) should run square through lsk-init processes; LocalStack's log: {}",
                kit.state_dir.join("localstack.log").display()
            );
            let log =
                std::fs::read_to_string(kit.state_dir.join("localstack.log")).unwrap_or_default();
            assert!(
                !log.contains("Falling back to \"docker\""),
                "LocalStack fell back to the docker executor: {log}"
            );
        }
        BackendKind::Docker => {
            let container = kit
                .container
                .as_deref()
                .expect("a docker kit has a container");
            let top = Command::new("docker")
                .args(["top", container, "-o", "pid,args"])
                .output()
                .expect("docker top runs");
            let processes = String::from_utf8_lossy(&top.stdout);
            assert!(
                processes.contains("/opt/lsk/bin/lsk-init"),
                "square should run through lsk-init inside container {container}; its processes:\n{processes}"
            );
            // Reachable on loopback only (its own listeners on the host's network, or its
            // published port on Docker's bridge).
            let addresses = lsk::backend::docker::listening_addresses(container)
                .await
                .unwrap_or_else(|e| panic!("reading where {container} listens: {e}"));
            let gateway = format!(
                "127.0.0.1:{}",
                lsk::backend::external::endpoint_port(&kit.endpoint)
            );
            assert!(
                addresses.contains(&gateway),
                "the gateway should be reachable at {gateway}: {addresses:?}"
            );
            assert!(
                addresses
                    .iter()
                    .all(|a| a.starts_with("127.0.0.1:") || a.starts_with("[::1]:")),
                "container {container} is reachable beyond loopback: {addresses:?}"
            );
        }
        other => panic!("the suites run on native and docker, not {other}"),
    }
}
