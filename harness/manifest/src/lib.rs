//! The `lsk.toml` manifest: which functions, queues, buckets, topics, rules, REST APIs and state
//! machines make up a stack.
//!
//! Parsing keeps TOML spans so that every problem is reported as
//! `lsk.toml:LINE:COL: key.path: what was expected, got what`, and validation collects every
//! problem in the file before failing, so nothing is deployed from a half-valid manifest.
//!
//! Naming: a function's and a queue's key is its name in LocalStack (`[functions.square]` deploys
//! the function `square`). A bucket's key is a logical name used in references; its S3 name is
//! `name = "..."` when given (S3 names are global on real AWS), else the key itself.
//!
//! Environment values and state machine definitions may reference other resources with
//! `${kind.name.attribute}` ([`RefKind::attributes`] lists what each kind has): buckets,
//! queues, functions, topics, APIs and state machines. They may be part of a longer string
//! (`s3://${bucket.images.name}/out`); `$${` writes a literal `${`.

pub mod arn;
pub mod kinds;
mod refs;
pub mod spans;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::kinds::{api, bucket, function, queue, rule, s3_trigger, state_machine, topic};
use spans::{Collector, Seg, key, line_col, render_path};

pub use crate::kinds::Target;
pub use crate::kinds::api::{Api, Route};
pub use crate::kinds::bucket::{Bucket, check_bucket_name};
pub use crate::kinds::function::{
    Architecture, DEFAULT_MEMORY_MB, DEFAULT_TIMEOUT_S, Function, check_function_name,
};
pub use crate::kinds::queue::{
    DEFAULT_MESSAGE_RETENTION_S, DEFAULT_VISIBILITY_TIMEOUT_S, DeadLetter, Queue, check_queue_name,
};
pub use crate::kinds::rule::{Rule, RuleTarget, Trigger};
pub use crate::kinds::s3_trigger::S3Trigger;
pub use crate::kinds::sqs_trigger::{DEFAULT_BATCH_SIZE, SqsTrigger};
pub use crate::kinds::state_machine::StateMachine;
pub use crate::kinds::topic::{Subscription, Topic};
pub use crate::kinds::url::{Cors, FunctionUrl, UrlAuth};
pub use refs::{EnvValue, RefAttr, RefKind, Reference, UnresolvedRef};

/// The manifest's file name, looked up from the current directory upwards.
pub const FILE_NAME: &str = "lsk.toml";

/// The top-level tables, one per kind that has its own; nested kinds (function URLs, triggers)
/// are validated by the kind that holds them.
const SECTIONS: &[&str] = &[
    function::SECTION,
    queue::SECTION,
    bucket::SECTION,
    topic::SECTION,
    rule::SECTION,
    api::SECTION,
    state_machine::SECTION,
];

/// One problem found in the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Dotted TOML key path, e.g. `functions.square.timeout` or `functions.x.sqs[0].queue`.
    pub key: String,
    /// What is wrong and what is expected.
    pub message: String,
    /// 1-based line and column, when the key is in the file.
    pub position: Option<(usize, usize)>,
}

/// Why a manifest could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error(
        "no {FILE_NAME} found in {start} or any parent directory; create one at the workspace root or pass --manifest PATH"
    )]
    NotFound { start: PathBuf },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", render_issues(path, issues))]
    Invalid { path: PathBuf, issues: Vec<Issue> },
}

// Nothing to add to the message: it names the file, line and column.
impl miette::Diagnostic for ManifestError {}

fn render_issues(path: &Path, issues: &[Issue]) -> String {
    let mut out = format!(
        "{} is not valid ({} problem{}):",
        path.display(),
        issues.len(),
        if issues.len() == 1 { "" } else { "s" }
    );
    for issue in issues {
        out.push_str("\n  ");
        out.push_str(&issue.render(path));
    }
    out
}

impl Issue {
    /// `path:line:col: key: message`
    pub fn render(&self, path: &Path) -> String {
        match self.position {
            Some((line, col)) => format!(
                "{}:{line}:{col}: {}: {}",
                path.display(),
                self.key,
                self.message
            ),
            None => format!("{}: {}: {}", path.display(), self.key, self.message),
        }
    }
}

/// A loaded, fully validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub path: PathBuf,
    pub functions: BTreeMap<String, Function>,
    pub queues: BTreeMap<String, Queue>,
    pub buckets: BTreeMap<String, Bucket>,
    pub topics: BTreeMap<String, Topic>,
    pub rules: BTreeMap<String, Rule>,
    pub apis: BTreeMap<String, Api>,
    pub state_machines: BTreeMap<String, StateMachine>,
    /// Things that deploy fine locally but deserve a look (e.g. would be refused by real AWS).
    pub warnings: Vec<String>,
}

impl Manifest {
    /// A manifest at `path` that declares nothing (what a SAM template's stack, or one of its
    /// builds, starts from).
    pub fn empty(path: PathBuf) -> Manifest {
        Manifest {
            path,
            functions: BTreeMap::new(),
            queues: BTreeMap::new(),
            buckets: BTreeMap::new(),
            topics: BTreeMap::new(),
            rules: BTreeMap::new(),
            apis: BTreeMap::new(),
            state_machines: BTreeMap::new(),
            warnings: Vec::new(),
        }
    }

    /// Walks up from `start` to the first directory holding `lsk.toml`.
    pub fn find(start: &Path) -> Result<PathBuf, ManifestError> {
        let mut dir = Some(start);
        while let Some(d) = dir {
            let candidate = d.join(FILE_NAME);
            if candidate.is_file() {
                return Ok(candidate);
            }
            dir = d.parent();
        }
        Err(ManifestError::NotFound {
            start: start.to_path_buf(),
        })
    }

    /// Reads and validates the manifest at `path`.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let src = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Manifest::parse(&src, path)
    }

    /// The directory holding the manifest: the workspace root.
    pub fn root(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Validates `src`; `path` is only used in messages and [`Manifest::path`].
    pub fn parse(src: &str, file: &Path) -> Result<Manifest, ManifestError> {
        let root = match DeTable::parse(src) {
            Ok(root) => root,
            Err(err) => {
                let position = err.span().map(|s| line_col(src, s.start));
                return Err(ManifestError::Invalid {
                    path: file.to_path_buf(),
                    issues: vec![Issue {
                        key: "(syntax)".into(),
                        message: format!("not valid TOML: {}", err.message().trim()),
                        position,
                    }],
                });
            }
        };
        let mut c = Collector {
            src,
            root: &root,
            issues: Vec::new(),
        };

        let mut sections: BTreeMap<&str, Vec<(String, Spanned<DeValue<'_>>)>> = BTreeMap::new();
        for (k, v) in root.get_ref().iter() {
            let section = k.get_ref().as_ref();
            match SECTIONS.iter().find(|s| **s == section) {
                Some(known) => match v.get_ref().as_table() {
                    Some(t) => {
                        let entries = t
                            .iter()
                            .map(|(name, value)| (name.get_ref().to_string(), value.clone()))
                            .collect();
                        sections.insert(known, entries);
                    }
                    None => c.at(
                        &[key(section)],
                        format!(
                            "expected a table of {section} ([{section}.<name>]), got a {}",
                            v.get_ref().type_str()
                        ),
                    ),
                },
                None => c.at(
                    &[key(section)],
                    format!("unknown section `{section}`; expected {}", one_of(SECTIONS)),
                ),
            }
        }

        // Declared names come from the keys, so references to an entry that has its own problems
        // are not reported twice.
        let declared = |s: &str| -> BTreeSet<String> {
            sections
                .get(s)
                .map(|e| e.iter().map(|(n, _)| n.clone()).collect())
                .unwrap_or_default()
        };
        let known = Declared {
            functions: declared(function::SECTION),
            queues: declared(queue::SECTION),
            buckets: declared(bucket::SECTION),
            topics: declared(topic::SECTION),
            apis: declared(api::SECTION),
            state_machines: declared(state_machine::SECTION),
        };
        let entries = |s: &str| sections.get(s).map(Vec::as_slice).unwrap_or_default();

        // Kinds that others refer to come first, so cross-kind rules can look at them.
        let mut warnings = Vec::new();
        let queues = queue::validate_section(&mut c, entries(queue::SECTION), &known);
        let buckets = bucket::validate_section(&mut c, entries(bucket::SECTION));
        let functions = function::validate_section(
            &mut c,
            entries(function::SECTION),
            &known,
            &queues,
            &mut warnings,
        );
        s3_trigger::validate_overlaps(&mut c, &functions);
        let topics = topic::validate_section(&mut c, entries(topic::SECTION), &known);
        let rules = rule::validate_section(&mut c, entries(rule::SECTION), &known);
        let apis = api::validate_section(&mut c, entries(api::SECTION), &known);
        let root_dir = file.parent().unwrap_or(Path::new("."));
        let state_machines = state_machine::validate_section(
            &mut c,
            entries(state_machine::SECTION),
            &known,
            root_dir,
        );
        if sections.values().all(|v| v.is_empty()) && c.issues.is_empty() {
            warnings.push(format!(
                "{} declares no resources: nothing to deploy",
                path_display(file)
            ));
        }

        if c.issues.is_empty() {
            Ok(Manifest {
                path: file.to_path_buf(),
                functions,
                queues,
                buckets,
                topics,
                rules,
                apis,
                state_machines,
                warnings,
            })
        } else {
            let mut issues = c.issues;
            issues.sort_by_key(|i| i.position.unwrap_or((usize::MAX, 0)));
            Err(ManifestError::Invalid {
                path: file.to_path_buf(),
                issues,
            })
        }
    }

    /// Queue names ordered so that every dead-letter queue comes before the queues using it.
    pub fn queues_in_deploy_order(&self) -> Vec<&Queue> {
        queue::in_deploy_order(self)
    }

    /// LocalStack services the manifest needs besides the kit's own (lambda, sqs, s3, logs, iam,
    /// sts), so LocalStack starts only what is used.
    pub fn services(&self) -> Vec<String> {
        crate::kinds::services(self)
    }

    /// The function that consumes `queue` (the first one with an SQS trigger on it).
    pub fn consumer_of(&self, queue: &str) -> Option<&Function> {
        self.functions
            .values()
            .find(|f| f.sqs.iter().any(|t| t.queue == queue))
    }
}

fn path_display(p: &Path) -> String {
    p.display().to_string()
}

/// The names each section declares, for references and cross-kind rules.
pub(crate) struct Declared {
    pub functions: BTreeSet<String>,
    pub queues: BTreeSet<String>,
    pub buckets: BTreeSet<String>,
    pub topics: BTreeSet<String>,
    pub apis: BTreeSet<String>,
    pub state_machines: BTreeSet<String>,
}

impl Declared {
    fn of(&self, kind: RefKind) -> &BTreeSet<String> {
        match kind {
            RefKind::Bucket => &self.buckets,
            RefKind::Queue => &self.queues,
            RefKind::Function => &self.functions,
            RefKind::Topic => &self.topics,
            RefKind::Api => &self.apis,
            RefKind::StateMachine => &self.state_machines,
        }
    }

    /// Reports each reference in `value` to a resource the manifest does not declare.
    pub(crate) fn check_references(&self, c: &mut Collector<'_, '_>, at: &[Seg], value: &EnvValue) {
        for r in value.references() {
            if !self.of(r.kind).contains(&r.name) {
                let section = r.kind.section();
                let name = render_path(&[key(&r.name)]);
                c.at(
                    at,
                    format!(
                        "{r} refers to {section}.{name} which is not declared; declare [{section}.{name}] or fix the name"
                    ),
                );
            }
        }
    }
}

/// `` `a`, `b` or `c` ``
fn one_of(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests;
