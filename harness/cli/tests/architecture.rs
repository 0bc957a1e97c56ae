//! The harness's crates keep the order ARCHITECTURE.md writes down: each depends only on the
//! crates above it in "The harness crates" table, and the manifest crate (with its tests) builds
//! without tokio, the AWS SDK or cargo's own crates. The table is read from the document, so the
//! document and `Cargo.toml`s cannot drift apart.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The repository root: the folder above this crate holding both `Makefile` and the document.
fn root() -> PathBuf {
    let mut dir = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    while !(dir.join("Makefile").is_file() && dir.join("ARCHITECTURE.md").is_file()) {
        assert!(
            dir.pop(),
            "no repository root above {}",
            env!("CARGO_MANIFEST_DIR")
        );
    }
    dir
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

/// The crate names of the table under `## The harness crates`, in the document's order.
fn documented_order() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let section = text
        .split("\n## The harness crates\n")
        .nth(1)
        .expect("ARCHITECTURE.md has a section `## The harness crates`");
    let section = section.split("\n## ").next().unwrap_or(section);
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split('`').nth(1).map(str::to_owned))
        .collect()
}

#[test]
fn each_harness_crate_depends_only_on_those_above_it_in_architecture_md() {
    let order = documented_order();
    assert!(
        order.len() >= 8 && order.first().map(String::as_str) == Some("lsk-manifest"),
        "the table of ARCHITECTURE.md's harness crates should start with lsk-manifest: {order:?}"
    );
    let out = cargo()
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    for (rank, name) in order.iter().enumerate() {
        let package = packages
            .iter()
            .find(|p| p["name"] == name.as_str())
            .unwrap_or_else(|| {
                panic!("ARCHITECTURE.md names crate {name}, the workspace has none")
            });
        let manifest = package["manifest_path"].as_str().unwrap();
        assert!(
            manifest.contains("/harness/"),
            "{name} should live under harness/, it is at {manifest}"
        );
        for dep in package["dependencies"].as_array().unwrap() {
            let dep_name = dep["name"].as_str().unwrap();
            if let Some(dep_rank) = order.iter().position(|o| o == dep_name) {
                assert!(
                    dep_rank < rank,
                    "{name} depends on {dep_name}, which ARCHITECTURE.md puts at or below it; \
                     move the code it needs down, or change the documented order"
                );
            }
        }
    }
}

#[test]
fn the_manifest_crate_and_its_tests_build_without_tokio_the_aws_sdk_or_cargo() {
    let out = cargo()
        .args(["tree", "-p", "lsk-manifest", "-e", "normal,build,dev"])
        .args(["--prefix", "none", "--format", "{p}"])
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    let heavy: Vec<&str> = tree
        .lines()
        .filter(|l| {
            let name = l.split_whitespace().next().unwrap_or("");
            name == "tokio" || name.starts_with("aws-") || name == "cargo_metadata"
        })
        .collect();
    assert!(
        heavy.is_empty(),
        "lsk-manifest should need none of tokio, the AWS SDK or cargo_metadata, it pulls in: {heavy:?}"
    );
}
