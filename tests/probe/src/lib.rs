//! Dispatch logic of the `probe` test Lambda: each payload names an action (`echo`, `sleep`,
//! `pid`, `env`, `panic`, `exit`, `log`, `big`, `sqs`, `fail`) that exercises one behaviour of
//! the Lambda runtime under test. An SQS event (a payload with `Records`) is handled as `sqs`.
#![forbid(unsafe_code)]

use std::time::Duration;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};

/// Exit code used by `{"action": "exit"}` when the payload gives no `code`.
pub const DEFAULT_EXIT_CODE: i32 = 3;
/// Message of the deliberate panic, so tests can look for it in logs and error responses.
pub const PANIC_MESSAGE: &str = "probe panicked on purpose";
/// Largest response `{"action": "big"}` will build; far above Lambda's 6 MB response limit,
/// low enough that a typo cannot exhaust the host's memory.
pub const MAX_BIG_BYTES: u64 = 64 * 1024 * 1024;
/// Substring of an SQS record body that makes the probe report that record as failed.
pub const POISON_MARKER: &str = "poison";

/// Why an invocation failed; each variant maps to the `errorType` the caller sees.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProbeError {
    /// `{"action": "fail"}`: a deliberate function error (`errorType` `ProbeFailure`).
    #[error("{0}")]
    Failure(String),
    /// The payload did not describe a valid action (`errorType` `InvalidInput`).
    #[error("{0}")]
    InvalidInput(String),
}

impl ProbeError {
    /// The `errorType` reported to the Lambda Runtime API.
    pub fn error_type(&self) -> &'static str {
        match self {
            ProbeError::Failure(_) => "ProbeFailure",
            ProbeError::InvalidInput(_) => "InvalidInput",
        }
    }
}

impl From<ProbeError> for Diagnostic {
    fn from(error: ProbeError) -> Self {
        Diagnostic {
            error_type: error.error_type().to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// One parsed request to the probe.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Return the whole payload as `{"echo": payload}`.
    Echo(Value),
    /// Sleep, then report how long and in which process.
    Sleep { ms: u64 },
    /// Report the process id (lets tests see whether environments are reused).
    Pid,
    /// Report credentials, endpoint and the names of every environment variable.
    Env,
    /// Report the filesystem the function sees: working directory, whether the code
    /// directory and /tmp are writable, what /tmp holds, and whether /bin/sh takes
    /// `set -o pipefail` (bash does, dash does not), plus the variables AWS sets.
    Fs,
    /// Panic with [`PANIC_MESSAGE`].
    Panic,
    /// Terminate the process with this exit code.
    Exit { code: i32 },
    /// Print `line` to stdout (where the Lambda's logs are captured).
    Log { line: String },
    /// Return a JSON string of exactly `bytes` characters.
    Big { bytes: u64 },
    /// Handle an SQS event, reporting records whose body contains [`POISON_MARKER`] as failures.
    Sqs(SqsEvent),
    /// Return a function error of type `ProbeFailure`.
    Fail { message: String },
}

/// Reads the action a payload asks for.
pub fn parse(payload: &Value) -> Result<Action, ProbeError> {
    let Some(object) = payload.as_object() else {
        return Err(invalid(format!(
            "payload must be a JSON object like {{\"action\": \"echo\"}}, got {}",
            kind_of(payload)
        )));
    };
    // A real SQS trigger sends only `Records`, no action, so its shape alone selects `sqs`.
    if object.contains_key("Records") {
        return parse_sqs(payload);
    }
    let action = match object.get("action") {
        Some(Value::String(action)) => action.as_str(),
        Some(other) => {
            return Err(invalid(format!(
                "\"action\" must be a string, got {}",
                kind_of(other)
            )));
        }
        None => {
            return Err(invalid(format!(
                "missing \"action\"; expected one of {}",
                ACTIONS.join(", ")
            )));
        }
    };
    match action {
        "echo" => Ok(Action::Echo(payload.clone())),
        "sleep" => Ok(Action::Sleep {
            ms: required_u64(payload, "ms", "sleep")?,
        }),
        "pid" => Ok(Action::Pid),
        "env" => Ok(Action::Env),
        "fs" => Ok(Action::Fs),
        "panic" => Ok(Action::Panic),
        "exit" => Ok(Action::Exit {
            code: exit_code(payload)?,
        }),
        "log" => match payload.get("line") {
            Some(Value::String(line)) => Ok(Action::Log { line: line.clone() }),
            _ => Err(invalid(
                "action \"log\" needs a string \"line\", e.g. {\"action\": \"log\", \"line\": \"hello\"}",
            )),
        },
        "big" => {
            let bytes = required_u64(payload, "bytes", "big")?;
            if bytes > MAX_BIG_BYTES {
                return Err(invalid(format!(
                    "\"bytes\" must be at most {MAX_BIG_BYTES}, got {bytes}"
                )));
            }
            Ok(Action::Big { bytes })
        }
        // Without Records there is nothing to process: an empty batch succeeds.
        "sqs" => Ok(Action::Sqs(SqsEvent::default())),
        "fail" => Ok(Action::Fail {
            message: match payload.get("message") {
                Some(Value::String(message)) => message.clone(),
                _ => "probe failed on purpose".to_owned(),
            },
        }),
        other => Err(invalid(format!(
            "unknown action {other:?}; expected one of {}",
            ACTIONS.join(", ")
        ))),
    }
}

/// Every action name [`parse`] accepts, for error messages.
pub const ACTIONS: [&str; 11] = [
    "echo", "sleep", "pid", "env", "fs", "panic", "exit", "log", "big", "sqs", "fail",
];

/// Carries out an action. `Exit` ends the process and `Panic` unwinds, by design.
pub async fn perform(action: Action) -> Result<Value, ProbeError> {
    match action {
        Action::Echo(payload) => Ok(json!({ "echo": payload })),
        Action::Sleep { ms } => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(json!({ "slept_ms": ms, "pid": std::process::id() }))
        }
        Action::Pid => Ok(json!({ "pid": std::process::id() })),
        Action::Env => Ok(env_report(std::env::vars_os().map(|(name, value)| {
            (
                name.to_string_lossy().into_owned(),
                value.to_string_lossy().into_owned(),
            )
        }))),
        Action::Fs => Ok(fs_report()),
        Action::Panic => panic!("{PANIC_MESSAGE}"),
        Action::Exit { code } => {
            println!("probe exiting with code {code}");
            std::process::exit(code)
        }
        Action::Log { line } => {
            println!("{line}");
            Ok(json!({ "logged": line }))
        }
        Action::Big { bytes } => {
            // Bounded by MAX_BIG_BYTES in `parse`, so this fits in usize on every target we build.
            let len = usize::try_from(bytes)
                .map_err(|_| invalid(format!("\"bytes\" {bytes} does not fit in memory")))?;
            Ok(Value::String("x".repeat(len)))
        }
        Action::Sqs(event) => {
            let response = process_sqs(&event, |body| println!("probe processed {body}"));
            serde_json::to_value(response)
                .map_err(|e| invalid(format!("cannot encode the batch response: {e}")))
        }
        Action::Fail { message } => Err(ProbeError::Failure(message)),
    }
}

/// The Lambda handler: parse the payload, then perform the action.
///
/// A function-URL event carries the action as its JSON body; the result (or the error) goes
/// back as an HTTP response, so tests can drive the probe with a plain HTTP client too.
pub async fn handle(event: LambdaEvent<Value>) -> Result<Value, ProbeError> {
    if is_event_echo(&event.payload) {
        return Ok(url_response(Ok(event.payload)));
    }
    match url_body(&event.payload) {
        Some(body) => {
            let action = body.and_then(|b| parse(&b));
            Ok(url_response(match action {
                Ok(action) => perform(action).await,
                Err(e) => Err(e),
            }))
        }
        None => perform(parse(&event.payload)?).await,
    }
}

/// Path of the probe's URL that answers with the whole function-URL event it received, so
/// tests can see the body, its encoding and the headers exactly as the function got them.
pub const EVENT_ECHO_PATH: &str = "/event";

/// Whether a payload is a function-URL request for [`EVENT_ECHO_PATH`].
pub fn is_event_echo(payload: &Value) -> bool {
    payload
        .get("requestContext")
        .and_then(|c| c.get("http"))
        .is_some()
        && payload.get("rawPath").and_then(Value::as_str) == Some(EVENT_ECHO_PATH)
}

/// The JSON body of a function-URL event (`requestContext.http` present), or None for a
/// direct invocation.
pub fn url_body(payload: &Value) -> Option<Result<Value, ProbeError>> {
    payload.get("requestContext")?.get("http")?;
    let raw = payload.get("body").and_then(Value::as_str).unwrap_or("");
    let decoded = if payload.get("isBase64Encoded") == Some(&Value::Bool(true)) {
        use base64::Engine as _;
        match base64::engine::general_purpose::STANDARD.decode(raw) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => return Some(Err(invalid(format!("body is not valid base64: {e}")))),
        }
    } else {
        raw.to_owned()
    };
    Some(serde_json::from_str(&decoded).map_err(|e| {
        invalid(format!(
            "body must be a JSON object like {{\"action\": \"pid\"}}: {e}"
        ))
    }))
}

/// A function-URL response: 200 with the result, or 400/500 with `{errorType, errorMessage}`.
pub fn url_response(result: Result<Value, ProbeError>) -> Value {
    let (status, body) = match result {
        Ok(value) => (200, value),
        Err(e) => {
            let status = if matches!(e, ProbeError::InvalidInput(_)) {
                400
            } else {
                500
            };
            (
                status,
                json!({ "errorType": e.error_type(), "errorMessage": e.to_string() }),
            )
        }
    };
    json!({
        "statusCode": status,
        "headers": { "content-type": "application/json" },
        "body": body.to_string(),
    })
}

/// The `fs` report (see [`Action::Fs`]). Writes one marker file in the code directory (if it
/// can) and one in /tmp, named after this process.
pub fn fs_report() -> Value {
    let var = |name: &str| std::env::var(name).ok();
    let marker = format!("probe-{}", std::process::id());
    let writable = |dir: &str| std::fs::write(std::path::Path::new(dir).join(&marker), "x").is_ok();
    let task_root = var("LAMBDA_TASK_ROOT").unwrap_or_default();
    let mut tmp_entries: Vec<String> = std::fs::read_dir("/tmp")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    tmp_entries.sort();
    let sh_pipefail = std::process::Command::new("/bin/sh")
        .args(["-c", "set -o pipefail"])
        .output()
        .is_ok_and(|o| o.status.success());
    json!({
        "cwd": std::env::current_dir().ok().map(|d| d.display().to_string()),
        "lambda_task_root": task_root,
        "code_writable": writable(&task_root),
        "tmp_writable": writable("/tmp"),
        "tmp_entries_before": tmp_entries,
        "marker": marker,
        "sh_pipefail": sh_pipefail,
        "lang": var("LANG"),
        "tz": var("TZ"),
        "path": var("PATH"),
        "tmpdir": var("TMPDIR"),
        "lambda_runtime_dir": var("LAMBDA_RUNTIME_DIR"),
        "ld_library_path": var("LD_LIBRARY_PATH"),
    })
}

/// Builds the `env` report from `(name, value)` pairs, so it can be tested without touching
/// the process environment.
pub fn env_report(vars: impl IntoIterator<Item = (String, String)>) -> Value {
    let vars: std::collections::BTreeMap<String, String> = vars.into_iter().collect();
    let get = |name: &str| vars.get(name).cloned();
    json!({
        "aws_access_key_id": get("AWS_ACCESS_KEY_ID"),
        "aws_secret_access_key": get("AWS_SECRET_ACCESS_KEY"),
        "has_host_only": vars.contains_key("HOST_ONLY"),
        "aws_endpoint_url": get("AWS_ENDPOINT_URL"),
        "lambda_task_root": get("LAMBDA_TASK_ROOT"),
        // BTreeMap keys iterate in sorted order.
        "vars": vars.keys().collect::<Vec<_>>(),
    })
}

/// Reports every record whose body contains [`POISON_MARKER`] as a batch item failure and
/// hands each other body to `processed`.
pub fn process_sqs(event: &SqsEvent, mut processed: impl FnMut(&str)) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in &event.records {
        let body = record.body.as_deref().unwrap_or_default();
        if body.contains(POISON_MARKER) {
            response.add_failure(record.message_id.clone().unwrap_or_default());
        } else {
            processed(body);
        }
    }
    response
}

fn parse_sqs(payload: &Value) -> Result<Action, ProbeError> {
    serde_json::from_value(payload.clone())
        .map(Action::Sqs)
        .map_err(|e| {
            invalid(format!(
                "payload has \"Records\" but is not an SQS event: {e}"
            ))
        })
}

fn required_u64(payload: &Value, field: &str, action: &str) -> Result<u64, ProbeError> {
    payload.get(field).and_then(Value::as_u64).ok_or_else(|| {
        invalid(format!(
            "action {action:?} needs a non-negative integer {field:?}, e.g. {{\"action\": {action:?}, {field:?}: 100}}"
        ))
    })
}

fn exit_code(payload: &Value) -> Result<i32, ProbeError> {
    match payload.get("code") {
        None | Some(Value::Null) => Ok(DEFAULT_EXIT_CODE),
        Some(code) => code
            .as_i64()
            .and_then(|code| i32::try_from(code).ok())
            .ok_or_else(|| {
                invalid(format!(
                    "\"code\" must be an integer exit status, got {code}"
                ))
            }),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn invalid(message: impl Into<String>) -> ProbeError {
    ProbeError::InvalidInput(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn sqs_fixture() -> SqsEvent {
        serde_json::from_str(include_str!("../tests/fixtures/sqs_event.json"))
            .expect("fixture is a valid SQS event")
    }

    #[tokio::test]
    async fn echo_returns_the_whole_payload() {
        let payload = json!({"action": "echo", "nested": {"a": [1, 2]}});
        let out = perform(parse(&payload).unwrap()).await.unwrap();
        assert_eq!(out, json!({"echo": payload}));
    }

    #[tokio::test]
    async fn sleep_waits_and_reports_pid() {
        let started = Instant::now();
        let out = perform(parse(&json!({"action": "sleep", "ms": 30})).unwrap())
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(30));
        assert_eq!(out, json!({"slept_ms": 30, "pid": std::process::id()}));
    }

    #[test]
    fn sleep_without_ms_is_invalid() {
        let err = parse(&json!({"action": "sleep"})).unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput");
        assert!(err.to_string().contains("\"ms\""), "{err}");
        assert!(parse(&json!({"action": "sleep", "ms": -1})).is_err());
    }

    #[tokio::test]
    async fn pid_is_this_process() {
        let out = perform(Action::Pid).await.unwrap();
        assert_eq!(out, json!({"pid": std::process::id()}));
    }

    #[test]
    fn env_report_lists_sorted_names_and_flags() {
        let report = env_report([
            ("ZED".to_owned(), "1".to_owned()),
            ("AWS_ACCESS_KEY_ID".to_owned(), "test".to_owned()),
            ("HOST_ONLY".to_owned(), "yes".to_owned()),
            ("LAMBDA_TASK_ROOT".to_owned(), "/var/task".to_owned()),
        ]);
        assert_eq!(
            report,
            json!({
                "aws_access_key_id": "test",
                "aws_secret_access_key": null,
                "has_host_only": true,
                "aws_endpoint_url": null,
                "lambda_task_root": "/var/task",
                "vars": ["AWS_ACCESS_KEY_ID", "HOST_ONLY", "LAMBDA_TASK_ROOT", "ZED"],
            })
        );
        assert_eq!(env_report([])["has_host_only"], json!(false));
    }

    #[test]
    #[should_panic(expected = "probe panicked on purpose")]
    fn panic_action_panics_with_the_agreed_message() {
        let action = parse(&json!({"action": "panic"})).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let _ = runtime.block_on(perform(action));
    }

    #[test]
    fn exit_code_defaults_to_3_and_is_validated() {
        assert_eq!(
            parse(&json!({"action": "exit"})).unwrap(),
            Action::Exit { code: 3 }
        );
        assert_eq!(
            parse(&json!({"action": "exit", "code": 42})).unwrap(),
            Action::Exit { code: 42 }
        );
        assert!(parse(&json!({"action": "exit", "code": "x"})).is_err());
        assert!(parse(&json!({"action": "exit", "code": 1u64 << 40})).is_err());
    }

    #[tokio::test]
    async fn log_returns_the_line() {
        let out = perform(parse(&json!({"action": "log", "line": "hello logs"})).unwrap())
            .await
            .unwrap();
        assert_eq!(out, json!({"logged": "hello logs"}));
        assert!(parse(&json!({"action": "log"})).is_err());
    }

    #[tokio::test]
    async fn big_returns_exactly_that_many_bytes() {
        let out = perform(parse(&json!({"action": "big", "bytes": 1000})).unwrap())
            .await
            .unwrap();
        assert_eq!(out.as_str().map(str::len), Some(1000));
        let err = parse(&json!({"action": "big", "bytes": MAX_BIG_BYTES + 1})).unwrap_err();
        assert_eq!(err.error_type(), "InvalidInput");
    }

    #[tokio::test]
    async fn fail_is_a_probe_failure() {
        let err = perform(parse(&json!({"action": "fail"})).unwrap())
            .await
            .unwrap_err();
        let diagnostic = Diagnostic::from(err);
        assert_eq!(diagnostic.error_type, "ProbeFailure");
        assert_eq!(diagnostic.error_message, "probe failed on purpose");
        let err = parse(&json!({"action": "fail", "message": "custom"})).unwrap();
        assert_eq!(
            perform(err).await.unwrap_err(),
            ProbeError::Failure("custom".into())
        );
    }

    #[test]
    fn unknown_or_missing_action_is_invalid_input() {
        for payload in [
            json!({"action": "dance"}),
            json!({}),
            json!({"action": 5}),
            json!([1]),
            json!("echo"),
        ] {
            let diagnostic = Diagnostic::from(parse(&payload).unwrap_err());
            assert_eq!(diagnostic.error_type, "InvalidInput", "{payload}");
        }
        let err = parse(&json!({"action": "dance"})).unwrap_err();
        assert!(err.to_string().contains("echo, sleep"), "{err}");
    }

    #[test]
    fn sqs_event_reports_only_poison_records() {
        let mut processed = Vec::new();
        let response = process_sqs(&sqs_fixture(), |body| processed.push(body.to_owned()));
        let failed: Vec<_> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, ["2e1424d4-f796-459a-8184-9c92662be6da"]);
        assert_eq!(processed, ["hello from the queue", "{\"n\": 3}"]);
    }

    #[tokio::test]
    async fn sqs_payload_is_detected_without_an_action() {
        let payload: Value =
            serde_json::from_str(include_str!("../tests/fixtures/sqs_event.json")).unwrap();
        let out = perform(parse(&payload).unwrap()).await.unwrap();
        assert_eq!(
            out,
            json!({"batchItemFailures": [{"itemIdentifier": "2e1424d4-f796-459a-8184-9c92662be6da"}]})
        );
        let empty = perform(parse(&json!({"action": "sqs"})).unwrap())
            .await
            .unwrap();
        assert_eq!(empty, json!({"batchItemFailures": []}));
        assert!(parse(&json!({"Records": "nope"})).is_err());
    }
}

#[cfg(test)]
mod url_tests {
    use super::*;

    fn url_event(body: &str, base64: bool) -> Value {
        json!({
            "version": "2.0",
            "rawPath": "/",
            "requestContext": { "http": { "method": "POST", "path": "/" } },
            "body": body,
            "isBase64Encoded": base64,
        })
    }

    #[tokio::test]
    async fn url_event_body_is_the_action_and_the_result_is_an_http_response() {
        let event = url_event(r#"{"action": "log", "line": "hi"}"#, false);
        let body = url_body(&event).expect("a URL event").expect("valid body");
        let reply = url_response(perform(parse(&body).unwrap()).await);
        assert_eq!(reply["statusCode"], 200);
        assert_eq!(reply["body"], r#"{"logged":"hi"}"#);
    }

    #[tokio::test]
    async fn the_event_path_answers_with_the_event_itself() {
        let mut event = url_event("a=1", true);
        event["rawPath"] = json!(EVENT_ECHO_PATH);
        let ctx = lambda_runtime::Context::default();
        let reply = handle(LambdaEvent::new(event.clone(), ctx)).await.unwrap();
        assert_eq!(reply["statusCode"], 200);
        let echoed: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
        assert_eq!(echoed, event);
        assert!(
            !is_event_echo(&json!({"rawPath": EVENT_ECHO_PATH})),
            "not a URL event"
        );
    }

    #[test]
    fn base64_bodies_and_bad_bodies() {
        let event = url_event("eyJhY3Rpb24iOiAicGlkIn0=", true); // {"action": "pid"}
        assert_eq!(url_body(&event).unwrap().unwrap(), json!({"action": "pid"}));
        let bad = url_body(&url_event("not json", false))
            .unwrap()
            .unwrap_err();
        assert_eq!(url_response(Err(bad))["statusCode"], 400);
        assert!(
            url_body(&json!({"action": "pid"})).is_none(),
            "direct invokes are not URL events"
        );
    }
}
