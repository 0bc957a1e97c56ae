//! EventBridge rules: `[rules.<name>]`, a schedule (`rate(...)`, `cron(...)`) or an event pattern
//! on the default or a named bus, delivering to functions (with the permission EventBridge needs)
//! or queues, each target with an optional constant input.
//!
//! Rules are reconciled after the functions they target. A named bus is created when a rule
//! needs it. A rule lsk created for this project that the manifest no longer lists is deleted with
//! its targets, and so is a bus lsk created that no rule of the manifest uses any more.
//! (EventBridge *Scheduler* schedules never fire in LocalStack's open-source edition; rules do.)

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use crate::Declared;
use crate::kinds::{RawTarget, Target, json_document};
use crate::spans::{Collector, Seg, key, keys, with};

/// The manifest section of this kind.
pub(crate) const SECTION: &str = "rules";
/// The bus every account has.
pub const DEFAULT_BUS: &str = "default";
/// EventBridge allows at most this many targets per rule.
const MAX_TARGETS: usize = 5;

/// What makes a rule fire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// `rate(5 minutes)` or `cron(0 12 * * ? *)`
    Schedule(String),
    /// An event pattern (JSON object).
    Pattern(serde_json::Value),
}

/// A validated rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub name: String,
    pub bus: String,
    pub trigger: Trigger,
    pub enabled: bool,
    pub description: Option<String>,
    pub targets: Vec<RuleTarget>,
}

/// One target of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleTarget {
    pub target: Target,
    /// Constant JSON the target gets instead of the event.
    pub input: Option<serde_json::Value>,
}

impl RuleTarget {
    /// The target id within its rule (`function-square`, `queue-jobs`); at most 64 characters.
    pub fn id(&self) -> String {
        let id = match &self.target {
            Target::Function(f) => format!("function-{f}"),
            Target::Queue(q) => format!("queue-{}", q.replace('.', "_")),
        };
        id.chars().take(64).collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    schedule: Option<String>,
    #[serde(default)]
    pattern: Option<serde_json::Value>,
    #[serde(default)]
    bus: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    targets: Vec<RawRuleTarget>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuleTarget {
    #[serde(default)]
    function: Option<String>,
    #[serde(default)]
    queue: Option<String>,
    #[serde(default)]
    input: Option<serde_json::Value>,
}

/// Rule and bus names: 1-64 of letters, digits, `.`, `-` and `_`.
pub fn check_rule_name(name: &str, what: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err(format!(
            "{what} name must be 1-64 characters, got {} ({name:?})",
            name.len()
        ));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ".-_".contains(*c)))
    {
        Some(bad) => Err(format!(
            "{what} name {name:?} contains {bad:?}; use letters, digits, '.', '-' and '_'"
        )),
        None => Ok(()),
    }
}

/// Checks a schedule expression the way EventBridge reads it.
pub fn check_schedule(expr: &str) -> Result<(), String> {
    let example = "write `rate(1 minute)`, `rate(5 minutes)` or `cron(0 12 * * ? *)`";
    if let Some(inner) = expr.strip_prefix("rate(").and_then(|s| s.strip_suffix(')')) {
        let (n, unit) = inner
            .split_once(' ')
            .ok_or_else(|| format!("{expr:?} is not a rate; {example}"))?;
        let n: u64 = n
            .parse()
            .map_err(|_| format!("{expr:?}: the rate must be a whole number; {example}"))?;
        if n == 0 {
            return Err(format!("{expr:?}: the rate must be at least 1; {example}"));
        }
        let singular = ["minute", "hour", "day"];
        let plural = ["minutes", "hours", "days"];
        return match (n, unit) {
            (1, u) if singular.contains(&u) => Ok(()),
            (1, u) if plural.contains(&u) => Err(format!(
                "{expr:?}: EventBridge wants the singular for 1: rate(1 {})",
                u.trim_end_matches('s')
            )),
            (_, u) if plural.contains(&u) => Ok(()),
            (_, u) if singular.contains(&u) => Err(format!(
                "{expr:?}: EventBridge wants the plural for more than 1: rate({n} {u}s)"
            )),
            _ => Err(format!(
                "{expr:?}: the unit must be minute(s), hour(s) or day(s); {example}"
            )),
        };
    }
    if let Some(inner) = expr.strip_prefix("cron(").and_then(|s| s.strip_suffix(')')) {
        let fields = inner.split_whitespace().count();
        return if fields == 6 {
            Ok(())
        } else {
            Err(format!(
                "{expr:?}: a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), got {fields}; {example}"
            ))
        };
    }
    Err(format!("{expr:?} is not a schedule expression; {example}"))
}

/// Checks `[rules.*]`.
pub(crate) fn validate_section(
    c: &mut Collector<'_, '_>,
    entries: &[(String, Spanned<DeValue<'_>>)],
    known: &Declared,
) -> BTreeMap<String, Rule> {
    let mut rules = BTreeMap::new();
    for (name, value) in entries {
        let base = keys(&[SECTION, name]);
        if let Err(e) = check_rule_name(name, "rule") {
            c.at(&base, e);
        }
        let Some(raw) = c.entry::<RawRule>(&base, value) else {
            continue;
        };
        let bus = raw.bus.unwrap_or_else(|| DEFAULT_BUS.to_owned());
        if let Err(e) = check_rule_name(&bus, "bus") {
            c.at(&with(&base, &[key("bus")]), e);
        }
        let trigger = match (raw.schedule, raw.pattern) {
            (Some(s), None) => {
                if let Err(e) = check_schedule(&s) {
                    c.at(&with(&base, &[key("schedule")]), e);
                }
                if bus != DEFAULT_BUS {
                    c.at(
                        &with(&base, &[key("bus")]),
                        "EventBridge runs schedules on the default bus only; leave `bus` out",
                    );
                }
                Some(Trigger::Schedule(s))
            }
            (None, Some(p)) => {
                let at = with(&base, &[key("pattern")]);
                match json_document(c, &at, p, "pattern") {
                    Some(doc) if doc.as_object().is_some_and(|o| !o.is_empty()) => {
                        Some(Trigger::Pattern(doc))
                    }
                    Some(_) => {
                        c.at(
                            &at,
                            "pattern must be a non-empty object, e.g. { source = [\"shop\"] }",
                        );
                        None
                    }
                    None => None,
                }
            }
            (Some(_), Some(_)) => {
                c.at(
                    &base,
                    "a rule has either a `schedule` or a `pattern`, not both; make two rules",
                );
                None
            }
            (None, None) => {
                c.at(
                    &base,
                    "a rule needs `schedule = \"rate(1 minute)\"` or `pattern = { source = [\"...\"] }`",
                );
                None
            }
        };
        if raw.targets.is_empty() {
            c.at(
                &base,
                "a rule needs targets: [[rules.<name>.targets]] with function = \"...\" or queue = \"...\"",
            );
        } else if raw.targets.len() > MAX_TARGETS {
            c.at(
                &with(&base, &[key("targets")]),
                format!(
                    "EventBridge allows at most {MAX_TARGETS} targets per rule, got {}",
                    raw.targets.len()
                ),
            );
        }
        let mut targets: Vec<RuleTarget> = Vec::new();
        for (i, t) in raw.targets.into_iter().enumerate() {
            let at = with(&base, &[key("targets"), Seg::Index(i)]);
            let target = RawTarget {
                function: t.function,
                queue: t.queue,
            }
            .validate(c, &at, known);
            let input = t
                .input
                .and_then(|v| json_document(c, &with(&at, &[key("input")]), v, "input"));
            let Some(target) = target else { continue };
            if targets.iter().any(|o| o.target == target) {
                c.at(&at, format!("{} is a target twice", target.describe()));
                continue;
            }
            targets.push(RuleTarget { target, input });
        }
        if let Some(trigger) = trigger {
            rules.insert(
                name.clone(),
                Rule {
                    name: name.clone(),
                    bus,
                    trigger,
                    enabled: raw.enabled.unwrap_or(true),
                    description: raw.description,
                    targets,
                },
            );
        }
    }
    rules
}
