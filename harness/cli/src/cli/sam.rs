//! The command line's SAM parts: a template's `--parameter-overrides`, and `lsk export sam`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use miette::Result;

use lsk::progress::Progress;

use super::{Failed, Target, load_stack};

/// What `lsk export` writes.
#[derive(Debug, Subcommand)]
pub enum ExportFormat {
    /// A SAM template that `sam build && sam deploy` ships to AWS
    Sam {
        /// Where to write it (default: print it)
        #[arg(long, short, value_name = "PATH")]
        output: Option<PathBuf>,
        /// Check it with AWS's cfn-lint and `sam validate --lint` (pinned, installed into
        /// .lsk/sam-cli on first use; needs --output)
        #[arg(long, requires = "output")]
        validate: bool,
    },
}

/// One `K=V` of `--parameter-overrides` (also `ParameterKey=K,ParameterValue=V`).
pub fn parse_override(s: &str) -> Result<(String, String), String> {
    let pair = match s.strip_prefix("ParameterKey=") {
        Some(rest) => rest.split_once(",ParameterValue="),
        None => s.split_once('='),
    };
    match pair {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("{s}: expected KEY=VALUE")),
    }
}

pub(super) async fn export_sam(
    target: &Target,
    output: Option<PathBuf>,
    validate: bool,
) -> Result<ExitCode> {
    let stack = load_stack(target, false)?;
    let cwd = std::env::current_dir().map_err(Failed::io("reading the current directory"))?;
    let out = cwd.join(
        output
            .as_deref()
            .unwrap_or(std::path::Path::new("template.yaml")),
    );
    let yaml = stack.export_sam(&out).await?;
    match output {
        Some(_) => {
            if let Some(dir) = out.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(Failed::io(format!("creating {}", dir.display())))?;
            }
            std::fs::write(&out, yaml).map_err(Failed::io(format!("writing {}", out.display())))?;
            eprintln!(
                "wrote {}; ship it with `sam build && sam deploy --guided` (bucket names are parameters: they are global on AWS)",
                out.display()
            );
            if validate {
                let progress = Progress::auto();
                let bin = lsk::sam::tools::ensure_sam_cli(stack.root(), &progress).await?;
                let said = lsk::sam::tools::validate(&out, &bin).await?;
                eprintln!("{said}\ncfn-lint and `sam validate --lint`: no errors");
            }
        }
        None => print!("{yaml}"),
    }
    Ok(ExitCode::SUCCESS)
}
