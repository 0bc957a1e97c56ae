//! AWS's own SAM tools (`sam`, `cfn-lint`), pinned with hashes in the kit's
//! `localstack/sam-tools.txt` and installed on first need into `<root>/.lsk/sam-cli`, a venv of
//! their own (their boto3 and translator are not LocalStack's); and the checks they run on a
//! template `lsk export sam` wrote.

use std::path::{Path, PathBuf};

use lsk_kit::progress::Progress;
use tokio::process::Command;

use crate::error::SamError;

/// The lock of the SAM tools, relative to the kit root (`make lock` writes it).
pub const SAM_TOOLS: &str = "localstack/sam-tools.txt";

/// `<root>/.lsk/sam-cli`
pub fn venv(root: &Path) -> PathBuf {
    lsk_kit::paths::lsk_dir(root).join("sam-cli")
}

/// The venv's `bin` directory, holding `sam` and `cfn-lint` once installed.
pub fn bin(root: &Path) -> PathBuf {
    venv(root).join("bin")
}

async fn run(mut cmd: Command, what: &str) -> Result<String, SamError> {
    let out = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| SamError::Tool {
            command: what.to_owned(),
            output: e.to_string(),
        })?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        Ok(text)
    } else {
        Err(SamError::Tool {
            command: what.to_owned(),
            output: text.trim().to_owned(),
        })
    }
}

/// The SAM tools' `bin` directory, installing them first when they are not there.
pub async fn ensure_sam_cli(root: &Path, progress: &Progress) -> Result<PathBuf, SamError> {
    static INSTALLING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let bin = bin(root);
    if bin.join("sam").is_file() && bin.join("cfn-lint").is_file() {
        return Ok(bin);
    }
    let _installing = INSTALLING.lock().await;
    if bin.join("sam").is_file() && bin.join("cfn-lint").is_file() {
        return Ok(bin);
    }
    let phase = progress.phase("sam-tools");
    let requirements = lsk_kit::Kit::for_workspace(root)
        .map_err(|e| SamError::Tool {
            command: "unpacking the kit's files".into(),
            output: e.to_string(),
        })?
        .path(SAM_TOOLS);
    // The kit's Python (LocalStack's venv) makes the new venv: it is the one Python lsk knows
    // works here.
    let python = lsk_kit::venv::ensure_installed(root, &|line: &str| phase.update(line))
        .await
        .map_err(|e| SamError::Tool {
            command: "installing the kit's Python venv".into(),
            output: e.to_string(),
        })?;
    let venv = venv(root);
    phase.update(&format!(
        "creating {} for the pinned aws-sam-cli and cfn-lint (first time only)",
        venv.display()
    ));
    let mut create = Command::new(&python);
    create.args(["-m", "venv"]).arg(&venv);
    run(
        create,
        &format!("{} -m venv {}", python.display(), venv.display()),
    )
    .await?;
    phase.update(&format!("installing {SAM_TOOLS} (about a minute)"));
    let mut install = Command::new(venv.join("bin/python"));
    install
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            "--no-deps",
            "--require-hashes",
            "-r",
        ])
        .arg(&requirements);
    if let Err(e) = run(
        install,
        &format!(
            "pip install --no-deps --require-hashes -r {}",
            requirements.display()
        ),
    )
    .await
    {
        // A half-made venv would be taken for an installed one next time.
        let _ = std::fs::remove_dir_all(&venv);
        return Err(e);
    }
    phase.done(&format!(
        "aws-sam-cli and cfn-lint (pinned) in {}",
        venv.display()
    ));
    Ok(bin)
}

/// Checks `template` with `cfn-lint` and `sam validate --lint`, offline; the tools' output when
/// both pass.
pub async fn validate(template: &Path, bin: &Path) -> Result<String, SamError> {
    let dir = template.parent().unwrap_or(Path::new("."));
    let mut lint = Command::new(bin.join("cfn-lint"));
    lint.arg(template).current_dir(dir);
    let linted = run(lint, &format!("cfn-lint {}", template.display())).await?;
    let mut sam = Command::new(bin.join("sam"));
    sam.args([
        "validate",
        "--lint",
        "--region",
        lsk_aws::DEFAULT_REGION,
        "--template",
    ])
    .arg(template)
    .current_dir(dir)
    .env("SAM_CLI_TELEMETRY", "0");
    let validated = run(
        sam,
        &format!("sam validate --lint --template {}", template.display()),
    )
    .await?;
    Ok(format!("{linted}{validated}").trim().to_owned())
}
