//! Function URLs: `url = { auth, cors }` on a function, with the public invoke permission an
//! `auth = "NONE"` URL needs. A URL the manifest no longer lists is deleted with its permission.

use serde::{Deserialize, Serialize};

use crate::spans::{Collector, Seg, key, with};

/// Who may call a function URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum UrlAuth {
    #[serde(rename = "NONE")]
    None,
    #[serde(rename = "AWS_IAM")]
    AwsIam,
}

impl UrlAuth {
    pub fn as_str(self) -> &'static str {
        match self {
            UrlAuth::None => "NONE",
            UrlAuth::AwsIam => "AWS_IAM",
        }
    }
}

/// CORS settings of a function URL (Lambda's own field set).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Cors {
    #[serde(default)]
    pub allow_origins: Vec<String>,
    #[serde(default)]
    pub allow_methods: Vec<String>,
    #[serde(default)]
    pub allow_headers: Vec<String>,
    #[serde(default)]
    pub expose_headers: Vec<String>,
    #[serde(default)]
    pub allow_credentials: Option<bool>,
    #[serde(default)]
    pub max_age: Option<i32>,
}

/// A function URL.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionUrl {
    pub auth: UrlAuth,
    #[serde(default)]
    pub cors: Option<Cors>,
}

const CORS_METHODS: &[&str] = &["GET", "PUT", "HEAD", "POST", "PATCH", "DELETE", "*"];

/// Checks a function's URL settings (its CORS methods, origins and max age).
pub(crate) fn validate(c: &mut Collector<'_, '_>, base: &[Seg], url: Option<&FunctionUrl>) {
    if let Some(cors) = url.and_then(|u| u.cors.as_ref()) {
        let at = with(base, &[key("url"), key("cors")]);
        for m in &cors.allow_methods {
            if !CORS_METHODS.contains(&m.as_str()) {
                c.at(
                    &with(&at, &[key("allow_methods")]),
                    format!(
                        "allow_methods entry {m:?} is not an HTTP method Lambda accepts; use one of {}",
                        CORS_METHODS.join(", ")
                    ),
                );
            }
        }
        if cors.allow_origins.iter().any(|o| o.trim().is_empty()) {
            c.at(
                &with(&at, &[key("allow_origins")]),
                "allow_origins entries must not be empty; use \"*\" for any origin",
            );
        }
        if let Some(age) = cors.max_age.filter(|a| !(0..=86_400).contains(a)) {
            c.at(
                &with(&at, &[key("max_age")]),
                format!("max_age must be 0..=86400 seconds, got {age}"),
            );
        }
    }
}
