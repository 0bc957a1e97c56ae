use std::path::Path;

use serde_json::json;

use super::*;

const HELLO: &str = r#"AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Parameters:
  Stage:
    Type: String
    Default: dev
  Secret:
    Type: String
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
      Environment:
        Variables:
          TABLE: !Ref Stage
          ARN: !GetAtt Queue.Arn
          URL: !Sub "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/"
  Queue:
    Type: AWS::SQS::Queue
"#;

fn project_dir(template: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("template.yaml"), template).unwrap();
    let app = dir.path().join("rust_app");
    std::fs::create_dir_all(app.join("src")).unwrap();
    std::fs::write(
        app.join("Cargo.toml"),
        "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(app.join("src/main.rs"), "fn main() {}\n").unwrap();
    dir
}

#[test]
fn short_form_tags_become_their_long_form() {
    let t = template::parse(Path::new("t.yaml"), HELLO).unwrap();
    let env = &t["Resources"]["HelloFunction"]["Properties"]["Environment"]["Variables"];
    assert_eq!(env["TABLE"], json!({"Ref": "Stage"}));
    assert_eq!(env["ARN"], json!({"Fn::GetAtt": ["Queue", "Arn"]}));
    assert_eq!(
        env["URL"],
        json!({"Fn::Sub": "https://${ServerlessRestApi}.execute-api.${AWS::Region}.amazonaws.com/Prod/"})
    );
}

#[test]
fn a_yaml_error_says_file_line_and_column() {
    let err = template::parse(Path::new("template.yaml"), "Resources:\n  A: [1, 2\n").unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("template.yaml:"), "{text}");
    assert!(
        matches!(
            err,
            SamError::Syntax {
                at: At { line: Some(_), .. },
                ..
            }
        ),
        "{text}"
    );
}

#[test]
fn keys_are_located_in_the_text() {
    assert_eq!(
        template::locate(
            HELLO,
            &["Resources", "HelloFunction", "Properties", "CodeUri"]
        ),
        Some((19, 7))
    );
    assert_eq!(
        template::locate(HELLO, &["Parameters", "Secret"]),
        Some((7, 3))
    );
    assert_eq!(template::locate(HELLO, &["Resources", "Nope"]), None);
}

#[test]
fn templates_are_found_as_sam_finds_them() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(template::find_in(dir.path()), None);
    std::fs::write(dir.path().join("template.yml"), "Resources: {}").unwrap();
    assert_eq!(
        template::find_in(dir.path()),
        Some(dir.path().join("template.yml"))
    );
    std::fs::write(dir.path().join("template.yaml"), "Resources: {}").unwrap();
    assert_eq!(
        template::find_in(dir.path()),
        Some(dir.path().join("template.yaml"))
    );
}

#[test]
fn parameter_overrides_are_read_as_sam_reads_them() {
    assert_eq!(
        config::parse_overrides(r#"A=1 B="two words" ParameterKey=C,ParameterValue=3"#).unwrap(),
        vec![
            ("A".into(), "1".into()),
            ("B".into(), "two words".into()),
            ("C".into(), "3".into())
        ]
    );
    assert!(config::parse_overrides("novalue").is_err());
    assert!(config::parse_overrides("A=\"open").is_err());
}

#[test]
fn a_parameter_without_a_value_is_an_error_at_its_line() {
    let dir = project_dir(HELLO);
    let err =
        Project::load(&dir.path().join("template.yaml"), &LoadOptions::default()).unwrap_err();
    assert!(matches!(&err, SamError::MissingParameter { name, .. } if name == "Secret"));
    assert!(err.to_string().contains("template.yaml:7:3"), "{err}");
    assert!(
        err.hint()
            .unwrap()
            .contains("--parameter-overrides Secret=VALUE")
    );
}

#[test]
fn samconfig_and_overrides_give_parameters_and_the_stack_name() {
    let dir = project_dir(HELLO);
    std::fs::write(
        dir.path().join("samconfig.toml"),
        "version = 0.1\n[default.deploy.parameters]\nstack_name = \"hello-app\"\nregion = \"eu-west-1\"\nparameter_overrides = \"Secret=s3cr3t Stage=prod\"\n",
    )
    .unwrap();
    let options = LoadOptions {
        parameter_overrides: vec![("Stage".into(), "test".into())],
        stack_name: None,
    };
    let p = Project::load(&dir.path().join("template.yaml"), &options).unwrap();
    assert_eq!(p.stack_name, "hello-app");
    assert_eq!(p.parameters["Secret"], "s3cr3t");
    assert_eq!(p.parameters["Stage"], "test", "the command line wins");
    assert!(
        p.warnings.iter().any(|w| w.contains("deploy.region")),
        "{:?}",
        p.warnings
    );
    let f = p.function("HelloFunction").unwrap();
    assert_eq!(f.architecture, lsk_manifest::Architecture::Arm64);
    assert!(matches!(&f.code, code::Code::Crate { binary: None, .. }));
}

#[test]
fn an_override_of_an_undeclared_parameter_is_refused() {
    let dir = project_dir(HELLO);
    let options = LoadOptions {
        parameter_overrides: vec![("Secret".into(), "x".into()), ("Stag".into(), "x".into())],
        stack_name: None,
    };
    let err = Project::load(&dir.path().join("template.yaml"), &options).unwrap_err();
    assert!(
        matches!(&err, SamError::UnknownParameter { name, .. } if name == "Stag"),
        "{err}"
    );
}

fn load_err(template: &str) -> SamError {
    let dir = project_dir(template);
    let options = LoadOptions {
        parameter_overrides: vec![("Secret".into(), "x".into())],
        stack_name: None,
    };
    Project::load(&dir.path().join("template.yaml"), &options).unwrap_err()
}

#[test]
fn a_misspelt_runtime_names_the_function_and_its_line() {
    let err = load_err(&HELLO.replace(
        "      Handler: bootstrap\n",
        "      Handler: bootstrap\n      Runtime: provided.al2023023\n",
    ));
    let text = err.to_string();
    assert!(
        text.contains("HelloFunction: Runtime provided.al2023023"),
        "{text}"
    );
    assert!(text.contains("template.yaml:21:7"), "{text}");
}

#[test]
fn a_code_uri_that_does_not_exist_names_the_function() {
    let err = load_err(&HELLO.replace("./rust_app", "./nowhere"));
    let text = err.to_string();
    assert!(text.contains("HelloFunction: CodeUri"), "{text}");
    assert!(text.contains("CodeUri ./nowhere does not exist"), "{text}");
    assert!(text.contains("template.yaml:19:7"), "{text}");
}

#[test]
fn unknown_and_refused_types_are_listed_with_their_logical_ids() {
    let t = template::parse(
        Path::new("t.yaml"),
        &HELLO.replace(
            "  Queue:\n    Type: AWS::SQS::Queue\n",
            "  Queue:\n    Type: AWS::SQS::Queue\n  Cdn:\n    Type: AWS::CloudFront::Distribution\n  Api2:\n    Type: AWS::Serverless::HttpApi\n  Thing:\n    Type: AWS::Made::Up\n",
        ),
    )
    .unwrap();
    let u = support::unsupported(&t);
    let ids: Vec<&str> = u.iter().map(|u| u.logical_id.as_str()).collect();
    assert_eq!(ids, ["Cdn", "Api2", "Thing"], "in the template's order");
    assert!(u[1].why.contains("API Gateway v2"));
}

#[test]
fn services_follow_the_resources() {
    let t = json!({"Resources": {
        "F": {"Type": "AWS::Serverless::Function", "Properties": {"Events": {
            "A": {"Type": "Api"}, "S": {"Type": "Schedule"}, "T": {"Type": "SNS"}}}},
        "M": {"Type": "AWS::Serverless::StateMachine"}
    }});
    assert_eq!(
        support::services(&t),
        [
            "cloudformation",
            "apigateway",
            "events",
            "sns",
            "stepfunctions"
        ]
    );
}

#[test]
fn outputs_with_aws_urls_become_local_ones() {
    assert_eq!(
        observe::local_url(
            "https://abc123.execute-api.amazonaws.com:4566/Prod/hello/",
            4566
        )
        .as_deref(),
        Some("http://abc123.execute-api.localhost:4566/Prod/hello/")
    );
    assert_eq!(
        observe::local_url(
            "https://abc123.execute-api.us-east-1.amazonaws.com/Prod/",
            4567
        )
        .as_deref(),
        Some("http://abc123.execute-api.localhost:4567/Prod/")
    );
    assert_eq!(
        observe::local_url(
            "http://xyz.lambda-url.us-east-1.localhost.localstack.cloud:4566/",
            4566
        )
        .as_deref(),
        Some("http://xyz.lambda-url.us-east-1.localhost:4566/")
    );
    assert_eq!(
        observe::local_url("arn:aws:sqs:us-east-1:000000000000:q", 4566),
        None
    );
    assert_eq!(observe::local_url("https://example.com/", 4566), None);
}

#[test]
fn stack_names_come_from_directory_names() {
    assert_eq!(config::stack_name_from("sam-app"), "sam-app");
    assert_eq!(config::stack_name_from("my_app.v2"), "my-app-v2");
    assert_eq!(config::stack_name_from("2048"), "sam-2048");
}

fn examples_manifest() -> lsk_manifest::Manifest {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    lsk_manifest::Manifest::load(&root.join("lsk.toml")).expect("the examples' lsk.toml loads")
}

fn exported() -> serde_json::Value {
    let manifest = examples_manifest();
    let root = manifest.root().to_path_buf();
    let crates = export::Crates {
        dirs: manifest
            .functions
            .values()
            .map(|f| (f.package.clone(), root.join("lambdas").join(&f.package)))
            .collect(),
        bins: manifest
            .functions
            .values()
            .map(|f| {
                (
                    f.package.clone(),
                    vec![f.bin.clone().unwrap_or(f.package.clone())],
                )
            })
            .collect(),
    };
    export::export(&manifest, &crates, &root.join("exported/template.yaml"))
}

#[test]
fn logical_ids_are_camel_case_names_with_their_kind() {
    use lsk_manifest::RefKind;
    assert_eq!(
        export::logical_id(RefKind::Function, "image-generator"),
        "ImageGeneratorFunction"
    );
    assert_eq!(
        export::logical_id(RefKind::Queue, "jobs.fifo"),
        "JobsFifoQueue"
    );
    assert_eq!(
        export::logical_id(RefKind::Bucket, "images"),
        "ImagesBucket"
    );
    assert_eq!(export::logical_id(RefKind::Topic, "2fa"), "R2faTopic");
}

#[test]
fn the_examples_export_with_crates_references_and_least_privilege() {
    let t = exported();
    let generator = &t["Resources"]["ImageGeneratorFunction"];
    assert_eq!(generator["Metadata"]["BuildMethod"], "rust-cargolambda");
    assert_eq!(
        generator["Metadata"]["BuildProperties"]["Binary"],
        "image-generator"
    );
    assert_eq!(
        generator["Properties"]["CodeUri"],
        "../lambdas/image-generator"
    );
    assert_eq!(
        generator["Properties"]["Environment"]["Variables"]["IMAGES_BUCKET"],
        json!({"Fn::Sub": "${ImagesBucket}"})
    );
    assert_eq!(
        generator["Properties"]["Environment"]["Variables"]["IMAGE_READY_TOPIC_ARN"],
        json!({"Fn::Sub": "${ImageReadyTopic}"})
    );
    let policies = generator["Properties"]["Policies"].as_array().unwrap();
    assert!(
        policies.contains(&json!({"S3CrudPolicy": {"BucketName": {"Ref": "ImagesBucketName"}}}))
    );
    assert!(policies.contains(&json!({"SNSPublishMessagePolicy": {"TopicName": {"Fn::GetAtt": ["ImageReadyTopic", "TopicName"]}}})));
    let sqs = &generator["Properties"]["Events"]["Sqs1"]["Properties"];
    assert_eq!(sqs["BatchSize"], 5);
    assert_eq!(
        sqs["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    // Queues keep their AWS values: the local visibility timeout is for the kit only.
    assert_eq!(
        t["Resources"]["ImageRequestsQueue"]["Properties"]["VisibilityTimeout"],
        json!({"Ref": "ImageRequestsQueueVisibilityTimeout"})
    );
    assert_eq!(
        t["Parameters"]["ImageRequestsQueueVisibilityTimeout"]["Default"],
        180
    );
    // Bucket names are parameters, defaulting to the manifest's.
    assert_eq!(t["Parameters"]["ImagesBucketName"]["Default"], "lsk-images");
    // The topic's queue subscriptions come with the queue policy AWS requires.
    let statements =
        &t["Resources"]["ImageReadyQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"];
    assert_eq!(statements[0]["Principal"]["Service"], "sns.amazonaws.com");
    assert_eq!(
        statements[0]["Condition"]["ArnEquals"]["aws:SourceArn"],
        json!({"Ref": "ImageReadyTopic"})
    );
    // The state machine's references become DefinitionSubstitutions.
    let machine = &t["Resources"]["ImagePipelineStateMachine"]["Properties"];
    assert_eq!(
        machine["DefinitionSubstitutions"]["ImageGeneratorFunctionArn"],
        json!({"Fn::Sub": "${ImageGeneratorFunction.Arn}"})
    );
    assert_eq!(
        machine["Definition"]["States"]["GenerateImage"]["Resource"],
        "${ImageGeneratorFunctionArn}"
    );
    // The REST API route is an Api event on the function.
    let change = &t["Resources"]["MakeChangeFunction"]["Properties"]["Events"];
    let (_, event) = change.as_object().unwrap().iter().next().unwrap();
    assert_eq!(
        event["Properties"]["RestApiId"],
        json!({"Ref": "ExamplesApi"})
    );
}

#[test]
fn an_exported_template_loads_as_a_sam_project() {
    let dir = tempfile::tempdir().unwrap();
    let text = export::to_yaml(&exported()).unwrap();
    let path = dir.path().join("template.yaml");
    std::fs::write(&path, &text).unwrap();
    let t = template::parse(&path, &text).unwrap();
    assert_eq!(t, exported(), "YAML round trip");
    assert!(
        support::unsupported(&t).is_empty(),
        "{:?}",
        support::unsupported(&t)
    );
}

#[test]
fn what_deploys_but_does_not_behave_as_on_aws_is_a_warning() {
    let t = json!({"Resources": {
        "F": {"Type": "AWS::Serverless::Function", "Properties": {"Events": {
            "Later": {"Type": "ScheduleV2", "Properties": {"ScheduleExpression": "rate(1 minute)"}},
            "Get": {"Type": "Api", "Properties": {"Auth": {"Authorizer": "TokenAuth"}}}}}},
        "A": {"Type": "AWS::Serverless::Api", "Properties": {"Auth": {"Authorizers": {"TokenAuth": {}}}}}
    }});
    let w = support::warnings(&t);
    assert!(
        w.iter()
            .any(|w| w.starts_with("F.Events.Later: ScheduleV2") && w.contains("does not fire")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|w| w.starts_with("F.Events.Get") && w.contains("authorizer")),
        "{w:?}"
    );
    assert!(
        w.iter()
            .any(|w| w.starts_with("A: ") && w.contains("authorizers")),
        "{w:?}"
    );
    assert!(support::unsupported(&t).is_empty());
}
