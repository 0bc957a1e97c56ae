//! What the CLI tests share: running `lsk` as a user would, against a state dir of its own, and
//! reading the lines it prints.
// Each test binary uses only some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root (this crate is `harness/cli`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository holds harness/cli")
}

/// `lsk --backend <backend> --state-dir <state> <args>`, so it never meets a user's stack.
pub fn lsk_on(backend: &str, state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lsk"))
        .current_dir(root())
        .args(["--backend", backend, "--state-dir"])
        .arg(state)
        .args(args)
        .env_remove("LOCALSTACK_ENDPOINT")
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .expect("lsk runs")
}

/// Runs `lsk down` on its backend and state dir when dropped, so what `lsk up` started is
/// stopped even when an assertion fails half-way.
pub struct Down {
    pub backend: &'static str,
    pub state: PathBuf,
}

impl Drop for Down {
    fn drop(&mut self) {
        let _ = lsk_on(self.backend, &self.state, &["down"]);
    }
}

/// A fresh Cargo workspace of a user's own at `target/lsk-e2e/<name>`, with this repository's
/// `Cargo.lock` (versions already downloaded) and a target dir shared by the scratch-workspace
/// tests and outliving them, so only the workspace's own crates compile on a rerun. Give each
/// test's functions names no other scratch test uses: cargo gives path crates of one name at one
/// relative path the same build output, whichever workspace they are in.
pub fn scratch_workspace(name: &str) -> PathBuf {
    let dir = root().join("target/lsk-e2e").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join(".cargo")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "# a team's own workspace\n[workspace]\nresolver = \"3\"\nmembers = []\n",
    )
    .unwrap();
    std::fs::copy(root().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    std::fs::write(
        dir.join(".cargo/config.toml"),
        format!(
            "[build]\ntarget-dir = \"{}\"\n",
            root().join("target/lsk-e2e/new-target").display()
        ),
    )
    .unwrap();
    dir
}

/// Everything a command printed, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "status {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The printed `<kind>` line (`curl`, `awslocal`) in the block of the item named `name`.
pub fn line_for(stdout: &str, name: &str, kind: &str) -> Option<String> {
    let mut in_block = false;
    for line in stdout.lines() {
        let t = line.trim_start();
        if line.starts_with("  ") && !line.starts_with("    ") {
            in_block = t.starts_with(&format!("{name} ")) || t == name;
        }
        // "    curl            curl -s -X POST ..."
        if in_block && let Some(cmd) = t.strip_prefix(&format!("{kind} ")) {
            return Some(cmd.trim().to_string());
        }
    }
    None
}
