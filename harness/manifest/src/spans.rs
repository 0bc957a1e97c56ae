//! Where things are in `lsk.toml`: key paths, their line and column, and the collector every
//! kind reports its problems to, so each problem names `file:line:col: key.path`.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::Issue;

/// One step of a key path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

fn is_bare_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(crate) fn render_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                if is_bare_key(k) {
                    out.push_str(k);
                } else {
                    out.push_str(&format!("{k:?}"));
                }
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

pub(crate) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.chars().count(), |nl| {
        before[nl + 1..].chars().count()
    }) + 1;
    (line, col)
}

/// The span of the value at `path` (or of the deepest part of it that exists).
fn span_of(root: &Spanned<DeTable<'_>>, path: &[Seg]) -> Option<Range<usize>> {
    let mut span = None;
    let mut table: Option<&DeTable<'_>> = Some(root.get_ref());
    let mut array: Option<&toml::de::DeArray<'_>> = None;
    for seg in path {
        let value = match (seg, table, array) {
            (Seg::Key(k), Some(t), _) => {
                let (key, value) = t.get_key_value(k.as_str())?;
                // Tables declared with [header] have no useful value span: point at the key.
                span = Some(if value.get_ref().is_table() {
                    key.span()
                } else {
                    value.span()
                });
                value
            }
            (Seg::Index(i), _, Some(a)) => {
                let value = a.get(*i)?;
                span = Some(value.span());
                value
            }
            _ => return span,
        };
        table = value.get_ref().as_table();
        array = match value.get_ref() {
            DeValue::Array(a) => Some(a),
            _ => None,
        };
    }
    span
}

/// Whether `span` is exactly a key's own span: serde reports an unknown field there, and every
/// other error (a wrong type or value, a missing field) at a value or its table.
fn is_key_span(root: &Spanned<DeTable<'_>>, span: &Range<usize>) -> bool {
    fn in_value(value: &DeValue<'_>, span: &Range<usize>) -> bool {
        match value {
            DeValue::Table(t) => in_table(t, span),
            DeValue::Array(a) => a.iter().any(|item| in_value(item.get_ref(), span)),
            _ => false,
        }
    }
    fn in_table(t: &DeTable<'_>, span: &Range<usize>) -> bool {
        t.iter()
            .any(|(k, v)| k.span() == *span || in_value(v.get_ref(), span))
    }
    in_table(root.get_ref(), span)
}

/// The key path whose key or value contains `offset`.
fn path_at(root: &Spanned<DeTable<'_>>, offset: usize) -> Vec<Seg> {
    fn in_value(value: &DeValue<'_>, offset: usize, path: &mut Vec<Seg>) {
        match value {
            DeValue::Table(t) => in_table(t, offset, path),
            DeValue::Array(a) => {
                for (i, item) in a.iter().enumerate() {
                    let inside = item.span().contains(&offset)
                        || item
                            .get_ref()
                            .as_table()
                            .is_some_and(|t| table_contains(t, offset));
                    if inside {
                        path.push(Seg::Index(i));
                        in_value(item.get_ref(), offset, path);
                        return;
                    }
                }
            }
            _ => {}
        }
    }

    fn table_contains(t: &DeTable<'_>, offset: usize) -> bool {
        t.iter().any(|(k, v)| {
            k.span().contains(&offset)
                || v.span().contains(&offset)
                || v.get_ref()
                    .as_table()
                    .is_some_and(|inner| table_contains(inner, offset))
                || match v.get_ref() {
                    DeValue::Array(a) => a.iter().any(|item| {
                        item.span().contains(&offset)
                            || item
                                .get_ref()
                                .as_table()
                                .is_some_and(|inner| table_contains(inner, offset))
                    }),
                    _ => false,
                }
        })
    }

    fn in_table(t: &DeTable<'_>, offset: usize, path: &mut Vec<Seg>) {
        for (k, v) in t.iter() {
            if k.span().contains(&offset) {
                path.push(Seg::Key(k.get_ref().to_string()));
                return;
            }
            let nested = match v.get_ref() {
                DeValue::Table(inner) => table_contains(inner, offset),
                DeValue::Array(a) => a.iter().any(|item| {
                    item.get_ref()
                        .as_table()
                        .is_some_and(|inner| table_contains(inner, offset))
                }),
                _ => false,
            };
            if v.span().contains(&offset) || nested {
                path.push(Seg::Key(k.get_ref().to_string()));
                in_value(v.get_ref(), offset, path);
                return;
            }
        }
    }
    let mut path = Vec::new();
    in_table(root.get_ref(), offset, &mut path);
    path
}

pub(crate) struct Collector<'a, 'i> {
    pub(crate) src: &'a str,
    pub(crate) root: &'a Spanned<DeTable<'i>>,
    pub(crate) issues: Vec<Issue>,
}

impl Collector<'_, '_> {
    pub(crate) fn at(&mut self, path: &[Seg], message: impl Into<String>) {
        let position = span_of(self.root, path).map(|s| line_col(self.src, s.start));
        self.issues.push(Issue {
            key: render_path(path),
            message: message.into(),
            position,
        });
    }

    /// A serde error from deserializing the entry at `base`.
    fn serde(&mut self, base: &[Seg], err: &toml::de::Error) {
        let message = err.message().trim().to_owned();
        let unknown = err.span().is_some_and(|s| is_key_span(self.root, &s));
        match err.span() {
            Some(span) => {
                let mut path = path_at(self.root, span.start);
                if path.len() < base.len() {
                    path = base.to_vec();
                }
                // An unknown field's span is the key itself, so `path` already names it.
                self.issues.push(Issue {
                    key: render_path(&path),
                    message: explain_serde(&message, unknown),
                    position: Some(line_col(self.src, span.start)),
                });
            }
            None => self.at(base, explain_serde(&message, unknown)),
        }
    }
}

/// Removes the key at `path` (relative to `value`) so deserialization can be retried.
fn remove_at(value: &mut DeValue<'_>, path: &[Seg]) -> bool {
    match (path, value) {
        ([Seg::Key(k)], DeValue::Table(t)) => t.remove(k.as_str()).is_some(),
        ([Seg::Key(k), rest @ ..], DeValue::Table(t)) => t
            .get_mut(k.as_str())
            .is_some_and(|v| remove_at(v.get_mut(), rest)),
        ([Seg::Index(i), rest @ ..], DeValue::Array(a)) => {
            a.get_mut(*i).is_some_and(|v| remove_at(v.get_mut(), rest))
        }
        _ => false,
    }
}

impl Collector<'_, '_> {
    /// Deserializes the entry at `base`. An unknown key is reported, dropped, and deserializing
    /// retried, so a typo does not hide the entry's other problems; any other serde error ends
    /// it (reported once).
    pub(crate) fn entry<T: serde::de::DeserializeOwned>(
        &mut self,
        base: &[Seg],
        value: &Spanned<DeValue<'_>>,
    ) -> Option<T> {
        let mut value = value.clone();
        // Each retry removes one key, so this ends; the bound is a guard against surprises.
        for _ in 0..64 {
            match T::deserialize(ValueDeserializer::from(value.clone())) {
                Ok(v) => return Some(v),
                Err(err) => {
                    self.serde(base, &err);
                    let unknown = err.span().is_some_and(|s| is_key_span(self.root, &s));
                    let path = err.span().map(|s| path_at(self.root, s.start));
                    let removed = match (unknown, path) {
                        (true, Some(p)) if p.len() > base.len() && p.starts_with(base) => {
                            remove_at(value.get_mut(), &p[base.len()..])
                        }
                        _ => false,
                    };
                    if !removed {
                        return None;
                    }
                }
            }
        }
        None
    }
}

fn explain_serde(message: &str, unknown_key: bool) -> String {
    if unknown_key {
        format!("{message} (check the spelling; the keys are listed in docs/manifest.md)")
    } else {
        message.to_owned()
    }
}

pub(crate) fn key(k: &str) -> Seg {
    Seg::Key(k.to_owned())
}

pub(crate) fn keys(segs: &[&str]) -> Vec<Seg> {
    segs.iter().map(|s| key(s)).collect()
}

pub(crate) fn with(base: &[Seg], more: &[Seg]) -> Vec<Seg> {
    let mut p = base.to_vec();
    p.extend_from_slice(more);
    p
}

pub(crate) fn check_range(
    c: &mut Collector<'_, '_>,
    at: &[Seg],
    value: Option<i64>,
    default: i32,
    range: std::ops::RangeInclusive<i64>,
    what: &str,
) -> i32 {
    match value {
        None => default,
        Some(v) if range.contains(&v) => v as i32,
        Some(v) => {
            c.at(
                at,
                format!(
                    "{what} must be {}..={}{}, got {v}",
                    range.start(),
                    range.end(),
                    unit_of(what)
                ),
            );
            default
        }
    }
}

fn unit_of(what: &str) -> &'static str {
    match what {
        "memory" => " MB",
        "timeout" | "visibility_timeout" | "message_retention" | "batching_window" | "max_age" => {
            " seconds"
        }
        _ => "",
    }
}
