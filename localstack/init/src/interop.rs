//! The caller-facing side: LocalStack's `POST /invoke` (results go back through the
//! callbacks, or in the answer itself when asked with `x-lsk-result: inline`) or, standalone,
//! the RIE-compatible invoke route; running one invocation to its end (response, error,
//! timeout, crash); and the stdin lifeline.

use std::io::Write as _;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use http::header::HeaderValue;
use http::{Method, StatusCode};
use serde::Deserialize;
use tokio::io::AsyncReadExt;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::config::{Mode, is_url_safe};
use crate::error::{ApiError, lambda_error_json};
use crate::logs::{self, Ending, Report};
use crate::process;
use crate::protocol;
use crate::runtime_api::response_too_large_message;
use crate::server::{self as h, Body, Reply, Request};
use crate::state::{App, Invocation, Outcome};

/// Largest invoke payload Lambda accepts, in bytes.
pub const MAX_REQUEST_PAYLOAD: usize = 6_291_456;
/// `/invoke` carries the payload as a JSON string, escaped: allow for that.
const MAX_INVOKE_BODY: usize = 64 * 1024 * 1024;
const STANDALONE_PREFIX: &str = "/2015-03-31/functions/";

/// How an inline answer says whether its payload is the response or an error JSON.
pub use crate::protocol::OUTCOME_HEADER;
/// Bytes of the inline answer's body that are the payload; the logs follow them.
pub use crate::protocol::PAYLOAD_LENGTH_HEADER;
/// Request header by which our executor asks for the result in the answer to `/invoke`.
///
/// The Go init's protocol answers `/invoke` at once and posts logs and result back to
/// LocalStack: two more requests through LocalStack's gateway (its Python handler chain) per
/// invoke. With `inline`, the answer to `/invoke` waits for the invocation's end and carries
/// both, and no callback is made; warm invoke latency dropped by a few ms (see `make bench`).
pub use crate::protocol::RESULT_MODE_HEADER;
/// Routes one request from LocalStack (or, standalone, from any local client).
pub async fn handle(app: Arc<App>, req: Request) -> Reply {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    if path == "/health" {
        return match method {
            Method::GET => h::json(StatusCode::OK, Bytes::from_static(br#"{"status":"ok"}"#)),
            m => h::method_not_allowed(&m, &path),
        };
    }
    match &app.config.mode {
        Mode::LocalStack(_) if path == protocol::INVOKE_PATH => match method {
            Method::POST => invoke(app, req).await,
            m => h::method_not_allowed(&m, &path),
        },
        Mode::Standalone if is_standalone_invoke(&path) => match method {
            Method::POST => standalone_invoke(app, req).await,
            m => h::method_not_allowed(&m, &path),
        },
        _ => h::not_found(&path),
    }
}

fn is_standalone_invoke(path: &str) -> bool {
    path.strip_prefix(STANDALONE_PREFIX)
        .and_then(|r| r.strip_suffix("/invocations"))
        .is_some_and(|name| !name.is_empty() && !name.contains('/'))
}

/// Body of LocalStack's `POST /invoke`.
#[derive(Debug, Deserialize)]
struct InvokeRequest {
    #[serde(rename = "invoke-id")]
    invoke_id: String,
    #[serde(rename = "invoked-function-arn", default)]
    invoked_function_arn: Option<String>,
    #[serde(default)]
    payload: Option<String>,
    #[serde(rename = "trace-id", default)]
    trace_id: Option<String>,
}

/// How an invocation ended, ready to be reported.
#[derive(Debug)]
pub struct Finished {
    pub logs: String,
    /// The function's response, or the error JSON for the caller.
    pub result: Result<Bytes, Bytes>,
}

async fn invoke(app: Arc<App>, req: Request) -> Reply {
    let inline = req.headers().get(RESULT_MODE_HEADER).is_some_and(|v| {
        v.as_bytes()
            .eq_ignore_ascii_case(protocol::INLINE.as_bytes())
    });
    let body = match h::read_body(req.into_body(), MAX_INVOKE_BODY).await {
        Ok(Body::Complete(body)) => body,
        Ok(Body::TooLarge { size }) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                format!("/invoke body of {size} bytes is larger than lsk-init accepts ({MAX_INVOKE_BODY} bytes)"),
            )
            .into();
        }
        Err(e) => return bad_request(format!("could not read the /invoke body: {e}")),
    };
    let request: InvokeRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return bad_request(format!(
                "invalid /invoke body ({e}); expected JSON {{\"invoke-id\", \"invoked-function-arn\", \"payload\", \"trace-id\"}}"
            ));
        }
    };
    if !is_url_safe(&request.invoke_id) {
        return bad_request(format!(
            "invoke-id {:?} must be 1-256 letters, digits, '-', '_' or '.'",
            request.invoke_id
        ));
    }
    let payload = Bytes::from(request.payload.unwrap_or_default().into_bytes());
    let id = request.invoke_id;
    if payload.len() > MAX_REQUEST_PAYLOAD {
        // The function does not run, but LocalStack still gets its answer the usual way.
        let finished = Finished {
            logs: String::new(),
            result: Err(lambda_error_json(
                "RequestEntityTooLarge",
                &request_too_large_message(payload.len()),
            )),
        };
        if inline {
            return inline_reply(finished);
        }
        tokio::spawn(report_to_localstack(app, id, finished));
        return h::empty(StatusCode::OK);
    }
    let arn = request
        .invoked_function_arn
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| app.config.function_arn.clone());
    let inv = Arc::new(Invocation::new(
        id,
        arn,
        payload,
        request.trace_id,
        app.config.timeout,
    ));
    process::restart_if_code_changed(&app).await;
    let outcome = match begin(&app, inv.clone()).await {
        Ok(outcome) => outcome,
        Err(e) => return e.into(),
    };
    if !inline {
        tokio::spawn(async move {
            let finished = run(&app, &inv, outcome).await;
            report_to_localstack(app, inv.id.clone(), finished).await;
        });
        return h::empty(StatusCode::OK);
    }
    let (tx, rx) = oneshot::channel();
    // Runs on even if LocalStack hangs up, so the environment ends up consistent.
    tokio::spawn(async move {
        let finished = run(&app, &inv, outcome).await;
        app.invocations.finish(&inv.id);
        let _ = tx.send(finished);
    });
    match rx.await {
        Ok(finished) => inline_reply(finished),
        Err(_) => abandoned(),
    }
}

/// The answer to an inline `/invoke`: the payload (response or error JSON), then the logs.
fn inline_reply(finished: Finished) -> Reply {
    let (outcome, payload) = match finished.result {
        Ok(body) => (protocol::OUTCOME_RESPONSE, body),
        Err(body) => (protocol::OUTCOME_ERROR, body),
    };
    let mut body = Vec::with_capacity(payload.len() + finished.logs.len());
    body.extend_from_slice(&payload);
    body.extend_from_slice(finished.logs.as_bytes());
    let mut resp = h::reply(
        StatusCode::OK,
        "application/octet-stream",
        Bytes::from(body),
    );
    let headers = resp.headers_mut();
    headers.insert(OUTCOME_HEADER, HeaderValue::from_static(outcome));
    headers.insert(PAYLOAD_LENGTH_HEADER, HeaderValue::from(payload.len()));
    resp
}

async fn standalone_invoke(app: Arc<App>, req: Request) -> Reply {
    let payload = match h::read_body(req.into_body(), MAX_REQUEST_PAYLOAD).await {
        Ok(Body::Complete(body)) => body,
        Ok(Body::TooLarge { size }) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                request_too_large_message(size as usize),
            )
            .into();
        }
        Err(e) => return bad_request(format!("could not read the request body: {e}")),
    };
    let id = uuid::Uuid::new_v4().hyphenated().to_string();
    let inv = Arc::new(Invocation::new(
        id,
        app.config.function_arn.clone(),
        payload,
        None,
        app.config.timeout,
    ));
    process::restart_if_code_changed(&app).await;
    let outcome = match begin(&app, inv.clone()).await {
        Ok(outcome) => outcome,
        Err(e) => return e.into(),
    };
    let (tx, rx) = oneshot::channel();
    // Runs on even if the client goes away, so the environment ends up consistent.
    tokio::spawn(async move {
        let finished = run(&app, &inv, outcome).await;
        let _ = std::io::stderr().write_all(finished.logs.as_bytes());
        app.invocations.finish(&inv.id);
        let _ = tx.send(finished.result);
    });
    match rx.await {
        Ok(Ok(body)) => h::json(StatusCode::OK, body),
        Ok(Err(error)) => {
            let mut resp = h::json(StatusCode::OK, error);
            resp.headers_mut().insert(
                "x-amz-function-error",
                HeaderValue::from_static("Unhandled"),
            );
            resp
        }
        Err(_) => abandoned(),
    }
}

/// The run ended without a result: lsk-init is shutting down.
fn abandoned() -> Reply {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "ServiceException",
        "the invocation was abandoned (lsk-init is shutting down)",
    )
    .into()
}

fn bad_request(message: String) -> Reply {
    ApiError::new(StatusCode::BAD_REQUEST, "InvalidRequestContent", message).into()
}

fn request_too_large_message(size: usize) -> String {
    format!(
        "Request must be smaller than {MAX_REQUEST_PAYLOAD} bytes for the InvokeFunction operation (got {size} bytes)"
    )
}

/// Claims the environment for `inv` and makes sure a bootstrap will pick it up.
async fn begin(
    app: &Arc<App>,
    inv: Arc<Invocation>,
) -> Result<oneshot::Receiver<Outcome>, ApiError> {
    let outcome = app.invocations.try_begin(inv).map_err(|busy| {
        ApiError::new(
            StatusCode::CONFLICT,
            "ResourceConflictException",
            format!(
                "invocation {} is still running in this execution environment; lsk-init runs one invocation at a time",
                busy.running
            ),
        )
    })?;
    if let Err(e) = process::ensure_running(app).await {
        app.invocations.fail_open(Outcome::SpawnFailed {
            error_type: e.error_type(),
            message: e.to_string(),
        });
    }
    Ok(outcome)
}

/// What to do with the bootstrap once an invocation is over.
#[derive(Debug, PartialEq, Eq)]
enum Aftermath {
    Keep,
    /// It is dead or hung: kill what is left and start a fresh one.
    Restart,
    /// It failed its init: kill it; the next invocation starts a new one.
    Kill,
}

/// Waits for the invocation's result or deadline, and builds its logs and result.
pub async fn run(
    app: &Arc<App>,
    inv: &Invocation,
    outcome: oneshot::Receiver<Outcome>,
) -> Finished {
    let outcome = tokio::select! {
        o = outcome => Some(o),
        _ = tokio::time::sleep_until(inv.deadline) => None,
    };
    let ended = Instant::now();
    let ended_wall = SystemTime::now();
    let started = match outcome {
        // Refuse a late answer from here on.
        None => app.invocations.close(&inv.id),
        Some(_) => app.invocations.delivered_at(&inv.id),
    }
    .unwrap_or(inv.received);
    // Read before any kill: a reaped process has no memory figures left.
    let max_memory_used_mb = process::max_memory_mb(app);
    let init_duration = process::take_init_duration(app);
    let timeout = app.config.timeout;

    let (ending, result, aftermath) = match outcome {
        None => {
            let message = logs::timeout_message(timeout);
            tracing::info!(id = %inv.id, "invocation timed out");
            (
                Ending::TimedOut {
                    at: ended_wall,
                    timeout,
                },
                Err(lambda_error_json("Sandbox.Timedout", &message)),
                Aftermath::Restart,
            )
        }
        Some(Ok(Outcome::Response(body))) => (Ending::Normal, Ok(body), Aftermath::Keep),
        Some(Ok(Outcome::FunctionError(body))) => (Ending::Normal, Err(body), Aftermath::Keep),
        Some(Ok(Outcome::ResponseTooLarge { size })) => (
            Ending::Normal,
            Err(lambda_error_json(
                "Function.ResponseSizeTooLarge",
                &response_too_large_message(size),
            )),
            Aftermath::Keep,
        ),
        Some(Ok(Outcome::BootstrapExited(reason))) => {
            let message = logs::exit_error_message(&inv.id, &reason);
            (
                Ending::Crashed {
                    message: message.clone(),
                },
                Err(lambda_error_json("Runtime.ExitError", &message)),
                Aftermath::Restart,
            )
        }
        Some(Ok(Outcome::InitError(body))) => (Ending::Normal, Err(body), Aftermath::Kill),
        Some(Ok(Outcome::SpawnFailed {
            error_type,
            message,
        })) => (
            Ending::Normal,
            Err(lambda_error_json(error_type, &message)),
            Aftermath::Keep,
        ),
        // The sender lives in the shared state until the invocation finishes; this
        // would be a bug, so fail the invocation loudly rather than hang.
        Some(Err(_)) => (
            Ending::Normal,
            Err(lambda_error_json(
                "Runtime.Unknown",
                "lsk-init lost track of this invocation",
            )),
            Aftermath::Restart,
        ),
    };

    if aftermath != Aftermath::Keep {
        process::kill(app).await;
    }
    // After the kill the pipe holds everything the old bootstrap wrote.
    let output = process::take_output(app);
    if aftermath == Aftermath::Restart
        && !app.shutdown.is_triggered()
        && let Err(e) = process::spawn(app).await
    {
        tracing::warn!(error = %e, "could not restart the bootstrap; the next invocation will try again");
    }
    let report = Report {
        duration: ended.saturating_duration_since(started),
        memory_size_mb: app.config.memory_mb,
        max_memory_used_mb,
        init_duration,
    };
    Finished {
        logs: logs::render(
            &inv.id,
            &app.config.function_version,
            &output,
            &ending,
            &report,
        ),
        result,
    }
}

/// Logs first, then the result: LocalStack attaches the logs it has when the result arrives.
async fn report_to_localstack(app: Arc<App>, id: String, finished: Finished) {
    let Some(callback) = &app.callback else {
        return;
    };
    if let Err(e) = callback.logs(&id, &finished.logs).await {
        tracing::warn!(error = %e, %id, "could not send the invocation's logs");
    }
    // Free the environment before the result goes out: LocalStack may send the next
    // invoke as soon as it has the result.
    app.invocations.finish(&id);
    let sent = match finished.result {
        Ok(body) => callback.response(&id, body).await,
        Err(body) => callback.error(&id, body).await,
    };
    if let Err(e) = sent {
        tracing::error!(error = %e, %id, "could not send the invocation's result");
    }
}

/// Stops the init when LocalStack goes away: its end of our stdin closes.
pub async fn lifeline(app: Arc<App>) {
    let pipe = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .and_then(tokio::net::unix::pipe::Receiver::from_owned_fd);
    let mut buf = [0u8; 512];
    match pipe {
        Ok(pipe) => loop {
            if pipe.readable().await.is_err() {
                break;
            }
            match pipe.try_read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(_) => break,
            }
        },
        Err(e) => {
            // Not a pipe (a file, a socket): fall back to tokio's blocking-thread reader.
            tracing::debug!(error = %e, "stdin is not a pipe");
            let mut stdin = tokio::io::stdin();
            while let Ok(n) = stdin.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        }
    }
    tracing::info!("stdin closed: LocalStack is gone, shutting down");
    app.shutdown.trigger(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standalone_route_accepts_any_function_name() {
        assert!(is_standalone_invoke(
            "/2015-03-31/functions/function/invocations"
        ));
        assert!(is_standalone_invoke(
            "/2015-03-31/functions/square/invocations"
        ));
        assert!(!is_standalone_invoke("/2015-03-31/functions//invocations"));
        assert!(!is_standalone_invoke(
            "/2015-03-31/functions/a/b/invocations"
        ));
        assert!(!is_standalone_invoke("/invoke"));
    }

    #[test]
    fn invoke_request_parses_localstack_shape() {
        let r: InvokeRequest = serde_json::from_str(
            r#"{"invoke-id":"abc","invoked-function-arn":"arn:x","payload":"{\"n\":1}","trace-id":"Root=1"}"#,
        )
        .unwrap();
        assert_eq!(r.invoke_id, "abc");
        assert_eq!(r.payload.as_deref(), Some(r#"{"n":1}"#));
        assert_eq!(r.trace_id.as_deref(), Some("Root=1"));
        let r: InvokeRequest =
            serde_json::from_str(r#"{"invoke-id":"abc","trace-id":null}"#).unwrap();
        assert_eq!(r.payload, None);
        assert!(serde_json::from_str::<InvokeRequest>(r#"{"payload":"x"}"#).is_err());
    }

    #[test]
    fn request_too_large_message_names_the_limit() {
        let m = request_too_large_message(7_000_000);
        assert!(m.contains("6291456") && m.contains("7000000"), "{m}");
    }
}
