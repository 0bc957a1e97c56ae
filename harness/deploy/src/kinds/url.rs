//! Deploying urls: the deploy half of the kind; its manifest half (types,
//! validation) is `lsk_manifest::kinds::url`, re-exported here.

pub use lsk_manifest::kinds::url::*;

use aws_sdk_lambda::types as lt;

use crate::aws::Clients;
use crate::kinds::function::Function;
use crate::{Change, DeployError, aws_error};

/// Statement id of the public `lambda:InvokeFunctionUrl` permission of `auth = "NONE"` URLs.
pub const PUBLIC_URL_STATEMENT: &str = "lsk-function-url-public";

/// A function URL as LocalStack reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedUrl {
    pub auth: String,
    pub cors: Option<Cors>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrlAction {
    Create,
    Update(Vec<&'static str>),
    Delete,
    Unchanged,
    /// Neither wanted nor there.
    Absent,
}

fn normalized(cors: Option<&Cors>) -> Cors {
    let mut c = cors.cloned().unwrap_or_default();
    let sort = |v: &mut Vec<String>, upper: bool| {
        if upper {
            v.iter_mut().for_each(|s| *s = s.to_ascii_uppercase());
        }
        v.sort();
        v.dedup();
    };
    sort(&mut c.allow_origins, false);
    sort(&mut c.allow_methods, true);
    // Header names are case-insensitive.
    c.allow_headers
        .iter_mut()
        .for_each(|s| *s = s.to_ascii_lowercase());
    c.expose_headers
        .iter_mut()
        .for_each(|s| *s = s.to_ascii_lowercase());
    sort(&mut c.allow_headers, false);
    sort(&mut c.expose_headers, false);
    if c.allow_credentials == Some(false) {
        c.allow_credentials = None;
    }
    if c.max_age == Some(0) {
        c.max_age = None;
    }
    c
}

pub fn plan_url(desired: Option<&FunctionUrl>, observed: Option<&ObservedUrl>) -> UrlAction {
    match (desired, observed) {
        (None, None) => UrlAction::Absent,
        (None, Some(_)) => UrlAction::Delete,
        (Some(_), None) => UrlAction::Create,
        (Some(d), Some(o)) => {
            let mut changed = Vec::new();
            if o.auth != d.auth.as_str() {
                changed.push("auth");
            }
            if normalized(d.cors.as_ref()) != normalized(o.cors.as_ref()) {
                changed.push("cors");
            }
            if changed.is_empty() {
                UrlAction::Unchanged
            } else {
                UrlAction::Update(changed)
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PermissionAction {
    Add,
    Remove,
    Keep,
    Absent,
}

/// The public invoke permission exists exactly when the URL is `auth = "NONE"`.
pub fn plan_public_permission(
    url: Option<&FunctionUrl>,
    statement_exists: bool,
) -> PermissionAction {
    let wanted = url.is_some_and(|u| u.auth == UrlAuth::None);
    match (wanted, statement_exists) {
        (true, true) => PermissionAction::Keep,
        (true, false) => PermissionAction::Add,
        (false, true) => PermissionAction::Remove,
        (false, false) => PermissionAction::Absent,
    }
}

/// Whether a resource policy (GetPolicy's JSON) has a statement with this id.
pub fn policy_has_statement(policy_json: &str, sid: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(policy_json)
        .ok()
        .and_then(|v| v.get("Statement").cloned())
        .and_then(|s| s.as_array().cloned())
        .is_some_and(|statements| {
            statements
                .iter()
                .any(|s| s.get("Sid").and_then(|v| v.as_str()) == Some(sid))
        })
}

fn to_sdk_cors(c: &Cors) -> lt::Cors {
    lt::Cors::builder()
        .set_allow_origins(Some(c.allow_origins.clone()))
        .set_allow_methods(Some(c.allow_methods.clone()))
        .set_allow_headers(Some(c.allow_headers.clone()))
        .set_expose_headers(Some(c.expose_headers.clone()))
        .set_allow_credentials(c.allow_credentials)
        .set_max_age(c.max_age)
        .build()
}

fn from_sdk_cors(c: &lt::Cors) -> Cors {
    Cors {
        allow_origins: c.allow_origins().to_vec(),
        allow_methods: c.allow_methods().to_vec(),
        allow_headers: c.allow_headers().to_vec(),
        expose_headers: c.expose_headers().to_vec(),
        allow_credentials: c.allow_credentials(),
        max_age: c.max_age(),
    }
}

/// The function URL LocalStack reports; `None` when there is none.
pub async fn observe_url(
    clients: &Clients,
    name: &str,
) -> Result<Option<(ObservedUrl, String)>, DeployError> {
    match clients
        .lambda
        .get_function_url_config()
        .function_name(name)
        .send()
        .await
    {
        Ok(out) => Ok(Some((
            ObservedUrl {
                auth: out.auth_type().as_str().to_owned(),
                cors: out.cors().map(from_sdk_cors),
            },
            out.function_url().to_owned(),
        ))),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error("GetFunctionUrlConfig", name, e)),
    }
}

/// Whether the function's resource policy has the statement `sid`.
pub async fn has_statement(clients: &Clients, name: &str, sid: &str) -> Result<bool, DeployError> {
    match clients.lambda.get_policy().function_name(name).send().await {
        Ok(out) => Ok(out.policy().is_some_and(|p| policy_has_statement(p, sid))),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(aws_error("GetPolicy", name, e)),
    }
}

/// Creates, updates or deletes the function's URL and its public permission; the changes of
/// each, `None` when neither wanted nor there.
pub async fn ensure_url(
    clients: &Clients,
    f: &Function,
) -> Result<(Option<Change>, Option<Change>), DeployError> {
    let name = f.name.as_str();
    let observed = observe_url(clients, name).await?;
    let action = plan_url(f.url.as_ref(), observed.as_ref().map(|(o, _)| o));
    let auth = |u: &crate::manifest::FunctionUrl| lt::FunctionUrlAuthType::from(u.auth.as_str());
    let url_change = match (&action, &f.url) {
        (UrlAction::Absent, _) => None,
        (UrlAction::Unchanged, _) => Some(Change::Unchanged),
        (UrlAction::Create, Some(u)) => {
            let mut req = clients
                .lambda
                .create_function_url_config()
                .function_name(name)
                .auth_type(auth(u));
            if let Some(c) = &u.cors {
                req = req.cors(to_sdk_cors(c));
            }
            req.send()
                .await
                .map_err(|e| aws_error("CreateFunctionUrlConfig", name, e))?;
            Some(Change::Created)
        }
        (UrlAction::Update(what), Some(u)) => {
            clients
                .lambda
                .update_function_url_config()
                .function_name(name)
                .auth_type(auth(u))
                .cors(to_sdk_cors(&u.cors.clone().unwrap_or_default()))
                .send()
                .await
                .map_err(|e| aws_error("UpdateFunctionUrlConfig", name, e))?;
            Some(Change::Updated(
                what.iter().map(|w| (*w).to_owned()).collect(),
            ))
        }
        (UrlAction::Delete, _) => {
            clients
                .lambda
                .delete_function_url_config()
                .function_name(name)
                .send()
                .await
                .map_err(|e| aws_error("DeleteFunctionUrlConfig", name, e))?;
            Some(Change::Removed)
        }
        // plan_url only plans Create/Update when a URL is wanted.
        (UrlAction::Create | UrlAction::Update(_), None) => None,
    };

    let exists = has_statement(clients, name, PUBLIC_URL_STATEMENT).await?;
    let perm_change = match plan_public_permission(f.url.as_ref(), exists) {
        PermissionAction::Absent => None,
        PermissionAction::Keep => Some(Change::Unchanged),
        PermissionAction::Add => {
            let added = clients
                .lambda
                .add_permission()
                .function_name(name)
                .statement_id(PUBLIC_URL_STATEMENT)
                .action("lambda:InvokeFunctionUrl")
                .principal("*")
                .function_url_auth_type(lt::FunctionUrlAuthType::None)
                .send()
                .await;
            match added {
                Ok(_) => Some(Change::Created),
                // Someone added it between our look and now: it is there, which is what we want.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_resource_conflict_exception()) =>
                {
                    Some(Change::Unchanged)
                }
                Err(e) => return Err(aws_error("AddPermission", name, e)),
            }
        }
        PermissionAction::Remove => {
            let removed = clients
                .lambda
                .remove_permission()
                .function_name(name)
                .statement_id(PUBLIC_URL_STATEMENT)
                .send()
                .await;
            match removed {
                Ok(_) => Some(Change::Removed),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_resource_not_found_exception()) =>
                {
                    None
                }
                Err(e) => return Err(aws_error("RemovePermission", name, e)),
            }
        }
    };
    Ok((url_change, perm_change))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(auth: UrlAuth, cors: Option<Cors>) -> FunctionUrl {
        FunctionUrl { auth, cors }
    }

    #[test]
    fn url_plans() {
        let none = url(UrlAuth::None, None);
        assert_eq!(plan_url(None, None), UrlAction::Absent);
        assert_eq!(plan_url(Some(&none), None), UrlAction::Create);
        let there = ObservedUrl {
            auth: "NONE".into(),
            cors: None,
        };
        assert_eq!(plan_url(Some(&none), Some(&there)), UrlAction::Unchanged);
        assert_eq!(plan_url(None, Some(&there)), UrlAction::Delete);
        assert_eq!(
            plan_url(Some(&url(UrlAuth::AwsIam, None)), Some(&there)),
            UrlAction::Update(vec!["auth"])
        );
    }

    #[test]
    fn cors_compares_as_sets_and_ignores_defaults() {
        let wanted = Cors {
            allow_origins: vec!["*".into()],
            allow_methods: vec!["post".into(), "GET".into()],
            allow_headers: vec!["Content-Type".into()],
            ..Cors::default()
        };
        let reported = Cors {
            allow_origins: vec!["*".into()],
            allow_methods: vec!["GET".into(), "POST".into()],
            allow_headers: vec!["content-type".into()],
            allow_credentials: Some(false),
            max_age: Some(0),
            ..Cors::default()
        };
        let observed = ObservedUrl {
            auth: "NONE".into(),
            cors: Some(reported),
        };
        assert_eq!(
            plan_url(
                Some(&url(UrlAuth::None, Some(wanted.clone()))),
                Some(&observed)
            ),
            UrlAction::Unchanged
        );
        let mut different = wanted;
        different.allow_origins = vec!["http://localhost:3000".into()];
        assert_eq!(
            plan_url(Some(&url(UrlAuth::None, Some(different))), Some(&observed)),
            UrlAction::Update(vec!["cors"])
        );
        // An empty CORS block is the same as none.
        assert_eq!(
            plan_url(
                Some(&url(UrlAuth::None, Some(Cors::default()))),
                Some(&ObservedUrl {
                    auth: "NONE".into(),
                    cors: None
                })
            ),
            UrlAction::Unchanged
        );
    }

    #[test]
    fn public_permission_follows_auth() {
        let none = url(UrlAuth::None, None);
        let iam = url(UrlAuth::AwsIam, None);
        assert_eq!(
            plan_public_permission(Some(&none), false),
            PermissionAction::Add
        );
        assert_eq!(
            plan_public_permission(Some(&none), true),
            PermissionAction::Keep
        );
        assert_eq!(
            plan_public_permission(Some(&iam), true),
            PermissionAction::Remove
        );
        assert_eq!(plan_public_permission(None, true), PermissionAction::Remove);
        assert_eq!(
            plan_public_permission(None, false),
            PermissionAction::Absent
        );
    }

    #[test]
    fn policy_statement_lookup() {
        let policy = r#"{"Version":"2012-10-17","Id":"default","Statement":[
            {"Sid":"lsk-function-url-public","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunctionUrl"}]}"#;
        assert!(policy_has_statement(policy, PUBLIC_URL_STATEMENT));
        assert!(!policy_has_statement(policy, "other"));
        assert!(!policy_has_statement("not json", PUBLIC_URL_STATEMENT));
    }
}
