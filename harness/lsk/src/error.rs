//! The crate-level error: each module's own error, plus the ones the library API adds. Every
//! error keeps its source, and says what to do about it through `hint()`, which is also its
//! `miette::Diagnostic::help`, so the CLI asks the error and never guesses from its text.

use crate::aws::AwsError;
use crate::backend::BackendError;
use crate::build::BuildError;
use crate::deploy::DeployError;
use crate::manifest::ManifestError;
use crate::package::PackageError;
use crate::sam::SamError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Package(#[from] PackageError),
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Deploy(#[from] DeployError),
    /// A SAM template: loading, building or deploying it.
    #[error(transparent)]
    Sam(Box<SamError>),
    #[error("{what} is not available for SAM templates yet")]
    NotForTemplates { what: &'static str },
    /// A call to LocalStack outside a deploy (invoke, send, read, observe).
    #[error(transparent)]
    Aws(#[from] AwsError),
    #[error("no {kind} named `{name}` in the manifest; it has: {known}")]
    UnknownResource {
        kind: &'static str,
        name: String,
        known: String,
    },
    #[error("{kind} `{name}` is in the manifest but not deployed")]
    NotDeployed { kind: &'static str, name: String },
    #[error("function {function} failed: {error_type}: {message}")]
    FunctionError {
        function: String,
        error_type: String,
        message: String,
        /// The end of the function's log, decoded.
        log_tail: Option<String>,
    },
    #[error("function {function} returned something that is not JSON: {detail}")]
    NotJson { function: String, detail: String },
    #[error(
        "function {0} has no function URL; add `url = {{ auth = \"NONE\" }}` to it in lsk.toml"
    )]
    NoUrl(String),
    #[error("HTTP {method} {url} failed: {detail}")]
    Http {
        method: String,
        url: String,
        detail: String,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<SamError> for Error {
    fn from(e: SamError) -> Error {
        Error::Sam(Box::new(e))
    }
}

impl Error {
    /// An error met while observing what is deployed (`lsk status`, handles): a failed SDK call
    /// there is not a deploy failure.
    pub(crate) fn observing(e: DeployError) -> Error {
        match e {
            DeployError::Aws(e) => Error::Aws(e),
            other => Error::Deploy(other),
        }
    }

    /// What to do about it, when there is more to say than the message.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Build(e) => e.hint(),
            Error::Backend(e) => e.hint(),
            Error::Deploy(e) => e.hint(),
            Error::Sam(e) => e.hint(),
            Error::NotForTemplates { .. } => {
                Some("`lsk deploy` after a change redeploys only what changed".into())
            }
            Error::Aws(e) => e.hint(),
            Error::NotDeployed { .. } => Some("run `lsk deploy` (or `lsk up`)".into()),
            Error::FunctionError { function, .. } => {
                Some(format!("`lsk logs {function}` shows the whole log"))
            }
            _ => None,
        }
    }
}

impl miette::Diagnostic for Error {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.hint()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display + 'a>)
    }
}
