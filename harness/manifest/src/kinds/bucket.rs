//! Buckets: `[buckets.<key>]`, an S3 bucket per entry. The key is a logical name used in
//! references; `name` is the S3 name (global on real AWS), else the key itself. A deploy creates
//! missing buckets and never deletes one, since buckets hold data.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;
use toml::de::DeValue;

use crate::spans::{Collector, key, keys, with};

/// The manifest section of this kind.
pub(crate) const SECTION: &str = "buckets";

/// A validated bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// The key in the manifest, used in references.
    pub key: String,
    /// The S3 bucket name.
    pub name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBucket {
    #[serde(default)]
    name: Option<String>,
}

/// Checks `[buckets.*]`: S3 naming rules, and no S3 name used twice.
pub(crate) fn validate_section(
    c: &mut Collector<'_, '_>,
    entries: &[(String, Spanned<DeValue<'_>>)],
) -> BTreeMap<String, Bucket> {
    let mut buckets = BTreeMap::new();
    let mut physical: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in entries {
        let base = keys(&[SECTION, name]);
        let Some(raw) = c.entry::<RawBucket>(&base, value) else {
            continue;
        };
        let (s3_name, at) = match raw.name {
            Some(n) => (n, with(&base, &[key("name")])),
            None => (name.clone(), base.clone()),
        };
        if let Err(e) = check_bucket_name(&s3_name) {
            let hint = if at == base {
                " (the key is used as the S3 name; set `name = \"...\"` to choose another)"
            } else {
                ""
            };
            c.at(&at, format!("{e}{hint}"));
            continue;
        }
        if let Some(other) = physical.insert(s3_name.clone(), name.clone()) {
            c.at(
                &at,
                format!("bucket name {s3_name:?} is already used by buckets.{other}"),
            );
            continue;
        }
        buckets.insert(
            name.clone(),
            Bucket {
                key: name.clone(),
                name: s3_name,
            },
        );
    }
    buckets
}

/// S3 general purpose bucket naming rules.
pub fn check_bucket_name(name: &str) -> Result<(), String> {
    let len = name.len();
    if !(3..=63).contains(&len) {
        return Err(format!(
            "bucket name must be 3-63 characters, got {len} ({name:?})"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '.' || *c == '-'))
    {
        return Err(format!(
            "bucket name {name:?} contains {bad:?}; use lowercase letters, digits, '.' and '-'"
        ));
    }
    let first = name.chars().next().unwrap_or('-');
    let last = name.chars().last().unwrap_or('-');
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Err(format!(
            "bucket name {name:?} must begin and end with a letter or digit"
        ));
    }
    if name.contains("..") {
        return Err(format!(
            "bucket name {name:?} must not contain two adjacent dots"
        ));
    }
    if name.split('.').count() == 4 && name.split('.').all(|p| p.parse::<u8>().is_ok()) {
        return Err(format!(
            "bucket name {name:?} must not look like an IP address"
        ));
    }
    if name.starts_with("xn--") || name.starts_with("sthree-") {
        return Err(format!(
            "bucket name {name:?} must not start with a reserved prefix (xn--, sthree-)"
        ));
    }
    if name.ends_with("-s3alias") || name.ends_with("--ol-s3") {
        return Err(format!(
            "bucket name {name:?} must not end with a reserved suffix (-s3alias, --ol-s3)"
        ));
    }
    Ok(())
}
