//! Queues: `[queues.<name>]`, an SQS queue per entry, with its dead-letter queue. Validation
//! checks AWS's ranges, FIFO naming and redrive rules; a deploy creates or updates queues
//! (dead-letter queues first) and never deletes one, since queues hold messages.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use crate::spans::{Collector, Seg, check_range, key, keys, render_path, with};
use crate::{Declared, Manifest};

/// The manifest section of this kind.
pub(crate) const SECTION: &str = "queues";

/// SQS defaults, applied when the manifest leaves them out (the manifest is the truth, so a removed
/// setting goes back to the default rather than keeping an old value).
pub const DEFAULT_VISIBILITY_TIMEOUT_S: i32 = 30;
pub const DEFAULT_MESSAGE_RETENTION_S: i32 = 345_600;

/// Where a queue's failed messages go.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeadLetter {
    pub queue: String,
    #[serde(default = "default_max_receive")]
    pub max_receive_count: i32,
}

fn default_max_receive() -> i32 {
    3
}

/// A validated queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    pub name: String,
    /// The visibility timeout the queue has on AWS, checked against AWS's rules.
    pub visibility_timeout: i32,
    /// `local.visibility_timeout`: what LocalStack gets instead, when the manifest says so
    /// (a short one lets failing messages reach the DLQ in seconds while testing).
    pub local_visibility_timeout: Option<i32>,
    pub message_retention: i32,
    pub fifo: bool,
    pub dead_letter: Option<DeadLetter>,
    /// Example message body for the printed `awslocal sqs send-message` line.
    pub example: Option<String>,
}

impl Queue {
    /// The visibility timeout lsk deploys: the `local` one when given, else the AWS one.
    pub fn deployed_visibility_timeout(&self) -> i32 {
        self.local_visibility_timeout
            .unwrap_or(self.visibility_timeout)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueue {
    #[serde(default)]
    visibility_timeout: Option<i64>,
    #[serde(default)]
    message_retention: Option<i64>,
    #[serde(default)]
    fifo: Option<bool>,
    #[serde(default)]
    dead_letter: Option<RawDeadLetter>,
    #[serde(default)]
    example: Option<String>,
    #[serde(default)]
    local: Option<RawQueueLocal>,
}

/// `[queues.<name>.local]`: values used on LocalStack instead of the AWS ones above them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQueueLocal {
    #[serde(default)]
    visibility_timeout: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeadLetter {
    queue: String,
    #[serde(default)]
    max_receive_count: Option<i64>,
}

/// SQS queue names: 1-80 of letters, digits, hyphens, underscores, with `.fifo` for FIFO queues.
pub fn check_queue_name(name: &str) -> Result<(), String> {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    if name.is_empty() || name.len() > 80 || base.is_empty() {
        return Err(format!(
            "queue name must be 1-80 characters (including any .fifo), got {} ({name:?})",
            name.len()
        ));
    }
    if let Some(bad) = base
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "queue name {name:?} contains {bad:?}; use letters, digits, '-' and '_' (and a .fifo suffix for FIFO queues)"
        ));
    }
    Ok(())
}

/// Checks `[queues.*]`, then the rules between queues (dead-letter targets, FIFO, cycles).
pub(crate) fn validate_section(
    c: &mut Collector<'_, '_>,
    entries: &[(String, Spanned<DeValue<'_>>)],
    known: &Declared,
) -> BTreeMap<String, Queue> {
    let mut queues = BTreeMap::new();
    for (name, value) in entries {
        let base = keys(&[SECTION, name]);
        if let Err(e) = check_queue_name(name) {
            c.at(&base, e);
        }
        if let Some(raw) = c.entry::<RawQueue>(&base, value) {
            queues.insert(name.clone(), validate_queue(c, &base, name, raw));
        }
    }
    // Cross-queue rules need every queue parsed first.
    for q in queues.values() {
        let Some(dl) = &q.dead_letter else { continue };
        let at = keys(&[SECTION, &q.name, "dead_letter", "queue"]);
        if dl.queue == q.name {
            c.at(&at, "a queue cannot be its own dead-letter queue");
        } else if !known.queues.contains(&dl.queue) {
            c.at(
                &at,
                format!(
                    "dead-letter queue `{}` is not declared; add [queues.{}]",
                    dl.queue,
                    render_path(&[key(&dl.queue)])
                ),
            );
        } else if let Some(target) = queues.get(&dl.queue).filter(|t| t.fifo != q.fifo) {
            c.at(
                &at,
                format!(
                    "FIFO mismatch: `{}` is {} but its dead-letter queue `{}` is {}; both must be FIFO or both standard",
                    q.name,
                    if q.fifo { "FIFO" } else { "standard" },
                    dl.queue,
                    if target.fifo { "FIFO" } else { "standard" }
                ),
            );
        }
    }
    if let Some(cycle) = redrive_cycle(&queues) {
        c.at(
            &keys(&[SECTION, &cycle[0], "dead_letter"]),
            format!("dead-letter queues form a cycle: {}", cycle.join(" -> ")),
        );
    }
    queues
}

/// Queue names ordered so that every dead-letter queue comes before the queues using it.
pub(crate) fn in_deploy_order(manifest: &Manifest) -> Vec<&Queue> {
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    // Validation rejected cycles, so this terminates; the bound guards against surprises.
    for _ in 0..=manifest.queues.len() {
        for q in manifest.queues.values() {
            if done.contains(q.name.as_str()) {
                continue;
            }
            let ready = match &q.dead_letter {
                None => true,
                Some(dl) => done.contains(dl.queue.as_str()),
            };
            if ready {
                done.insert(&q.name);
                out.push(q);
            }
        }
    }
    out
}

fn redrive_cycle(queues: &BTreeMap<String, Queue>) -> Option<Vec<String>> {
    for start in queues.keys() {
        let mut seen = vec![start.clone()];
        let mut current = start;
        while let Some(next) = queues
            .get(current)
            .and_then(|q| q.dead_letter.as_ref())
            .map(|d| &d.queue)
        {
            if next == start {
                seen.push(next.clone());
                return Some(seen);
            }
            if seen.contains(next) || !queues.contains_key(next) {
                break;
            }
            seen.push(next.clone());
            current = next;
        }
    }
    None
}

/// Checks a queue; problems go to `c`, and the queue is returned anyway so that cross-resource
/// rules can still look at it (the manifest is only returned when there are no problems).
fn validate_queue(c: &mut Collector<'_, '_>, base: &[Seg], name: &str, raw: RawQueue) -> Queue {
    let visibility_timeout = check_range(
        c,
        &with(base, &[key("visibility_timeout")]),
        raw.visibility_timeout,
        DEFAULT_VISIBILITY_TIMEOUT_S,
        0..=43_200,
        "visibility_timeout",
    );
    let local_visibility_timeout = raw
        .local
        .as_ref()
        .and_then(|l| l.visibility_timeout)
        .map(|v| {
            check_range(
                c,
                &with(base, &[key("local"), key("visibility_timeout")]),
                Some(v),
                DEFAULT_VISIBILITY_TIMEOUT_S,
                0..=43_200,
                "visibility_timeout",
            )
        });
    let message_retention = check_range(
        c,
        &with(base, &[key("message_retention")]),
        raw.message_retention,
        DEFAULT_MESSAGE_RETENTION_S,
        60..=1_209_600,
        "message_retention",
    );
    let suffix = name.ends_with(".fifo");
    let fifo = match raw.fifo {
        Some(true) if !suffix => {
            c.at(
                &with(base, &[key("fifo")]),
                format!("FIFO mismatch: a FIFO queue's name must end in .fifo, got {name:?}"),
            );
            true
        }
        Some(false) if suffix => {
            c.at(
                &with(base, &[key("fifo")]),
                format!(
                    "FIFO mismatch: {name:?} ends in .fifo, which SQS reserves for FIFO queues; set fifo = true or rename it"
                ),
            );
            false
        }
        Some(f) => f,
        None => suffix,
    };
    let dead_letter = raw.dead_letter.map(|dl| {
        let max_receive_count = check_range(
            c,
            &with(base, &[key("dead_letter"), key("max_receive_count")]),
            dl.max_receive_count,
            default_max_receive(),
            1..=1000,
            "max_receive_count",
        );
        DeadLetter {
            queue: dl.queue,
            max_receive_count,
        }
    });
    if raw.example.as_deref() == Some("") {
        c.at(
            &with(base, &[key("example")]),
            "example must not be empty: SQS refuses empty message bodies",
        );
    }
    Queue {
        name: name.to_owned(),
        visibility_timeout,
        local_visibility_timeout,
        message_retention,
        fifo,
        dead_letter,
        example: raw.example,
    }
}
