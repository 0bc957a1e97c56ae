//! `up`: the one sequence that brings a stack up (pick the backend, build where the functions
//! will run, start LocalStack, deploy), called by `lsk up`, the end-to-end test fixture and the
//! bench alike.
//!
//! A compile error stops `up` before LocalStack starts: the host build runs first. Packaging
//! (hashing and deflating every binary) then runs on another core while LocalStack starts, since
//! neither needs the other.

use std::collections::BTreeMap;

use crate::backend::{self, BackendChoice, BackendKind, LocalStack, StartOptions};
use crate::build::BuildTarget;
use crate::error::Error;
use crate::package::Package;
use crate::stack::{DeployOpts, Deployed, Stack};

/// A running LocalStack with the stack deployed into it.
pub struct Up {
    pub localstack: LocalStack,
    pub deployed: Deployed,
}

/// What went wrong in [`Stack::up`], and whether LocalStack was left running.
#[derive(Debug, thiserror::Error)]
pub enum UpError {
    /// Before LocalStack ran, or starting it: nothing of `up` keeps running.
    #[error(transparent)]
    Start(#[from] Error),
    /// The deploy failed. LocalStack runs on at `endpoint` when it was started detached (as
    /// `lsk up` does, `kept_running`); an attached one stops with `up`.
    #[error("deploy failed; {}\n  caused by: {source}", where_localstack_is(endpoint, *kept_running))]
    Deploy {
        endpoint: String,
        kept_running: bool,
        #[source]
        source: Error,
    },
}

fn where_localstack_is(endpoint: &str, kept_running: bool) -> String {
    if kept_running {
        format!("LocalStack keeps running at {endpoint}")
    } else {
        format!("the LocalStack started for it at {endpoint} was stopped")
    }
}

impl UpError {
    pub fn hint(&self) -> Option<String> {
        match self {
            UpError::Start(e) => e.hint(),
            UpError::Deploy {
                source,
                kept_running,
                ..
            } => Some(source.hint().unwrap_or_else(|| {
                if *kept_running {
                    "fix the problem and run `lsk deploy`, or `lsk down`".into()
                } else {
                    "fix the problem and run it again".into()
                }
            })),
        }
    }
}

impl miette::Diagnostic for UpError {
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.hint()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display + 'a>)
    }
}

impl Stack {
    /// Brings the stack up on `choice`: LocalStack from `start` (reused when it runs already
    /// and `start.detach` is set), the functions built for where they run (or as
    /// `deploy.target` says), then deployed.
    pub async fn up(
        &self,
        choice: BackendChoice,
        mut start: StartOptions,
        deploy: &DeployOpts,
    ) -> Result<Up, UpError> {
        // A template the kit cannot run is refused before anything is built or started.
        if let Some(project) = self.template() {
            crate::sam::deploy::check_supported(
                project,
                &crate::sam::deploy::SamDeployOptions {
                    allow_unsupported: deploy.allow_unsupported,
                },
            )
            .map_err(Error::from)?;
        }
        let selection = backend::select_here(
            choice,
            start.endpoint.as_deref(),
            &start.env,
            &start.project_root,
        )
        .await;
        // The docker backend's own image holds lsk-init too, and a host build runs there when
        // this host's glibc is no newer than the image's.
        let host_builds = selection.kind == BackendKind::Native
            || (selection.kind == BackendKind::Docker
                && crate::build::host_runs_in_kit_image().await.is_ok());
        let kept_running = start.detach;
        let (localstack, deployed) =
            if host_builds && deploy.target.is_none_or(|t| t == BuildTarget::Host) {
                let built = self
                    .build(BuildTarget::Host, true, &deploy.progress)
                    .await?;
                start = start.init_bin(built.init.clone());
                let packaging = {
                    let stack = self.clone();
                    tokio::task::spawn_blocking(move || stack.package_built(&built))
                };
                let (localstack, packages) =
                    tokio::join!(LocalStack::start_selected(selection, start), packaging);
                let localstack = localstack.map_err(Error::from)?;
                let packages: BTreeMap<String, Package> = match packages {
                    Ok(p) => p.map_err(UpError::Start)?,
                    Err(joined) => {
                        return Err(UpError::Start(Error::Io {
                            what: "packaging the functions".into(),
                            source: std::io::Error::other(joined.to_string()),
                        }));
                    }
                };
                let deployed = self.apply(&localstack, &packages, deploy).await;
                (localstack, deployed)
            } else {
                let localstack = LocalStack::start_selected(selection, start)
                    .await
                    .map_err(Error::from)?;
                let deployed = self.deploy_with(&localstack, deploy).await;
                (localstack, deployed)
            };
        match deployed {
            Ok(deployed) => Ok(Up {
                localstack,
                deployed,
            }),
            Err(source) => Err(UpError::Deploy {
                endpoint: localstack.endpoint().to_owned(),
                kept_running,
                source,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_deploy_says_where_localstack_runs_and_keeps_its_cause_and_hint() {
        let failed = |kept_running| UpError::Deploy {
            endpoint: "http://127.0.0.1:4566".into(),
            kept_running,
            source: Error::NotDeployed {
                kind: "function",
                name: "square".into(),
            },
        };
        let (detached, attached) = (failed(true), failed(false));
        assert!(std::error::Error::source(&detached).is_some());
        assert_eq!(
            detached.to_string(),
            "deploy failed; LocalStack keeps running at http://127.0.0.1:4566\n  caused by: function `square` is in the manifest but not deployed"
        );
        assert_eq!(
            detached.hint().as_deref(),
            Some("run `lsk deploy` (or `lsk up`)")
        );
        assert_eq!(
            attached.to_string(),
            "deploy failed; the LocalStack started for it at http://127.0.0.1:4566 was stopped\n  caused by: function `square` is in the manifest but not deployed"
        );
    }
}
