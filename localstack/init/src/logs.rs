//! What CloudWatch shows for an invocation: the function's captured output framed by
//! `START` / `END` / `REPORT`, plus the timeout and crash lines Lambda adds.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// Captured output kept between two invocations; older output is dropped beyond this.
const MAX_BUFFERED_BYTES: usize = 4 * 1024 * 1024;
/// A line longer than this is cut so a function printing without newlines stays bounded.
const MAX_LINE_BYTES: usize = 256 * 1024;
/// Lines kept for error messages about a bootstrap that died.
const TAIL_LINES: usize = 10;

/// The function's stdout and stderr, split into lines, waiting to be sent with the
/// next invocation's logs.
#[derive(Debug, Default)]
pub struct CapturedOutput {
    text: String,
    partial: Vec<u8>,
    tail: VecDeque<String>,
    dropped_bytes: usize,
}

impl CapturedOutput {
    /// Appends raw bytes read from the bootstrap's pipe.
    pub fn push(&mut self, mut bytes: &[u8]) {
        while let Some(pos) = bytes.iter().position(|&b| b == b'\n') {
            self.partial.extend_from_slice(&bytes[..pos]);
            self.finish_line();
            bytes = &bytes[pos + 1..];
        }
        self.partial.extend_from_slice(bytes);
        while self.partial.len() >= MAX_LINE_BYTES {
            let rest = self.partial.split_off(MAX_LINE_BYTES);
            self.finish_line();
            self.partial = rest;
        }
    }

    fn finish_line(&mut self) {
        let mut line = String::from_utf8_lossy(&self.partial).into_owned();
        self.partial.clear();
        if line.ends_with('\r') {
            line.pop();
        }
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.clone());
        self.text.push_str(&line);
        self.text.push('\n');
        if self.text.len() > MAX_BUFFERED_BYTES {
            // Keep the newest half, cut at a line boundary.
            let excess = self.text.len() - MAX_BUFFERED_BYTES / 2;
            let cut = self.text[excess..]
                .find('\n')
                .map_or(self.text.len(), |i| excess + i + 1);
            self.text.drain(..cut);
            self.dropped_bytes += cut;
        }
    }

    /// Takes everything captured so far (an unfinished last line counts as a line).
    pub fn take(&mut self) -> String {
        if !self.partial.is_empty() {
            self.finish_line();
        }
        let text = std::mem::take(&mut self.text);
        match std::mem::take(&mut self.dropped_bytes) {
            0 => text,
            n => format!("[lsk-init: {n} bytes of earlier output were dropped]\n{text}"),
        }
    }

    /// The last lines written (for error messages), including an unfinished one.
    pub fn tail(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.tail.iter().cloned().collect();
        if !self.partial.is_empty() {
            lines.push(String::from_utf8_lossy(&self.partial).into_owned());
        }
        lines
    }

    /// Forgets the tail, so errors about a new bootstrap quote only its own output.
    pub fn reset_tail(&mut self) {
        self.tail.clear();
    }
}

/// Numbers for the `REPORT` line.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub duration: Duration,
    pub memory_size_mb: u64,
    pub max_memory_used_mb: u64,
    pub init_duration: Option<Duration>,
}

/// How an invocation ended, as far as the log lines go.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    Normal,
    TimedOut { at: SystemTime, timeout: Duration },
    Crashed { message: String },
}

/// Renders one invocation's logs: START, captured output, ending lines, END, REPORT.
pub fn render(
    request_id: &str,
    version: &str,
    output: &str,
    ending: &Ending,
    report: &Report,
) -> String {
    let mut s = String::with_capacity(output.len() + 256);
    let _ = writeln!(s, "START RequestId: {request_id} Version: {version}");
    s.push_str(output);
    if !output.is_empty() && !output.ends_with('\n') {
        s.push('\n');
    }
    match ending {
        Ending::Normal => {}
        Ending::TimedOut { at, timeout } => {
            let _ = writeln!(s, "{}", timeout_line(*at, request_id, *timeout));
        }
        Ending::Crashed { message } => {
            let _ = writeln!(s, "{message}");
            s.push_str("Runtime.ExitError\n");
        }
    }
    let _ = writeln!(s, "END RequestId: {request_id}");
    let _ = writeln!(s, "{}", report_line(request_id, report));
    s
}

/// `REPORT RequestId: ...\tDuration: ...` (no trailing newline).
pub fn report_line(request_id: &str, r: &Report) -> String {
    let mut s = format!(
        "REPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: {} MB",
        millis(r.duration),
        billed_ms(r.duration),
        r.memory_size_mb,
        r.max_memory_used_mb
    );
    if let Some(init) = r.init_duration {
        let _ = write!(s, "\tInit Duration: {:.2} ms", millis(init));
    }
    s
}

/// Lambda bills whole milliseconds, rounded up, at least one.
pub fn billed_ms(d: Duration) -> u64 {
    let nanos = d.as_nanos();
    nanos
        .div_ceil(1_000_000)
        .max(1)
        .try_into()
        .unwrap_or(u64::MAX)
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `Task timed out after 3.00 seconds`: also the `errorMessage` of `Sandbox.Timedout`.
pub fn timeout_message(timeout: Duration) -> String {
    format!("Task timed out after {:.2} seconds", timeout.as_secs_f64())
}

/// `<RFC 3339 time> <request id> Task timed out after N.00 seconds`.
pub fn timeout_line(at: SystemTime, request_id: &str, timeout: Duration) -> String {
    format!(
        "{} {request_id} {}",
        humantime::format_rfc3339_millis(at),
        timeout_message(timeout)
    )
}

/// `RequestId: <id> Error: Runtime exited with error: exit status 101`.
pub fn exit_error_message(request_id: &str, reason: &str) -> String {
    format!("RequestId: {request_id} Error: Runtime exited with error: {reason}")
}

/// Kilobytes (as in `/proc/<pid>/status`) to whole megabytes, rounded up.
pub fn kb_to_mb_ceil(kb: u64) -> u64 {
    kb.div_ceil(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_line_matches_lambda_format() {
        let r = Report {
            duration: Duration::from_micros(1234),
            memory_size_mb: 128,
            max_memory_used_mb: 17,
            init_duration: None,
        };
        assert_eq!(
            report_line("abc", &r),
            "REPORT RequestId: abc\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\tMax Memory Used: 17 MB"
        );
        let r = Report {
            init_duration: Some(Duration::from_micros(45_678)),
            ..r
        };
        assert!(
            report_line("abc", &r).ends_with("\tMax Memory Used: 17 MB\tInit Duration: 45.68 ms")
        );
    }

    #[test]
    fn billing_rounds_up_to_whole_milliseconds() {
        assert_eq!(billed_ms(Duration::from_micros(1)), 1);
        assert_eq!(billed_ms(Duration::ZERO), 1);
        assert_eq!(billed_ms(Duration::from_millis(2)), 2);
        assert_eq!(billed_ms(Duration::from_micros(2001)), 3);
        assert_eq!(kb_to_mb_ceil(17_000), 17);
        assert_eq!(kb_to_mb_ceil(1024), 1);
        assert_eq!(kb_to_mb_ceil(1025), 2);
    }

    #[test]
    fn timeout_line_has_timestamp_id_and_message() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(
            timeout_line(at, "req-1", Duration::from_secs(1)),
            "2023-11-14T22:13:20.123Z req-1 Task timed out after 1.00 seconds"
        );
    }

    #[test]
    fn render_orders_start_output_end_report() {
        let report = Report {
            duration: Duration::from_millis(3),
            memory_size_mb: 128,
            max_memory_used_mb: 20,
            init_duration: None,
        };
        let text = render(
            "id1",
            "$LATEST",
            "hello\nno newline",
            &Ending::Normal,
            &report,
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "START RequestId: id1 Version: $LATEST");
        assert_eq!(&lines[1..3], ["hello", "no newline"]);
        assert_eq!(lines[3], "END RequestId: id1");
        assert!(
            lines[4].starts_with("REPORT RequestId: id1\tDuration: 3.00 ms\tBilled Duration: 3 ms")
        );

        let crashed = render(
            "id2",
            "1",
            "panic!\n",
            &Ending::Crashed {
                message: exit_error_message("id2", "exit status 101"),
            },
            &report,
        );
        assert!(crashed.contains(
            "panic!\nRequestId: id2 Error: Runtime exited with error: exit status 101\nRuntime.ExitError\nEND RequestId: id2\n"
        ));
    }

    #[test]
    fn captured_output_splits_lines_and_keeps_a_tail() {
        let mut out = CapturedOutput::default();
        out.push(b"one\r\ntw");
        out.push(b"o\nthree");
        assert_eq!(out.tail(), ["one", "two", "three"]);
        assert_eq!(out.take(), "one\ntwo\nthree\n");
        assert_eq!(out.take(), "");
        for i in 0..20 {
            out.push(format!("line {i}\n").as_bytes());
        }
        assert_eq!(out.tail().len(), TAIL_LINES);
        assert_eq!(out.tail().last().map(String::as_str), Some("line 19"));
        out.reset_tail();
        assert!(out.tail().is_empty());
    }

    #[test]
    fn captured_output_stays_bounded() {
        let mut out = CapturedOutput::default();
        let line = "x".repeat(999) + "\n";
        for _ in 0..10_000 {
            out.push(line.as_bytes());
        }
        let text = out.take();
        assert!(text.len() <= MAX_BUFFERED_BYTES + 200, "{}", text.len());
        assert!(text.starts_with("[lsk-init: "), "the cut is announced");
        let endless = vec![b'y'; MAX_LINE_BYTES * 2 + 10];
        out.push(&endless);
        assert_eq!(out.take().lines().count(), 3);
    }
}
