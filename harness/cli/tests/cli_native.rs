//! The `lsk` command line on the native backend, as a user types it: `up` deploys the examples
//! and prints a `curl` line that answers as printed; a second `deploy` changes nothing; changed
//! code redeploys only that function; `down` leaves no process behind; a broken manifest stops
//! everything before anything starts.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Down, line_for, root, text};

fn lsk(state: &Path, args: &[&str]) -> Output {
    common::lsk_on("native", state, args)
}

fn curl_line_for(stdout: &str, name: &str) -> Option<String> {
    line_for(stdout, name, "curl")
}

#[test]
fn up_deploy_redeploy_and_down_on_the_native_backend() {
    let state = root().join("target/lsk-e2e/cli-native");
    let _ = std::fs::remove_dir_all(&state);
    let guard = Down {
        backend: "native",
        state: state.clone(),
    };

    let up = lsk(&state, &["--port", "0", "up"]);
    assert!(up.status.success(), "lsk up failed:\n{}", text(&up));
    let stdout = String::from_utf8_lossy(&up.stdout).into_owned();
    for expected in [
        "square",
        "image-generator",
        "image-requests",
        "lsk-images",
        ".lambda-url.us-east-1.localhost:",
    ] {
        assert!(
            stdout.contains(expected),
            "`lsk up` should list {expected}:\n{}",
            text(&up)
        );
    }

    // The curl line, run exactly as printed.
    let curl = curl_line_for(&stdout, "square")
        .unwrap_or_else(|| panic!("no curl line for square:\n{stdout}"));
    assert!(curl.starts_with("curl "), "{curl}");
    let out = Command::new("bash").args(["-c", &curl]).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"result":36}"#,
        "the printed line `{curl}` answered: {}",
        text(&out)
    );

    // Nothing changed: nothing uploaded, said plainly.
    let again = lsk(&state, &["deploy", "--json"]);
    assert!(again.status.success(), "{}", text(&again));
    let report: serde_json::Value = serde_json::from_slice(&again.stdout)
        .unwrap_or_else(|e| panic!("deploy --json is not JSON ({e}):\n{}", text(&again)));
    let changes = report["report"]["changes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        !changes.is_empty(),
        "the report lists every resource: {report}"
    );
    let changed: Vec<&serde_json::Value> = changes
        .iter()
        .filter(|c| c["change"] != "unchanged" && c["change"] != serde_json::json!("Unchanged"))
        .collect();
    assert!(changed.is_empty(), "a second deploy changed {changed:?}");
    let plain = lsk(&state, &["deploy"]);
    assert!(
        String::from_utf8_lossy(&plain.stderr).contains("no changes"),
        "a no-op deploy says so:\n{}",
        text(&plain)
    );

    // status and invoke against what `up` left running.
    let status = lsk(&state, &["status"]);
    assert!(
        status.status.success() && String::from_utf8_lossy(&status.stdout).contains("Active"),
        "{}",
        text(&status)
    );
    let inv = lsk(&state, &["invoke", "square", "--data", r#"{"number": 12}"#]);
    assert_eq!(
        String::from_utf8_lossy(&inv.stdout).trim(),
        r#"{"result":144}"#,
        "{}",
        text(&inv)
    );
    let bad = lsk(
        &state,
        &["invoke", "square", "--data", r#"{"number": "x"}"#],
    );
    assert!(
        !bad.status.success(),
        "a function error exits non-zero: {}",
        text(&bad)
    );
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("InvalidInput"),
        "{}",
        text(&bad)
    );

    // down: LocalStack and every init/bootstrap it started are gone.
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("localstack.json")).unwrap())
            .unwrap();
    let pid = record["pid"].as_u64().unwrap() as u32;
    let children = lsk::backend::native::descendants(pid);
    assert!(
        children.iter().any(|(_, c)| c.contains("lsk-init")),
        "inits ran: {children:?}"
    );
    let down = lsk(&state, &["down"]);
    assert!(down.status.success(), "{}", text(&down));
    assert!(
        !lsk::backend::native::is_alive(pid),
        "LocalStack {pid} survived `lsk down`"
    );
    let left: Vec<_> = children
        .iter()
        .filter(|(p, _)| lsk::backend::native::is_alive(*p))
        .collect();
    assert!(left.is_empty(), "left after `lsk down`: {left:?}");
    drop(guard);
}

#[test]
fn changed_code_redeploys_only_that_function() {
    // Library-level: the same deploy path as the CLI, with one function's package changed.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let stack = lsk::Stack::load(root().join("lsk.toml")).unwrap();
        let mut opts = stack.start_options().port(0);
        opts.state_dir = root().join("target/lsk-e2e/cli-redeploy");
        let ls = lsk::LocalStack::start(lsk::BackendChoice::Native, opts)
            .await
            .unwrap();
        let first = stack.deploy(&ls).await.unwrap();
        // Every function of the examples is uploaded once.
        assert_eq!(
            first.report().uploaded().len(),
            stack.manifest().functions.len(),
            "{}",
            first.report()
        );

        let built = stack
            .build(lsk::BuildTarget::Host, false, &lsk::Progress::silent())
            .await
            .unwrap();
        let mut packages = stack.package_built(&built).unwrap();
        // A different `square` (the same bytes plus one), everything else as built.
        let square_path = built.binaries.get("square").unwrap();
        let mut bytes = std::fs::read(square_path).unwrap();
        bytes.push(0);
        packages.insert(
            "square".into(),
            lsk::package::zip_bootstrap(&bytes).unwrap(),
        );
        let opts = lsk::DeployOpts::default();
        let second = stack.apply(&ls, &packages, &opts).await.unwrap();
        assert_eq!(
            second.report().uploaded(),
            ["square"],
            "{}",
            second.report()
        );

        let third = stack.deploy(&ls).await.unwrap();
        assert_eq!(
            third.report().uploaded(),
            ["square"],
            "back to the built code: {}",
            third.report()
        );
        let fourth = stack.deploy(&ls).await.unwrap();
        assert!(fourth.report().is_noop(), "{}", fourth.report());
        let answer = fourth
            .function("square")
            .unwrap()
            .invoke(&serde_json::json!({"number": 3}))
            .await
            .unwrap();
        assert_eq!(answer, serde_json::json!({"result": 9}));
        ls.stop().await.unwrap();
    });
}

#[test]
fn a_broken_manifest_exits_non_zero_naming_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("lsk.toml");
    std::fs::write(
        &manifest,
        "[functions.square]\npackage = \"square\"\ntimeout = 0\n\n[[functions.square.sqs]]\nqueue = \"nowhere\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lsk"))
        .args(["--manifest"])
        .arg(&manifest)
        .args(["--state-dir"])
        .arg(dir.path().join("state"))
        .arg("deploy")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        err.contains(&manifest.display().to_string()),
        "names the file: {err}"
    );
    assert!(
        err.contains("functions.square.timeout"),
        "names the key: {err}"
    );
    assert!(
        err.contains("functions.square.sqs[0].queue") && err.contains("nowhere"),
        "reports every error, the undeclared queue too: {err}"
    );
    assert!(!dir.path().join("state").exists(), "nothing was started");
}
