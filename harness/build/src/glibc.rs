//! Whether a host build runs in our image: the host glibc against the image's (Debian bookworm).

/// The glibc of our LocalStack image (Debian bookworm).
pub const KIT_IMAGE_GLIBC: (u32, u32) = (2, 36);

/// Parses `getconf GNU_LIBC_VERSION` output (`glibc 2.36`).
pub fn parse_glibc(text: &str) -> Option<(u32, u32)> {
    let version = text.trim().strip_prefix("glibc ")?;
    let mut parts = version.split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts
        .next()?
        .trim_end_matches(|c: char| !c.is_ascii_digit())
        .parse()
        .ok()?;
    Some((major, minor))
}

/// Whether binaries built on this host run in our image: Linux, and a glibc no newer than
/// the image's (a binary links against the glibc of the machine that built it). `Err` says why not.
/// Asked once per process: the host does not change under us.
pub async fn host_runs_in_kit_image() -> Result<(), String> {
    static ANSWER: tokio::sync::OnceCell<Result<(), String>> = tokio::sync::OnceCell::const_new();
    ANSWER.get_or_init(ask_host_glibc).await.clone()
}

pub(crate) async fn ask_host_glibc() -> Result<(), String> {
    if !cfg!(target_os = "linux") {
        return Err(format!(
            "this host is {}, and the image runs Linux binaries",
            std::env::consts::OS
        ));
    }
    let out = tokio::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .await
        .map_err(|e| format!("`getconf GNU_LIBC_VERSION` could not run: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    match parse_glibc(&text) {
        Some(v) if v <= KIT_IMAGE_GLIBC => Ok(()),
        Some((major, minor)) => Err(format!(
            "this host's glibc {major}.{minor} is newer than the image's {}.{}",
            KIT_IMAGE_GLIBC.0, KIT_IMAGE_GLIBC.1
        )),
        None => Err(format!("this host has no glibc ({})", text.trim())),
    }
}
