//! The library entry points: load a stack, build and deploy it into a [`LocalStack`], and reach
//! what was deployed (invoke functions, call their URLs, use queues and buckets) from tests.
//!
//! ```no_run
//! # async fn demo() -> Result<(), lsk::Error> {
//! use lsk::{BackendChoice, LocalStack, Stack};
//! let stack = Stack::load("lsk.toml")?;
//! // The stack's root, and the services its kinds need (SNS for topics, ...).
//! let localstack = LocalStack::start(BackendChoice::Auto, stack.start_options()).await?;
//! let deployed = stack.deploy(&localstack).await?;
//! let answer = deployed.function("square")?.invoke(&serde_json::json!({"number": 6})).await?;
//! assert_eq!(answer["result"], 36);
//! localstack.stop().await?;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crate::aws::Clients;
use crate::backend::{BackendKind, LocalStack};
use crate::build::{self, BuildTarget};
use crate::deploy::{self, DeployOptions};
use crate::error::Error;
use crate::manifest::Manifest;
use crate::package::{self, Package};
use crate::progress::Progress;
use crate::sam::{self, LoadOptions, Project};

mod export;
mod handles;
mod sam_status;
mod status;

pub use handles::{
    ApiHandle, BucketHandle, Deployed, Execution, FunctionHandle, QueueHandle, StateMachineHandle,
    TopicHandle,
};

/// A stack: an `lsk.toml` manifest and the workspace it belongs to, or a SAM template.
#[derive(Debug, Clone)]
pub struct Stack {
    /// For a template: its path, warnings and no resources (the template holds them).
    manifest: Manifest,
    sam: Option<Arc<Project>>,
}

/// Settings of [`Stack::deploy_with`].
#[derive(Debug, Clone)]
pub struct DeployOpts {
    /// Remove functions lsk deployed for this project that the manifest no longer lists.
    pub prune: bool,
    /// Override how binaries are built (default: from the backend).
    pub target: Option<BuildTarget>,
    pub progress: Progress,
    /// A template's resources the kit does not run are deployed as LocalStack's stand-ins
    /// instead of refused.
    pub allow_unsupported: bool,
}

impl Default for DeployOpts {
    fn default() -> Self {
        DeployOpts {
            prune: true,
            target: None,
            progress: Progress::silent(),
            allow_unsupported: false,
        }
    }
}

/// `path`, absolute, so the root is right whatever the cwd becomes.
fn absolute(path: &Path) -> Result<std::path::PathBuf, Error> {
    if path.is_absolute() {
        return Ok(path.to_path_buf());
    }
    Ok(std::env::current_dir()
        .map_err(|source| Error::Io {
            what: "reading the current directory".into(),
            source,
        })?
        .join(path))
}

impl Stack {
    /// Loads and validates the stack at `path`: an `lsk.toml`, or a SAM template
    /// (`template.yaml`, `.yml`, `.json`) with its defaults and `samconfig.toml`.
    pub fn load(path: impl AsRef<Path>) -> Result<Stack, Error> {
        let path = absolute(path.as_ref())?;
        if sam::template::is_template_path(&path) {
            return Stack::load_template(&path, &LoadOptions::default());
        }
        Ok(Stack::from_manifest(Manifest::load(&path)?))
    }

    /// Loads the SAM template at `path` with parameter overrides or a stack name.
    pub fn load_template(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Stack, Error> {
        let path = absolute(path.as_ref())?;
        Ok(Stack::from_template(Project::load(&path, options)?))
    }

    /// The stack of the project at `start`: `lsk.toml` there, else a SAM template there (found
    /// as `sam` finds it), else the nearest `lsk.toml` above.
    pub fn discover(start: impl AsRef<Path>) -> Result<Stack, Error> {
        Stack::discover_with(start, &LoadOptions::default())
    }

    /// [`Stack::discover`], with what a template's deploy takes.
    pub fn discover_with(start: impl AsRef<Path>, options: &LoadOptions) -> Result<Stack, Error> {
        let start = absolute(start.as_ref())?;
        if !start.join(crate::manifest::FILE_NAME).is_file()
            && let Some(template) = sam::template::find_in(&start)
        {
            return Stack::load_template(template, options);
        }
        Stack::load(Manifest::find(&start)?)
    }

    pub fn from_manifest(manifest: Manifest) -> Stack {
        Stack {
            manifest,
            sam: None,
        }
    }

    pub fn from_template(project: Project) -> Stack {
        let mut manifest = Manifest::empty(project.path.clone());
        manifest.warnings = project.warnings.clone();
        Stack {
            manifest,
            sam: Some(Arc::new(project)),
        }
    }

    /// The manifest; for a SAM template, one with its path and warnings and no resources.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The SAM project, when the stack is a template.
    pub fn template(&self) -> Option<&Project> {
        self.sam.as_deref()
    }

    /// The workspace root (the manifest's directory).
    pub fn root(&self) -> &Path {
        self.manifest.root()
    }

    /// Options to start a LocalStack for this stack: its root, and the services its kinds need
    /// besides the kit's own (a LocalStack without them refuses the deploy).
    pub fn start_options(&self) -> crate::backend::StartOptions {
        crate::backend::StartOptions::new(self.root()).services(self.services())
    }

    /// The LocalStack services the stack needs besides the kit's own.
    pub fn services(&self) -> Vec<String> {
        match &self.sam {
            Some(p) => p.services(),
            None => self.manifest.services(),
        }
    }

    /// The project name recorded on deployed functions (the root directory's name).
    pub fn project(&self) -> String {
        self.root()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "lsk".into())
    }

    /// How binaries must be built for `localstack`, and a note when it had to guess.
    pub async fn build_target_for(&self, localstack: &LocalStack) -> (BuildTarget, Option<String>) {
        match localstack.backend() {
            BackendKind::Native => (BuildTarget::Host, None),
            // Our image is Debian bookworm: a host build runs there when this host is Linux
            // with a glibc no newer than bookworm's; otherwise cargo-lambda builds for an old glibc.
            BackendKind::Docker => match build::host_runs_in_kit_image().await {
                Ok(()) => (BuildTarget::Host, None),
                Err(why) => (
                    BuildTarget::Lambda,
                    Some(format!("building with cargo-lambda: {why}")),
                ),
            },
            BackendKind::DockerOfficial => (BuildTarget::Lambda, None),
            BackendKind::External => {
                if which::which("cargo-lambda").is_ok() {
                    (BuildTarget::Lambda, None)
                } else {
                    (
                        BuildTarget::Host,
                        Some(format!(
                            "building for this host: {} is an external LocalStack and cargo-lambda is not installed; if it runs Lambdas in containers, install cargo-lambda (pip install cargo-lambda ziglang) or pass --build-target lambda",
                            localstack.endpoint()
                        )),
                    )
                }
            }
        }
    }

    /// Builds every function for `target` in one cargo invocation (with `lsk-init` too when
    /// `include_init`, for the native backend).
    pub async fn build(
        &self,
        target: BuildTarget,
        include_init: bool,
        progress: &Progress,
    ) -> Result<build::Built, Error> {
        if let Some(p) = &self.sam {
            return Ok(sam::code::build(&p.functions, target, include_init, progress).await?);
        }
        Ok(build::build(&self.manifest, target, include_init, progress).await?)
    }

    /// Zips each built binary as `bootstrap`.
    pub fn package_built(&self, built: &build::Built) -> Result<BTreeMap<String, Package>, Error> {
        if let Some(p) = &self.sam {
            return Ok(sam::code::package(&p.functions, built)?);
        }
        let mut packages = BTreeMap::new();
        for (function, path) in &built.binaries {
            // Every built function comes from the manifest; the default is Lambda's own.
            let architecture = self
                .manifest
                .functions
                .get(function)
                .map(|f| f.architecture)
                .unwrap_or_default();
            let mut package = package::package_binary(path, architecture)?;
            package.build = built.target.map(|t| t.label().to_owned());
            packages.insert(function.clone(), package);
        }
        Ok(packages)
    }

    /// Builds every function for `target` and zips each as `bootstrap`.
    pub async fn package(
        &self,
        target: BuildTarget,
        progress: &Progress,
    ) -> Result<BTreeMap<String, Package>, Error> {
        let built = self.build(target, false, progress).await?;
        self.package_built(&built)
    }

    /// Builds, packages and deploys everything, removing functions no longer in the manifest.
    pub async fn deploy(&self, localstack: &LocalStack) -> Result<Deployed, Error> {
        self.deploy_with(localstack, &DeployOpts::default()).await
    }

    pub async fn deploy_with(
        &self,
        localstack: &LocalStack,
        opts: &DeployOpts,
    ) -> Result<Deployed, Error> {
        let target = match opts.target {
            Some(t) => t,
            None => {
                let (t, note) = self.build_target_for(localstack).await;
                if let Some(n) = note {
                    opts.progress.note(&format!("note: {n}"));
                }
                t
            }
        };
        let packages = self.package(target, &opts.progress).await?;
        self.apply(localstack, &packages, opts).await
    }

    /// Deploys already packaged functions (see [`Stack::package`]).
    pub async fn apply(
        &self,
        localstack: &LocalStack,
        packages: &BTreeMap<String, Package>,
        opts: &DeployOpts,
    ) -> Result<Deployed, Error> {
        let offered =
            crate::backend::external::check_services(localstack.endpoint(), &self.services())
                .await?;
        let clients = Clients::new(&localstack.sdk_config());
        if let Some(p) = &self.sam {
            let cfn = aws_sdk_cloudformation::Client::new(&localstack.sdk_config());
            let report = sam::deploy::deploy(
                p,
                packages,
                &cfn,
                &clients,
                &sam::deploy::SamDeployOptions {
                    allow_unsupported: opts.allow_unsupported,
                },
                &opts.progress,
            )
            .await?;
            let mut deployed = self.observe(localstack).await?;
            deployed.report = report;
            return Ok(deployed);
        }
        let (report, _) = deploy::apply(
            &self.manifest,
            packages,
            &clients,
            &DeployOptions {
                prune: opts.prune,
                project: self.project(),
                offered,
            },
            &opts.progress,
        )
        .await?;
        let mut deployed = self.observe(localstack).await?;
        deployed.report = report;
        Ok(deployed)
    }
}

pub use lsk_kit::paths::venv_bin;
