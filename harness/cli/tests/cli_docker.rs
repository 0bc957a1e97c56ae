//! The `lsk` command line on the docker backend, as a user types it: `lsk up --backend docker`
//! builds our image (offline when no registry answers), starts it on loopback, deploys the
//! examples and prints `curl` and `awslocal` lines that work as printed; `lsk down` removes the
//! container; and the compose file starts the same image with `docker-compose` (v1) or
//! `docker compose`. Needs a Docker daemon: `make test` runs on machines that have one.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{Down, line_for, root, text};

fn lsk(state: &Path, args: &[&str]) -> Output {
    common::lsk_on("docker", state, args)
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn up_on_docker_prints_lines_that_work_and_down_removes_the_container() {
    let state = root().join("target/lsk-e2e/cli-docker");
    let _ = std::fs::remove_dir_all(&state);
    let guard = Down {
        backend: "docker",
        state: state.clone(),
    };

    let up = lsk(&state, &["--port", "0", "up"]);
    assert!(
        up.status.success(),
        "lsk up --backend docker failed:\n{}",
        text(&up)
    );
    let stdout = String::from_utf8_lossy(&up.stdout).into_owned();
    assert!(
        stdout.contains("(docker, region"),
        "the header names the backend:\n{}",
        text(&up)
    );
    let record: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(state.join("docker.json")).expect("lsk up records its container"),
    )
    .unwrap();
    let name = record["name"].as_str().unwrap().to_owned();
    let addresses = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(lsk::backend::docker::listening_addresses(&name))
        .unwrap_or_else(|e| panic!("reading where {name} listens: {e}"));
    assert!(
        addresses.contains(&format!("127.0.0.1:{}", record["port"]))
            && addresses
                .iter()
                .all(|a| a.starts_with("127.0.0.1:") || a.starts_with("[::1]:")),
        "reachable at its port on loopback only: {addresses:?}"
    );
    assert_eq!(
        docker(&[
            "inspect",
            "--format",
            "{{index .Config.Labels \"dev.lsk.managed\"}}",
            &name
        ]),
        "true",
        "the container carries our label"
    );

    // The curl line, run exactly as printed.
    let curl = line_for(&stdout, "square", "curl")
        .unwrap_or_else(|| panic!("no curl line for square:\n{stdout}"));
    let out = Command::new("bash").args(["-c", &curl]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"result":36}"#,
        "the printed line `{curl}` answered: {}",
        text(&out)
    );

    // The awslocal lines, after `eval "$(lsk env)"` as the header says.
    let env_line = format!(
        "eval \"$('{}' --backend docker --state-dir '{}' env)\"",
        env!("CARGO_BIN_EXE_lsk"),
        state.display()
    );
    let invoke = line_for(&stdout, "square", "awslocal")
        .unwrap_or_else(|| panic!("no awslocal line for square:\n{stdout}"));
    let out = Command::new("bash")
        .current_dir(root())
        .args(["-c", &format!("{env_line} && {invoke}")])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(r#"{"result":36}"#),
        "`{invoke}` answered: {}",
        text(&out)
    );
    let send = line_for(&stdout, "image-requests", "awslocal")
        .unwrap_or_else(|| panic!("no awslocal line for the queue:\n{stdout}"));
    let out = Command::new("bash")
        .current_dir(root())
        .args(["-c", &format!("{env_line} && {send}")])
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("MessageId"),
        "`{send}` answered: {}",
        text(&out)
    );

    let status = lsk(&state, &["status"]);
    assert!(
        status.status.success() && String::from_utf8_lossy(&status.stdout).contains("square"),
        "lsk status on the running container:\n{}",
        text(&status)
    );

    let down = lsk(&state, &["down"]);
    assert!(down.status.success(), "{}", text(&down));
    assert_eq!(
        docker(&[
            "ps",
            "-a",
            "--filter",
            &format!("name=^{name}$"),
            "--format",
            "{{.ID}}"
        ]),
        "",
        "`lsk down` should remove container {name}"
    );
    std::mem::forget(guard);
}

/// Which compose client this machine has: the v2 plugin or Debian's docker-compose v1.
fn compose_client() -> Option<Vec<&'static str>> {
    let works = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if works("docker", &["compose", "version"]) {
        Some(vec!["docker", "compose"])
    } else if works("docker-compose", &["version"]) {
        Some(vec!["docker-compose"])
    } else {
        None
    }
}

#[test]
fn the_compose_file_starts_our_image_on_loopback() {
    let Some(client) = compose_client() else {
        panic!(
            "neither `docker compose` nor `docker-compose` is installed; install one (Debian: apt-get install docker-compose)"
        );
    };
    let image = Command::new(env!("CARGO_BIN_EXE_lsk"))
        .current_dir(root())
        .arg("image")
        .output()
        .expect("lsk image runs");
    assert!(image.status.success(), "lsk image:\n{}", text(&image));

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let project = format!("lsk-compose-test-{}", std::process::id());
    let compose = |args: &[&str]| {
        let mut all: Vec<&str> = client[1..].to_vec();
        all.extend(["-f", "localstack/docker-compose.yml", "-p", &project]);
        all.extend(args);
        Command::new(client[0])
            .current_dir(root())
            .args(&all)
            .env("LSK_PORT", port.to_string())
            .output()
            .expect("compose runs")
    };
    struct ComposeDown<F: Fn(&[&str]) -> Output>(F);
    impl<F: Fn(&[&str]) -> Output> Drop for ComposeDown<F> {
        fn drop(&mut self) {
            let _ = (self.0)(&["down", "-v"]);
        }
    }
    let up = compose(&["up", "-d"]);
    assert!(
        up.status.success(),
        "{} up -d:\n{}",
        client.join(" "),
        text(&up)
    );
    let _down = ComposeDown(compose);

    let health = format!("http://127.0.0.1:{port}/_localstack/health");
    let started = Instant::now();
    let body = loop {
        let out = Command::new("curl").args(["-s", &health]).output().unwrap();
        let body = String::from_utf8_lossy(&out.stdout).into_owned();
        if body.contains("\"lambda\"") {
            break body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the compose service never answered {health}; last: {body}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        body.contains("4.13.1"),
        "our pinned LocalStack answers: {body}"
    );
    let published = docker(&[
        "ps",
        "--filter",
        &format!("label=com.docker.compose.project={project}"),
        "--format",
        "{{.Ports}}",
    ]);
    assert!(
        published.starts_with("127.0.0.1:") && !published.contains("0.0.0.0"),
        "published beyond loopback: {published}"
    );
}
