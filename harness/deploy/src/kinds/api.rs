//! Deploying apis: the deploy half of the kind; its manifest half (types,
//! validation) is `lsk_manifest::kinds::api`, re-exported here.

pub use lsk_manifest::kinds::api::*;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_apigateway::types::IntegrationType;

use crate::aws::{self, AwsError, Clients};
use crate::kinds::function::{TAG_MANAGED, TAG_PROJECT};
use crate::kinds::permission::{self, Invoker};
use crate::manifest::Manifest;
use crate::{Change, DeployError, Resolved, aws_error};

/// Statement id prefix of the permissions that let API Gateway invoke a function.
pub const PERMISSION_PREFIX: &str = "lsk-apigw-";
/// How api invokes functions, for their resource policies.
const INVOKER: Invoker = Invoker {
    prefix: PERMISSION_PREFIX,
    principal: "apigateway.amazonaws.com",
    kind: "api",
};
/// The integration URI that proxies to a function.
pub fn integration_uri(region: &str, function: &str) -> String {
    format!(
        "arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{}/invocations",
        aws::function_arn(region, function)
    )
}

/// The invoke URL of a stage that works offline.
pub fn offline_url(id: &str, port: u16, stage: &str) -> String {
    format!("http://{id}.execute-api.localhost:{port}/{stage}")
}

/// The invoke URL of a stage in LocalStack's own form (needs public DNS).
pub fn localstack_url(id: &str, port: u16, stage: &str) -> String {
    format!("http://{id}.execute-api.localhost.localstack.cloud:{port}/{stage}")
}

/// The id of the API lsk deployed for `project` under `name`, if any.
pub async fn find_api(
    clients: &Clients,
    name: &str,
    project: &str,
) -> Result<Option<String>, DeployError> {
    Ok(owned_apis(clients, project)
        .await?
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, id)| id))
}

/// (name, id) of every API lsk deployed for `project`.
async fn owned_apis(
    clients: &Clients,
    project: &str,
) -> Result<Vec<(String, String)>, DeployError> {
    let apis: Vec<_> = clients
        .apigateway
        .get_rest_apis()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| aws_error("GetRestApis", "REST APIs", e))?;
    Ok(apis
        .iter()
        .filter(|a| {
            a.tags().is_some_and(|t| {
                t.get(TAG_MANAGED).map(String::as_str) == Some("lsk")
                    && t.get(TAG_PROJECT).map(String::as_str) == Some(project)
            })
        })
        .filter_map(|a| Some((a.name()?.to_owned(), a.id()?.to_owned())))
        .collect())
}

/// Creates the API when lsk has not yet; returns the change and its id.
pub async fn ensure_api(
    clients: &Clients,
    api: &Api,
    project: &str,
) -> Result<(Change, String), DeployError> {
    if let Some(id) = find_api(clients, &api.name, project).await? {
        return Ok((Change::Unchanged, id));
    }
    let out = clients
        .apigateway
        .create_rest_api()
        .name(&api.name)
        .set_description(api.description.clone())
        .set_tags(Some(HashMap::from([
            (TAG_MANAGED.to_owned(), "lsk".to_owned()),
            (TAG_PROJECT.to_owned(), project.to_owned()),
        ])))
        .send()
        .await
        .map_err(|e| aws_error("CreateRestApi", &api.name, e))?;
    let id = out
        .id()
        .ok_or_else(|| AwsError::answer("CreateRestApi", &api.name, "the answer has no id"))?;
    Ok((Change::Created, id.to_owned()))
}

/// A resource of an API as found: its id, and its methods with their integration URIs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ObservedResource {
    pub id: String,
    pub methods: BTreeMap<String, Option<String>>,
}

/// The API's resources by path.
pub async fn observe_resources(
    clients: &Clients,
    api_id: &str,
) -> Result<BTreeMap<String, ObservedResource>, DeployError> {
    let resources: Vec<_> = clients
        .apigateway
        .get_resources()
        .rest_api_id(api_id)
        .embed("methods")
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| aws_error("GetResources", api_id, e))?;
    let mut out = BTreeMap::new();
    for r in resources {
        let (Some(id), Some(path)) = (r.id(), r.path()) else {
            continue;
        };
        let mut methods = BTreeMap::new();
        for (method, m) in r.resource_methods().into_iter().flatten() {
            let uri = match m.method_integration() {
                Some(i) => i.uri().map(str::to_owned),
                // Not every API Gateway embeds integrations; ask for this one.
                None => clients
                    .apigateway
                    .get_integration()
                    .rest_api_id(api_id)
                    .resource_id(id)
                    .http_method(method)
                    .send()
                    .await
                    .ok()
                    .and_then(|i| i.uri().map(str::to_owned)),
            };
            methods.insert(method.clone(), uri);
        }
        out.insert(
            path.to_owned(),
            ObservedResource {
                id: id.to_owned(),
                methods,
            },
        );
    }
    Ok(out)
}

/// What a deploy does to one route (or a method the manifest no longer lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteAction {
    Keep,
    Create,
    /// The method exists but proxies elsewhere.
    Retarget,
    Delete,
}

/// Plans an API's methods: (method, path, action), the manifest's routes first.
pub fn plan_routes(
    api: &Api,
    region: &str,
    observed: &BTreeMap<String, ObservedResource>,
) -> Vec<(String, String, RouteAction)> {
    let mut out = Vec::new();
    for r in &api.routes {
        let uri = integration_uri(region, &r.function);
        let action = match observed
            .get(&r.path)
            .and_then(|res| res.methods.get(&r.method))
        {
            None => RouteAction::Create,
            Some(Some(u)) if *u == uri => RouteAction::Keep,
            Some(_) => RouteAction::Retarget,
        };
        out.push((r.method.clone(), r.path.clone(), action));
    }
    for (path, res) in observed {
        for method in res.methods.keys() {
            if !api
                .routes
                .iter()
                .any(|r| &r.method == method && &r.path == path)
            {
                out.push((method.clone(), path.clone(), RouteAction::Delete));
            }
        }
    }
    out
}

/// Resources to delete after methods were: those with no methods left and no resource under
/// them (deepest first); never the root.
pub fn empty_resources(api: &Api, observed: &BTreeMap<String, ObservedResource>) -> Vec<String> {
    let wanted: BTreeSet<&str> = api.routes.iter().map(|r| r.path.as_str()).collect();
    let needed = |path: &str| {
        wanted
            .iter()
            .any(|w| *w == path || w.starts_with(&format!("{path}/")))
    };
    let mut out: Vec<String> = observed
        .keys()
        .filter(|p| p.as_str() != "/" && !needed(p))
        .cloned()
        .collect();
    out.sort_by_key(|p| std::cmp::Reverse(p.matches('/').count()));
    out
}

/// Creates each missing resource on the way to `path`; returns its id.
async fn ensure_path(
    clients: &Clients,
    api_id: &str,
    path: &str,
    resources: &mut BTreeMap<String, ObservedResource>,
) -> Result<String, DeployError> {
    let mut current = "/".to_owned();
    let mut parent = resources
        .get("/")
        .map(|r| r.id.clone())
        .ok_or_else(|| AwsError::answer("GetResources", api_id, "the API has no root resource"))?;
    for part in path.split('/').filter(|p| !p.is_empty()) {
        current = if current == "/" {
            format!("/{part}")
        } else {
            format!("{current}/{part}")
        };
        if let Some(r) = resources.get(&current) {
            parent = r.id.clone();
            continue;
        }
        let created = clients
            .apigateway
            .create_resource()
            .rest_api_id(api_id)
            .parent_id(&parent)
            .path_part(part)
            .send()
            .await
            .map_err(|e| aws_error("CreateResource", &current, e))?;
        let id = created.id().unwrap_or_default().to_owned();
        resources.insert(
            current.clone(),
            ObservedResource {
                id: id.clone(),
                methods: BTreeMap::new(),
            },
        );
        parent = id;
    }
    Ok(parent)
}

/// Brings every API's routes and stage to the manifest. Runs after the functions exist.
pub async fn reconcile_routes(
    clients: &Clients,
    manifest: &Manifest,
    resolved: &Resolved,
) -> Result<Vec<(String, Change)>, DeployError> {
    let region = &resolved.region;
    let mut report = Vec::new();
    for api in manifest.apis.values() {
        let Some((id, _)) = resolved.apis.get(&api.name) else {
            continue;
        };
        let mut resources = observe_resources(clients, id).await?;
        let plan = plan_routes(api, region, &resources);
        let mut changed = false;
        for (method, path, action) in &plan {
            let label = format!("{} {method} {path}", api.name);
            match action {
                RouteAction::Keep => report.push((label, Change::Unchanged)),
                RouteAction::Create | RouteAction::Retarget => {
                    let resource = ensure_path(clients, id, path, &mut resources).await?;
                    if *action == RouteAction::Create {
                        clients
                            .apigateway
                            .put_method()
                            .rest_api_id(id)
                            .resource_id(&resource)
                            .http_method(method)
                            .authorization_type("NONE")
                            .send()
                            .await
                            .map_err(|e| aws_error("PutMethod", &label, e))?;
                    }
                    let function = api
                        .routes
                        .iter()
                        .find(|r| &r.method == method && &r.path == path)
                        .map(|r| r.function.as_str())
                        .unwrap_or_default();
                    clients
                        .apigateway
                        .put_integration()
                        .rest_api_id(id)
                        .resource_id(&resource)
                        .http_method(method)
                        .r#type(IntegrationType::AwsProxy)
                        .integration_http_method("POST")
                        .uri(integration_uri(region, function))
                        .send()
                        .await
                        .map_err(|e| aws_error("PutIntegration", &label, e))?;
                    changed = true;
                    report.push((
                        label,
                        if *action == RouteAction::Create {
                            Change::Created
                        } else {
                            Change::Updated(vec!["function".into()])
                        },
                    ));
                }
                RouteAction::Delete => {
                    if let Some(res) = resources.get(path) {
                        clients
                            .apigateway
                            .delete_method()
                            .rest_api_id(id)
                            .resource_id(&res.id)
                            .http_method(method)
                            .send()
                            .await
                            .map_err(|e| aws_error("DeleteMethod", &label, e))?;
                    }
                    changed = true;
                    report.push((label, Change::Removed));
                }
            }
        }
        for path in empty_resources(api, &resources) {
            if let Some(res) = resources.get(&path) {
                match clients
                    .apigateway
                    .delete_resource()
                    .rest_api_id(id)
                    .resource_id(&res.id)
                    .send()
                    .await
                {
                    Ok(_) => changed = true,
                    // Deleting a parent first takes its children with it.
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|se| se.is_not_found_exception()) => {}
                    Err(e) => return Err(aws_error("DeleteResource", &path, e)),
                }
            }
        }
        let stage_exists = match clients
            .apigateway
            .get_stage()
            .rest_api_id(id)
            .stage_name(&api.stage)
            .send()
            .await
        {
            Ok(_) => true,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_not_found_exception()) =>
            {
                false
            }
            Err(e) => return Err(aws_error("GetStage", &api.stage, e)),
        };
        let label = format!("{} stage {}", api.name, api.stage);
        if changed || !stage_exists {
            clients
                .apigateway
                .create_deployment()
                .rest_api_id(id)
                .stage_name(&api.stage)
                .description("deployed by lsk")
                .send()
                .await
                .map_err(|e| aws_error("CreateDeployment", &label, e))?;
            report.push((
                label,
                if stage_exists {
                    Change::Updated(vec!["routes".into()])
                } else {
                    Change::Created
                },
            ));
        } else {
            report.push((label, Change::Unchanged));
        }
    }
    Ok(report)
}

/// Lets API Gateway invoke each function from the APIs routing to it.
pub async fn reconcile_permissions(
    clients: &Clients,
    manifest: &Manifest,
    resolved: &Resolved,
) -> Result<Vec<(String, Change)>, DeployError> {
    permission::reconcile_all(clients, manifest, INVOKER, |f| {
        manifest
            .apis
            .values()
            .filter(|a| a.routes.iter().any(|r| r.function == f.name))
            .filter_map(|a| {
                let (id, _) = resolved.apis.get(&a.name)?;
                let arn = format!(
                    "arn:aws:execute-api:{}:{}:{id}/*",
                    resolved.region,
                    aws::ACCOUNT_ID
                );
                Some((a.name.clone(), arn))
            })
            .collect()
    })
    .await
}

/// Deletes the APIs lsk created for `project` that the manifest no longer lists.
pub async fn prune(
    clients: &Clients,
    manifest: &Manifest,
    project: &str,
) -> Result<Vec<String>, DeployError> {
    let mut removed = Vec::new();
    for (name, id) in owned_apis(clients, project).await? {
        if manifest.apis.contains_key(&name) {
            continue;
        }
        clients
            .apigateway
            .delete_rest_api()
            .rest_api_id(&id)
            .send()
            .await
            .map_err(|e| aws_error("DeleteRestApi", &name, e))?;
        removed.push(name);
    }
    Ok(removed)
}

/// What `lsk status` shows of an API.
pub async fn view(
    clients: &Clients,
    api: &Api,
    project: &str,
) -> Result<crate::output::ApiView, DeployError> {
    let id = find_api(clients, &api.name, project).await?;
    let resources = match &id {
        Some(id) => observe_resources(clients, id).await?,
        None => BTreeMap::new(),
    };
    let offline = id
        .as_ref()
        .map(|id| offline_url(id, clients.port, &api.stage));
    let routes = api
        .routes
        .iter()
        .map(|r| {
            let deployed = resources
                .get(&r.path)
                .and_then(|res| res.methods.get(&r.method))
                .is_some_and(|uri| {
                    uri.as_deref() == Some(integration_uri(&clients.region, &r.function).as_str())
                });
            crate::output::RouteView {
                method: r.method.clone(),
                path: r.path.clone(),
                function: r.function.clone(),
                deployed,
                curl: offline
                    .as_ref()
                    .filter(|_| deployed)
                    .map(|u| curl_line(u, r)),
            }
        })
        .collect();
    Ok(crate::output::ApiView {
        name: api.name.clone(),
        stage: api.stage.clone(),
        localstack_cloud: id
            .as_ref()
            .map(|id| localstack_url(id, clients.port, &api.stage)),
        offline,
        id,
        routes,
    })
}

/// The path a `curl` line uses for a route: parameters get example values.
pub fn example_path(path: &str) -> String {
    path.split('/')
        .map(|part| match part {
            p if p.starts_with('{') && p.ends_with("+}") => "hello/from/lsk".to_owned(),
            p if p.starts_with('{') && p.ends_with('}') => "example".to_owned(),
            p => p.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `curl` to a route of a stage's offline URL.
pub fn curl_line(stage_url: &str, route: &Route) -> String {
    let url = format!("{stage_url}{}", example_path(&route.path));
    let q = crate::output::quote_always(&url);
    let method = route.method.as_str();
    if ["POST", "PUT", "PATCH", "ANY"].contains(&method) {
        let method = if method == "ANY" { "POST" } else { method };
        format!(
            "curl -s -X {method} {q} -H 'content-type: application/json' -d {}",
            crate::output::shell_quote(route.example.as_deref().unwrap_or("{}"))
        )
    } else {
        format!("curl -s -X {method} {q}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(routes: &[(&str, &str, &str)]) -> Api {
        Api {
            name: "shop".into(),
            stage: "Prod".into(),
            description: None,
            routes: routes
                .iter()
                .map(|(m, p, f)| Route {
                    method: (*m).into(),
                    path: (*p).into(),
                    function: (*f).into(),
                    example: None,
                })
                .collect(),
        }
    }

    fn res(id: &str, methods: &[(&str, &str)]) -> ObservedResource {
        ObservedResource {
            id: id.into(),
            methods: methods
                .iter()
                .map(|(m, f)| ((*m).to_owned(), Some(integration_uri("us-east-1", f))))
                .collect(),
        }
    }

    #[test]
    fn paths_follow_api_gateway_rules() {
        assert!(check_path("/change").is_ok());
        assert!(check_path("/").is_ok());
        assert!(check_path("/images/{file}").is_ok());
        assert!(check_path("/{proxy+}").is_ok());
        assert!(check_path("change").unwrap_err().contains("start with '/'"));
        assert!(check_path("/a//b").unwrap_err().contains("empty part"));
        assert!(check_path("/{proxy+}/x").unwrap_err().contains("last part"));
        assert!(check_path("/a b").unwrap_err().contains("' '"));
    }

    #[test]
    fn routes_are_created_kept_retargeted_and_deleted() {
        let want = api(&[
            ("POST", "/change", "make-change"),
            ("POST", "/generate-image", "gen"),
        ]);
        let seen = BTreeMap::from([
            ("/".to_owned(), res("r", &[])),
            (
                "/change".to_owned(),
                res("c", &[("POST", "make-change"), ("GET", "make-change")]),
            ),
            ("/generate-image".to_owned(), res("g", &[("POST", "other")])),
            ("/old".to_owned(), res("o", &[("POST", "x")])),
            ("/old/deeper".to_owned(), res("d", &[])),
        ]);
        let plan = plan_routes(&want, "us-east-1", &seen);
        assert_eq!(
            plan,
            vec![
                ("POST".into(), "/change".into(), RouteAction::Keep),
                (
                    "POST".into(),
                    "/generate-image".into(),
                    RouteAction::Retarget
                ),
                ("GET".into(), "/change".into(), RouteAction::Delete),
                ("POST".into(), "/old".into(), RouteAction::Delete),
            ]
        );
        assert_eq!(empty_resources(&want, &seen), ["/old/deeper", "/old"]);
    }

    #[test]
    fn curl_lines_post_the_example_to_the_offline_url() {
        let url = offline_url("abc123", 4566, "Prod");
        assert_eq!(url, "http://abc123.execute-api.localhost:4566/Prod");
        let mut route = api(&[("POST", "/change", "make-change")]).routes.remove(0);
        route.example = Some(r#"{"amount": "0.63"}"#.into());
        assert_eq!(
            curl_line(&url, &route),
            r#"curl -s -X POST 'http://abc123.execute-api.localhost:4566/Prod/change' -H 'content-type: application/json' -d '{"amount": "0.63"}'"#
        );
        let get = Route {
            method: "GET".into(),
            path: "/images/{file}".into(),
            function: "gen".into(),
            example: None,
        };
        assert_eq!(
            curl_line(&url, &get),
            "curl -s -X GET 'http://abc123.execute-api.localhost:4566/Prod/images/example'"
        );
    }
}
