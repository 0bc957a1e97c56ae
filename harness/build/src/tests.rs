//! Tests of `lib.rs`.

use super::*;

#[test]
fn glibc_versions_are_read_and_compared_with_the_image() {
    assert_eq!(parse_glibc("glibc 2.36\n"), Some((2, 36)));
    assert_eq!(parse_glibc("glibc 2.41"), Some((2, 41)));
    assert_eq!(parse_glibc("musl"), None);
    assert!(parse_glibc("glibc 2.39").unwrap() > KIT_IMAGE_GLIBC);
    assert!(parse_glibc("glibc 2.31").unwrap() <= KIT_IMAGE_GLIBC);
}

fn want(function: &str, package: &str, bin: &str, arch: Architecture) -> Wanted {
    Wanted {
        function: function.into(),
        package: package.into(),
        bin: bin.into(),
        architecture: arch,
    }
}

fn manifest(src: &str) -> Manifest {
    Manifest::parse(src, Path::new("/ws/lsk.toml")).unwrap()
}

fn ws() -> Workspace {
    Workspace {
        target_directory: "/ws/target".into(),
        workspace_root: "/ws".into(),
        package_dirs: BTreeMap::new(),
        packages: BTreeMap::from([
            ("square".into(), vec!["square".into()]),
            (
                "image-generator".into(),
                vec!["image-generator".into(), "image-client".into()],
            ),
            ("lsk".into(), vec!["lsk".into()]),
            ("lib-only".into(), vec![]),
        ]),
    }
}

#[test]
fn sdk_service_crates_are_built_at_opt_level_0() {
    let lock = "version = 4\n\n[[package]]\nname = \"aws-sdk-s3\"\nversion = \"1\"\ndependencies = [\n \"aws-sdk-sqs\",\n]\n\n[[package]]\nname = \"aws-smithy-types\"\n\n[[package]]\nname = \"aws-sdk-sqs\"\n";
    let crates = sdk_service_crates(lock);
    assert_eq!(
        crates.iter().map(String::as_str).collect::<Vec<_>>(),
        ["aws-sdk-s3", "aws-sdk-sqs"]
    );
    assert_eq!(
        sdk_opt_level_args(&crates).join(" "),
        "--config profile.release.package.aws-sdk-s3.opt-level=0 --config profile.release.package.aws-sdk-sqs.opt-level=0"
    );
    assert!(sdk_opt_level_args(&BTreeSet::new()).is_empty());
}

#[test]
fn nested_builds_drop_what_cargo_sets_for_the_running_program() {
    for k in [
        "CARGO_MANIFEST_DIR",
        "CARGO_PKG_NAME",
        "CARGO_BIN_EXE_lsk",
        "CARGO_TARGET_TMPDIR",
    ] {
        assert!(is_cargo_run_variable(k), "{k}");
    }
    // What configures cargo itself is the user's to keep.
    for k in [
        "CARGO",
        "CARGO_HOME",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_JOBS",
        "PATH",
    ] {
        assert!(!is_cargo_run_variable(k), "{k}");
    }
}

#[test]
fn one_cargo_invocation_for_all_functions_plus_init() {
    let wanted = [
        want("square", "square", "square", Architecture::X86_64),
        want(
            "image-generator",
            "image-generator",
            "image-generator",
            Architecture::X86_64,
        ),
        want("square-copy", "square", "square", Architecture::X86_64),
    ];
    let dir = Path::new("/ws/target/lsk/x");
    assert_eq!(
        cargo_build_args(&wanted, true, dir).join(" "),
        "build --release --message-format=json-render-diagnostics --target-dir /ws/target/lsk/x -p image-generator -p lsk-init -p square --bin image-generator --bin lsk-init --bin square"
    );
    assert_eq!(
        cargo_build_args(&wanted[..1], false, dir).join(" "),
        "build --release --message-format=json-render-diagnostics --target-dir /ws/target/lsk/x -p square --bin square"
    );
}

#[test]
fn every_function_set_shares_one_build_dir_and_keeps_binaries_per_workspace() {
    let t = Path::new("/ws/target");
    assert_eq!(host_target_dir(t, false), t.join("lsk/functions"));
    assert_eq!(host_target_dir(t, true), t.join("lsk/lsk-init"));
    let dir = host_target_dir(t, false);
    let mine = kept_dir(&dir, Path::new("/ws"));
    assert!(mine.starts_with(t.join("lsk/functions/kept")), "{mine:?}");
    assert_eq!(mine, kept_dir(&dir, Path::new("/ws")));
    assert_ne!(mine, kept_dir(&dir, Path::new("/other-ws")));
}

#[test]
fn a_kept_binary_changes_only_when_the_build_changed_it() {
    use std::os::unix::fs::MetadataExt as _;
    let dir = tempfile::tempdir().unwrap();
    let built = dir.path().join("release/square");
    let kept = dir.path().join("kept/abc/square");
    std::fs::create_dir_all(built.parent().unwrap()).unwrap();
    std::fs::write(&built, b"v1").unwrap();
    keep(&built, &kept).unwrap();
    assert_eq!(std::fs::read(&kept).unwrap(), b"v1");
    let modified = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    assert_eq!(
        modified(&kept),
        modified(&built),
        "lsk watch compares times"
    );

    // A fresh build (cargo left the binary alone) keeps the same file.
    let inode = std::fs::metadata(&kept).unwrap().ino();
    keep(&built, &kept).unwrap();
    assert_eq!(std::fs::metadata(&kept).unwrap().ino(), inode);

    // A reader of the kept binary still reads v1 whole when a rebuild puts v2 in place.
    let mut reader = std::fs::File::open(&kept).unwrap();
    std::fs::write(&built, b"v2, longer").unwrap();
    keep(&built, &kept).unwrap();
    let mut old = Vec::new();
    std::io::Read::read_to_end(&mut reader, &mut old).unwrap();
    assert_eq!(old, b"v1");
    assert_eq!(std::fs::read(&kept).unwrap(), b"v2, longer");
    assert_eq!(
        std::fs::read_dir(kept.parent().unwrap()).unwrap().count(),
        1,
        "no temporary copy is left behind"
    );
}

#[test]
fn cargo_lambda_command_per_architecture() {
    let wanted = [
        want("square", "square", "square", Architecture::X86_64),
        want(
            "gen",
            "image-generator",
            "image-generator",
            Architecture::Arm64,
        ),
    ];
    let dir = Path::new("/ws/target/lambda");
    assert_eq!(
        cargo_lambda_args(&wanted, Architecture::X86_64, dir).join(" "),
        "lambda build --release --target x86_64-unknown-linux-gnu.2.26 --lambda-dir /ws/target/lambda/x86_64 --package square --bin square"
    );
    assert_eq!(
        cargo_lambda_args(&wanted, Architecture::Arm64, dir).join(" "),
        "lambda build --release --target aarch64-unknown-linux-gnu.2.26 --lambda-dir /ws/target/lambda/arm64 --package image-generator --bin image-generator"
    );
    assert_eq!(
        lambda_output(dir, Architecture::Arm64, "image-generator"),
        Path::new("/ws/target/lambda/arm64/image-generator/bootstrap")
    );
}

#[test]
fn binaries_are_resolved_and_checked() {
    let m = manifest(
        "[functions.square]\npackage = \"square\"\n[functions.gen]\npackage = \"image-generator\"\nbin = \"image-generator\"\narchitecture = \"arm64\"\n",
    );
    let wanted = resolve(&m, &ws(), Path::new("/ws")).unwrap();
    assert_eq!(
        wanted,
        [
            want(
                "gen",
                "image-generator",
                "image-generator",
                Architecture::Arm64
            ),
            want("square", "square", "square", Architecture::X86_64),
        ]
    );
}

#[test]
fn resolution_errors_name_the_manifest_key() {
    let cases = [
        (
            "[functions.f]\npackage = \"nope\"\n",
            "functions.f.package: package `nope` is not a member",
        ),
        (
            "[functions.f]\npackage = \"image-generator\"\n",
            "several binaries (image-generator, image-client)",
        ),
        (
            "[functions.f]\npackage = \"square\"\nbin = \"sq\"\n",
            "functions.f.bin: package `square` has no binary `sq`; it has: square",
        ),
        (
            "[functions.f]\npackage = \"lib-only\"\n",
            "has no binary target",
        ),
    ];
    for (src, fragment) in cases {
        let err = resolve(&manifest(src), &ws(), Path::new("/ws")).unwrap_err();
        assert!(err.to_string().contains(fragment), "{err}");
    }
}

#[test]
fn same_binary_name_from_two_packages_is_refused() {
    let mut w = ws();
    w.packages.insert("other".into(), vec!["square".into()]);
    let m = manifest("[functions.a]\npackage = \"square\"\n[functions.b]\npackage = \"other\"\n");
    let err = resolve(&m, &w, Path::new("/ws")).unwrap_err();
    assert!(matches!(err, BuildError::BinaryClash { .. }), "{err}");
}

#[test]
fn metadata_keeps_workspace_members_and_their_bins() {
    let json = r#"{
          "packages": [
            {"name": "square", "version": "0.1.0", "id": "path+file:///ws/lambdas/square#0.1.0",
             "manifest_path": "/ws/lambdas/square/Cargo.toml", "dependencies": [], "features": {},
             "targets": [{"name": "square", "kind": ["bin"], "src_path": "/ws/lambdas/square/src/main.rs"},
                         {"name": "square", "kind": ["lib"], "src_path": "/ws/lambdas/square/src/lib.rs"}]},
            {"name": "serde", "version": "1.0.0", "id": "registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0",
             "manifest_path": "/registry/serde-1.0.0/Cargo.toml", "dependencies": [], "features": {},
             "targets": [{"name": "serde", "kind": ["lib"], "src_path": "/registry/serde-1.0.0/src/lib.rs"}]}
          ],
          "resolve": null,
          "workspace_members": ["path+file:///ws/lambdas/square#0.1.0"],
          "target_directory": "/elsewhere/target",
          "workspace_root": "/ws",
          "version": 1
        }"#;
    let ws = parse_metadata(json).unwrap();
    assert_eq!(ws.target_directory, Path::new("/elsewhere/target"));
    assert_eq!(ws.workspace_root, Path::new("/ws"));
    assert_eq!(
        ws.package_dirs,
        BTreeMap::from([("square".to_owned(), PathBuf::from("/ws/lambdas/square"))])
    );
    assert_eq!(
        ws.packages,
        BTreeMap::from([("square".to_owned(), vec!["square".to_owned()])])
    );
}

#[test]
fn closures_follow_workspace_dependencies_at_any_depth() {
    let pkg = |name: &str, id: &str| {
        format!(
            r#"{{"name": "{name}", "version": "0.1.0", "id": "{id}", "manifest_path": "/ws/{name}/Cargo.toml", "dependencies": [], "features": {{}}, "targets": []}}"#
        )
    };
    let (a, b, c, core, serde) = (
        "path+file:///ws/a#0.1.0",
        "path+file:///ws/b#0.1.0",
        "path+file:///ws/c#0.1.0",
        "path+file:///ws/core#0.1.0",
        "registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0",
    );
    let json = format!(
        r#"{{"packages": [{}, {}, {}, {}, {}],
                "workspace_members": ["{a}", "{b}", "{c}", "{core}"],
                "resolve": {{"root": null, "nodes": [
                  {{"id": "{a}", "dependencies": ["{b}"]}},
                  {{"id": "{b}", "dependencies": ["{core}", "{serde}"]}},
                  {{"id": "{c}", "dependencies": ["{serde}"]}},
                  {{"id": "{core}", "dependencies": []}},
                  {{"id": "{serde}", "dependencies": []}}]}},
                "target_directory": "/ws/target", "workspace_root": "/ws", "version": 1}}"#,
        pkg("a", a),
        pkg("b", b),
        pkg("c", c),
        pkg("core", core),
        pkg("serde", serde),
    );
    let closures = parse_closures(&json).unwrap();
    let names = |p: &str| closures[p].iter().map(String::as_str).collect::<Vec<_>>();
    assert_eq!(names("a"), ["a", "b", "core"]);
    assert_eq!(names("c"), ["c"]);
    assert!(!closures.contains_key("serde"));
}

#[tokio::test]
async fn this_workspaces_closures_come_from_cargo() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let closures = workspace_closures(&root).await.unwrap();
    // The library facade's closure is the harness crates (the workspace packages it uses).
    assert_eq!(
        closures["lsk"]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        [
            "lsk",
            "lsk-aws",
            "lsk-backend",
            "lsk-build",
            "lsk-deploy",
            "lsk-kit",
            "lsk-manifest",
            "lsk-sam"
        ]
    );
    assert_eq!(
        closures["lsk-manifest"]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        ["lsk-manifest"]
    );
    assert!(closures["lsk-e2e"].contains("lsk"), "{closures:?}");
    assert!(closures.contains_key("square"), "{closures:?}");
}

#[test]
fn this_workspaces_lock_names_its_sdk_crates() {
    let crates = sdk_service_crates(include_str!("../../../Cargo.lock"));
    for sdk in ["aws-sdk-lambda", "aws-sdk-s3", "aws-sdk-sqs"] {
        assert!(crates.contains(sdk), "{sdk} not in {crates:?}");
    }
    assert!(crates.iter().all(|c| c.starts_with("aws-sdk-")));
    assert!(sdk_service_crates("not a lock [").is_empty());
}

#[test]
fn artifact_lines_give_executables() {
    let line = r#"{"reason":"compiler-artifact","package_id":"path+file:///ws#square@0.1.0","manifest_path":"/ws/Cargo.toml","target":{"kind":["bin"],"crate_types":["bin"],"name":"square","src_path":"/ws/src/main.rs","edition":"2024","doc":true,"doctest":false,"test":true},"profile":{"opt_level":"3","debuginfo":0,"debug_assertions":false,"overflow_checks":false,"test":false},"features":[],"filenames":["/t/release/square"],"executable":"/t/release/square","fresh":true}"#;
    assert_eq!(
        artifact_executable(line),
        Some(("square".into(), PathBuf::from("/t/release/square")))
    );
    let lib = r#"{"reason":"compiler-artifact","package_id":"registry+https://github.com/rust-lang/crates.io-index#serde@1.0.0","target":{"kind":["lib"],"crate_types":["lib"],"name":"serde","src_path":"/r/serde/src/lib.rs"},"profile":{"opt_level":"0","debuginfo":0,"debug_assertions":true,"overflow_checks":true,"test":false},"features":[],"filenames":["/t/libserde.rlib"],"executable":null,"fresh":true}"#;
    assert_eq!(artifact_executable(lib), None);
    assert_eq!(
        artifact_executable(r#"{"reason":"build-finished","success":true}"#),
        None
    );
    assert_eq!(artifact_executable("not json"), None);
}

#[test]
fn progress_lines_are_dropped_from_errors() {
    assert!(is_progress_line(
        "   Compiling square v0.1.0 (/ws/lambdas/square)"
    ));
    assert!(!is_progress_line("error[E0308]: mismatched types"));
}

#[test]
fn the_venv_cargo_lambda_comes_first_and_its_bin_leads_path() {
    let dir = tempfile::tempdir().unwrap();
    let bin = lsk_kit::paths::venv_bin(dir.path());
    // No venv: PATH is left alone.
    assert_eq!(lambda_build_path(&bin, Some(OsStr::new("/usr/bin"))), None);
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("cargo-lambda"), b"").unwrap();
    assert_eq!(
        find_cargo_lambda(dir.path()),
        Some(bin.join("cargo-lambda"))
    );
    let path = lambda_build_path(&bin, Some(OsStr::new("/usr/bin:/bin"))).unwrap();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    assert_eq!(dirs, [bin.clone(), "/usr/bin".into(), "/bin".into()]);
    // Already on PATH: moved to the front, not repeated.
    let again = std::env::join_paths([Path::new("/usr/bin"), &bin]).unwrap();
    let path = lambda_build_path(&bin, Some(&again)).unwrap();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    assert_eq!(dirs, [bin.clone(), "/usr/bin".into()]);
    assert_eq!(
        std::env::split_paths(&lambda_build_path(&bin, None).unwrap()).collect::<Vec<_>>(),
        [bin]
    );
}

#[test]
fn build_tools_are_installed_only_as_pinned() {
    let args = build_tools_install_args(Path::new("/ws/localstack/build-tools.txt"));
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy().into()).collect();
    assert_eq!(
        args.join(" "),
        "-m pip install --disable-pip-version-check --no-input --progress-bar off --require-hashes -r /ws/localstack/build-tools.txt"
    );
    // The kit's file pins cargo-lambda and the zig it needs, each with hashes.
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(BUILD_TOOLS);
    let text = std::fs::read_to_string(&file).unwrap();
    for name in ["cargo-lambda==", "ziglang=="] {
        let at = text
            .find(name)
            .unwrap_or_else(|| panic!("{name} not in {file:?}"));
        assert!(
            text[at..]
                .lines()
                .nth(1)
                .is_some_and(|l| l.trim().starts_with("--hash=sha256:")),
            "{name} has no hash in {file:?}"
        );
    }
}

#[tokio::test]
async fn without_cargo_lambda_or_the_pins_the_error_says_so() {
    if which::which("cargo-lambda").is_ok() {
        return; // a cargo-lambda on PATH is used as it is
    }
    let dir = tempfile::tempdir().unwrap();
    // A kit whose pins went missing (someone tidied .lsk/kit by hand).
    let kit = crate::kit::Kit::for_workspace(dir.path()).unwrap();
    std::fs::remove_file(kit.path(BUILD_TOOLS)).unwrap();
    let err = ensure_cargo_lambda(dir.path(), &Progress::silent())
        .await
        .unwrap_err();
    assert!(matches!(err, BuildError::BuildToolsMissing { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("localstack/build-tools.txt"), "{text}");
    assert!(text.contains("needs cargo-lambda"), "{text}");
    assert!(err.hint().is_some());
}

#[cfg(unix)]
#[tokio::test]
async fn a_missing_cargo_lambda_is_installed_into_the_venv_with_pip() {
    use std::os::unix::fs::PermissionsExt;
    if which::which("cargo-lambda").is_ok() {
        return; // a cargo-lambda on PATH is used as it is
    }
    let dir = tempfile::tempdir().unwrap();
    let bin = lsk_kit::paths::venv_bin(dir.path());
    std::fs::create_dir_all(&bin).unwrap();
    // The pins come from the kit, unpacked into the scratch workspace's .lsk/kit.
    let kit = crate::kit::Kit::for_workspace(dir.path()).unwrap();
    assert!(kit.path(BUILD_TOOLS).is_file());
    let python = bin.join("python");
    let fake = |script: &str| {
        std::fs::write(&python, script).unwrap();
        std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    // pip fails: its output, both streams, is in the error.
    fake(
        "#!/bin/sh\necho 'Collecting cargo-lambda==1.9.2'\necho 'ERROR: THESE PACKAGES DO NOT MATCH THE HASHES' >&2\nexit 1\n",
    );
    let err = ensure_cargo_lambda(dir.path(), &Progress::silent())
        .await
        .unwrap_err();
    assert!(matches!(err, BuildError::ToolInstall { .. }), "{err}");
    let text = err.to_string();
    for fragment in [
        "installing cargo-lambda and zig into",
        "--require-hashes -r",
        "Collecting cargo-lambda==1.9.2",
        "DO NOT MATCH THE HASHES",
    ] {
        assert!(text.contains(fragment), "{fragment:?} not in {text}");
    }
    assert!(err.hint().is_some_and(|h| h.contains("PIP_INDEX_URL")));
    // pip says it worked but installed nothing.
    fake("#!/bin/sh\nexit 0\n");
    let err = ensure_cargo_lambda(dir.path(), &Progress::silent())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("does not exist"), "{err}");
    // pip installs it: the venv's cargo-lambda is used from then on.
    fake("#!/bin/sh\ntouch \"$(dirname \"$0\")/cargo-lambda\"\n");
    let found = ensure_cargo_lambda(dir.path(), &Progress::silent())
        .await
        .unwrap();
    assert_eq!(found, bin.join("cargo-lambda"));
    std::fs::remove_file(&python).unwrap();
    assert_eq!(
        ensure_cargo_lambda(dir.path(), &Progress::silent())
            .await
            .unwrap(),
        found
    );
}

/// The newest `GLIBC_2.x` version an ELF refers to (its version needs).
fn newest_glibc(bytes: &[u8]) -> Option<(u32, u32)> {
    let needle = b"GLIBC_2.";
    let mut newest = None;
    for at in 0..bytes.len().saturating_sub(needle.len()) {
        if &bytes[at..at + needle.len()] != needle {
            continue;
        }
        let digits: String = bytes[at + needle.len()..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .map(|&b| b as char)
            .collect();
        if let Ok(minor) = digits.parse::<u32>() {
            newest = newest.max(Some((2, minor)));
        }
    }
    newest
}

/// A real Lambda build through the kit: installs the pinned cargo-lambda and zig into
/// `.lsk/venv` when no cargo-lambda is found, then cross-builds `square` with them.
/// `cargo test -p lsk-build --lib -- --ignored --nocapture square_builds_for_lambda`
#[tokio::test]
#[ignore = "installs cargo-lambda + zig into .lsk/venv when missing and builds square for Lambda (minutes)"]
async fn square_builds_for_lambda_with_an_old_glibc_baseline() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap();
    let m = Manifest::parse(
        "[functions.square]\npackage = \"square\"\n",
        &root.join("lsk.toml"),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let built = build(&m, BuildTarget::Lambda, false, &Progress::plain())
        .await
        .unwrap();
    eprintln!("lambda build of square: {:?}", started.elapsed());
    let path = &built.binaries["square"];
    let bytes = std::fs::read(path).unwrap();
    crate::package::check_executable(&bytes, Architecture::X86_64).unwrap();
    let glibc = newest_glibc(&bytes).expect("a glibc-linked binary");
    eprintln!("{} needs glibc {}.{}", path.display(), glibc.0, glibc.1);
    // Linked for LAMBDA_GLIBC (Amazon Linux 2); AL2023 has 2.34, our image (bookworm) 2.36.
    assert!(glibc <= (2, 26), "{glibc:?}");
}

#[tokio::test]
async fn a_function_for_another_cpu_is_refused_before_a_host_build() {
    let foreign = match host_architecture() {
        Some(Architecture::Arm64) => Architecture::X86_64,
        _ => Architecture::Arm64,
    };
    // No such package: the refusal comes before cargo is asked anything.
    let m = Manifest::parse(
            &format!(
                "[functions.square]\npackage = \"square\"\n[functions.gen]\npackage = \"nowhere\"\narchitecture = \"{}\"\n",
                foreign.as_str()
            ),
            Path::new("/ws/lsk.toml"),
        )
        .unwrap();
    let err = build(&m, BuildTarget::Host, false, &Progress::silent())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
            text.starts_with(&format!(
                "/ws/lsk.toml: functions.gen.architecture is \"{}\", but this host builds and runs {} binaries",
                foreign.as_str(),
                std::env::consts::ARCH
            )),
            "{text}"
        );
    let hint = err.hint().unwrap();
    assert!(hint.contains("[functions.gen]"), "{hint}");
}

#[tokio::test]
async fn a_compile_error_carries_the_compiler_message() {
    // A throw-away crate outside the workspace, with its own target dir.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"broken\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("src/main.rs"),
        "fn main() { let x: u32 = \"not a number\"; }\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("lsk.toml"),
        "[functions.broken]\npackage = \"broken\"\n",
    )
    .unwrap();
    let m = Manifest::load(&dir.path().join("lsk.toml")).unwrap();
    let err = build(&m, BuildTarget::Host, false, &Progress::silent())
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, BuildError::Compile { .. }), "{text}");
    assert!(text.contains("mismatched types"), "{text}");
    assert!(text.contains("src/main.rs"), "{text}");
    assert!(!text.contains("Compiling broken"), "{text}");
}
