//! The process table as the native backend needs it: liveness, descendants, signals, listeners.
//!
//! Read straight from /proc (Linux only, like the native backend itself) so that stopping
//! LocalStack can prove that none of its inits or bootstraps survived.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// (pid, parent pid, state letter) of one /proc/<pid>/stat line.
fn stat(pid: u32) -> Option<(u32, u32, char)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces; fields resume after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((pid, ppid, state))
}

/// Alive and not a zombie waiting to be reaped.
pub fn is_alive(pid: u32) -> bool {
    matches!(stat(pid), Some((_, _, state)) if state != 'Z' && state != 'X')
}

/// The command line of a process, arguments joined by spaces.
pub fn cmdline(pid: u32) -> Option<String> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let parts: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    Some(parts.join(" "))
}

/// Every process id in /proc.
pub fn all_pids() -> Vec<u32> {
    fs::read_dir("/proc")
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
                .collect()
        })
        .unwrap_or_default()
}

/// The parent of a live process.
pub fn parent(pid: u32) -> Option<u32> {
    stat(pid).map(|(_, ppid, _)| ppid)
}

/// Live (non-zombie) children of every process: parent pid -> children.
pub fn children() -> HashMap<u32, Vec<u32>> {
    let mut map: HashMap<u32, Vec<u32>> = HashMap::new();
    for pid in all_pids() {
        if let Some((pid, ppid, state)) = stat(pid)
            && state != 'Z'
        {
            map.entry(ppid).or_default().push(pid);
        }
    }
    map
}

/// Every live descendant of `root` (children, grandchildren, ...), not `root` itself.
pub fn descendants(root: u32) -> Vec<u32> {
    let children = children();
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        for &c in children.get(&p).map(Vec::as_slice).unwrap_or(&[]) {
            if seen.insert(c) {
                out.push(c);
                stack.push(c);
            }
        }
    }
    out
}

/// Sends a signal; a process that is already gone is not an error.
pub fn signal(pid: u32, sig: Signal) {
    let Ok(raw) = i32::try_from(pid) else { return };
    let _ = kill(Pid::from_raw(raw), sig);
}

/// Waits until `pid` is gone (or a zombie), polling /proc; true if it went within `timeout`.
pub async fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while is_alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    true
}

/// Who listens on a TCP port, as "name (pid N)", from `ss -ltnp` when it can tell.
pub async fn listener_of(port: u16) -> Option<String> {
    let out = tokio::process::Command::new("ss")
        .args(["-ltnpH", &format!("sport = :{port}")])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let users = text.lines().find_map(|l| l.split("users:((").nth(1))?;
    // users:(("python",pid=8335,fd=8))
    let mut parts = users.split(',');
    let name = parts.next()?.trim_matches('"');
    let pid = parts.find_map(|p| p.strip_prefix("pid="))?;
    Some(format!("{name} (pid {pid})"))
}

/// Every (address, port) a process listens on over TCP, from /proc/<pid>/net/tcp{,6} and its fds.
pub fn listening_sockets(pid: u32) -> Vec<String> {
    let mut inodes = HashSet::new();
    if let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) {
        for fd in fds.flatten() {
            if let Ok(target) = fs::read_link(fd.path()) {
                let t = target.to_string_lossy();
                if let Some(inode) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
                    inodes.insert(inode.to_string());
                }
            }
        }
    }
    let mut out = Vec::new();
    for table in ["tcp", "tcp6"] {
        let Ok(text) = fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // local_address st ... inode: state 0A is LISTEN
            if cols.len() > 9 && cols[3] == "0A" && inodes.contains(cols[9]) {
                out.push(decode_addr(cols[1]));
            }
        }
    }
    out
}

/// "0100007F:1F90" -> "127.0.0.1:8080" (IPv4 in /proc is little-endian hex).
fn decode_addr(hex: &str) -> String {
    let Some((ip, port)) = hex.split_once(':') else {
        return hex.to_string();
    };
    let port = u16::from_str_radix(port, 16).unwrap_or(0);
    if ip.len() == 8 {
        let n = u32::from_str_radix(ip, 16).unwrap_or(0).to_le_bytes();
        format!("{}.{}.{}.{}:{port}", n[0], n[1], n[2], n[3])
    } else {
        // IPv6: four little-endian 32-bit words.
        let mut bytes = Vec::with_capacity(16);
        for i in 0..4 {
            let word =
                u32::from_str_radix(ip.get(i * 8..i * 8 + 8).unwrap_or("0"), 16).unwrap_or(0);
            bytes.extend_from_slice(&word.to_le_bytes());
        }
        let mut arr = [0u8; 16];
        arr.copy_from_slice(&bytes);
        format!("[{}]:{port}", std::net::Ipv6Addr::from(arr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_proc_net_addresses() {
        assert_eq!(decode_addr("0100007F:1F90"), "127.0.0.1:8080");
        assert_eq!(decode_addr("00000000:11D6"), "0.0.0.0:4566");
        assert_eq!(
            decode_addr("00000000000000000000000001000000:0050"),
            "[::1]:80"
        );
    }

    #[test]
    fn sees_own_process_and_children() {
        let me = std::process::id();
        assert!(is_alive(me));
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        assert!(descendants(me).contains(&child.id()));
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!is_alive(child.id()));
    }

    #[test]
    fn sees_a_listening_socket() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let socks = listening_sockets(std::process::id());
        assert!(
            socks.contains(&format!("127.0.0.1:{port}")),
            "expected 127.0.0.1:{port} in {socks:?}"
        );
    }
}
