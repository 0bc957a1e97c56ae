//! `${kind.name.attribute}` references inside manifest values, parsed once at load time and
//! resolved at deploy time from what was deployed.

use std::fmt;

use serde::Serialize;

/// Which resource kind a reference points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RefKind {
    Bucket,
    Queue,
    Function,
    Topic,
    Api,
    StateMachine,
}

impl RefKind {
    /// The word used in `${kind.name.attr}`.
    pub fn word(self) -> &'static str {
        match self {
            RefKind::Bucket => "bucket",
            RefKind::Queue => "queue",
            RefKind::Function => "function",
            RefKind::Topic => "topic",
            RefKind::Api => "api",
            RefKind::StateMachine => "state_machine",
        }
    }

    /// The manifest section that declares resources of this kind.
    pub fn section(self) -> &'static str {
        match self {
            RefKind::Bucket => "buckets",
            RefKind::Queue => "queues",
            RefKind::Function => "functions",
            RefKind::Topic => "topics",
            RefKind::Api => "apis",
            RefKind::StateMachine => "state_machines",
        }
    }

    /// The attributes a reference of this kind may ask for.
    pub fn attributes(self) -> &'static [RefAttr] {
        match self {
            RefKind::Bucket | RefKind::Function | RefKind::Topic | RefKind::StateMachine => {
                &[RefAttr::Name, RefAttr::Arn]
            }
            RefKind::Queue => &[RefAttr::Name, RefAttr::Url, RefAttr::Arn],
            RefKind::Api => &[RefAttr::Id, RefAttr::Url],
        }
    }

    const ALL: [RefKind; 6] = [
        RefKind::Bucket,
        RefKind::Queue,
        RefKind::Function,
        RefKind::Topic,
        RefKind::Api,
        RefKind::StateMachine,
    ];
}

/// Which attribute of the resource a reference wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RefAttr {
    Name,
    Url,
    Arn,
    Id,
}

impl RefAttr {
    pub fn word(self) -> &'static str {
        match self {
            RefAttr::Name => "name",
            RefAttr::Url => "url",
            RefAttr::Arn => "arn",
            RefAttr::Id => "id",
        }
    }
}

/// `${kind.name.attr}` inside an environment value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Reference {
    pub kind: RefKind,
    pub name: String,
    pub attr: RefAttr,
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "${{{}.{}.{}}}",
            self.kind.word(),
            self.name,
            self.attr.word()
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Ref(Reference),
}

/// An environment value, possibly with references, parsed once at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvValue {
    raw: String,
    parts: Vec<Part>,
}

/// A reference that could not be resolved at deploy time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reference} cannot be resolved: {why}")]
pub struct UnresolvedRef {
    pub reference: String,
    pub why: String,
}

impl EnvValue {
    /// Parses `text`; errors say what is wrong with the template.
    pub fn parse(text: &str) -> Result<EnvValue, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(pos) = rest.find('$') {
            literal.push_str(&rest[..pos]);
            let after = &rest[pos..];
            if let Some(tail) = after.strip_prefix("$${") {
                literal.push_str("${");
                rest = tail;
            } else if let Some(tail) = after.strip_prefix("${") {
                let end = tail.find('}').ok_or_else(|| {
                    format!(
                        "unterminated reference in {text:?}: expected `}}` after `${{`; write `$${{` for a literal `${{`"
                    )
                })?;
                let reference = parse_reference(&tail[..end])?;
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(Part::Ref(reference));
                rest = &tail[end + 1..];
            } else {
                literal.push('$');
                rest = &after[1..];
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(EnvValue {
            raw: text.to_owned(),
            parts,
        })
    }

    /// The text as written in the manifest.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// The references it contains, in order.
    pub fn references(&self) -> impl Iterator<Item = &Reference> {
        self.parts.iter().filter_map(|p| match p {
            Part::Ref(r) => Some(r),
            Part::Text(_) => None,
        })
    }

    /// Substitutes every reference with what `lookup` returns.
    pub fn resolve(
        &self,
        lookup: &dyn Fn(&Reference) -> Result<String, String>,
    ) -> Result<String, UnresolvedRef> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Ref(r) => out.push_str(&lookup(r).map_err(|why| UnresolvedRef {
                    reference: r.to_string(),
                    why,
                })?),
            }
        }
        Ok(out)
    }
}

fn parse_reference(inner: &str) -> Result<Reference, String> {
    let bad = || {
        let forms: Vec<String> = RefKind::ALL
            .iter()
            .map(|k| {
                let attrs: Vec<&str> = k.attributes().iter().map(|a| a.word()).collect();
                format!("`${{{}.<name>.{}}}`", k.word(), attrs.join("|"))
            })
            .collect();
        format!(
            "`${{{inner}}}` is not a reference; expected one of {}",
            forms.join(", ")
        )
    };
    // The name may itself contain dots (`jobs.fifo`), so kind is the first segment and the
    // attribute the last.
    let (kind, rest) = inner.split_once('.').ok_or_else(bad)?;
    let (name, attr) = rest.rsplit_once('.').ok_or_else(bad)?;
    if name.is_empty() {
        return Err(bad());
    }
    let kind = RefKind::ALL
        .into_iter()
        .find(|k| k.word() == kind)
        .ok_or_else(|| {
            let words: Vec<&str> = RefKind::ALL.iter().map(|k| k.word()).collect();
            format!(
                "unknown resource kind `{kind}` in `${{{inner}}}`; expected {}",
                words.join(", ")
            )
        })?;
    let attr = kind
        .attributes()
        .iter()
        .copied()
        .find(|a| a.word() == attr)
        .ok_or_else(|| {
            let allowed: Vec<&str> = kind.attributes().iter().map(|a| a.word()).collect();
            format!(
                "unknown attribute `{attr}` in `${{{inner}}}`; a {} has {}",
                kind.word(),
                allowed.join(", ")
            )
        })?;
    Ok(Reference {
        kind,
        name: name.to_owned(),
        attr,
    })
}
