//! Statements in a function's resource policy that let another service invoke it (S3, SNS,
//! EventBridge, API Gateway). Each kind owns the statements whose id starts with its prefix and
//! reconciles them as a set: what it wants is added, what it no longer wants is removed, and a
//! statement whose source changed (an API re-created under a new id) is replaced.

use std::collections::BTreeMap;

use crate::aws::{self, Clients};
use crate::kinds::function::Function;
use crate::manifest::Manifest;
use crate::{Change, DeployError, aws_error};

/// A service that invokes functions for one kind: the statement id prefix the kind owns, the
/// service's principal, and the word the report uses for the kind's resources.
#[derive(Debug, Clone, Copy)]
pub struct Invoker {
    pub prefix: &'static str,
    pub principal: &'static str,
    pub kind: &'static str,
}

/// One statement a kind wants on a function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Statement id; starts with the kind's prefix.
    pub sid: String,
    /// The service allowed to invoke, e.g. `sns.amazonaws.com`.
    pub principal: &'static str,
    /// Only calls on behalf of this resource are allowed.
    pub source_arn: String,
    /// How the report names it, e.g. `labeller from s3 lsk-uploads`.
    pub label: String,
}

/// The statements of a function's policy: statement id -> source ARN (if it has one).
async fn statements(
    clients: &Clients,
    function: &str,
) -> Result<BTreeMap<String, Option<String>>, DeployError> {
    let policy = match clients
        .lambda
        .get_policy()
        .function_name(function)
        .send()
        .await
    {
        Ok(out) => out.policy().map(str::to_owned),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_not_found_exception()) =>
        {
            None
        }
        Err(e) => return Err(aws_error("GetPolicy", function, e)),
    };
    let doc: serde_json::Value = policy
        .and_then(|p| serde_json::from_str(&p).ok())
        .unwrap_or_default();
    let list = doc
        .get("Statement")
        .and_then(|s| s.as_array())
        .cloned()
        .unwrap_or_default();
    Ok(list
        .iter()
        .filter_map(|s| {
            let sid = s.get("Sid")?.as_str()?.to_owned();
            let source = s
                .pointer("/Condition/ArnLike/AWS:SourceArn")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            Some((sid, source))
        })
        .collect())
}

/// What to do with a function's statements of one kind: (statement id, add?, remove?).
pub fn plan(
    prefix: &str,
    wanted: &[Grant],
    existing: &BTreeMap<String, Option<String>>,
) -> Vec<(String, bool, bool)> {
    let mut out = Vec::new();
    for g in wanted {
        match existing.get(&g.sid) {
            None => out.push((g.sid.clone(), true, false)),
            Some(source) if source.as_deref() == Some(g.source_arn.as_str()) => {
                out.push((g.sid.clone(), false, false));
            }
            Some(_) => out.push((g.sid.clone(), true, true)),
        }
    }
    for sid in existing.keys().filter(|s| s.starts_with(prefix)) {
        if !wanted.iter().any(|g| &g.sid == sid) {
            out.push((sid.clone(), false, true));
        }
    }
    out
}

/// Brings `function`'s statements of `invoker` to the resources `sources` names (resource
/// name, its ARN): one statement `<prefix><name>` each. Report lines read
/// `<function> from <kind> <name>`.
pub async fn reconcile_function(
    clients: &Clients,
    function: &str,
    invoker: Invoker,
    sources: &[(String, String)],
) -> Result<Vec<(String, Change)>, DeployError> {
    let wanted: Vec<Grant> = sources
        .iter()
        .map(|(name, arn)| Grant {
            sid: format!("{}{name}", invoker.prefix),
            principal: invoker.principal,
            source_arn: arn.clone(),
            label: format!("{function} from {} {name}", invoker.kind),
        })
        .collect();
    let removed = |sid: &str| {
        let name = sid.strip_prefix(invoker.prefix).unwrap_or(sid);
        format!("{function} from {} {name}", invoker.kind)
    };
    reconcile(clients, function, invoker.prefix, &wanted, &removed).await
}

/// [`reconcile_function`] for every function of the manifest, with the resources
/// `sources(function)` names.
pub async fn reconcile_all(
    clients: &Clients,
    manifest: &Manifest,
    invoker: Invoker,
    sources: impl Fn(&Function) -> Vec<(String, String)>,
) -> Result<Vec<(String, Change)>, DeployError> {
    let mut report = Vec::new();
    for f in manifest.functions.values() {
        report.extend(reconcile_function(clients, &f.name, invoker, &sources(f)).await?);
    }
    Ok(report)
}

/// Brings `function`'s statements whose id starts with `prefix` to `wanted`. The report names
/// each statement by its grant's label, or by `removed_label(statement id)` when it is removed.
async fn reconcile(
    clients: &Clients,
    function: &str,
    prefix: &str,
    wanted: &[Grant],
    removed_label: &dyn Fn(&str) -> String,
) -> Result<Vec<(String, Change)>, DeployError> {
    let existing = statements(clients, function).await?;
    let mut changes = Vec::new();
    for (sid, add, remove) in plan(prefix, wanted, &existing) {
        let grant = wanted.iter().find(|g| g.sid == sid);
        let label = grant.map_or_else(|| removed_label(&sid), |g| g.label.clone());
        if remove {
            match clients
                .lambda
                .remove_permission()
                .function_name(function)
                .statement_id(&sid)
                .send()
                .await
            {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|se| se.is_resource_not_found_exception()) => {}
                Err(e) => return Err(aws_error("RemovePermission", function, e)),
            }
        }
        match (grant, add) {
            (Some(g), true) => {
                let added = clients
                    .lambda
                    .add_permission()
                    .function_name(function)
                    .statement_id(&g.sid)
                    .action("lambda:InvokeFunction")
                    .principal(g.principal)
                    .source_arn(&g.source_arn)
                    .source_account(aws::ACCOUNT_ID)
                    .send()
                    .await;
                match added {
                    Ok(_) if remove => {
                        changes.push((label, Change::Updated(vec!["source".into()])))
                    }
                    Ok(_) => changes.push((label, Change::Created)),
                    // Added between our look and now: it is there, which is what we want.
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|se| se.is_resource_conflict_exception()) =>
                    {
                        changes.push((label, Change::Unchanged));
                    }
                    Err(e) => return Err(aws_error("AddPermission", function, e)),
                }
            }
            (Some(_), false) => changes.push((label, Change::Unchanged)),
            (None, _) => changes.push((label, Change::Removed)),
        }
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(sid: &str, source: &str) -> Grant {
        Grant {
            sid: sid.into(),
            principal: "sns.amazonaws.com",
            source_arn: source.into(),
            label: sid.into(),
        }
    }

    #[test]
    fn statements_are_added_kept_replaced_and_removed_within_the_prefix() {
        let existing = BTreeMap::from([
            ("lsk-sns-a".to_owned(), Some("arn:a".to_owned())),
            ("lsk-sns-b".to_owned(), Some("arn:old".to_owned())),
            ("lsk-sns-gone".to_owned(), Some("arn:g".to_owned())),
            ("someone-elses".to_owned(), None),
            ("lsk-s3-x".to_owned(), None),
        ]);
        let wanted = [
            grant("lsk-sns-a", "arn:a"),
            grant("lsk-sns-b", "arn:new"),
            grant("lsk-sns-c", "arn:c"),
        ];
        assert_eq!(
            plan("lsk-sns-", &wanted, &existing),
            vec![
                ("lsk-sns-a".to_owned(), false, false),
                ("lsk-sns-b".to_owned(), true, true),
                ("lsk-sns-c".to_owned(), true, false),
                ("lsk-sns-gone".to_owned(), false, true),
            ]
        );
    }
}
