//! `lsk new`: a new function crate in the current workspace, registered as a member, declared
//! in `lsk.toml`, with a handler unit test over real event fixtures.
//!
//! The generated function answers every way in (direct invoke, function URL, SQS batch, S3
//! upload), so adding `--url`, `--sqs` or `--s3` later is only a change to `lsk.toml`.

use std::path::{Path, PathBuf};

use toml_edit::{Array, DocumentMut, Item, Value};

/// What `lsk new` is asked to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFunction {
    /// Function, package and directory name (`lambdas/<name>`).
    pub name: String,
    /// Give it a function URL (auth NONE).
    pub url: bool,
    /// Trigger it from this SQS queue (declared too when the manifest lacks it).
    pub sqs: Option<String>,
    /// Trigger it from uploads to this bucket (declared too when the manifest lacks it).
    pub s3: Option<String>,
}

/// What `lsk new` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub crate_dir: PathBuf,
    pub files: Vec<PathBuf>,
    pub manifest: PathBuf,
    pub manifest_created: bool,
}

/// What can go wrong making a new function.
#[derive(Debug, thiserror::Error)]
pub enum NewError {
    #[error(
        "`{name}` is not a valid function name: {why}; use lowercase letters, digits and hyphens, starting with a letter (at most 64)"
    )]
    InvalidName { name: String, why: String },
    #[error("`{name}` exists already: {what}; pick another name")]
    Exists { name: String, what: String },
    #[error(
        "{path} is not a Cargo workspace (no [workspace] table); run `lsk new` in a workspace root, or add `[workspace]` to it"
    )]
    NotAWorkspace { path: PathBuf },
    #[error("{path}: {detail}")]
    Toml { path: PathBuf, detail: String },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl miette::Diagnostic for NewError {}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> NewError {
    let path = path.to_path_buf();
    move |source| NewError::Io { what, path, source }
}

/// Names cargo refuses for a package, and Rust keywords (a library named so cannot be used).
const RESERVED: &[&str] = &[
    "test",
    "core",
    "std",
    "alloc",
    "proc-macro",
    "proc_macro",
    "self",
    "super",
    "crate",
    "fn",
    "mod",
    "use",
    "type",
    "struct",
    "enum",
    "impl",
    "trait",
    "let",
    "match",
    "if",
    "else",
    "for",
    "while",
    "loop",
    "return",
    "async",
    "await",
    "move",
    "ref",
    "mut",
    "pub",
    "static",
    "const",
    "extern",
    "unsafe",
    "where",
    "as",
    "in",
    "break",
    "continue",
    "dyn",
    "true",
    "false",
];

/// Checks a name is both a Lambda function name and a crate name.
pub fn validate_name(name: &str) -> Result<(), NewError> {
    let invalid = |why: &str| NewError::InvalidName {
        name: name.to_owned(),
        why: why.to_owned(),
    };
    if name.is_empty() || name.len() > 64 {
        return Err(invalid("it must be 1 to 64 characters"));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(invalid("it must start with a lowercase letter"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(invalid(&format!("it contains {c:?}")));
    }
    if name.ends_with('-') {
        return Err(invalid("it must not end with a hyphen"));
    }
    if RESERVED.contains(&name) {
        return Err(invalid("it is reserved by Rust or cargo"));
    }
    Ok(())
}

/// The nearest directory at or above `dir` whose `Cargo.toml` has a `[workspace]` table.
pub fn workspace_root(dir: &Path) -> Result<PathBuf, NewError> {
    for candidate in dir.ancestors() {
        let cargo_toml = candidate.join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&cargo_toml) else {
            continue;
        };
        let is_workspace = text
            .parse::<DocumentMut>()
            .is_ok_and(|doc| doc.get("workspace").and_then(Item::as_table).is_some());
        if is_workspace {
            return Ok(candidate.to_path_buf());
        }
    }
    Err(NewError::NotAWorkspace {
        path: dir.join("Cargo.toml"),
    })
}

/// Makes the function in the workspace at `root` (holding `Cargo.toml` and maybe `lsk.toml`).
pub fn create(root: &Path, new: &NewFunction) -> Result<Created, NewError> {
    validate_name(&new.name)?;
    if let Some(queue) = &new.sqs {
        validate_queue(queue)?;
    }
    if let Some(bucket) = &new.s3 {
        validate_bucket(bucket)?;
    }
    let cargo_toml = root.join("Cargo.toml");
    let workspace_text =
        std::fs::read_to_string(&cargo_toml).map_err(io("reading", &cargo_toml))?;
    let mut workspace: DocumentMut =
        workspace_text
            .parse()
            .map_err(|e: toml_edit::TomlError| NewError::Toml {
                path: cargo_toml.clone(),
                detail: e.to_string(),
            })?;
    if workspace
        .get("workspace")
        .and_then(Item::as_table)
        .is_none()
    {
        return Err(NewError::NotAWorkspace { path: cargo_toml });
    }
    let member = format!("lambdas/{}", new.name);
    let crate_dir = root.join(&member);
    if crate_dir.exists() {
        return Err(NewError::Exists {
            name: new.name.clone(),
            what: format!("{} is there", crate_dir.display()),
        });
    }
    let manifest = root.join("lsk.toml");
    let manifest_text = match std::fs::read_to_string(&manifest) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io("reading", &manifest)(e)),
    };
    let mut lsk: DocumentMut =
        manifest_text
            .as_deref()
            .unwrap_or("")
            .parse()
            .map_err(|e: toml_edit::TomlError| NewError::Toml {
                path: manifest.clone(),
                detail: e.to_string(),
            })?;
    if lsk
        .get("functions")
        .and_then(|f| f.get(&new.name))
        .is_some()
    {
        return Err(NewError::Exists {
            name: new.name.clone(),
            what: format!("[functions.{}] is in {}", new.name, manifest.display()),
        });
    }
    let members = workspace["workspace"]
        .as_table_mut()
        .and_then(|w| {
            w.entry("members")
                .or_insert(Item::Value(Value::Array(Array::new())))
                .as_array_mut()
        })
        .ok_or_else(|| NewError::Toml {
            path: cargo_toml.clone(),
            detail: "workspace.members is not an array".into(),
        })?;
    if members.iter().any(|m| m.as_str() == Some(member.as_str())) {
        return Err(NewError::Exists {
            name: new.name.clone(),
            what: format!("{member} is a member already"),
        });
    }
    members.push(member.as_str());
    // A workspace that lists default members builds only those by default: add it there too.
    if let Some(defaults) = workspace["workspace"]
        .get_mut("default-members")
        .and_then(Item::as_array_mut)
    {
        defaults.push(member.as_str());
    }
    add_function(&mut lsk, new);

    let files = write_crate(&crate_dir, &new.name)?;
    std::fs::write(&cargo_toml, workspace.to_string()).map_err(io("writing", &cargo_toml))?;
    std::fs::write(&manifest, lsk.to_string()).map_err(io("writing", &manifest))?;
    Ok(Created {
        crate_dir,
        files,
        manifest,
        manifest_created: manifest_text.is_none(),
    })
}

fn validate_queue(queue: &str) -> Result<(), NewError> {
    let ok = !queue.is_empty()
        && queue.len() <= 80
        && queue
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(NewError::InvalidName {
            name: queue.to_owned(),
            why: "an SQS queue name is 1 to 80 letters, digits, hyphens or underscores".into(),
        })
    }
}

fn validate_bucket(bucket: &str) -> Result<(), NewError> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(NewError::InvalidName {
            name: bucket.to_owned(),
            why: "an S3 bucket name is 3 to 63 lowercase letters, digits, hyphens or dots, starting and ending with a letter or digit".into(),
        })
    }
}

/// Adds `[functions.<name>]` (and the queue and bucket, when the manifest lacks them) to
/// `lsk.toml`.
fn add_function(lsk: &mut DocumentMut, new: &NewFunction) {
    let mut text = format!(
        "[functions.{name}]\npackage = \"{name}\"\nexample = '{{\"name\": \"you\"}}'\n",
        name = new.name
    );
    if new.url {
        text.push_str("url = { auth = \"NONE\" }\n");
    }
    if let Some(queue) = &new.sqs {
        text.push_str(&format!(
            "\n[[functions.{name}.sqs]]\nqueue = \"{queue}\"\nbatch_size = 10\nreport_batch_item_failures = true\n",
            name = new.name
        ));
        if lsk.get("queues").and_then(|q| q.get(queue)).is_none() {
            text.push_str(&format!(
                "\n[queues.{queue}]\nvisibility_timeout = 30\ndead_letter = {{ queue = \"{queue}-dlq\", max_receive_count = 3 }}\n\n[queues.{queue}-dlq]\n"
            ));
        }
    }
    if let Some(bucket) = &new.s3 {
        text.push_str(&format!(
            "\n[[functions.{name}.s3]]\nbucket = \"{bucket}\"\nevents = [\"s3:ObjectCreated:*\"]\n",
            name = new.name
        ));
        if lsk.get("buckets").and_then(|b| b.get(bucket)).is_none() {
            text.push_str(&format!("\n[buckets.{bucket}]\n"));
        }
    }
    // Appended as text so the user's own layout and comments stay as they were.
    let mut out = lsk.to_string();
    if !out.is_empty() && !out.ends_with("\n\n") {
        out.push_str(if out.ends_with('\n') { "\n" } else { "\n\n" });
    }
    out.push_str(&text);
    if let Ok(doc) = out.parse() {
        *lsk = doc;
    }
}

fn write_crate(dir: &Path, name: &str) -> Result<Vec<PathBuf>, NewError> {
    let lib = name.replace('-', "_");
    let files = [
        ("Cargo.toml", CARGO_TOML.replace("__NAME__", name)),
        (
            "src/main.rs",
            MAIN_RS.replace("__NAME__", name).replace("__LIB__", &lib),
        ),
        ("src/lib.rs", LIB_RS.replace("__NAME__", name)),
        (
            "tests/handler.rs",
            HANDLER_TEST_RS
                .replace("__NAME__", name)
                .replace("__LIB__", &lib),
        ),
        ("tests/fixtures/url_post.json", URL_POST_JSON.to_owned()),
        (
            "tests/fixtures/sqs_batch.json",
            SQS_BATCH_JSON.replace("__NAME__", name),
        ),
        (
            "tests/fixtures/s3_put.json",
            S3_PUT_JSON.replace("__NAME__", name),
        ),
    ];
    let mut written = Vec::new();
    for (rel, content) in files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io("creating", parent))?;
        }
        std::fs::write(&path, content).map_err(io("writing", &path))?;
        written.push(path);
    }
    Ok(written)
}

// The new crate's files, `__NAME__` (the crate) and `__LIB__` (its library) filled in.
const CARGO_TOML: &str = include_str!("../templates/function/Cargo.toml.tmpl");

const MAIN_RS: &str = include_str!("../templates/function/src/main.rs.tmpl");

const LIB_RS: &str = include_str!("../templates/function/src/lib.rs.tmpl");

const HANDLER_TEST_RS: &str = include_str!("../templates/function/tests/handler.rs.tmpl");

const URL_POST_JSON: &str = include_str!("../templates/function/tests/fixtures/url_post.json");

const SQS_BATCH_JSON: &str = include_str!("../templates/function/tests/fixtures/sqs_batch.json");

const S3_PUT_JSON: &str = include_str!("../templates/function/tests/fixtures/s3_put.json");

#[cfg(test)]
mod tests;
