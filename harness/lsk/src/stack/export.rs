//! `lsk export sam`: the stack of an `lsk.toml` as a SAM template for AWS (see
//! [`crate::sam::export`]); each function's crate comes from the workspace's `cargo metadata`.

use std::path::Path;

use crate::error::Error;
use crate::sam::export::{self, Crates};

use super::Stack;

impl Stack {
    /// The SAM template of this stack, as YAML, with paths relative to `out` (where it will be
    /// written). A stack that is a template already is refused.
    pub async fn export_sam(&self, out: &Path) -> Result<String, Error> {
        if self.template().is_some() {
            return Err(Error::NotForTemplates {
                what: "lsk export sam (the stack is a SAM template already)",
            });
        }
        let ws = crate::build::workspace(self.root()).await?;
        let crates = Crates {
            dirs: ws.package_dirs,
            bins: ws.packages,
        };
        let template = export::export(&self.manifest, &crates, out);
        export::to_yaml(&template).map_err(|e| Error::Io {
            what: "writing the template as YAML".into(),
            source: std::io::Error::other(e),
        })
    }
}
