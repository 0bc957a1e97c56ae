//! The docker backend beyond the shared suites: our image on Python 3.13 (a Debian trixie base
//! made offline, standing in for a newer distribution); functions built with the kit's pinned
//! cargo-lambda and zig (what macOS users and hosts with a newer glibc get) running in our
//! image; and LocalStack's official image with its own Docker executor where that image is
//! present (it cannot be pulled on machines without a registry, and then shows as ignored with
//! the reason).

use std::time::Duration;

use lsk::{BackendChoice, BackendKind, LocalStack, StartOptions};
use lsk_e2e::{Spec, container_exists, eventually, nonce, root};
use serde_json::json;

#[tokio::test]
#[cfg_attr(
    lsk_no_docker,
    ignore = "no Docker daemon answered when these tests were built (start one and rebuild)"
)]
async fn python_3_13_runs_the_pinned_localstack_our_plugin_and_the_examples() {
    let spec = Spec::examples_on(BackendChoice::Docker);
    let mut opts = StartOptions::new(root())
        .port(0)
        .services(spec.stack.manifest().services())
        .docker_base(Some("lsk-base:trixie".into()))
        .progress(lsk::Progress::plain());
    opts.state_dir = root().join("target/lsk-e2e/docker-py313");
    let ls = LocalStack::start(BackendChoice::Docker, opts)
        .await
        .unwrap_or_else(|e| panic!("starting our image on a Debian trixie base: {e}"));
    let container = ls.container().expect("a container").to_owned();
    let python = std::process::Command::new("docker")
        .args(["exec", &container, "/opt/lsk/venv/bin/python", "-c"])
        .arg(concat!(
            "import sys, os, importlib.metadata as m, importlib.util as u\n",
            "from localstack import config\n",
            "from localstack.aws import spec\n",
            "pyc = open(u.cache_from_source(config.__file__), 'rb').read(8)\n",
            "index = os.path.join(config.dirs.static_libs, spec._get_catalog_filename())\n",
            "print('%d.%d' % sys.version_info[:2], m.version('localstack-core'),\n",
            "      'unchecked-hash' if pyc[4] == 1 else pyc[4], os.path.isfile(index))",
        ))
        .output()
        .expect("docker exec runs");
    // The start-up work made with the base's own Python before the import: bytecode for 3.13
    // (a missing .pyc raises above) and LocalStack's service catalog index.
    assert_eq!(
        String::from_utf8_lossy(&python.stdout).trim(),
        "3.13 4.13.1 unchecked-hash True",
        "LocalStack should run on the trixie base's Python 3.13, byte-compiled, with its catalog index: {}",
        String::from_utf8_lossy(&python.stderr)
    );

    let deployed = spec
        .stack
        .deploy(&ls)
        .await
        .unwrap_or_else(|e| panic!("deploying the examples on Python 3.13: {e}"));
    let square = deployed.function("square").unwrap();
    assert_eq!(
        square.invoke(&json!({"number": 6})).await.unwrap(),
        json!({"result": 36})
    );
    let reply = square.post_json("/", &json!({"number": 7})).await.unwrap();
    assert_eq!(
        reply.text(),
        r#"{"result":49}"#,
        "{}",
        lsk_e2e::seen("POST", square.url().unwrap_or("?"), &reply)
    );

    let prompt = format!("a lighthouse on Python 3.13 {}", nonce());
    deployed
        .queue("image-requests")
        .unwrap()
        .send(&json!({"prompt": prompt}).to_string())
        .await
        .unwrap();
    let req = image_generator::GenerateRequest::new(&prompt);
    let key = image_generator::key::image_key(&req.validate().unwrap(), "stub-v1");
    let bucket = deployed.bucket("images").unwrap();
    let png = eventually(
        "the queued prompt's PNG in S3",
        Duration::from_secs(60),
        || async { bucket.get(&key).await.ok() },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}: the SQS prompt never became {key}"));
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{key} is not a PNG");

    ls.stop().await.unwrap_or_else(|e| panic!("stopping: {e}"));
    assert!(
        !container_exists(&container),
        "container {container} outlived stop"
    );
}

#[tokio::test]
#[cfg_attr(
    lsk_no_docker,
    ignore = "no Docker daemon answered when these tests were built (start one and rebuild)"
)]
async fn functions_built_with_cargo_lambda_run_in_our_image_and_status_says_so() {
    let spec = Spec::inline(
        "docker-cargo-lambda",
        r#"
[functions.square]
package = "square"
url = { auth = "NONE" }
"#,
        BackendChoice::Docker,
    );
    let mut opts = StartOptions::new(root())
        .port(0)
        .progress(lsk::Progress::plain());
    opts.state_dir = root().join("target/lsk-e2e/docker-cargo-lambda");
    let ls = LocalStack::start(BackendChoice::Docker, opts)
        .await
        .unwrap_or_else(|e| panic!("starting our image: {e}"));
    // The kit installs its pinned cargo-lambda and zig into .lsk/venv when they are missing.
    let deploy = lsk::DeployOpts {
        target: Some(lsk::BuildTarget::Lambda),
        progress: lsk::Progress::plain(),
        ..lsk::DeployOpts::default()
    };
    let deployed = spec
        .stack
        .deploy_with(&ls, &deploy)
        .await
        .unwrap_or_else(|e| panic!("building square with cargo-lambda and deploying it: {e}"));
    let square = deployed.function("square").unwrap();
    assert_eq!(
        square.invoke(&json!({"number": 6})).await.unwrap(),
        json!({"result": 36})
    );
    let status = lsk::output::render_text(deployed.view());
    assert!(
        status.contains("cargo-lambda (glibc 2.26) build"),
        "lsk status should say which build square runs:\n{status}"
    );
    ls.stop().await.unwrap();
}

#[tokio::test]
#[cfg_attr(
    lsk_no_official_image,
    ignore = "localstack/localstack:4.14.0 is not on this engine and cannot be pulled without a registry (docker pull it to run this)"
)]
async fn the_official_image_runs_square_built_with_cargo_lambda() {
    let spec = Spec::inline(
        "docker-official",
        r#"
[functions.square]
package = "square"
url = { auth = "NONE" }
"#,
        BackendChoice::DockerOfficial,
    );
    let mut opts = StartOptions::new(root())
        .port(0)
        .progress(lsk::Progress::plain());
    opts.state_dir = root().join("target/lsk-e2e/docker-official");
    let ls = LocalStack::start(BackendChoice::DockerOfficial, opts)
        .await
        .unwrap_or_else(|e| panic!("starting the official image: {e}"));
    assert_eq!(ls.backend(), BackendKind::DockerOfficial, "{}", ls.reason());
    let deployed = spec
        .stack
        .deploy(&ls)
        .await
        .unwrap_or_else(|e| panic!("deploying square into the official image: {e}"));
    let square = deployed.function("square").unwrap();
    assert_eq!(
        square.invoke(&json!({"number": 6})).await.unwrap(),
        json!({"result": 36})
    );
    ls.stop().await.unwrap();
}

/// Runs a shell script in our image as a throwaway container (no network, our test labels),
/// with `task` mounted at /task; returns its output.
async fn run_in_image(image: &str, caps: &[&str], task: &std::path::Path, script: &str) -> String {
    let name = format!("lsk-test-fs-{}", nonce());
    let mut args: Vec<String> = ["run", "--rm", "--network", "none", "--name", &name]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for (k, v) in lsk::backend::docker::test_labels(std::process::id()) {
        args.extend(["--label".into(), format!("{k}={v}")]);
    }
    for cap in caps {
        args.extend(["--cap-add".into(), (*cap).to_owned()]);
    }
    args.extend([
        "-v".into(),
        format!("{}:/task:ro", task.display()),
        "--entrypoint".into(),
        "/bin/sh".into(),
        image.into(),
        "-c".into(),
        script.into(),
    ]);
    let out = tokio::time::timeout(
        Duration::from_secs(120),
        tokio::process::Command::new("docker")
            .args(&args)
            .kill_on_drop(true)
            .output(),
    )
    .await;
    let _ = std::process::Command::new("docker")
        .args(["rm", "-f", &name])
        .output();
    let out = out
        .unwrap_or_else(|_| panic!("docker run {name} gave no answer within 120 s"))
        .expect("docker runs");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Docker's default seccomp profile refuses unshare(2) without CAP_SYS_ADMIN: there, a
/// function must still run, from host paths, and say so in its log; with the capability (as lsk
/// starts our container) it gets /var/task.
#[tokio::test]
#[cfg_attr(
    lsk_no_docker,
    ignore = "no Docker daemon answered when these tests were built (start one and rebuild)"
)]
async fn where_docker_refuses_a_mount_namespace_functions_run_from_host_paths_and_say_so() {
    let progress = lsk::Progress::plain();
    let init = lsk::build::build_init_for_image(&root(), &progress)
        .await
        .unwrap_or_else(|e| panic!("building lsk-init for the image: {e}"));
    let image = lsk::backend::image::ensure(&root(), &init, None, &progress)
        .await
        .unwrap_or_else(|e| panic!("building our image: {e}"));

    let task = tempfile::tempdir().unwrap();
    let bootstrap = task.path().join("bootstrap");
    std::fs::copy(
        root().join("localstack/init/tests/common/bootstrap.py"),
        &bootstrap,
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(task.path(), std::fs::Permissions::from_mode(0o755)).unwrap();

    let script = r#"
echo "PROBE $(/opt/lsk/bin/lsk-init --fs-probe)"
/opt/lsk/bin/lsk-init --standalone /task --listen 127.0.0.1:9000 2>/tmp/init.log &
python3 - <<'PY'
import json, time, urllib.request
url = "http://127.0.0.1:9000/2015-03-31/functions/function/invocations"
for _ in range(200):
    try:
        body = urllib.request.urlopen(urllib.request.Request(url, data=b'{"action": "env"}'), timeout=5).read()
        print("RESULT " + json.dumps(json.loads(body)["env"]))
        break
    except OSError:
        time.sleep(0.05)
PY
sleep 0.2
cat /tmp/init.log
"#;
    let refused = run_in_image(&image, &[], task.path(), script).await;
    let probe = refused
        .lines()
        .find_map(|l| l.strip_prefix("PROBE "))
        .unwrap_or_else(|| panic!("no probe answer:\n{refused}"));
    assert!(
        probe.starts_with("host-paths: unshare"),
        "without CAP_SYS_ADMIN the probe must report host paths and why: {probe}"
    );
    let env: serde_json::Value = refused
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|j| serde_json::from_str(j).unwrap())
        .unwrap_or_else(|| panic!("the function did not answer from host paths:\n{refused}"));
    assert_eq!(env["LAMBDA_TASK_ROOT"], "/task", "{env}");
    assert!(
        env["TMPDIR"].is_string(),
        "host paths come with a TMPDIR: {env}"
    );
    assert!(
        refused.contains("lsk-init: this environment runs from host paths ("),
        "the function's log must say why it runs from host paths:\n{refused}"
    );

    let allowed = run_in_image(&image, &["SYS_ADMIN"], task.path(), script).await;
    assert!(
        allowed.contains("PROBE namespaced"),
        "with CAP_SYS_ADMIN (as lsk starts our container) functions get /var/task:\n{allowed}"
    );
    let env: serde_json::Value = allowed
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(|j| serde_json::from_str(j).unwrap())
        .unwrap_or_else(|| panic!("the function did not answer:\n{allowed}"));
    assert_eq!(env["LAMBDA_TASK_ROOT"], "/var/task", "{env}");
}
