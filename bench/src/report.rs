//! What the bench reports: a fixed list of rows (every one filled with a figure or the reason it
//! could not run), the target verdicts, the machine, as a markdown table and as JSON.

mod rows;
mod targets;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;

use serde::Serialize;

use crate::machine::Machine;
use crate::stats::Measured;

use rows::ROWS;

/// Parts of the bench that can be skipped (`--skip`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Section {
    /// ListFunctions, warm invoke (API and URL) latency, ratios
    Floor,
    /// square served by `lsk-init --standalone`, no LocalStack
    Standalone,
    /// requests per second with 1 and 8 clients
    Throughput,
    /// RSS of LocalStack and of two warm environments, and LocalStack's growth over a soak of
    /// 10,000 warm invokes
    Memory,
    /// first invoke after a deploy and after the environment was reaped
    Cold,
    /// prompts through SQS to PNGs in S3
    Pipeline,
    /// `lsk up` / `lsk deploy` / `lsk down` timed as a developer runs them
    Devloop,
    /// cargo-lambda's emulator serving square (only if installed)
    Anchor,
    /// the executor's HTTP/1.1 reader, its own against h11: two LocalStacks measured in turns
    Reader,
    /// our LocalStack image in a container: image build, Ready, warm invoke beside native, cold
    /// start, memory, `lsk up --backend docker` (skipped where no Docker daemon answers)
    Docker,
}

/// Parts a run leaves out unless asked for with `--with`: comparisons that informed a decision
/// (the executor keeps its own reader) rather than figures of what users run.
pub const OPT_IN: &[Section] = &[Section::Reader];

/// Invokes of the full soak (the growth target is judged only on a full one).
pub const SOAK_INVOKES: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Pending,
    Measured(Measured),
    NotRun { reason: String },
    Skipped { reason: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub id: &'static str,
    pub section: Section,
    pub label: &'static str,
    pub what: &'static str,
    pub outcome: Outcome,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    NotMeasured,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetLine {
    pub target: String,
    pub verdict: Verdict,
    pub measured: String,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub rows: Vec<Row>,
    pub errors: Vec<String>,
    pub leftovers: Vec<String>,
}

impl Report {
    pub fn new(skipped: &[Section]) -> Report {
        let rows = ROWS
            .iter()
            .map(|s| Row {
                id: s.id,
                section: s.section,
                label: s.label,
                what: s.what,
                outcome: if skipped.contains(&s.section) {
                    let name = section_name(s.section);
                    Outcome::Skipped {
                        reason: if OPT_IN.contains(&s.section) {
                            format!("not in the default run (--with {name})")
                        } else {
                            format!("skipped (--skip {name})")
                        },
                    }
                } else {
                    Outcome::Pending
                },
                notes: Vec::new(),
            })
            .collect();
        Report {
            rows,
            errors: Vec::new(),
            leftovers: Vec::new(),
        }
    }

    fn row_mut(&mut self, id: &str) -> Option<&mut Row> {
        self.rows.iter_mut().find(|r| r.id == id)
    }

    pub fn set(&mut self, id: &str, m: Measured) {
        if let Some(r) = self.row_mut(id) {
            r.outcome = Outcome::Measured(m);
        }
    }

    pub fn note(&mut self, id: &str, note: impl Into<String>) {
        if let Some(r) = self.row_mut(id) {
            r.notes.push(note.into());
        }
    }

    /// Marks every still pending row of `section` as not run, with `why`.
    pub fn fail_section(&mut self, section: Section, why: &str) {
        self.errors
            .push(format!("{}: {why}", section_name(section)));
        for r in self.rows.iter_mut().filter(|r| r.section == section) {
            if r.outcome == Outcome::Pending {
                r.outcome = Outcome::NotRun {
                    reason: why.to_owned(),
                };
            }
        }
    }

    /// Marks every still pending row of `section` as skipped with `why` (something this machine
    /// lacks, e.g. a Docker daemon): not a failure.
    pub fn skip_section(&mut self, section: Section, why: &str) {
        for r in self.rows.iter_mut().filter(|r| r.section == section) {
            if r.outcome == Outcome::Pending {
                r.outcome = Outcome::Skipped {
                    reason: why.to_owned(),
                };
            }
        }
    }

    /// Marks one row as skipped (when it is still pending): not a failure.
    pub fn skip(&mut self, id: &str, why: &str) {
        if let Some(r) = self.row_mut(id)
            && r.outcome == Outcome::Pending
        {
            r.outcome = Outcome::Skipped {
                reason: why.to_owned(),
            };
        }
    }

    /// Marks one row as not run (when it is still pending).
    pub fn fail(&mut self, id: &str, why: &str) {
        if let Some(r) = self.row_mut(id)
            && r.outcome == Outcome::Pending
        {
            r.outcome = Outcome::NotRun {
                reason: why.to_owned(),
            };
        }
    }

    pub fn get(&self, id: &str) -> Option<&Measured> {
        self.rows
            .iter()
            .find(|r| r.id == id)
            .and_then(|r| match &r.outcome {
                Outcome::Measured(m) => Some(m),
                _ => None,
            })
    }

    /// Rows still pending become "not run" (something stopped early).
    pub fn close(&mut self) {
        for r in &mut self.rows {
            if r.outcome == Outcome::Pending {
                r.outcome = Outcome::NotRun {
                    reason: "not reached (an earlier step failed, see errors)".into(),
                };
            }
        }
    }

    /// Whether some measurement the bench owes could not be made (the optional anchor aside).
    pub fn incomplete(&self) -> bool {
        self.rows
            .iter()
            .any(|r| r.section != Section::Anchor && matches!(r.outcome, Outcome::NotRun { .. }))
            || !self.leftovers.is_empty()
    }

    /// The markdown table.
    pub fn table(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "| Measurement | p50 / value | p90 | p99 | n | Notes |");
        let _ = writeln!(t, "|---|---:|---:|---:|---:|---|");
        for r in &self.rows {
            let notes = r.notes.join("; ");
            match &r.outcome {
                Outcome::Measured(m) => {
                    let f =
                        |v: Option<f64>| v.map(|v| m.unit.format(v)).unwrap_or_else(|| "-".into());
                    let _ = writeln!(
                        t,
                        "| {} | {} | {} | {} | {} | {} |",
                        r.label,
                        m.unit.format(m.median),
                        f(m.p90),
                        f(m.p99),
                        m.n,
                        escape(&notes)
                    );
                }
                Outcome::NotRun { reason } | Outcome::Skipped { reason } => {
                    let text = if notes.is_empty() {
                        reason.clone()
                    } else {
                        format!("{reason}; {notes}")
                    };
                    let _ = writeln!(
                        t,
                        "| {} | not run | - | - | 0 | {} |",
                        r.label,
                        escape(&text)
                    );
                }
                Outcome::Pending => {
                    let _ = writeln!(
                        t,
                        "| {} | pending | - | - | 0 | {} |",
                        r.label,
                        escape(&notes)
                    );
                }
            }
        }
        t
    }

    pub fn json(&self, machine: &Machine, plan: &impl Serialize) -> serde_json::Value {
        serde_json::json!({
            "machine": machine,
            "plan": plan,
            "rows": self.rows,
            "targets": self.targets(),
            "errors": self.errors,
            "leftover_processes": self.leftovers,
        })
    }
}

pub fn section_name(s: Section) -> &'static str {
    match s {
        Section::Floor => "floor",
        Section::Standalone => "standalone",
        Section::Throughput => "throughput",
        Section::Memory => "memory",
        Section::Cold => "cold",
        Section::Pipeline => "pipeline",
        Section::Devloop => "devloop",
        Section::Anchor => "anchor",
        Section::Docker => "docker",
        Section::Reader => "reader",
    }
}

/// Keeps a note inside its table cell.
fn escape(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}
