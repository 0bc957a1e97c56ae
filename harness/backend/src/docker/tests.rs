//! Tests of `docker.rs` (`docker`).

use super::*;

fn env_of(spec: &ContainerSpec, k: &str) -> Option<String> {
    spec.env
        .iter()
        .find(|(ek, _)| ek == k)
        .map(|(_, v)| v.clone())
}

#[test]
fn kit_container_is_loopback_only_without_the_socket_and_knows_its_port() {
    let spec = kit_spec(
        "lsk-localstack:abc",
        "lsk-test-1",
        45123,
        test_labels(77),
        Network::Published,
        &[],
    );
    let args = run_args(&spec, true);
    let line = display_command("docker", &args);
    assert!(
        line.starts_with("docker run -i --rm --init --name lsk-test-1 "),
        "{line}"
    );
    assert!(line.contains(" -p 127.0.0.1:45123:4566 "), "{line}");
    assert!(line.contains(" --label dev.lsk.managed=true "), "{line}");
    assert!(line.contains(" --label dev.lsk.role=test "), "{line}");
    assert!(line.contains(" --label dev.lsk.owner-pid=77 "), "{line}");
    assert!(line.contains(" -e LSK_LIFELINE=1 "), "{line}");
    assert!(!line.contains("docker.sock"), "{line}");
    assert!(line.ends_with(" lsk-localstack:abc"), "{line}");
    // Queue and function URLs LocalStack hands out must carry the published port.
    assert_eq!(
        env_of(&spec, "LOCALSTACK_HOST").as_deref(),
        Some("localhost.localstack.cloud:45123")
    );
    let detached = display_command("docker", &run_args(&spec, false));
    assert!(detached.starts_with("docker run -d --init "), "{detached}");
    assert!(!detached.contains("LSK_LIFELINE"), "{detached}");
}

#[test]
fn on_the_host_network_the_gateway_itself_listens_on_loopback() {
    let spec = kit_spec("i:t", "n", 45124, test_labels(1), Network::Host, &[]);
    let line = display_command("docker", &run_args(&spec, false));
    assert!(line.contains(" --network host "), "{line}");
    assert!(!line.contains(" -p "), "{line}");
    assert!(
        line.contains(" -e GATEWAY_LISTEN=127.0.0.1:45124 "),
        "{line}"
    );
    assert_eq!(
        env_of(&spec, "LOCALSTACK_HOST").as_deref(),
        Some("localhost.localstack.cloud:45124")
    );
}

#[test]
fn official_container_has_the_socket_and_passes_the_token_hidden() {
    let spec = official_spec(
        "o",
        4567,
        Some("ls-secret"),
        up_labels(Path::new("/ws")),
        &["apigateway".to_owned()],
    );
    assert_eq!(spec.image, OFFICIAL_IMAGE);
    assert!(
        spec.mounts
            .contains(&(DOCKER_SOCKET.into(), DOCKER_SOCKET.into()))
    );
    assert_eq!(
        env_of(&spec, "LOCALSTACK_AUTH_TOKEN").as_deref(),
        Some("ls-secret")
    );
    let line = display_command("docker", &run_args(&spec, false));
    assert!(!line.contains("ls-secret"), "{line}");
    assert!(line.contains("LOCALSTACK_AUTH_TOKEN=***"), "{line}");
    assert!(
        env_of(&spec, "LAMBDA_DOCKER_FLAGS").is_some_and(|f| f.contains("dev.lsk.managed=true")),
        "LocalStack's Lambda containers carry our label"
    );
    assert_eq!(
        env_of(&spec, "SERVICES").as_deref(),
        Some("lambda,sqs,s3,logs,iam,sts,apigateway"),
        "the services the manifest uses are started besides the kit's own"
    );
    let without = official_spec("o", 4566, Some(""), Vec::new(), &[]);
    assert_eq!(env_of(&without, "LOCALSTACK_AUTH_TOKEN"), None);
}

#[test]
fn committed_compose_file_is_the_rendered_one() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../localstack/docker-compose.yml");
    if std::env::var_os("LSK_BLESS").is_some() {
        std::fs::write(&path, render_compose()).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        committed,
        render_compose(),
        "localstack/docker-compose.yml is stale: run `LSK_BLESS=1 cargo test -p lsk-backend committed_compose` to rewrite it"
    );
}

#[test]
fn compose_file_starts_our_image_on_loopback_and_suits_compose_v1() {
    let text = render_compose();
    assert!(
        text.contains("image: \"${LSK_IMAGE:-lsk-localstack:latest}\""),
        "{text}"
    );
    assert!(
        text.contains("- \"127.0.0.1:${LSK_PORT:-4566}:4566\""),
        "{text}"
    );
    assert!(
        text.contains("LOCALSTACK_HOST: \"localhost.localstack.cloud:${LSK_PORT:-4566}\""),
        "{text}"
    );
    assert!(!text.contains("0.0.0.0"), "{text}");
    assert!(!text.contains("docker.sock"), "{text}");
    assert!(
        !text.lines().any(|l| l.starts_with("name:")),
        "docker-compose v1 rejects a top-level name"
    );
}

#[test]
fn orphans_are_test_and_image_containers_whose_owner_is_gone() {
    let c = |id: &str, labels: &[(&str, &str)]| {
        (
            id.to_owned(),
            labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        )
    };
    let containers = vec![
        c("live", &[(LABEL_ROLE, "test"), (LABEL_OWNER_PID, "10")]),
        c("dead", &[(LABEL_ROLE, "test"), (LABEL_OWNER_PID, "11")]),
        c("nopid", &[(LABEL_ROLE, "test")]),
        c("up", &[(LABEL_ROLE, "up"), (LABEL_OWNER_PID, "11")]),
        c("export", &[(LABEL_ROLE, "image"), (LABEL_OWNER_PID, "11")]),
    ];
    assert_eq!(
        orphans(&containers, |pid| pid == 10),
        ["dead", "nopid", "export"]
    );
}

#[test]
fn one_detached_name_per_state_dir() {
    let a = up_name(Path::new("/home/me/a"));
    assert_eq!(a, up_name(Path::new("/home/me/a")));
    assert_ne!(a, up_name(Path::new("/home/me/b")));
    assert!(a.starts_with("lsk-localstack-"));
}

#[test]
fn probe_results_are_interpreted() {
    assert_eq!(
        interpret_probe(Ok((true, "27.1.2\n".into(), String::new()))),
        DaemonProbe::Available {
            version: "27.1.2".into()
        }
    );
    let down = interpret_probe(Ok((
            false,
            String::new(),
            "\nCannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n"
                .into(),
        )));
    assert_eq!(
            down,
            DaemonProbe::Unavailable {
                why: "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?".into()
            }
        );
}

#[tokio::test]
async fn probe_without_a_client_is_unavailable_not_an_error() {
    let probe = probe_with("/nonexistent/docker", Duration::from_secs(2)).await;
    match probe {
        DaemonProbe::Unavailable { why } => assert!(why.contains("not installed"), "{why}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}
