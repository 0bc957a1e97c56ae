//! Step Functions state machines: `[state_machines.<name>]` whose definition (Amazon States
//! Language, JSONPath) is a file in the workspace, with `${function.<name>.arn}`-style references
//! resolved at deploy time.
//!
//! The file is read and checked when the manifest is loaded (it exists, its references name
//! declared resources, and with them filled in it is a JSON object with `StartAt` and `States`),
//! so a typo fails before anything is deployed. State machines are reconciled after the functions
//! and topics they use. One lsk created for this project that the manifest no longer lists is
//! deleted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use crate::spans::{Collector, key, keys, with};
use crate::{Declared, EnvValue};

/// The manifest section of this kind.
pub(crate) const SECTION: &str = "state_machines";

/// STANDARD or EXPRESS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Kind {
    Standard,
    Express,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Standard => "STANDARD",
            Kind::Express => "EXPRESS",
        }
    }
}

/// A validated state machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateMachine {
    pub name: String,
    /// The definition file as written in the manifest (relative to the workspace root).
    pub definition_file: String,
    /// Where it was read from.
    pub definition_path: PathBuf,
    /// Its text, references not yet resolved.
    pub definition: EnvValue,
    pub kind: Kind,
    /// Example input for the printed `awslocal stepfunctions start-execution` line.
    pub example: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStateMachine {
    definition: String,
    #[serde(default, rename = "type")]
    kind: Option<Kind>,
    #[serde(default)]
    example: Option<String>,
}

/// State machine names: 1-80 of letters, digits, `-` and `_`.
pub fn check_state_machine_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 80 {
        return Err(format!(
            "state machine name must be 1-80 characters, got {} ({name:?})",
            name.len()
        ));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        Some(bad) => Err(format!(
            "state machine name {name:?} contains {bad:?}; use letters, digits, '-' and '_'"
        )),
        None => Ok(()),
    }
}

/// Checks that a definition, with every reference filled in, is an ASL document.
pub fn check_definition(definition: &EnvValue) -> Result<(), String> {
    let filled = definition
        .resolve(&|r| Ok(format!("placeholder-for-{}", r.name)))
        .map_err(|e| e.to_string())?;
    let doc: serde_json::Value = serde_json::from_str(&filled).map_err(|e| {
        format!("is not valid JSON ({e}); state machine definitions are ASL in JSON")
    })?;
    let Some(obj) = doc.as_object() else {
        return Err("must be a JSON object with StartAt and States".into());
    };
    let start = obj.get("StartAt").and_then(|s| s.as_str());
    let states = obj.get("States").and_then(|s| s.as_object());
    match (start, states) {
        (Some(start), Some(states)) if states.contains_key(start) => Ok(()),
        (Some(start), Some(_)) => Err(format!("StartAt names {start:?}, which is not in States")),
        _ => Err("needs \"StartAt\" (a state name) and \"States\" (an object)".into()),
    }
}

/// Checks `[state_machines.*]`, reading each definition file relative to `root`.
pub(crate) fn validate_section(
    c: &mut Collector<'_, '_>,
    entries: &[(String, Spanned<DeValue<'_>>)],
    known: &Declared,
    root: &Path,
) -> BTreeMap<String, StateMachine> {
    let mut out = BTreeMap::new();
    for (name, value) in entries {
        let base = keys(&[SECTION, name]);
        if let Err(e) = check_state_machine_name(name) {
            c.at(&base, e);
        }
        let Some(raw) = c.entry::<RawStateMachine>(&base, value) else {
            continue;
        };
        let at = with(&base, &[key("definition")]);
        let path = root.join(&raw.definition);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                c.at(
                    &at,
                    format!(
                        "cannot read {} ({e}); the path is relative to the directory of lsk.toml",
                        path.display()
                    ),
                );
                continue;
            }
        };
        let definition = match EnvValue::parse(&text) {
            Ok(d) => d,
            Err(e) => {
                c.at(&at, format!("{}: {e}", raw.definition));
                continue;
            }
        };
        known.check_references(c, &at, &definition);
        if let Err(e) = check_definition(&definition) {
            c.at(&at, format!("{} {e}", raw.definition));
        }
        out.insert(
            name.clone(),
            StateMachine {
                name: name.clone(),
                definition_file: raw.definition,
                definition_path: path,
                definition,
                kind: raw.kind.unwrap_or(Kind::Standard),
                example: raw.example,
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_definition_must_be_asl_once_references_are_filled_in() {
        let ok = EnvValue::parse(
            r#"{"StartAt": "Go", "States": {"Go": {"Type": "Task", "Resource": "${function.f.arn}", "End": true}}}"#,
        )
        .unwrap();
        assert!(check_definition(&ok).is_ok());
        let bad_start = EnvValue::parse(r#"{"StartAt": "Nope", "States": {"Go": {}}}"#).unwrap();
        assert!(
            check_definition(&bad_start)
                .unwrap_err()
                .contains("\"Nope\"")
        );
        let not_json = EnvValue::parse("StartAt: Go").unwrap();
        assert!(
            check_definition(&not_json)
                .unwrap_err()
                .contains("not valid JSON")
        );
    }
}
