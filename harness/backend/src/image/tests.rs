//! Tests of `image.rs` (`image`).

use super::*;

#[test]
fn the_image_is_labelled_as_lsk_finds_and_prunes_it_and_keeps_the_bases_configuration() {
    let inherited: BaseConfig = serde_json::from_str(
        r#"{"Env": ["PATH=/usr/local/bin:/usr/bin", "LANG=C", "ODD=a \"b\" $c"],
                "Labels": {"bench.owner": "77", "dev.lsk.managed": "false"}}"#,
    )
    .unwrap();
    let config = image_config("python:3.11-slim-bookworm", &inherited);
    let label = config.iter().find(|c| c.starts_with("LABEL ")).unwrap();
    // The base's labels stay (the bench finds what it made by them), ours win.
    assert!(label.contains(" bench.owner=\"77\""), "{label}");
    assert!(label.contains(" dev.lsk.managed=\"true\""), "{label}");
    assert!(!label.contains("\"false\""), "{label}");
    assert!(
        label.contains(&format!(" {BASE_LABEL}=\"python:3.11-slim-bookworm\"")),
        "{label}"
    );
    assert!(config.contains(&"ENV PATH=\"/usr/local/bin:/usr/bin\"".to_owned()));
    assert!(
        config.contains(&r#"ENV ODD="a \"b\" \$c""#.to_owned()),
        "{config:#?}"
    );
    // Ours win: LANG once, with our value.
    let lang: Vec<_> = config
        .iter()
        .filter(|c| c.starts_with("ENV LANG="))
        .collect();
    assert_eq!(lang, ["ENV LANG=\"C.UTF-8\""]);
    assert!(config.contains(&"ENV LAMBDA_RUNTIME_EXECUTOR=\"process\"".to_owned()));
    assert_eq!(config.last().unwrap(), &format!("ENTRYPOINT {ENTRYPOINT}"));
}

#[test]
fn an_unpacked_kit_names_the_same_image_as_the_checkout() {
    // A workspace of a user's own builds lsk-init from the kit lsk carries; its binary
    // differs in its bytes, and it must not cost a second image.
    let checkout = crate::kit::Kit::for_workspace(&crate::kit::checkout()).unwrap();
    assert_eq!(checkout.origin(), crate::kit::Origin::Checkout);
    let dir = tempfile::tempdir().unwrap();
    let unpacked = crate::kit::Kit::unpack_into(dir.path()).unwrap();
    let here = init_sources(&checkout).unwrap();
    let there = init_sources(&unpacked).unwrap();
    let names: Vec<&str> = here.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"localstack/init/src/main.rs"), "{names:?}");
    assert!(names.contains(&"Cargo.lock"), "{names:?}");
    assert_eq!(here, there);
    // The first build of lsk-init in the unpacked kit trims its lock: the image stays the same.
    let lock = unpacked.path("localstack/init/Cargo.lock");
    let full = std::fs::read_to_string(&lock).unwrap();
    let trimmed = full
        .split("\n[[package]]")
        .take(3)
        .collect::<Vec<_>>()
        .join("\n[[package]]");
    std::fs::write(&lock, trimmed).unwrap();
    assert_eq!(
        init_sources(&unpacked).unwrap(),
        here,
        "after cargo trimmed the lock"
    );
}

#[test]
fn the_tag_changes_with_any_input_and_only_then() {
    let a = tag_for(&[("Dockerfile", b"FROM x"), ("lsk-init", b"\x7fELF1")]);
    let same = tag_for(&[("Dockerfile", b"FROM x"), ("lsk-init", b"\x7fELF1")]);
    let init_changed = tag_for(&[("Dockerfile", b"FROM x"), ("lsk-init", b"\x7fELF2")]);
    let moved = tag_for(&[("Dockerfile", b"FROM x\x7fELF1"), ("lsk-init", b"")]);
    assert_eq!(a, same);
    assert_ne!(a, init_changed);
    assert_ne!(a, moved);
    assert!(a.starts_with("lsk-localstack:"), "{a}");
    assert_eq!(a.len(), "lsk-localstack:".len() + 16);
}

#[test]
fn the_images_files_are_prepared_offline_by_the_bases_python() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap();
    let script = std::fs::read_to_string(root.join(PREPARE_SITE)).unwrap();
    // Packages (ours too) are installed on the host, hashes checked: nothing in the
    // container may reach for an index.
    assert!(
        !script.contains("pip install"),
        "prepare-site.py runs no pip"
    );
    assert!(script.contains("with_pip=False"));
    assert!(script.contains("UNCHECKED_HASH"));
    assert!(script.contains(&format!("VENV = \"/{IMAGE_OPT}/venv\"")));
    assert!(ENTRYPOINT.contains(&format!("/{IMAGE_OPT}/venv/bin/python")));
}
