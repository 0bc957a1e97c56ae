//! The copy of the workspace the loop runs in: its deployable part synced from the project, its
//! target dir seeded with the project's build outputs, and the one edit the loop makes.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};

/// Gives the copy's empty build dirs a copy of the project's (`<target>/lsk/*`, made by the
/// bench's own deploy a moment earlier), timestamps kept. With the sources copied with their
/// mtimes too, cargo in the copy finds them fresh: the first `lsk up` there compiles nothing,
/// instead of the AWS SDK and every function once more (minutes on a fresh clone).
fn seed_target(project_target: &Path, copy_target: &Path) -> Result<()> {
    let from = project_target.join("lsk");
    let Ok(sets) = fs::read_dir(&from) else {
        return Ok(());
    };
    let to = copy_target.join("lsk");
    fs::create_dir_all(&to).with_context(|| format!("creating {}", to.display()))?;
    for set in sets {
        let set = set?;
        let dst = to.join(set.file_name());
        if !set.file_type()?.is_dir() || dst.exists() {
            continue;
        }
        let status = std::process::Command::new("cp")
            .args(["-a", "--reflink=auto"])
            .arg(set.path())
            .arg(&dst)
            .status()
            .context("running cp")?;
        if !status.success() {
            let _ = fs::remove_dir_all(&dst);
            bail!(
                "copying {} to {} failed ({status})",
                set.path().display(),
                dst.display()
            );
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` unless it already holds them (unchanged files keep their mtime, so
/// cargo stays fresh between runs); says whether it wrote.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<bool> {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(true)
}

fn skipped_name(name: &str) -> bool {
    matches!(name, "target" | "build" | "__pycache__" | ".git") || name.ends_with(".egg-info")
}

/// Makes `to` a copy of `from` (files only written when they differ; files `from` no longer
/// has are removed).
pub fn sync_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let mut keep = std::collections::HashSet::new();
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        if skipped_name(&name.to_string_lossy()) {
            continue;
        }
        keep.insert(name.clone());
        let (src, dst) = (entry.path(), to.join(&name));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            sync_dir(&src, &dst)?;
        } else if kind.is_file() {
            let bytes = fs::read(&src).with_context(|| format!("reading {}", src.display()))?;
            let meta = fs::metadata(&src)?;
            if write_if_changed(&dst, &bytes)? {
                // The source's mtime: with the build outputs seeded from the project's
                // (`seed_target`), cargo then sees nothing to rebuild.
                if let Ok(modified) = meta.modified() {
                    fs::File::options()
                        .write(true)
                        .open(&dst)
                        .and_then(|f| f.set_modified(modified))
                        .with_context(|| format!("setting the mtime of {}", dst.display()))?;
                }
            }
            fs::set_permissions(&dst, meta.permissions())?;
        }
    }
    for entry in fs::read_dir(to)? {
        let entry = entry?;
        if !keep.contains(&entry.file_name()) && !skipped_name(&entry.file_name().to_string_lossy())
        {
            let p = entry.path();
            if entry.file_type()?.is_dir() {
                fs::remove_dir_all(&p)?;
            } else {
                fs::remove_file(&p)?;
            }
        }
    }
    Ok(())
}

/// The copy of the workspace the loop runs in.
pub struct Mirror {
    pub dir: PathBuf,
    pub manifest: PathBuf,
    pub target_dir: PathBuf,
    /// The edited function's `src/main.rs` in the copy.
    pub edit_file: PathBuf,
    pristine_main: Vec<u8>,
}

/// Creates or refreshes the copy for the functions of `stack` (plus lsk-init).
pub async fn prepare(
    root: &Path,
    stack: &lsk::Stack,
    dir: &Path,
    edit_function: &str,
) -> Result<Mirror> {
    let venv = root.join(".lsk").join("venv");
    if !venv.join("bin").join("python").exists() {
        bail!(
            "{} has no LocalStack install; run `bash localstack/install.sh` (make bench does)",
            venv.display()
        );
    }
    let ws = lsk::build::workspace(root)
        .await
        .context("reading the workspace with cargo metadata")?;
    let (project_target, dirs) = (ws.target_directory, ws.package_dirs);
    let mut packages: Vec<String> = stack
        .manifest()
        .functions
        .values()
        .map(|f| f.package.clone())
        .collect();
    packages.push(lsk::build::INIT_PACKAGE.to_owned());
    packages.sort();
    packages.dedup();
    let mut members = Vec::new();
    for p in &packages {
        let src = dirs
            .get(p)
            .ok_or_else(|| anyhow!("package {p} is not in the workspace at {}", root.display()))?;
        let rel = src
            .strip_prefix(root)
            .with_context(|| format!("{} is outside {}", src.display(), root.display()))?;
        sync_dir(src, &dir.join(rel))?;
        members.push(rel.to_string_lossy().into_owned());
    }

    // The workspace manifest: the same shared settings, only the copied members.
    let text = fs::read_to_string(root.join("Cargo.toml")).context("reading Cargo.toml")?;
    let mut doc: toml::Table = toml::from_str(&text).context("parsing Cargo.toml")?;
    let ws = doc
        .get_mut("workspace")
        .and_then(toml::Value::as_table_mut)
        .ok_or_else(|| anyhow!("Cargo.toml has no [workspace] table"))?;
    ws.insert(
        "members".into(),
        toml::Value::Array(members.iter().cloned().map(toml::Value::String).collect()),
    );
    ws.remove("default-members");
    if let Some(deps) = ws
        .get_mut("dependencies")
        .and_then(toml::Value::as_table_mut)
    {
        // Path dependencies on crates that were not copied would not resolve.
        deps.retain(|_, v| {
            v.get("path")
                .and_then(toml::Value::as_str)
                .is_none_or(|p| members.iter().any(|m| m == p))
        });
    }
    let header =
        "# Generated by lsk-bench from the project's Cargo.toml: the developer-loop copy.\n";
    let body = toml::to_string(&doc).context("writing the copy's Cargo.toml")?;
    write_if_changed(
        &dir.join("Cargo.toml"),
        format!("{header}{body}").as_bytes(),
    )?;
    write_if_changed(&dir.join("Cargo.lock"), &fs::read(root.join("Cargo.lock"))?)?;
    let manifest = dir.join("lsk.toml");
    write_if_changed(&manifest, &fs::read(&stack.manifest().path)?)?;
    // Files the manifest reads, at the same paths relative to it.
    for machine in stack.manifest().state_machines.values() {
        let from = &machine.definition_path;
        let to = dir.join(&machine.definition_file);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        write_if_changed(
            &to,
            &fs::read(from).with_context(|| format!("reading {}", from.display()))?,
        )?;
    }

    // What the native backend needs next to the manifest.
    let ls = root.join("localstack");
    for f in ["install.sh", "requirements.lock", "requirements.in"] {
        if ls.join(f).is_file() {
            write_if_changed(&dir.join("localstack").join(f), &fs::read(ls.join(f))?)?;
        }
    }
    sync_dir(&ls.join("plugin"), &dir.join("localstack").join("plugin"))?;
    // What the docker backend makes its image from (prepare-site.py is one of the image's inputs).
    if ls.join("docker").is_dir() {
        sync_dir(&ls.join("docker"), &dir.join("localstack").join("docker"))?;
    }
    let link = dir.join(".lsk").join("venv");
    fs::create_dir_all(dir.join(".lsk"))?;
    if fs::read_link(&link).ok().as_deref() != Some(venv.as_path()) {
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(&venv, &link)
            .with_context(|| format!("linking {} to {}", link.display(), venv.display()))?;
    }

    let function = stack
        .manifest()
        .functions
        .get(edit_function)
        .ok_or_else(|| anyhow!("lsk.toml has no function {edit_function}"))?;
    let src_dir = dirs
        .get(&function.package)
        .ok_or_else(|| anyhow!("package {} not found", function.package))?;
    let rel = src_dir.strip_prefix(root)?;
    let edit_file = dir.join(rel).join("src").join("main.rs");
    let pristine_main =
        fs::read(&edit_file).with_context(|| format!("reading {}", edit_file.display()))?;
    seed_target(&project_target, &dir.join("target"))?;
    Ok(Mirror {
        dir: dir.to_path_buf(),
        manifest,
        target_dir: dir.join("target"),
        edit_file,
        pristine_main,
    })
}

impl Mirror {
    pub fn state_dir(&self) -> PathBuf {
        lsk::backend::state_dir(&self.dir)
    }

    /// Inserts a line that changes the binary (a string the optimiser must keep) at the top of
    /// `fn main`. Returns the line.
    pub fn edit(&self, nonce: &str) -> Result<String> {
        let text = String::from_utf8_lossy(&self.pristine_main);
        let line = format!("std::hint::black_box(\"lsk-bench edit {nonce}\");");
        let edited = insert_into_main(&text, &line).ok_or_else(|| {
            anyhow!(
                "{} has no `fn main(...) {{` line to put the edit after",
                self.edit_file.display()
            )
        })?;
        fs::write(&self.edit_file, edited)
            .with_context(|| format!("writing {}", self.edit_file.display()))?;
        Ok(line)
    }

    pub fn restore(&self) -> Result<()> {
        write_if_changed(&self.edit_file, &self.pristine_main).map(drop)
    }
}

/// `source` with `statement` as the first line of the body of `fn main` (whose signature must end
/// its line with `{`), or `None` if there is no such line.
pub fn insert_into_main(source: &str, statement: &str) -> Option<String> {
    let mut out = String::with_capacity(source.len() + statement.len() + 8);
    let mut inserted = false;
    for l in source.lines() {
        out.push_str(l);
        out.push('\n');
        if !inserted && l.contains("fn main(") && l.trim_end().ends_with('{') {
            out.push_str("    ");
            out.push_str(statement);
            out.push('\n');
            inserted = true;
        }
    }
    inserted.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edit_goes_first_into_main_and_nowhere_else() {
        let src = "use x;\n\n#[tokio::main]\nasync fn main() -> Result<(), Error> {\n    run().await\n}\n";
        let out = insert_into_main(src, "std::hint::black_box(\"e\");").unwrap();
        assert_eq!(
            out,
            "use x;\n\n#[tokio::main]\nasync fn main() -> Result<(), Error> {\n    std::hint::black_box(\"e\");\n    run().await\n}\n"
        );
        assert!(insert_into_main("fn main()\n{\n}\n", "x;").is_none());
    }
}
