//! The `lsk.toml` manifest: which functions, queues and buckets make up a stack.
//!
//! Parsing keeps TOML spans so that every problem is reported as
//! `lsk.toml:LINE:COL: key.path: what was expected, got what`, and validation collects every
//! problem in the file before failing, so nothing is deployed from a half-valid manifest.
//!
//! Naming: a function's and a queue's key is its name in LocalStack (`[functions.square]` deploys
//! the function `square`). A bucket's key is a logical name used in references; its S3 name is
//! `name = "..."` when given (S3 names are global on real AWS), else the key itself.
//!
//! Environment values may reference other resources with `${kind.name.attribute}`:
//! `${bucket.<key>.name}`, `${bucket.<key>.arn}`, `${queue.<name>.url}`, `${queue.<name>.arn}`,
//! `${queue.<name>.name}`, `${function.<name>.name}`, `${function.<name>.arn}`. They may be part of
//! a longer string (`s3://${bucket.images.name}/out`); `$${` writes a literal `${`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// The manifest's file name, looked up from the current directory upwards.
pub const FILE_NAME: &str = "lsk.toml";

pub const DEFAULT_MEMORY_MB: i32 = 128;
pub const DEFAULT_TIMEOUT_S: i32 = 3;
pub const DEFAULT_BATCH_SIZE: i32 = 10;
/// SQS defaults, applied when the manifest leaves them out (the manifest is the truth, so a removed
/// setting goes back to the default rather than keeping an old value).
pub const DEFAULT_VISIBILITY_TIMEOUT_S: i32 = 30;
pub const DEFAULT_MESSAGE_RETENTION_S: i32 = 345_600;

/// Environment variables Lambda sets itself and refuses in a function's configuration.
const RESERVED_ENV: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
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

/// CPU architecture of a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum Architecture {
    #[default]
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "arm64")]
    Arm64,
}

impl Architecture {
    /// The name Lambda uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

/// Who may call a function URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum UrlAuth {
    #[serde(rename = "NONE")]
    None,
    #[serde(rename = "AWS_IAM")]
    AwsIam,
}

impl UrlAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            UrlAuth::None => "NONE",
            UrlAuth::AwsIam => "AWS_IAM",
        }
    }
}

/// CORS settings of a function URL (Lambda's own field set).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cors {
    #[serde(default)]
    pub allow_origins: Vec<String>,
    #[serde(default)]
    pub allow_methods: Vec<String>,
    #[serde(default)]
    pub allow_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    #[serde(default)]
    pub allow_credentials: Option<bool>,
    #[serde(default)]
    pub max_age: Option<i32>,
}

/// A function URL.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionUrl {
    pub auth: UrlAuth,
    #[serde(default)]
    pub cors: Option<Cors>,
}

/// Which resource kind a reference points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RefKind {
    Bucket,
    Queue,
    Function,
}

/// Which attribute of the resource a reference wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RefAttr {
    Name,
    Url,
    Arn,
}

/// `${kind.name.attr}` inside an environment value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Reference {
    pub kind: RefKind,
    pub name: String,
    pub attr: RefAttr,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            RefKind::Bucket => "bucket",
            RefKind::Queue => "queue",
            RefKind::Function => "function",
        };
        let attr = match self.attr {
            RefAttr::Name => "name",
            RefAttr::Url => "url",
            RefAttr::Arn => "arn",
        };
        write!(f, "${{{kind}.{}.{attr}}}", self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Ref(Reference),
}

/// An environment value, possibly with references, parsed once at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvValue {
    raw: String,
    parts: Vec<Part>,
}

/// A reference that could not be resolved at deploy time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reference} cannot be resolved: {why}")]
pub struct UnresolvedRef {
    pub reference: String,
    pub why: String,
}

impl EnvValue {
    /// Parses `text`; errors say what is wrong with the template.
    pub fn parse(text: &str) -> Result<EnvValue, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(pos) = rest.find('$') {
            literal.push_str(&rest[..pos]);
            let after = &rest[pos..];
            if let Some(tail) = after.strip_prefix("$${") {
                literal.push_str("${");
                rest = tail;
            } else if let Some(tail) = after.strip_prefix("${") {
                let end = tail.find('}').ok_or_else(|| {
                    format!(
                        "unterminated reference in {text:?}: expected `}}` after `${{`; write `$${{` for a literal `${{`"
                    )
                })?;
                let reference = parse_reference(&tail[..end])?;
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(Part::Ref(reference));
                rest = &tail[end + 1..];
            } else {
                literal.push('$');
                rest = &after[1..];
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(EnvValue {
            raw: text.to_owned(),
            parts,
        })
    }

    /// The text as written in the manifest.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The references it contains, in order.
    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.parts.iter().filter_map(|p| match p {
            Part::Ref(r) => Some(r),
            Part::Text(_) => None,
        })
    }

    /// Substitutes every reference with what `lookup` returns.
    pub fn resolve(
        &self,
        lookup: &dyn Fn(&Reference) -> Result<String, String>,
    ) -> Result<String, UnresolvedRef> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Ref(r) => out.push_str(&lookup(r).map_err(|why| UnresolvedRef {
                    reference: r.to_string(),
                    why,
                })?),
            }
        }
        Ok(out)
    }
}

fn parse_reference(inner: &str) -> Result<Reference, String> {
    let bad = || {
        format!(
            "`${{{inner}}}` is not a reference; expected `${{bucket.<key>.name|arn}}`, `${{queue.<name>.url|arn|name}}` or `${{function.<name>.name|arn}}`"
        )
    };
    // The name may itself contain dots (`jobs.fifo`), so kind is the first segment and the
    // attribute the last.
    let (kind, rest) = inner.split_once('.').ok_or_else(bad)?;
    let (name, attr) = rest.rsplit_once('.').ok_or_else(bad)?;
    if name.is_empty() {
        return Err(bad());
    }
    let kind = match kind {
        "bucket" => RefKind::Bucket,
        "queue" => RefKind::Queue,
        "function" => RefKind::Function,
        other => {
            return Err(format!(
                "unknown resource kind `{other}` in `${{{inner}}}`; expected bucket, queue or function"
            ));
        }
    };
    let attr = match (kind, attr) {
        (_, "name") => RefAttr::Name,
        (_, "arn") => RefAttr::Arn,
        (RefKind::Queue, "url") => RefAttr::Url,
        (_, other) => {
            let allowed = match kind {
                RefKind::Queue => "name, url or arn",
                _ => "name or arn",
            };
            return Err(format!(
                "unknown attribute `{other}` in `${{{inner}}}`; a {} has {allowed}",
                match kind {
                    RefKind::Bucket => "bucket",
                    RefKind::Queue => "queue",
                    RefKind::Function => "function",
                }
            ));
        }
    };
    Ok(Reference {
        kind,
        name: name.to_owned(),
        attr,
    })
}

/// An SQS trigger of a function (an event source mapping).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SqsTrigger {
    pub queue: String,
    pub batch_size: i32,
    pub batching_window: i32,
    pub report_batch_item_failures: bool,
    pub enabled: bool,
}

/// A validated function.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    pub name: String,
    pub package: String,
    pub bin: Option<String>,
    pub memory: i32,
    pub timeout: i32,
    pub architecture: Architecture,
    pub environment: BTreeMap<String, EnvValue>,
    pub url: Option<FunctionUrl>,
    pub sqs: Vec<SqsTrigger>,
    pub description: Option<String>,
    /// Example payload (JSON text) used in the printed `curl`/`awslocal` lines and `lsk invoke`.
    pub example: Option<String>,
    /// Path appended to the function URL in the printed `curl` line.
    pub example_path: Option<String>,
}

/// Where a queue's failed messages go.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetter {
    pub queue: String,
    #[serde(default = "default_max_receive")]
    pub max_receive_count: i32,
}

fn default_max_receive() -> i32 {
    3
}

/// A validated queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    pub name: String,
    /// The visibility timeout the queue has on AWS, checked against AWS's rules.
    pub visibility_timeout: i32,
    /// `local.visibility_timeout`: what LocalStack gets instead, when the manifest says so
    /// (a short one lets failing messages reach the DLQ in seconds while testing).
    pub local_visibility_timeout: Option<i32>,
    pub message_retention: i32,
    pub fifo: bool,
    pub dead_letter: Option<DeadLetter>,
    /// Example message body for the printed `awslocal sqs send-message` line.
    pub example: Option<String>,
}

impl Queue {
    /// The visibility timeout lsk deploys: the `local` one when given, else the AWS one.
    pub fn deployed_visibility_timeout(&self) -> i32 {
        self.local_visibility_timeout
            .unwrap_or(self.visibility_timeout)
    }
}

/// A validated bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// The key in the manifest, used in references.
    pub key: String,
    /// The S3 bucket name.
    pub name: String,
}

/// A loaded, fully validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub path: PathBuf,
    pub functions: BTreeMap<String, Function>,
    pub queues: BTreeMap<String, Queue>,
    pub buckets: BTreeMap<String, Bucket>,
    /// Things that deploy fine locally but deserve a look (e.g. would be refused by real AWS).
    pub warnings: Vec<String>,
}

// ---- raw (serde) shapes -------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFunction {
    package: String,
    #[serde(default)]
    bin: Option<String>,
    #[serde(default)]
    memory: Option<i64>,
    #[serde(default)]
    timeout: Option<i64>,
    #[serde(default)]
    architecture: Architecture,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    url: Option<FunctionUrl>,
    #[serde(default)]
    sqs: Vec<RawTrigger>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    example: Option<String>,
    #[serde(default)]
    example_path: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrigger {
    queue: String,
    #[serde(default)]
    batch_size: Option<i64>,
    #[serde(default)]
    batching_window: Option<i64>,
    #[serde(default)]
    report_batch_item_failures: Option<bool>,
    #[serde(default)]
    enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueue {
    #[serde(default)]
    visibility_timeout: Option<i64>,
    #[serde(default)]
    message_retention: Option<i64>,
    #[serde(default)]
    fifo: Option<bool>,
    #[serde(default)]
    dead_letter: Option<RawDeadLetter>,
    #[serde(default)]
    example: Option<String>,
    #[serde(default)]
    local: Option<RawQueueLocal>,
}

/// `[queues.<name>.local]`: values used on LocalStack instead of the AWS ones above them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueueLocal {
    #[serde(default)]
    visibility_timeout: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeadLetter {
    queue: String,
    #[serde(default)]
    max_receive_count: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBucket {
    #[serde(default)]
    name: Option<String>,
}

// ---- key paths and positions ---------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

fn is_bare_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn render_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                if is_bare_key(k) {
                    out.push_str(k);
                } else {
                    out.push_str(&format!("{k:?}"));
                }
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.chars().count(), |nl| {
        before[nl + 1..].chars().count()
    }) + 1;
    (line, col)
}

/// The span of the value at `path` (or of the deepest part of it that exists).
fn span_of(root: &Spanned<DeTable<'_>>, path: &[Seg]) -> Option<Range<usize>> {
    let mut span = None;
    let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
    let mut array: Option<&toml::de::DeArray<'_>> = None;
    for seg in path {
        let value = match (seg, table, array) {
            (Seg::Key(k), Some(t), _) => {
                let (key, value) = t.get_key_value(k.as_str())?;
                // Tables declared with [header] have no useful value span: point at the key.
                span = Some(if value.get_ref().is_table() {
                    key.span()
                } else {
                    value.span()
                });
                value
            }
            (Seg::Index(i), _, Some(a)) => {
                let value = a.get(*i)?;
                span = Some(value.span());
                value
            }
            _ => return span,
        };
        table = value.get_ref().as_table();
        array = match value.get_ref() {
            DeValue::Array(a) => Some(a),
            _ => None,
        };
    }
    span
}

/// The key path whose key or value contains `offset`.
fn path_at(root: &Spanned<DeTable<'_>>, offset: usize) -> Vec<Seg> {
    fn in_value(value: &DeValue<'_>, offset: usize, path: &mut Vec<Seg>) {
        match value {
            DeValue::Table(t) => in_table(t, offset, path),
            DeValue::Array(a) => {
                for (i, item) in a.iter().enumerate() {
                    let inside = item.span().contains(&offset)
                        || item
                            .get_ref()
                            .as_table()
                            .is_some_and(|t| table_contains(t, offset));
                    if inside {
                        path.push(Seg::Index(i));
                        in_value(item.get_ref(), offset, path);
                        return;
                    }
                }
            }
            _ => {}
        }
    }
    fn table_contains(t: &DeTable<'_>, offset: usize) -> bool {
        t.iter().any(|(k, v)| {
            k.span().contains(&offset)
                || v.span().contains(&offset)
                || v.get_ref()
                    .as_table()
                    .is_some_and(|inner| table_contains(inner, offset))
                || match v.get_ref() {
                    DeValue::Array(a) => a.iter().any(|item| {
                        item.span().contains(&offset)
                            || item
                                .get_ref()
                                .as_table()
                                .is_some_and(|inner| table_contains(inner, offset))
                    }),
                    _ => false,
                }
        })
    }
    fn in_table(t: &DeTable<'_>, offset: usize, path: &mut Vec<Seg>) {
        for (k, v) in t.iter() {
            if k.span().contains(&offset) {
                path.push(Seg::Key(k.get_ref().to_string()));
                return;
            }
            let nested = match v.get_ref() {
                DeValue::Table(inner) => table_contains(inner, offset),
                DeValue::Array(a) => a.iter().any(|item| {
                    item.get_ref()
                        .as_table()
                        .is_some_and(|inner| table_contains(inner, offset))
                }),
                _ => false,
            };
            if v.span().contains(&offset) || nested {
                path.push(Seg::Key(k.get_ref().to_string()));
                in_value(v.get_ref(), offset, path);
                return;
            }
        }
    }
    let mut path = Vec::new();
    in_table(root.get_ref(), offset, &mut path);
    path
}

struct Collector<'a, 'i> {
    src: &'a str,
    root: &'a Spanned<DeTable<'i>>,
    issues: Vec<Issue>,
}

impl Collector<'_, '_> {
    fn at(&mut self, path: &[Seg], message: impl Into<String>) {
        let position = span_of(self.root, path).map(|s| line_col(self.src, s.start));
        self.issues.push(Issue {
            key: render_path(path),
            message: message.into(),
            position,
        });
    }

    /// A serde error from deserializing the entry at `base`.
    fn serde(&mut self, base: &[Seg], err: &toml::de::Error) {
        let message = err.message().trim().to_owned();
        match err.span() {
            Some(span) => {
                let mut path = path_at(self.root, span.start);
                if path.len() < base.len() {
                    path = base.to_vec();
                }
                // An unknown field's span is the key itself, so `path` already names it.
                self.issues.push(Issue {
                    key: render_path(&path),
                    message: explain_serde(&message),
                    position: Some(line_col(self.src, span.start)),
                });
            }
            None => self.at(base, explain_serde(&message)),
        }
    }
}

/// Removes the key at `path` (relative to `value`) so deserialization can be retried.
fn remove_at(value: &mut DeValue<'_>, path: &[Seg]) -> bool {
    match (path, value) {
        ([Seg::Key(k)], DeValue::Table(t)) => t.remove(k.as_str()).is_some(),
        ([Seg::Key(k), rest @ ..], DeValue::Table(t)) => t
            .get_mut(k.as_str())
            .is_some_and(|v| remove_at(v.get_mut(), rest)),
        ([Seg::Index(i), rest @ ..], DeValue::Array(a)) => {
            a.get_mut(*i).is_some_and(|v| remove_at(v.get_mut(), rest))
        }
        _ => false,
    }
}

impl Collector<'_, '_> {
    /// Deserializes the entry at `base`. An unknown key is reported, dropped, and deserializing
    /// retried, so a typo does not hide the entry's other problems; any other serde error ends
    /// it (reported once).
    fn entry<T: serde::de::DeserializeOwned>(
        &mut self,
        base: &[Seg],
        value: &Spanned<DeValue<'_>>,
    ) -> Option<T> {
        let mut value = value.clone();
        // Each retry removes one key, so this ends; the bound is a guard against surprises.
        for _ in 0..64 {
            match T::deserialize(ValueDeserializer::from(value.clone())) {
                Ok(v) => return Some(v),
                Err(err) => {
                    self.serde(base, &err);
                    let unknown = err.message().starts_with("unknown field");
                    let path = err.span().map(|s| path_at(self.root, s.start));
                    let removed = match (unknown, path) {
                        (true, Some(p)) if p.len() > base.len() && p.starts_with(base) => {
                            remove_at(value.get_mut(), &p[base.len()..])
                        }
                        _ => false,
                    };
                    if !removed {
                        return None;
                    }
                }
            }
        }
        None
    }
}

fn explain_serde(message: &str) -> String {
    if message.starts_with("unknown field") {
        format!("{message} (check the spelling; the keys are listed in harness/README.md)")
    } else {
        message.to_owned()
    }
}

fn key(k: &str) -> Seg {
    Seg::Key(k.to_owned())
}

fn keys(segs: &[&str]) -> Vec<Seg> {
    segs.iter().map(|s| key(s)).collect()
}

fn with(base: &[Seg], more: &[Seg]) -> Vec<Seg> {
    let mut p = base.to_vec();
    p.extend_from_slice(more);
    p
}

fn check_range(
    c: &mut Collector<'_, '_>,
    at: &[Seg],
    value: Option<i64>,
    default: i32,
    range: std::ops::RangeInclusive<i64>,
    what: &str,
) -> i32 {
    match value {
        None => default,
        Some(v) if range.contains(&v) => v as i32,
        Some(v) => {
            c.at(
                at,
                format!(
                    "{what} must be {}..={}{}, got {v}",
                    range.start(),
                    range.end(),
                    unit_of(what)
                ),
            );
            default
        }
    }
}

fn unit_of(what: &str) -> &'static str {
    match what {
        "memory" => " MB",
        "timeout" | "visibility_timeout" | "message_retention" | "batching_window" | "max_age" => {
            " seconds"
        }
        _ => "",
    }
}

/// Lambda function names: 1-64 of letters, digits, hyphens, underscores.
pub fn check_function_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err(format!(
            "function name must be 1-64 characters, got {} ({name:?})",
            name.len()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "function name {name:?} contains {bad:?}; use letters, digits, '-' and '_'"
        ));
    }
    Ok(())
}

/// SQS queue names: 1-80 of letters, digits, hyphens, underscores, with `.fifo` for FIFO queues.
pub fn check_queue_name(name: &str) -> Result<(), String> {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    if name.is_empty() || name.len() > 80 || base.is_empty() {
        return Err(format!(
            "queue name must be 1-80 characters (including any .fifo), got {} ({name:?})",
            name.len()
        ));
    }
    if let Some(bad) = base
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "queue name {name:?} contains {bad:?}; use letters, digits, '-' and '_' (and a .fifo suffix for FIFO queues)"
        ));
    }
    Ok(())
}

/// S3 general purpose bucket naming rules.
pub fn check_bucket_name(name: &str) -> Result<(), String> {
    let len = name.len();
    if !(3..=63).contains(&len) {
        return Err(format!(
            "bucket name must be 3-63 characters, got {len} ({name:?})"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(format!(
            "bucket name {name:?} contains {bad:?}; use lowercase letters, digits, '.' and '-'"
        ));
    }
    let first = name.chars().next().unwrap_or('-');
    let last = name.chars().last().unwrap_or('-');
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Err(format!(
            "bucket name {name:?} must begin and end with a letter or digit"
        ));
    }
    if name.contains("..") {
        return Err(format!(
            "bucket name {name:?} must not contain two adjacent dots"
        ));
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Err(format!(
            "bucket name {name:?} must not look like an IP address"
        ));
    }
    if name.starts_with("xn--") || name.starts_with("sthree-") {
        return Err(format!(
            "bucket name {name:?} must not start with a reserved prefix (xn--, sthree-)"
        ));
    }
    if name.ends_with("-s3alias") || name.ends_with("--ol-s3") {
        return Err(format!(
            "bucket name {name:?} must not end with a reserved suffix (-s3alias, --ol-s3)"
        ));
    }
    Ok(())
}

fn check_env_key(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = name.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !ok {
        return Err(format!(
            "environment variable name {name:?} must start with a letter and have at least 2 characters of letters, digits and '_'"
        ));
    }
    if RESERVED_ENV.contains(&name) {
        return Err(format!(
            "environment variable {name} is reserved: Lambda sets it itself"
        ));
    }
    Ok(())
}

const CORS_METHODS: &[&str] = &["GET", "PUT", "HEAD", "POST", "PATCH", "DELETE", "*"];

impl Manifest {
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
            match section {
                "functions" | "queues" | "buckets" => match v.get_ref().as_table() {
                    Some(t) => {
                        let entries = t
                            .iter()
                            .map(|(name, value)| (name.get_ref().to_string(), value.clone()))
                            .collect();
                        sections.insert(section, entries);
                    }
                    None => c.at(
                        &[key(section)],
                        format!(
                            "expected a table of {section} ([{section}.<name>]), got a {}",
                            v.get_ref().type_str()
                        ),
                    ),
                },
                other => c.at(
                    &[key(other)],
                    format!(
                        "unknown section `{other}`; expected `functions`, `queues` or `buckets`"
                    ),
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
        let function_names = declared("functions");
        let queue_names = declared("queues");
        let bucket_names = declared("buckets");

        let mut queues = BTreeMap::new();
        for (name, value) in sections.get("queues").into_iter().flatten() {
            let base = keys(&["queues", name]);
            if let Err(e) = check_queue_name(name) {
                c.at(&base, e);
            }
            if let Some(raw) = c.entry::<RawQueue>(&base, value) {
                queues.insert(name.clone(), validate_queue(&mut c, &base, name, raw));
            }
        }
        // Cross-queue rules need every queue parsed first.
        for q in queues.values() {
            let Some(dl) = &q.dead_letter else { continue };
            let at = keys(&["queues", &q.name, "dead_letter", "queue"]);
            if dl.queue == q.name {
                c.at(&at, "a queue cannot be its own dead-letter queue");
            } else if !queue_names.contains(&dl.queue) {
                c.at(
                    &at,
                    format!(
                        "dead-letter queue `{}` is not declared; add [queues.{}]",
                        dl.queue,
                        render_path(&[key(&dl.queue)])
                    ),
                );
            } else if let Some(target) = queues.get(&dl.queue).filter(|t| t.fifo != q.fifo) {
                c.at(
                    &at,
                    format!(
                        "FIFO mismatch: `{}` is {} but its dead-letter queue `{}` is {}; both must be FIFO or both standard",
                        q.name,
                        if q.fifo { "FIFO" } else { "standard" },
                        dl.queue,
                        if target.fifo { "FIFO" } else { "standard" }
                    ),
                );
            }
        }
        if let Some(cycle) = redrive_cycle(&queues) {
            c.at(
                &keys(&["queues", &cycle[0], "dead_letter"]),
                format!("dead-letter queues form a cycle: {}", cycle.join(" -> ")),
            );
        }

        let mut buckets = BTreeMap::new();
        let mut physical: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in sections.get("buckets").into_iter().flatten() {
            let base = keys(&["buckets", name]);
            if let Some(raw) = c.entry::<RawBucket>(&base, value) {
                let (s3_name, at) = match raw.name {
                    Some(n) => (n, with(&base, &[key("name")])),
                    None => (name.clone(), base.clone()),
                };
                if let Err(e) = check_bucket_name(&s3_name) {
                    let hint = if at == base {
                        " (the key is used as the S3 name; set `name = \"...\"` to choose another)"
                    } else {
                        ""
                    };
                    c.at(&at, format!("{e}{hint}"));
                    continue;
                }
                if let Some(other) = physical.insert(s3_name.clone(), name.clone()) {
                    c.at(
                        &at,
                        format!("bucket name {s3_name:?} is already used by buckets.{other}"),
                    );
                    continue;
                }
                buckets.insert(
                    name.clone(),
                    Bucket {
                        key: name.clone(),
                        name: s3_name,
                    },
                );
            }
        }

        let known = Declared {
            functions: &function_names,
            queues: &queue_names,
            buckets: &bucket_names,
        };
        let mut functions = BTreeMap::new();
        let mut warnings = Vec::new();
        for (name, value) in sections.get("functions").into_iter().flatten() {
            let base = keys(&["functions", name]);
            if let Err(e) = check_function_name(name) {
                c.at(&base, e);
            }
            if let Some(raw) = c.entry::<RawFunction>(&base, value) {
                let f = validate_function(&mut c, &base, name, raw, &known, &queues);
                for t in &f.sqs {
                    let short = queues
                        .get(&t.queue)
                        .filter(|q| q.visibility_timeout < f.timeout);
                    if let Some(q) = short {
                        warnings.push(format!(
                            "queues.{}.visibility_timeout ({} s) is shorter than functions.{}.timeout ({} s): real AWS refuses this event source mapping and may deliver a message twice; LocalStack accepts it. Give the queue at least the function's timeout, and put a shorter value for local tests in `local = {{ visibility_timeout = ... }}`",
                            render_path(&[key(&q.name)]),
                            q.visibility_timeout,
                            f.name,
                            f.timeout
                        ));
                    }
                }
                functions.insert(name.clone(), f);
            }
        }
        if sections.values().all(|v| v.is_empty()) && c.issues.is_empty() {
            warnings.push(format!(
                "{} declares no functions, queues or buckets: nothing to deploy",
                path_display(file)
            ));
        }

        if c.issues.is_empty() {
            Ok(Manifest {
                path: file.to_path_buf(),
                functions,
                queues,
                buckets,
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
        let mut done: BTreeSet<&str> = BTreeSet::new();
        let mut out = Vec::new();
        // Validation rejected cycles, so this terminates; the bound guards against surprises.
        for _ in 0..=self.queues.len() {
            for q in self.queues.values() {
                if done.contains(q.name.as_str()) {
                    continue;
                }
                let ready = match &q.dead_letter {
                    None => true,
                    Some(dl) => done.contains(dl.queue.as_str()),
                };
                if ready {
                    done.insert(&q.name);
                    out.push(q);
                }
            }
        }
        out
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

struct Declared<'a> {
    functions: &'a BTreeSet<String>,
    queues: &'a BTreeSet<String>,
    buckets: &'a BTreeSet<String>,
}

fn redrive_cycle(queues: &BTreeMap<String, Queue>) -> Option<Vec<String>> {
    for start in queues.keys() {
        let mut seen = vec![start.clone()];
        let mut current = start;
        while let Some(next) = queues
            .get(current)
            .and_then(|q| q.dead_letter.as_ref())
            .map(|d| &d.queue)
        {
            if next == start {
                seen.push(next.clone());
                return Some(seen);
            }
            if seen.contains(next) || !queues.contains_key(next) {
                break;
            }
            seen.push(next.clone());
            current = next;
        }
    }
    None
}

/// Checks a queue; problems go to `c`, and the queue is returned anyway so that cross-resource
/// rules can still look at it (the manifest is only returned when there are no problems).
fn validate_queue(c: &mut Collector<'_, '_>, base: &[Seg], name: &str, raw: RawQueue) -> Queue {
    let visibility_timeout = check_range(
        c,
        &with(base, &[key("visibility_timeout")]),
        raw.visibility_timeout,
        DEFAULT_VISIBILITY_TIMEOUT_S,
        0..=43_200,
        "visibility_timeout",
    );
    let local_visibility_timeout = raw
        .local
        .as_ref()
        .and_then(|l| l.visibility_timeout)
        .map(|v| {
            check_range(
                c,
                &with(base, &[key("local"), key("visibility_timeout")]),
                Some(v),
                DEFAULT_VISIBILITY_TIMEOUT_S,
                0..=43_200,
                "visibility_timeout",
            )
        });
    let message_retention = check_range(
        c,
        &with(base, &[key("message_retention")]),
        raw.message_retention,
        DEFAULT_MESSAGE_RETENTION_S,
        60..=1_209_600,
        "message_retention",
    );
    let suffix = name.ends_with(".fifo");
    let fifo = match raw.fifo {
        Some(true) if !suffix => {
            c.at(
                &with(base, &[key("fifo")]),
                format!("FIFO mismatch: a FIFO queue's name must end in .fifo, got {name:?}"),
            );
            true
        }
        Some(false) if suffix => {
            c.at(
                &with(base, &[key("fifo")]),
                format!(
                    "FIFO mismatch: {name:?} ends in .fifo, which SQS reserves for FIFO queues; set fifo = true or rename it"
                ),
            );
            false
        }
        Some(f) => f,
        None => suffix,
    };
    let dead_letter = raw.dead_letter.map(|dl| {
        let max_receive_count = check_range(
            c,
            &with(base, &[key("dead_letter"), key("max_receive_count")]),
            dl.max_receive_count,
            default_max_receive(),
            1..=1000,
            "max_receive_count",
        );
        DeadLetter {
            queue: dl.queue,
            max_receive_count,
        }
    });
    if raw.example.as_deref() == Some("") {
        c.at(
            &with(base, &[key("example")]),
            "example must not be empty: SQS refuses empty message bodies",
        );
    }
    Queue {
        name: name.to_owned(),
        visibility_timeout,
        local_visibility_timeout,
        message_retention,
        fifo,
        dead_letter,
        example: raw.example,
    }
}

fn validate_function(
    c: &mut Collector<'_, '_>,
    base: &[Seg],
    name: &str,
    raw: RawFunction,
    known: &Declared<'_>,
    queues: &BTreeMap<String, Queue>,
) -> Function {
    if raw.package.trim().is_empty() {
        c.at(
            &with(base, &[key("package")]),
            "package must name a cargo package of the workspace",
        );
    }
    if raw.bin.as_deref().is_some_and(|b| b.trim().is_empty()) {
        c.at(
            &with(base, &[key("bin")]),
            "bin must name a binary target of the package (or be left out)",
        );
    }
    let memory = check_range(
        c,
        &with(base, &[key("memory")]),
        raw.memory,
        DEFAULT_MEMORY_MB,
        128..=10_240,
        "memory",
    );
    let timeout = check_range(
        c,
        &with(base, &[key("timeout")]),
        raw.timeout,
        DEFAULT_TIMEOUT_S,
        1..=900,
        "timeout",
    );

    let mut environment = BTreeMap::new();
    for (var, text) in &raw.environment {
        let at = with(base, &[key("environment"), key(var)]);
        if let Err(e) = check_env_key(var) {
            c.at(&at, e);
            continue;
        }
        match EnvValue::parse(text) {
            Ok(value) => {
                for r in value.references() {
                    let (set, section) = match r.kind {
                        RefKind::Bucket => (known.buckets, "buckets"),
                        RefKind::Queue => (known.queues, "queues"),
                        RefKind::Function => (known.functions, "functions"),
                    };
                    if !set.contains(&r.name) {
                        c.at(
                            &at,
                            format!(
                                "{r} refers to {section}.{} which is not declared; declare [{section}.{}] or fix the name",
                                render_path(&[key(&r.name)]),
                                render_path(&[key(&r.name)])
                            ),
                        );
                    }
                }
                environment.insert(var.clone(), value);
            }
            Err(e) => c.at(&at, e),
        }
    }

    if let Some(cors) = raw.url.as_ref().and_then(|u| u.cors.as_ref()) {
        let at = with(base, &[key("url"), key("cors")]);
        for m in &cors.allow_methods {
            if !CORS_METHODS.contains(&m.as_str()) {
                c.at(
                    &with(&at, &[key("allow_methods")]),
                    format!(
                        "allow_methods entry {m:?} is not an HTTP method Lambda accepts; use one of {}",
                        CORS_METHODS.join(", ")
                    ),
                );
            }
        }
        if cors.allow_origins.iter().any(|o| o.trim().is_empty()) {
            c.at(
                &with(&at, &[key("allow_origins")]),
                "allow_origins entries must not be empty; use \"*\" for any origin",
            );
        }
        if let Some(age) = cors.max_age.filter(|a| !(0..=86_400).contains(a)) {
            c.at(
                &with(&at, &[key("max_age")]),
                format!("max_age must be 0..=86400 seconds, got {age}"),
            );
        }
    }

    let mut sqs = Vec::new();
    let mut seen_queues = BTreeSet::new();
    for (i, t) in raw.sqs.into_iter().enumerate() {
        let at = with(base, &[key("sqs"), Seg::Index(i)]);
        let batch_size = check_range(
            c,
            &with(&at, &[key("batch_size")]),
            t.batch_size,
            DEFAULT_BATCH_SIZE,
            1..=10_000,
            "batch_size",
        );
        let batching_window = check_range(
            c,
            &with(&at, &[key("batching_window")]),
            t.batching_window,
            0,
            0..=300,
            "batching_window",
        );
        if !known.queues.contains(&t.queue) {
            c.at(
                &with(&at, &[key("queue")]),
                format!(
                    "queue `{}` is not declared; add [queues.{}]",
                    t.queue,
                    render_path(&[key(&t.queue)])
                ),
            );
        } else if !seen_queues.insert(t.queue.clone()) {
            c.at(
                &with(&at, &[key("queue")]),
                format!(
                    "queue `{}` is already a trigger of this function; Lambda allows one mapping per queue and function",
                    t.queue
                ),
            );
        }
        if batch_size > 10 && batching_window < 1 {
            c.at(
                &with(&at, &[key("batching_window")]),
                format!(
                    "a batch_size above 10 (got {batch_size}) needs batching_window of at least 1 second"
                ),
            );
        }
        if batch_size > 10 && queues.get(&t.queue).is_some_and(|q| q.fifo) {
            c.at(
                &with(&at, &[key("batch_size")]),
                format!("batch_size for a FIFO queue must be 1..=10, got {batch_size}"),
            );
        }
        sqs.push(SqsTrigger {
            queue: t.queue,
            batch_size,
            batching_window,
            report_batch_item_failures: t.report_batch_item_failures.unwrap_or(true),
            enabled: t.enabled.unwrap_or(true),
        });
    }

    if let Some(Err(e)) = raw
        .example
        .as_ref()
        .map(|e| serde_json::from_str::<serde_json::Value>(e))
    {
        c.at(
            &with(base, &[key("example")]),
            format!("example must be JSON (it is sent as the payload): {e}"),
        );
    }
    if let Some(p) = &raw.example_path {
        if !p.starts_with('/') {
            c.at(
                &with(base, &[key("example_path")]),
                format!("example_path must start with '/', got {p:?}"),
            );
        }
        if raw.url.is_none() {
            c.at(
                &with(base, &[key("example_path")]),
                "example_path only applies to a function URL; add url = { auth = \"NONE\" }",
            );
        }
    }

    Function {
        name: name.to_owned(),
        package: raw.package,
        bin: raw.bin,
        memory,
        timeout,
        architecture: raw.architecture,
        environment,
        url: raw.url,
        sqs,
        description: raw.description,
        example: raw.example,
        example_path: raw.example_path,
    }
}

#[cfg(test)]
mod tests;
