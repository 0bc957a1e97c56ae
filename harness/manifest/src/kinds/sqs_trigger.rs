//! SQS triggers: `[[functions.<name>.sqs]]`, an event source mapping from a queue to the
//! function. One mapping per queue and function; mappings the manifest no longer lists are
//! deleted, and a function's mappings go before the function when it is pruned.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::Declared;
use crate::kinds::function::Function;
use crate::kinds::queue::Queue;
use crate::spans::{Collector, Seg, check_range, key, render_path, with};

pub const DEFAULT_BATCH_SIZE: i32 = 10;

/// An SQS trigger of a function (an event source mapping).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SqsTrigger {
    pub queue: String,
    pub batch_size: i32,
    pub batching_window: i32,
    pub report_batch_item_failures: bool,
    pub enabled: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTrigger {
    queue: String,
    #[serde(default)]
    batch_size: Option<i64>,
    #[serde(default)]
    batching_window: Option<i64>,
    #[serde(default)]
    report_batch_item_failures: Option<bool>,
    #[serde(default)]
    enabled: Option<bool>,
}

/// Checks a function's `sqs` triggers: ranges, declared queues, one mapping per queue, and
/// AWS's rules for batching and FIFO queues.
pub(crate) fn validate(
    c: &mut Collector<'_, '_>,
    base: &[Seg],
    raw: Vec<RawTrigger>,
    known: &Declared,
    queues: &BTreeMap<String, Queue>,
) -> Vec<SqsTrigger> {
    let mut sqs = Vec::new();
    let mut seen_queues = BTreeSet::new();
    for (i, t) in raw.into_iter().enumerate() {
        let at = with(base, &[key("sqs"), Seg::Index(i)]);
        let batch_size = check_range(
            c,
            &with(&at, &[key("batch_size")]),
            t.batch_size,
            DEFAULT_BATCH_SIZE,
            1..=10_000,
            "batch_size",
        );
        let batching_window = check_range(
            c,
            &with(&at, &[key("batching_window")]),
            t.batching_window,
            0,
            0..=300,
            "batching_window",
        );
        if !known.queues.contains(&t.queue) {
            c.at(
                &with(&at, &[key("queue")]),
                format!(
                    "queue `{}` is not declared; add [queues.{}]",
                    t.queue,
                    render_path(&[key(&t.queue)])
                ),
            );
        } else if !seen_queues.insert(t.queue.clone()) {
            c.at(
                &with(&at, &[key("queue")]),
                format!(
                    "queue `{}` is already a trigger of this function; Lambda allows one mapping per queue and function",
                    t.queue
                ),
            );
        }
        if batch_size > 10 && batching_window < 1 {
            c.at(
                &with(&at, &[key("batching_window")]),
                format!(
                    "a batch_size above 10 (got {batch_size}) needs batching_window of at least 1 second"
                ),
            );
        }
        if batch_size > 10 && queues.get(&t.queue).is_some_and(|q| q.fifo) {
            c.at(
                &with(&at, &[key("batch_size")]),
                format!("batch_size for a FIFO queue must be 1..=10, got {batch_size}"),
            );
        }
        sqs.push(SqsTrigger {
            queue: t.queue,
            batch_size,
            batching_window,
            report_batch_item_failures: t.report_batch_item_failures.unwrap_or(true),
            enabled: t.enabled.unwrap_or(true),
        });
    }

    sqs
}

/// Triggers real AWS would refuse although LocalStack accepts them: a queue whose visibility
/// timeout is shorter than the function's timeout.
pub(crate) fn warnings(f: &Function, queues: &BTreeMap<String, Queue>) -> Vec<String> {
    let mut warnings = Vec::new();
    for t in &f.sqs {
        let short = queues
            .get(&t.queue)
            .filter(|q| q.visibility_timeout < f.timeout);
        if let Some(q) = short {
            warnings.push(format!(
                "queues.{}.visibility_timeout ({} s) is shorter than functions.{}.timeout ({} s): real AWS refuses this event source mapping and may deliver a message twice; LocalStack accepts it. Give the queue at least the function's timeout, and put a shorter value for local tests in `local = {{ visibility_timeout = ... }}`",
                render_path(&[key(&q.name)]),
                q.visibility_timeout,
                f.name,
                f.timeout
            ));
        }
    }
    warnings
}
