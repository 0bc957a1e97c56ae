//! Our image's root filesystem as one tar stream: the base's `docker export`, passed through
//! byte for byte, with `/bin/sh` pointed at bash and a directory of ours laid on top.
//!
//! `docker import` turns the stream into a one-layer image. On an engine whose storage is
//! fuse-overlayfs (rootless and nested engines), that takes seconds where a `docker build`
//! copying the same 600 MB of Python packages layer by layer took two minutes: each build step
//! runs a container over the layers below and commits its changes through the FUSE mount.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use tar::{Archive, Builder, EntryType, Header, HeaderMode};

/// Where a Debian root keeps `sh` (merged-/usr roots: the second).
const SH_PATHS: [&str; 2] = ["bin/sh", "usr/bin/sh"];

/// What `/bin/sh` becomes, as on Amazon Linux (Debian's dash dies on `set -o pipefail` in a
/// `#!/bin/sh` bootstrap).
pub const SH_TARGET: &str = "bash";

/// Writes to `out` the entries of the tar stream `base`, unchanged, but for `sh` (a symlink to
/// [`SH_TARGET`] in its place) and the files the tree under `ours` replaces; then that tree
/// (owned by root, files 0644 or 0755, symlinks kept as symlinks), less the directories the
/// base has. `docker import` refuses a stream that names a path twice.
pub fn merge(base: impl Read, ours: &Path, out: impl Write) -> io::Result<()> {
    let mut tree = Vec::new();
    walk(ours, Path::new(""), &mut tree)?;
    let replaced: HashSet<String> = tree
        .iter()
        .filter(|(_, is_dir)| !is_dir)
        .map(|(rel, _)| rel.display().to_string())
        .collect();

    let mut builder = Builder::new(out);
    builder.mode(HeaderMode::Deterministic);
    builder.follow_symlinks(false);
    let mut base_dirs = HashSet::new();
    let mut sh_written = false;
    // Raw entries: long names and PAX records (xattrs included) pass as the entries they are;
    // such an extension entry is held until the entry it belongs to is kept or dropped.
    let mut held: Vec<(Header, Vec<u8>)> = Vec::new();
    let mut archive = Archive::new(base);
    for entry in archive.entries()?.raw(true) {
        let mut entry = entry?;
        let header = entry.header().clone();
        let kind = header.entry_type();
        if kind.is_gnu_longname() || kind.is_gnu_longlink() || kind.is_pax_local_extensions() {
            let mut data = Vec::new();
            entry.read_to_end(&mut data)?;
            held.push((header, data));
            continue;
        }
        let path = normalized(&header.path_bytes());
        if SH_PATHS.contains(&path.as_str()) {
            held.clear();
            append_sh(&mut builder, &path)?;
            sh_written = true;
            continue;
        }
        if !kind.is_dir() && replaced.contains(&path) {
            held.clear();
            continue;
        }
        for (h, data) in held.drain(..) {
            builder.append(&h, &data[..])?;
        }
        if kind.is_dir() {
            base_dirs.insert(path);
        }
        builder.append(&header, entry)?;
    }
    if !sh_written {
        append_sh(&mut builder, SH_PATHS[0])?;
    }
    for (rel, is_dir) in &tree {
        if *is_dir && base_dirs.contains(&rel.display().to_string()) {
            continue;
        }
        builder.append_path_with_name(ours.join(rel), rel)?;
    }
    builder.into_inner()?.flush()
}

/// A tar path as `a/b`: no leading `./` or `/`, no trailing `/`.
fn normalized(path: &[u8]) -> String {
    let text = String::from_utf8_lossy(path);
    text.trim_start_matches("./")
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_owned()
}

fn append_sh<W: Write>(builder: &mut Builder<W>, path: &str) -> io::Result<()> {
    let mut link = Header::new_gnu();
    link.set_entry_type(EntryType::Symlink);
    link.set_mode(0o777);
    link.set_uid(0);
    link.set_gid(0);
    link.set_size(0);
    link.set_mtime(0);
    builder.append_link(&mut link, path, SH_TARGET)
}

/// Every path under `dir` (relative to the tree's top, parents before children, sorted), and
/// whether it is a directory (a symlink is not, whatever it points to).
fn walk(top: &Path, rel: &Path, out: &mut Vec<(PathBuf, bool)>) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(top.join(rel))?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = rel.join(entry.file_name());
        let is_dir = entry.file_type()?.is_dir();
        out.push((path.clone(), is_dir));
        if is_dir {
            walk(top, &path, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: EntryType, mode: u32, uid: u64, size: u64) -> Header {
        let mut h = Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(uid);
        h.set_mtime(1_700_000_000);
        h.set_size(size);
        h
    }

    fn base_with_sh(at: &str) -> Builder<Vec<u8>> {
        let mut b = Builder::new(Vec::new());
        let mut sh = header(EntryType::Symlink, 0o777, 0, 0);
        b.append_link(&mut sh, at, "dash").unwrap();
        b
    }

    /// A small root as `docker export` writes one: directories, a merged-/usr `sh`, a file with a
    /// path longer than 100 bytes, an `/opt` of its own and a file that ours replaces.
    fn base_tar() -> Vec<u8> {
        let mut b = Builder::new(Vec::new());
        let dir = header(EntryType::Directory, 0o755, 0, 0);
        for d in ["usr/", "usr/bin/", "opt/"] {
            b.append_data(&mut dir.clone(), d, io::empty()).unwrap();
        }
        let mut sh = header(EntryType::Symlink, 0o777, 0, 0);
        b.append_link(&mut sh, "usr/bin/sh", "dash").unwrap();
        let long = format!("usr/share/{}/file", "x".repeat(120));
        let mut file = header(EntryType::Regular, 0o600, 100, 5);
        b.append_data(&mut file, &long, &b"hello"[..]).unwrap();
        let mut old = header(EntryType::Regular, 0o644, 0, 3);
        b.append_data(&mut old, "opt/lsk/data", &b"old"[..])
            .unwrap();
        b.into_inner().unwrap()
    }

    /// One entry as read back: path, kind, mode, uid, link target, data.
    #[derive(Debug)]
    struct Seen {
        path: String,
        kind: EntryType,
        mode: u32,
        uid: u64,
        link: Option<String>,
        data: Vec<u8>,
    }

    fn entries(tar: &[u8]) -> Vec<Seen> {
        let mut archive = Archive::new(tar);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let h = e.header().clone();
                let path = e.path().unwrap().display().to_string();
                let link = e.link_name().unwrap().map(|l| l.display().to_string());
                let mut data = Vec::new();
                e.read_to_end(&mut data).unwrap();
                Seen {
                    path,
                    kind: h.entry_type(),
                    mode: h.mode().unwrap(),
                    uid: h.uid().unwrap(),
                    link,
                    data,
                }
            })
            .collect()
    }

    #[test]
    fn the_base_passes_unchanged_but_sh_is_bash_and_our_tree_is_root_owned_each_path_once() {
        let ours = tempfile::tempdir().unwrap();
        let bin = ours.path().join("opt/lsk/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("lsk-init"), b"\x7fELF").unwrap();
        let mut perms = std::fs::metadata(bin.join("lsk-init"))
            .unwrap()
            .permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o700);
        std::fs::set_permissions(bin.join("lsk-init"), perms).unwrap();
        std::fs::write(ours.path().join("opt/lsk/data"), b"d").unwrap();
        std::os::unix::fs::symlink("/usr/bin/python3", bin.join("python")).unwrap();

        let base = base_tar();
        let mut out = Vec::new();
        merge(&base[..], ours.path(), &mut out).unwrap();

        assert_eq!(
            out[..3 * 512],
            base[..3 * 512],
            "the base's entries pass byte for byte"
        );
        let all = entries(&out);
        let mut paths: Vec<&str> = all.iter().map(|e| e.path.trim_end_matches('/')).collect();
        paths.sort();
        let before = paths.len();
        paths.dedup();
        assert_eq!(paths.len(), before, "a path twice: {all:#?}");
        let long = all.iter().find(|e| e.path.ends_with("/file")).unwrap();
        assert_eq!(
            (long.mode, long.uid, &long.data[..]),
            (0o600, 100, &b"hello"[..])
        );
        let sh = all.iter().position(|e| e.path == "usr/bin/sh").unwrap();
        assert_eq!(all[sh].link.as_deref(), Some(SH_TARGET));
        assert_eq!(sh, 3, "sh stays where the base had it");
        let init = all
            .iter()
            .find(|e| e.path == "opt/lsk/bin/lsk-init")
            .unwrap();
        assert_eq!(
            (init.mode, init.uid, &init.data[..]),
            (0o755, 0, &b"\x7fELF"[..])
        );
        let data = all.iter().find(|e| e.path == "opt/lsk/data").unwrap();
        assert_eq!(
            (data.mode, &data.data[..]),
            (0o644, &b"d"[..]),
            "ours replaces the base's"
        );
        let python = all.iter().find(|e| e.path == "opt/lsk/bin/python").unwrap();
        assert_eq!(python.kind, EntryType::Symlink);
        assert_eq!(python.link.as_deref(), Some("/usr/bin/python3"));
        let dirs: Vec<&str> = all
            .iter()
            .filter(|e| e.kind == EntryType::Directory)
            .map(|e| e.path.trim_end_matches('/'))
            .collect();
        let at = |d: &str| dirs.iter().position(|x| *x == d).unwrap();
        assert!(at("opt") < at("opt/lsk") && at("opt/lsk") < at("opt/lsk/bin"));
    }

    #[test]
    fn a_root_without_merged_usr_gets_bin_sh() {
        let base = base_with_sh("bin/sh").into_inner().unwrap();
        let ours = tempfile::tempdir().unwrap();
        let mut out = Vec::new();
        merge(&base[..], ours.path(), &mut out).unwrap();
        let last = entries(&out).pop().unwrap();
        assert_eq!(
            (last.path.as_str(), last.link.as_deref()),
            ("bin/sh", Some("bash"))
        );
    }
}
