//! Deploying state machines: the deploy half of the kind; its manifest half (types,
//! validation) is `lsk_manifest::kinds::state_machine`, re-exported here.

pub use lsk_manifest::kinds::state_machine::*;

use aws_sdk_sfn::types::{StateMachineType, Tag};

use crate::aws::{self, Clients};
use crate::kinds::function::{TAG_MANAGED, TAG_PROJECT};
use crate::manifest::Manifest;
use crate::{Change, DeployError, Resolved, aws_error};

/// The definition with references resolved from what was deployed.
pub fn resolve_definition(sm: &StateMachine, resolved: &Resolved) -> Result<String, DeployError> {
    sm.definition
        .resolve(&|r| resolved.lookup(r))
        .map_err(|source| DeployError::UnresolvedDefinition {
            state_machine: sm.name.clone(),
            source,
        })
}

/// A state machine as found: its definition (as JSON, so whitespace does not count) and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub definition: Option<serde_json::Value>,
    pub kind: String,
}

/// What changed between what is there and what is wanted.
pub fn plan(observed: Option<&Observed>, definition: &str, kind: Kind) -> Change {
    let Some(o) = observed else {
        return Change::Created;
    };
    let mut what = Vec::new();
    if o.definition != serde_json::from_str(definition).ok() {
        what.push("definition".to_owned());
    }
    if o.kind != kind.as_str() {
        what.push("type".to_owned());
    }
    if what.is_empty() {
        Change::Unchanged
    } else {
        Change::Updated(what)
    }
}

/// The state machine named `name`, if it exists.
pub async fn observe(
    clients: &Clients,
    arn: &str,
) -> Result<Option<(Observed, String)>, DeployError> {
    match clients
        .sfn
        .describe_state_machine()
        .state_machine_arn(arn)
        .send()
        .await
    {
        Ok(out) => Ok(Some((
            Observed {
                definition: serde_json::from_str(out.definition()).ok(),
                kind: out.r#type().as_str().to_owned(),
            },
            out.status()
                .map_or_else(|| "ACTIVE".to_owned(), |s| s.as_str().to_owned()),
        ))),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_state_machine_does_not_exist()) =>
        {
            Ok(None)
        }
        Err(e) => Err(aws_error("DescribeStateMachine", arn, e)),
    }
}

fn tags(project: &str) -> Vec<Tag> {
    [(TAG_MANAGED, "lsk"), (TAG_PROJECT, project)]
        .into_iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Creates or updates every state machine of the manifest. Runs after functions and topics.
pub async fn reconcile(
    clients: &Clients,
    manifest: &Manifest,
    resolved: &Resolved,
    project: &str,
) -> Result<Vec<(String, Change)>, DeployError> {
    let mut report = Vec::new();
    for sm in manifest.state_machines.values() {
        let definition = resolve_definition(sm, resolved)?;
        let arn = aws::state_machine_arn(&resolved.region, &sm.name);
        let observed = observe(clients, &arn).await?;
        let change = plan(observed.as_ref().map(|(o, _)| o), &definition, sm.kind);
        let create = || async {
            clients
                .sfn
                .create_state_machine()
                .name(&sm.name)
                .definition(&definition)
                .role_arn(aws::STATES_ROLE)
                .r#type(StateMachineType::from(sm.kind.as_str()))
                .set_tags(Some(tags(project)))
                .send()
                .await
                .map_err(|e| aws_error("CreateStateMachine", &sm.name, e))
        };
        match &change {
            Change::Created => {
                create().await?;
            }
            Change::Updated(what) if what.iter().any(|w| w == "type") => {
                // The type cannot be changed in place: replace the machine.
                delete(clients, &arn, &sm.name).await?;
                create().await?;
            }
            Change::Updated(_) => {
                clients
                    .sfn
                    .update_state_machine()
                    .state_machine_arn(&arn)
                    .definition(&definition)
                    .role_arn(aws::STATES_ROLE)
                    .send()
                    .await
                    .map_err(|e| aws_error("UpdateStateMachine", &sm.name, e))?;
            }
            Change::Unchanged | Change::Removed => {}
        }
        report.push((sm.name.clone(), change));
    }
    Ok(report)
}

async fn delete(clients: &Clients, arn: &str, name: &str) -> Result<(), DeployError> {
    clients
        .sfn
        .delete_state_machine()
        .state_machine_arn(arn)
        .send()
        .await
        .map_err(|e| aws_error("DeleteStateMachine", name, e))?;
    Ok(())
}

/// Deletes the state machines lsk created for `project` that the manifest no longer lists.
pub async fn prune(
    clients: &Clients,
    manifest: &Manifest,
    project: &str,
) -> Result<Vec<String>, DeployError> {
    let machines: Vec<_> = clients
        .sfn
        .list_state_machines()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .map_err(|e| aws_error("ListStateMachines", "state machines", e))?;
    let mut removed = Vec::new();
    for m in machines {
        if manifest.state_machines.contains_key(m.name()) {
            continue;
        }
        let tags = clients
            .sfn
            .list_tags_for_resource()
            .resource_arn(m.state_machine_arn())
            .send()
            .await
            .map_err(|e| aws_error("ListTagsForResource", m.name(), e))?;
        let tag = |k: &str| {
            tags.tags()
                .iter()
                .find(|t| t.key() == Some(k))
                .and_then(|t| t.value())
                .map(str::to_owned)
        };
        if tag(TAG_MANAGED).as_deref() == Some("lsk")
            && tag(TAG_PROJECT).as_deref() == Some(project)
        {
            delete(clients, m.state_machine_arn(), m.name()).await?;
            removed.push(m.name().to_owned());
        }
    }
    Ok(removed)
}

/// What `lsk status` shows of a state machine.
pub async fn view(
    clients: &Clients,
    sm: &StateMachine,
) -> Result<crate::output::StateMachineView, DeployError> {
    let arn = aws::state_machine_arn(&clients.region, &sm.name);
    let seen = observe(clients, &arn).await?;
    let input = sm.example.clone().unwrap_or_else(|| "{}".to_owned());
    Ok(crate::output::StateMachineView {
        name: sm.name.clone(),
        status: seen
            .as_ref()
            .map_or_else(|| "not deployed".to_owned(), |(_, status)| status.clone()),
        kind: sm.kind.as_str().to_owned(),
        definition: sm.definition_file.clone(),
        awslocal: seen.as_ref().map(|_| awslocal_start_line(&arn, &input)),
        executions: seen.as_ref().map(|_| awslocal_list_line(&arn)),
        arn: seen.map(|_| arn),
    })
}

/// `awslocal stepfunctions start-execution` with `input`.
pub fn awslocal_start_line(arn: &str, input: &str) -> String {
    format!(
        "awslocal stepfunctions start-execution --state-machine-arn {} --input {}",
        crate::output::shell_quote(arn),
        crate::output::shell_quote(input)
    )
}

/// `awslocal stepfunctions list-executions` of a state machine.
pub fn awslocal_list_line(arn: &str) -> String {
    format!(
        "awslocal stepfunctions list-executions --state-machine-arn {}",
        crate::output::shell_quote(arn)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_definition_or_type_is_an_update_and_whitespace_is_not() {
        let seen = Observed {
            definition: Some(
                serde_json::json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
            ),
            kind: "STANDARD".into(),
        };
        let same = r#"{ "StartAt": "A",
            "States": { "A": { "Type": "Succeed" } } }"#;
        assert_eq!(plan(Some(&seen), same, Kind::Standard), Change::Unchanged);
        assert_eq!(
            plan(Some(&seen), same, Kind::Express),
            Change::Updated(vec!["type".into()])
        );
        let other = r#"{"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}"#;
        assert_eq!(
            plan(Some(&seen), other, Kind::Standard),
            Change::Updated(vec!["definition".into()])
        );
        assert_eq!(plan(None, same, Kind::Standard), Change::Created);
    }
}
