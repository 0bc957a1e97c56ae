//! Tests of `lib.rs`.

use super::*;
use std::sync::atomic::{AtomicBool, Ordering};

fn env_with(ls: Option<&str>, aws: Option<&str>) -> Env {
    Env {
        localstack_endpoint: ls.map(str::to_owned),
        aws_endpoint_url: aws.map(str::to_owned),
        auth_token: None,
    }
}

async fn pick(
    choice: BackendChoice,
    explicit: Option<&str>,
    env: &Env,
    probe: DaemonProbe,
) -> (Selection, bool) {
    pick_with(choice, explicit, env, no_python(), probe).await
}

/// Selection with both probes given; the flag says whether the daemon was probed.
async fn pick_with(
    choice: BackendChoice,
    explicit: Option<&str>,
    env: &Env,
    native: NativeProbe,
    probe: DaemonProbe,
) -> (Selection, bool) {
    let probed = AtomicBool::new(false);
    let selection = select(
        choice,
        explicit,
        env,
        || async { native },
        || {
            probed.store(true, Ordering::SeqCst);
            async { probe }
        },
    )
    .await;
    (selection, probed.load(Ordering::SeqCst))
}

fn python_311() -> NativeProbe {
    NativeProbe::Available {
        how: "python3.11 is Python 3.11".into(),
    }
}

fn no_python() -> NativeProbe {
    NativeProbe::Unavailable {
        why: "no Python 3.11-3.13 on PATH".into(),
    }
}

fn up() -> DaemonProbe {
    DaemonProbe::Available {
        version: "27.1.2".into(),
    }
}

fn down() -> DaemonProbe {
    DaemonProbe::Unavailable {
        why: "Cannot connect to the Docker daemon".into(),
    }
}

#[tokio::test]
async fn endpoint_in_env_means_external_without_probing_docker() {
    let env = env_with(Some("http://127.0.0.1:4599"), None);
    let (s, probed) = pick(BackendChoice::Auto, None, &env, up()).await;
    assert_eq!(s.kind, BackendKind::External);
    assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:4599"));
    assert!(
        s.reason.contains("LOCALSTACK_ENDPOINT is set"),
        "{}",
        s.reason
    );
    assert!(!probed);

    let env = env_with(None, Some("http://127.0.0.1:4600"));
    let (s, _) = pick(BackendChoice::Auto, None, &env, up()).await;
    assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:4600"));
    assert!(s.reason.contains("AWS_ENDPOINT_URL"), "{}", s.reason);
}

#[tokio::test]
async fn localstack_endpoint_wins_over_aws_endpoint_url_and_flag_wins_over_both() {
    let env = env_with(Some("http://a:1"), Some("http://b:2"));
    let (s, _) = pick(BackendChoice::Auto, None, &env, down()).await;
    assert_eq!(s.endpoint.as_deref(), Some("http://a:1"));
    let (s, _) = pick(BackendChoice::Auto, Some("http://c:3"), &env, down()).await;
    assert_eq!(s.endpoint.as_deref(), Some("http://c:3"));
    assert!(s.reason.contains("--endpoint was given"), "{}", s.reason);
}

#[tokio::test]
async fn native_wins_where_it_runs_even_when_a_daemon_answers() {
    let env = Env::default();
    let (s, probed) = pick_with(BackendChoice::Auto, None, &env, python_311(), up()).await;
    assert_eq!(s.kind, BackendKind::Native);
    assert!(!probed, "docker need not be probed when native runs");
    assert_eq!(s.reason, "native: it runs here (python3.11 is Python 3.11)");
}

#[tokio::test]
async fn no_native_and_a_daemon_means_docker_and_says_why() {
    let (s, probed) = pick(BackendChoice::Auto, None, &Env::default(), up()).await;
    assert!(probed);
    assert_eq!(s.kind, BackendKind::Docker);
    assert_eq!(
        s.reason,
        "docker: native cannot run here (no Python 3.11-3.13 on PATH) and a Docker daemon answers (server 27.1.2)"
    );
}

#[tokio::test]
async fn neither_means_native_so_its_installer_says_what_to_install() {
    let (s, probed) = pick(BackendChoice::Auto, None, &Env::default(), down()).await;
    assert!(probed);
    assert_eq!(s.kind, BackendKind::Native);
    assert!(
        s.reason.contains("no Python 3.11-3.13 on PATH"),
        "{}",
        s.reason
    );
    assert!(
        s.reason.contains("Cannot connect to the Docker daemon"),
        "{}",
        s.reason
    );
}

#[tokio::test]
async fn explicit_choices_are_obeyed_without_probing() {
    let env = env_with(Some("http://127.0.0.1:4599"), None);
    let (s, probed) = pick(BackendChoice::Native, None, &env, up()).await;
    assert_eq!((s.kind, probed), (BackendKind::Native, false));
    let (s, probed) = pick(BackendChoice::Docker, None, &Env::default(), down()).await;
    assert_eq!((s.kind, probed), (BackendKind::Docker, false));
    let (s, _) = pick(BackendChoice::External, None, &Env::default(), down()).await;
    assert_eq!((s.kind, s.endpoint), (BackendKind::External, None));
    assert!(s.reason.contains("default port"), "{}", s.reason);
}

#[tokio::test]
async fn external_with_nothing_listening_fails_with_the_endpoint() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = match LocalStack::attach(&format!("http://127.0.0.1:{port}"), "us-east-1").await {
        Err(e) => e,
        Ok(_) => panic!("nothing listens on {port}"),
    };
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.hint().is_some());
}
