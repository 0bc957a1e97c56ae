//! Lambda deployment packages: one executable zipped as `bootstrap`, byte-for-byte reproducible.
//!
//! The zip has a fixed timestamp (1980-01-01, the DOS epoch), a fixed entry order and fixed
//! compression, so the same binary always gives the same bytes and the same SHA-256. Lambda
//! reports that digest as `CodeSha256` (base64), which is how a deploy skips unchanged code.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// The entry name a `provided.*` runtime executes.
pub const ENTRY_NAME: &str = "bootstrap";
/// rwxr-xr-x: Lambda runs the entry, so it must be executable.
pub const ENTRY_MODE: u32 = 0o755;

/// What can go wrong packaging.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("cannot read the built binary {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("zipping {path} failed: {detail}")]
    Zip { path: PathBuf, detail: String },
}

/// A deployment package ready to upload.
#[derive(Clone, PartialEq, Eq)]
pub struct Package {
    /// The zip file's bytes.
    pub zip: Vec<u8>,
    /// base64(SHA-256(zip)), the form of Lambda's `CodeSha256`.
    pub sha256: String,
}

impl std::fmt::Debug for Package {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Package")
            .field("zip_len", &self.zip.len())
            .field("sha256", &self.sha256)
            .finish()
    }
}

/// base64(SHA-256(bytes)), as Lambda reports `CodeSha256`.
pub fn code_sha256(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// Zips `executable` (the binary's bytes) as `bootstrap`.
pub fn zip_bootstrap(executable: &[u8]) -> Result<Package, zip::result::ZipError> {
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .last_modified_time(DateTime::default())
        .unix_permissions(ENTRY_MODE);
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    writer.start_file(ENTRY_NAME, options)?;
    writer.write_all(executable)?;
    let zip = writer.finish()?.into_inner();
    let sha256 = code_sha256(&zip);
    Ok(Package { zip, sha256 })
}

/// Reads the binary at `path` and zips it as `bootstrap`.
pub fn package_binary(path: &Path) -> Result<Package, PackageError> {
    let bytes = std::fs::read(path).map_err(|source| PackageError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    zip_bootstrap(&bytes).map_err(|e| PackageError::Zip {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn open(zip: &[u8]) -> zip::ZipArchive<Cursor<&[u8]>> {
        zip::ZipArchive::new(Cursor::new(zip)).expect("a readable zip")
    }

    #[test]
    fn same_input_gives_the_same_bytes_and_digest() {
        let binary: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let a = zip_bootstrap(&binary).unwrap();
        let b = zip_bootstrap(&binary).unwrap();
        assert_eq!(a.zip, b.zip);
        assert_eq!(a.sha256, b.sha256);
        assert_eq!(a.sha256, code_sha256(&a.zip));
        // base64 of 32 bytes
        assert_eq!(a.sha256.len(), 44);
        let other = zip_bootstrap(b"something else").unwrap();
        assert_ne!(a.sha256, other.sha256);
    }

    #[test]
    fn digest_does_not_depend_on_the_clock_or_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("square");
        let second = dir.path().join("copy-made-later");
        std::fs::write(&first, b"\x7fELF pretend binary").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        std::fs::write(&second, b"\x7fELF pretend binary").unwrap();
        assert_eq!(
            package_binary(&first).unwrap(),
            package_binary(&second).unwrap()
        );
    }

    #[test]
    fn single_executable_entry_named_bootstrap_at_the_root() {
        let pkg = zip_bootstrap(b"#!/bin/sh\necho hi\n").unwrap();
        let mut archive = open(&pkg.zip);
        assert_eq!(archive.len(), 1);
        let mut entry = archive.by_index(0).unwrap();
        assert_eq!(entry.name().unwrap(), "bootstrap");
        let mode = entry.unix_mode().expect("unix mode recorded");
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(mode & 0o170000, 0o100000, "a regular file");
        assert_eq!(entry.compression(), CompressionMethod::Deflated);
        let modified = entry.last_modified().expect("timestamp");
        assert_eq!(
            (modified.year(), modified.month(), modified.day()),
            (1980, 1, 1)
        );
        let mut content = Vec::new();
        entry.read_to_end(&mut content).unwrap();
        assert_eq!(content, b"#!/bin/sh\necho hi\n");
    }

    #[test]
    fn missing_binary_names_the_path() {
        let err = package_binary(Path::new("/nonexistent/target/release/square")).unwrap_err();
        assert!(
            err.to_string()
                .contains("/nonexistent/target/release/square"),
            "{err}"
        );
    }
}
