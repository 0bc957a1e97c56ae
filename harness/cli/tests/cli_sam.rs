//! A SAM project that is wrong, as a user meets it: `lsk up` in the project's directory (found
//! as `sam` finds its template, no `lsk.toml`) stops before anything is built or started, with an
//! error that names the logical ID and `file:line:col`, a hint, and exit status 1. Nothing here
//! starts LocalStack: each template is refused while loading.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{root, text};

const GOOD: &str = r#"AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
Globals:
  Function:
    Runtime: provided.al2023
    Architectures: [arm64]
Resources:
  HelloFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
    Properties:
      CodeUri: ./rust_app
      Handler: bootstrap
      Events:
        Hello:
          Type: Api
          Properties:
            Path: /hello
            Method: get
"#;

/// `<target>/lsk-e2e/sam-bad/<name>`: a project laid out as `sam init` makes it.
fn project(name: &str, template_name: &str, template: &str) -> PathBuf {
    let dir = root().join("target/lsk-e2e/sam-bad").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("rust_app/src")).unwrap();
    std::fs::write(dir.join(template_name), template).unwrap();
    std::fs::write(
        dir.join("rust_app/Cargo.toml"),
        "[package]\nname = \"hello-world\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("rust_app/src/main.rs"), "fn main() {}\n").unwrap();
    dir
}

fn lsk_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lsk"))
        .current_dir(dir)
        .args(["--backend", "native", "--port", "0"])
        .args(args)
        .env_remove("LOCALSTACK_ENDPOINT")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("LSK_MANIFEST")
        .output()
        .expect("lsk runs")
}

/// `lsk up` fails with every one of `expected` in its error, and started nothing.
fn refused(dir: &Path, args: &[&str], expected: &[&str]) {
    let mut all = vec!["up"];
    all.extend_from_slice(args);
    let out = lsk_in(dir, &all);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    for e in expected {
        assert!(
            stderr.contains(e),
            "expected {e:?} in the error:\n{}",
            text(&out)
        );
    }
    assert!(stderr.contains("hint: "), "no hint:\n{}", text(&out));
    assert!(
        !dir.join(".lsk/state").exists(),
        "a refused template started something:\n{}",
        text(&out)
    );
}

#[test]
fn a_yaml_error_says_where() {
    let dir = project(
        "yaml",
        "template.yml",
        &GOOD.replace("      Handler: bootstrap\n", "      Handler: [bootstrap\n"),
    );
    refused(&dir, &[], &["template.yml:", "the template is not valid"]);
}

#[test]
fn an_unknown_resource_type_is_listed_by_logical_id_and_type() {
    let dir = project(
        "unknown-type",
        "template.yaml",
        &format!("{GOOD}  Thing:\n    Type: AWS::Made::Up\n"),
    );
    refused(
        &dir,
        &[],
        &["Thing (AWS::Made::Up)", "cannot run", "--allow-unsupported"],
    );
}

#[test]
fn a_missing_parameter_names_it_and_how_to_give_it() {
    let dir = project(
        "parameter",
        "template.yaml",
        &GOOD.replace("    Default: dev\n", ""),
    );
    refused(
        &dir,
        &[],
        &[
            "template.yaml:4:3",
            "parameter Stage has no value",
            "--parameter-overrides Stage=VALUE",
        ],
    );
    // Given on the command line, the template loads: `status` gets as far as LocalStack.
    let out = lsk_in(&dir, &["status", "--parameter-overrides", "Stage=prod"]);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("has no value"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_code_uri_that_does_not_exist_names_the_function() {
    let dir = project(
        "code-uri",
        "template.yaml",
        &GOOD.replace("./rust_app", "./hello_world"),
    );
    refused(
        &dir,
        &[],
        &[
            "template.yaml:17:7",
            "HelloFunction: CodeUri ./hello_world does not exist",
        ],
    );
}

#[test]
fn a_misspelt_runtime_names_the_function() {
    let dir = project(
        "runtime",
        "template.yaml",
        &GOOD.replace("provided.al2023", "provided.al2023023"),
    );
    refused(
        &dir,
        &[],
        &[
            "HelloFunction: Runtime provided.al2023023 is not a runtime the kit runs",
            "template.yaml:",
        ],
    );
}

#[test]
fn an_http_api_is_refused_until_the_kit_runs_api_gateway_v2() {
    let dir = project(
        "http-api",
        "template.yaml",
        &GOOD.replace("          Type: Api\n", "          Type: HttpApi\n"),
    );
    refused(
        &dir,
        &[],
        &[
            "HelloFunction.Events.Hello (event HttpApi)",
            "API Gateway v2",
        ],
    );
}
