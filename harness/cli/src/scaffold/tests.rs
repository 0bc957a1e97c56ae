//! Tests of `scaffold.rs` (`scaffold`).

use super::*;

fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "# my team's workspace\n[workspace]\nresolver = \"3\"\nmembers = [\"lambdas/old\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("lsk.toml"),
        "# our stack\n[functions.old]\npackage = \"old\"\n",
    )
    .unwrap();
    dir
}

#[test]
fn the_workspace_root_is_the_nearest_cargo_workspace() {
    let ws = workspace();
    let inner = ws.path().join("lambdas/old/src");
    std::fs::create_dir_all(&inner).unwrap();
    std::fs::write(
        ws.path().join("lambdas/old/Cargo.toml"),
        "[package]\nname = \"old\"\n",
    )
    .unwrap();
    assert_eq!(workspace_root(&inner).unwrap(), ws.path());
}

#[test]
fn names_must_be_lambda_and_crate_names() {
    for ok in ["hello", "make-change", "a1"] {
        validate_name(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for (bad, why) in [
        ("", "1 to 64"),
        ("Hello", "lowercase"),
        ("1st", "start with"),
        ("hello_world", "'_'"),
        ("hello world", "' '"),
        ("trailing-", "end with"),
        ("test", "reserved"),
        (&"x".repeat(65), "1 to 64"),
    ] {
        let err = validate_name(bad).unwrap_err().to_string();
        assert!(err.contains(why), "{bad:?}: {err}");
    }
}

#[test]
fn new_adds_a_member_a_manifest_table_and_a_tested_crate_keeping_the_users_text() {
    let ws = workspace();
    let created = create(
        ws.path(),
        &NewFunction {
            name: "hello".into(),
            url: true,
            sqs: Some("hello-requests".into()),
            s3: Some("hello-uploads".into()),
        },
    )
    .unwrap();
    assert!(!created.manifest_created);
    let cargo = std::fs::read_to_string(ws.path().join("Cargo.toml")).unwrap();
    assert!(cargo.starts_with("# my team's workspace\n"), "{cargo}");
    assert!(
        cargo.contains(r#"members = ["lambdas/old", "lambdas/hello"]"#),
        "{cargo}"
    );
    let lsk = std::fs::read_to_string(ws.path().join("lsk.toml")).unwrap();
    assert!(lsk.starts_with("# our stack\n[functions.old]"), "{lsk}");
    let manifest = lsk::Manifest::parse(&lsk, &ws.path().join("lsk.toml"))
        .unwrap_or_else(|e| panic!("the new lsk.toml is invalid: {e}\n{lsk}"));
    let f = &manifest.functions["hello"];
    assert_eq!(f.package, "hello");
    assert!(f.url.is_some());
    assert_eq!(f.sqs.len(), 1);
    assert!(manifest.queues.contains_key("hello-requests"));
    assert!(manifest.queues.contains_key("hello-requests-dlq"));
    assert_eq!(f.s3.len(), 1, "an S3 trigger on the new bucket");
    assert!(manifest.buckets.contains_key("hello-uploads"));
    for rel in [
        "Cargo.toml",
        "src/main.rs",
        "src/lib.rs",
        "tests/handler.rs",
        "tests/fixtures/s3_put.json",
    ] {
        assert!(created.crate_dir.join(rel).is_file(), "{rel}");
    }
}

#[test]
fn new_refuses_a_name_that_exists_and_changes_nothing() {
    let ws = workspace();
    let before = std::fs::read_to_string(ws.path().join("Cargo.toml")).unwrap();
    let err = create(
        ws.path(),
        &NewFunction {
            name: "old".into(),
            url: false,
            sqs: None,
            s3: None,
        },
    )
    .unwrap_err();
    assert!(matches!(err, NewError::Exists { .. }), "{err}");
    assert!(err.to_string().contains("[functions.old]"), "{err}");
    assert_eq!(
        std::fs::read_to_string(ws.path().join("Cargo.toml")).unwrap(),
        before
    );
    assert!(!ws.path().join("lambdas/old").exists());
}

#[test]
fn new_creates_lsk_toml_when_there_is_none_and_refuses_a_non_workspace() {
    let ws = workspace();
    std::fs::remove_file(ws.path().join("lsk.toml")).unwrap();
    let created = create(
        ws.path(),
        &NewFunction {
            name: "solo".into(),
            url: false,
            sqs: None,
            s3: None,
        },
    )
    .unwrap();
    assert!(created.manifest_created);
    let lsk = std::fs::read_to_string(ws.path().join("lsk.toml")).unwrap();
    lsk::Manifest::parse(&lsk, &ws.path().join("lsk.toml")).unwrap();

    let plain = tempfile::tempdir().unwrap();
    std::fs::write(plain.path().join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
    let err = create(
        plain.path(),
        &NewFunction {
            name: "solo".into(),
            url: false,
            sqs: None,
            s3: None,
        },
    )
    .unwrap_err();
    assert!(matches!(err, NewError::NotAWorkspace { .. }), "{err}");
}
