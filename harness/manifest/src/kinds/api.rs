//! REST APIs (API Gateway v1): `[apis.<name>]` with routes (`method`, `path`, `function`) mapped
//! to functions through Lambda proxy integration, deployed to one stage.
//!
//! The API itself is created before the functions, so `${api.<name>.url}` resolves in their
//! environment; routes, the permission API Gateway needs and the stage's deployment follow the
//! functions. A new deployment is made only when a route changed. The manifest is the truth for
//! an API's routes: a method or resource it no longer lists is deleted, and an API lsk created
//! for this project that the manifest no longer lists is deleted.
//!
//! Invoke URLs: `http://<id>.execute-api.localhost:<port>/<stage>/...` works with no DNS (curl
//! resolves `*.localhost` to loopback); LocalStack's own `...localhost.localstack.cloud` form needs
//! public DNS. (HTTP APIs, API Gateway v2, are not in LocalStack's open-source edition.)

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use toml::Spanned;
use toml::de::DeValue;

use crate::Declared;
use crate::spans::{Collector, Seg, key, keys, render_path, with};

/// The manifest section of this kind.
pub(crate) const SECTION: &str = "apis";
/// The stage when the manifest names none (AWS SAM's default).
pub const DEFAULT_STAGE: &str = "Prod";

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];

/// A validated REST API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Api {
    pub name: String,
    pub stage: String,
    pub description: Option<String>,
    pub routes: Vec<Route>,
}

/// One route: a method on a path, proxied to a function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    pub method: String,
    pub path: String,
    pub function: String,
    /// Example body for the printed `curl` line.
    pub example: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApi {
    #[serde(default)]
    stage: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    routes: Vec<RawRoute>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRoute {
    method: String,
    path: String,
    function: String,
    #[serde(default)]
    example: Option<String>,
}

/// A route's path: `/`, or `/`-separated parts of `A-Za-z0-9-._~`, `{param}`, or a last
/// `{proxy+}`.
pub fn check_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!(
            "path {path:?} must start with '/', e.g. \"/change\""
        ));
    }
    if path == "/" {
        return Ok(());
    }
    let parts: Vec<&str> = path[1..].split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            return Err(format!(
                "path {path:?} has an empty part; remove the extra '/'"
            ));
        }
        if let Some(inner) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            let (name, greedy) = match inner.strip_suffix('+') {
                Some(n) => (n, true),
                None => (inner, false),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "path {path:?}: {part:?} is not a path parameter; write {{name}} or a last {{proxy+}}"
                ));
            }
            if greedy && i + 1 != parts.len() {
                return Err(format!(
                    "path {path:?}: a greedy parameter ({part}) must be the last part"
                ));
            }
        } else if let Some(bad) = part
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-._~".contains(*c)))
        {
            return Err(format!(
                "path {path:?} contains {bad:?}; use letters, digits, '-', '.', '_', '~' and {{param}}"
            ));
        }
    }
    Ok(())
}

/// Checks `[apis.*]`.
pub(crate) fn validate_section(
    c: &mut Collector<'_, '_>,
    entries: &[(String, Spanned<DeValue<'_>>)],
    known: &Declared,
) -> BTreeMap<String, Api> {
    let mut apis = BTreeMap::new();
    for (name, value) in entries {
        let base = keys(&[SECTION, name]);
        if name.is_empty() || name.len() > 128 {
            c.at(&base, "an API name must be 1-128 characters");
        }
        let Some(raw) = c.entry::<RawApi>(&base, value) else {
            continue;
        };
        let stage = raw.stage.unwrap_or_else(|| DEFAULT_STAGE.to_owned());
        if stage.is_empty()
            || stage.len() > 128
            || !stage
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_')
        {
            c.at(
                &with(&base, &[key("stage")]),
                format!("stage {stage:?} must be 1-128 letters, digits, '-' or '_', e.g. \"Prod\""),
            );
        }
        if raw.routes.is_empty() {
            c.at(
                &base,
                "an API needs routes: [[apis.<name>.routes]] with method, path and function",
            );
        }
        let mut routes: Vec<Route> = Vec::new();
        for (i, r) in raw.routes.into_iter().enumerate() {
            let at = with(&base, &[key("routes"), Seg::Index(i)]);
            let method = r.method.to_ascii_uppercase();
            if !METHODS.contains(&method.as_str()) {
                c.at(
                    &with(&at, &[key("method")]),
                    format!(
                        "{:?} is not an HTTP method; use one of {}",
                        r.method,
                        METHODS.join(", ")
                    ),
                );
            }
            if let Err(e) = check_path(&r.path) {
                c.at(&with(&at, &[key("path")]), e);
            }
            if !known.functions.contains(&r.function) {
                c.at(
                    &with(&at, &[key("function")]),
                    format!(
                        "function `{}` is not declared; add [functions.{}] or fix the name",
                        r.function,
                        render_path(&[key(&r.function)])
                    ),
                );
            }
            if routes
                .iter()
                .any(|o| o.method == method && o.path == r.path)
            {
                c.at(&at, format!("{method} {} is listed twice", r.path));
                continue;
            }
            routes.push(Route {
                method,
                path: r.path,
                function: r.function,
                example: r.example,
            });
        }
        apis.insert(
            name.clone(),
            Api {
                name: name.clone(),
                stage,
                description: raw.description,
                routes,
            },
        );
    }
    apis
}
