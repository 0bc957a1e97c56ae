//! SAM projects on the kit: a `template.yaml` found as `sam` finds it, its parameters resolved
//! (`samconfig.toml`, `--parameter-overrides`), its functions' code located and built like
//! `sam build`, and the whole template deployed through LocalStack's CloudFormation engine,
//! which applies AWS's own SAM transform (`aws-sam-translator`, in the kit's venv). Nothing here
//! translates SAM by hand.
//!
//! The facade (`lsk::Stack`) loads a [`Project`] when the stack's file is a template, builds
//! with [`code::build`], deploys with [`deploy::deploy`] and reads the stack back with
//! [`observe`].

pub mod code;
pub mod config;
pub mod deploy;
mod error;
pub mod export;
pub mod observe;
pub mod support;
pub mod template;
pub mod tools;

pub use error::{At, SamError};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::code::SamFunction;
use crate::support::Unsupported;

/// A SAM project: its template and what a deploy of it takes.
#[derive(Debug, Clone)]
pub struct Project {
    /// The template file.
    pub path: PathBuf,
    /// Its text, for `file:line:col` in messages.
    pub text: String,
    /// The template as JSON (short-form tags in their long form).
    pub template: Value,
    /// The CloudFormation stack: samconfig's `stack_name`, else the directory's name.
    pub stack_name: String,
    /// Every parameter with its value.
    pub parameters: BTreeMap<String, String>,
    pub functions: Vec<SamFunction>,
    /// What the kit does not run (refused unless allowed).
    pub unsupported: Vec<Unsupported>,
    /// What deploys but deserves a look.
    pub warnings: Vec<String>,
}

/// How to load a project besides its file.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// `--parameter-overrides`, winning over samconfig's.
    pub parameter_overrides: Vec<(String, String)>,
    /// `--stack-name`, winning over samconfig's.
    pub stack_name: Option<String>,
}

impl Project {
    /// Reads, checks and resolves the template at `path`.
    pub fn load(path: &Path, options: &LoadOptions) -> Result<Project, SamError> {
        let text = std::fs::read_to_string(path).map_err(|source| SamError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let template = template::parse(path, &text)?;
        if !template.get("Resources").is_some_and(Value::is_object) {
            return Err(SamError::Syntax {
                at: At::file(path),
                message: "the template has no Resources".into(),
            });
        }
        for (id, resource) in support::resources(&template) {
            if resource.get("Type").and_then(Value::as_str).is_none() {
                let at = template::locate(&text, &["Resources", id])
                    .map(|(l, c)| At::new(path, l, c))
                    .unwrap_or_else(|| At::file(path));
                return Err(SamError::Resource {
                    at,
                    logical_id: id.clone(),
                    message: "has no Type".into(),
                    hint: Some(
                        "every resource needs a Type, e.g. AWS::Serverless::Function".into(),
                    ),
                });
            }
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        let samconfig = config::read_samconfig(dir)?;
        let mut overrides = samconfig.parameter_overrides.clone();
        overrides.extend(options.parameter_overrides.iter().cloned());
        let parameters = config::resolve_parameters(path, &text, &template, &overrides)?;
        let stack_name = options
            .stack_name
            .clone()
            .or(samconfig.stack_name.clone())
            .unwrap_or_else(|| {
                let dir_name = std::fs::canonicalize(dir)
                    .ok()
                    .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .unwrap_or_else(|| "sam-app".into());
                config::stack_name_from(&dir_name)
            });
        let functions = code::functions(path, &text, &template)?;
        let mut warnings = support::warnings(&template);
        if !samconfig.ignored.is_empty() {
            warnings.push(format!(
                "samconfig.toml: {} ignored here (the kit deploys to its own LocalStack, region and account)",
                samconfig.ignored.join(", ")
            ));
        }
        Ok(Project {
            unsupported: support::unsupported(&template),
            path: path.to_path_buf(),
            text,
            template,
            stack_name,
            parameters,
            functions,
            warnings,
        })
    }

    /// The project's directory (the template's).
    pub fn root(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// The LocalStack services the template needs besides the kit's own.
    pub fn services(&self) -> Vec<String> {
        support::services(&self.template)
    }

    /// A function of the template by logical ID.
    pub fn function(&self, logical_id: &str) -> Option<&SamFunction> {
        self.functions.iter().find(|f| f.logical_id == logical_id)
    }
}

#[cfg(test)]
mod tests;
