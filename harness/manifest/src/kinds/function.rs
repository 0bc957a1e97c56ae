//! Functions: `[functions.<name>]`, a Lambda function per entry built from a cargo package.
//! A deploy uploads code only when its SHA-256 differs and updates only the settings that differ;
//! functions lsk deployed for this project that the manifest no longer lists are pruned.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use crate::kinds::queue::Queue;
use crate::kinds::s3_trigger::{self, RawS3Trigger, S3Trigger};
use crate::kinds::sqs_trigger::{self, RawTrigger, SqsTrigger};
use crate::kinds::url::{self, FunctionUrl};
use crate::spans::{Collector, Seg, check_range, key, keys, with};
use crate::{Declared, EnvValue};

/// The manifest section of this kind.
pub(crate) const SECTION: &str = "functions";

pub const DEFAULT_MEMORY_MB: i32 = 128;
pub const DEFAULT_TIMEOUT_S: i32 = 3;

/// How long a function may stay Pending / InProgress before the deploy gives up.
pub const FUNCTION_WAIT: Duration = Duration::from_secs(300);

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
    pub s3: Vec<S3Trigger>,
    pub description: Option<String>,
    /// Example payload (JSON text) used in the printed `curl`/`awslocal` lines and `lsk invoke`.
    pub example: Option<String>,
    /// Path appended to the function URL in the printed `curl` line.
    pub example_path: Option<String>,
}

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
    s3: Vec<RawS3Trigger>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    example: Option<String>,
    #[serde(default)]
    example_path: Option<String>,
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

/// Checks `[functions.*]` with their URLs and triggers; `warnings` gets what AWS would refuse
/// although LocalStack accepts it.
pub(crate) fn validate_section(
    c: &mut Collector<'_, '_>,
    entries: &[(String, Spanned<DeValue<'_>>)],
    known: &Declared,
    queues: &BTreeMap<String, Queue>,
    warnings: &mut Vec<String>,
) -> BTreeMap<String, Function> {
    let mut functions = BTreeMap::new();
    for (name, value) in entries {
        let base = keys(&[SECTION, name]);
        if let Err(e) = check_function_name(name) {
            c.at(&base, e);
        }
        if let Some(raw) = c.entry::<RawFunction>(&base, value) {
            let f = validate_function(c, &base, name, raw, known, queues);
            warnings.extend(sqs_trigger::warnings(&f, queues));
            functions.insert(name.clone(), f);
        }
    }
    functions
}

fn validate_function(
    c: &mut Collector<'_, '_>,
    base: &[Seg],
    name: &str,
    raw: RawFunction,
    known: &Declared,
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
                known.check_references(c, &at, &value);
                environment.insert(var.clone(), value);
            }
            Err(e) => c.at(&at, e),
        }
    }

    url::validate(c, base, raw.url.as_ref());
    let sqs = sqs_trigger::validate(c, base, raw.sqs, known, queues);
    let s3 = s3_trigger::validate(c, base, raw.s3, known);

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
        s3,
        description: raw.description,
        example: raw.example,
        example_path: raw.example_path,
    }
}
