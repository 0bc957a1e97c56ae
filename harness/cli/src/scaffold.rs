//! `lsk new`: a new function crate in the current workspace, registered as a member, declared
//! in `lsk.toml`, with a handler unit test over real event fixtures.
//!
//! The generated function answers every way in (direct invoke, function URL, SQS batch, S3
//! upload), so adding `--url`, `--sqs` or `--s3` later is only a change to `lsk.toml`.

use std::path::{Path, PathBuf};

use toml_edit::{Array, DocumentMut, Item, Value};

/// What `lsk new` is asked to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFunction {
    /// Function, package and directory name (`lambdas/<name>`).
    pub name: String,
    /// Give it a function URL (auth NONE).
    pub url: bool,
    /// Trigger it from this SQS queue (declared too when the manifest lacks it).
    pub sqs: Option<String>,
    /// Trigger it from uploads to this bucket (declared too when the manifest lacks it).
    pub s3: Option<String>,
}

/// What `lsk new` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub crate_dir: PathBuf,
    pub files: Vec<PathBuf>,
    pub manifest: PathBuf,
    pub manifest_created: bool,
}

/// What can go wrong making a new function.
#[derive(Debug, thiserror::Error)]
pub enum NewError {
    #[error(
        "`{name}` is not a valid function name: {why}; use lowercase letters, digits and hyphens, starting with a letter (at most 64)"
    )]
    InvalidName { name: String, why: String },
    #[error("`{name}` exists already: {what}; pick another name")]
    Exists { name: String, what: String },
    #[error(
        "{path} is not a Cargo workspace (no [workspace] table); run `lsk new` in a workspace root, or add `[workspace]` to it"
    )]
    NotAWorkspace { path: PathBuf },
    #[error("{path}: {detail}")]
    Toml { path: PathBuf, detail: String },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl miette::Diagnostic for NewError {}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> NewError {
    let path = path.to_path_buf();
    move |source| NewError::Io { what, path, source }
}

/// Names cargo refuses for a package, and Rust keywords (a library named so cannot be used).
const RESERVED: &[&str] = &[
    "test",
    "core",
    "std",
    "alloc",
    "proc-macro",
    "proc_macro",
    "self",
    "super",
    "crate",
    "fn",
    "mod",
    "use",
    "type",
    "struct",
    "enum",
    "impl",
    "trait",
    "let",
    "match",
    "if",
    "else",
    "for",
    "while",
    "loop",
    "return",
    "async",
    "await",
    "move",
    "ref",
    "mut",
    "pub",
    "static",
    "const",
    "extern",
    "unsafe",
    "where",
    "as",
    "in",
    "break",
    "continue",
    "dyn",
    "true",
    "false",
];

/// Checks a name is both a Lambda function name and a crate name.
pub fn validate_name(name: &str) -> Result<(), NewError> {
    let invalid = |why: &str| NewError::InvalidName {
        name: name.to_owned(),
        why: why.to_owned(),
    };
    if name.is_empty() || name.len() > 64 {
        return Err(invalid("it must be 1 to 64 characters"));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(invalid("it must start with a lowercase letter"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(invalid(&format!("it contains {c:?}")));
    }
    if name.ends_with('-') {
        return Err(invalid("it must not end with a hyphen"));
    }
    if RESERVED.contains(&name) {
        return Err(invalid("it is reserved by Rust or cargo"));
    }
    Ok(())
}

/// The nearest directory at or above `dir` whose `Cargo.toml` has a `[workspace]` table.
pub fn workspace_root(dir: &Path) -> Result<PathBuf, NewError> {
    for candidate in dir.ancestors() {
        let cargo_toml = candidate.join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&cargo_toml) else {
            continue;
        };
        let is_workspace = text
            .parse::<DocumentMut>()
            .is_ok_and(|doc| doc.get("workspace").and_then(Item::as_table).is_some());
        if is_workspace {
            return Ok(candidate.to_path_buf());
        }
    }
    Err(NewError::NotAWorkspace {
        path: dir.join("Cargo.toml"),
    })
}

/// Makes the function in the workspace at `root` (holding `Cargo.toml` and maybe `lsk.toml`).
pub fn create(root: &Path, new: &NewFunction) -> Result<Created, NewError> {
    validate_name(&new.name)?;
    if let Some(queue) = &new.sqs {
        validate_queue(queue)?;
    }
    if let Some(bucket) = &new.s3 {
        validate_bucket(bucket)?;
    }
    let cargo_toml = root.join("Cargo.toml");
    let workspace_text =
        std::fs::read_to_string(&cargo_toml).map_err(io("reading", &cargo_toml))?;
    let mut workspace: DocumentMut =
        workspace_text
            .parse()
            .map_err(|e: toml_edit::TomlError| NewError::Toml {
                path: cargo_toml.clone(),
                detail: e.to_string(),
            })?;
    if workspace
        .get("workspace")
        .and_then(Item::as_table)
        .is_none()
    {
        return Err(NewError::NotAWorkspace { path: cargo_toml });
    }
    let member = format!("lambdas/{}", new.name);
    let crate_dir = root.join(&member);
    if crate_dir.exists() {
        return Err(NewError::Exists {
            name: new.name.clone(),
            what: format!("{} is there", crate_dir.display()),
        });
    }
    let manifest = root.join("lsk.toml");
    let manifest_text = match std::fs::read_to_string(&manifest) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io("reading", &manifest)(e)),
    };
    let mut lsk: DocumentMut =
        manifest_text
            .as_deref()
            .unwrap_or("")
            .parse()
            .map_err(|e: toml_edit::TomlError| NewError::Toml {
                path: manifest.clone(),
                detail: e.to_string(),
            })?;
    if lsk
        .get("functions")
        .and_then(|f| f.get(&new.name))
        .is_some()
    {
        return Err(NewError::Exists {
            name: new.name.clone(),
            what: format!("[functions.{}] is in {}", new.name, manifest.display()),
        });
    }
    let members = workspace["workspace"]
        .as_table_mut()
        .and_then(|w| {
            w.entry("members")
                .or_insert(Item::Value(Value::Array(Array::new())))
                .as_array_mut()
        })
        .ok_or_else(|| NewError::Toml {
            path: cargo_toml.clone(),
            detail: "workspace.members is not an array".into(),
        })?;
    if members.iter().any(|m| m.as_str() == Some(member.as_str())) {
        return Err(NewError::Exists {
            name: new.name.clone(),
            what: format!("{member} is a member already"),
        });
    }
    members.push(member.as_str());
    // A workspace that lists default members builds only those by default: add it there too.
    if let Some(defaults) = workspace["workspace"]
        .get_mut("default-members")
        .and_then(Item::as_array_mut)
    {
        defaults.push(member.as_str());
    }
    add_function(&mut lsk, new);

    let files = write_crate(&crate_dir, &new.name)?;
    std::fs::write(&cargo_toml, workspace.to_string()).map_err(io("writing", &cargo_toml))?;
    std::fs::write(&manifest, lsk.to_string()).map_err(io("writing", &manifest))?;
    Ok(Created {
        crate_dir,
        files,
        manifest,
        manifest_created: manifest_text.is_none(),
    })
}

fn validate_queue(queue: &str) -> Result<(), NewError> {
    let ok = !queue.is_empty()
        && queue.len() <= 80
        && queue
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(NewError::InvalidName {
            name: queue.to_owned(),
            why: "an SQS queue name is 1 to 80 letters, digits, hyphens or underscores".into(),
        })
    }
}

fn validate_bucket(bucket: &str) -> Result<(), NewError> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(NewError::InvalidName {
            name: bucket.to_owned(),
            why: "an S3 bucket name is 3 to 63 lowercase letters, digits, hyphens or dots, starting and ending with a letter or digit".into(),
        })
    }
}

/// Adds `[functions.<name>]` (and the queue and bucket, when the manifest lacks them) to
/// `lsk.toml`.
fn add_function(lsk: &mut DocumentMut, new: &NewFunction) {
    let mut text = format!(
        "[functions.{name}]\npackage = \"{name}\"\nexample = '{{\"name\": \"you\"}}'\n",
        name = new.name
    );
    if new.url {
        text.push_str("url = { auth = \"NONE\" }\n");
    }
    if let Some(queue) = &new.sqs {
        text.push_str(&format!(
            "\n[[functions.{name}.sqs]]\nqueue = \"{queue}\"\nbatch_size = 10\nreport_batch_item_failures = true\n",
            name = new.name
        ));
        if lsk.get("queues").and_then(|q| q.get(queue)).is_none() {
            text.push_str(&format!(
                "\n[queues.{queue}]\nvisibility_timeout = 30\ndead_letter = {{ queue = \"{queue}-dlq\", max_receive_count = 3 }}\n\n[queues.{queue}-dlq]\n"
            ));
        }
    }
    if let Some(bucket) = &new.s3 {
        text.push_str(&format!(
            "\n[[functions.{name}.s3]]\nbucket = \"{bucket}\"\nevents = [\"s3:ObjectCreated:*\"]\n",
            name = new.name
        ));
        if lsk.get("buckets").and_then(|b| b.get(bucket)).is_none() {
            text.push_str(&format!("\n[buckets.{bucket}]\n"));
        }
    }
    // Appended as text so the user's own layout and comments stay as they were.
    let mut out = lsk.to_string();
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push_str(if out.ends_with('\n') { "\n" } else { "\n\n" });
    }
    out.push_str(&text);
    if let Ok(doc) = out.parse() {
        *lsk = doc;
    }
}

fn write_crate(dir: &Path, name: &str) -> Result<Vec<PathBuf>, NewError> {
    let lib = name.replace('-', "_");
    let files = [
        ("Cargo.toml", CARGO_TOML.replace("__NAME__", name)),
        (
            "src/main.rs",
            MAIN_RS.replace("__NAME__", name).replace("__LIB__", &lib),
        ),
        ("src/lib.rs", LIB_RS.replace("__NAME__", name)),
        (
            "tests/handler.rs",
            HANDLER_TEST_RS
                .replace("__NAME__", name)
                .replace("__LIB__", &lib),
        ),
        ("tests/fixtures/url_post.json", URL_POST_JSON.to_owned()),
        (
            "tests/fixtures/sqs_batch.json",
            SQS_BATCH_JSON.replace("__NAME__", name),
        ),
        (
            "tests/fixtures/s3_put.json",
            S3_PUT_JSON.replace("__NAME__", name),
        ),
    ];
    let mut written = Vec::new();
    for (rel, content) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io("creating", parent))?;
        }
        std::fs::write(&path, content).map_err(io("writing", &path))?;
        written.push(path);
    }
    Ok(written)
}

const CARGO_TOML: &str = r#"[package]
name = "__NAME__"
description = "A Lambda function made by `lsk new`"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
lambda_runtime = "1"
aws_lambda_events = { version = "1", default-features = false, features = ["lambda_function_urls", "sqs", "s3"] }
base64 = "0.22"
tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
serde = { version = "1", features = ["derive"] }
serde_json = "1"
"#;

const MAIN_RS: &str = r#"//! Entry point of the `__NAME__` Lambda: wires the runtime to [`__LIB__::handle`] once.
#![forbid(unsafe_code)]

use lambda_runtime::{Error, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(__LIB__::handle)).await
}
"#;

const LIB_RS: &str = r#"//! `__NAME__`: greets whoever asks, by direct invoke (`{"name": "you"}`), over its function URL
//! (`POST /` with that body, or `GET /?name=you`), from an SQS queue (one greeting per
//! record; a record that is not such JSON is reported as a batch item failure, so it is retried
//! and ends in the dead-letter queue) and for each object uploaded to a bucket (its key).
#![forbid(unsafe_code)]

use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use aws_lambda_events::event::s3::S3Event;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use base64::Engine as _;
use lambda_runtime::{Error, LambdaEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a caller sends.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Greet {
    pub name: String,
}

/// What the function answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Greeting {
    pub message: String,
}

/// The greeting itself: the function's own logic, free of any event shape.
pub fn greet(request: &Greet) -> Result<Greeting, String> {
    let name = request.name.trim();
    if name.is_empty() {
        return Err("\"name\" must not be empty".into());
    }
    Ok(Greeting {
        message: format!("hello, {name}"),
    })
}

/// One handler for the three ways in, told apart by the event's shape.
pub async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let payload = event.payload;
    if let Some(records) = payload.get("Records") {
        // S3 and SQS both send `Records`; each record says where it comes from.
        let source = records.get(0).and_then(|r| r.get("eventSource")).and_then(Value::as_str);
        if source == Some("aws:s3") {
            let s3: S3Event = serde_json::from_value(payload)?;
            return Ok(serde_json::to_value(handle_s3(s3).await)?);
        }
        let sqs: SqsEvent = serde_json::from_value(payload)?;
        return Ok(serde_json::to_value(handle_sqs(sqs).await)?);
    }
    if payload.get("requestContext").and_then(|c| c.get("http")).is_some() {
        let request: LambdaFunctionUrlRequest = serde_json::from_value(payload)?;
        return Ok(serde_json::to_value(handle_url(request).await)?);
    }
    let request: Greet = serde_json::from_value(payload)
        .map_err(|e| format!("expected {{\"name\": \"...\"}}: {e}"))?;
    Ok(serde_json::to_value(greet(&request)?)?)
}

/// A function URL request: the body (or `?name=`) in, JSON out, 400 on bad input.
pub async fn handle_url(request: LambdaFunctionUrlRequest) -> LambdaFunctionUrlResponse {
    let from_query = request.query_string_parameters.get("name").map(|n| Greet {
        name: n.to_owned(),
    });
    let parsed = match from_query {
        Some(greet) => Ok(greet),
        None => {
            // A function URL hands over bodies of non-text types (curl -d sends a form type)
            // base64-encoded.
            let body = request.body.unwrap_or_default();
            let body = if request.is_base64_encoded {
                base64::engine::general_purpose::STANDARD
                    .decode(body.as_bytes())
                    .map_err(|e| format!("the body is marked base64 but is not: {e}"))
                    .and_then(|b| String::from_utf8(b).map_err(|e| e.to_string()))
            } else {
                Ok(body)
            };
            body.and_then(|body| {
                serde_json::from_str::<Greet>(&body)
                    .map_err(|e| format!("expected a JSON body {{\"name\": \"...\"}}: {e}"))
            })
        }
    };
    match parsed.and_then(|g| greet(&g)) {
        Ok(greeting) => json_response(200, &serde_json::json!(greeting)),
        Err(error) => json_response(400, &serde_json::json!({ "error": error })),
    }
}

/// An SQS batch: every record that is not a valid request is reported as failed.
pub async fn handle_sqs(event: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let ok = record
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str::<Greet>(b).ok())
            .is_some_and(|g| greet(&g).is_ok());
        if !ok {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = record.message_id.unwrap_or_default();
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// Uploads: one greeting per new object, addressed to its key (printed, so it shows in the
/// function's logs), returned as a list.
pub async fn handle_s3(event: S3Event) -> Vec<Greeting> {
    let mut greetings = Vec::new();
    for record in event.records {
        let Some(key) = record.s3.object.key else {
            continue;
        };
        if let Ok(greeting) = greet(&Greet { name: key }) {
            println!("{}", greeting.message);
            greetings.push(greeting);
        }
    }
    greetings
}

fn json_response(status: i64, body: &Value) -> LambdaFunctionUrlResponse {
    let mut headers = aws_lambda_events::http::HeaderMap::new();
    headers.insert(
        "content-type",
        aws_lambda_events::http::HeaderValue::from_static("application/json"),
    );
    let mut response = LambdaFunctionUrlResponse::default();
    response.status_code = status;
    response.headers = headers;
    response.body = Some(body.to_string());
    response.is_base64_encoded = false;
    response
}
"#;

const HANDLER_TEST_RS: &str = r##"//! `__NAME__`'s handler on real event shapes (fixtures under tests/fixtures).

use __LIB__::{handle_s3, handle_sqs, handle_url};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test]
async fn a_direct_invoke_is_greeted() {
    let event = LambdaEvent::new(json!({"name": "you"}), Context::default());
    let answer = __LIB__::handle(event).await.unwrap();
    assert_eq!(answer, json!({"message": "hello, you"}));
}

#[tokio::test]
async fn a_function_url_post_is_greeted_and_bad_input_is_a_400() {
    let request = serde_json::from_value(fixture("url_post.json")).unwrap();
    let response = handle_url(request).await;
    assert_eq!(response.status_code, 200);
    assert_eq!(response.body.as_deref(), Some(r#"{"message":"hello, you"}"#));

    // `curl -d` without a content type: form-typed, so the body arrives base64-encoded.
    let mut form = fixture("url_post.json");
    form["body"] = json!("eyJuYW1lIjogImZvcm0ifQ=="); // {"name": "form"}
    form["isBase64Encoded"] = json!(true);
    let response = handle_url(serde_json::from_value(form).unwrap()).await;
    assert_eq!(response.body.as_deref(), Some(r#"{"message":"hello, form"}"#));

    let mut bad = fixture("url_post.json");
    bad["body"] = json!("not json");
    let response = handle_url(serde_json::from_value(bad).unwrap()).await;
    assert_eq!(response.status_code, 400, "{:?}", response.body);
}

#[tokio::test]
async fn an_sqs_batch_reports_only_the_bad_record_as_failed() {
    let event = serde_json::from_value(fixture("sqs_batch.json")).unwrap();
    let response = handle_sqs(event).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["b8d2f0a3-4c5e-4f6a-9b7c-8d9e0f1a2b3c"]);
}

#[tokio::test]
async fn an_upload_is_greeted_by_its_key_and_told_apart_from_sqs() {
    let greetings = handle_s3(serde_json::from_value(fixture("s3_put.json")).unwrap()).await;
    assert_eq!(greetings.len(), 1);
    assert_eq!(greetings[0].message, "hello, uploads/report.txt");

    let event = LambdaEvent::new(fixture("s3_put.json"), Context::default());
    let answer = __LIB__::handle(event).await.unwrap();
    assert_eq!(answer, json!([{"message": "hello, uploads/report.txt"}]));
}
"##;

const URL_POST_JSON: &str = r#"{
  "version": "2.0",
  "routeKey": "$default",
  "rawPath": "/",
  "rawQueryString": "",
  "headers": {
    "host": "9e2fsnh951l3ts5ljyyo38si21fhr341.lambda-url.us-east-1.localhost:4566",
    "user-agent": "curl/7.88.1",
    "accept": "*/*",
    "content-type": "application/json",
    "content-length": "16",
    "x-forwarded-proto": "http",
    "x-forwarded-port": "4566"
  },
  "queryStringParameters": {},
  "requestContext": {
    "accountId": "anonymous",
    "apiId": "9e2fsnh951l3ts5ljyyo38si21fhr341",
    "domainName": "9e2fsnh951l3ts5ljyyo38si21fhr341.lambda-url.us-east-1.localhost:4566",
    "domainPrefix": "9e2fsnh951l3ts5ljyyo38si21fhr341",
    "http": {
      "method": "POST",
      "path": "/",
      "protocol": "HTTP/1.1",
      "sourceIp": "127.0.0.1",
      "userAgent": "curl/7.88.1"
    },
    "requestId": "1472a808-0a58-4b07-9cae-066c0e711d15",
    "routeKey": "$default",
    "stage": "$default",
    "time": "27/Nov/2026:15:45:15 +0000",
    "timeEpoch": 1795794315711
  },
  "body": "{\"name\": \"you\"}",
  "isBase64Encoded": false
}
"#;

const SQS_BATCH_JSON: &str = r#"{
  "Records": [
    {
      "messageId": "a7c1e9f2-3b4d-4e5f-8a6b-7c8d9e0f1a2b",
      "receiptHandle": "MbZj6wDWli+JvwwJaBV+3dcjk2YW2vA3+STFFljTM8tJJg6HRG6PYSasuWXPJB+CwLj1FjgXUv1uSj1gUPAWV66FU",
      "body": "{\"name\": \"queue\"}",
      "attributes": {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": "1795794315711",
        "SenderId": "000000000000",
        "ApproximateFirstReceiveTimestamp": "1795794315720"
      },
      "messageAttributes": {},
      "md5OfBody": "5b2f7e1c9a0d3e4f6a7b8c9d0e1f2a3b",
      "eventSource": "aws:sqs",
      "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:__NAME__-requests",
      "awsRegion": "us-east-1"
    },
    {
      "messageId": "b8d2f0a3-4c5e-4f6a-9b7c-8d9e0f1a2b3c",
      "receiptHandle": "AQEBzWwaftRI0KuVm4tP+/7q1rGgNqicHq+ZpBmL9V6dSQl2hzQyTm4wYHh+zrzAzVpQBiSxhjGzqLFBeMPvOpRiXwY",
      "body": "this is not json",
      "attributes": {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": "1795794315731",
        "SenderId": "000000000000",
        "ApproximateFirstReceiveTimestamp": "1795794315740"
      },
      "messageAttributes": {},
      "md5OfBody": "6c3a8f2d0b1e4f5a7b8c9d0e1f2a3b4c",
      "eventSource": "aws:sqs",
      "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:__NAME__-requests",
      "awsRegion": "us-east-1"
    }
  ]
}
"#;

const S3_PUT_JSON: &str = r#"{
  "Records": [
    {
      "eventVersion": "2.1",
      "eventSource": "aws:s3",
      "awsRegion": "us-east-1",
      "eventTime": "2026-11-27T15:45:15.711Z",
      "eventName": "ObjectCreated:Put",
      "userIdentity": { "principalId": "AWS:AIDAINPONIXQXHT3IKHL2" },
      "requestParameters": { "sourceIPAddress": "127.0.0.1" },
      "responseElements": {
        "x-amz-request-id": "8B8C3F5B5D1A4E2C",
        "x-amz-id-2": "eftixk72aD6Ap51TnqcoF8eFidJG9Z/2mkiDFu8yU9AS1ed4OpIszj7UDNEHGran"
      },
      "s3": {
        "s3SchemaVersion": "1.0",
        "configurationId": "lsk-__NAME__-0",
        "bucket": {
          "name": "__NAME__-uploads",
          "ownerIdentity": { "principalId": "A3NL1KOZZKExample" },
          "arn": "arn:aws:s3:::__NAME__-uploads"
        },
        "object": {
          "key": "uploads/report.txt",
          "size": 1024,
          "eTag": "d41d8cd98f00b204e9800998ecf8427e",
          "sequencer": "0055AED6DCD90281E5"
        }
      }
    }
  ]
}
"#;

#[cfg(test)]
mod tests {
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
}
