//! Lambda deployment packages: one executable zipped as `bootstrap`, byte-for-byte reproducible.
//!
//! The zip has a fixed timestamp (1980-01-01, the DOS epoch), a fixed entry order and fixed
//! compression, so the same binary always gives the same bytes and the same SHA-256. Lambda
//! reports that digest as `CodeSha256` (base64), which is how a deploy skips unchanged code.
//!
//! Before zipping, the binary's header is checked: a 64-bit little-endian ELF executable for the
//! function's declared architecture. A host build on macOS (Mach-O), or for the other
//! architecture, would otherwise upload fine and only fail when the function is first invoked.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha256};
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

use crate::manifest::Architecture;

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
    #[error("zipping {path} failed: {source}")]
    Zip {
        path: PathBuf,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{path} is {found}, not {}", wanted(.expected))]
    WrongBinary {
        path: PathBuf,
        /// What the file is instead, e.g. `a Mach-O binary (macOS)`, `an ELF for aarch64`.
        found: String,
        expected: Architecture,
    },
}

impl miette::Diagnostic for PackageError {}

/// ELF `e_machine` values.
pub const EM_X86_64: u16 = 0x3E;
pub const EM_AARCH64: u16 = 0xB7;

/// The ELF `e_machine` a Lambda of `architecture` runs.
pub fn elf_machine(architecture: Architecture) -> u16 {
    match architecture {
        Architecture::X86_64 => EM_X86_64,
        Architecture::Arm64 => EM_AARCH64,
    }
}

/// What a function of `architecture` needs, and how to build it.
fn wanted(architecture: &Architecture) -> String {
    let machine = elf_machine(*architecture);
    let flag = match architecture {
        Architecture::X86_64 => "--x86-64",
        Architecture::Arm64 => "--arm64",
    };
    format!(
        "a Linux executable for {} (an ELF with e_machine {}), which the function's architecture `{}` needs. \
         Build it for Lambda with `lsk deploy --build-target lambda` (or `cargo lambda build --release {flag}`), \
         or set the function's `architecture` in lsk.toml to what the binary is built for",
        elf_machine_name(machine),
        hex_machine(machine),
        architecture.as_str(),
    )
}

fn hex_machine(machine: u16) -> String {
    format!("0x{machine:X}")
}

/// A readable name for an ELF `e_machine` (the common ones; others by number).
fn elf_machine_name(machine: u16) -> String {
    let name = match machine {
        EM_X86_64 => "x86_64",
        EM_AARCH64 => "aarch64",
        0x03 => "x86 (32-bit)",
        0x28 => "arm (32-bit)",
        0x08 => "mips",
        0x14 => "powerpc",
        0x15 => "powerpc64",
        0x16 => "s390x",
        0xF3 => "riscv",
        0x102 => "loongarch",
        other => return format!("machine {}", hex_machine(other)),
    };
    name.to_owned()
}

/// Checks that `bytes` are a 64-bit little-endian ELF executable (or position-independent
/// executable) for `architecture`. `Err` says what the bytes are instead.
pub fn check_executable(bytes: &[u8], architecture: Architecture) -> Result<(), String> {
    const ET_REL: u16 = 1;
    const ET_EXEC: u16 = 2;
    const ET_DYN: u16 = 3;
    const ET_CORE: u16 = 4;
    let Some(ident) = bytes.strip_prefix(b"\x7fELF") else {
        return Err(describe_non_elf(bytes));
    };
    // e_ident: class, data (endianness), ...; e_type at 16, e_machine at 18 (both u16).
    if bytes.len() < 20 {
        return Err("a truncated ELF file (shorter than its header)".into());
    }
    let class = ident[0];
    let little_endian = ident[1] == 1;
    let read_u16 = |at: usize| {
        let pair = [bytes[at], bytes[at + 1]];
        if little_endian {
            u16::from_le_bytes(pair)
        } else {
            u16::from_be_bytes(pair)
        }
    };
    let (e_type, machine) = (read_u16(16), read_u16(18));
    let shape = match (class, ident[1]) {
        (2, 1) => "an ELF",
        (1, 1) => "a 32-bit ELF",
        (2, 2) => "a big-endian ELF",
        (1, 2) => "a 32-bit big-endian ELF",
        _ => "a malformed ELF",
    };
    let for_machine = format!("for {}", elf_machine_name(machine));
    let found = match e_type {
        ET_EXEC | ET_DYN if class == 2 && little_endian && machine == elf_machine(architecture) => {
            return Ok(());
        }
        ET_EXEC | ET_DYN => format!("{shape} {for_machine}"),
        ET_REL => format!("an ELF object file (.o) {for_machine}"),
        ET_CORE => "an ELF core dump".into(),
        other => format!("an ELF of unknown type {other} {for_machine}"),
    };
    Err(found)
}

/// What a file that is not ELF is, from its first bytes.
fn describe_non_elf(bytes: &[u8]) -> String {
    let magic = bytes.get(..4).map(|m| [m[0], m[1], m[2], m[3]]);
    match magic {
        None if bytes.is_empty() => return "an empty file".into(),
        Some([0xFE, 0xED, 0xFA, 0xCE | 0xCF]) | Some([0xCE | 0xCF, 0xFA, 0xED, 0xFE]) => {
            return "a Mach-O binary (macOS)".into();
        }
        Some([0xCA, 0xFE, 0xBA, 0xBE]) | Some([0xBE, 0xBA, 0xFE, 0xCA]) => {
            return "a universal Mach-O binary (macOS)".into();
        }
        _ => {}
    }
    if bytes.starts_with(b"MZ") {
        return "a Windows (PE) executable".into();
    }
    if bytes.starts_with(b"#!") {
        return "a script (#!), not a compiled executable".into();
    }
    // The first 512 bytes, minus a character the cut may have split.
    let head = &bytes[..bytes.len().min(512)];
    let head = match std::str::from_utf8(head) {
        Ok(t) => Some(t),
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&head[..e.valid_up_to()]).ok(),
        Err(_) => None,
    };
    let text = head.is_some_and(|t| {
        t.chars()
            .all(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
    });
    if text {
        return "a text file".into();
    }
    let first: Vec<String> = bytes.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!(
        "a file of unknown format (starting with {})",
        first.join(" ")
    )
}

/// A deployment package ready to upload.
#[derive(Clone, PartialEq, Eq)]
pub struct Package {
    /// The zip file's bytes.
    pub zip: Vec<u8>,
    /// base64(SHA-256(zip)), the form of Lambda's `CodeSha256`.
    pub sha256: String,
    /// How the binary was built (`host`, `cargo-lambda`), recorded on the function for
    /// `lsk status`; None when unknown.
    pub build: Option<String>,
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
    Ok(Package {
        zip,
        sha256,
        build: None,
    })
}

/// Reads the binary at `path`, checks that it is a Linux executable for `architecture`, and zips
/// it as `bootstrap`.
pub fn package_binary(path: &Path, architecture: Architecture) -> Result<Package, PackageError> {
    let bytes = std::fs::read(path).map_err(|source| PackageError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    check_executable(&bytes, architecture).map_err(|found| PackageError::WrongBinary {
        path: path.to_path_buf(),
        found,
        expected: architecture,
    })?;
    zip_bootstrap(&bytes).map_err(|source| PackageError::Zip {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// The first 64 bytes of an ELF64 file: class (1: 32-bit, 2: 64-bit), data (1: little
    /// endian, 2: big endian), e_type (2: EXEC, 3: DYN/PIE) and e_machine.
    fn elf_header(class: u8, data: u8, e_type: u16, machine: u16) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[..4].copy_from_slice(b"\x7fELF");
        h[4] = class;
        h[5] = data;
        h[6] = 1; // EI_VERSION
        let (t, m) = if data == 2 {
            (e_type.to_be_bytes(), machine.to_be_bytes())
        } else {
            (e_type.to_le_bytes(), machine.to_le_bytes())
        };
        h[16..18].copy_from_slice(&t);
        h[18..20].copy_from_slice(&m);
        h[20] = 1; // e_version
        h
    }

    fn found(bytes: &[u8], arch: Architecture) -> String {
        check_executable(bytes, arch).expect_err("should be refused")
    }

    #[test]
    fn elf_executables_for_the_declared_architecture_pass() {
        let x86 = elf_header(2, 1, 3, EM_X86_64);
        let arm = elf_header(2, 1, 2, EM_AARCH64);
        assert_eq!(check_executable(&x86, Architecture::X86_64), Ok(()));
        assert_eq!(check_executable(&arm, Architecture::Arm64), Ok(()));
        assert_eq!(found(&x86, Architecture::Arm64), "an ELF for x86_64");
        assert_eq!(found(&arm, Architecture::X86_64), "an ELF for aarch64");
    }

    #[test]
    fn what_is_not_a_linux_executable_is_named() {
        let arch = Architecture::X86_64;
        let cases: [(&[u8], &str); 11] = [
            (
                b"\xcf\xfa\xed\xfe\x07\x00\x00\x01",
                "a Mach-O binary (macOS)",
            ),
            (b"\xfe\xed\xfa\xce\x00", "a Mach-O binary (macOS)"),
            (
                b"\xca\xfe\xba\xbe\x00\x00\x00\x02",
                "a universal Mach-O binary (macOS)",
            ),
            (b"MZ\x90\x00\x03", "a Windows (PE) executable"),
            (
                b"#!/bin/sh\necho hi\n",
                "a script (#!), not a compiled executable",
            ),
            (b"fn main() {\n    println!(\"hi\");\n}\n", "a text file"),
            (b"", "an empty file"),
            (
                b"\x00\x01\x02\x03\x04",
                "a file of unknown format (starting with 00 01 02 03)",
            ),
            (
                b"\x7fELF\x02\x01",
                "a truncated ELF file (shorter than its header)",
            ),
            (
                &elf_header(2, 1, 1, EM_X86_64),
                "an ELF object file (.o) for x86_64",
            ),
            (&elf_header(2, 1, 4, EM_X86_64), "an ELF core dump"),
        ];
        for (bytes, what) in cases {
            assert_eq!(found(bytes, arch), what, "{bytes:?}");
        }
        assert_eq!(
            found(&elf_header(1, 1, 2, 0x03), arch),
            "a 32-bit ELF for x86 (32-bit)"
        );
        assert_eq!(
            found(&elf_header(1, 1, 2, 0x28), Architecture::Arm64),
            "a 32-bit ELF for arm (32-bit)"
        );
        assert_eq!(
            found(&elf_header(2, 2, 2, 0x16), arch),
            "a big-endian ELF for s390x"
        );
        assert_eq!(
            found(&elf_header(2, 1, 2, 0x1234), arch),
            "an ELF for machine 0x1234"
        );
        // A text longer than what is looked at, cut inside a character.
        let long_text = "é".repeat(400);
        assert_eq!(found(long_text.as_bytes(), arch), "a text file");
    }

    #[test]
    fn a_wrong_binary_is_refused_before_zipping_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("square");
        std::fs::write(&path, b"\xcf\xfa\xed\xfe\x07\x00\x00\x01\x03").unwrap();
        let err = package_binary(&path, Architecture::X86_64).unwrap_err();
        assert!(matches!(err, PackageError::WrongBinary { .. }), "{err}");
        let text = err.to_string();
        for fragment in [
            path.display().to_string().as_str(),
            "is a Mach-O binary (macOS), not a Linux executable for x86_64 (an ELF with e_machine 0x3E)",
            "architecture `x86_64`",
            "--build-target lambda",
            "cargo lambda build --release --x86-64",
        ] {
            assert!(text.contains(fragment), "{fragment:?} not in: {text}");
        }
        std::fs::write(&path, elf_header(2, 1, 3, EM_X86_64)).unwrap();
        let text = package_binary(&path, Architecture::Arm64)
            .unwrap_err()
            .to_string();
        for fragment in [
            "is an ELF for x86_64, not a Linux executable for aarch64 (an ELF with e_machine 0xB7)",
            "architecture `arm64`",
            "cargo lambda build --release --arm64",
        ] {
            assert!(text.contains(fragment), "{fragment:?} not in: {text}");
        }
    }

    #[test]
    fn the_running_test_binary_is_recognised() {
        let exe = std::env::current_exe().unwrap();
        let mut header = vec![0u8; 64];
        let n = std::io::Read::read(&mut std::fs::File::open(&exe).unwrap(), &mut header).unwrap();
        header.truncate(n);
        let (this, other) = if cfg!(target_arch = "aarch64") {
            (Architecture::Arm64, Architecture::X86_64)
        } else {
            (Architecture::X86_64, Architecture::Arm64)
        };
        if cfg!(target_os = "linux") && cfg!(any(target_arch = "x86_64", target_arch = "aarch64")) {
            assert_eq!(check_executable(&header, this), Ok(()));
            // Refused before anything is zipped (the test binary is large).
            let err = package_binary(&exe, other).unwrap_err().to_string();
            let machine = elf_machine_name(elf_machine(this));
            assert!(err.contains(&format!("is an ELF for {machine}")), "{err}");
        } else if cfg!(target_os = "macos") {
            assert_eq!(found(&header, this), "a Mach-O binary (macOS)");
        }
    }

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
        let binary = elf_header(2, 1, 3, EM_X86_64);
        std::fs::write(&first, &binary).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100));
        std::fs::write(&second, &binary).unwrap();
        assert_eq!(
            package_binary(&first, Architecture::X86_64).unwrap(),
            package_binary(&second, Architecture::X86_64).unwrap()
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
        let err = package_binary(
            Path::new("/nonexistent/target/release/square"),
            Architecture::X86_64,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("/nonexistent/target/release/square"),
            "{err}"
        );
    }
}
