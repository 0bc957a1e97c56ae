//! Decides at build time whether the docker suites can run: `cfg(lsk_no_docker)` when no Docker
//! daemon answers, so those tests show as ignored with the reason instead of passing unrun.
//! Likewise `cfg(lsk_no_official_image)` when LocalStack's official image is not on the engine.
//! Rebuilt when the daemon's socket appears or goes, or when LSK_TEST_DOCKER changes.

use std::process::{Command, Stdio};

fn main() {
    println!("cargo::rustc-check-cfg=cfg(lsk_no_docker)");
    println!("cargo::rustc-check-cfg=cfg(lsk_no_official_image)");
    println!("cargo::rerun-if-changed=/var/run/docker.sock");
    println!("cargo::rerun-if-env-changed=LSK_TEST_DOCKER");
    println!("cargo::rerun-if-env-changed=DOCKER_HOST");
    let wanted = std::env::var("LSK_TEST_DOCKER").unwrap_or_default();
    let daemon = wanted != "0"
        && Command::new("docker")
            .args(["info", "--format", "{{.ServerVersion}}"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !daemon {
        println!("cargo::rustc-cfg=lsk_no_docker");
    }
    // The official image cannot be pulled where no registry answers: its test runs only where
    // someone has it (`docker pull localstack/localstack:4.14.0`).
    let official = daemon
        && Command::new("docker")
            .args(["image", "inspect", "localstack/localstack:4.14.0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !official {
        println!("cargo::rustc-cfg=lsk_no_official_image");
    }
}
