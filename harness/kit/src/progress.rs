//! Progress of long steps (build, install, start, deploy): a spinner with elapsed time on a
//! terminal, plain timestamped lines when stderr is not one (CI logs), or nothing for library use.
//!
//! Everything goes to stderr so stdout stays clean for tables and `--json`.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Silent,
    Plain,
    Spinner,
}

/// Where progress goes. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Progress {
    mode: Mode,
}

impl Default for Progress {
    fn default() -> Self {
        Progress::silent()
    }
}

impl Progress {
    /// Nothing is printed; lines go to `tracing` at debug level.
    pub fn silent() -> Self {
        Progress { mode: Mode::Silent }
    }
    /// One line per event on stderr.
    pub fn plain() -> Self {
        Progress { mode: Mode::Plain }
    }
    /// Spinners on stderr (falls back to plain lines when stderr is not a terminal).
    pub fn auto() -> Self {
        if std::io::stderr().is_terminal() {
            Progress {
                mode: Mode::Spinner,
            }
        } else {
            Progress::plain()
        }
    }

    /// A one-off line (e.g. which backend was picked and why).
    pub fn note(&self, line: &str) {
        match self.mode {
            Mode::Silent => tracing::debug!("{line}"),
            Mode::Plain | Mode::Spinner => eprintln!("{line}"),
        }
    }

    /// Starts a named step; finish it with [`Phase::done`] or [`Phase::failed`].
    pub fn phase(&self, name: &str) -> Phase {
        let bar = match self.mode {
            Mode::Spinner => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
                let style = ProgressStyle::with_template(
                    "{spinner:.cyan} {prefix:.bold} {wide_msg} {elapsed:>4}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_spinner());
                bar.set_style(style);
                bar.set_prefix(name.to_owned());
                bar.enable_steady_tick(Duration::from_millis(120));
                Some(bar)
            }
            Mode::Plain => {
                eprintln!("==> {name}");
                None
            }
            Mode::Silent => {
                tracing::debug!("{name}: started");
                None
            }
        };
        Phase {
            name: name.to_owned(),
            mode: self.mode,
            started: Instant::now(),
            bar,
            finished: false,
        }
    }
}

/// A step in progress.
#[derive(Debug)]
pub struct Phase {
    name: String,
    mode: Mode,
    started: Instant,
    bar: Option<ProgressBar>,
    finished: bool,
}

/// `12.3 s` / `2 min 05 s`
pub fn format_elapsed(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 60.0 {
        format!("{secs:.1} s")
    } else {
        let whole = d.as_secs();
        format!("{} min {:02} s", whole / 60, whole % 60)
    }
}

impl Phase {
    /// What the step is doing now (e.g. `Compiling square`).
    pub fn update(&self, line: &str) {
        let line = line.trim_end();
        if line.is_empty() {
            return;
        }
        match (&self.bar, self.mode) {
            (Some(bar), _) => bar.set_message(line.to_owned()),
            (None, Mode::Plain) => eprintln!("    {line}"),
            _ => tracing::debug!("{}: {line}", self.name),
        }
    }

    /// Time since the step started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Ends the step successfully with a one-line summary.
    pub fn done(mut self, summary: &str) {
        self.end(true, summary);
    }

    /// Ends the step as failed.
    pub fn failed(mut self, why: &str) {
        self.end(false, why);
    }

    fn end(&mut self, ok: bool, text: &str) {
        if self.finished {
            return;
        }
        self.finished = true;
        let mark = if ok { "✓" } else { "✗" };
        let line = format!(
            "{mark} {} {text} ({})",
            self.name,
            format_elapsed(self.started.elapsed())
        );
        match (&self.bar, self.mode) {
            (Some(bar), _) => bar.finish_and_clear(),
            (None, Mode::Silent) => tracing::debug!("{line}"),
            _ => {}
        }
        if self.mode != Mode::Silent {
            eprintln!("{line}");
        }
    }
}

impl Drop for Phase {
    fn drop(&mut self) {
        // A step dropped without an outcome ended with an error (returned with `?`).
        if !self.finished {
            self.end(false, "failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_is_human_sized() {
        assert_eq!(format_elapsed(Duration::from_millis(12_345)), "12.3 s");
        assert_eq!(format_elapsed(Duration::from_secs(125)), "2 min 05 s");
    }
}
