//! The template as text and as JSON: found the way `sam` finds it, YAML read with
//! CloudFormation's short-form tags turned into their long form (what CloudFormation itself does
//! before the SAM transform), and `file:line:col` of a key for messages.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{At, SamError};

/// The names `sam` looks for in a project directory, in its order.
pub const TEMPLATE_NAMES: &[&str] = &["template.yaml", "template.yml", "template.json"];

/// The SAM template in `dir`, if it holds one.
pub fn find_in(dir: &Path) -> Option<PathBuf> {
    TEMPLATE_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// True when `path` names a template rather than an `lsk.toml`.
pub fn is_template_path(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json" | "template")
    )
}

/// Reads `text` (the file at `path`) as a CloudFormation template.
pub fn parse(path: &Path, text: &str) -> Result<Value, SamError> {
    let is_json = path.extension().and_then(|e| e.to_str()) == Some("json")
        || text.trim_start().starts_with('{');
    let value = if is_json {
        serde_json::from_str::<Value>(text).map_err(|e| SamError::Syntax {
            at: At::new(path, e.line(), e.column()),
            message: e.to_string(),
        })?
    } else {
        let yaml: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(text).map_err(|e| SamError::Syntax {
                at: e
                    .location()
                    .map(|l| At::new(path, l.line(), l.column()))
                    .unwrap_or_else(|| At::file(path)),
                message: e.to_string(),
            })?;
        long_form(yaml).map_err(|message| SamError::Syntax {
            at: At::file(path),
            message,
        })?
    };
    if !value.is_object() {
        return Err(SamError::Syntax {
            at: At::file(path),
            message: "a template is a mapping with a `Resources` section".into(),
        });
    }
    Ok(value)
}

/// YAML to JSON, with `!Ref x` as `{"Ref": x}`, `!GetAtt a.b` as `{"Fn::GetAtt": ["a", "b"]}`,
/// `!Condition c` as `{"Condition": c}` and any other `!Name v` as `{"Fn::Name": v}`.
fn long_form(yaml: serde_yaml_ng::Value) -> Result<Value, String> {
    use serde_yaml_ng::Value as Y;
    Ok(match yaml {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => serde_json::to_value(&n).map_err(|e| e.to_string())?,
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => {
            Value::Array(items.into_iter().map(long_form).collect::<Result<_, _>>()?)
        }
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => return Err(format!("a mapping key must be a string, not {other:?}")),
                };
                out.insert(key, long_form(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            let name = tagged.tag.to_string();
            let name = name.trim_start_matches('!').to_owned();
            let inner = long_form(tagged.value)?;
            let (key, value) = match name.as_str() {
                "Ref" => ("Ref".to_owned(), inner),
                "Condition" => ("Condition".to_owned(), inner),
                "GetAtt" => match inner {
                    Value::String(s) => match s.split_once('.') {
                        Some((resource, attribute)) => (
                            "Fn::GetAtt".to_owned(),
                            Value::Array(vec![resource.into(), attribute.into()]),
                        ),
                        None => return Err(format!("!GetAtt {s}: expected Resource.Attribute")),
                    },
                    other => ("Fn::GetAtt".to_owned(), other),
                },
                other => (format!("Fn::{other}"), inner),
            };
            let mut out = Map::new();
            out.insert(key, value);
            Value::Object(out)
        }
    })
}

/// Where the key at `path` (e.g. `["Resources", "MyFunction", "Properties", "CodeUri"]`) is
/// written in `text`, 1-based. Block YAML and JSON are both found by walking the keys in order,
/// each deeper than its parent; a flow-style template may give only the file.
pub fn locate(text: &str, path: &[&str]) -> Option<(usize, usize)> {
    let mut from_line = 0;
    let mut parent_indent: Option<usize> = None;
    let mut found = None;
    for key in path {
        let mut hit = None;
        for (i, line) in text.lines().enumerate().skip(from_line) {
            let indent = line.len() - line.trim_start().len();
            let rest = line.trim_start();
            if rest.is_empty() || rest.starts_with('#') {
                continue;
            }
            if let Some(p) = parent_indent
                && indent <= p
                && i > from_line
                && !rest.starts_with('"')
            {
                // Left the parent's block (YAML); JSON lines are matched by their quotes.
                if !rest.starts_with('}') && !rest.starts_with(']') {
                    break;
                }
            }
            let bare = rest.strip_prefix("- ").unwrap_or(rest);
            let matches = bare.starts_with(&format!("{key}:"))
                || bare.starts_with(&format!("\"{key}\":"))
                || bare.starts_with(&format!("\"{key}\" :"))
                || bare.starts_with(&format!("'{key}':"));
            if matches {
                hit = Some((i, indent + (rest.len() - bare.len())));
                break;
            }
        }
        let (i, col) = hit?;
        found = Some((i + 1, col + 1));
        parent_indent = Some(col);
        from_line = i + 1;
    }
    found
}

/// A string, or `None` for anything else.
pub fn str_of(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}
