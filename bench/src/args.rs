//! The command line: which sections to run or leave out, and extra settings for the LocalStacks
//! the bench starts.

use std::path::PathBuf;

use clap::Parser;

use crate::report::{self, Section};

/// Measure the kit: latency against LocalStack's floor, throughput, cold starts, the image
/// pipeline, the developer loop, memory.
#[derive(Debug, Parser)]
#[command(name = "lsk-bench", version)]
pub(crate) struct Args {
    /// Fewer samples and shorter runs: a smoke test of the bench itself, not figures to quote
    #[arg(long)]
    pub(crate) quick: bool,
    /// Leave out a part (repeatable)
    #[arg(long, value_enum, value_name = "SECTION")]
    skip: Vec<Section>,
    /// Add a part the default run leaves out (repeatable): `reader`, the executor's own HTTP
    /// reader against h11
    #[arg(long = "with", value_enum, value_name = "SECTION")]
    with: Vec<Section>,
    /// Workspace root (default: the nearest directory holding lsk.toml, from the current one up)
    #[arg(long)]
    pub(crate) root: Option<PathBuf>,
    /// Extra setting for the LocalStacks the bench starts itself (not the developer loop's
    /// `lsk up`), e.g. `--ls-env LS_LOG=error` (repeatable; to see what a setting changes)
    #[arg(long = "ls-env", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub(crate) ls_env: Vec<(String, String)>,
}

impl Args {
    /// `--skip`, and the opt-in parts not asked for with `--with`.
    pub(crate) fn skipped(&self) -> Vec<Section> {
        let mut skipped = self.skip.clone();
        skipped.extend(
            report::OPT_IN
                .iter()
                .filter(|s| !self.with.contains(s) && !self.skip.contains(s)),
        );
        skipped
    }
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v))
            if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            Ok((k.to_owned(), v.to_owned()))
        }
        _ => Err(format!("{s:?} is not KEY=VALUE (e.g. LS_LOG=error)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reader_comparison_runs_only_when_asked_for() {
        let default = Args::parse_from(["lsk-bench"]).skipped();
        assert_eq!(default, [Section::Reader]);
        let with = Args::parse_from(["lsk-bench", "--with", "reader"]).skipped();
        assert!(with.is_empty(), "{with:?}");
        let both = Args::parse_from(["lsk-bench", "--with", "reader", "--skip", "reader"]);
        assert_eq!(both.skipped(), [Section::Reader]);
        let docker = Args::parse_from(["lsk-bench", "--skip", "docker"]).skipped();
        assert_eq!(docker, [Section::Docker, Section::Reader]);
    }
}
