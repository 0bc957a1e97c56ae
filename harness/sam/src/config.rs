//! What `sam deploy` takes besides the template: `samconfig.toml` (`stack_name`,
//! `parameter_overrides`) and `--parameter-overrides K=V ...`, resolved against the template's
//! `Parameters` (defaults, missing values, unknown names).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::error::{At, SamError};
use crate::template::locate;

/// What `samconfig.toml` (its `default` environment) says about a deploy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SamConfig {
    pub stack_name: Option<String>,
    pub parameter_overrides: Vec<(String, String)>,
    /// Settings the kit does not use (`profile`, `region`, ...), said once as a warning.
    pub ignored: Vec<String>,
}

/// Reads `samconfig.toml` in `dir` (none is fine).
pub fn read_samconfig(dir: &Path) -> Result<SamConfig, SamError> {
    let path = dir.join("samconfig.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(SamConfig::default()),
        Err(source) => return Err(SamError::Read { path, source }),
    };
    parse_samconfig(&path, &text)
}

pub fn parse_samconfig(path: &Path, text: &str) -> Result<SamConfig, SamError> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| SamError::Config {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut config = SamConfig::default();
    let Some(env) = doc.get("default").and_then(toml::Value::as_table) else {
        return Ok(config);
    };
    // `sam` reads `global` first and lets the command's own table win.
    for command in ["global", "deploy"] {
        let Some(params) = env
            .get(command)
            .and_then(|c| c.get("parameters"))
            .and_then(toml::Value::as_table)
        else {
            continue;
        };
        for (key, value) in params {
            match key.as_str() {
                "stack_name" => config.stack_name = value.as_str().map(str::to_owned),
                "parameter_overrides" => {
                    let text = match value {
                        toml::Value::String(s) => s.clone(),
                        toml::Value::Array(items) => items
                            .iter()
                            .filter_map(toml::Value::as_str)
                            .collect::<Vec<_>>()
                            .join(" "),
                        _ => {
                            return Err(SamError::Config {
                                path: path.to_path_buf(),
                                message: "parameter_overrides is a string or a list of strings"
                                    .into(),
                            });
                        }
                    };
                    config.parameter_overrides =
                        parse_overrides(&text).map_err(|message| SamError::Config {
                            path: path.to_path_buf(),
                            message,
                        })?;
                }
                other => {
                    let name = format!("{command}.{other}");
                    if !config.ignored.contains(&name) {
                        config.ignored.push(name);
                    }
                }
            }
        }
    }
    Ok(config)
}

/// `A=1 B="two words" ParameterKey=C,ParameterValue=3`, as `sam deploy --parameter-overrides`
/// takes them.
pub fn parse_overrides(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for word in split_words(text)? {
        let pair = if let Some(rest) = word.strip_prefix("ParameterKey=") {
            let (key, value) = rest
                .split_once(",ParameterValue=")
                .ok_or_else(|| format!("{word}: expected ParameterKey=K,ParameterValue=V"))?;
            (key.to_owned(), value.to_owned())
        } else {
            let (key, value) = word
                .split_once('=')
                .ok_or_else(|| format!("{word}: expected KEY=VALUE"))?;
            (key.to_owned(), value.to_owned())
        };
        if pair.0.is_empty() {
            return Err(format!("{word}: the parameter name is empty"));
        }
        out.push(pair);
    }
    Ok(out)
}

/// Splits on whitespace outside double or single quotes, removing the quotes.
fn split_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err(format!("unterminated quote in {text:?}"));
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}

/// Every parameter of the template with its value: an override (the command line's over
/// samconfig's), else its `Default`. A parameter with neither, or an override of a parameter
/// the template does not declare, is an error.
pub fn resolve_parameters(
    path: &Path,
    text: &str,
    template: &Value,
    overrides: &[(String, String)],
) -> Result<BTreeMap<String, String>, SamError> {
    let declared = template
        .get("Parameters")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut values = BTreeMap::new();
    for (name, _) in overrides {
        if !declared.contains_key(name) {
            return Err(SamError::UnknownParameter {
                name: name.clone(),
                known: if declared.is_empty() {
                    "none".into()
                } else {
                    declared.keys().cloned().collect::<Vec<_>>().join(", ")
                },
            });
        }
    }
    for (name, spec) in &declared {
        let given = overrides.iter().rev().find(|(k, _)| k == name);
        let value = match (given, spec.get("Default")) {
            (Some((_, v)), _) => v.clone(),
            (None, Some(Value::String(s))) => s.clone(),
            (None, Some(Value::Array(items))) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .unwrap_or_else(|| i.to_string())
                })
                .collect::<Vec<_>>()
                .join(","),
            (None, Some(other)) => other.to_string(),
            (None, None) => {
                let at = locate(text, &["Parameters", name])
                    .map(|(l, c)| At::new(path, l, c))
                    .unwrap_or_else(|| At::file(path));
                return Err(SamError::MissingParameter {
                    at,
                    name: name.clone(),
                });
            }
        };
        values.insert(name.clone(), value);
    }
    Ok(values)
}

/// A CloudFormation stack name from a directory name: letters, digits and hyphens, starting
/// with a letter, at most 128 characters.
pub fn stack_name_from(dir_name: &str) -> String {
    let mut name: String = dir_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
        name.insert_str(0, "sam-");
    }
    name.truncate(128);
    name.trim_end_matches('-').to_owned()
}
