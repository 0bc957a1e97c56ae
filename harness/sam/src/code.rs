//! The functions' code, as `sam build` finds it: `BuildMethod: rust-cargolambda` at a crate or a
//! workspace (`BuildProperties.Binary`), a crate without metadata, a directory with a prebuilt
//! `bootstrap`, or a zip. Crates are built by the kit's builds (one cargo run per workspace, so
//! ten functions of one workspace compile their dependencies once), for the machine they run on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lsk_build::package::{self, Package};
use lsk_build::{BuildTarget, Built};
use lsk_kit::progress::Progress;
use lsk_manifest::{Architecture, Function, Manifest};
use serde_json::Value;

use crate::error::{At, SamError};
use crate::support::resources;
use crate::template::{locate, str_of};

/// The runtimes a Rust function declares.
pub const RUNTIMES: &[&str] = &["provided.al2023", "provided.al2", "provided"];

/// Where a function's code comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Code {
    /// A cargo package (or a workspace and the binary to build).
    Crate {
        dir: PathBuf,
        binary: Option<String>,
    },
    /// A directory holding a built `bootstrap`.
    Bootstrap { dir: PathBuf },
    /// A zip file.
    Zip { path: PathBuf },
    /// Already in S3, or inline: nothing to build or upload.
    Remote,
}

/// A function of the template and its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamFunction {
    pub logical_id: String,
    /// `CodeUri` as written.
    pub code_uri: String,
    pub code: Code,
    /// As declared (`Architectures`, default x86_64).
    pub architecture: Architecture,
}

/// A property of a SAM function, its own or from `Globals.Function`.
fn property<'a>(template: &'a Value, resource: &'a Value, name: &str) -> Option<&'a Value> {
    resource
        .pointer(&format!("/Properties/{name}"))
        .or_else(|| template.pointer(&format!("/Globals/Function/{name}")))
}

/// Every `AWS::Serverless::Function` of `template` (at `path`, in `root`) with its code.
pub fn functions(path: &Path, text: &str, template: &Value) -> Result<Vec<SamFunction>, SamError> {
    let root = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for (id, resource) in resources(template) {
        if str_of(resource.get("Type")) != Some("AWS::Serverless::Function") {
            continue;
        }
        let at = |key: &str| {
            locate(text, &["Resources", id, "Properties", key])
                .or_else(|| locate(text, &["Resources", id]))
                .map(|(l, c)| At::new(path, l, c))
                .unwrap_or_else(|| At::file(path))
        };
        let fail = |key: &str, message: String, hint: Option<String>| SamError::Resource {
            at: at(key),
            logical_id: id.clone(),
            message,
            hint,
        };
        if str_of(property(template, resource, "PackageType")) == Some("Image") {
            continue; // refused as unsupported, with the others
        }
        match str_of(property(template, resource, "Runtime")) {
            Some(r) if RUNTIMES.contains(&r) => {}
            Some(r) => {
                let hint = if r.starts_with("provided") {
                    "Rust functions use Runtime: provided.al2023 (or provided.al2)".to_owned()
                } else {
                    format!("the kit runs Rust functions (provided.al2023); {r} is not one")
                };
                return Err(fail(
                    "Runtime",
                    format!("Runtime {r} is not a runtime the kit runs"),
                    Some(hint),
                ));
            }
            None => {
                return Err(fail(
                    "Runtime",
                    "has no Runtime (nor Globals.Function.Runtime)".into(),
                    Some("add Runtime: provided.al2023".into()),
                ));
            }
        }
        let architecture = match property(template, resource, "Architectures")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str)
        {
            None | Some("x86_64") => Architecture::X86_64,
            Some("arm64") => Architecture::Arm64,
            Some(other) => {
                return Err(fail(
                    "Architectures",
                    format!("Architectures {other} is neither x86_64 nor arm64"),
                    None,
                ));
            }
        };
        let (code_uri, code) = match property(template, resource, "CodeUri") {
            Some(Value::String(uri)) if uri.starts_with("s3://") => (uri.clone(), Code::Remote),
            Some(Value::Object(_)) => ("(S3 location)".to_owned(), Code::Remote),
            Some(Value::String(uri)) => {
                let full = root.join(uri);
                let code =
                    local_code(uri, &full, resource).map_err(|(m, h)| fail("CodeUri", m, h))?;
                (uri.clone(), code)
            }
            Some(_) => {
                return Err(fail(
                    "CodeUri",
                    "CodeUri is neither a path nor an S3 location".into(),
                    None,
                ));
            }
            None if property(template, resource, "InlineCode").is_some() => {
                ("(inline)".to_owned(), Code::Remote)
            }
            None => {
                return Err(fail(
                    "CodeUri",
                    "has no CodeUri (nor Globals.Function.CodeUri)".into(),
                    Some("point CodeUri at the function's crate, e.g. CodeUri: ./rust_app".into()),
                ));
            }
        };
        out.push(SamFunction {
            logical_id: id.clone(),
            code_uri,
            code,
            architecture,
        });
    }
    Ok(out)
}

fn local_code(uri: &str, full: &Path, resource: &Value) -> Result<Code, (String, Option<String>)> {
    let shown = uri;
    if !full.exists() {
        return Err((
            format!(
                "CodeUri {shown} does not exist (looked for {})",
                full.display()
            ),
            Some("CodeUri is relative to the template's directory".into()),
        ));
    }
    if full.is_file() {
        return if full.extension().and_then(|e| e.to_str()) == Some("zip") {
            Ok(Code::Zip {
                path: full.to_path_buf(),
            })
        } else {
            Err((format!("CodeUri {shown} is a file but not a zip"), None))
        };
    }
    let build_method = str_of(resource.pointer("/Metadata/BuildMethod"));
    let binary = str_of(resource.pointer("/Metadata/BuildProperties/Binary")).map(str::to_owned);
    match build_method {
        Some("rust-cargolambda") | None if full.join("Cargo.toml").is_file() => Ok(Code::Crate {
            dir: full.to_path_buf(),
            binary,
        }),
        Some("rust-cargolambda") => Err((
            format!("BuildMethod rust-cargolambda, but CodeUri {shown} has no Cargo.toml"),
            Some("point CodeUri at the crate (or workspace) directory".into()),
        )),
        None if full.join("bootstrap").is_file() => Ok(Code::Bootstrap {
            dir: full.to_path_buf(),
        }),
        None => Err((
            format!("CodeUri {shown} holds neither a Cargo.toml nor a built bootstrap"),
            Some("point CodeUri at the function's crate and add Metadata: {BuildMethod: rust-cargolambda}".into()),
        )),
        Some(other) => Err((
            format!("BuildMethod {other} is not one the kit builds"),
            Some("Rust functions use BuildMethod: rust-cargolambda".into()),
        )),
    }
}

/// The architecture binaries are built for here: this machine's (we have the source, so a
/// function declared for the other one runs without emulation).
pub fn local_architecture(declared: Architecture) -> Architecture {
    lsk_build::host_architecture().unwrap_or(declared)
}

/// Builds every crate function for `target`, one cargo run per workspace (and `lsk-init` with
/// the first when `include_init`).
pub async fn build(
    functions: &[SamFunction],
    target: BuildTarget,
    include_init: bool,
    progress: &Progress,
) -> Result<Built, SamError> {
    let mut groups: BTreeMap<PathBuf, (Manifest, Vec<&SamFunction>)> = BTreeMap::new();
    for f in functions {
        let Code::Crate { dir, binary } = &f.code else {
            continue;
        };
        let build_error = |source| SamError::Build {
            functions: f.logical_id.clone(),
            code_uri: f.code_uri.clone(),
            source: Box::new(source),
        };
        let ws = lsk_build::workspace(dir).await.map_err(build_error)?;
        let (package, bin) = pick_binary(f, dir, binary.as_deref(), &ws)?;
        let (manifest, members) = groups.entry(ws.workspace_root.clone()).or_insert_with(|| {
            (
                Manifest::empty(ws.workspace_root.join("lsk.toml")),
                Vec::new(),
            )
        });
        manifest.functions.insert(
            f.logical_id.clone(),
            build_function(
                &f.logical_id,
                package,
                bin,
                local_architecture(f.architecture),
            ),
        );
        members.push(f);
    }
    let mut built = Built {
        target: Some(target),
        ..Built::default()
    };
    let mut init_pending = include_init;
    for (manifest, members) in groups.values() {
        let one = lsk_build::build(manifest, target, init_pending, progress)
            .await
            .map_err(|source| SamError::Build {
                functions: members
                    .iter()
                    .map(|f| f.logical_id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                code_uri: members
                    .iter()
                    .map(|f| f.code_uri.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                source: Box::new(source),
            })?;
        init_pending = init_pending && one.init.is_none();
        built.binaries.extend(one.binaries);
        built.init = built.init.or(one.init);
    }
    Ok(built)
}

fn build_function(
    name: &str,
    package: String,
    bin: String,
    architecture: Architecture,
) -> Function {
    Function {
        name: name.to_owned(),
        package,
        bin: Some(bin),
        memory: lsk_manifest::kinds::function::DEFAULT_MEMORY_MB,
        timeout: lsk_manifest::kinds::function::DEFAULT_TIMEOUT_S,
        architecture,
        environment: BTreeMap::new(),
        url: None,
        sqs: Vec::new(),
        s3: Vec::new(),
        description: None,
        example: None,
        example_path: None,
    }
}

/// The package and binary a crate function builds, as `sam build` (cargo lambda) picks them.
fn pick_binary(
    f: &SamFunction,
    dir: &Path,
    binary: Option<&str>,
    ws: &lsk_build::Workspace,
) -> Result<(String, String), SamError> {
    let fail = |message: String, hint: &str| SamError::Resource {
        at: At::file(dir),
        logical_id: f.logical_id.clone(),
        message,
        hint: Some(hint.to_owned()),
    };
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let here = canonical(dir);
    let own = ws
        .package_dirs
        .iter()
        .find(|(_, d)| canonical(d) == here)
        .map(|(name, _)| name.clone());
    let candidates: Vec<(String, String)> = ws
        .packages
        .iter()
        .filter(|(name, _)| own.as_ref().is_none_or(|o| o == *name))
        .flat_map(|(name, bins)| bins.iter().map(move |b| (name.clone(), b.clone())))
        .collect();
    match binary {
        Some(b) => candidates
            .into_iter()
            .find(|(_, bin)| bin == b)
            .ok_or_else(|| {
                fail(
                    format!(
                        "CodeUri {}: no binary {b} (Metadata.BuildProperties.Binary)",
                        f.code_uri
                    ),
                    "name one of the crate's [[bin]] targets",
                )
            }),
        None => match candidates.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(fail(
                format!("CodeUri {}: the crate has no binary target", f.code_uri),
                "a Lambda needs src/main.rs or a [[bin]]",
            )),
            many => Err(fail(
                format!(
                    "CodeUri {} has several binaries ({})",
                    f.code_uri,
                    many.iter()
                        .map(|(_, b)| b.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "say which with Metadata: {BuildProperties: {Binary: NAME}}",
            )),
        },
    }
}

/// Zips each function's code: built binaries and prebuilt bootstraps checked for the
/// architecture they run on here, zips as they are.
pub fn package(
    functions: &[SamFunction],
    built: &Built,
) -> Result<BTreeMap<String, Package>, SamError> {
    let mut out = BTreeMap::new();
    for f in functions {
        let fail = |code: &Path, source| SamError::Package {
            logical_id: f.logical_id.clone(),
            code: code.display().to_string(),
            source,
        };
        let arch = local_architecture(f.architecture);
        let mut zipped = match &f.code {
            Code::Crate { .. } => {
                let Some(binary) = built.binaries.get(&f.logical_id) else {
                    continue;
                };
                let mut p = package::package_binary(binary, arch).map_err(|e| fail(binary, e))?;
                p.build = built.target.map(|t| t.label().to_owned());
                p
            }
            Code::Bootstrap { dir } => {
                let path = dir.join("bootstrap");
                let mut p = package::package_binary(&path, arch).map_err(|e| fail(&path, e))?;
                p.build = Some("prebuilt bootstrap".into());
                p
            }
            Code::Zip { path } => {
                let zip = std::fs::read(path).map_err(|source| SamError::Read {
                    path: path.clone(),
                    source,
                })?;
                Package {
                    sha256: package::code_sha256(&zip),
                    zip,
                    build: Some("prebuilt zip".into()),
                }
            }
            Code::Remote => continue,
        };
        if arch != f.architecture {
            let note = format!(
                "built for {} (declared {})",
                arch.as_str(),
                f.architecture.as_str()
            );
            zipped.build = Some(match zipped.build {
                Some(b) => format!("{b}, {note}"),
                None => note,
            });
        }
        out.insert(f.logical_id.clone(), zipped);
    }
    Ok(out)
}
