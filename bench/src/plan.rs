//! What a run does, from its arguments: how many samples of everything and which sections
//! ([`Plan`]), and where ([`Ctx`]: the workspace, its stack, the bench's directory).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use serde::Serialize;

use lsk::Stack;

use crate::FUNCTION;
use crate::args::Args;
use crate::memory;
use crate::report::{self, Section};

/// How much of everything to do.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Plan {
    pub(crate) quick: bool,
    pub(crate) warmup: usize,
    pub(crate) samples: usize,
    pub(crate) standalone_samples: usize,
    pub(crate) throughput_secs: f64,
    pub(crate) cold_samples: usize,
    pub(crate) pipeline_prompts: usize,
    pub(crate) pipeline_timeout_secs: u64,
    pub(crate) devloop_reps: usize,
    /// LocalStack's memory over many warm invokes.
    pub(crate) soak: memory::Soak,
    /// Containers started only to time their start to Ready, besides the measured one.
    pub(crate) docker_starts: usize,
    pub(crate) nonce: String,
    pub(crate) skipped: Vec<Section>,
    /// Extra settings given with `--ls-env`.
    pub(crate) localstack_env: Vec<(String, String)>,
}

impl Plan {
    fn new(quick: bool, skipped: Vec<Section>, localstack_env: Vec<(String, String)>) -> Plan {
        let nonce = format!(
            "{:x}{:x}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis()),
            std::process::id()
        );
        if quick {
            Plan {
                quick,
                warmup: 20,
                samples: 200,
                standalone_samples: 300,
                throughput_secs: 1.0,
                cold_samples: 3,
                pipeline_prompts: 100,
                pipeline_timeout_secs: 120,
                devloop_reps: 1,
                soak: memory::Soak {
                    warmup: 500,
                    invokes: 2_000,
                    clients: 2,
                },
                docker_starts: 0,
                nonce,
                skipped,
                localstack_env,
            }
        } else {
            Plan {
                quick,
                warmup: 50,
                samples: 1000,
                standalone_samples: 2000,
                throughput_secs: 3.0,
                cold_samples: 10,
                pipeline_prompts: 500,
                pipeline_timeout_secs: 300,
                devloop_reps: 3,
                soak: memory::Soak {
                    warmup: 2_000,
                    invokes: report::SOAK_INVOKES,
                    clients: 2,
                },
                docker_starts: 4,
                nonce,
                skipped,
                localstack_env,
            }
        }
    }

    pub(crate) fn runs(&self, s: Section) -> bool {
        !self.skipped.contains(&s)
    }
}

pub(crate) struct Ctx {
    pub(crate) root: PathBuf,
    pub(crate) bench_dir: PathBuf,
    pub(crate) plan: Plan,
    pub(crate) stack: Stack,
}

impl Ctx {
    pub(crate) async fn new(args: &Args) -> Result<Ctx> {
        let root = match &args.root {
            Some(r) => r.clone(),
            None => {
                let cwd = std::env::current_dir().context("reading the current directory")?;
                match lsk::Manifest::find(&cwd) {
                    Ok(path) => path
                        .parent()
                        .map(Path::to_path_buf)
                        .ok_or_else(|| anyhow!("{} has no parent", path.display()))?,
                    // Run from elsewhere: the workspace this binary was built from.
                    Err(_) => Path::new(env!("CARGO_MANIFEST_DIR"))
                        .parent()
                        .map(Path::to_path_buf)
                        .ok_or_else(|| anyhow!("no workspace root above the bench crate"))?,
                }
            }
        };
        let root = root
            .canonicalize()
            .with_context(|| format!("workspace root {}", root.display()))?;
        let stack = Stack::load(root.join("lsk.toml"))
            .with_context(|| format!("loading {}", root.join("lsk.toml").display()))?;
        if !stack.manifest().functions.contains_key(FUNCTION) {
            return Err(anyhow!(
                "lsk.toml has no function `{FUNCTION}`; the bench measures the example stack"
            ));
        }
        let target_dir = lsk::build::workspace(&root)
            .await
            .context("asking cargo metadata for the target directory")?
            .target_directory;
        let bench_dir = target_dir.join("bench");
        std::fs::create_dir_all(&bench_dir)
            .with_context(|| format!("creating {}", bench_dir.display()))?;
        Ok(Ctx {
            root,
            bench_dir,
            plan: Plan::new(args.quick, args.skipped(), args.ls_env.clone()),
            stack,
        })
    }

    pub(crate) fn devloop_dir(&self) -> PathBuf {
        self.bench_dir.join("devloop")
    }
}
