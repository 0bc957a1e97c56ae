//! What can go wrong choosing, starting or stopping LocalStack, each with its hint.

use super::*;

/// What can go wrong getting a LocalStack.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error(transparent)]
    Native(#[from] native::NativeError),
    #[error("{endpoint} is not a usable endpoint: {why}")]
    BadEndpoint { endpoint: String, why: String },
    #[error("LocalStack at {endpoint} is not healthy: {detail}")]
    Unhealthy { endpoint: String, detail: String },
    #[error("no {backend} LocalStack is running{at}; start one with `lsk up`{also}")]
    NotRunning {
        backend: BackendKind,
        at: String,
        also: String,
    },
    #[error(
        "the docker backend needs a Docker daemon, but {why}; start Docker, or use --backend native"
    )]
    DockerUnavailable { why: String },
    #[error("docker {step} failed{}: {detail}", if command.is_empty() { String::new() } else { format!(" ({command})") })]
    Docker {
        step: String,
        command: String,
        detail: String,
    },
    #[error("building lsk-init failed: {0}")]
    Init(#[source] Box<crate::build::BuildError>),
    #[error("our LocalStack image: {step} failed: {detail}")]
    Image {
        step: String,
        detail: String,
        hint: Option<String>,
    },
    #[error("the LocalStack container did not become ready: {detail}")]
    ContainerFailed { detail: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the LocalStack at {endpoint} was started without {} which the manifest uses",
        missing.join(", ")
    )]
    MissingServices {
        endpoint: String,
        missing: Vec<String>,
    },
}

impl BackendError {
    /// What to do about it, when there is something beyond the message.
    pub fn hint(&self) -> Option<String> {
        match self {
            BackendError::MissingServices { .. } => Some(
                "restart it so it starts them: `lsk down`, then `lsk up` (an external LocalStack needs them in its SERVICES)".into(),
            ),
            BackendError::Unhealthy { endpoint, .. } => Some(format!(
                "check that LocalStack runs at {endpoint} (curl {endpoint}/_localstack/health), or unset LOCALSTACK_ENDPOINT / AWS_ENDPOINT_URL to let lsk start one"
            )),
            BackendError::Native(e) => e.hint(),
            BackendError::Image { hint, .. } => hint.clone(),
            BackendError::DockerUnavailable { .. } => Some(
                "the native backend needs no Docker: `lsk up --backend native` (Linux, Python 3.11-3.13)"
                    .into(),
            ),
            _ => None,
        }
    }
}

impl miette::Diagnostic for BackendError {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.hint()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display + 'a>)
    }
}
