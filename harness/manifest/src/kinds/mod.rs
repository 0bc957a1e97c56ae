//! The resource kinds a manifest declares, one module each: its types, its section of
//! `lsk.toml` and how that is validated (every problem with its `file:line:col`). How a kind is
//! observed and reconciled in LocalStack is its deploy half, in the `lsk-deploy` crate.
//!
//! To add a kind: add its module here and register it in [`crate::SECTIONS`] and
//! [`crate::Manifest::parse`] (its section and validation, in dependency order), then give it a
//! deploy half (`lsk_deploy::kinds`).

pub mod api;
pub mod bucket;
pub mod function;
pub mod queue;
pub mod rule;
pub mod s3_trigger;
pub mod sqs_trigger;
pub mod state_machine;
pub mod topic;
pub mod url;

use serde::{Deserialize, Serialize};

use crate::arn;
use crate::spans::{Collector, Seg, key, render_path, with};
use crate::{Declared, Manifest};

/// The LocalStack services the kinds `manifest` uses need beyond the kit's own (lambda, sqs,
/// s3, logs, iam, sts).
pub fn services(manifest: &Manifest) -> Vec<String> {
    let mut out = Vec::new();
    if !manifest.topics.is_empty() {
        out.push("sns".to_owned());
    }
    if !manifest.rules.is_empty() {
        out.push("events".to_owned());
    }
    if !manifest.apis.is_empty() {
        out.push("apigateway".to_owned());
    }
    if !manifest.state_machines.is_empty() {
        out.push("stepfunctions".to_owned());
    }
    out
}

/// Where a rule or a topic subscription delivers: a function of the manifest or one of its
/// queues.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    Function(String),
    Queue(String),
}

impl Target {
    /// The target's ARN in LocalStack.
    pub fn arn(&self, region: &str) -> String {
        match self {
            Target::Function(f) => arn::function_arn(region, f),
            Target::Queue(q) => arn::queue_arn(region, q),
        }
    }

    /// `function square` / `queue jobs`
    pub fn describe(&self) -> String {
        match self {
            Target::Function(f) => format!("function {f}"),
            Target::Queue(q) => format!("queue {q}"),
        }
    }
}

/// `{ function = "x" }` or `{ queue = "y" }` in the manifest.
#[derive(Debug, Deserialize)]
pub(crate) struct RawTarget {
    #[serde(default)]
    pub function: Option<String>,
    #[serde(default)]
    pub queue: Option<String>,
}

impl RawTarget {
    /// Exactly one of `function` or `queue`, naming a declared resource.
    pub(crate) fn validate(
        self,
        c: &mut Collector<'_, '_>,
        at: &[Seg],
        known: &Declared,
    ) -> Option<Target> {
        match (self.function, self.queue) {
            (Some(f), None) => {
                if known.functions.contains(&f) {
                    Some(Target::Function(f))
                } else {
                    c.at(
                        &with(at, &[key("function")]),
                        format!(
                            "function `{f}` is not declared; add [functions.{}] or fix the name",
                            render_path(&[key(&f)])
                        ),
                    );
                    None
                }
            }
            (None, Some(q)) => {
                if known.queues.contains(&q) {
                    Some(Target::Queue(q))
                } else {
                    c.at(
                        &with(at, &[key("queue")]),
                        format!(
                            "queue `{q}` is not declared; add [queues.{}] or fix the name",
                            render_path(&[key(&q)])
                        ),
                    );
                    None
                }
            }
            (Some(_), Some(_)) => {
                c.at(
                    at,
                    "name either a function or a queue, not both: { function = \"name\" } or { queue = \"name\" }",
                );
                None
            }
            (None, None) => {
                c.at(
                    at,
                    "no target: write { function = \"name\" } or { queue = \"name\" }",
                );
                None
            }
        }
    }
}

/// A JSON document given in the manifest either as a TOML table (`{ source = ["shop"] }`) or as
/// a string of JSON (`'{"source": ["shop"]}'`). Returns the document, or reports why not.
pub(crate) fn json_document(
    c: &mut Collector<'_, '_>,
    at: &[Seg],
    value: serde_json::Value,
    what: &str,
) -> Option<serde_json::Value> {
    match value {
        serde_json::Value::String(text) => {
            match serde_json::from_str(&text) {
                Ok(doc) => Some(doc),
                Err(e) => {
                    c.at(
                    at,
                    format!("{what} is not valid JSON ({e}); write it as a TOML table or a JSON string"),
                );
                    None
                }
            }
        }
        doc => Some(doc),
    }
}
