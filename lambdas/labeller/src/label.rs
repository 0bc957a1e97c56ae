//! The labeller abstraction: an object's bytes go in, labels come out. Which implementation runs
//! is fixed at startup; the default is [`StubLabeller`], deterministic and offline, in the same
//! way as the image generator's stub model.

use std::future::Future;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// What a labeller says about one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Labels {
    /// Name of the labeller that made them, e.g. `stub-v1`.
    pub labeller: String,
    /// Labels, most general first.
    pub labels: Vec<String>,
}

/// Why a labeller could not label an object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("labeller {labeller} failed: {message}")]
pub struct LabelError {
    pub labeller: String,
    pub message: String,
}

/// Labels objects.
pub trait Labeller: Send + Sync {
    /// Stable name of the labeller, written into every labels file.
    fn name(&self) -> &str;

    /// Labels the object `key` whose content is `bytes`.
    fn label(
        &self,
        key: &str,
        bytes: &[u8],
    ) -> impl Future<Output = Result<Labels, LabelError>> + Send;
}

/// Name of the stub labeller.
pub const STUB_LABELLER: &str = "stub-v1";

/// A labeller without a model: the kind of file from its first bytes and name, a size class,
/// and a colour from the content's digest, so the same bytes always get the same labels.
#[derive(Debug, Clone, Copy, Default)]
pub struct StubLabeller;

const COLOURS: [&str; 8] = [
    "red", "orange", "yellow", "green", "blue", "indigo", "violet", "grey",
];

impl StubLabeller {
    /// The labels of `bytes` named `key` (pure, for tests and for [`Labeller::label`]).
    pub fn labels_of(key: &str, bytes: &[u8]) -> Vec<String> {
        let mut labels = Vec::new();
        let extension = key
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_ascii_lowercase())
            .unwrap_or_default();
        let kind = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            ["image", "png"]
        } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            ["image", "jpeg"]
        } else if bytes.starts_with(b"%PDF") {
            ["document", "pdf"]
        } else if std::str::from_utf8(bytes).is_ok() {
            match extension.as_str() {
                "json" => ["text", "json"],
                "csv" => ["text", "csv"],
                "md" => ["text", "markdown"],
                _ => ["text", "plain"],
            }
        } else {
            ["binary", "unknown"]
        };
        labels.extend(kind.iter().map(|l| (*l).to_owned()));
        labels.push(
            match bytes.len() {
                0 => "empty",
                1..=1_023 => "small",
                1_024..=1_048_575 => "medium",
                _ => "large",
            }
            .to_owned(),
        );
        if !bytes.is_empty() {
            let digest = Sha256::digest(bytes);
            labels.push(COLOURS[usize::from(digest[0]) % COLOURS.len()].to_owned());
        }
        labels
    }
}

impl Labeller for StubLabeller {
    fn name(&self) -> &str {
        STUB_LABELLER
    }

    async fn label(&self, key: &str, bytes: &[u8]) -> Result<Labels, LabelError> {
        Ok(Labels {
            labeller: STUB_LABELLER.to_owned(),
            labels: StubLabeller::labels_of(key, bytes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_bytes_get_the_same_labels() {
        let png = b"\x89PNG\r\n\x1a\nrest of the image";
        assert_eq!(
            StubLabeller::labels_of("uploads/a.png", png),
            StubLabeller::labels_of("uploads/b.png", png)
        );
        let labels = StubLabeller::labels_of("uploads/a.png", png);
        assert_eq!(labels[..3], ["image", "png", "small"]);
        assert_eq!(labels.len(), 4, "{labels:?}");
    }

    #[test]
    fn kinds_come_from_the_content_then_the_name() {
        assert_eq!(
            StubLabeller::labels_of("uploads/notes.md", b"# hi")[..2],
            ["text", "markdown"]
        );
        assert_eq!(
            StubLabeller::labels_of("uploads/x.png", &[0, 159, 146, 150])[..2],
            ["binary", "unknown"]
        );
        assert_eq!(
            StubLabeller::labels_of("uploads/empty.txt", b""),
            ["text", "plain", "empty"]
        );
    }
}
