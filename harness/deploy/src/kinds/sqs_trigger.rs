//! Deploying sqs triggers: the deploy half of the kind; its manifest half (types,
//! validation) is `lsk_manifest::kinds::sqs_trigger`, re-exported here.

pub use lsk_manifest::kinds::sqs_trigger::*;

use std::collections::BTreeSet;
use std::time::Duration;

use aws_sdk_lambda::types as lt;

use crate::aws::{self, AwsError, Clients};
use crate::kinds::function::Function;
use crate::{Change, DeployError, Resolved, aws_error};

/// Brings the function's mappings to what the manifest lists.
pub async fn reconcile(
    clients: &Clients,
    f: &Function,
    resolved: &Resolved,
) -> Result<Vec<(String, Change)>, DeployError> {
    let desired: Vec<DesiredMapping> = f
        .sqs
        .iter()
        .map(|t| DesiredMapping {
            queue: t.queue.clone(),
            source_arn: resolved
                .queues
                .get(&t.queue)
                .map(|(_, arn)| arn.clone())
                .unwrap_or_else(|| aws::queue_arn(&clients.region, &t.queue)),
            batch_size: t.batch_size,
            batching_window: t.batching_window,
            report_failures: t.report_batch_item_failures,
            enabled: t.enabled,
        })
        .collect();
    ensure_mappings(clients, &f.name, &desired).await
}

/// How long an event source mapping may stay in a transitional state.
pub const MAPPING_WAIT: Duration = Duration::from_secs(60);

/// An SQS trigger as the manifest wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredMapping {
    pub queue: String,
    pub source_arn: String,
    pub batch_size: i32,
    pub batching_window: i32,
    pub report_failures: bool,
    pub enabled: bool,
}

/// An event source mapping as LocalStack reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedMapping {
    pub uuid: String,
    pub source_arn: String,
    pub batch_size: Option<i32>,
    pub batching_window: Option<i32>,
    pub report_failures: bool,
    pub state: Option<String>,
}

impl ObservedMapping {
    fn enabled(&self) -> bool {
        !matches!(self.state.as_deref(), Some("Disabled" | "Disabling"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingAction {
    Create(DesiredMapping),
    Update {
        uuid: String,
        desired: DesiredMapping,
        changes: Vec<&'static str>,
    },
    Delete {
        uuid: String,
        source_arn: String,
    },
    Unchanged {
        uuid: String,
        queue: String,
    },
}

/// One mapping per source queue: matching ones are kept or updated in place, missing ones
/// created, and the rest (sources no longer in the manifest, duplicates) deleted.
pub fn plan_mappings(
    desired: &[DesiredMapping],
    observed: &[ObservedMapping],
) -> Vec<MappingAction> {
    let mut actions = Vec::new();
    let mut used: BTreeSet<&str> = BTreeSet::new();
    for d in desired {
        let found = observed
            .iter()
            .find(|o| o.source_arn == d.source_arn && !used.contains(o.uuid.as_str()));
        match found {
            None => actions.push(MappingAction::Create(d.clone())),
            Some(o) => {
                used.insert(&o.uuid);
                let mut changes = Vec::new();
                if o.batch_size != Some(d.batch_size) {
                    changes.push("batch_size");
                }
                if o.batching_window.unwrap_or(0) != d.batching_window {
                    changes.push("batching_window");
                }
                if o.report_failures != d.report_failures {
                    changes.push("report_batch_item_failures");
                }
                if o.enabled() != d.enabled {
                    changes.push("enabled");
                }
                if changes.is_empty() {
                    actions.push(MappingAction::Unchanged {
                        uuid: o.uuid.clone(),
                        queue: d.queue.clone(),
                    });
                } else {
                    actions.push(MappingAction::Update {
                        uuid: o.uuid.clone(),
                        desired: d.clone(),
                        changes,
                    });
                }
            }
        }
    }
    for o in observed {
        if !used.contains(o.uuid.as_str()) {
            actions.push(MappingAction::Delete {
                uuid: o.uuid.clone(),
                source_arn: o.source_arn.clone(),
            });
        }
    }
    actions
}

/// Mapping states in which LocalStack refuses an update or delete until they settle.
pub fn mapping_is_transitional(state: Option<&str>) -> bool {
    matches!(
        state,
        Some("Creating" | "Updating" | "Enabling" | "Disabling" | "Deleting")
    )
}

/// The event source mappings of a function.
pub async fn observe_mappings(
    clients: &Clients,
    function: &str,
) -> Result<Vec<ObservedMapping>, DeployError> {
    let mappings = clients
        .lambda
        .list_event_source_mappings()
        .function_name(function)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| aws_error("ListEventSourceMappings", function, e))?;
    Ok(mappings
        .iter()
        .filter_map(|m| {
            Some(ObservedMapping {
                uuid: m.uuid()?.to_owned(),
                source_arn: m.event_source_arn()?.to_owned(),
                batch_size: m.batch_size(),
                batching_window: m.maximum_batching_window_in_seconds(),
                report_failures: m
                    .function_response_types()
                    .contains(&lt::FunctionResponseType::ReportBatchItemFailures),
                state: m.state().map(str::to_owned),
            })
        })
        .collect())
}

/// Waits until a mapping leaves Creating/Updating/... (there is no SDK waiter for mappings).
/// Returns false when the mapping is gone (LocalStack deletes asynchronously).
async fn settle_mapping(clients: &Clients, uuid: &str) -> Result<bool, DeployError> {
    let deadline = tokio::time::Instant::now() + MAPPING_WAIT;
    loop {
        let state = match clients
            .lambda
            .get_event_source_mapping()
            .uuid(uuid)
            .send()
            .await
        {
            Ok(out) => out.state().map(str::to_owned),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                return Ok(false);
            }
            Err(e) => return Err(aws_error("GetEventSourceMapping", uuid, e)),
        };
        if !mapping_is_transitional(state.as_deref()) {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(DeployError::Timeout {
                what: format!(
                    "event source mapping {uuid} ({})",
                    state.unwrap_or_default()
                ),
                waited: MAPPING_WAIT,
            });
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Deletes a mapping once it has settled; a mapping already gone counts as deleted.
pub async fn delete_mapping(clients: &Clients, uuid: &str) -> Result<(), DeployError> {
    if !settle_mapping(clients, uuid).await? {
        return Ok(());
    }
    match clients
        .lambda
        .delete_event_source_mapping()
        .uuid(uuid)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error("DeleteEventSourceMapping", uuid, e)),
    }
}

pub fn queue_of(arn: &str) -> &str {
    arn.rsplit(':').next().unwrap_or(arn)
}

async fn ensure_mappings(
    clients: &Clients,
    function: &str,
    desired: &[DesiredMapping],
) -> Result<Vec<(String, Change)>, DeployError> {
    // A mapping being deleted is already on its way out: plan as if it were gone.
    let observed: Vec<ObservedMapping> = observe_mappings(clients, function)
        .await?
        .into_iter()
        .filter(|m| m.state.as_deref() != Some("Deleting"))
        .collect();
    let response_types = |d: &DesiredMapping| {
        if d.report_failures {
            vec![lt::FunctionResponseType::ReportBatchItemFailures]
        } else {
            Vec::new()
        }
    };
    let mut changes = Vec::new();
    for action in plan_mappings(desired, &observed) {
        match action {
            MappingAction::Unchanged { queue, .. } => {
                changes.push((format!("{queue} -> {function}"), Change::Unchanged));
            }
            MappingAction::Create(d) => {
                clients
                    .lambda
                    .create_event_source_mapping()
                    .function_name(function)
                    .event_source_arn(&d.source_arn)
                    .batch_size(d.batch_size)
                    .maximum_batching_window_in_seconds(d.batching_window)
                    .set_function_response_types(Some(response_types(&d)))
                    .enabled(d.enabled)
                    .send()
                    .await
                    .map_err(|e| {
                        aws_error(
                            "CreateEventSourceMapping",
                            &format!("{} -> {function}", d.queue),
                            e,
                        )
                    })?;
                changes.push((format!("{} -> {function}", d.queue), Change::Created));
            }
            MappingAction::Update {
                uuid,
                desired: d,
                changes: what,
            } => {
                if !settle_mapping(clients, &uuid).await? {
                    return Err(AwsError::answer(
                        "UpdateEventSourceMapping",
                        uuid,
                        "the mapping disappeared while the deploy was updating it; run the deploy again",
                    )
                    .into());
                }
                clients
                    .lambda
                    .update_event_source_mapping()
                    .uuid(&uuid)
                    .batch_size(d.batch_size)
                    .maximum_batching_window_in_seconds(d.batching_window)
                    .set_function_response_types(Some(response_types(&d)))
                    .enabled(d.enabled)
                    .send()
                    .await
                    .map_err(|e| aws_error("UpdateEventSourceMapping", &uuid, e))?;
                changes.push((
                    format!("{} -> {function}", d.queue),
                    Change::Updated(what.iter().map(|w| (*w).to_owned()).collect()),
                ));
            }
            MappingAction::Delete { uuid, source_arn } => {
                delete_mapping(clients, &uuid).await?;
                changes.push((
                    format!("{} -> {function}", queue_of(&source_arn)),
                    Change::Removed,
                ));
            }
        }
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dm(queue: &str, batch: i32) -> DesiredMapping {
        DesiredMapping {
            queue: queue.into(),
            source_arn: crate::aws::queue_arn("us-east-1", queue),
            batch_size: batch,
            batching_window: 0,
            report_failures: true,
            enabled: true,
        }
    }

    fn om(uuid: &str, queue: &str, batch: i32) -> ObservedMapping {
        ObservedMapping {
            uuid: uuid.into(),
            source_arn: crate::aws::queue_arn("us-east-1", queue),
            batch_size: Some(batch),
            batching_window: None,
            report_failures: true,
            state: Some("Enabled".into()),
        }
    }

    #[test]
    fn mappings_are_created_kept_updated_and_deleted() {
        let desired = [dm("jobs", 5), dm("new", 10), dm("other", 1)];
        let mut changed = om("u-other", "other", 1);
        changed.report_failures = false;
        let observed = [om("u-jobs", "jobs", 5), om("u-gone", "gone", 10), changed];
        let actions = plan_mappings(&desired, &observed);
        assert_eq!(
            actions,
            vec![
                MappingAction::Unchanged {
                    uuid: "u-jobs".into(),
                    queue: "jobs".into()
                },
                MappingAction::Create(dm("new", 10)),
                MappingAction::Update {
                    uuid: "u-other".into(),
                    desired: dm("other", 1),
                    changes: vec!["report_batch_item_failures"]
                },
                MappingAction::Delete {
                    uuid: "u-gone".into(),
                    source_arn: crate::aws::queue_arn("us-east-1", "gone")
                },
            ]
        );
    }

    #[test]
    fn batch_size_change_updates_in_place_and_duplicates_are_removed() {
        let actions = plan_mappings(&[dm("jobs", 5)], &[om("a", "jobs", 10), om("b", "jobs", 5)]);
        assert_eq!(
            actions,
            vec![
                MappingAction::Update {
                    uuid: "a".into(),
                    desired: dm("jobs", 5),
                    changes: vec!["batch_size"]
                },
                MappingAction::Delete {
                    uuid: "b".into(),
                    source_arn: crate::aws::queue_arn("us-east-1", "jobs")
                },
            ]
        );
    }

    #[test]
    fn disabled_mapping_is_enabled_again() {
        let mut o = om("a", "jobs", 5);
        o.state = Some("Disabled".into());
        let actions = plan_mappings(&[dm("jobs", 5)], &[o]);
        assert!(
            matches!(&actions[0], MappingAction::Update { changes, .. } if changes == &vec!["enabled"])
        );
        assert!(mapping_is_transitional(Some("Creating")));
        assert!(!mapping_is_transitional(Some("Enabled")));
    }
}
