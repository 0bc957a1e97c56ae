//! What can go wrong with a SAM project, each naming the logical ID (and `file:line:col` where
//! the template has one), each with its hint.

use std::fmt;
use std::path::{Path, PathBuf};

use lsk_aws::AwsError;
use lsk_build::BuildError;
use lsk_build::package::PackageError;

/// A place in a file: `path:line:col`, or the path alone when the place is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At {
    pub path: PathBuf,
    pub line: Option<(usize, usize)>,
}

impl At {
    pub fn new(path: &Path, line: usize, col: usize) -> At {
        At {
            path: path.to_path_buf(),
            line: Some((line, col)),
        }
    }
    pub fn file(path: &Path) -> At {
        At {
            path: path.to_path_buf(),
            line: None,
        }
    }
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some((l, c)) => write!(f, "{}:{l}:{c}", self.path.display()),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

/// What can go wrong with a SAM project.
#[derive(Debug, thiserror::Error)]
pub enum SamError {
    #[error("no SAM template in {dir} (looked for template.yaml, template.yml, template.json)")]
    NotFound { dir: PathBuf },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{at}: the template is not valid: {message}")]
    Syntax { at: At, message: String },
    #[error("{at}: {logical_id}: {message}")]
    Resource {
        at: At,
        logical_id: String,
        message: String,
        hint: Option<String>,
    },
    #[error("{at}: parameter {name} has no value: it has no Default and none was given")]
    MissingParameter { at: At, name: String },
    #[error("parameter override {name}: the template declares no such parameter (it has: {known})")]
    UnknownParameter { name: String, known: String },
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error(
        "the kit cannot run {} resource(s) of this template:\n{}",
        .resources.len(),
        .resources.iter().map(|(id, ty, why)| format!("  {id} ({ty}): {why}")).collect::<Vec<_>>().join("\n")
    )]
    Unsupported {
        resources: Vec<(String, String, String)>,
    },
    #[error("building {functions} (CodeUri {code_uri}) failed: {source}")]
    Build {
        functions: String,
        code_uri: String,
        #[source]
        source: Box<BuildError>,
    },
    #[error("packaging {logical_id} ({code}) failed: {source}")]
    Package {
        logical_id: String,
        code: String,
        #[source]
        source: PackageError,
    },
    #[error(transparent)]
    Aws(Box<AwsError>),
    #[error("stack {stack}: {message}")]
    Stack {
        stack: String,
        message: String,
        /// Each failed resource: logical ID, type, reason.
        failures: Vec<(String, String, String)>,
    },
    #[error(
        "stack {stack}: the deploy would delete bucket {logical_id} ({bucket}), which still holds objects; AWS refuses that too (DELETE_FAILED)"
    )]
    BucketNotEmpty {
        stack: String,
        logical_id: String,
        bucket: String,
    },
    #[error("`{command}` failed:\n{output}")]
    Tool { command: String, output: String },
    #[error("{what} timed out after {seconds} s (stack {stack})")]
    Timeout {
        stack: String,
        what: String,
        seconds: u64,
    },
}

impl From<AwsError> for SamError {
    fn from(e: AwsError) -> SamError {
        SamError::Aws(Box::new(e))
    }
}

impl SamError {
    /// What to do about it.
    pub fn hint(&self) -> Option<String> {
        match self {
            SamError::NotFound { .. } => Some(
                "run lsk in the directory of your SAM project, or name the template with --template PATH".into(),
            ),
            SamError::Syntax { .. } => Some("fix the template at the place shown".into()),
            SamError::Resource { hint, .. } => hint.clone(),
            SamError::MissingParameter { name, .. } => Some(format!(
                "give it a value: --parameter-overrides {name}=VALUE, or parameter_overrides in samconfig.toml, or a Default in the template"
            )),
            SamError::UnknownParameter { .. } => {
                Some("check the spelling against the template's Parameters".into())
            }
            SamError::Config { .. } => Some("fix samconfig.toml at the place shown".into()),
            SamError::Unsupported { .. } => Some(
                "remove them, or run without them with --allow-unsupported (they are then created as LocalStack's inert stand-ins and listed in the endpoint table)".into(),
            ),
            SamError::Build { source, .. } => source.hint(),
            SamError::Package { .. } | SamError::Read { .. } => None,
            SamError::Aws(e) => e.hint(),
            SamError::Stack { .. } => Some(
                "fix the resources named above and deploy again (`lsk deploy`); `lsk status` shows what is deployed".into(),
            ),
            SamError::BucketNotEmpty { bucket, .. } => Some(format!(
                "empty it first (awslocal s3 rm s3://{bucket} --recursive) or keep it in the template; nothing was changed"
            )),
            SamError::Tool { .. } => Some(
                "pip must reach the package index to install the SAM tools the first time (set PIP_INDEX_URL for a mirror); a template the tools refuse: see their output above".into(),
            ),
            SamError::Timeout { .. } => Some(
                "LocalStack's log (.lsk/state/localstack.log) says what it was doing".into(),
            ),
        }
    }
}

impl miette::Diagnostic for SamError {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.hint()
            .map(|h| Box::new(h) as Box<dyn fmt::Display + 'a>)
    }
}
