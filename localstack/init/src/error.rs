//! Typed errors of the init, and the Lambda-style JSON error bodies it hands out.

use std::net::SocketAddr;
use std::path::PathBuf;

use bytes::Bytes;
use http::StatusCode;

/// Invalid command line or environment: reported before anything is started.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "environment variable {name} is not set; {hint} (or run `lsk-init --standalone <dir>` without LocalStack)"
    )]
    MissingEnv {
        name: &'static str,
        hint: &'static str,
    },
    #[error("environment variable {name}={value:?} is invalid: {reason}")]
    InvalidEnv {
        name: &'static str,
        value: String,
        reason: String,
    },
    #[error(
        "--listen {addr} is not a loopback address: lsk-init only listens on 127.0.0.1 or ::1 so that functions are never reachable from the network"
    )]
    NonLoopbackListen { addr: SocketAddr },
    #[error("task root {path} is not usable: {reason}")]
    TaskRoot { path: PathBuf, reason: String },
    #[error("--env {value:?} is not of the form KEY=VALUE")]
    InvalidEnvFlag { value: String },
    #[error("--env {key} is not allowed: lsk-init sets that variable itself")]
    ReservedEnvFlag { key: String },
    #[error("{what} must be at least 1, got {value}")]
    OutOfRange { what: &'static str, value: u64 },
}

/// Why the bootstrap could not be started. Reported as `Runtime.InvalidEntrypoint`.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error(
        "Couldn't find valid bootstrap(s): [{}]: the function's code must contain an executable file named `bootstrap` at the root of the zip",
        path.display()
    )]
    Missing { path: PathBuf },
    #[error("{} is not a regular file; `bootstrap` must be the function's executable", path.display())]
    NotAFile { path: PathBuf },
    #[error(
        "{} is not executable (mode {mode:o}); make it executable (chmod +x) before zipping so the zip keeps the mode",
        path.display()
    )]
    NotExecutable { path: PathBuf, mode: u32 },
    #[error("could not start {}: {source}{hint}", path.display())]
    Exec {
        path: PathBuf,
        hint: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("could not create the pipe for the bootstrap's output: {0}")]
    Pipe(#[source] std::io::Error),
}

impl SpawnError {
    pub fn error_type(&self) -> &'static str {
        match self {
            SpawnError::Pipe(_) => "Runtime.Unknown",
            _ => "Runtime.InvalidEntrypoint",
        }
    }
}

/// A callback to LocalStack that did not go through.
#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    #[error("invalid callback URL {url:?}: {reason}")]
    Url { url: String, reason: String },
    #[error("could not send {what} to LocalStack at {url}: {source}")]
    Send {
        what: &'static str,
        url: String,
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    #[error("LocalStack answered {status} to {what} at {url}: {body}")]
    Status {
        what: &'static str,
        url: String,
        status: StatusCode,
        body: String,
    },
}

/// Failures while setting up the init itself (binary edge turns these into exit codes).
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("could not create the per-environment temp dir: {0}")]
    TempDir(#[source] std::io::Error),
    #[error("could not install the {signal} handler: {source}")]
    Signal {
        signal: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("could not announce the listening address on stdout: {0}")]
    Announce(#[source] std::io::Error),
}

/// An HTTP error answer in the JSON shape the Lambda APIs use.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status} {error_type}: {message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub error_type: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, error_type: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            error_type,
            message: message.into(),
        }
    }

    pub fn body(&self) -> Bytes {
        lambda_error_json(self.error_type, &self.message)
    }
}

/// `{"errorMessage": ..., "errorType": ...}`, the body every Lambda error uses.
pub fn lambda_error_json(error_type: &str, message: &str) -> Bytes {
    let value = serde_json::json!({ "errorMessage": message, "errorType": error_type });
    Bytes::from(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_json_escapes_and_names_both_fields() {
        let body = lambda_error_json("Runtime.ExitError", "said \"no\"\nthen left");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["errorType"], "Runtime.ExitError");
        assert_eq!(v["errorMessage"], "said \"no\"\nthen left");
    }

    #[test]
    fn spawn_errors_say_what_to_do() {
        let e = SpawnError::NotExecutable {
            path: "/code/bootstrap".into(),
            mode: 0o644,
        };
        let text = e.to_string();
        assert!(
            text.contains("/code/bootstrap") && text.contains("644") && text.contains("chmod +x")
        );
        assert_eq!(e.error_type(), "Runtime.InvalidEntrypoint");
    }
}
