//! What can go wrong building, each with its hint.

use super::*;

/// What can go wrong building.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("could not run `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`cargo metadata` failed in {root}: {detail}")]
    Metadata { root: PathBuf, detail: String },
    #[error(
        "{key}: package `{package}` is not a member of the workspace at {root}; members are: {members}"
    )]
    UnknownPackage {
        key: String,
        package: String,
        root: PathBuf,
        members: String,
    },
    #[error(
        "{key}: package `{package}` has no binary target; a Lambda needs a `[[bin]]` (or src/main.rs)"
    )]
    NoBinary { key: String, package: String },
    #[error(
        "{key}: package `{package}` has several binaries ({bins}); say which with `bin = \"...\"`"
    )]
    AmbiguousBinary {
        key: String,
        package: String,
        bins: String,
    },
    #[error("{key}: package `{package}` has no binary `{bin}`; it has: {bins}")]
    UnknownBinary {
        key: String,
        package: String,
        bin: String,
        bins: String,
    },
    #[error(
        "functions {first} and {second} use binaries named `{bin}` from different packages; cargo cannot build both into one target directory"
    )]
    BinaryClash {
        bin: String,
        first: String,
        second: String,
    },
    #[error("`{command}` failed:\n{output}")]
    Compile { command: String, output: String },
    #[error("cargo reported success but {bin} was not found (looked for {path})")]
    Missing { bin: String, path: PathBuf },
    #[error("could not take the build directory's lock {path}: {source}")]
    Lock {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not keep the built {from} as {to}: {source}")]
    Keep {
        from: PathBuf,
        to: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "building for Lambda needs cargo-lambda, which is neither in {venv} nor on PATH, and {path}, which pins the version lsk installs, does not exist"
    )]
    BuildToolsMissing { venv: PathBuf, path: PathBuf },
    #[error("could not create {venv} to install cargo-lambda into: {source}")]
    ToolVenv {
        venv: PathBuf,
        #[source]
        source: lsk_kit::venv::VenvError,
    },
    #[error(transparent)]
    Kit(#[from] crate::kit::KitError),
    #[error(
        "{}: functions.{function}.architecture is \"{}\", but this host builds and runs {} binaries (LocalStack runs functions as processes of this machine)",
        .manifest.display(), .declared.as_str(), .host
    )]
    ForeignArchitecture {
        manifest: PathBuf,
        function: String,
        declared: Architecture,
        /// The host's CPU, as Rust names it (`x86_64`, `aarch64`).
        host: &'static str,
    },
    #[error("installing cargo-lambda and zig into {venv} failed (`{command}`):\n{output}")]
    ToolInstall {
        venv: PathBuf,
        command: String,
        output: String,
    },
}

impl BuildError {
    pub fn hint(&self) -> Option<String> {
        match self {
            BuildError::BuildToolsMissing { .. } => Some(
                "remove .lsk/kit so lsk unpacks its files again, or install cargo-lambda and zig yourself (`pip install cargo-lambda ziglang`, or `cargo install cargo-lambda` and a zig on PATH); the native backend (--backend native) needs neither"
                    .into(),
            ),
            BuildError::ToolVenv { .. } => Some(
                "see .lsk/install.log for what failed, or install cargo-lambda and zig yourself (`pip install cargo-lambda ziglang`) so lsk finds cargo-lambda on PATH"
                    .into(),
            ),
            BuildError::ToolInstall { .. } => Some(
                "pip must reach the package index (set PIP_INDEX_URL for a mirror); retry with `make bench-tools`, or install cargo-lambda and zig yourself (`pip install cargo-lambda ziglang`) so lsk finds cargo-lambda on PATH"
                    .into(),
            ),
            BuildError::Compile { .. } => {
                Some("fix the compiler errors above and run the command again".into())
            }
            BuildError::ForeignArchitecture { function, .. } => Some(format!(
                "remove `architecture` from [functions.{function}] to build it for this machine; an arm64 function runs on an arm64 host (e.g. Apple silicon, Graviton), and `--build-target lambda` builds it for AWS"
            )),
            _ => None,
        }
    }
}

impl miette::Diagnostic for BuildError {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.hint()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display + 'a>)
    }
}
